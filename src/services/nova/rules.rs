//! The data migrations 047–082 as rules on copied rows: one small function per migration, and
//! the table of which column of which table each one fills.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::network_info::{self, FixedIp, Ipv6Backend, Network, Vif};
use super::{Ctx, connection_info};
use crate::db::{Access, Backend, Db, OnConflict, Pulled, Row, Value, in_list};
use crate::error::{Error, Result};
use crate::images::image_ref::{self, ImageRef};
use crate::migrate::copy::{BatchHook, ColumnRule};
use crate::migrate::{self, Severity, Sink};
use crate::reason::Reason;

/// Joins and extra columns a table's rules read.
pub fn source_joins(source: &str) -> (&'static str, &'static [&'static str]) {
    match source {
        // 064: the action's instance uuid.
        "instance_actions" => ("LEFT JOIN instances i ON i.id = t.instance_id", &["i.uuid AS instance_uuid"]),
        _ => ("", &[]),
    }
}

pub fn batch_hook(source: &str) -> Option<BatchHook<'static, Ctx>> {
    match source {
        "instances" | "virtual_storage_arrays" => Some(&load_batch_images),
        "block_device_mapping" => Some(&load_batch_volumes),
        _ => None,
    }
}

/// The Diablo tables some data migration changes; every other table is copied as it is.
const RULED: &[&str] = &[
    "instance_types",
    "instances",
    "zones",
    "compute_nodes",
    "networks",
    "floating_ips",
    "instance_actions",
    "block_device_mapping",
    "virtual_storage_arrays",
];

pub fn has_rules(source: &str) -> bool {
    RULED.contains(&source)
}

/// How a migration computes a target column of a copied table, if one does.
pub fn column_rule(source: &'static str, col: &str) -> Option<ColumnRule<'static, Ctx>> {
    if !has_rules(source) {
        return None;
    }
    Some(match (source, col) {
        ("instance_types", "flavorid") => Box::new(|_, _, r| match r.get("flavorid") {
            Value::Bytes(_) => Err(Error::bad_data("instance_types", r.id(), "flavorid", "not valid UTF-8 text")),
            v => Ok(flavorid_055(v)),
        }),
        ("instance_types", "rxtx_factor") => Box::new(|s, ctx, r| {
            let cap = r.get("rxtx_cap");
            if !cap.is_null() && cap.as_i64().is_none() {
                let shown = match cap {
                    Value::Float(f) => f.to_string(),
                    v => v.key_string().unwrap_or_default(),
                };
                s.report.note(
                    Severity::Warning,
                    "instance_types",
                    Reason::NotAnInteger,
                    "instance_types.rxtx_cap holds text or a fraction, not an integer: rxtx_factor 1, as for a flavor without a cap (059)",
                    format!("id={} rxtx_cap=`{shown}`", r.id()),
                );
            }
            Ok(Value::Float(rxtx_factor_059(cap.as_i64(), ctx.rxtx_base)))
        }),
        ("instance_types", "root_gb") => Box::new(|_, ctx, r| Ok(disks_074(ctx, r, r.get("name").as_str() == Some("m1.tiny")).0)),
        ("instance_types", "ephemeral_gb") => Box::new(|_, ctx, r| Ok(disks_074(ctx, r, r.get("name").as_str() == Some("m1.tiny")).1)),
        ("networks", "rxtx_base") => Box::new(|_, ctx, _| Ok(Value::Int(ctx.rxtx_base))),
        ("instances", "root_gb") => Box::new(|_, ctx, r| Ok(disks_074(ctx, r, is_tiny_instance(ctx, r)).0)),
        ("instances", "ephemeral_gb") => Box::new(|_, ctx, r| Ok(disks_074(ctx, r, is_tiny_instance(ctx, r)).1)),
        ("instances", "default_ephemeral_device") => Box::new(|_, _, r| Ok(r.get("default_local_device").clone())),
        ("instances", "shutdown_terminate") => Box::new(|_, _, _| Ok(Value::Int(1))), // 068 populate_default
        ("instances", "disable_terminate") => Box::new(|_, _, _| Ok(Value::Int(0))),  // 068 populate_default
        ("instances", "image_ref" | "kernel_id" | "ramdisk_id") | ("virtual_storage_arrays", "image_ref") => {
            let col = col.to_string();
            Box::new(move |s, ctx, r| image_reference(s, ctx, source, r, &col))
        }
        ("instance_actions", "instance_uuid") => Box::new(|s, _, r| Ok(instance_uuid_064(s, r))),
        ("floating_ips", "pool") => Box::new(|_, ctx, _| Ok(ctx.settings.default_floating_pool.value.clone().into())), // 067
        ("floating_ips", "interface") => Box::new(|_, ctx, _| Ok(ctx.settings.public_interface.value.clone().into())), // 067
        ("compute_nodes", "disk_available_least") => Box::new(|_, _, _| Ok(Value::Int(0))), // 069 populate_default
        ("zones", "is_parent") => Box::new(|_, _, _| Ok(Value::Int(0))),                    // 078 populate_default
        ("block_device_mapping", "connection_info") => Box::new(|s, ctx, r| Ok(connection_info_053(s, ctx, r))),
        _ => return None,
    })
}

/// What became of a Diablo column Essex no longer has (`None`: dropped with its values).
pub fn carried_as(source: &str, column: &str) -> Option<&'static str> {
    match (source, column) {
        ("instance_types" | "instances", "local_gb") => Some("its value sized root_gb and ephemeral_gb (074)"),
        ("instances", "default_local_device") => Some("renamed default_ephemeral_device (074), values kept"),
        ("instance_types", "rxtx_cap") => Some("its value set rxtx_factor and networks.rxtx_base (059)"),
        ("instance_actions", "instance_id") => Some("replaced by instance_uuid, the instance's uuid (064)"),
        _ => None,
    }
}

