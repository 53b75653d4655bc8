//! The writing steps, in the order the target needs them: roles, tenants, users, grants (with
//! memberships), EC2 credentials. Each streams the source in batches; lookups in the target are
//! per batch. The check step has already refused every conflict, so rows are inserted as they are,
//! except grants on a (user, tenant) the target already holds, whose role lists are extended.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value as Json, json};

use super::access::{access_strings, shown};
use super::{Ctx, GLOBAL_ROLES, MAX_LEN, SUPERUSER_ROLES, live, live_sql, marks, stream_groups, text};
use crate::db::{Db, OnConflict, Row, Value};
use crate::error::{Error, Result};
use crate::essex_keystone::{global_roles, password, rows};
use crate::migrate::{Severity, Sink, StepReport};

const DELETED: &str = "deleted in Diablo (`deleted` set, or NULL, which Diablo's queries never matched): not carried";

/// Counts source rows (already counted as read) as skipped, with a finding of the given severity.
fn skip(report: &mut StepReport, severity: Severity, table: &str, code: &str, message: &str, row: String) {
    skip_many(report, severity, table, code, message, 1, row);
}

fn skip_many(report: &mut StepReport, severity: Severity, table: &str, code: &str, message: &str, n: u64, row: String) {
    if n == 0 {
        return;
    }
    report.note_many(severity, table, code, message, n, Some(row));
    if let Some(t) = report.tables.iter_mut().find(|t| t.source_table == table) {
        t.skipped += n;
    }
}

pub(super) fn roles(_src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let mut created: BTreeMap<&'static str, Vec<Vec<Value>>> = BTreeMap::new();
    for r in ctx.roles.values() {
        let shown = if r.source_name == r.name { format!("`{}`", r.name) } else { format!("`{}` → `{}`", r.source_name, r.name) };
        if r.create {
            created.entry(r.origin).or_default().push(vec![r.id.clone().into(), r.name.clone().into()]);
            s.report.note(
                Severity::Info,
                r.origin,
                "role_created",
                "Keystone had no role of this name: created",
                format!("{shown} id={}", r.id),
            );
        } else {
            s.report.note(
                Severity::Info,
                r.origin,
                "role_exists",
                "the Keystone role of this name is used",
                format!("{shown} id={}", r.id),
            );
        }
    }
    for (origin, rows) in created {
        s.write(origin, "role", &rows::ROLE_COLUMNS, &rows, OnConflict::Fail)?;
    }
    if let Some(id) = &ctx.admin_role {
        let name = ctx.roles.values().find(|r| &r.id == id).map(|r| r.name.clone()).unwrap_or_default();
        s.report.note(
            Severity::Info,
            "users",
            "admin_role",
            &format!(
                "Diablo's administrators (`is_admin`, or the superuser role cloudadmin) get this role on tenant `{}`: the role \
                 Essex's policies check (`admin`, in any case)",
                ctx.opts.global_roles_tenant
            ),
            format!("`{name}` id={id}"),
        );
    }
    Ok(())
}

