//! The import steps. Each reads the source with joins that resolve legacy integer ids to the new
//! ids, streams in batches, and writes multi-row inserts; what cannot be carried is reported.
//! Only the role map (roles are few) is held in memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde_json::{Map, Value as Json, json};

use super::KeystoneOptions;
use super::legacy::Legacy;
use crate::db::{Backend, Db, DbUrl, OnConflict, Row, Value};
use crate::error::{Error, Result};
use crate::essex_keystone::catalog::{self, TemplateEntry};
use crate::essex_keystone::{global_roles, password, rows};
use crate::migrate::{self, Plan, Progress, Report, Severity, Sink, Step};
use crate::reason::Reason;
use crate::redact::secret as redact_secret;
use crate::schema;

/// Essex Keystone's limit on ids, names and EC2 keys (VARCHAR(64)).
const MAX_LEN: i64 = 64;

struct Ctx {
    legacy: Legacy,
    opts: KeystoneOptions,
    now: chrono::NaiveDateTime,
    target_backend: Backend,
    /// Source role id → target role id (after merging names that collide in Essex).
    roles: HashMap<i64, String>,
    /// The source tenant that already has the global-roles tenant's name, if any.
    systenant_source_id: Option<i64>,
    systenant_id: Option<String>,
    /// Whether any grant is global (then the global-roles tenant is needed).
    has_global_grants: bool,
    /// Token id → the paste file naming it as `admin_token`.
    service_tokens: BTreeMap<String, String>,
}

impl Ctx {
    /// Two names are the same name in Essex when they compare equal on the target backend.
    fn collision_key(&self, name: &str) -> String {
        self.target_backend.name_key(name)
    }

    fn collision_sql(&self, column: &str) -> String {
        self.target_backend.name_key_sql(column)
    }
}

fn context(source: &mut Db, target_backend: Backend, opts: &KeystoneOptions) -> Result<Ctx> {
    Ok(Ctx {
        legacy: Legacy::detect(source)?,
        opts: opts.clone(),
        now: migrate::now()?,
        target_backend,
        roles: HashMap::new(),
        systenant_source_id: None,
        systenant_id: None,
        has_global_grants: false,
        service_tokens: read_paste_admin_tokens(&opts.paste_files)?,
    })
}

/// Imports the legacy Keystone database at `from` into a new Essex Keystone database at `to`.
pub fn migrate(from: &DbUrl, to: &DbUrl, opts: &KeystoneOptions, progress: &dyn Progress) -> Result<Report> {
    let mut source = migrate::open_source(from)?;
    let mut ctx = context(&mut source, opts.names_as.unwrap_or(to.backend), opts)?;
    let legacy = ctx.legacy.clone();
    preflight(&mut source, &mut ctx)?;
    drop(source);

    let steps: Vec<Step<Ctx>> = vec![
        Step { name: "tenants", target_tables: &["tenant"], run: &tenants },
        Step { name: "users", target_tables: &["user"], run: &users },
        Step { name: "roles", target_tables: &["role"], run: &roles },
        Step { name: "grants", target_tables: &["user_tenant_membership", "metadata"], run: &grants },
        Step { name: "ec2_credentials", target_tables: &["ec2_credential"], run: &ec2_credentials },
        Step { name: "tokens", target_tables: &["token"], run: &tokens },
        Step { name: "catalog", target_tables: &["service", "endpoint"], run: &catalog_tables },
    ];
    let plan = Plan {
        service: "keystone",
        source_url: from.clone(),
        target_url: to.clone(),
        source_release: legacy.release(),
        schema: schema::essex::keystone(to.backend)?,
        own_tables: Vec::new(),
        source_tables: legacy.fingerprint_tables(),
        settings: vec![
            ("global_roles_tenant".into(), opts.global_roles_tenant.clone()),
            ("default_region".into(), opts.default_region.clone()),
        ],
        steps,
        batch_size: opts.batch_size,
    };
    let mut report = migrate::run(plan, &mut ctx, progress)?;
    if let Some(path) = &opts.catalog_out {
        write_catalog_file(from, &ctx, path, &mut report)?;
        report.files.push(path.display().to_string());
    }
    Ok(report)
}

/// Quotes a column name that is a reserved word on some backend (`desc`, `key`).
fn q(db: &Db, name: &str) -> String {
    db.quote(name)
}

