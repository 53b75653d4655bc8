//! The first step: everything that must hold before a row is written, checked against the source
//! and the target as the transaction sees it, and the decisions later steps follow (merged users
//! and tenants, the roles, the global-roles tenant, shared access keys). Every conflict is listed
//! at once; any conflict refuses the run, and the transaction leaves the target untouched.

use std::collections::HashMap;

use super::access::{carries_key, shown};
use super::steps::{ec2_query, existing_credentials, planned_credentials};
use super::{Ctx, MAX_LEN, RoleTarget, SUPERUSER_ROLES, TABLES, diablo_key_holder, live_sql, marks, stream_groups, text};
use crate::db::{Backend, Db, Value};
use crate::error::{Error, Result};
use crate::essex_keystone::global_roles;
use crate::migrate::{Severity, Sink};
use crate::reason::Reason;

/// Conflicts shown in the refusal; the rest are counted.
const SHOWN: usize = 50;

pub(super) fn check(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    for table in TABLES {
        s.report.read(table, 0); // the report lists the tables in this order
    }
    let mut problems: Vec<String> = Vec::new();
    lengths(src, &mut problems)?;
    one_name_in_essex(src, ctx, &mut problems)?;
    users(src, s, ctx, &mut problems)?;
    projects(src, s, ctx, &mut problems)?;
    password_names(src, ctx, &mut problems)?;
    roles(src, s, ctx, &mut problems)?;
    systenant(src, s, ctx)?;
    shared_keys(src, ctx)?;
    access_strings(src, s, ctx, &mut problems)?;
    if problems.is_empty() {
        let live = src.query_scalar(&format!("SELECT COUNT(*) FROM users u WHERE {}", live_sql("u")), &[])?.as_i64().unwrap_or(0);
        if live == 0 {
            s.report.note_many(
                Severity::Info,
                "users",
                Reason::NoNovaUsers,
                "the Nova database holds no users of its own (the cloud did not use Nova's auth): nothing to import",
                1,
                None,
            );
        }
        return Ok(());
    }
    let more = problems.len().saturating_sub(SHOWN);
    let mut lines: Vec<String> = problems.iter().take(SHOWN).cloned().collect();
    if more > 0 {
        lines.push(format!("… and {more} more"));
    }
    Err(Error::Refused(format!(
        "{} conflict(s) between Nova's auth and what Essex Keystone holds or allows; nothing was written:\n  {}",
        problems.len(),
        lines.join("\n  ")
    )))
}

/// Ids, names, keys and role names longer than Essex's 64 characters (never truncated).
fn lengths(src: &mut Db, problems: &mut Vec<String>) -> Result<()> {
    let len = src.backend().char_length_fn();
    let (lu, lp) = (live_sql("u"), live_sql("p"));
    let queries = [
        ("users", "id", format!("SELECT u.id AS who, {len}(u.id) AS n FROM users u WHERE {lu} AND {len}(u.id) > {MAX_LEN}")),
        (
            "users",
            "access_key",
            format!("SELECT u.id AS who, {len}(u.access_key) AS n FROM users u WHERE {lu} AND {len}(u.access_key) > {MAX_LEN}"),
        ),
        (
            "users",
            "secret_key",
            format!("SELECT u.id AS who, {len}(u.secret_key) AS n FROM users u WHERE {lu} AND {len}(u.secret_key) > {MAX_LEN}"),
        ),
        ("projects", "id", format!("SELECT p.id AS who, {len}(p.id) AS n FROM projects p WHERE {lp} AND {len}(p.id) > {MAX_LEN}")),
        ("projects", "name", format!("SELECT p.id AS who, {len}(p.name) AS n FROM projects p WHERE {lp} AND {len}(p.name) > {MAX_LEN}")),
        (
            "user_project_role_association",
            "role",
            format!(
                "SELECT r.user_id AS who, {len}(r.role) AS n FROM user_project_role_association r JOIN users u ON u.id = r.user_id \
                 WHERE {lu} AND {len}(r.role) > {MAX_LEN}"
            ),
        ),
        (
            "user_role_association",
            "role",
            format!(
                "SELECT g.user_id AS who, {len}(g.role) AS n FROM user_role_association g JOIN users u ON u.id = g.user_id \
                 WHERE {lu} AND {len}(g.role) > {MAX_LEN}"
            ),
        ),
    ];
    for (table, field, sql) in queries {
        for r in src.query(&format!("{sql} ORDER BY 1"), &[])? {
            let who = if table == "users" || table == "projects" { "id" } else { "user" };
            problems.push(format!(
                "{table} row {who} `{}`, field `{field}`: {} characters, more than the {MAX_LEN} Essex allows (osmigrate never truncates)",
                text(&r, "who").unwrap_or_default(),
                r.get("n").as_i64().unwrap_or(0)
            ));
        }
    }
    Ok(())
}

