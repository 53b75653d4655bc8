//! Nova: the Diablo database (migrate version 46) copied forward into a new Essex database (82),
//! with the data migrations 047–082 as named rules and every Glance image
//! reference rewritten through the image map (§3.2), which upstream never does.

pub mod connection_info;
pub mod flavors;
pub mod network_info;
mod rules;
mod settings;

use std::collections::HashMap;

use crate::db::{Db, DbUrl, OnConflict, Value};
use crate::error::{Error, Result};
use crate::images::map::{self as image_map, MapSource};
use crate::migrate::copy::{TableCopy, copy_table};
use crate::migrate::{self, Plan, Progress, Report, Severity, Sink, Step};
use crate::reason::Reason;
use crate::schema;
/// The data migrations' pure rules, for flavors made at Essex's shape (`install`).
pub use settings::Settings;

#[derive(Debug, Clone)]
pub struct NovaOptions {
    /// Where the Glance old→new image id map comes from.
    pub image_map: MapSource,
    /// The Diablo nova.conf (flagfile) the data migrations take their settings from.
    pub nova_conf: Option<crate::config::FlagfileAt>,
    /// `KEY=VALUE` settings that win over the file.
    pub set: Vec<(String, String)>,
    pub batch_size: usize,
}

struct Ctx {
    settings: Settings,
    /// 059: the network base rate all flavors' caps are divided by.
    rxtx_base: i64,
    /// 074: the id of `m1.tiny`, whose instances get no root disk under libvirt.
    tiny_type_id: Option<i64>,
    image_map: MapSource,
    /// A second read-only source connection for lookups while the first one streams.
    lookup: Db,
    /// Old image ids → UUIDs, from the target's seeded `s3_images`.
    images: rules::ImageUuids,
    /// PostgreSQL and MySQL: a read-only connection to the target, opened at first use, for
    /// `s3_images` (seeded and committed by an earlier step) when it is too large to hold: the
    /// main one stays free to stream rows in.
    target_lookup: Option<Db>,
    /// What Essex's volume driver builds block device connections from.
    volumes: connection_info::Config,
    /// The current batch's volumes, by id.
    batch_volumes: HashMap<i64, connection_info::Volume>,
}

/// Diablo tables copied into the Essex table of the same name (or a renamed one), in an order
/// where parents come before children. Tables only Essex has start empty.
const COPIED: &[(&str, &str)] = &[
    ("instance_types", "instance_types"),
    ("instances", "instances"),
    ("zones", "cells"),
    ("agent_builds", "agent_builds"),
    ("auth_tokens", "auth_tokens"),
    ("certificates", "certificates"),
    ("compute_nodes", "compute_nodes"),
    ("console_pools", "console_pools"),
    ("consoles", "consoles"),
    ("networks", "networks"),
    ("virtual_interfaces", "virtual_interfaces"),
    ("fixed_ips", "fixed_ips"),
    ("floating_ips", "floating_ips"),
    ("instance_actions", "instance_actions"),
    ("instance_metadata", "instance_metadata"),
    ("instance_type_extra_specs", "instance_type_extra_specs"),
    ("key_pairs", "key_pairs"),
    ("migrations", "migrations"),
    ("users", "users"),
    ("projects", "projects"),
    ("user_project_association", "user_project_association"),
    ("user_project_role_association", "user_project_role_association"),
    ("user_role_association", "user_role_association"),
    ("provider_fw_rules", "provider_fw_rules"),
    ("quotas", "quotas"),
    ("security_groups", "security_groups"),
    ("security_group_rules", "security_group_rules"),
    ("security_group_instance_association", "security_group_instance_association"),
    ("services", "services"),
    ("volume_types", "volume_types"),
    ("volume_type_extra_specs", "volume_type_extra_specs"),
    ("volumes", "volumes"),
    ("volume_metadata", "volume_metadata"),
    ("iscsi_targets", "iscsi_targets"),
    ("snapshots", "snapshots"),
    ("block_device_mapping", "block_device_mapping"),
    ("virtual_storage_arrays", "virtual_storage_arrays"),
];