/// Everything that must hold before anything is written: no value too long for Essex, no two
/// users or tenants whose names are one name in Essex. Also decides role merges.
fn preflight(source: &mut Db, ctx: &mut Ctx) -> Result<()> {
    let len = source.backend().char_length_fn();
    let mut too_long: Vec<String> = Vec::new();
    let mut checks: Vec<(&str, &str, String)> =
        vec![("tenants", "name", String::new()), ("users", "name", String::new()), ("roles", "name", String::new())];
    if ctx.legacy.tenants_have_uid {
        checks.push(("tenants", "uid", String::new()));
    }
    if ctx.legacy.users_have_uid {
        checks.push(("users", "uid", String::new()));
    }
    if ctx.legacy.has_credentials {
        let ec2 = format!(" AND UPPER({}) = 'EC2'", q(source, "type"));
        checks.push(("credentials", "key", ec2.clone()));
        checks.push(("credentials", "secret", ec2));
    }
    for (table, field, extra) in &checks {
        let col = q(source, field);
        let sql = format!("SELECT id, {len}({col}) AS n FROM {table} WHERE {len}({col}) > {MAX_LEN}{extra} ORDER BY id");
        for r in source.query(&sql, &[])? {
            too_long.push(format!(
                "{table} row id={}, field `{field}`: {} characters",
                r.get("id").key_string().unwrap_or_default(),
                r.get("n").as_i64().unwrap_or(0)
            ));
        }
    }
    if !too_long.is_empty() {
        return Err(Error::Refused(format!(
            "{} value(s) are longer than the {MAX_LEN} characters Essex Keystone allows; nothing was written. \
             Shorten them in the legacy database (osmigrate never truncates):\n  {}",
            too_long.len(),
            too_long.join("\n  ")
        )));
    }

    // Each name as Essex will have it: a NULL name is the row's new id.
    let text = if source.backend() == Backend::Mysql { "CHAR" } else { "TEXT" };
    for (table, id) in [("tenants", ctx.legacy.tenant_key("t")), ("users", ctx.legacy.user_key("t"))] {
        let key = ctx.collision_sql(&format!("COALESCE(t.name, CAST({id} AS {text}))"));
        let sql = format!("SELECT {key} AS k, COUNT(*) AS n FROM {table} t GROUP BY {key} HAVING COUNT(*) > 1");
        let dups = source.query(&sql, &[])?;
        if !dups.is_empty() {
            let mut lines = Vec::new();
            for d in dups.iter().take(20) {
                let rows =
                    source.query(&format!("SELECT t.id, t.name FROM {table} t WHERE {key} = ? ORDER BY t.id"), &[d.get("k").clone()])?;
                lines.push(
                    rows.iter()
                        .map(|r| {
                            let name = r.get("name").as_str().map_or_else(|| "NULL (named after its id)".to_string(), |n| format!("`{n}`"));
                            format!("{table} row id={} name {name}", r.get("id").key_string().unwrap_or_default())
                        })
                        .collect::<Vec<_>>()
                        .join(" and "),
                );
            }
            let why = if ctx.target_backend == Backend::Mysql { " (MySQL compares names without case)" } else { "" };
            return Err(Error::Refused(format!(
                "{} name(s) in {table} would be the same name in Essex{why}, where names are unique; rename one of each and run again:\n  {}",
                dups.len(),
                lines.join("\n  ")
            )));
        }
    }

    // Role merges: the first role (lowest id) of each Essex name keeps its id; the others' grants move to it.
    let mut by_name: HashMap<String, String> = HashMap::new();
    for r in source.query("SELECT id, name FROM roles ORDER BY id", &[])? {
        let id = r.get("id").as_i64().ok_or_else(|| {
            Error::bad_data("roles", format!("name {}", r.get("name").key_string().unwrap_or_default()), "id", "not an integer")
        })?;
        let name = r.get("name").as_str().map_or_else(|| id.to_string(), str::to_string);
        let target = by_name.entry(ctx.collision_key(&name)).or_insert_with(|| id.to_string()).clone();
        ctx.roles.insert(id, target);
    }

    let key = ctx.collision_sql("name");
    let wanted = ctx.collision_key(&ctx.opts.global_roles_tenant);
    let sql = format!("SELECT id FROM tenants WHERE {key} = ? ORDER BY id");
    ctx.systenant_source_id = source.query_scalar(&sql, &[wanted.into()])?.as_i64();
    if ctx.systenant_source_id.is_none() {
        ctx.has_global_grants =
            source.query_scalar("SELECT COUNT(*) FROM user_roles WHERE tenant_id IS NULL", &[])?.as_i64().unwrap_or(0) > 0;
    }
    Ok(())
}

/// The `admin_token` of each section (or `[DEFAULT]`) of these paste files, as Paste Deploy hands
/// it to the filter (ConfigParser's reading: `key: value` with `=` inside, continuation lines).
fn read_paste_admin_tokens(files: &[std::path::PathBuf]) -> Result<BTreeMap<String, String>> {
    let mut tokens = BTreeMap::new();
    for f in files {
        let paste = crate::config::paste::PasteFile::read(f)?;
        for section in std::iter::once("DEFAULT").chain(paste.section_names()) {
            if let Some(Ok(token)) = paste.get(section, "admin_token").filter(|t| t.as_ref().is_ok_and(|t| !t.trim().is_empty())) {
                tokens.insert(token.trim().to_string(), f.display().to_string());
            }
        }
    }
    Ok(tokens)
}

fn text(v: &Value) -> Option<String> {
    v.key_string()
}

/// An `enabled` value as Diablo Keystone read it: its `Column(Integer)` hands SQLite's text or
/// blob through as is, and `if not user.enabled` is Python's truth (any text but '' is true).
fn diablo_truth(v: &Value) -> Option<bool> {
    match v {
        Value::Text(t) => Some(!t.is_empty()),
        Value::Bytes(b) => Some(!b.is_empty()),
        v => v.as_bool(),
    }
}

/// Legacy `enabled` (integer, boolean, text or NULL) as an Essex JSON boolean, as Diablo read it;
/// text is reported (Diablo took `no` for true), and so is NULL (Diablo refused it as false).
fn enabled_flag(session: &mut Sink, table: &str, row: &Row, name: &str) -> bool {
    let value = row.get("enabled");
    if let Value::Text(t) = value {
        let on = diablo_truth(value) == Some(true);
        session.report.note(
            Severity::Warning,
            table,
            Reason::EnabledText,
            &format!("`enabled` holds text, which Diablo took as {0}: carried as {0}", if on { "enabled" } else { "disabled" }),
            format!("id={} `{name}` enabled=`{t}`", row.id()),
        );
    }
    if let Some(b) = diablo_truth(value) {
        b
    } else {
        session.report.note(
            Severity::Warning,
            table,
            Reason::EnabledNull,
            "`enabled` is NULL; Diablo treated that as disabled, so it is carried as disabled",
            format!("id={} `{name}`", row.id()),
        );
        false
    }
}