/// Users or projects that would be one name in Essex (on MySQL also without case).
fn one_name_in_essex(src: &mut Db, ctx: &Ctx, problems: &mut Vec<String>) -> Result<()> {
    for (table, alias, name) in [("users", "u", "u.id"), ("projects", "p", "COALESCE(p.name, p.id)")] {
        let key = ctx.same_name_sql(name);
        let live = live_sql(alias);
        let sql = format!("SELECT {key} AS k FROM {table} {alias} WHERE {live} GROUP BY {key} HAVING COUNT(*) > 1 ORDER BY 1");
        for d in src.query(&sql, &[])? {
            let rows = src.query(
                &format!("SELECT {alias}.id, {name} AS shown FROM {table} {alias} WHERE {live} AND {key} = ? ORDER BY {alias}.id"),
                &[d.get("k").clone()],
            )?;
            let names: Vec<String> = rows.iter().map(|r| format!("`{}` (id `{}`)", text(r, "shown").unwrap_or_default(), r.id())).collect();
            let why = if ctx.target_backend == Backend::Mysql { " (MySQL compares names without case)" } else { "" };
            problems.push(format!("{table} {} would be one name in Essex{why}; rename all but one", names.join(" and ")));
        }
    }
    Ok(())
}

/// Nova users whose name (their id) or id the target already holds: merged when the same
/// identity, else a conflict.
fn users(src: &mut Db, s: &mut Sink, ctx: &mut Ctx, problems: &mut Vec<String>) -> Result<()> {
    let sql = format!("SELECT u.id, u.access_key, u.secret_key FROM users u WHERE {} ORDER BY u.id", live_sql("u"));
    let batch_size = s.batch_size;
    let user_table = s.target.quote("user");
    src.stream(&sql, &[], batch_size, |batch| {
        let ids: Vec<Value> = batch.iter().map(|r| r.get("id").clone()).collect();
        let m = marks(ids.len());
        let params: Vec<Value> = ids.iter().chain(ids.iter()).cloned().collect();
        let existing = s.target.query(&format!("SELECT id, name FROM {user_table} WHERE id IN ({m}) OR name IN ({m})"), &params)?;
        for r in &batch {
            let id = r.required_text("users", "id")?;
            let key = ctx.same_name(&id);
            let by_name = existing.iter().find(|e| ctx.same_name(&text(e, "name").unwrap_or_default()) == key);
            let by_id = existing.iter().find(|e| ctx.same_name(&e.id()) == key);
            let Some(named) = by_name else {
                if let Some(taken) = by_id {
                    problems.push(format!(
                        "user `{id}`: the id is taken by Keystone user `{}`; rename one of them",
                        text(taken, "name").unwrap_or_default()
                    ));
                }
                continue;
            };
            if let Some(other) = by_id.filter(|o| o.id() != named.id()) {
                problems.push(format!(
                    "user `{id}`: Keystone user `{}` has this name and user `{}` this id; rename the Nova user",
                    text(named, "name").unwrap_or_default(),
                    text(other, "name").unwrap_or_default()
                ));
                continue;
            }
            let (access, secret) = (r.text("users", "access_key")?, r.text("users", "secret_key")?);
            if same_identity(&mut s.target, &named.id(), access.as_deref(), secret.as_deref())? {
                ctx.merged_users.insert(id, named.id());
            } else {
                problems.push(format!(
                    "user `{id}`: Keystone already has a user named `{}` (id {}) that is not the same identity \
                     (none of its EC2 credentials carries this user's access key and secret); rename one of them",
                    text(named, "name").unwrap_or_default(),
                    named.id()
                ));
            }
        }
        Ok(())
    })
}