pub fn migrate(from: &DbUrl, to: &DbUrl, opts: &NovaOptions, progress: &dyn Progress) -> Result<Report> {
    let mut source = migrate::open_source(from)?;
    let version = detect(&mut source)?;
    let settings = Settings::resolve(opts.nova_conf.as_ref(), &opts.set)?;
    preflight(&mut source, &settings)?;
    let rxtx_base = rules::rxtx_base(&mut source)?;
    let tiny_type_id = source.query_scalar("SELECT id FROM instance_types WHERE name = 'm1.tiny' ORDER BY id", &[])?.as_i64();
    let mut volumes = connection_info::Config::new(&settings);
    volumes.discovery_hosts = rules::discovery_hosts(&mut source, &volumes)?;
    let mut ctx = Ctx {
        settings,
        rxtx_base,
        tiny_type_id,
        image_map: opts.image_map.clone(),
        lookup: source,
        images: rules::ImageUuids::default(),
        target_lookup: None,
        volumes,
        batch_volumes: HashMap::new(),
    };

    let mut steps: Vec<Step<Ctx>> = vec![Step { name: "s3_images", target_tables: &["s3_images"], run: &seed_s3_images }];
    for (_, target_table) in COPIED {
        steps.push(Step { name: target_table, target_tables: std::slice::from_ref(target_table), run: &copy_step });
    }
    steps.push(Step { name: "instance_info_caches", target_tables: &["instance_info_caches"], run: &rules::info_caches });
    steps.push(Step { name: "dropped", target_tables: &[], run: &report_dropped });
    let source_tables: Vec<String> = COPIED.iter().map(|(s, _)| s.to_string()).chain(["export_devices".to_string()]).collect();
    let plan = Plan {
        service: "nova",
        source_url: from.clone(),
        target_url: to.clone(),
        source_release: format!("Diablo Nova (migrate version {version})"),
        schema: schema::essex::nova(to.backend)?,
        own_tables: Vec::new(),
        source_tables,
        settings: ctx.settings.values(),
        steps,
        batch_size: opts.batch_size,
    };
    let mut report = migrate::run(plan, &mut ctx, progress)?;
    if report.outcome != migrate::Outcome::AlreadyComplete {
        report.findings.extend(ctx.settings.findings(&opts.image_map));
    }
    Ok(report)
}

/// A Diablo Nova is stamped 46; anything else is refused with what was found.
fn detect(db: &mut Db) -> Result<i64> {
    let url = db.url().to_string();
    let tables = db.table_names()?;
    if !tables.iter().any(|t| t == "instances") || !tables.iter().any(|t| t == "migrate_version") {
        let found = if tables.is_empty() { "no tables at all".to_string() } else { format!("tables {}", tables.join(", ")) };
        return Err(Error::Refused(format!("{url} is not a versioned Nova database (found {found})")));
    }
    let version = db.query_scalar("SELECT version FROM migrate_version WHERE repository_id = 'nova'", &[])?.as_i64();
    match version {
        Some(46) => Ok(46),
        Some(v) if v > 46 => Err(Error::Refused(format!(
            "{url} is at Nova migrate version {v}, past Diablo's 46: osmigrate copies a Diablo (46) database forward, not one upstream partly migrated"
        ))),
        Some(v) => Err(Error::Refused(format!(
            "{url} is at Nova migrate version {v}: bring it to Diablo's 46 with Diablo's `nova-manage db sync` first"
        ))),
        None => Err(Error::Refused(format!("{url} has no `nova` row in migrate_version"))),
    }
}

