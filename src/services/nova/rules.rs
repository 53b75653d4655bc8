//! The data migrations 047–082 as rules on copied rows: one small function per migration, and
//! the table of which column of which table each one fills.

use std::collections::{BTreeMap, HashMap};

use super::Ctx;
use super::image_ref::{self, ImageRef};
use super::network_info::{self, FixedIp, Ipv6Backend, Network, Vif};
use crate::db::{Db, OnConflict, Row, Value};
use crate::error::{Error, Result};
use crate::migrate::copy::{BatchHook, ColumnRule};
use crate::migrate::{self, Severity, Sink};

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
        ("instance_types", "flavorid") => Box::new(|_, _, r| Ok(flavorid_055(r.get("flavorid")))),
        ("instance_types", "rxtx_factor") => {
            Box::new(|_, ctx, r| Ok(Value::Float(rxtx_factor_059(r.get("rxtx_cap").as_i64(), ctx.rxtx_base))))
        }
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
        ("block_device_mapping", "connection_info") => Box::new(|s, _, r| {
            attached_volume_without_connection_info(s, r);
            Ok(Value::Null)
        }),
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

/// 055: the integer flavor id becomes its decimal text.
pub fn flavorid_055(v: &Value) -> Value {
    v.key_string().map_or(Value::Null, Value::Text)
}

/// 059: the base every flavor's cap is divided by: the smallest positive cap, 1 when there is none
/// or it is not above 1.
pub fn rxtx_base(source: &mut Db) -> Result<i64> {
    let min = source.query_scalar("SELECT MIN(rxtx_cap) FROM instance_types WHERE rxtx_cap > 0", &[])?.as_i64();
    Ok(rxtx_base_059(min))
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
            "orphan_instance_action",
            "the action names an instance that does not exist (or has no uuid): instance_uuid is NULL",
            format!("id={} instance_id={}", r.id(), r.get("instance_id").key_string().unwrap_or_else(|| "NULL".into())),
        );
    }
    v
}

/// Essex 2012.1 parses `connection_info` of every volume mapping as JSON; Diablo left none.
fn attached_volume_without_connection_info(s: &mut Sink, r: &Row) {
    if !r.get("volume_id").is_null() && r.get("deleted").as_bool() != Some(true) {
        s.report.note(
            Severity::Warning,
            "block_device_mapping",
            "bdm_without_connection_info",
            "a volume attached under Diablo has no connection_info (migration 053 leaves it NULL); Essex 2012.1 fails to reboot, \
             terminate or detach it until the volume is detached and attached again",
            format!(
                "id={} instance_id={} volume_id={}",
                r.id(),
                r.get("instance_id").key_string().unwrap_or_default(),
                r.get("volume_id").key_string().unwrap_or_default()
            ),
        );
    }
}

/// Looks up, in the target's seeded `s3_images`, every old image id the batch references.
fn load_batch_images(s: &mut Sink, ctx: &mut Ctx, batch: &[Row]) -> Result<()> {
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
    ctx.batch_images.clear();
    for chunk in ids.chunks(5000) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let params: Vec<Value> = chunk.iter().map(|i| Value::Int(*i)).collect();
        for row in s.target.query(&format!("SELECT id, uuid FROM s3_images WHERE id IN ({marks})"), &params)? {
            if let (Some(id), Some(uuid)) = (row.get("id").as_i64(), row.get("uuid").key_string()) {
                ctx.batch_images.insert(id, uuid);
            }
        }
    }
    Ok(())
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
            if let Some(uuid) = ctx.batch_images.get(&id) {
                s.report.note_many(
                    Severity::Info,
                    source,
                    "image_ref_rewritten",
                    "image reference rewritten to the image's new UUID",
                    1,
                    None,
                );
                Value::Text(image_ref::rewrite(prefix, uuid, suffix))
            } else {
                s.report.note(
                    Severity::Warning,
                    source,
                    "image_ref_not_in_map",
                    "the referenced image is not in the Glance map (it does not exist there); the reference is kept as it was",
                    who(),
                );
                Value::Text(value.clone())
            }
        }
        ImageRef::Unknown => {
            s.report.note(Severity::Warning, source, "image_ref_unknown", "not an image id, href or UUID; kept as it was", who());
            Value::Text(value.clone())
        }
    })
}

fn text(r: &Row, col: &str) -> Option<String> {
    r.get(col).key_string()
}

/// 066: one `instance_info_caches` row per instance (deleted ones too), its network_info built
/// from vifs, networks, fixed and floating ips looked up per batch of instances.
pub fn info_caches(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let now = Value::DateTime(migrate::now()?);
    let ipv6 = ctx.settings.ipv6_backend.value.as_deref().and_then(Ipv6Backend::parse).ok_or_else(|| {
        Error::Usage(format!(
            "ipv6_backend `{}` is neither rfc2462 nor account_identifier",
            ctx.settings.ipv6_backend.value.clone().unwrap_or_default()
        ))
    })?;
    let batch_size = s.batch_size;
    src.stream("SELECT id, uuid FROM instances ORDER BY id", &[], batch_size, |batch| {
        s.report.read("instances (066)", batch.len() as u64);
        let ids: Vec<i64> = batch.iter().filter_map(|r| r.get("id").as_i64()).collect();
        let mut vifs = vifs_of(&mut ctx.lookup, &ids)?;
        let mut out = Vec::with_capacity(batch.len());
        for r in &batch {
            let Some(uuid) = text(r, "uuid") else {
                s.report.skip(
                    "instances (066)",
                    "instance_without_uuid",
                    "the instance has no uuid, so Essex cannot key its network cache",
                    format!("id={}", r.id()),
                );
                continue;
            };
            let id = r.get("id").as_i64().unwrap_or_default();
            let instance_vifs = vifs.remove(&id).unwrap_or_default();
            let info = match network_info::network_info(&instance_vifs, ipv6) {
                Ok(info) => info,
                Err(why) => {
                    s.report.note(
                        Severity::Warning,
                        "instances (066)",
                        "network_info_incomplete",
                        "no IPv6 address could be computed; cached without the vifs",
                        format!("id={id} uuid={uuid}: {why}"),
                    );
                    serde_json::json!([])
                }
            };
            out.push(vec![info.to_string().into(), uuid.into(), now.clone(), now.clone(), Value::Int(0)]);
        }
        s.write(
            "instances (066)",
            "instance_info_caches",
            &["network_info", "instance_id", "created_at", "updated_at", "deleted"],
            &out,
            OnConflict::Fail,
        )
    })
}