/// The same identity: an EC2 credential of the Keystone user carries the Nova user's access key
/// with the same secret.
fn same_identity(target: &mut Db, keystone_user: &str, access: Option<&str>, secret: Option<&str>) -> Result<bool> {
    let (Some(access), Some(secret)) = (access.filter(|a| !a.is_empty()), secret) else {
        return Ok(false);
    };
    let table = target.quote("ec2_credential");
    let rows = target.query(&format!("SELECT access, secret FROM {table} WHERE user_id = ?"), &[keystone_user.into()])?;
    Ok(rows.iter().any(|r| r.get("secret").as_str() == Some(secret) && r.get("access").as_str().is_some_and(|a| carries_key(a, access))))
}

/// Nova projects whose id or tenant name the target already holds: merged when the tenant has the
/// same id and name (Nova's rows name the project by its id), else a conflict.
fn projects(src: &mut Db, s: &mut Sink, ctx: &mut Ctx, problems: &mut Vec<String>) -> Result<()> {
    let sql = format!("SELECT p.id, COALESCE(p.name, p.id) AS tenant_name FROM projects p WHERE {} ORDER BY p.id", live_sql("p"));
    let batch_size = s.batch_size;
    let tenant_table = s.target.quote("tenant");
    src.stream(&sql, &[], batch_size, |batch| {
        let mut params: Vec<Value> = batch.iter().map(|r| r.get("id").clone()).collect();
        let m = marks(params.len());
        params.extend(batch.iter().map(|r| r.get("tenant_name").clone()));
        let existing = s.target.query(&format!("SELECT id, name FROM {tenant_table} WHERE id IN ({m}) OR name IN ({m})"), &params)?;
        for r in &batch {
            let id = r.required_text("projects", "id")?;
            let name = text(r, "tenant_name").unwrap_or_else(|| id.clone());
            let (id_key, name_key) = (ctx.same_name(&id), ctx.same_name(&name));
            let hits: Vec<_> = existing
                .iter()
                .filter(|e| ctx.same_name(&e.id()) == id_key || ctx.same_name(&text(e, "name").unwrap_or_default()) == name_key)
                .collect();
            match hits.as_slice() {
                [] => {}
                [t] if t.id() == id && ctx.same_name(&text(t, "name").unwrap_or_default()) == name_key => {
                    ctx.merged_tenants.insert(id);
                }
                _ => {
                    for t in hits {
                        problems.push(format!(
                            "project `{id}` (tenant name `{name}`): Keystone already has tenant `{}` (id `{}`), and Nova's own rows \
                             (instances, security groups, quotas…) name the project by its id `{id}`, so it cannot become that \
                             tenant; rename one of them",
                            text(t, "name").unwrap_or_default(),
                            t.id()
                        ));
                    }
                }
            }
        }
        Ok(())
    })
}

/// Every name in the password file is a live Nova user.
fn password_names(src: &mut Db, ctx: &Ctx, problems: &mut Vec<String>) -> Result<()> {
    let names: Vec<&str> = ctx.passwords.names().collect();
    for chunk in names.chunks(500) {
        let params: Vec<Value> = chunk.iter().map(|n| Value::from(*n)).collect();
        let sql = format!("SELECT u.id FROM users u WHERE {} AND u.id IN ({})", live_sql("u"), marks(chunk.len()));
        let found: Vec<String> = src.query(&sql, &params)?.iter().map(crate::db::Row::id).collect();
        for n in chunk.iter().filter(|n| !found.iter().any(|f| f == *n)) {
            problems.push(format!("the password file names `{n}`, which is no Nova user (or a deleted one)"));
        }
    }
    Ok(())
}

