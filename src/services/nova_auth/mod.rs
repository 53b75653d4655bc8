//! Nova's own auth (Diablo's "deprecated" auth: the `users`, `projects`, `user_project_association`,
//! `user_project_role_association` and `user_role_association` tables of the Nova database) into an
//! Essex Keystone, straight from the database: users, projects as tenants, memberships, project
//! roles as tenant roles, global roles and `is_admin` on the global-roles tenant, and the EC2 keys
//! as the access strings Diablo's clients send.
//!
//! The target is an empty database or one `db migrate keystone` built: the import adds to it
//! (`migrate::adding`), all in one transaction. A Nova name the target already holds is merged
//! only when it is the same identity: a user with the same name and an EC2 credential carrying the
//! same access key and secret; a project whose tenant has the same id and name (Nova's own rows
//! name projects by id). Any other collision is refused before anything is written.
//!
//! Diablo semantics followed (`nova/auth/manager.py`, `dbdriver.py`, `db/sqlalchemy/api.py`
//! @2011.3): a user's name is its id (the `name` column is never read); users and projects whose
//! `deleted` is not false were invisible; a project role counted only with the same global role;
//! `is_admin` and the superuser role `cloudadmin` made a user an administrator; the global roles
//! (`cloudadmin`, `itsec`) and `is_admin` gave access to every project.

mod access;
mod check;
pub mod passwords;
mod steps;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use crate::db::{Backend, Db, DbUrl, Row, Value};
use crate::error::{Error, Result};
use crate::migrate::{self, Plan, Progress, Report, Step};
use crate::schema;
pub use passwords::Passwords;

/// Settings of a Nova auth import.
#[derive(Debug, Clone)]
pub struct NovaAuthOptions {
    /// `name:password` lines (see [`passwords`]); without it, users get no password.
    pub password_file: Option<PathBuf>,
    /// The tenant that receives Diablo's global roles and administrators (created when missing).
    pub global_roles_tenant: String,
    pub batch_size: usize,
    /// Compare names as this backend does instead of the target's own (`check` rehearses the
    /// migration into a scratch SQLite database that stands in for the real target).
    pub names_as: Option<Backend>,
}

impl Default for NovaAuthOptions {
    fn default() -> Self {
        NovaAuthOptions { password_file: None, global_roles_tenant: "systenant".into(), batch_size: 1000, names_as: None }
    }
}

/// The Nova auth tables, read for the source fingerprint.
const TABLES: [&str; 5] = ["users", "projects", "user_project_association", "user_project_role_association", "user_role_association"];

/// Diablo's default `superuser_roles`: like `is_admin`, they bypassed every authorization check.
const SUPERUSER_ROLES: [&str; 1] = ["cloudadmin"];
/// Diablo's default `global_roles`: held for every project; with superusers, the administrators
/// who could use any project without being a member.
const GLOBAL_ROLES: [&str; 2] = ["cloudadmin", "itsec"];

/// Essex Keystone's limit on ids, names and EC2 strings (VARCHAR(64)).
const MAX_LEN: usize = 64;

/// A role the grants use: an existing Keystone role, or one this import creates.
#[derive(Debug, Clone)]
struct RoleTarget {
    id: String,
    /// The name in Keystone (an existing role's own spelling).
    name: String,
    /// The name in Nova.
    source_name: String,
    create: bool,
    /// The source table that first named it (for the report).
    origin: &'static str,
}

struct Ctx {
    opts: NovaAuthOptions,
    target_backend: Backend,
    passwords: Passwords,
    /// A second read-only source connection, for lookups while the first one streams.
    lookup: Db,
    /// Nova user id → the existing Keystone user it is the same identity as.
    merged_users: HashMap<String, String>,
    /// Projects whose tenant (same id and name) the target already holds.
    merged_tenants: HashSet<String>,
    /// Role name (as the target compares names) → its Keystone role.
    roles: BTreeMap<String, RoleTarget>,
    /// The role granted for `is_admin` and the superuser roles.
    admin_role: Option<String>,
    /// The global-roles tenant's id, and whether this import creates it.
    systenant: Option<(String, bool)>,
    /// Access keys several live users share (as the target compares them) → the user that keeps it.
    shared_keys: HashMap<String, String>,
}

impl Ctx {
    /// Two names are one name in Essex when they compare equal on the target backend.
    fn same_name(&self, name: &str) -> String {
        self.target_backend.name_key(name)
    }

    fn same_name_sql(&self, expr: &str) -> String {
        self.target_backend.name_key_sql(expr)
    }

    /// The Keystone id of a Nova user (its own id unless merged into an existing user).
    fn user_id<'a>(&'a self, nova_id: &'a str) -> &'a str {
        self.merged_users.get(nova_id).map_or(nova_id, String::as_str)
    }

    fn role(&self, name: &str) -> Option<&RoleTarget> {
        self.roles.get(&self.same_name(name))
    }
}