fn tenants(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let sql = format!(
        "SELECT t.id, {key} AS new_id, t.name, t.{desc} AS description, t.enabled FROM tenants t ORDER BY t.id",
        key = ctx.legacy.tenant_key("t"),
        desc = q(src, "desc")
    );
    let batch_size = s.batch_size;
    let result = src.stream(&sql, &[], batch_size, |batch| {
        let mut out = Vec::with_capacity(batch.len());
        for r in &batch {
            let id = r.required_text("tenants", "new_id")?;
            let name = if let Some(n) = r.text("tenants", "name")? {
                n
            } else {
                s.report.note(
                    Severity::Warning,
                    "tenants",
                    Reason::NameNull,
                    "the name is NULL; the tenant is named after its id",
                    format!("id={}", r.id()),
                );
                id.clone()
            };
            let mut extra = Map::new();
            extra.insert("description".into(), r.text("tenants", "description")?.map_or(Json::Null, Json::String));
            extra.insert("enabled".into(), Json::Bool(enabled_flag(s, "tenants", r, &name)));
            out.push(rows::named(&id, &name, &Json::Object(extra)));
        }
        s.report.read("tenants", batch.len() as u64);
        s.write("tenants", "tenant", &rows::NAMED_COLUMNS, &out, OnConflict::Fail)
    });
    result?;
    if ctx.systenant_source_id.is_none() && ctx.has_global_grants {
        let name = ctx.opts.global_roles_tenant.clone();
        ctx.systenant_id = Some(global_roles::create_tenant(s, "tenants", &name, "Diablo's global roles", "Essex has none")?);
    }
    Ok(())
}

fn users(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let sql = format!(
        "SELECT u.id, {ukey} AS new_id, u.name, u.password, u.email, u.enabled, u.tenant_id, {tkey} AS tenant_new_id \
         FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id ORDER BY u.id",
        ukey = ctx.legacy.user_key("u"),
        tkey = ctx.legacy.tenant_key("t"),
    );
    let batch_size = s.batch_size;

    src.stream(&sql, &[], batch_size, |batch| {
        let mut stored = Vec::with_capacity(batch.len());
        for r in &batch {
            stored.push(r.text("users", "password")?);
        }
        for (r, p) in batch.iter().zip(&stored) {
            match p {
                None => s.report.note(
                    Severity::Warning,
                    "users",
                    Reason::NoPassword,
                    "the user has no password and cannot log in with one until it is given one",
                    format!("id={}", r.id()),
                ),
                Some(p) if !password::is_sha512_crypt(p) => s.report.note(
                    Severity::Info,
                    "users",
                    Reason::PasswordHashed,
                    "plaintext password hashed with sha512_crypt as Essex stores it (the user logs in with the same password)",
                    format!("id={}", r.id()),
                ),
                Some(_) => {}
            }
        }
        let hashed = password::essex_form_all(stored);
        let mut out = Vec::with_capacity(batch.len());
        for (r, pw) in batch.iter().zip(hashed) {
            let id = r.required_text("users", "new_id")?;
            let name = if let Some(n) = r.text("users", "name")? {
                n
            } else {
                s.report.note(
                    Severity::Warning,
                    "users",
                    Reason::NameNull,
                    "the name is NULL; the user is named after its id",
                    format!("id={}", r.id()),
                );
                id.clone()
            };
            let mut extra = Map::new();
            extra.insert("email".into(), r.text("users", "email")?.map_or(Json::Null, Json::String));
            if let Some(pw) = pw {
                extra.insert("password".into(), Json::String(pw));
            }
            extra.insert("enabled".into(), Json::Bool(enabled_flag(s, "users", r, &name)));
            match (r.get("tenant_id").is_null(), text(r.get("tenant_new_id"))) {
                (_, Some(t)) => {
                    extra.insert("tenant_id".into(), Json::String(t));
                }
                (false, None) => s.report.note(
                    Severity::Warning,
                    "users",
                    Reason::OrphanDefaultTenant,
                    "the default tenant does not exist; the user is carried without one",
                    format!("id={} `{name}` tenant_id={}", r.id(), text(r.get("tenant_id")).unwrap_or_default()),
                ),
                (true, None) => {}
            }
            out.push(rows::named(&id, &name, &Json::Object(extra)));
        }
        s.report.read("users", batch.len() as u64);
        s.write("users", "user", &rows::NAMED_COLUMNS, &out, OnConflict::Fail)
    })
}

fn roles(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let sql = format!(
        "SELECT r.id, r.name, r.{desc} AS description, r.service_id, sv.name AS service_name \
         FROM roles r LEFT JOIN {services} ON sv.id = r.service_id ORDER BY r.id",
        desc = q(src, "desc"),
        services = if ctx.legacy.has_catalog { "services sv" } else { "(SELECT NULL AS id, NULL AS name) sv" },
    );
    let rows = src.query(&sql, &[])?;
    s.report.read("roles", rows.len() as u64);
    let mut out = Vec::new();
    let mut kept: HashMap<String, String> = HashMap::new();
    for r in &rows {
        let id = r.get("id").as_i64().ok_or_else(|| Error::bad_data("roles", r.id(), "id", "not an integer"))?;
        let name = r.text("roles", "name")?.unwrap_or_else(|| id.to_string());
        let target = ctx.roles.get(&id).cloned().unwrap_or_else(|| id.to_string());
        if target == id.to_string() {
            kept.insert(target.clone(), name.clone());
            out.push(vec![target.into(), name.clone().into()]);
        } else {
            s.report.skip(
                "roles",
                Reason::RoleMerged,
                "the name is the same Essex role name as an earlier role's (Essex role names are unique); its grants move to that role",
                format!("id={id} `{name}` → id={target} `{}`", kept.get(&target).cloned().unwrap_or_default()),
            );
        }
        if r.get("name").is_null() {
            s.report.note(
                Severity::Warning,
                "roles",
                Reason::NameNull,
                "the name is NULL; the role is named after its id",
                format!("id={id}"),
            );
        }
        if let Some(d) = r.text("roles", "description")? {
            s.report.note(
                Severity::Info,
                "roles",
                Reason::RoleDescriptionDropped,
                "Essex roles have no description; it is not carried",
                format!("id={id} `{name}`: {d}"),
            );
        }
        if !r.get("service_id").is_null() {
            s.report.note(
                Severity::Info,
                "roles",
                Reason::RoleServiceDropped,
                "Essex roles belong to no service; the role is carried by name only",
                format!(
                    "id={id} `{name}` service {}",
                    text(r.get("service_name")).unwrap_or_else(|| text(r.get("service_id")).unwrap_or_default())
                ),
            );
        }
    }
    s.write("roles", "role", &rows::ROLE_COLUMNS, &out, OnConflict::Fail)
}