/// What must hold before anything is written.
fn preflight(source: &mut Db, settings: &Settings) -> Result<()> {
    // 061 makes instances.uuid unique; 066 keys the caches by it.
    let dups = source.query("SELECT uuid, COUNT(*) AS n FROM instances WHERE uuid IS NOT NULL GROUP BY uuid HAVING COUNT(*) > 1", &[])?;
    if !dups.is_empty() {
        let list: Vec<String> = dups.iter().take(20).map(|d| d.get("uuid").key_string().unwrap_or_default()).collect();
        return Err(Error::Refused(format!(
            "{} instance uuid(s) are shared by several instances; Essex requires them unique (migration 061): {}",
            dups.len(),
            list.join(", ")
        )));
    }
    // 074 needs connection_type as soon as instances exist.
    let instances = source.query_scalar("SELECT COUNT(*) FROM instances", &[])?.as_i64().unwrap_or(0);
    if instances > 0 && settings.connection_type.value.as_deref().is_none_or(|v| v.trim().is_empty()) {
        return Err(Error::Usage(
            "connection_type is not set and has no default: migration 074 needs it to size root and ephemeral disks (give --nova-conf or --set connection_type=libvirt)"
                .into(),
        ));
    }
    Ok(())
}

/// `s3_images`: every mapped image, keyed by its old integer id so EC2 ids (`ami-%08x`) survive.
fn seed_s3_images(_: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let now = Value::DateTime(migrate::now()?);
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let mut step = std::mem::take(&mut s.report);
    let batch_size = s.batch_size;
    let mut attempted = 0u64;
    let flush = |s: &mut Sink, rows: &mut Vec<Vec<Value>>| -> Result<()> {
        s.write("image_map", "s3_images", &["id", "uuid", "created_at", "deleted"], rows, OnConflict::Ignore)?;
        rows.clear();
        Ok(())
    };
    image_map::for_each_entry(&ctx.image_map, &mut step, |old, new| {
        attempted += 1;
        rows.push(vec![Value::Int(old), new.into(), now.clone(), Value::Int(0)]);
        if rows.len() >= batch_size {
            flush(s, &mut rows)?;
        }
        Ok(())
    })?;
    flush(s, &mut rows)?;
    step.merge(std::mem::take(&mut s.report));
    s.report = step;
    s.report.read("image_map", attempted);
    let written =
        s.report.tables.iter().find(|t| t.source_table == "image_map").and_then(|t| t.written.get("s3_images")).copied().unwrap_or(0);
    if written < attempted {
        s.report.note_many(
            Severity::Warning,
            "image_map",
            Reason::ImageMapDuplicate,
            "the map names the same old id more than once; the first UUID is kept",
            attempted - written,
            None,
        );
        if let Some(t) = s.report.tables.iter_mut().find(|t| t.source_table == "image_map") {
            t.skipped += attempted - written;
        }
    }
    Ok(())
}

/// The step of one copied table: its rules come from [`rules`].
fn copy_step(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let target = s.step;
    let source = COPIED.iter().find(|(_, t)| *t == target).map(|(s, _)| *s).expect("a copied table");
    let (joins, extra) = rules::source_joins(source);
    let spec = TableCopy {
        source,
        target,
        joins,
        extra,
        on_batch: rules::batch_hook(source),
        rule: &|col| rules::column_rule(source, col),
        carried_as: &|col| rules::carried_as(source, col),
        verbatim: !rules::has_rules(source),
    };
    copy_table(src, s, ctx, &spec)
}

/// Diablo tables with no Essex counterpart: their rows are counted, not carried.
fn report_dropped(src: &mut Db, s: &mut Sink, _: &mut Ctx) -> Result<()> {
    if src.table_names()?.iter().any(|t| t == "export_devices") {
        let n = src.query_scalar("SELECT COUNT(*) FROM export_devices", &[])?.as_i64().unwrap_or(0) as u64;
        s.report.read("export_devices", n);
        s.report.note_many(
            Severity::Info,
            "export_devices",
            Reason::TableDropped,
            "Essex has no export_devices (AoE shelf/blade numbers; migration 052 drops the table)",
            n,
            None,
        );
        if let Some(t) = s.report.tables.iter_mut().find(|t| t.source_table == "export_devices") {
            t.skipped += n;
        }
    }
    Ok(())
}