/// Imports the Nova auth tables of the Nova database at `from` into the Essex Keystone at `to`.
pub fn migrate(from: &DbUrl, to: &DbUrl, opts: &NovaAuthOptions, progress: &dyn Progress) -> Result<Report> {
    let mut source = migrate::open_source(from)?;
    let source_release = detect(&mut source)?;
    let passwords = match &opts.password_file {
        Some(path) => Passwords::read(path)?,
        None => Passwords::default(),
    };
    let mut ctx = Ctx {
        opts: opts.clone(),
        target_backend: opts.names_as.unwrap_or(to.backend),
        passwords,
        lookup: source,
        merged_users: HashMap::new(),
        merged_tenants: HashSet::new(),
        roles: BTreeMap::new(),
        admin_role: None,
        systenant: None,
        shared_keys: HashMap::new(),
    };
    let steps: Vec<Step<Ctx>> = vec![
        Step { name: "check", target_tables: &[], run: &check::check },
        Step { name: "roles", target_tables: &["role"], run: &steps::roles },
        Step { name: "tenants", target_tables: &["tenant"], run: &steps::tenants },
        Step { name: "users", target_tables: &["user"], run: &steps::users },
        Step { name: "grants", target_tables: &["user_tenant_membership", "metadata"], run: &steps::grants },
        Step { name: "ec2_credentials", target_tables: &["ec2_credential"], run: &steps::ec2_credentials },
    ];
    let plan = Plan {
        service: "nova-auth",
        source_url: from.clone(),
        target_url: to.clone(),
        source_release,
        schema: schema::essex::keystone(to.backend)?,
        own_tables: Vec::new(),
        source_tables: TABLES.iter().map(std::string::ToString::to_string).collect(),
        settings: Vec::new(),
        steps,
        batch_size: opts.batch_size,
    };
    migrate::adding::run_adding(plan, "keystone", &mut ctx, progress)
}

/// A Nova database with Nova's own auth tables (any migrate version that still has them).
fn detect(source: &mut Db) -> Result<String> {
    let url = source.url().to_string();
    let tables = source.table_names()?;
    let has = |t: &str| tables.iter().any(|x| x == t);
    let missing: Vec<&str> = TABLES.iter().copied().filter(|t| !has(t)).collect();
    if !missing.is_empty() {
        return Err(Error::Refused(if has("tenants") && has("users") && has("user_roles") {
            format!("{url} is a legacy Keystone database, not Nova: import it with `osmigrate db migrate keystone`")
        } else {
            format!("{url} is not a Nova database with Nova's own auth tables (missing: {})", missing.join(", "))
        }));
    }
    let columns: [(&str, &[&str]); 5] = [
        ("users", &["id", "name", "access_key", "secret_key", "is_admin", "deleted"]),
        ("projects", &["id", "name", "description", "project_manager", "deleted"]),
        ("user_project_association", &["user_id", "project_id"]),
        ("user_project_role_association", &["user_id", "project_id", "role"]),
        ("user_role_association", &["user_id", "role"]),
    ];
    for (table, wanted) in columns {
        let have = source.column_names(table)?;
        let absent: Vec<&str> = wanted.iter().copied().filter(|c| !have.iter().any(|h| h == c)).collect();
        if !absent.is_empty() {
            return Err(Error::Refused(format!("{url}: table {table} lacks column(s) {} of Nova's auth tables", absent.join(", "))));
        }
    }
    let version = if has(schema::MIGRATE_VERSION_TABLE) {
        source.query_scalar("SELECT version FROM migrate_version WHERE repository_id = 'nova'", &[])?.as_i64()
    } else {
        None
    };
    Ok(match version {
        Some(46) => "Diablo Nova auth (migrate version 46)".to_string(),
        Some(v) => format!("Nova auth (migrate version {v})"),
        None => "Nova auth (unversioned)".to_string(),
    })
}

/// The user Diablo authenticated a request signed with `access_key` as: `user_get_by_access_key`
/// (`db/sqlalchemy/api.py` @2011.3) ran `query(User).filter_by(access_key=…).filter_by(deleted=False)
/// .first()`, that is this very statement with no ORDER BY, so the backend's own order decides: on
/// SQLite the rowid (insertion) order, on MySQL InnoDB the primary key `users.id` (a string, in the
/// column's collation), on PostgreSQL the heap's physical order (an updated row moves to its end).
/// It runs on the source, read-only, exactly as Diablo's did.
pub fn diablo_key_holder(source: &mut Db, access_key: &str) -> Result<Option<String>> {
    let first = source.query("SELECT * FROM users WHERE access_key = ? AND deleted = ? LIMIT 1", &[access_key.into(), false.into()])?;
    Ok(first.first().map(Row::id))
}

/// Diablo saw a user or project row only while `deleted` was false (NULL matched nothing).
fn live(v: &Value) -> bool {
    v.as_bool() == Some(false)
}

/// The SQL form of [`live`] for a row alias.
fn live_sql(alias: &str) -> String {
    format!("NOT {alias}.deleted")
}

fn text(r: &Row, field: &str) -> Option<String> {
    r.get(field).key_string()
}

/// Streams `sql` and hands `f` runs of consecutive rows with the same `key`, whole runs only, a
/// batch at a time (the query must be ordered by the key).
fn stream_groups(
    src: &mut Db,
    sql: &str,
    batch_size: usize,
    key: impl Fn(&Row) -> String,
    mut f: impl FnMut(Vec<Vec<Row>>) -> Result<()>,
) -> Result<()> {
    let mut pending: Vec<Row> = Vec::new();
    src.stream(sql, &[], batch_size, |rows| {
        let mut groups = Vec::new();
        for r in rows {
            if pending.first().is_some_and(|p| key(p) != key(&r)) {
                groups.push(std::mem::take(&mut pending));
            }
            pending.push(r);
        }
        if groups.is_empty() { Ok(()) } else { f(groups) }
    })?;
    if pending.is_empty() { Ok(()) } else { f(vec![pending]) }
}

/// `?, ?, …` for `n` parameters.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}