fn in_list(ids: &[i64]) -> (String, Vec<Value>) {
    (vec!["?"; ids.len()].join(", "), ids.iter().map(|i| Value::Int(*i)).collect())
}

/// The vifs of the given instances (in vif id order) with their networks, fixed and floating ips.
fn vifs_of(db: &mut Db, instance_ids: &[i64]) -> Result<HashMap<i64, Vec<Vif>>> {
    let mut out: HashMap<i64, Vec<Vif>> = HashMap::new();
    if instance_ids.is_empty() {
        return Ok(out);
    }
    let (marks, params) = in_list(instance_ids);
    let vif_rows = db.query(
        &format!("SELECT id, uuid, address, network_id, instance_id FROM virtual_interfaces WHERE instance_id IN ({marks}) ORDER BY id"),
        &params,
    )?;
    let vif_ids: Vec<i64> = vif_rows.iter().filter_map(|r| r.get("id").as_i64()).collect();
    let mut network_ids: Vec<i64> = vif_rows.iter().filter_map(|r| r.get("network_id").as_i64()).collect();
    network_ids.sort_unstable();
    network_ids.dedup();
    let mut networks: HashMap<i64, Network> = HashMap::new();
    if !network_ids.is_empty() {
        let (marks, params) = in_list(&network_ids);
        for n in db.query(&format!("SELECT * FROM networks WHERE id IN ({marks})"), &params)? {
            networks.insert(
                n.get("id").as_i64().unwrap_or_default(),
                Network {
                    uuid: text(&n, "uuid"),
                    label: text(&n, "label"),
                    bridge: text(&n, "bridge"),
                    cidr: text(&n, "cidr"),
                    cidr_v6: text(&n, "cidr_v6"),
                    gateway: text(&n, "gateway"),
                    gateway_v6: text(&n, "gateway_v6"),
                    dns1: text(&n, "dns1"),
                    dns2: text(&n, "dns2"),
                    project_id: text(&n, "project_id"),
                    injected: n.get("injected").as_bool().unwrap_or(false),
                    multi_host: n.get("multi_host").as_bool().unwrap_or(false),
                    vlan: n.get("vlan").as_i64(),
                    bridge_interface: text(&n, "bridge_interface"),
                },
            );
        }
    }
    // Fixed ips per vif, floating ips per fixed ip (both in id order).
    let mut fixed: BTreeMap<i64, Vec<(i64, FixedIp)>> = BTreeMap::new();
    if !vif_ids.is_empty() {
        let (marks, params) = in_list(&vif_ids);
        let fixed_rows = db.query(
            &format!("SELECT id, address, virtual_interface_id FROM fixed_ips WHERE virtual_interface_id IN ({marks}) ORDER BY id"),
            &params,
        )?;
        let fixed_ids: Vec<i64> = fixed_rows.iter().filter_map(|r| r.get("id").as_i64()).collect();
        let mut floating: HashMap<i64, Vec<String>> = HashMap::new();
        if !fixed_ids.is_empty() {
            let (marks, params) = in_list(&fixed_ids);
            for f in
                db.query(&format!("SELECT address, fixed_ip_id FROM floating_ips WHERE fixed_ip_id IN ({marks}) ORDER BY id"), &params)?
            {
                if let (Some(fid), Some(addr)) = (f.get("fixed_ip_id").as_i64(), text(&f, "address")) {
                    floating.entry(fid).or_default().push(addr);
                }
            }
        }
        for f in fixed_rows {
            let (Some(id), Some(vif)) = (f.get("id").as_i64(), f.get("virtual_interface_id").as_i64()) else { continue };
            let ip = FixedIp { address: text(&f, "address").unwrap_or_default(), floating: floating.remove(&id).unwrap_or_default() };
            fixed.entry(vif).or_default().push((id, ip));
        }
    }
    for v in vif_rows {
        let id = v.get("id").as_i64().unwrap_or_default();
        let vif = Vif {
            uuid: text(&v, "uuid"),
            address: text(&v, "address"),
            network: v.get("network_id").as_i64().and_then(|n| networks.get(&n).cloned()),
            fixed_ips: fixed.remove(&id).unwrap_or_default().into_iter().map(|(_, ip)| ip).collect(),
        };
        out.entry(v.get("instance_id").as_i64().unwrap_or_default()).or_default().push(vif);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavorid_055_is_decimal_text() {
        assert_eq!(flavorid_055(&Value::Int(7)), Value::Text("7".into()));
        assert_eq!(flavorid_055(&Value::Int(-1)), Value::Text("-1".into()));
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