/// The roles the carried grants use: the target's role of the same name, else a new one; and the
/// role Diablo's administrators get (an existing `admin` in any case, else a new `admin`).
fn roles(src: &mut Db, s: &mut Sink, ctx: &mut Ctx, problems: &mut Vec<String>) -> Result<()> {
    let (lu, lp) = (live_sql("u"), live_sql("p"));
    let needed = src.query(
        &format!(
            "SELECT r.role AS role, 'user_project_role_association' AS origin FROM user_project_role_association r \
             JOIN user_project_association a ON a.user_id = r.user_id AND a.project_id = r.project_id \
             JOIN users u ON u.id = r.user_id JOIN projects p ON p.id = r.project_id WHERE {lu} AND {lp} \
             UNION SELECT g.role AS role, 'user_role_association' AS origin FROM user_role_association g \
             JOIN users u ON u.id = g.user_id WHERE {lu} ORDER BY 1, 2"
        ),
        &[],
    )?;
    let existing = s.target.query(&format!("SELECT id, name FROM {} ORDER BY id", s.target.quote("role")), &[])?;
    let mut by_name: HashMap<String, (String, String)> = HashMap::new();
    for e in &existing {
        let name = text(e, "name").unwrap_or_default();
        by_name.entry(ctx.same_name(&name)).or_insert((e.id(), name));
    }
    for r in &needed {
        let origin = if r.get("origin").as_str() == Some("user_role_association") {
            "user_role_association"
        } else {
            "user_project_role_association"
        };
        let Some(name) = r.text(origin, "role")? else { continue };
        if name.is_empty() {
            problems.push(format!("{origin}: a grant has an empty role name"));
            continue;
        }
        let key = ctx.same_name(&name);
        if let Some(known) = ctx.roles.get(&key) {
            if known.source_name != name {
                s.report.note(
                    Severity::Warning,
                    origin,
                    Reason::RoleMerged,
                    "the role name is the same Essex role name as another Nova role's (MySQL compares names without case): one role",
                    format!("`{name}` → `{}`", known.name),
                );
            }
            continue;
        }
        let target = match by_name.get(&key) {
            Some((id, existing_name)) => {
                RoleTarget { id: id.clone(), name: existing_name.clone(), source_name: name.clone(), create: false, origin }
            }
            None => RoleTarget { id: new_id(), name: name.clone(), source_name: name.clone(), create: true, origin },
        };
        ctx.roles.insert(key, target);
    }
    let superusers = SUPERUSER_ROLES.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(", ");
    let admins = src
        .query_scalar(
            &format!(
                "SELECT COUNT(*) FROM users u WHERE {lu} AND (u.is_admin OR EXISTS \
                 (SELECT 1 FROM user_role_association g WHERE g.user_id = u.id AND g.role IN ({superusers})))"
            ),
            &[],
        )?
        .as_i64()
        .unwrap_or(0);
    if admins > 0 {
        let existing_admin = existing
            .iter()
            .find(|e| e.get("name").as_str() == Some("admin"))
            .or_else(|| existing.iter().find(|e| e.get("name").as_str().is_some_and(|n| n.eq_ignore_ascii_case("admin"))));
        let admin = match existing_admin {
            Some(e) => {
                let name = text(e, "name").unwrap_or_default();
                ctx.roles.entry(ctx.same_name(&name)).or_insert(RoleTarget {
                    id: e.id(),
                    name: name.clone(),
                    source_name: name.clone(),
                    create: false,
                    origin: "users",
                })
            }
            None => ctx.roles.entry(ctx.same_name("admin")).or_insert(RoleTarget {
                id: new_id(),
                name: "admin".into(),
                source_name: "admin".into(),
                create: true,
                origin: "users",
            }),
        };
        ctx.admin_role = Some(admin.id.clone());
    }
    Ok(())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The tenant that receives global roles and administrators: the target's tenant of that name, a
/// Nova project of that name, or a new one.
fn systenant(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let lu = live_sql("u");
    let global = src
        .query_scalar(&format!("SELECT COUNT(*) FROM user_role_association g JOIN users u ON u.id = g.user_id WHERE {lu}"), &[])?
        .as_i64()
        .unwrap_or(0);
    if global == 0 && ctx.admin_role.is_none() {
        return Ok(());
    }
    let name = ctx.opts.global_roles_tenant.clone();
    let table = s.target.quote("tenant");
    if let Some(id) = s.target.query_scalar(&format!("SELECT id FROM {table} WHERE name = ?"), &[name.clone().into()])?.key_string() {
        ctx.systenant = Some((id, false));
        return Ok(());
    }
    let key = ctx.same_name_sql("COALESCE(p.name, p.id)");
    let sql = format!("SELECT p.id FROM projects p WHERE {} AND {key} = ? ORDER BY p.id", live_sql("p"));
    ctx.systenant = Some(match src.query_scalar(&sql, &[ctx.same_name(&name).into()])?.key_string() {
        Some(project) => (project, false),
        None => (global_roles::tenant_id(&name), true),
    });
    Ok(())
}

/// Access keys that several live users hold (one key as the target compares them): the user
/// Diablo authenticated with it keeps each ([`diablo_key_holder`], asked with the group's first
/// spelling; the spellings differ only where the target compares more loosely than the source).
fn shared_keys(src: &mut Db, ctx: &mut Ctx) -> Result<()> {
    let lu = live_sql("u");
    let key = ctx.same_name_sql("u.access_key");
    let sql = format!(
        "SELECT {key} AS k, MIN(u.access_key) AS spelling FROM users u WHERE {lu} AND u.access_key IS NOT NULL AND u.access_key <> '' \
         GROUP BY {key} HAVING COUNT(*) > 1"
    );
    for d in src.query(&sql, &[])? {
        let (Some(k), Some(spelling)) = (text(&d, "k"), text(&d, "spelling")) else { continue };
        let holder = diablo_key_holder(src, &spelling)?.ok_or_else(|| {
            Error::bad_data("users", format!("access key {}", shown(&spelling)), "access_key", "a live user's own key found no live user")
        })?;
        ctx.shared_keys.insert(ctx.same_name(&k), holder);
    }
    Ok(())
}

/// Access strings the target already holds for another user or with another secret.
fn access_strings(src: &mut Db, s: &mut Sink, ctx: &mut Ctx, problems: &mut Vec<String>) -> Result<()> {
    let batch_size = s.batch_size;
    stream_groups(
        src,
        &ec2_query(),
        batch_size,
        |r| text(r, "user_id").unwrap_or_default(),
        |groups| {
            let mut planned = Vec::new();
            for g in &groups {
                planned.extend(planned_credentials(ctx, g, None)?);
            }
            let existing = existing_credentials(&mut s.target, ctx, &planned)?;
            for c in &planned {
                let Some(e) = existing.get(&ctx.same_name(&c.access)) else { continue };
                if e.user != c.user {
                    problems.push(format!(
                        "EC2 access `{}` of user `{}`: the target already holds it for Keystone user id `{}`",
                        shown(&c.access),
                        c.nova_user,
                        e.user
                    ));
                } else if e.secret.as_deref() != Some(c.secret.as_str()) {
                    problems.push(format!(
                        "EC2 access `{}` of user `{}`: the target already holds it for this user with another secret",
                        shown(&c.access),
                        c.nova_user
                    ));
                }
            }
            Ok(())
        },
    )
}