pub(super) fn tenants(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let sql = "SELECT p.id, p.name, p.description, p.project_manager, p.deleted, m.id AS manager_found, m.deleted AS manager_deleted \
               FROM projects p LEFT JOIN users m ON m.id = p.project_manager ORDER BY p.id";
    let batch_size = s.batch_size;
    src.stream(sql, &[], batch_size, |batch| {
        let mut out = Vec::with_capacity(batch.len());
        for r in &batch {
            let id = r.required_text("projects", "id")?;
            s.report.read("projects", 1);
            if !live(r.get("deleted")) {
                skip(&mut s.report, Severity::Info, "projects", "deleted", DELETED, format!("`{id}`"));
                continue;
            }
            if let Some(manager) = r.text("projects", "project_manager")? {
                if r.get("manager_found").is_null() || !live(r.get("manager_deleted")) {
                    s.report.note(
                        Severity::Warning,
                        "projects",
                        "orphan_project_manager",
                        "the project manager is no (live) Nova user; Essex has no project manager anyway",
                        format!("`{id}` managed by `{manager}`"),
                    );
                } else {
                    s.report.note(
                        Severity::Info,
                        "projects",
                        "project_manager",
                        "Essex has no project manager (Diablo derived the `projectmanager` role from it): not carried; the \
                         manager keeps its membership and roles",
                        format!("`{id}` managed by `{manager}`"),
                    );
                }
            }
            if ctx.merged_tenants.contains(&id) {
                skip(
                    &mut s.report,
                    Severity::Info,
                    "projects",
                    "tenant_exists",
                    "Keystone already holds this tenant (same id and name): Nova's members, roles and keys are added to it",
                    format!("`{id}`"),
                );
                continue;
            }
            let name = match r.text("projects", "name")? {
                Some(n) => {
                    if n != id {
                        s.report.note(
                            Severity::Info,
                            "projects",
                            "project_name",
                            "Diablo's clients named the project by its id; the tenant keeps that id and takes the project's name",
                            format!("id `{id}` name `{n}`"),
                        );
                    }
                    n
                }
                None => id.clone(),
            };
            let extra = json!({ "description": r.text("projects", "description")?, "enabled": true });
            out.push(rows::named(&id, &name, &extra));
        }
        s.write("projects", "tenant", &rows::NAMED_COLUMNS, &out, OnConflict::Fail)
    })?;
    if let Some((id, true)) = &ctx.systenant {
        let name = ctx.opts.global_roles_tenant.clone();
        let made = global_roles::create_tenant(
            s,
            "user_role_association",
            &name,
            "Diablo's global roles and administrators",
            "Essex has no global roles",
        )?;
        debug_assert_eq!(&made, id, "check planned the global-roles tenant's name-based id");
    }
    Ok(())
}

pub(super) fn users(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let sql = "SELECT u.id, u.name, u.access_key, u.deleted, d.project_id AS own_project, dp.deleted AS own_project_deleted \
               FROM users u LEFT JOIN user_project_association d ON d.user_id = u.id AND d.project_id = u.id \
               LEFT JOIN projects dp ON dp.id = d.project_id ORDER BY u.id";
    let batch_size = s.batch_size;
    src.stream(sql, &[], batch_size, |batch| {
        let mut rows = Vec::with_capacity(batch.len());
        for r in &batch {
            let id = r.required_text("users", "id")?;
            s.report.read("users", 1);
            if !live(r.get("deleted")) {
                skip(&mut s.report, Severity::Info, "users", "deleted", DELETED, format!("`{id}`"));
                continue;
            }
            if let Some(name) = r.text("users", "name")?.filter(|n| *n != id) {
                s.report.note(
                    Severity::Info,
                    "users",
                    "user_name_column",
                    "Diablo named users by their id and never read the `name` column: the Keystone user is named by the id",
                    format!("id `{id}` name `{name}`"),
                );
            }
            let has_key = r.text("users", "access_key")?.is_some_and(|k| !k.is_empty());
            if let Some(existing) = ctx.merged_users.get(&id) {
                let differs = *existing != id;
                skip(
                    &mut s.report,
                    if differs { Severity::Warning } else { Severity::Info },
                    "users",
                    "user_merged",
                    if differs {
                        "the Keystone user of this name is the same identity (same EC2 access key and secret): Nova's memberships, \
                         roles and keys are added to it; Nova's own rows (key pairs, instances) name the user by its Diablo id, \
                         which Essex Nova will not match with the Keystone id"
                    } else {
                        "the Keystone user with this id and name is the same identity (same EC2 access key and secret): Nova's \
                         memberships, roles and keys are added to it"
                    },
                    format!("`{id}` → Keystone id {existing}"),
                );
                if ctx.passwords.get(&id).is_some() {
                    s.report.note(
                        Severity::Warning,
                        "users",
                        "password_not_applied",
                        "the user already exists in Keystone and keeps its password: the password file's entry is not used",
                        format!("`{id}`"),
                    );
                }
                continue;
            }
            let pw = ctx.passwords.get(&id).map(str::to_string);
            match (&pw, has_key) {
                (Some(_), _) => s.report.note(
                    Severity::Info,
                    "users",
                    "password_set",
                    "password from the password file (sha512_crypt, as Essex stores it)",
                    format!("`{id}`"),
                ),
                (None, true) => s.report.note(
                    Severity::Info,
                    "users",
                    "ec2_only_user",
                    "no password (Nova's auth had none): the user signs EC2 requests as in Diablo; give it a password \
                     (--password-file, or `osmigrate keystone`) for the OpenStack API and the dashboard",
                    format!("`{id}`"),
                ),
                (None, false) => s.report.note(
                    Severity::Warning,
                    "users",
                    "no_credentials",
                    "neither an EC2 access key nor a password: the user cannot authenticate until it is given one",
                    format!("`{id}`"),
                ),
            }
            let own = r.text("users", "own_project")?.filter(|_| live(r.get("own_project_deleted")));
            rows.push((id, pw, own));
        }
        let hashed = password::essex_form_all(rows.iter().map(|(_, pw, _)| pw.clone()).collect());
        let mut out = Vec::with_capacity(rows.len());
        for ((id, _, own), pw) in rows.into_iter().zip(hashed) {
            let mut extra = Map::new();
            extra.insert("email".into(), Json::Null);
            if let Some(pw) = pw {
                extra.insert("password".into(), Json::String(pw));
            }
            extra.insert("enabled".into(), Json::Bool(true));
            if let Some(own) = own {
                extra.insert("tenant_id".into(), Json::String(own));
            }
            out.push(rows::named(&id, &id, &Json::Object(extra)));
        }
        s.write("users", "user", &rows::NAMED_COLUMNS, &out, OnConflict::Fail)
    })
}