/// The tenant that receives global roles: a source tenant of that name, else the one created in
/// the tenants step (looked up again when resuming).
fn systenant_id(s: &mut Sink, ctx: &mut Ctx) -> Result<String> {
    if let Some(id) = &ctx.systenant_id {
        return Ok(id.clone());
    }
    let id = s
        .target
        .query_scalar(
            &format!("SELECT id FROM {} WHERE name = ?", s.target.quote("tenant")),
            &[ctx.opts.global_roles_tenant.clone().into()],
        )?
        .key_string()
        .ok_or_else(|| {
            Error::db("resuming the grants step", format!("the tenant `{}` is missing from the target", ctx.opts.global_roles_tenant))
        })?;
    ctx.systenant_id = Some(id.clone());
    Ok(id)
}

/// A (user, tenant) pair being assembled while grants stream in order.
struct Group {
    user: String,
    tenant: String,
    roles: Vec<String>,
}

fn grants(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let batch_size = s.batch_size;
    // Memberships in users' default tenants.
    let sql = format!(
        "SELECT {ukey} AS user_new_id, {tkey} AS tenant_new_id FROM users u JOIN tenants t ON t.id = u.tenant_id ORDER BY u.id",
        ukey = ctx.legacy.user_key("u"),
        tkey = ctx.legacy.tenant_key("t"),
    );
    let result = src.stream(&sql, &[], batch_size, |batch| {
        let memberships: Vec<Vec<Value>> =
            batch.iter().map(|r| vec![r.get("user_new_id").clone(), r.get("tenant_new_id").clone()]).collect();
        s.write("users", "user_tenant_membership", &rows::MEMBERSHIP_COLUMNS, &memberships, OnConflict::Ignore)
    });
    result?;

    let sys_new = if ctx.systenant_source_id.is_some() || ctx.has_global_grants { Some(systenant_id(s, ctx)?) } else { None };
    let sys_source = ctx.systenant_source_id.unwrap_or(-1);
    let sql = format!(
        "SELECT ur.id, ur.user_id, ur.tenant_id, ur.role_id, {ukey} AS user_new_id, u.name AS user_name, \
                {tkey} AS tenant_new_id, r.id AS role_found, r.name AS role_name \
         FROM user_roles ur LEFT JOIN users u ON u.id = ur.user_id LEFT JOIN tenants t ON t.id = ur.tenant_id \
         LEFT JOIN roles r ON r.id = ur.role_id \
         ORDER BY ur.user_id, COALESCE(ur.tenant_id, {sys_source}), ur.id",
        ukey = ctx.legacy.user_key("u"),
        tkey = ctx.legacy.tenant_key("t"),
    );
    let mut current: Option<Group> = None;
    let mut memberships: Vec<Vec<Value>> = Vec::new();
    let mut metadata: Vec<Vec<Value>> = Vec::new();
    let flush = |s: &mut Sink, memberships: &mut Vec<Vec<Value>>, metadata: &mut Vec<Vec<Value>>| -> Result<()> {
        s.write("user_roles", "user_tenant_membership", &rows::MEMBERSHIP_COLUMNS, memberships, OnConflict::Ignore)?;
        s.write("user_roles", "metadata", &rows::METADATA_COLUMNS, metadata, OnConflict::Fail)?;
        memberships.clear();
        metadata.clear();
        Ok(())
    };
    let finish = |g: Group, memberships: &mut Vec<Vec<Value>>, metadata: &mut Vec<Vec<Value>>| {
        memberships.push(vec![g.user.clone().into(), g.tenant.clone().into()]);
        metadata.push(rows::metadata(&g.user, &g.tenant, &g.roles));
    };
    let result = src.stream(&sql, &[], batch_size, |batch| {
        s.report.read("user_roles", batch.len() as u64);
        for r in &batch {
            let describe = || {
                format!(
                    "id={} user {} role {} tenant {}",
                    r.id(),
                    r.get("user_name").as_str().map_or_else(|| text(r.get("user_id")).unwrap_or("NULL".into()), |n| format!("`{n}`")),
                    r.get("role_name").as_str().map_or_else(|| text(r.get("role_id")).unwrap_or("NULL".into()), |n| format!("`{n}`")),
                    text(r.get("tenant_id")).unwrap_or("NULL (global)".into())
                )
            };
            let Some(user) = text(r.get("user_new_id")) else {
                s.report.skip("user_roles", Reason::OrphanUser, "the grant names a user that does not exist", describe());
                continue;
            };
            let role = r.get("role_id").as_i64().filter(|_| !r.get("role_found").is_null()).and_then(|id| ctx.roles.get(&id).cloned());
            let Some(role) = role else {
                s.report.skip("user_roles", Reason::OrphanRole, "the grant names a role that does not exist", describe());
                continue;
            };
            let tenant = if r.get("tenant_id").is_null() {
                let sys = sys_new.clone().expect("global grants imply the global-roles tenant");
                global_roles::note_moved(&mut s.report, "user_roles", &ctx.opts.global_roles_tenant, describe());
                sys
            } else if let Some(t) = text(r.get("tenant_new_id")) {
                t
            } else {
                s.report.skip("user_roles", Reason::OrphanTenant, "the grant names a tenant that does not exist", describe());
                continue;
            };
            match &mut current {
                Some(g) if g.user == user && g.tenant == tenant => {
                    if !g.roles.contains(&role) {
                        g.roles.push(role);
                    }
                }
                _ => {
                    if let Some(done) = current.take() {
                        finish(done, &mut memberships, &mut metadata);
                    }
                    current = Some(Group { user, tenant, roles: vec![role] });
                }
            }
        }
        if metadata.len() >= batch_size {
            flush(s, &mut memberships, &mut metadata)?;
        }
        Ok(())
    });
    result?;
    if let Some(done) = current.take() {
        finish(done, &mut memberships, &mut metadata);
    }
    flush(s, &mut memberships, &mut metadata)
}