/// 055: the integer flavor id becomes its decimal text (`str()` upstream; a REAL SQLite kept is
/// written as the number it is, `1.5`, a whole one as its integer).
pub fn flavorid_055(v: &Value) -> Value {
    match v {
        Value::Float(f) if f.fract() != 0.0 => Value::Text(f.to_string()),
        v => v.key_string().map_or(Value::Null, Value::Text),
    }
}

/// 059: the base every flavor's cap is divided by: the smallest positive cap, 1 when there is none
/// or it is not above 1. A cap that is text or a fraction counts as none, here as for its own
/// flavor (a fraction below the others would otherwise be the base of them all).
pub fn rxtx_base(source: &mut Db) -> Result<i64> {
    let caps = source.query("SELECT rxtx_cap FROM instance_types WHERE rxtx_cap IS NOT NULL", &[])?;
    Ok(rxtx_base_059(caps.iter().filter_map(|r| r.get("rxtx_cap").as_i64()).filter(|c| *c > 0).min()))
}

pub fn rxtx_base_059(min_positive_cap: Option<i64>) -> i64 {
    match min_positive_cap {
        Some(m) if m > 1 => m,
        _ => 1,
    }
}

/// 059 (the Python path, with real division on every backend): 1 unless the flavor has a cap.
pub fn rxtx_factor_059(cap: Option<i64>, base: i64) -> f64 {
    match cap {
        Some(c) if c > 0 => c as f64 / base as f64,
        _ => 1.0,
    }
}

fn is_tiny_instance(ctx: &Ctx, r: &Row) -> bool {
    ctx.tiny_type_id.is_some() && r.get("instance_type_id").as_i64() == ctx.tiny_type_id
}

/// 074 (the Python path on every backend): libvirt gets a 10 GB root disk (none for m1.tiny) and
/// the old local disk as ephemeral; other drivers keep the local disk as root.
pub fn disks_074(ctx: &Ctx, r: &Row, tiny: bool) -> (Value, Value) {
    let libvirt = ctx.settings.connection_type.value.as_deref() == Some("libvirt");
    disks_for(libvirt, r.get("local_gb"), tiny)
}

pub fn disks_for(libvirt: bool, local_gb: &Value, tiny: bool) -> (Value, Value) {
    if libvirt { (Value::Int(if tiny { 0 } else { 10 }), local_gb.clone()) } else { (local_gb.clone(), Value::Int(0)) }
}

/// 064: the uuid of the instance an action belongs to (joined); orphans get NULL, as upstream.
fn instance_uuid_064(s: &mut Sink, r: &Row) -> Value {
    let v = r.get("instance_uuid").clone();
    if v.is_null() {
        s.report.note(
            Severity::Warning,
            "instance_actions",
            Reason::OrphanInstanceAction,
            "the action names an instance that does not exist (or has no uuid): instance_uuid is NULL",
            format!("id={} instance_id={}", r.id(), r.get("instance_id").key_string().unwrap_or_else(|| "NULL".into())),
        );
    }
    v
}