/// Roles of a user on a tenant, to add to the target.
struct Grant {
    user: String,
    tenant: String,
    roles: Vec<String>,
}

/// Memberships, then role lists: new (user, tenant) rows inserted; rows the target already holds
/// (the Keystone import's, or an earlier grant of this run) get the missing role ids appended.
fn add_grants(s: &mut Sink, membership_source: &str, roles_source: &str, grants: Vec<Grant>) -> Result<()> {
    if grants.is_empty() {
        return Ok(());
    }
    let memberships: Vec<Vec<Value>> = grants.iter().map(|g| vec![g.user.clone().into(), g.tenant.clone().into()]).collect();
    s.write(membership_source, "user_tenant_membership", &rows::MEMBERSHIP_COLUMNS, &memberships, OnConflict::Ignore)?;
    let users: Vec<Value> = grants
        .iter()
        .filter(|g| !g.roles.is_empty())
        .map(|g| g.user.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .map(Value::from)
        .collect();
    let mut existing: HashMap<(String, String), Map<String, Json>> = HashMap::new();
    let table = s.target.quote("metadata");
    for chunk in users.chunks(1000) {
        for r in
            s.target.query(&format!("SELECT user_id, tenant_id, data FROM {table} WHERE user_id IN ({})", marks(chunk.len())), chunk)?
        {
            let (user, tenant) = (text(&r, "user_id").unwrap_or_default(), text(&r, "tenant_id").unwrap_or_default());
            let data = rows::object(r.text("metadata", "data")?, "metadata", format!("user {user} tenant {tenant}"), "data")?;
            existing.insert((user, tenant), data);
        }
    }
    let mut new_rows = Vec::new();
    for g in grants.into_iter().filter(|g| !g.roles.is_empty()) {
        let Some(mut data) = existing.remove(&(g.user.clone(), g.tenant.clone())) else {
            new_rows.push(rows::metadata(&g.user, &g.tenant, &g.roles));
            continue;
        };
        let missing = rows::add_roles(&mut data, &g.roles, format!("user {} tenant {}", g.user, g.tenant))?;
        if missing.is_empty() {
            continue;
        }
        s.target.execute(
            &format!("UPDATE {table} SET data = ? WHERE user_id = ? AND tenant_id = ?"),
            &[rows::json_text(&Json::Object(data)), g.user.clone().into(), g.tenant.clone().into()],
        )?;
        s.report.note(
            Severity::Info,
            roles_source,
            "grant_added_to_existing",
            "the user already had roles on this tenant in Keystone: Nova's are added to them",
            format!("user {} tenant {}: {} role(s) added", g.user, g.tenant, missing.len()),
        );
    }
    s.write(roles_source, "metadata", &rows::METADATA_COLUMNS, &new_rows, OnConflict::Fail)
}

pub(super) fn grants(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let batch_size = s.batch_size;
    // Memberships, with the project roles that go with them.
    let sql = "SELECT a.user_id, a.project_id, u.id AS user_found, u.deleted AS user_deleted, p.id AS project_found, \
                      p.deleted AS project_deleted, r.role \
               FROM user_project_association a LEFT JOIN users u ON u.id = a.user_id LEFT JOIN projects p ON p.id = a.project_id \
               LEFT JOIN user_project_role_association r ON r.user_id = a.user_id AND r.project_id = a.project_id \
               ORDER BY a.user_id, a.project_id, r.role";
    let pair = |r: &Row| format!("{}\u{0}{}", text(r, "user_id").unwrap_or_default(), text(r, "project_id").unwrap_or_default());
    stream_groups(src, sql, batch_size, pair, |groups| {
        let users: Vec<Value> = groups.iter().map(|g| g[0].get("user_id").clone()).collect();
        let mut global: HashSet<(String, String)> = HashSet::new();
        for r in ctx
            .lookup
            .query(&format!("SELECT user_id, role FROM user_role_association WHERE user_id IN ({})", marks(users.len())), &users)?
        {
            global.insert((text(&r, "user_id").unwrap_or_default(), text(&r, "role").unwrap_or_default()));
        }
        let mut grants = Vec::new();
        for g in &groups {
            let first = &g[0];
            let user = first.required_text("user_project_association", "user_id")?;
            let project = first.required_text("user_project_association", "project_id")?;
            let role_rows: Vec<&Row> = g.iter().filter(|r| !r.get("role").is_null()).collect();
            s.report.read("user_project_association", 1);
            s.report.read("user_project_role_association", role_rows.len() as u64);
            let why = if first.get("user_found").is_null() {
                Some((Severity::Warning, "orphan_user", "the membership names a user that does not exist: not carried, nor its roles"))
            } else if !live(first.get("user_deleted")) {
                Some((Severity::Info, "deleted", "the user was deleted in Diablo: the membership is not carried, nor its roles"))
            } else if first.get("project_found").is_null() {
                Some((
                    Severity::Warning,
                    "orphan_project",
                    "the membership names a project that does not exist: not carried, nor its roles",
                ))
            } else if !live(first.get("project_deleted")) {
                Some((Severity::Info, "deleted", "the project was deleted in Diablo: the membership is not carried, nor its roles"))
            } else {
                None
            };
            if let Some((severity, code, message)) = why {
                let row = format!("user `{user}` project `{project}`");
                skip(&mut s.report, severity, "user_project_association", code, message, row.clone());
                skip_many(&mut s.report, severity, "user_project_role_association", code, message, role_rows.len() as u64, row);
                continue;
            }
            let mut roles: Vec<String> = Vec::new();
            for r in role_rows {
                let name = r.required_text("user_project_role_association", "role")?;
                let target = ctx.role(&name).ok_or_else(|| Error::db("granting roles", format!("role `{name}` was not planned")))?;
                if !roles.contains(&target.id) {
                    roles.push(target.id.clone());
                }
                if !GLOBAL_ROLES.contains(&name.as_str()) && !global.contains(&(user.clone(), name.clone())) {
                    s.report.note(
                        Severity::Info,
                        "user_project_role_association",
                        "project_role_alone",
                        "Diablo honoured a project role only for a user who also held it as a global role; an Essex tenant role \
                         stands alone, so this grant now takes effect",
                        format!("user `{user}` role `{name}` project `{project}`"),
                    );
                }
            }
            grants.push(Grant { user: ctx.user_id(&user).to_string(), tenant: project, roles });
        }
        add_grants(s, "user_project_association", "user_project_role_association", grants)
    })?;

    // Project roles without the membership they need (only a database without foreign keys has them).
    let sql = "SELECT r.user_id, r.project_id, r.role FROM user_project_role_association r \
               LEFT JOIN user_project_association a ON a.user_id = r.user_id AND a.project_id = r.project_id \
               WHERE a.user_id IS NULL ORDER BY r.user_id, r.project_id, r.role";
    src.stream(sql, &[], batch_size, |batch| {
        for r in &batch {
            s.report.read("user_project_role_association", 1);
            s.report.skip(
                "user_project_role_association",
                "role_without_membership",
                "a project role of a user who is not a member of the project: Diablo refused that user's requests there, so it is not carried",
                format!("user `{}` role `{}` project `{}`", text(r, "user_id").unwrap_or_default(), text(r, "role").unwrap_or_default(), text(r, "project_id").unwrap_or_default()),
            );
        }
        Ok(())
    })?;

    // Global roles and administrators, on the global-roles tenant.
    let sql = "SELECT u.id AS user_id, u.is_admin, u.deleted, g.role FROM users u LEFT JOIN user_role_association g ON g.user_id = u.id \
               ORDER BY u.id, g.role";
    let tenant = ctx.opts.global_roles_tenant.clone();
    stream_groups(
        src,
        sql,
        batch_size,
        |r| text(r, "user_id").unwrap_or_default(),
        |groups| {
            let mut grants = Vec::new();
            for g in &groups {
                let user = g[0].required_text("users", "user_id")?;
                let role_rows: Vec<&Row> = g.iter().filter(|r| !r.get("role").is_null()).collect();
                s.report.read("user_role_association", role_rows.len() as u64);
                if !live(g[0].get("deleted")) {
                    let message = "the user was deleted in Diablo: its global roles are not carried";
                    skip_many(
                        &mut s.report,
                        Severity::Info,
                        "user_role_association",
                        "deleted",
                        message,
                        role_rows.len() as u64,
                        format!("`{user}`"),
                    );
                    continue;
                }
                let mut roles: Vec<String> = Vec::new();
                let mut admin_because: Option<String> = g[0].get("is_admin").as_bool().unwrap_or(false).then(|| "is_admin".to_string());
                for r in role_rows {
                    let name = r.required_text("user_role_association", "role")?;
                    let target = ctx.role(&name).ok_or_else(|| Error::db("granting roles", format!("role `{name}` was not planned")))?;
                    if !roles.contains(&target.id) {
                        roles.push(target.id.clone());
                    }
                    global_roles::note_moved(&mut s.report, "user_role_association", &tenant, format!("user `{user}` role `{name}`"));
                    if admin_because.is_none() && SUPERUSER_ROLES.contains(&name.as_str()) {
                        admin_because = Some(name);
                    }
                }
                if let Some(why) = admin_because {
                    let admin = ctx.admin_role.clone().ok_or_else(|| Error::db("granting roles", "the admin role was not planned"))?;
                    if !roles.contains(&admin) {
                        roles.push(admin);
                    }
                    s.report.note(
                        Severity::Info,
                        "users",
                        "admin_granted",
                        &format!("a Diablo administrator: granted the admin role on tenant `{tenant}`"),
                        format!("`{user}` ({why})"),
                    );
                }
                if roles.is_empty() {
                    continue;
                }
                let (sys, _) =
                    ctx.systenant.clone().ok_or_else(|| Error::db("granting roles", "the global-roles tenant was not planned"))?;
                grants.push(Grant { user: ctx.user_id(&user).to_string(), tenant: sys, roles });
            }
            add_grants(s, "user_role_association", "user_role_association", grants)
        },
    )?;

    // Global roles of users that do not exist.
    let sql = "SELECT g.user_id, g.role FROM user_role_association g LEFT JOIN users u ON u.id = g.user_id WHERE u.id IS NULL \
               ORDER BY g.user_id, g.role";
    src.stream(sql, &[], batch_size, |batch| {
        for r in &batch {
            s.report.read("user_role_association", 1);
            s.report.skip(
                "user_role_association",
                "orphan_user",
                "the global role names a user that does not exist",
                format!("user `{}` role `{}`", text(r, "user_id").unwrap_or_default(), text(r, "role").unwrap_or_default()),
            );
        }
        Ok(())
    })
}

/// Users, with the projects they belong to (one row per membership), for the EC2 credentials.
pub(super) fn ec2_query() -> String {
    "SELECT u.id AS user_id, u.access_key, u.secret_key, u.is_admin, u.deleted AS user_deleted, a.project_id, \
            p.id AS project_found, p.deleted AS project_deleted \
     FROM users u LEFT JOIN user_project_association a ON a.user_id = u.id LEFT JOIN projects p ON p.id = a.project_id \
     ORDER BY u.id, a.project_id"
        .to_string()
}

/// An EC2 credential to write.
pub(super) struct Credential {
    pub access: String,
    pub secret: String,
    /// The Keystone user id (a merged user's existing id).
    pub user: String,
    pub tenant: String,
    pub nova_user: String,
}

/// The credentials one user's rows of [`ec2_query`] give; what is left out is reported when a
/// report is given.
pub(super) fn planned_credentials(ctx: &Ctx, rows: &[Row], mut report: Option<&mut StepReport>) -> Result<Vec<Credential>> {
    let mut say = |severity: Severity, code: &str, message: &str, row: String| {
        if let Some(r) = report.as_deref_mut() {
            r.note(severity, "users", code, message, row);
        }
    };
    let first = &rows[0];
    let user = first.required_text("users", "user_id")?;
    if !live(first.get("user_deleted")) {
        return Ok(Vec::new());
    }
    let Some(key) = first.text("users", "access_key")?.filter(|k| !k.is_empty()) else {
        return Ok(Vec::new());
    };
    let Some(secret) = first.text("users", "secret_key")? else {
        say(
            Severity::Warning,
            "ec2_no_secret",
            "the user has an access key but no secret key, so none of its requests could be signed: no EC2 credential is made",
            format!("`{user}`"),
        );
        return Ok(Vec::new());
    };
    if key.contains(':') {
        say(
            Severity::Warning,
            "ec2_access_key_colon",
            "the access key holds a `:`, where Diablo split the access string, so it never matched: not carried",
            format!("`{user}`"),
        );
        return Ok(Vec::new());
    }
    if let Some(keeper) = ctx.shared_keys.get(&ctx.same_name(&key)).filter(|k| **k != user) {
        say(
            Severity::Warning,
            "ec2_access_key_shared",
            "another user has the same access key; Diablo authenticated every request signed with it as the first user its \
             lookup returned (no ORDER BY: the database's own order, asked again of the source), and that user keeps it: \
             give this user a new key (`osmigrate keystone ec2-credentials-create --user USER --tenant PROJECT`)",
            format!("`{user}` (the key stays with `{keeper}`)"),
        );
        return Ok(Vec::new());
    }
    let projects: Vec<String> = rows
        .iter()
        .filter(|r| !r.get("project_found").is_null() && live(r.get("project_deleted")))
        .filter_map(|r| text(r, "project_id"))
        .collect();
    if projects.is_empty() {
        say(
            Severity::Warning,
            "ec2_no_project",
            "the user belongs to no project, so Diablo accepted its key for none (an administrator's for any, which an Essex \
             credential cannot express): no EC2 credential is made",
            format!("`{user}`"),
        );
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for a in access_strings(&user, &key, &projects) {
        if a.access.chars().count() > MAX_LEN {
            say(
                Severity::Warning,
                "ec2_access_too_long",
                "the access string is longer than the 64 characters Essex allows: not carried (the user needs a new key for \
                 this project)",
                format!("`{user}` {}", shown(&a.access)),
            );
            continue;
        }
        out.push(Credential {
            access: a.access,
            secret: secret.clone(),
            user: ctx.user_id(&user).to_string(),
            tenant: a.tenant,
            nova_user: user.clone(),
        });
    }
    Ok(out)
}

/// An EC2 credential the target holds.
pub(super) struct ExistingCredential {
    pub user: String,
    pub secret: Option<String>,
}

/// The target's credentials with any of these access strings, by access string as the target
/// compares them.
pub(super) fn existing_credentials(target: &mut Db, ctx: &Ctx, creds: &[Credential]) -> Result<HashMap<String, ExistingCredential>> {
    let table = target.quote("ec2_credential");
    let mut out = HashMap::new();
    for chunk in creds.chunks(1000) {
        let params: Vec<Value> = chunk.iter().map(|c| Value::from(c.access.clone())).collect();
        let sql = format!("SELECT access, secret, user_id FROM {table} WHERE access IN ({})", marks(params.len()));
        for r in target.query(&sql, &params)? {
            let existing = ExistingCredential { user: text(&r, "user_id").unwrap_or_default(), secret: text(&r, "secret") };
            out.insert(ctx.same_name(&text(&r, "access").unwrap_or_default()), existing);
        }
    }
    Ok(out)
}

pub(super) fn ec2_credentials(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let batch_size = s.batch_size;
    let projects =
        ctx.lookup.query_scalar(&format!("SELECT COUNT(*) FROM projects p WHERE {}", live_sql("p")), &[])?.as_i64().unwrap_or(0) as usize;
    let admin_roles = GLOBAL_ROLES.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(", ");
    let mut written = 0u64;
    stream_groups(
        src,
        &ec2_query(),
        batch_size,
        |r| text(r, "user_id").unwrap_or_default(),
        |groups| {
            let users: Vec<Value> = groups.iter().map(|g| g[0].get("user_id").clone()).collect();
            let sql = format!(
                "SELECT DISTINCT user_id FROM user_role_association WHERE role IN ({admin_roles}) AND user_id IN ({})",
                marks(users.len())
            );
            let mut admins: HashSet<String> = ctx.lookup.query(&sql, &users)?.iter().filter_map(|r| text(r, "user_id")).collect();
            admins.extend(groups.iter().filter(|g| g[0].get("is_admin").as_bool() == Some(true)).filter_map(|g| text(&g[0], "user_id")));
            let mut planned = Vec::new();
            for g in &groups {
                let user = text(&g[0], "user_id").unwrap_or_default();
                let creds = planned_credentials(ctx, g, Some(&mut s.report))?;
                let members = g.iter().filter(|r| !r.get("project_found").is_null() && live(r.get("project_deleted"))).count();
                if admins.contains(&user) && live(g[0].get("user_deleted")) && members < projects {
                    s.report.note(
                        Severity::Warning,
                        "users",
                        "admin_not_member",
                        "Diablo let this administrator sign requests for every project as ACCESS:project; an Essex credential names \
                     one tenant, so only its own projects have one (add it to others and make credentials as needed)",
                        format!("`{user}`: member of {members} of {projects} projects"),
                    );
                }
                planned.extend(creds);
            }
            let existing = existing_credentials(&mut s.target, ctx, &planned)?;
            let mut out = Vec::with_capacity(planned.len());
            for c in planned {
                match existing.get(&ctx.same_name(&c.access)) {
                    Some(e) if e.user == c.user && e.secret.as_deref() == Some(c.secret.as_str()) => s.report.note(
                        Severity::Info,
                        "users",
                        "ec2_already_present",
                        "Keystone already holds this credential for the same user and secret: kept as it is",
                        format!("`{}` {}", c.nova_user, shown(&c.access)),
                    ),
                    Some(_) => {
                        return Err(Error::Refused(format!(
                            "EC2 access `{}` of user `{}` is already in the target for another user or secret",
                            shown(&c.access),
                            c.nova_user
                        )));
                    }
                    None => out.push(vec![c.access.into(), c.secret.into(), c.user.into(), c.tenant.into()]),
                }
            }
            written += out.len() as u64;
            s.write("users", "ec2_credential", &rows::EC2_COLUMNS, &out, OnConflict::Fail)
        },
    )?;
    s.report.note_many(
        Severity::Info,
        "users",
        "upstream_access_form",
        "EC2 access strings as Diablo's clients send them (ACCESS:project, and ACCESS alone for the project named like the \
         user); upstream `keystone-manage import_nova_auth` stores `<new tenant uuid>:ACCESS`, which no existing client sends",
        written,
        None,
    );
    Ok(())
}