fn ec2_credentials(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    if !ctx.legacy.has_credentials {
        return Ok(());
    }
    let type_col = q(src, "type");
    let key_col = q(src, "key");
    let others = src.query(
        &format!("SELECT {type_col} AS ty, COUNT(*) AS n FROM credentials WHERE {type_col} IS NULL OR UPPER({type_col}) <> 'EC2' GROUP BY {type_col}"),
        &[],
    )?;
    for o in &others {
        let n = o.get("n").as_i64().unwrap_or(0) as u64;
        s.report.read("credentials", n);
        let ty = text(o.get("ty")).unwrap_or_else(|| "NULL".into());
        s.report.note_many(
            Severity::Info,
            "credentials",
            Reason::CredentialTypeNotEc2,
            &format!("type `{ty}` is not carried: Essex keeps only EC2 credentials (passwords live on the user)"),
            n,
            None,
        );
        if let Some(t) = s.report.tables.iter_mut().find(|t| t.source_table == "credentials") {
            t.skipped += n;
        }
    }
    // Keys used more than once: the first row keeps the key, the others are reported.
    let key_expr = ctx.collision_sql(&format!("c.{key_col}"));
    let dup_keys: HashSet<String> = src
        .query(
            &format!("SELECT {key_expr} AS k FROM credentials c WHERE UPPER(c.{type_col}) = 'EC2' AND c.{key_col} IS NOT NULL GROUP BY {key_expr} HAVING COUNT(*) > 1"),
            &[],
        )?
        .iter()
        .filter_map(|r| text(r.get("k")))
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    let sql = format!(
        "SELECT c.id, c.{key_col} AS access, c.secret, c.user_id, c.tenant_id, {ukey} AS user_new_id, u.name AS user_name, \
                {tkey} AS tenant_new_id, {dkey} AS default_tenant_new_id \
         FROM credentials c LEFT JOIN users u ON u.id = c.user_id LEFT JOIN tenants t ON t.id = c.tenant_id \
         LEFT JOIN tenants dt ON dt.id = u.tenant_id \
         WHERE UPPER(c.{type_col}) = 'EC2' ORDER BY c.id",
        ukey = ctx.legacy.user_key("u"),
        tkey = ctx.legacy.tenant_key("t"),
        dkey = ctx.legacy.tenant_key("dt"),
    );
    let batch_size = s.batch_size;

    src.stream(&sql, &[], batch_size, |batch| {
        s.report.read("credentials", batch.len() as u64);
        let mut out = Vec::new();
        for r in &batch {
            let who = format!(
                "id={} user {}",
                r.id(),
                r.get("user_name").as_str().map_or_else(|| text(r.get("user_id")).unwrap_or("NULL".into()), |n| format!("`{n}`"))
            );
            let Some(access) = r.text("credentials", "access")? else {
                s.report.skip("credentials", Reason::Ec2NoAccessKey, "the EC2 credential has no access key", who);
                continue;
            };
            let who = format!("{who} access {}", redact_secret(&access));
            let Some(user) = text(r.get("user_new_id")) else {
                s.report.skip("credentials", Reason::OrphanUser, "the EC2 credential belongs to a user that does not exist", who);
                continue;
            };
            let tenant = if r.get("tenant_id").is_null() {
                if let Some(t) = text(r.get("default_tenant_new_id")) {
                    s.report.note(
                        Severity::Info,
                        "credentials",
                        Reason::Ec2DefaultTenant,
                        "the EC2 credential has no tenant; it gets the user's default tenant",
                        who.clone(),
                    );
                    t
                } else {
                    s.report.skip(
                        "credentials",
                        Reason::Ec2NoTenant,
                        "the EC2 credential has no tenant and its user no default tenant; Essex needs one",
                        who,
                    );
                    continue;
                }
            } else {
                if let Some(t) = text(r.get("tenant_new_id")) {
                    t
                } else {
                    s.report.skip("credentials", Reason::OrphanTenant, "the EC2 credential names a tenant that does not exist", who);
                    continue;
                }
            };
            let key = ctx.collision_key(&access);
            if dup_keys.contains(&key) && !seen.insert(key) {
                s.report.skip(
                    "credentials",
                    Reason::Ec2DuplicateAccessKey,
                    "an earlier EC2 credential has the same access key (Essex keys are unique)",
                    who,
                );
                continue;
            }
            let secret = r.text("credentials", "secret")?;
            out.push(vec![access.into(), secret.into(), user.into(), tenant.into()]);
        }
        s.write("credentials", "ec2_credential", &rows::EC2_COLUMNS, &out, OnConflict::Fail)
    })
}