/// 053 leaves `connection_info` NULL, and Essex 2012.1 parses it on every reboot, terminate and
/// detach: a live volume mapping gets what Essex's volume driver would have stored at attach time
/// (`connection_info`), or is reported with the fix.
fn connection_info_053(s: &mut Sink, ctx: &Ctx, r: &Row) -> Value {
    let Some(volume_id) = r.get("volume_id").as_i64() else { return Value::Null };
    if r.get("deleted").as_bool() == Some(true) {
        return Value::Null;
    }
    let bdm = r.get("id").as_i64().unwrap_or_default();
    let who = format!("id={bdm} instance_id={} volume_id={volume_id}", r.get("instance_id").key_string().unwrap_or_default());
    match connection_info::build(&ctx.volumes, ctx.batch_volumes.get(&volume_id)) {
        Ok((info, how)) => {
            let row = format!("{who}: {}", connection_info::summary(&info));
            s.report.note(Severity::Info, "block_device_mapping", Reason::BdmConnectionInfoRebuilt, how.message(), row);
            Value::Text(info.to_string())
        }
        Err(reason) => {
            let row = format!("{who}: fix: {}", reason.fix(bdm, volume_id));
            s.report.note(Severity::Warning, "block_device_mapping", Reason::BdmWithoutConnectionInfo, &reason.message(&ctx.volumes), row);
            Value::Null
        }
    }
}

/// Live volume mappings of volumes Essex finds by discovery: their hosts.
pub fn discovery_hosts(source: &mut Db, cfg: &connection_info::Config) -> Result<BTreeSet<String>> {
    if cfg.driver != (connection_info::Driver::Iscsi { discovery: true }) {
        return Ok(BTreeSet::new());
    }
    let sql = "SELECT DISTINCT v.host, b.deleted AS bdm_deleted, v.deleted FROM block_device_mapping b \
               JOIN volumes v ON v.id = b.volume_id JOIN iscsi_targets t ON t.volume_id = v.id \
               WHERE v.host IS NOT NULL AND (v.provider_location IS NULL OR v.provider_location = '')";
    let mut hosts = BTreeSet::new();
    for r in source.query(sql, &[])? {
        if r.get("bdm_deleted").as_bool() != Some(true) && r.get("deleted").as_bool() == Some(false) {
            hosts.extend(r.text("volumes", "host")?);
        }
    }
    Ok(hosts)
}

/// Looks up the volumes (and whether an iSCSI target names them) of the batch's mappings.
fn load_batch_volumes(_: &mut Sink, ctx: &mut Ctx, batch: &[Row]) -> Result<()> {
    let mut ids: Vec<i64> = batch.iter().filter_map(|r| r.get("volume_id").as_i64()).collect();
    ids.sort_unstable();
    ids.dedup();
    ctx.batch_volumes.clear();
    for chunk in ids.chunks(5000) {
        let (marks, params) = in_list(chunk);
        // One pass over iscsi_targets per batch (Diablo has no index on its volume_id).
        let targets: HashSet<i64> = ctx
            .lookup
            .query(&format!("SELECT DISTINCT volume_id FROM iscsi_targets WHERE volume_id IN ({marks})"), &params)?
            .iter()
            .filter_map(|t| t.get("volume_id").as_i64())
            .collect();
        let sql = format!("SELECT id, host, provider_location, provider_auth, deleted FROM volumes WHERE id IN ({marks})");
        for v in ctx.lookup.query(&sql, &params)? {
            let volume = connection_info::Volume {
                id: v.get("id").as_i64().unwrap_or_default(),
                host: v.text("volumes", "host")?,
                provider_location: v.text("volumes", "provider_location")?,
                provider_auth: v.text("volumes", "provider_auth")?,
                deleted: v.get("deleted").as_bool() != Some(false),
                has_iscsi_target: v.get("id").as_i64().is_some_and(|id| targets.contains(&id)),
            };
            ctx.batch_volumes.insert(volume.id, volume);
        }
    }
    Ok(())
}

/// Old image ids → UUIDs, from the target's seeded `s3_images`.
#[derive(Default)]
pub enum ImageUuids {
    /// Not read yet.
    #[default]
    Unread,
    /// All of them, read once: no query per batch (at most [`HELD_IMAGES`]).
    All(HashMap<i64, String>),
    /// Too many to hold: those the current batch references.
    Batch(HashMap<i64, String>),
}

