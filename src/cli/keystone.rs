//! `osmigrate keystone …`: the Essex Keystone admin client, names or ids everywhere.
//!
//! Where Keystone is: `--db URL` (the Essex database itself), else the v2.0 admin API with
//! `--endpoint URL` / `SERVICE_ENDPOINT` and a token from `--token-file FILE` / `SERVICE_TOKEN`,
//! else a token asked for with `OS_AUTH_URL`, `OS_USERNAME`, `OS_PASSWORD` (and `OS_TENANT_NAME`).
//! Secrets are read from files, stdin, the environment or a prompt, never from the command line,
//! and never shown; `ec2-credentials-create` prints the one secret it makes, on stdout.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use super::exit::ExitStatus;
use clap::{Args, Subcommand, ValueEnum};
use osmigrate::db::{Access, DbUrl};
use osmigrate::keystone_client::api::{ApiTransport, Auth};
use osmigrate::keystone_client::db::DbTransport;
use osmigrate::keystone_client::{Client, Kind, Named, NewTenant, Secret};
use osmigrate::{Error, Result};
use serde_json::json;

#[derive(Args)]
pub struct KeystoneArgs {
    #[command(flatten)]
    place: Place,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: KeystoneCommand,
}

#[derive(Args)]
struct Place {
    /// The Essex Keystone database itself, instead of the API (a SQLAlchemy URL).
    #[arg(long, global = true, value_name = "URL")]
    db: Option<String>,
    /// With --db: the catalog templates file keystone.conf names (`[catalog] template_file`);
    /// without it the SQL service and endpoint tables are read.
    #[arg(long, global = true, value_name = "FILE")]
    catalog_templates: Option<PathBuf>,
    /// The v2.0 admin API, e.g. http://keystone:35357/v2.0 (http:// only). Default: $SERVICE_ENDPOINT,
    /// else the identity admin URL in the catalog of the OS_* token, else $OS_AUTH_URL.
    #[arg(long, global = true, value_name = "URL")]
    endpoint: Option<String>,
    /// A file holding the token (Keystone's admin_token, or a user's token); read, never shown.
    /// Default: $SERVICE_TOKEN, else a token asked for with $OS_USERNAME/$OS_PASSWORD/$OS_TENANT_NAME.
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum KeystoneCommand {
    /// List the tenants.
    TenantList,
    /// List the users (never their passwords).
    UserList,
    /// List the roles.
    RoleList,
    /// List the roles users hold on tenants: of one user, on one tenant, or all.
    UserRoleList {
        /// The user (name or id).
        #[arg(long)]
        user: Option<String>,
        /// The tenant (name or id).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Grant a role to a user on a tenant (the user also becomes a member of the tenant).
    UserRoleAdd(GrantArgs),
    /// Take a role on a tenant back from a user (and the membership, when no role is left).
    UserRoleRemove(GrantArgs),
    /// Create a tenant.
    TenantCreate {
        /// The new tenant's name (unique; at most 64 characters).
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Create a user; the password comes from a prompt, --password-file or --password-stdin.
    UserCreate(UserCreateArgs),
    /// Create a role.
    RoleCreate {
        /// The new role's name (unique, case included; at most 64 characters).
        #[arg(long)]
        name: String,
    },
    /// Create an EC2 credential for a user on a tenant, and print it (secret included, on stdout).
    Ec2CredentialsCreate {
        /// The user (name or id).
        #[arg(long)]
        user: String,
        /// The tenant (name or id).
        #[arg(long)]
        tenant: String,
    },
    /// List a user's EC2 credentials (access keys and tenants; never the secrets).
    Ec2CredentialsList {
        /// The user (name or id).
        #[arg(long)]
        user: String,
    },
    /// Show the service catalog.
    Catalog,
    /// Print the id of the tenant, user or role with this exact name (or id) alone, for scripts.
    GetId {
        #[arg(value_enum)]
        kind: KindArg,
        /// The exact name (or the id).
        name: String,
    },
}

#[derive(Args)]
struct GrantArgs {
    /// The user (name or id).
    #[arg(long)]
    user: String,
    /// The tenant (name or id).
    #[arg(long)]
    tenant: String,
    /// The role (name or id).
    #[arg(long)]
    role: String,
}

#[derive(Args)]
struct UserCreateArgs {
    /// The new user's name (unique; at most 64 characters).
    #[arg(long)]
    name: String,
    /// The user's default tenant (name or id); the user becomes a member of it.
    #[arg(long)]
    tenant: Option<String>,
    /// The user's e-mail address.
    #[arg(long)]
    email: Option<String>,
    /// Create it disabled.
    #[arg(long)]
    disabled: bool,
    /// Read the password from this file (its first line).
    #[arg(long, value_name = "FILE", conflicts_with = "password_stdin")]
    password_file: Option<PathBuf>,
    /// Read the password from standard input (its first line).
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Tenant,
    User,
    Role,
}

impl From<KindArg> for Kind {
    fn from(k: KindArg) -> Kind {
        match k {
            KindArg::Tenant => Kind::Tenant,
            KindArg::User => Kind::User,
            KindArg::Role => Kind::Role,
        }
    }
}

impl KeystoneCommand {
    fn writes(&self) -> bool {
        matches!(
            self,
            KeystoneCommand::UserRoleAdd(_)
                | KeystoneCommand::UserRoleRemove(_)
                | KeystoneCommand::TenantCreate { .. }
                | KeystoneCommand::UserCreate(_)
                | KeystoneCommand::RoleCreate { .. }
                | KeystoneCommand::Ec2CredentialsCreate { .. }
        )
    }
}

pub fn run(args: KeystoneArgs) -> Result<ExitStatus> {
    // The password is read before anything is contacted, so that a typo in it costs nothing.
    let password = match &args.command {
        KeystoneCommand::UserCreate(u) => Some(read_password(u)?),
        _ => None,
    };
    let mut client = connect(&args.place, args.command.writes())?;
    let result = execute(&mut client, args.command, password, args.json);
    for note in client.take_notes() {
        eprintln!("osmigrate: note: {note}");
    }
    result.map(|()| ExitStatus::Clean)
}

fn execute(client: &mut Client, command: KeystoneCommand, password: Option<Secret>, json: bool) -> Result<()> {
    match command {
        KeystoneCommand::TenantList => {
            let tenants = client.tenants()?;
            emit(json, &tenants, || {
                let rows = tenants
                    .iter()
                    .map(|t| vec![t.id.clone(), t.name.clone(), t.enabled.to_string(), t.description.clone().unwrap_or_default()])
                    .collect();
                table(&["id", "name", "enabled", "description"], rows)
            })
        }
        KeystoneCommand::UserList => {
            let users = client.users()?;
            if json {
                return emit(json, &users, String::new);
            }
            let tenants = client.tenants()?;
            let tenant_label = |id: &Option<String>| match id {
                None => String::new(),
                Some(id) => tenants.iter().find(|t| &t.id == id).map_or_else(|| format!("(id {id})"), |t| t.name.clone()),
            };
            let rows = users
                .iter()
                .map(|u| {
                    vec![
                        u.id.clone(),
                        u.name.clone(),
                        u.enabled.to_string(),
                        u.email.clone().unwrap_or_default(),
                        tenant_label(&u.tenant_id),
                    ]
                })
                .collect();
            print!("{}", table(&["id", "name", "enabled", "email", "tenant"], rows));
            Ok(())
        }
        KeystoneCommand::RoleList => {
            let roles = client.roles()?;
            emit(json, &roles, || table(&["id", "name"], roles.iter().map(|r| vec![r.id.clone(), r.name.clone()]).collect()))
        }
        KeystoneCommand::UserRoleList { user, tenant } => {
            let grants = client.grants(user.as_deref(), tenant.as_deref())?;
            emit(json, &grants, || {
                let rows = grants.iter().map(|g| vec![label(&g.tenant), label(&g.user), label(&g.role), g.role.id.clone()]).collect();
                table(&["tenant", "user", "role", "role id"], rows)
            })
        }
        KeystoneCommand::UserRoleAdd(a) => {
            let (g, held) = client.grant(&a.user, &a.tenant, &a.role)?;
            let action = if held { "already_granted" } else { "granted" };
            let value = json!({"action": action, "tenant": g.tenant, "user": g.user, "role": g.role});
            emit(json, &value, || {
                let (role, user, tenant) = (label(&g.role), label(&g.user), label(&g.tenant));
                if held {
                    format!("user {user} already holds role {role} on tenant {tenant}: nothing changed\n")
                } else {
                    format!("granted role {role} to user {user} on tenant {tenant}\n")
                }
            })
        }
        KeystoneCommand::UserRoleRemove(a) => {
            let g = client.revoke(&a.user, &a.tenant, &a.role)?;
            let value = json!({"action": "revoked", "tenant": g.tenant, "user": g.user, "role": g.role});
            emit(json, &value, || format!("revoked role {} from user {} on tenant {}\n", label(&g.role), label(&g.user), label(&g.tenant)))
        }
        KeystoneCommand::TenantCreate { name, description, disabled } => {
            let t = client.create_tenant(&NewTenant { name, description, enabled: !disabled })?;
            emit(json, &t, || {
                properties(&[
                    ("id", t.id.clone()),
                    ("name", t.name.clone()),
                    ("description", t.description.clone().unwrap_or_default()),
                    ("enabled", t.enabled.to_string()),
                ])
            })
        }
        KeystoneCommand::UserCreate(a) => {
            let u = client.create_user(&a.name, password, a.email, a.tenant.as_deref(), !a.disabled)?;
            emit(json, &u, || {
                properties(&[
                    ("id", u.id.clone()),
                    ("name", u.name.clone()),
                    ("email", u.email.clone().unwrap_or_default()),
                    ("enabled", u.enabled.to_string()),
                    ("tenant", u.tenant_id.clone().unwrap_or_default()),
                ])
            })
        }
        KeystoneCommand::RoleCreate { name } => {
            let r = client.create_role(&name)?;
            emit(json, &r, || properties(&[("id", r.id.clone()), ("name", r.name.clone())]))
        }
        KeystoneCommand::Ec2CredentialsCreate { user, tenant } => {
            let c = client.create_ec2_credential(&user, &tenant)?;
            emit(json, &c, || {
                properties(&[
                    ("access", c.access.clone()),
                    ("secret", c.secret.clone()),
                    ("user", label(&c.user)),
                    ("tenant", label(&c.tenant)),
                ])
            })
        }
        KeystoneCommand::Ec2CredentialsList { user } => {
            let creds = client.ec2_credentials(&user)?;
            emit(json, &creds, || {
                table(
                    &["access", "tenant", "user"],
                    creds.iter().map(|c| vec![c.access.clone(), label(&c.tenant), label(&c.user)]).collect(),
                )
            })
        }
        KeystoneCommand::Catalog => {
            let entries = client.catalog()?;
            emit(json, &entries, || {
                let rows = entries
                    .iter()
                    .map(|e| {
                        vec![
                            e.region.clone(),
                            e.service_type.clone(),
                            e.name.clone(),
                            e.public_url.clone(),
                            e.internal_url.clone(),
                            e.admin_url.clone(),
                        ]
                    })
                    .collect();
                table(&["region", "type", "name", "publicURL", "internalURL", "adminURL"], rows)
            })
        }
        KeystoneCommand::GetId { kind, name } => {
            let r = client.resolve(kind.into(), &name)?;
            emit(json, &json!({"kind": r.kind, "id": r.id, "name": r.name}), || format!("{}\n", r.id))
        }
    }
}

/// A name for humans: the name, or the id when the object has none (or no longer exists).
fn label(n: &Named) -> String {
    if n.name.is_empty() { format!("(id {})", n.id) } else { n.name.clone() }
}

fn emit<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value).expect("values serialize"));
    } else {
        print!("{}", text());
    }
    Ok(())
}