fn tokens(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let Some(table) = ctx.legacy.token_table.clone() else {
        return Ok(());
    };
    let len = src.backend().char_length_fn();
    let backend = src.backend();
    let now = Value::DateTime(ctx.now);
    let total = src.query_scalar(&format!("SELECT COUNT(*) FROM {table}"), &[])?;
    // A count that cannot be read would silently report no token: refuse instead.
    let total = total
        .as_i64()
        .map(|n| n as u64)
        .ok_or_else(|| Error::db(format!("counting the tokens of {table}"), "the server returned no integer count".to_string()))?;
    // The live tokens and those without an expiry, in one scan of what is mostly the largest
    // table: every other token is expired (a NULL compares as neither, any other value as one).
    // SQLite keeps any value and compares it as stored: a number sorts before every text, a
    // text as text (`2026-12-07T00:00` after `2026-12-07 02:00`). So what is not a text between
    // the year 1000 and now is streamed too, and told apart here by its parsed date; a text in
    // that range reads as a past date however it is spelled.
    let candidates = format!("{e} > ? OR {e} < '1000-01-01' OR k.expires IS NULL", e = backend.as_stored("k.expires"));
    let sql = format!(
        "SELECT k.id, k.expires, k.user_id, k.tenant_id, {len}(k.id) AS id_len, \
                {ukey} AS user_new_id, u.name AS user_name, u.email AS user_email, u.enabled AS user_enabled, \
                {dkey} AS user_default_tenant, {tkey} AS tenant_new_id, t.name AS tenant_name, \
                t.{desc} AS tenant_description, t.enabled AS tenant_enabled \
         FROM {table} k LEFT JOIN users u ON u.id = k.user_id LEFT JOIN tenants t ON t.id = k.tenant_id \
         LEFT JOIN tenants dt ON dt.id = u.tenant_id \
         WHERE {candidates} ORDER BY {id}",
        id = backend.as_stored("k.id"),
        ukey = ctx.legacy.user_key("u"),
        tkey = ctx.legacy.tenant_key("t"),
        dkey = ctx.legacy.tenant_key("dt"),
        desc = q(src, "desc"),
    );
    let batch_size = s.batch_size;
    let mut roles_db = migrate::open_source(src.url())?;
    let (mut streamed, mut no_expiry, mut expired_streamed) = (0u64, 0u64, 0u64);
    let now_time = ctx.now;
    let now_text = now_time.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let result = src.stream(&sql, &[now], batch_size, |batch| {
        s.report.read(&table, batch.len() as u64);
        streamed += batch.len() as u64;
        // The roles of every (user, tenant) in this batch, in one query.
        let pairs: Vec<(i64, i64)> =
            batch.iter().filter_map(|r| Some((r.get("user_id").as_i64()?, r.get("tenant_id").as_i64()?))).collect();
        let mut roles_of: HashMap<(i64, i64), Vec<String>> = HashMap::new();
        if !pairs.is_empty() {
            let users: Vec<i64> = pairs.iter().map(|p| p.0).collect::<HashSet<_>>().into_iter().collect();
            let marks = vec!["?"; users.len()].join(", ");
            let params: Vec<Value> = users.iter().map(|u| Value::Int(*u)).collect();
            for g in roles_db.query(
                &format!(
                    "SELECT user_id, tenant_id, role_id FROM user_roles WHERE tenant_id IS NOT NULL AND user_id IN ({marks}) ORDER BY id"
                ),
                &params,
            )? {
                let (Some(u), Some(t), Some(role)) = (g.get("user_id").as_i64(), g.get("tenant_id").as_i64(), g.get("role_id").as_i64())
                else {
                    continue;
                };
                if let Some(target) = ctx.roles.get(&role) {
                    let list = roles_of.entry((u, t)).or_default();
                    if !list.contains(target) {
                        list.push(target.clone());
                    }
                }
            }
        }
        let mut out = Vec::new();
        for r in &batch {
            // Whether it has expired; None: no date and time.
            let expired = match r.get("expires") {
                Value::Null => {
                    no_expiry += 1;
                    continue;
                }
                Value::DateTime(d) => Some(*d <= now_time),
                // As Diablo wrote it, text compares as the date it spells.
                Value::Text(t) if crate::db::value::is_sqlalchemy_datetime(t) => Some(t.as_str() <= now_text.as_str()),
                Value::Text(t) => crate::db::value::parse_datetime(t).map(|d| d <= now_time),
                _ => None,
            };
            if expired == Some(true) {
                expired_streamed += 1;
                continue;
            }
            let Some(id) = r.text(&table, "id")? else {
                s.report.skip(&table, Reason::TokenWithoutId, "the token has no id: nothing can present it", "id NULL");
                continue;
            };
            let shown = redact_secret(&id);
            if r.get("id_len").as_i64().unwrap_or(0) > MAX_LEN {
                s.report.skip(
                    &table,
                    Reason::TokenIdTooLong,
                    "the token id is longer than the 64 characters Essex allows; it is not carried",
                    format!("token {shown}"),
                );
                continue;
            }
            // SQLite keeps any value: one that is no datetime, carried as NULL, would never expire.
            if expired.is_none() {
                s.report.skip(
                    &table,
                    Reason::TokenNoExpiry,
                    "the token's expiry is no date and time: not carried (Essex would take it for none and accept the token forever)",
                    format!("token {shown}"),
                );
                continue;
            }
            if crate::secret::is_sample_token(&id) {
                s.report.skip(
                    &table,
                    Reason::TokenSampleValue,
                    "the token id is a value published in OpenStack's sample files: anyone could present it, so it is not carried \
                     (the services authenticate with the new admin_token or with service users)",
                    format!("token {shown} (user {})", text(r.get("user_name")).unwrap_or_default()),
                );
                continue;
            }
            let Some(user_id) = text(r.get("user_new_id")) else {
                s.report.skip(&table, Reason::OrphanUser, "the token belongs to a user that does not exist", format!("token {shown}"));
                continue;
            };
            let mut user = Map::new();
            user.insert("id".into(), Json::String(user_id.clone()));
            user.insert("name".into(), text(r.get("user_name")).map_or(Json::Null, Json::String));
            user.insert("email".into(), text(r.get("user_email")).map_or(Json::Null, Json::String));
            user.insert("enabled".into(), Json::Bool(diablo_truth(r.get("user_enabled")).unwrap_or(false)));
            if let Some(t) = text(r.get("user_default_tenant")) {
                user.insert("tenant_id".into(), Json::String(t));
            }
            let (tenant, metadata) = if r.get("tenant_id").is_null() {
                (Json::Null, json!({}))
            } else {
                let Some(tenant_id) = text(r.get("tenant_new_id")) else {
                    s.report.skip(
                        &table,
                        Reason::OrphanTenant,
                        "the token is scoped to a tenant that does not exist",
                        format!("token {shown}"),
                    );
                    continue;
                };
                let key = (r.get("user_id").as_i64().unwrap_or(0), r.get("tenant_id").as_i64().unwrap_or(0));
                (
                    json!({
                        "id": tenant_id,
                        "name": text(r.get("tenant_name")),
                        "description": text(r.get("tenant_description")),
                        "enabled": diablo_truth(r.get("tenant_enabled")).unwrap_or(false),
                    }),
                    json!({ "roles": roles_of.get(&key).cloned().unwrap_or_default() }),
                )
            };
            if let Some(file) = ctx.service_tokens.get(&id) {
                s.report.note(
                    Severity::Info,
                    &table,
                    Reason::ServiceTokenCarried,
                    "a service token that a Diablo paste file names as admin_token is carried over and keeps working",
                    format!("token {shown} (user {}) from {file}", text(r.get("user_name")).unwrap_or_default()),
                );
            }
            let extra = json!({ "user": Json::Object(user), "tenant": tenant, "metadata": metadata });
            out.push(vec![id.into(), r.get("expires").clone(), rows::json_text(&extra)]);
        }
        s.write(&table, "token", &["id", "expires", "extra"], &out, OnConflict::Fail)
    });
    result?;
    let unstreamed = total.saturating_sub(streamed);
    s.report.read(&table, unstreamed);
    let expired = unstreamed + expired_streamed;
    for (n, code, message) in [
        (expired, Reason::TokenExpired, "expired tokens are not carried (they can no longer be used)"),
        (
            no_expiry,
            Reason::TokenNoExpiry,
            "tokens without an expiry are not carried (Diablo refused them; Essex would accept them forever)",
        ),
    ] {
        s.report.note_many(Severity::Info, &table, code, message, n, None);
        if let Some(t) = s.report.tables.iter_mut().find(|t| t.source_table == table) {
            t.skipped += n;
        }
    }
    // A paste file's admin_token that was not carried leaves that service without a working token.
    // (A sample value is never carried: its skip says so.)
    let carried_ids: Vec<String> = ctx.service_tokens.keys().filter(|t| !crate::secret::is_sample_token(t)).cloned().collect();
    for token in carried_ids {
        let present =
            s.target.query_scalar(&format!("SELECT COUNT(*) FROM {} WHERE id = ?", s.target.quote("token")), &[token.clone().into()])?;
        if present.as_i64() == Some(0) {
            s.report.note(
                Severity::Warning,
                &table,
                Reason::ServiceTokenNotCarried,
                "a Diablo paste file names this admin_token, but no unexpired token with that id exists; give Essex a new admin_token",
                format!("token {} from {}", redact_secret(&token), ctx.service_tokens[&token]),
            );
        }
    }
    Ok(())
}