/// The most image UUIDs held in memory (~10 MB): clouds of the time had far fewer images than
/// instances; beyond this, each batch looks up its own and memory stays flat. Tests lower it
/// with `OSMIGRATE_HELD_IMAGES` to take the other way.
const HELD_IMAGES: i64 = 100_000;

impl ImageUuids {
    fn get(&self, id: i64) -> Option<&String> {
        match self {
            ImageUuids::All(m) | ImageUuids::Batch(m) => m.get(&id),
            ImageUuids::Unread => None,
        }
    }
}

/// Reads the image UUIDs the batch references: all of `s3_images` at the first batch when it
/// is small enough to hold (one query, and SQLite's writer is never stopped for a lookup
/// again), else each batch's own.
fn load_batch_images(s: &mut Sink, ctx: &mut Ctx, batch: &[Row]) -> Result<()> {
    if let ImageUuids::Unread = ctx.images {
        let held = s.target.query_scalar("SELECT COUNT(*) FROM s3_images", &[])?.as_i64().unwrap_or(0);
        let most = std::env::var("OSMIGRATE_HELD_IMAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(HELD_IMAGES);
        ctx.images = if held <= most {
            ImageUuids::All(uuids_of(s.target.query("SELECT id, uuid FROM s3_images", &[])?))
        } else {
            ImageUuids::Batch(HashMap::new())
        };
    }
    let ImageUuids::Batch(uuids) = &mut ctx.images else { return Ok(()) };
    let mut ids: Vec<i64> = Vec::new();
    for r in batch {
        for col in ["image_ref", "kernel_id", "ramdisk_id"] {
            if let Some(ImageRef::Legacy { id, .. }) = r.get(col).as_str().map(image_ref::parse) {
                ids.push(id);
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    uuids.clear();
    // On a connection of its own, so that the writer thread the main one lends goes on (a query
    // there waits for it); not on SQLite, which cannot read a file another connection is writing.
    let target = match (&mut ctx.target_lookup, s.target.backend()) {
        (Some(db), _) => db,
        (None, Backend::Postgres | Backend::Mysql) => ctx.target_lookup.insert(Db::connect(s.target.url(), Access::ReadOnly)?),
        (None, _) => &mut s.target,
    };
    for chunk in ids.chunks(5000) {
        let (marks, params) = in_list(chunk);
        uuids.extend(uuids_of(target.query(&format!("SELECT id, uuid FROM s3_images WHERE id IN ({marks})"), &params)?));
    }
    Ok(())
}

fn uuids_of(rows: Vec<Row>) -> HashMap<i64, String> {
    rows.into_iter().filter_map(|row| Some((row.get("id").as_i64()?, row.get("uuid").key_string()?))).collect()
}

/// An image reference through the map: bare ids and hrefs alike, empty stays empty, unknown
/// images kept and reported per row.
fn image_reference(s: &mut Sink, ctx: &Ctx, source: &str, r: &Row, col: &str) -> Result<Value> {
    let Some(value) = r.text(source, col)? else { return Ok(Value::Null) };
    let who = || {
        let uuid = r.get("uuid").key_string().map(|u| format!(" uuid={u}")).unwrap_or_default();
        format!("id={}{uuid} {col}={value}", r.id())
    };
    Ok(match image_ref::parse(&value) {
        ImageRef::Empty | ImageRef::Uuid => Value::Text(value.clone()),
        ImageRef::Legacy { id, prefix, suffix } => {
            if let Some(uuid) = ctx.images.get(id) {
                s.report.note_many(
                    Severity::Info,
                    source,
                    Reason::ImageRefRewritten,
                    "image reference rewritten to the image's new UUID",
                    1,
                    None,
                );
                Value::Text(image_ref::rewrite(prefix, uuid, suffix))
            } else {
                s.report.note(
                    Severity::Warning,
                    source,
                    Reason::ImageRefNotInMap,
                    "the referenced image is not in the Glance map (it does not exist there); the reference is kept as it was",
                    who(),
                );
                Value::Text(value.clone())
            }
        }
        ImageRef::Unknown => {
            s.report.note(Severity::Warning, source, Reason::ImageRefUnknown, "not an image id, href or UUID; kept as it was", who());
            Value::Text(value.clone())
        }
    })
}

/// The vifs of every instance with their networks, in instance and vif id order (066).
const VIFS_SQL: &str = "SELECT v.instance_id, v.id, v.uuid, v.address, n.id, n.uuid, n.label, n.bridge, n.cidr, n.cidr_v6, \
     n.gateway, n.gateway_v6, n.dns1, n.dns2, n.project_id, n.injected, n.multi_host, n.vlan, n.bridge_interface \
     FROM virtual_interfaces v LEFT JOIN networks n ON n.id = v.network_id \
     WHERE v.instance_id IS NOT NULL ORDER BY v.instance_id, v.id";

/// The fixed ips of those vifs with their floating ips, in the same order, then fixed and
/// floating id order (066). Driven by fixed_ips, which finds each vif by its primary key.
const IPS_SQL: &str = "SELECT v.instance_id, f.virtual_interface_id, f.id, f.address, fl.address \
     FROM fixed_ips f JOIN virtual_interfaces v ON v.id = f.virtual_interface_id \
     LEFT JOIN floating_ips fl ON fl.fixed_ip_id = f.id \
     WHERE v.instance_id IS NOT NULL ORDER BY v.instance_id, f.virtual_interface_id, f.id, fl.id";

/// 066: one `instance_info_caches` row per instance (deleted ones too), its network_info built
/// from vifs, networks, fixed and floating ips: three streams sorted by instance id (instances
/// here, the other two each on a connection and thread of its own), merged as they go.
pub fn info_caches(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let now = Value::DateTime(migrate::now()?);
    let ipv6 = ctx.settings.ipv6_backend.value.as_deref().and_then(Ipv6Backend::parse).ok_or_else(|| {
        Error::Usage(format!(
            "ipv6_backend `{}` is neither rfc2462 nor account_identifier",
            ctx.settings.ipv6_backend.value.clone().unwrap_or_default()
        ))
    })?;
    let batch_size = s.batch_size;
    let (mut vif_db, mut ip_db) = (migrate::open_source(src.url())?, migrate::open_source(src.url())?);
    vif_db.pull(VIFS_SQL, batch_size, |vif_rows| {
        ip_db.pull(IPS_SQL, batch_size, |ip_rows| {
            src.stream("SELECT id, uuid FROM instances ORDER BY id", &[], batch_size, |batch| {
                s.report.read("instances (066)", batch.len() as u64);
                let mut out = Vec::with_capacity(batch.len());
                for r in batch {
                    let id = r.get("id").as_i64().ok_or_else(|| Error::bad_data("instances", r.id(), "id", "not an integer"))?;
                    // Taken for every instance, so that the streams stay in step.
                    let vifs = vifs_of(id, vif_rows, ip_rows)?;
                    let Some(uuid) = r.get("uuid").key_string() else {
                        s.report.skip(
                            "instances (066)",
                            Reason::InstanceWithoutUuid,
                            "the instance has no uuid, so Essex cannot key its network cache",
                            format!("id={id}"),
                        );
                        continue;
                    };
                    for vif in vifs.iter().filter(|v| v.network.is_none()) {
                        s.report.note(
                            Severity::Warning,
                            "instances (066)",
                            Reason::VifWithoutNetwork,
                            "the vif's network row does not exist: cached with `network: null`, without its addresses",
                            format!("id={id} uuid={uuid} vif {} ({} fixed ips)", vif.uuid.as_deref().unwrap_or("?"), vif.fixed_ips.len()),
                        );
                    }
                    let info = match network_info::network_info(&vifs, ipv6) {
                        Ok(info) => info,
                        Err(why) => {
                            s.report.note(
                                Severity::Warning,
                                "instances (066)",
                                Reason::NetworkInfoIncomplete,
                                "no IPv6 address could be computed; cached without the vifs",
                                format!("id={id} uuid={uuid}: {why}"),
                            );
                            "[]".to_string()
                        }
                    };
                    out.push(vec![info.into(), uuid.into(), now.clone(), now.clone(), Value::Int(0)]);
                }
                s.write(
                    "instances (066)",
                    "instance_info_caches",
                    &["network_info", "instance_id", "created_at", "updated_at", "deleted"],
                    &out,
                    OnConflict::Fail,
                )
            })
        })
    })
}

/// The first column of a merged stream's row: the instance id it belongs to.
fn instance_of(r: &Row) -> i64 {
    r.values()[0].as_i64().unwrap_or(i64::MIN)
}

/// Takes the rows of instance `id` from both streams (and passes over those of instances that
/// do not exist), and builds its vifs.
fn vifs_of(id: i64, vif_rows: &mut Pulled, ip_rows: &mut Pulled) -> Result<Vec<Vif>> {
    let mut vifs: Vec<(i64, Vif)> = Vec::new();
    while let Some(r) = vif_rows.next_if(|r| instance_of(r) <= id)? {
        if instance_of(&r) == id {
            vifs.push(vif(r));
        }
    }
    let mut last_fixed: Option<i64> = None;
    while let Some(r) = ip_rows.next_if(|r| instance_of(r) <= id)? {
        let Ok([instance, vif_id, fixed_id, address, floating]) = <[Value; 5]>::try_from(r.into_values()) else {
            unreachable!("IPS_SQL selects five columns")
        };
        if instance.as_i64() != Some(id) {
            continue;
        }
        let Some((_, vif)) = vifs.iter_mut().find(|(v, _)| Some(*v) == vif_id.as_i64()) else { continue };
        // One row per floating ip (or one without): a fixed ip's rows are consecutive.
        let fixed_id = fixed_id.as_i64();
        if last_fixed != fixed_id || vif.fixed_ips.is_empty() {
            vif.fixed_ips.push(FixedIp { address: address.into_key_string().unwrap_or_default(), floating: Vec::new() });
            last_fixed = fixed_id;
        }
        if let Some(floating) = floating.into_key_string() {
            vif.fixed_ips.last_mut().expect("pushed above").floating.push(floating);
        }
    }
    Ok(vifs.into_iter().map(|(_, v)| v).collect())
}

/// A row of [`VIFS_SQL`]: the vif's id and the vif with its network (none when the network row
/// is missing).
fn vif(r: Row) -> (i64, Vif) {
    let Ok(
        [
            _,
            id,
            uuid,
            address,
            network_id,
            network_uuid,
            label,
            bridge,
            cidr,
            cidr_v6,
            gateway,
            gateway_v6,
            dns1,
            dns2,
            project_id,
            injected,
            multi_host,
            vlan,
            bridge_interface,
        ],
    ) = <[Value; 19]>::try_from(r.into_values())
    else {
        unreachable!("VIFS_SQL selects nineteen columns")
    };
    let network = (!network_id.is_null()).then(|| Network {
        uuid: network_uuid.into_key_string(),
        label: label.into_key_string(),
        bridge: bridge.into_key_string(),
        cidr: cidr.into_key_string(),
        cidr_v6: cidr_v6.into_key_string(),
        gateway: gateway.into_key_string(),
        gateway_v6: gateway_v6.into_key_string(),
        dns1: dns1.into_key_string(),
        dns2: dns2.into_key_string(),
        project_id: project_id.into_key_string(),
        injected: injected.as_bool().unwrap_or(false),
        multi_host: multi_host.as_bool().unwrap_or(false),
        vlan: vlan.as_i64(),
        bridge_interface: bridge_interface.into_key_string(),
    });
    let vif = Vif { uuid: uuid.into_key_string(), address: address.into_key_string(), network, fixed_ips: Vec::new() };
    (id.as_i64().unwrap_or_default(), vif)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavorid_055_is_decimal_text() {
        assert_eq!(flavorid_055(&Value::Int(7)), Value::Text("7".into()));
        assert_eq!(flavorid_055(&Value::Int(-1)), Value::Text("-1".into()));
        assert_eq!(flavorid_055(&Value::Float(2.0)), Value::Text("2".into()));
        assert_eq!(flavorid_055(&Value::Float(1.5)), Value::Text("1.5".into()));
        assert_eq!(flavorid_055(&Value::Null), Value::Null);
    }

    #[test]
    fn rxtx_059_uses_real_division() {
        assert_eq!(rxtx_base_059(None), 1);
        assert_eq!(rxtx_base_059(Some(1)), 1);
        assert_eq!(rxtx_base_059(Some(100)), 100);
        assert_eq!(rxtx_factor_059(Some(0), 100), 1.0);
        assert_eq!(rxtx_factor_059(None, 100), 1.0);
        assert_eq!(rxtx_factor_059(Some(150), 100), 1.5);
    }

    #[test]
    fn disks_074_by_driver() {
        let local = Value::Int(20);
        assert_eq!(disks_for(true, &local, false), (Value::Int(10), Value::Int(20)));
        assert_eq!(disks_for(true, &local, true), (Value::Int(0), Value::Int(20)));
        assert_eq!(disks_for(false, &local, true), (Value::Int(20), Value::Int(0)));
    }
}
