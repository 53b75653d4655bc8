//! `verify`: the result against the source.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::discover::discover;
use super::{Check, Journal, Lock, Severity};
use crate::config::paste::AuthStrategy;
use crate::db::{Access, Backend, Db, DbUrl, Value};
use crate::error::Result;
use crate::images::image_ref;
use crate::migrate::Report;
use crate::reason::Reason;
use crate::rootfs;

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub root: String,
    pub checks: Vec<Check>,
}

impl VerifyReport {}

/// The result against the source: every source row accounted for, references resolving, the
/// Essex schemas and stamps in place, the configs naming the new databases.
pub fn verify(root: &Path, state_dir: &Path) -> Result<VerifyReport> {
    // Not while a migration or rollback runs (and none starts until this is done); a state
    // directory that does not exist saw no migration, and verify does not make it.
    let _lock = if state_dir.is_dir() { Some(Lock::acquire(state_dir)?) } else { None };
    let cloud = discover(root)?;
    let journal = Journal::open(state_dir)?;
    let mut checks = Vec::new();
    let mut schema_checks = Vec::new();
    let mut check = |ok: bool, code: Reason, message: String| {
        checks.push(Check::new(if ok { Severity::Info } else { Severity::Blocker }, code, message, if ok { "" } else { code.fix() }));
    };
    let mut missing = Vec::new();
    let finished = journal.is_done("nova-config");
    check(
        finished,
        Reason::MigrationFinished,
        if finished {
            format!("the journal in {} records a finished migration", state_dir.display())
        } else {
            format!(
                "the journal in {} records no finished migration (none ran here, one was interrupted, or it was rolled back)",
                state_dir.display()
            )
        },
    );
    for (service, target_url, source_url, schema) in [
        (
            "keystone",
            &cloud.keystone_target,
            cloud.keystone.as_ref().map(|k| &k.source),
            crate::schema::essex::keystone as fn(Backend) -> Result<crate::schema::Schema>,
        ),
        ("glance", &cloud.glance.target, Some(&cloud.glance.source), crate::schema::essex::glance),
        ("nova", &cloud.nova.target, Some(&cloud.nova.source), crate::schema::essex::nova),
    ] {
        tracing::info!(service, target = %target_url, "verify: the Essex {service} database");
        let mut target = match Db::connect(target_url, Access::ReadOnly) {
            Ok(db) => db,
            Err(e) => {
                check(false, Reason::EssexSchema, format!("no Essex {service} database to verify: {e}"));
                missing.push(service);
                continue;
            }
        };
        let schema = schema(target_url.backend)?;
        // The whole schema against osmigrate's schema data, with the comparison a resumed run makes.
        let differences = crate::db::diff::schema_diff(&mut target, &schema)?;
        if differences.is_empty() {
            check(
                true,
                Reason::EssexSchema,
                format!("{target_url}: every Essex table, column, index, unique key and foreign key as osmigrate makes them"),
            );
        }
        schema_checks.extend(differences.iter().map(|d| {
            Check::new(
                Severity::Blocker,
                Reason::EssexSchema,
                format!("{target_url}: {d}"),
                match source_url {
                    Some(_) => format!(
                        "`osmigrate db migrate {service}` run again with the same source and target creates what is missing; \
                         anything else needs a new target (`osmigrate rollback`, drop it, `osmigrate migrate`)"
                    ),
                    None => "a new target: `osmigrate rollback`, drop it, `osmigrate migrate`".into(),
                },
            )
        }));
        let stamp = schema.stamp.as_ref().expect("Essex schemas are stamped");
        let version = target
            .query_scalar("SELECT version FROM migrate_version WHERE repository_id = ?", &[stamp.repository_id.clone().into()])?
            .as_i64();
        check(
            version == Some(stamp.version),
            Reason::Stamp,
            match version {
                Some(v) if v == stamp.version => format!("{target_url}: stamped `{}` version {v}", stamp.repository_id),
                Some(v) => format!("{target_url}: stamped `{}` version {v}, not {}", stamp.repository_id, stamp.version),
                None => format!("{target_url}: no `{}` stamp (an unfinished migration)", stamp.repository_id),
            },
        );
        // The saved reports: the migration's (`finished`) and a Nova-auth import's into Keystone.
        let mut report: Option<Report> = None;
        let mut added: Vec<Report> = Vec::new();
        let mut unreadable: Vec<String> = Vec::new();
        for r in target.query("SELECT step, detail FROM osmigrate_journal WHERE step = 'finished' OR step LIKE '%/finished'", &[])? {
            let step = r.get("step").key_string().unwrap_or_default();
            match (r.get("detail").as_str().and_then(|d| serde_json::from_str::<Report>(d).ok()), step == "finished") {
                (Some(saved), true) => report = Some(saved),
                (Some(saved), false) => added.push(saved),
                (None, _) => unreadable.push(step),
            }
        }
        if (report.is_none() && source_url.is_some()) || !unreadable.is_empty() {
            let what = if unreadable.is_empty() {
                "no saved report (journal entry `finished`)".to_string()
            } else {
                format!("an unreadable saved report ({})", unreadable.join(", "))
            };
            check(false, Reason::RowsAccounted, format!("{target_url}: {what}: its rows cannot be accounted for"));
        }
        // Every row written is still there (Essex, once running, adds its own: tokens, instances).
        let written: Vec<&[crate::migrate::TableReport]> = report.iter().chain(&added).map(|r| r.tables.as_slice()).collect();
        if !written.is_empty() {
            let lost: Vec<String> = crate::migrate::count_mismatches(&mut target, &schema, &written)?
                .into_iter()
                .filter(|(_, held, n)| *held < *n as i64)
                .map(|(table, held, n)| format!("{table} holds {held} of the {n} rows the migration wrote"))
                .collect();
            let ok = lost.is_empty();
            let message = if ok {
                format!("{target_url}: every table holds at least the rows the migration wrote")
            } else {
                format!("{target_url}: rows were deleted after the migration: {}", lost.join("; "))
            };
            check(ok, Reason::TargetRowsKept, message);
        }
        // Every source row read: the journal's report against the source's counts now.
        let Some(source_url) = source_url else { continue };
        let mut source = Db::connect(source_url, Access::ReadOnly)?;
        let source_tables = source.table_names()?;
        for t in report.iter().flat_map(|r| r.tables.iter()).filter(|t| source_tables.contains(&t.source_table)) {
            let n = source.query_scalar(&format!("SELECT COUNT(*) FROM {}", source.quote(&t.source_table)), &[])?.as_i64().unwrap_or(-1);
            check(
                n as u64 == t.read,
                Reason::RowsAccounted,
                format!("{} {}: {} source rows, {} read ({} skipped, each reported)", service, t.source_table, n, t.read, t.skipped),
            );
        }
    }
    // References resolve across the new databases, when they are all there.
    if missing.is_empty() {
        // References resolve across the new databases.
        let mut nova_db = Db::connect(&cloud.nova.target, Access::ReadOnly)?;
        let mut glance_db = Db::connect(&cloud.glance.target, Access::ReadOnly)?;
        let images: std::collections::HashSet<String> =
            glance_db.query("SELECT id FROM images", &[])?.iter().filter_map(|r| r.get("id").key_string()).collect();
        let mut dangling = 0u64;
        nova_db.stream("SELECT image_ref FROM instances", &[], 5000, |batch| {
            for r in batch {
                let v = r.get("image_ref").key_string().unwrap_or_default();
                if image_ref::parse(&v) == image_ref::ImageRef::Uuid {
                    let id = v.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string();
                    if !images.contains(&id) {
                        dangling += 1;
                    }
                }
            }
            Ok(())
        })?;
        check(dangling == 0, Reason::ImageRefsResolve, format!("instance image UUIDs that name no image in the new Glance: {dangling}"));
        let mut ks = Db::connect(&cloud.keystone_target, Access::ReadOnly)?;
        let user_table = ks.quote("user");
        if cloud.auth == AuthStrategy::Deprecated {
            // Every live Nova user arrived, and each user with a key and a project has EC2 credentials:
            // a few set queries on each side (Nova-auth clouds have thousands of users, not millions),
            // not one round trip per user.
            let mut nova = Db::connect(&cloud.nova.source, Access::ReadOnly)?;
            let live = [Value::Int(0)];
            let column = |rows: Vec<crate::db::Row>, field: &str| -> HashSet<String> {
                rows.iter().filter_map(|r| r.get(field).key_string()).collect()
            };
            let in_keystone = column(ks.query(&format!("SELECT id FROM {user_table}"), &[])?, "id");
            let in_project =
                column(nova.query("SELECT DISTINCT user_id FROM user_project_association WHERE deleted = ?", &live)?, "user_id");
            // Keystone's access strings are `KEY` or `KEY:PROJECT`; what matters is who holds each key.
            let credentials: HashSet<(String, String)> = ks
                .query("SELECT user_id, access FROM ec2_credential", &[])?
                .iter()
                .filter_map(|r| {
                    let access = r.get("access").key_string()?;
                    let key = access.split_once(':').map_or(access.as_str(), |(k, _)| k).to_string();
                    Some((r.get("user_id").key_string()?, key))
                })
                .collect();
            // A key several users share arrives once, for the user Diablo authenticated with it (the
            // others are reported by the import): that user must hold it.
            let mut keeper: HashMap<String, Option<String>> = HashMap::new();
            for r in nova.query("SELECT access_key FROM users WHERE deleted = ? GROUP BY access_key HAVING COUNT(*) > 1", &live)? {
                if let Some(key) = r.get("access_key").key_string() {
                    let holder = crate::services::nova_auth::diablo_key_holder(&mut nova, &key)?;
                    keeper.insert(key, holder);
                }
            }
            let (mut missing_users, mut missing_keys) = (0u64, 0u64);
            for u in nova.query("SELECT id, access_key FROM users WHERE deleted = ?", &live)? {
                let id = u.get("id").key_string().unwrap_or_default();
                missing_users += u64::from(!in_keystone.contains(&id));
                let Some(key) = u.get("access_key").key_string().filter(|k| !k.is_empty() && in_project.contains(&id)) else { continue };
                let holds = keeper.get(&key).is_none_or(|holder| holder.as_ref() == Some(&id));
                missing_keys += u64::from(holds && !credentials.contains(&(id, key)));
            }
            check(missing_users == 0, Reason::NovaUsersArrived, format!("live Nova users missing from Keystone: {missing_users}"));
            check(
                missing_keys == 0,
                Reason::NovaKeysArrived,
                format!("access keys of Nova users in a project that have no EC2 credential in Keystone: {missing_keys}"),
            );
        }
        let orphans = ks
        .query_scalar(&format!("SELECT COUNT(*) FROM ec2_credential c LEFT JOIN {user_table} u ON u.id = c.user_id LEFT JOIN tenant t ON t.id = c.tenant_id WHERE u.id IS NULL OR t.id IS NULL"), &[])?
        .as_i64()
        .unwrap_or(-1);
        check(orphans == 0, Reason::Ec2OwnersResolve, format!("EC2 credentials whose user or tenant is missing: {orphans}"));
        let orphans = ks
        .query_scalar(&format!("SELECT COUNT(*) FROM metadata m LEFT JOIN {user_table} u ON u.id = m.user_id LEFT JOIN tenant t ON t.id = m.tenant_id WHERE u.id IS NULL OR t.id IS NULL"), &[])?
        .as_i64()
        .unwrap_or(-1);
        // Each grant's roles, which Essex looks up by id when it issues a token.
        let roles: HashSet<String> = ks.query("SELECT id FROM role", &[])?.iter().filter_map(|r| r.get("id").key_string()).collect();
        let mut unknown_roles = 0u64;
        ks.stream("SELECT data FROM metadata", &[], 5000, |batch| {
            for r in batch {
                let data: Option<serde_json::Value> = r.get("data").as_str().and_then(|d| serde_json::from_str(d).ok());
                let named = data
                    .as_ref()
                    .and_then(|d| d["roles"].as_array())
                    .map(|ids| ids.iter().filter_map(|id| id.as_str()).collect::<Vec<_>>());
                // A grant whose data is no JSON list of role ids names no role Essex can find.
                unknown_roles += named.map_or(1, |ids| ids.iter().filter(|id| !roles.contains(**id)).count() as u64);
            }
            Ok(())
        })?;
        check(
            orphans == 0 && unknown_roles == 0,
            Reason::GrantsResolve,
            format!("role grants whose user or tenant is missing: {orphans}; roles granted that do not exist: {unknown_roles}"),
        );
    }
    // Configs, read back as Essex reads them, name the new databases.
    let ini = |path: &Path, section: &str, key: &str| -> Option<String> {
        std::fs::read(path).ok().and_then(|b| crate::config::ini::IniDoc::parse(&b).get(section, key))
    };
    let etc = |rel: &str| rootfs::under_root(root, Path::new(rel));
    for (path, section, key, want) in [
        (etc("/etc/keystone/keystone.conf")?, "sql", "connection", &cloud.keystone_target_host),
        (etc("/etc/glance/glance-registry.conf")?, "DEFAULT", "sql_connection", &cloud.glance.target_host),
        (etc("/etc/nova/nova.conf")?, "DEFAULT", "sql_connection", &cloud.nova.target_host),
    ] {
        let got = ini(&path, section, key).and_then(|u| DbUrl::parse(&u).ok());
        let ok = got.as_ref().is_some_and(|g| g.same_database(want));
        let message = match &got {
            _ if ok => format!("{} [{section}] {key} names {want}", path.display()),
            Some(g) => format!("{} [{section}] {key} names {g}, not the Essex database {want}", path.display()),
            None => format!("{} [{section}] {key} names no database (the Essex one is {want})", path.display()),
        };
        check(ok, Reason::ConfigNamesNewDatabase, message);
    }
    checks.extend(schema_checks);
    super::startable::check_files(root, &mut checks)?;
    Ok(VerifyReport { root: root.display().to_string(), checks })
}