fn catalog_tables(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    if !ctx.legacy.has_catalog {
        return Ok(());
    }
    let desc = q(src, "desc");
    let services = src.query(&format!("SELECT id, name, type, {desc} AS description FROM services ORDER BY id"), &[])?;
    s.report.read("services", services.len() as u64);
    let mut out = Vec::new();
    for r in &services {
        let id = r.required_text("services", "id")?;
        let extra = json!({ "name": r.text("services", "name")?, "description": r.text("services", "description")? });
        out.push(vec![id.into(), r.text("services", "type")?.into(), rows::json_text(&extra)]);
    }
    s.write("services", "service", &["id", "type", "extra"], &out, OnConflict::Fail)?;

    let sql = "SELECT et.id, et.region, et.service_id, et.public_url, et.admin_url, et.internal_url, et.enabled, et.is_global, \
                      sv.id AS service_found, sv.type AS service_type FROM endpoint_templates et \
               LEFT JOIN services sv ON sv.id = et.service_id ORDER BY et.id";
    let batch_size = s.batch_size;
    let result = src.stream(sql, &[], batch_size, |batch| {
        s.report.read("endpoint_templates", batch.len() as u64);
        let mut out = Vec::new();
        for r in &batch {
            let id = r.required_text("endpoint_templates", "id")?;
            if r.get("service_found").is_null() {
                s.report.skip(
                    "endpoint_templates",
                    Reason::OrphanService,
                    "the endpoint template names no existing service (Essex endpoints need one)",
                    format!("id={id}"),
                );
                continue;
            }
            let region = if let Some(region) = r.text("endpoint_templates", "region")? {
                region
            } else {
                s.report.note(
                    Severity::Info,
                    "endpoint_templates",
                    Reason::DefaultRegion,
                    &format!("no region: placed in `{}`", ctx.opts.default_region),
                    format!("id={id}"),
                );
                ctx.opts.default_region.clone()
            };
            let mut extra = Map::new();
            for (legacy, essex) in [("public_url", "publicurl"), ("internal_url", "internalurl"), ("admin_url", "adminurl")] {
                let url = r.text("endpoint_templates", legacy)?.unwrap_or_else(|| {
                    s.report.note(
                        Severity::Warning,
                        "endpoint_templates",
                        Reason::UrlNull,
                        "a URL is NULL; written as empty (Essex reads all three)",
                        format!("id={id} {legacy}"),
                    );
                    String::new()
                });
                extra.insert(essex.into(), Json::String(catalog::essex_url(&url)));
            }
            if r.get("enabled").as_bool() == Some(false) {
                s.report.note(
                    Severity::Warning,
                    "endpoint_templates",
                    Reason::EndpointDisabled,
                    "disabled in Diablo; Essex's SQL catalog has no such flag and lists it (it is left out of the templates file)",
                    format!("id={id}"),
                );
            }
            if r.get("is_global").as_bool() == Some(false) {
                s.report.note(
                    Severity::Warning,
                    "endpoint_templates",
                    Reason::EndpointNotGlobal,
                    "served only to the tenants attached in `endpoints` in Diablo; Essex serves every endpoint to every tenant",
                    format!("id={id}"),
                );
            }
            out.push(vec![id.into(), region.into(), r.get("service_id").key_string().into(), rows::json_text(&Json::Object(extra))]);
        }
        s.write("endpoint_templates", "endpoint", &["id", "region", "service_id", "extra"], &out, OnConflict::Fail)
    });
    result?;
    if ctx.legacy.has_endpoints {
        let n = src.query_scalar("SELECT COUNT(*) FROM endpoints", &[])?.as_i64().unwrap_or(0) as u64;
        s.report.read("endpoints", n);
        s.report.note_many(
            Severity::Warning,
            "endpoints",
            Reason::PerTenantEndpoint,
            "per-tenant endpoint attachments have no Essex equivalent: their templates are served to every tenant",
            n,
            None,
        );
        if let Some(t) = s.report.tables.iter_mut().find(|t| t.source_table == "endpoints") {
            t.skipped += n;
        }
    }
    Ok(())
}