/// A boxed table, as the stock keystone client prints them.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let rule = format!("+{}+\n", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!(" {c}{} ", " ".repeat(w - c.chars().count()))).collect();
        format!("|{}|\n", padded.join("|"))
    };
    let mut out = rule.clone();
    out.push_str(&line(headers.iter().map(std::string::ToString::to_string).collect()));
    out.push_str(&rule);
    for r in rows {
        out.push_str(&line(r));
    }
    out.push_str(&rule);
    out
}

fn properties(pairs: &[(&str, String)]) -> String {
    table(&["Property", "Value"], pairs.iter().map(|(k, v)| vec![k.to_string(), v.clone()]).collect())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn connect(place: &Place, writes: bool) -> Result<Client> {
    // Checked here rather than by clap, which does not apply these to options given after the command.
    if place.db.is_some() && (place.endpoint.is_some() || place.token_file.is_some()) {
        return Err(Error::Usage("--db is the database itself: it takes no --endpoint or --token-file".into()));
    }
    if place.db.is_none() && place.catalog_templates.is_some() {
        return Err(Error::Usage("--catalog-templates goes with --db (the API serves its own catalog)".into()));
    }
    if let Some(db) = &place.db {
        let url = DbUrl::parse(db)?;
        let access = if writes { Access::ReadWrite } else { Access::ReadOnly };
        return Ok(Client::new(Box::new(DbTransport::open(&url, access, place.catalog_templates.clone())?)));
    }
    let endpoint = place.endpoint.clone().or_else(|| env("SERVICE_ENDPOINT"));
    let token = match &place.token_file {
        Some(f) => Some(read_secret_file(f, "token")?),
        None => env("SERVICE_TOKEN").map(Secret::new),
    };
    let auth = match (token, env("OS_AUTH_URL"), env("OS_USERNAME"), env("OS_PASSWORD")) {
        (Some(token), ..) => {
            if endpoint.is_none() {
                return Err(Error::Usage(
                    "a token (--token-file or SERVICE_TOKEN) needs the admin API: --endpoint URL or SERVICE_ENDPOINT".into(),
                ));
            }
            Auth::Token(token)
        }
        (None, Some(auth_url), Some(username), Some(password)) => {
            Auth::Password { auth_url, username, password: Secret::new(password), tenant: env("OS_TENANT_NAME") }
        }
        _ => {
            return Err(Error::Usage(
                "say where Keystone is: --db URL, or --endpoint URL with --token-file FILE (or SERVICE_ENDPOINT and \
                 SERVICE_TOKEN), or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_TENANT_NAME"
                    .into(),
            ));
        }
    };
    Ok(Client::new(Box::new(ApiTransport::connect(endpoint.as_deref(), auth)?)))
}

/// The first line of a file holding a secret (a token, a password); never shown.
/// A token is trimmed; a password keeps its spaces (only the line ending goes).
fn read_secret_file(path: &Path, what: &str) -> Result<Secret> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    first_line(&text, what == "token").ok_or_else(|| Error::Usage(format!("{}: the {what} file is empty", path.display())))
}

fn first_line(text: &str, trim: bool) -> Option<Secret> {
    let line = text.lines().next().unwrap_or("");
    let line = if trim { line.trim() } else { line };
    (!line.is_empty()).then(|| Secret::new(line))
}

fn read_password(a: &UserCreateArgs) -> Result<Secret> {
    if let Some(f) = &a.password_file {
        return read_secret_file(f, "password");
    }
    if a.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| Error::io("stdin", e))?;
        return first_line(&text, false).ok_or_else(|| Error::Usage("no password on standard input".into()));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "user-create needs a password: --password-file FILE or --password-stdin (standard input is not a terminal to ask on)".into(),
        ));
    }
    let io = |e| Error::io("/dev/tty", e);
    let first = rpassword::prompt_password(format!("Password for user {}: ", a.name)).map_err(io)?;
    let again = rpassword::prompt_password("Same password again: ").map_err(io)?;
    if first != again {
        return Err(Error::Usage("the two passwords differ".into()));
    }
    first_line(&first, false).ok_or_else(|| Error::Usage("an empty password".into()))
}