/// The templates file: the first enabled template of each region and service type.
fn write_catalog_file(from: &DbUrl, ctx: &Ctx, path: &Path, report: &mut Report) -> Result<()> {
    let mut entries: Vec<TemplateEntry> = Vec::new();
    let mut step = crate::migrate::StepReport::default();
    if ctx.legacy.has_catalog {
        let mut source = migrate::open_source(from)?;
        let desc = q(&source, "desc");
        let sql = format!(
            "SELECT et.id, et.region, et.public_url, et.admin_url, et.internal_url, et.enabled, sv.type AS service_type, \
                    sv.name AS service_name, sv.{desc} AS service_description \
             FROM endpoint_templates et JOIN services sv ON sv.id = et.service_id ORDER BY et.id"
        );
        let mut taken: HashMap<(String, String), String> = HashMap::new();
        for r in source.query(&sql, &[])? {
            let id = r.id();
            if r.get("enabled").as_bool() == Some(false) {
                continue;
            }
            let url = |k: &str| r.text("endpoint_templates", k).map(|u| catalog::essex_url(&u.unwrap_or_default()));
            let entry = TemplateEntry {
                region: r.text("endpoint_templates", "region")?.unwrap_or_else(|| ctx.opts.default_region.clone()),
                service_type: r.text("services", "service_type")?.unwrap_or_default(),
                name: r.text("services", "service_description")?.or(r.text("services", "service_name")?).unwrap_or_default(),
                public_url: url("public_url")?,
                admin_url: url("admin_url")?,
                internal_url: url("internal_url")?,
            };
            if let Some(why) = catalog::unrepresentable(&entry) {
                step.note(
                    Severity::Warning,
                    "endpoint_templates",
                    Reason::NotInTemplatesFile,
                    &format!("left out of the templates file: {why}"),
                    format!("id={id}"),
                );
                continue;
            }
            let key = (entry.region.clone(), entry.service_type.replace('_', "-"));
            if let Some(first) = taken.get(&key) {
                step.note(
                    Severity::Warning,
                    "endpoint_templates",
                    Reason::SecondEndpointForType,
                    "the templates file holds one endpoint per region and service type: this one is only in the SQL catalog",
                    format!("id={id} ({} {}; the file has id={first})", key.0, key.1),
                );
                continue;
            }
            taken.insert(key, id);
            entries.push(entry);
        }
    }
    let text = catalog::render(&entries);
    // Through the one atomic writer; world-readable as before (it holds no secret, and keystone reads it).
    crate::config::write::write_bytes(path, crate::config::write::Perms::mode(0o644), text.as_bytes())?;
    report.findings.extend(step.findings);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn paste_admin_tokens_are_read_as_paste_deploy_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let paste = dir.path().join("api-paste.ini");
        let text = "[DEFAULT]\nadmin_token = from-default\n\n[filter:authtoken]\nadmin_token: abc=123\n\n\
                    [filter:other]\nadmin_token = tok ; a comment\n# admin_token = commented\n";
        std::fs::write(&paste, text).unwrap();
        let tokens = super::read_paste_admin_tokens(&[paste]).unwrap();
        assert_eq!(tokens.keys().map(String::as_str).collect::<Vec<_>>(), ["abc=123", "from-default", "tok"]);
    }
}
