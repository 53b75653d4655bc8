//! A Diablo Nova database (migration 046): the five flavors migration 008 seeds plus two custom
//! ones with an `rxtx_cap` (so 059's arithmetic has something to do), Nova's own auth tables,
//! IPv4 networks (one VLAN network with a project, VPN and IPv6, one multi-host) with every fixed
//! ip of each network, virtual interfaces, floating ips, instances in every state Diablo leaves
//! them in (deleted rows included) with image references in every form Nova stores, metadata,
//! security groups, volumes (attached, boot-from-volume, deleted; as Diablo's LVM iSCSI driver or
//! its HP SAN driver left them), snapshots, and one row or a few
//! of each of the small tables, `export_devices` among them (dropped by 052, so reported).
//!
//! Deterministic (no randomness: "random-looking" uuids and MACs are bijections of row numbers) and
//! streamed: rows are written in batches of `batch_size`, parents before children, and only a batch
//! (plus a counter per network) is ever held in memory.

use std::net::Ipv4Addr;

use chrono::{Duration, NaiveDateTime};

use crate::db::{Db, OnConflict, Value};
use crate::error::{Error, Result};
use crate::migrate;
use crate::schema::{self, Schema, Table};
use crate::services::nova::flavors::{self, Flavor, SEEDED};

/// A Glance image id that exists in no Glance database: an instance booted from an image since
/// deleted from the registry (rows and all).
pub const MISSING_IMAGE_REF: &str = "999999";
/// The Glance endpoint of the full-href image references.
pub const GLANCE_HREF_PREFIX: &str = "http://glance.example:9292/v1/images/";
/// The child zone's API URL (Diablo's `zones` table has no name column; `child1` is in the URL).
pub const CHILD_ZONE_API_URL: &str = "http://child1.example:8774/v1.1/";

#[derive(Debug, Clone)]
pub struct Shape {
    pub instances: usize,
    /// IPv4 networks, at least 2. Network 1 (the second) is the VLAN one, owned by project `demo`,
    /// with VPN settings and an IPv6 subnet; network 0 is multi-host.
    pub networks: usize,
    /// Fixed ips of each network: every address from its start, as `nova-manage network create`
    /// makes them (network address, gateway, VPN and broadcast reserved).
    pub fixed_ips_per_network: usize,
    pub floating_ips: usize,
    pub volumes: usize,
    pub metadata_per_instance: usize,
    /// Images in the companion Glance database: image references point at ids 1..=glance_images
    /// (laid out as the Glance generator lays them: a kernel, a ramdisk, eight machine images).
    pub glance_images: usize,
    pub volume_driver: VolumeDriver,
    pub now: NaiveDateTime,
    pub batch_size: usize,
}

/// The Diablo volume driver the volumes were made with, and so what their rows hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeDriver {
    /// `nova.volume.driver.ISCSIDriver` (LVM, Diablo's default): no provider_location or
    /// provider_auth (Diablo found the target by discovery at attach time), an `iscsi_targets` row
    /// per volume on the volume host.
    Iscsi,
    /// `nova.volume.san.HpSanISCSIDriver` (HP LeftHand): provider_location `VIP:3260,1 IQN` from
    /// create_volume and provider_auth `CHAP proj_PROJECT project_secret_PROJECT` from
    /// create_export; no `iscsi_targets`.
    HpSan,
}

impl VolumeDriver {
    /// The `volume_driver` flag naming it.
    pub fn class(self) -> &'static str {
        match self {
            VolumeDriver::Iscsi => "nova.volume.driver.ISCSIDriver",
            VolumeDriver::HpSan => "nova.volume.san.HpSanISCSIDriver",
        }
    }
}

impl Shape {
    pub fn demo() -> Self {
        Shape {
            instances: 12,
            networks: 3,
            fixed_ips_per_network: 32,
            floating_ips: 8,
            volumes: 4,
            metadata_per_instance: 2,
            glance_images: 30,
            volume_driver: VolumeDriver::Iscsi,
            now: chrono::Utc::now().naive_utc(),
            batch_size: 1000,
        }
    }

    /// Benchmark sizes: n=1 is 100k instances (3 metadata rows each), 16 networks of 65,536 fixed
    /// ips (1,048,576), 50k floating ips, 20k volumes, against a Glance of 1,000 images. Below 1,
    /// networks shrink too (at least three, the VLAN one among them, each a power of two).
    pub fn scale(n: f64) -> Self {
        Shape {
            instances: super::scaled(100_000, n),
            networks: super::scaled(16, n).max(3),
            fixed_ips_per_network: super::scaled(65_536, n.min(1.0)).next_power_of_two().max(256),
            floating_ips: super::scaled(50_000, n),
            volumes: super::scaled(20_000, n),
            metadata_per_instance: 3,
            glance_images: super::scaled(1_000, n),
            volume_driver: VolumeDriver::Iscsi,
            now: chrono::Utc::now().naive_utc(),
            batch_size: 5_000,
        }
    }
}

/// What was generated, for the caller to check against.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub instance_types: usize,
    /// Flavors with `rxtx_cap > 0`.
    pub rxtx_flavors: usize,
    pub users: usize,
    pub projects: usize,
    pub networks: usize,
    pub instances: usize,
    /// Instances with `deleted = 1` (included in `instances`).
    pub deleted_instances: usize,
    /// Instances of flavor m1.tiny (instance_type_id 2), deleted ones included.
    pub tiny_instances: usize,
    /// Instances with `image_ref` a bare integer id / a full href / `''` (boot from volume).
    pub image_ref_ids: usize,
    pub image_ref_hrefs: usize,
    pub image_ref_empty: usize,
    /// Non-empty references (instances' image_ref, kernel_id, ramdisk_id, and
    /// virtual_storage_arrays.image_ref) to ids outside 1..=glance_images.
    pub unknown_image_refs: usize,
    pub fixed_ips: usize,
    /// Fixed ips with an instance_id (allocated ones, and those of deleted instances still waiting
    /// for the disassociate timeout).
    pub fixed_ips_with_instance: usize,
    pub reserved_fixed_ips: usize,
    pub vifs: usize,
    pub floating_ips: usize,
    /// Floating ips with a fixed_ip_id.
    pub associated_floating_ips: usize,
    pub instance_metadata: usize,
    pub instance_actions: usize,
    pub security_groups: usize,
    pub security_group_rules: usize,
    pub security_group_instances: usize,
    pub key_pairs: usize,
    pub volumes: usize,
    pub attached_volumes: usize,
    pub volume_metadata: usize,
    pub block_device_mappings: usize,
    /// Instances booted from a volume (image_ref `''`, a root block device mapping).
    pub boot_from_volume: usize,
    pub snapshots: usize,
    pub iscsi_targets: usize,
    pub export_devices: usize,
    pub migrations: usize,
    pub services: usize,
    pub compute_nodes: usize,
}

// ----- fixed data -----

/// Two flavors made with nova-manage after 008's five (`flavors::SEEDED`, ids 1–5): rxtx_cap 100
/// and 50 (059's base is 50, factors 2 and 1).
const CUSTOM_FLAVORS: [Flavor; 2] = [(6, "x1.fastnet", 1024, 1, 10, 6, 512, 10_000, 100), (7, "x1.slownet", 3072, 2, 30, 7, 0, 5_000, 50)];
const TINY: i64 = 2;

/// `(id, name, is_admin)`.
const USERS: [(&str, &str, bool); 3] = [("admin", "admin", true), ("demo", "demo", false), ("user-0", "user-0", false)];
/// `(id, description, project_manager)`.
const PROJECTS: [(&str, &str, &str); 3] =
    [("admin", "Administration", "admin"), ("demo", "Demonstration project", "demo"), ("project-0", "Project 0", "user-0")];
/// Index of `demo` in PROJECTS: its instances live on the VLAN network.
const DEMO: usize = 1;
/// The VLAN / IPv6 network's index.
const VLAN_NET: usize = 1;
/// Security group `web` (in project demo); groups 1..=3 are the projects' `default`s.
const WEB_GROUP: i64 = 4;

const COMPUTE_HOSTS: [&str; 2] = ["compute1", "compute2"];
const NETWORK_HOST: &str = "network1";
const VOLUME_HOST: &str = "volume1";
/// The address the volume host's iSCSI target answers on (what its nova.conf's `iscsi_ip_prefix`
/// names as a whole address).
pub const VOLUME_HOST_ADDRESS: &str = "192.168.0.20";
/// The HP LeftHand cluster's virtual IP, the portal of its volumes.
const LEFTHAND_VIP: &str = "192.168.0.30";

const META_KEYS: [&str; 5] = ["role", "owner", "tier", "backup", "environment"];

/// What an instance's position in a cycle of twelve makes of it.
struct Slot {
    vm_state: &'static str,
    task_state: Option<&'static str>,
    power_state: i64,
    flavor: i64,
    launched: bool,
    /// Scheduled to a host (and given networks, unless deleted).
    host: bool,
    deleted: bool,
}

const SLOTS: [Slot; 12] = [
    Slot { vm_state: "active", task_state: None, power_state: 1, flavor: 5, launched: true, host: true, deleted: false },
    Slot { vm_state: "active", task_state: None, power_state: 1, flavor: 2, launched: true, host: true, deleted: false },
    Slot { vm_state: "stopped", task_state: None, power_state: 5, flavor: 1, launched: true, host: true, deleted: false },
    // Resized, waiting for confirmation (Diablo has no `resized` vm_state: active + resize_verify).
    Slot { vm_state: "active", task_state: Some("resize_verify"), power_state: 1, flavor: 5, launched: true, host: true, deleted: false },
    // No valid host: never scheduled, image gone from Glance.
    Slot { vm_state: "error", task_state: None, power_state: 0, flavor: 2, launched: false, host: false, deleted: false },
    Slot { vm_state: "building", task_state: Some("spawning"), power_state: 0, flavor: 6, launched: false, host: true, deleted: false },
    Slot { vm_state: "deleted", task_state: None, power_state: 0, flavor: 7, launched: true, host: true, deleted: true },
    // Boot from volume when its volume exists.
    Slot { vm_state: "active", task_state: None, power_state: 1, flavor: 3, launched: true, host: true, deleted: false },
    Slot { vm_state: "suspended", task_state: None, power_state: 7, flavor: 2, launched: true, host: true, deleted: false },
    Slot { vm_state: "paused", task_state: None, power_state: 3, flavor: 1, launched: true, host: true, deleted: false },
    Slot { vm_state: "active", task_state: Some("rebooting"), power_state: 1, flavor: 4, launched: true, host: true, deleted: false },
    // Deleted while building.
    Slot { vm_state: "deleted", task_state: None, power_state: 0, flavor: 2, launched: false, host: true, deleted: true },
];
const SLOT_RESIZED: usize = 3;
const SLOT_MISSING_IMAGE: usize = 4;
const SLOT_BFV: usize = 7;
const SLOT_HREF: usize = 9;
const SLOT_NO_KERNEL: usize = 10;
const SLOT_LINGERING_IP: usize = 6;

fn flavor(id: i64) -> &'static Flavor {
    SEEDED.iter().chain(&CUSTOM_FLAVORS).find(|f| f.0 == id).expect("a slot's flavor is one of the generated ones")
}

fn slot_of(i: i64) -> usize {
    ((i - 1) % 12) as usize
}

fn project_of(i: i64) -> usize {
    (i % 3) as usize
}

/// The user who owns an instance or volume of a project.
fn user_of(project: usize) -> &'static str {
    USERS[project].0
}

/// Instance `i` (slot 7) boots from volume `4k+1` where `k` is its number among slot-7 instances,
/// when that volume exists; a data volume `4k+3` is attached to instance `12k+1` (slot 0).
fn boot_volume_of(i: i64, volumes: i64) -> Option<i64> {
    let k = (i - 1 - SLOT_BFV as i64) / 12;
    (slot_of(i) == SLOT_BFV && 4 * k < volumes).then_some(4 * k + 1)
}

/// A version-4-looking UUID that is a bijection of `(kind, n)`: distinct rows never collide.
pub fn fake_uuid(kind: u64, n: u64) -> String {
    let a = splitmix64((kind << 48) ^ n);
    let b = splitmix64(a ^ 0xdead_beef);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        (a >> 4) & 0x0fff,
        0x8000 | ((a & 0xf) << 8) | (b & 0xff),
        b >> 16
    )
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const UUID_INSTANCE: u64 = 1;
const UUID_VIF: u64 = 2;
const UUID_NETWORK: u64 = 3;
const UUID_KEY: u64 = 4;

/// Xen/KVM-style locally administered MAC of vif `v`, unique for every `v` (a bijection of the
/// low 24 bits, the rest in the third octet).
pub fn vif_mac(v: u64) -> String {
    let low = (v & 0xff_ffff).wrapping_mul(0x9e_3779) & 0xff_ffff;
    let third = 0x3e + (v >> 24);
    format!("02:16:{:02x}:{:02x}:{:02x}:{:02x}", third & 0xff, low >> 16, (low >> 8) & 0xff, low & 0xff)
}

/// Network `n` (0-based): its cidr block of 2^host_bits addresses, at 10.0.n.0 for blocks of a
/// /24 or smaller, at n × block size above that.
struct Net {
    base: u32,
    host_bits: u32,
    ips_used: i64,
    /// First index handed to instances (network, gateway, and on the VLAN network the VPN
    /// address are reserved below it).
    first_free: i64,
}

impl Net {
    fn new(n: usize, per_net: usize) -> Net {
        let host_bits = (per_net.max(4) as u64).next_power_of_two().trailing_zeros().min(24);
        let stride = host_bits.max(8);
        let base = 0x0a00_0000u32.wrapping_add((n as u32).wrapping_shl(stride));
        Net { base, host_bits, ips_used: per_net as i64, first_free: if n == VLAN_NET { 3 } else { 2 } }
    }
    fn addr(&self, idx: i64) -> String {
        Ipv4Addr::from(self.base.wrapping_add(idx as u32)).to_string()
    }
    fn size(&self) -> i64 {
        1i64 << self.host_bits
    }
    fn cidr(&self) -> String {
        format!("{}/{}", self.addr(0), 32 - self.host_bits)
    }
    fn netmask(&self) -> String {
        Ipv4Addr::from(u32::MAX.checked_shl(self.host_bits).unwrap_or(0)).to_string()
    }
    fn reserved(&self, idx: i64) -> bool {
        idx < self.first_free || idx == self.size() - 1
    }
    /// One past the last index handed to instances.
    fn alloc_end(&self) -> i64 {
        self.ips_used.min(self.size() - 1)
    }
}

fn fixed_ip_id(net: usize, per_net: i64, idx: i64) -> i64 {
    net as i64 * per_net + idx + 1
}

fn floating_address(id: i64) -> String {
    Ipv4Addr::from(0xac10_0000u32.wrapping_add(id as u32)).to_string()
}

/// The machine image, kernel and ramdisk an instance boots, laid out as the Glance generator lays
/// images out (groups of ten: kernel, ramdisk, eight machine images).
fn image_of(i: i64, glance: i64) -> (i64, Option<(i64, i64)>) {
    let groups = if glance >= 3 { (glance - 3) / 10 + 1 } else { 0 };
    if groups == 0 {
        return (1, None);
    }
    let g = i % groups;
    let machines = (glance - (g * 10 + 2)).min(8);
    let m = (i / groups) % machines;
    (g * 10 + 3 + m, Some((g * 10 + 1, g * 10 + 2)))
}

// ----- batching -----

/// One table's pending rows.
struct Sink {
    table: Table,
    columns: &'static [&'static str],
    rows: Vec<Vec<Value>>,
    written: usize,
}

impl Sink {
    fn new(schema: &Schema, name: &str, columns: &'static [&'static str]) -> Sink {
        let table = schema.table(name).unwrap_or_else(|| panic!("diablo nova table {name}")).clone();
        Sink { table, columns, rows: Vec::new(), written: 0 }
    }
    fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len(), "row for {}", self.table.name);
        self.rows.push(row);
    }
    fn flush(&mut self, db: &mut Db) -> Result<()> {
        db.insert_rows(&self.table, self.columns, &self.rows, OnConflict::Fail)?;
        self.written += self.rows.len();
        self.rows.clear();
        Ok(())
    }
}

/// Flushes every sink, in order (parents first), when any holds a batch.
fn flush_if_full(db: &mut Db, sinks: &mut [&mut Sink], batch: usize) -> Result<()> {
    if sinks.iter().any(|s| s.rows.len() >= batch) {
        flush_all(db, sinks)?;
    }
    Ok(())
}

fn flush_all(db: &mut Db, sinks: &mut [&mut Sink]) -> Result<()> {
    for s in sinks.iter_mut() {
        s.flush(db)?;
    }
    Ok(())
}

/// The four columns every Nova table starts with, then the rest.
macro_rules! row {
    ($created:expr_2021, $updated:expr_2021, $deleted_at:expr_2021; $($v:expr_2021),* $(,)?) => {{
        let deleted_at: Option<NaiveDateTime> = $deleted_at;
        let created: Option<NaiveDateTime> = $created;
        let updated: Option<NaiveDateTime> = $updated;
        vec![Value::from(created), Value::from(updated), Value::from(deleted_at), Value::from(deleted_at.is_some()), $(Value::from($v)),*]
    }};
}

macro_rules! cols {
    ($($c:literal),* $(,)?) => { &["created_at", "updated_at", "deleted_at", "deleted", $($c),*] };
}

const INSTANCE_COLUMNS: &[&str] = cols![
    "id",
    "internal_id",
    "user_id",
    "project_id",
    "image_ref",
    "kernel_id",
    "ramdisk_id",
    "server_name",
    "launch_index",
    "key_name",
    "key_data",
    "power_state",
    "vm_state",
    "memory_mb",
    "vcpus",
    "local_gb",
    "hostname",
    "host",
    "user_data",
    "reservation_id",
    "scheduled_at",
    "launched_at",
    "terminated_at",
    "display_name",
    "display_description",
    "availability_zone",
    "locked",
    "os_type",
    "launched_on",
    "instance_type_id",
    "vm_mode",
    "uuid",
    "architecture",
    "root_device_name",
    "access_ip_v4",
    "access_ip_v6",
    "config_drive",
    "task_state",
    "default_local_device",
    "default_swap_device",
];
const VIF_COLUMNS: &[&str] = cols!["id", "address", "network_id", "instance_id", "uuid"];
const FIXED_IP_COLUMNS: &[&str] =
    cols!["id", "address", "network_id", "instance_id", "allocated", "leased", "reserved", "virtual_interface_id", "host"];
const FLOATING_IP_COLUMNS: &[&str] = cols!["id", "address", "fixed_ip_id", "project_id", "host", "auto_assigned"];
const METADATA_COLUMNS: &[&str] = cols!["id", "instance_id", "key", "value"];
const ACTION_COLUMNS: &[&str] = cols!["id", "instance_id", "action", "error"];
const SG_INSTANCE_COLUMNS: &[&str] = cols!["id", "security_group_id", "instance_id"];
const MIGRATION_COLUMNS: &[&str] =
    cols!["id", "source_compute", "dest_compute", "dest_host", "status", "instance_uuid", "old_instance_type_id", "new_instance_type_id",];
const VOLUME_COLUMNS: &[&str] = cols![
    "id",
    "ec2_id",
    "user_id",
    "project_id",
    "host",
    "size",
    "availability_zone",
    "instance_id",
    "mountpoint",
    "attach_time",
    "status",
    "attach_status",
    "scheduled_at",
    "launched_at",
    "terminated_at",
    "display_name",
    "display_description",
    "provider_location",
    "provider_auth",
    "snapshot_id",
    "volume_type_id",
];
const BDM_COLUMNS: &[&str] = cols![
    "id",
    "instance_id",
    "device_name",
    "delete_on_termination",
    "virtual_name",
    "snapshot_id",
    "volume_id",
    "volume_size",
    "no_device",
];
const ISCSI_COLUMNS: &[&str] = cols!["id", "target_num", "host", "volume_id"];
const VOLUME_METADATA_COLUMNS: &[&str] = cols!["id", "volume_id", "key", "value"];

/// The corner cases of a cloud that ran Nova's own auth, on top of [`generate`]'s users (an admin,
/// project managers, a user in several projects): `ops`, an operator in no project, and
/// `copycat`, whose access key is `user-0`'s by mistake.
pub fn add_nova_auth_users(db: &mut Db) -> Result<()> {
    let schema = schema::diablo::nova(db.backend())?;
    let table = |name: &str| schema.table(name).expect("diablo nova table").clone();
    let now: Option<NaiveDateTime> = chrono::NaiveDate::from_ymd_opt(2011, 10, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
    let users = vec![
        row!(now, None, None; "ops", "ops", fake_uuid(UUID_KEY, 50), fake_uuid(UUID_KEY, 150), false),
        row!(now, None, None; "copycat", "copycat", fake_uuid(UUID_KEY, 2), fake_uuid(UUID_KEY, 151), false),
    ];
    db.insert_rows(&table("users"), cols!["id", "name", "access_key", "secret_key", "is_admin"], &users, OnConflict::Fail)?;
    let member = vec![row!(now, None, None; "copycat", "project-0")];
    db.insert_rows(&table("user_project_association"), cols!["user_id", "project_id"], &member, OnConflict::Fail)?;
    Ok(())
}

pub fn generate(db: &mut Db, shape: &Shape) -> Result<Generated> {
    if shape.networks < 2 {
        return Err(Error::Usage(format!("a generated Nova needs at least 2 networks, not {}", shape.networks)));
    }
    let schema = schema::diablo::nova(db.backend())?;
    db.create_schema(&schema)?;
    migrate::stamp_version(db, &schema, schema.stamp.as_ref().expect("diablo nova is stamped"))?;
    let mut g = Generated::default();
    let now = shape.now;
    let batch = shape.batch_size.max(1);
    let glance = shape.glance_images as i64;
    let unknown = |id: i64| id < 1 || id > glance;
    let t = |name: &str| schema.table(name).unwrap_or_else(|| panic!("diablo nova table {name}")).clone();
    let insert = |db: &mut Db, name: &str, columns: &[&str], rows: Vec<Vec<Value>>| -> Result<usize> {
        let n = rows.len();
        db.insert_rows(&t(name), columns, &rows, OnConflict::Fail)?;
        Ok(n)
    };
    let setup = now - Duration::days(200);
    let epoch = now - Duration::days(120);

    // Flavors: 008's, then the custom ones, made a day into the cloud's life.
    let all: Vec<Flavor> = SEEDED.iter().chain(&CUSTOM_FLAVORS).copied().collect();
    g.instance_types = flavors::insert_diablo(db, &schema, &all, |k| (k >= SEEDED.len()).then_some(setup + Duration::days(1)))?;
    g.rxtx_flavors = all.iter().filter(|f| f.8 > 0).count();
    insert(
        db,
        "instance_type_extra_specs",
        cols!["id", "instance_type_id", "key", "value"],
        vec![row!(Some(setup + Duration::days(1)), None, None; 1, 6, "cpu_arch", "x86_64")],
    )?;

    // Nova's own auth tables.
    let rows = USERS
        .iter()
        .enumerate()
        .map(|(k, u)| row!(Some(setup), None, None; u.0, u.1, fake_uuid(UUID_KEY, k as u64), fake_uuid(UUID_KEY, 100 + k as u64), u.2))
        .collect();
    g.users = insert(db, "users", cols!["id", "name", "access_key", "secret_key", "is_admin"], rows)?;
    let rows = PROJECTS.iter().map(|p| row!(Some(setup), None, None; p.0, p.0, p.1, p.2)).collect();
    g.projects = insert(db, "projects", cols!["id", "name", "description", "project_manager"], rows)?;
    let members = [("admin", "admin"), ("admin", "demo"), ("demo", "demo"), ("user-0", "project-0"), ("user-0", "demo")];
    let rows = members.iter().map(|m| row!(Some(setup), None, None; m.0, m.1)).collect();
    insert(db, "user_project_association", cols!["user_id", "project_id"], rows)?;
    let project_roles = [
        ("admin", "admin", "projectmanager"),
        ("demo", "demo", "projectmanager"),
        ("demo", "demo", "sysadmin"),
        ("user-0", "project-0", "netadmin"),
    ];
    let rows = project_roles.iter().map(|r| row!(Some(setup), None, None; r.0, r.1, r.2)).collect();
    insert(db, "user_project_role_association", cols!["user_id", "project_id", "role"], rows)?;
    let rows = vec![row!(Some(setup), None, None; "admin", "cloudadmin"), row!(Some(setup), None, None; "demo", "netadmin")];
    insert(db, "user_role_association", cols!["user_id", "role"], rows)?;
    let key_public = |u: &str| format!("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC{:0>40} {u}@example.com", u.len() * 7919);
    let key_fingerprint = |k: usize| {
        let x = splitmix64(k as u64 + 77);
        let y = splitmix64(x);
        let bytes: Vec<String> = x.to_be_bytes().iter().chain(y.to_be_bytes().iter()).map(|b| format!("{b:02x}")).collect();
        bytes.join(":")
    };
    let rows = USERS
        .iter()
        .enumerate()
        .map(|(k, u)| row!(Some(setup + Duration::days(2)), None, None; (k + 1) as i64, format!("{}-key", u.0), u.0, key_fingerprint(k), key_public(u.0)))
        .collect();
    g.key_pairs = insert(db, "key_pairs", cols!["id", "name", "user_id", "fingerprint", "public_key"], rows)?;
    insert(
        db,
        "certificates",
        cols!["id", "user_id", "project_id", "file_name"],
        vec![row!(Some(setup + Duration::days(2)), None, None; 1, "admin", "admin", "/var/lib/nova/CA/projects/admin/newcerts/01.pem")],
    )?;
    insert(
        db,
        "auth_tokens",
        cols!["token_hash", "user_id", "server_management_url", "storage_url", "cdn_management_url"],
        vec![row!(Some(now - Duration::hours(2)), None, None;
            format!("{:016x}{:016x}{:08x}", splitmix64(1), splitmix64(2), splitmix64(3) >> 32), "admin",
            "http://cloud.example:8774/v1.1/", "", "")],
    )?;
    insert(
        db,
        "quotas",
        cols!["id", "project_id", "resource", "hard_limit"],
        vec![row!(Some(setup + Duration::days(3)), None, None; 1, "demo", "instances", 50)],
    )?;

    // Security groups: a `default` per project, `web` in demo.
    let mut rows: Vec<Vec<Value>> = PROJECTS
        .iter()
        .enumerate()
        .map(|(k, p)| row!(Some(setup + Duration::days(2)), None, None; (k + 1) as i64, "default", "default", p.2, p.0))
        .collect();
    rows.push(row!(Some(setup + Duration::days(3)), None, None; WEB_GROUP, "web", "Web servers", "demo", "demo"));
    g.security_groups = insert(db, "security_groups", cols!["id", "name", "description", "user_id", "project_id"], rows)?;
    let sg = cols!["id", "parent_group_id", "protocol", "from_port", "to_port", "cidr", "group_id"];
    let c = Some(setup + Duration::days(3));
    let rows = vec![
        row!(c, None, None; 1, 2, "tcp", 1, 65535, None::<&str>, 2),
        row!(c, None, None; 2, 2, "icmp", -1, -1, "0.0.0.0/0", None::<i64>),
        row!(c, None, None; 3, WEB_GROUP, "tcp", 80, 80, "0.0.0.0/0", None::<i64>),
        row!(c, None, None; 4, WEB_GROUP, "tcp", 22, 22, "0.0.0.0/0", None::<i64>),
        row!(c, None, Some(setup + Duration::days(4)); 5, WEB_GROUP, "udp", 53, 53, "10.0.0.0/8", None::<i64>),
    ];
    g.security_group_rules = insert(db, "security_group_rules", sg, rows)?;
    insert(
        db,
        "provider_fw_rules",
        cols!["id", "protocol", "from_port", "to_port", "cidr"],
        vec![row!(Some(setup + Duration::days(3)), None, None; 1, "tcp", 25, 25, "0.0.0.0/0")],
    )?;

    // Services, compute nodes, consoles, zones, agents, volume types, VSAs.
    let services = [
        ("compute1", "nova-compute", "compute"),
        ("compute2", "nova-compute", "compute"),
        (NETWORK_HOST, "nova-network", "network"),
        (VOLUME_HOST, "nova-volume", "volume"),
        ("controller", "nova-scheduler", "scheduler"),
    ];
    let rows = services
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let reports = (now - setup).num_seconds() / 10 - k as i64 * 17;
            row!(Some(setup), Some(now - Duration::seconds(3 + k as i64)), None; (k + 1) as i64, s.0, s.1, s.2, reports, false, "nova")
        })
        .collect();
    g.services = insert(db, "services", cols!["id", "host", "binary", "topic", "report_count", "disabled", "availability_zone"], rows)?;
    let cpu_info = r#"{"vendor": "Intel", "model": "Nehalem", "arch": "x86_64", "features": ["rdtscp", "vmx", "ssse3"], "topology": {"cores": "4", "threads": "2", "sockets": "2"}}"#;
    let rows = (0..2i64)
        .map(|k| row!(Some(setup), Some(now - Duration::seconds(30)), None; k + 1, k + 1, 16, 49152, 900, 6 + k, 14336 + 2048 * k, 120 + 40 * k, "QEMU", 14001, cpu_info))
        .collect();
    g.compute_nodes = insert(
        db,
        "compute_nodes",
        cols![
            "id",
            "service_id",
            "vcpus",
            "memory_mb",
            "local_gb",
            "vcpus_used",
            "memory_mb_used",
            "local_gb_used",
            "hypervisor_type",
            "hypervisor_version",
            "cpu_info"
        ],
        rows,
    )?;
    insert(
        db,
        "console_pools",
        cols!["id", "address", "username", "password", "console_type", "public_hostname", "host", "compute_host"],
        vec![
            row!(Some(setup), None, None; 1, "192.168.0.5", "console", "console-secret", "xvp", "console.example", "console1", "compute1"),
        ],
    )?;
    insert(
        db,
        "zones",
        cols!["id", "api_url", "username", "password", "weight_offset", "weight_scale"],
        vec![
            row!(Some(setup + Duration::days(5)), None, None; 1, CHILD_ZONE_API_URL, "admin", "child1-secret", Value::Float(0.0), Value::Float(1.0)),
        ],
    )?;
    insert(
        db,
        "agent_builds",
        cols!["id", "hypervisor", "os", "architecture", "version", "url", "md5hash"],
        vec![
            row!(Some(setup + Duration::days(5)), None, None; 1, "xen", "linux", "x86_64", "7.0.0.1", "http://agents.example/xen/linux/x86_64/agent-7.0.0.1.tgz", format!("{:032x}", 0x5eed_u128 * 0x1234_5678_9abc_def1)),
        ],
    )?;
    insert(db, "volume_types", cols!["id", "name"], vec![row!(Some(setup + Duration::days(5)), None, None; 1, "lvm")])?;
    insert(
        db,
        "volume_type_extra_specs",
        cols!["id", "volume_type_id", "key", "value"],
        vec![row!(Some(setup + Duration::days(5)), None, None; 1, 1, "backend", "iscsi")],
    )?;
    insert(
        db,
        "virtual_storage_arrays",
        cols![
            "id",
            "display_name",
            "display_description",
            "project_id",
            "availability_zone",
            "instance_type_id",
            "image_ref",
            "vc_count",
            "vol_count",
            "status"
        ],
        vec![row!(Some(setup + Duration::days(6)), None, None; 1, "vsa-1", "Storage array", "demo", "nova", 5, "3", 2, 4, "created")],
    )?;
    if unknown(3) {
        g.unknown_image_refs += 1;
    }

    // Networks.
    let nets: Vec<Net> = (0..shape.networks).map(|n| Net::new(n, shape.fixed_ips_per_network)).collect();
    let rows = nets
        .iter()
        .enumerate()
        .map(|(n, net)| {
            let vlan = n == VLAN_NET;
            let ni = n as i64;
            row!(Some(setup), None, None;
                ni + 1,
                vlan,                                                   // injected
                net.cidr(),
                net.netmask(),
                format!("br{}", 100 + n),
                net.addr(1),
                net.addr(net.size() - 1),
                "8.8.4.4",
                if vlan { Some(100 + ni - VLAN_NET as i64) } else { None },
                if vlan { Some("203.0.113.10") } else { None },
                if vlan { Some(1000 + ni) } else { None },
                if vlan { Some(net.addr(2)) } else { None },
                net.addr(net.first_free),
                if vlan { Some(PROJECTS[DEMO].0) } else { None },
                if n == 0 { None } else { Some(NETWORK_HOST) },        // multi-host networks have none
                if vlan { Some(format!("fd00:{n}::/64")) } else { None },
                if vlan { Some(format!("fd00:{n}::1")) } else { None },
                match n { 0 => "private".to_string(), VLAN_NET => "demo-vlan".to_string(), _ => format!("net{n}") },
                if vlan { Some("64") } else { None },
                "eth1",
                n == 0,                                                 // multi_host
                if n == 0 { Some("8.8.8.8") } else { None },
                fake_uuid(UUID_NETWORK, n as u64),
                None::<i64>,
            )
        })
        .collect();
    g.networks = insert(
        db,
        "networks",
        cols![
            "id",
            "injected",
            "cidr",
            "netmask",
            "bridge",
            "gateway",
            "broadcast",
            "dns1",
            "vlan",
            "vpn_public_address",
            "vpn_public_port",
            "vpn_private_address",
            "dhcp_start",
            "project_id",
            "host",
            "cidr_v6",
            "gateway_v6",
            "label",
            "netmask_v6",
            "bridge_interface",
            "multi_host",
            "dns2",
            "uuid",
            "priority",
        ],
        rows,
    )?;
    let flat_nets: Vec<usize> = (0..shape.networks).filter(|&n| n != VLAN_NET).collect();
    let mut next_idx: Vec<i64> = nets.iter().map(|n| n.first_free).collect();
    let per_net = shape.fixed_ips_per_network as i64;

    // Instances and what hangs off them, streamed.
    let mut instances = Sink::new(&schema, "instances", INSTANCE_COLUMNS);
    let mut vifs = Sink::new(&schema, "virtual_interfaces", VIF_COLUMNS);
    let mut fixed = Sink::new(&schema, "fixed_ips", FIXED_IP_COLUMNS);
    let mut floating = Sink::new(&schema, "floating_ips", FLOATING_IP_COLUMNS);
    let mut metadata = Sink::new(&schema, "instance_metadata", METADATA_COLUMNS);
    let mut actions = Sink::new(&schema, "instance_actions", ACTION_COLUMNS);
    let mut sg_inst = Sink::new(&schema, "security_group_instance_association", SG_INSTANCE_COLUMNS);
    let mut migrations = Sink::new(&schema, "migrations", MIGRATION_COLUMNS);
    let floating_total = shape.floating_ips as i64;
    let mut floating_assoc = 0i64;
    let mut vif_id = 0i64;
    let volumes_n = shape.volumes as i64;
    let n_inst = shape.instances as i64;
    for i in 1..=n_inst {
        let slot_no = slot_of(i);
        let slot = &SLOTS[slot_no];
        let p = project_of(i);
        let (project, user) = (PROJECTS[p].0, user_of(p));
        let f = flavor(slot.flavor);
        if slot.flavor == TINY {
            g.tiny_instances += 1;
        }
        // Spread over 100 days, oldest first.
        let created = epoch + Duration::seconds((i - 1) * 8_640_000 / n_inst.max(1));
        let scheduled = slot.host.then_some(created + Duration::seconds(2));
        let launched = slot.launched.then_some(created + Duration::seconds(45));
        let deleted_at = slot.deleted.then_some(created + Duration::hours(5));
        let updated = deleted_at.or(launched).or(scheduled).or(Some(created + Duration::seconds(1)));
        let host = slot.host.then_some(COMPUTE_HOSTS[(i % 2) as usize]);
        let uuid = fake_uuid(UUID_INSTANCE, i as u64);
        let boot_volume = boot_volume_of(i, volumes_n);
        let (image, kernel_ramdisk) = image_of(i, glance);
        let (image_ref, kernel, ramdisk) = if boot_volume.is_some() {
            g.image_ref_empty += 1;
            (String::new(), String::new(), String::new())
        } else {
            let image_ref = match slot_no {
                SLOT_MISSING_IMAGE => MISSING_IMAGE_REF.to_string(),
                SLOT_HREF => format!("{GLANCE_HREF_PREFIX}{image}"),
                _ => image.to_string(),
            };
            let image_id: i64 = if slot_no == SLOT_MISSING_IMAGE { MISSING_IMAGE_REF.parse().unwrap() } else { image };
            if unknown(image_id) {
                g.unknown_image_refs += 1;
            }
            if slot_no == SLOT_HREF {
                g.image_ref_hrefs += 1;
            } else {
                g.image_ref_ids += 1;
            }
            match kernel_ramdisk {
                Some((k, r)) if slot_no != SLOT_HREF && slot_no != SLOT_NO_KERNEL => {
                    g.unknown_image_refs += usize::from(unknown(k)) + usize::from(unknown(r));
                    (image_ref, k.to_string(), r.to_string())
                }
                _ => (image_ref, String::new(), String::new()),
            }
        };
        let has_key = i % 3 != 0;
        let key_name = has_key.then(|| format!("{user}-key"));
        let key_data = has_key.then(|| key_public(user));
        let name = format!("server-{i}");
        let reservation = format!("r-{:08x}", (((i - 1) / 2) as u32).wrapping_mul(0x9e37_79b1));
        let live = !slot.deleted && slot.host;
        instances.push(row!(Some(created), updated, deleted_at;
            i,
            None::<i64>,                                                   // internal_id
            user,
            project,
            image_ref,
            kernel,
            ramdisk,
            None::<&str>,                                                  // server_name
            (i - 1) % 2,
            key_name,
            key_data,
            slot.power_state,
            slot.vm_state,
            f.2,
            f.3,
            f.4,
            name.clone(),
            host,
            (i % 5 == 0).then_some("IyEvYmluL3NoCmVjaG8gaGVsbG8gPiAvdG1wL2hlbGxvCg=="),
            reservation,
            scheduled,
            launched,
            deleted_at,                                                    // terminated_at
            name.clone(),
            name,
            "nova",
            slot_no == SLOT_HREF,                                          // locked
            boot_volume.is_none().then_some("linux"),
            host,                                                          // launched_on
            slot.flavor,
            None::<&str>,                                                  // vm_mode
            uuid.clone(),
            boot_volume.is_none().then_some("x86_64"),
            slot.host.then_some("/dev/vda"),
            None::<&str>,
            None::<&str>,
            None::<&str>,                                                  // config_drive
            slot.task_state,
            (slot.host && f.4 > 0).then_some("/dev/vdb"),
            (slot.host && f.6 > 0).then_some("/dev/vdc"),
        ));
        g.instances += 1;
        g.deleted_instances += usize::from(slot.deleted);

        // Networking: a vif and a fixed ip on the instance's network, a second on another.
        if live {
            let primary = if p == DEMO { VLAN_NET } else { flat_nets[((i / 3) as usize) % flat_nets.len()] };
            let second = if i % 4 != 0 {
                None
            } else if p == DEMO {
                Some(0)
            } else if flat_nets.len() >= 2 {
                Some(flat_nets[((i / 3) as usize + 1) % flat_nets.len()])
            } else {
                None
            };
            for (k, n) in std::iter::once(primary).chain(second).enumerate() {
                let net = &nets[n];
                if next_idx[n] >= net.alloc_end() {
                    continue;
                }
                let idx = next_idx[n];
                next_idx[n] += 1;
                vif_id += 1;
                vifs.push(
                    row!(scheduled, None, None; vif_id, vif_mac(vif_id as u64), (n + 1) as i64, i, fake_uuid(UUID_VIF, vif_id as u64)),
                );
                let fid = fixed_ip_id(n, per_net, idx);
                let leased = slot.launched && slot.vm_state != "stopped";
                fixed.push(row!(Some(setup), scheduled, None;
                    fid, net.addr(idx), (n + 1) as i64, i, true, leased, false, vif_id,
                    if n == 0 { host } else { None }));
                g.fixed_ips_with_instance += 1;
                if k == 0 && slot.launched && i % 2 == 1 && floating_assoc < floating_total / 2 {
                    floating_assoc += 1;
                    floating.push(row!(Some(setup + Duration::days(1)), launched, None;
                        floating_assoc, floating_address(floating_assoc), fid, project, NETWORK_HOST, i % 6 == 3));
                }
            }
        } else if slot_no == SLOT_LINGERING_IP {
            // Released, still associated until the network manager's disassociate timeout.
            let n = if p == DEMO { VLAN_NET } else { flat_nets[((i / 3) as usize) % flat_nets.len()] };
            if next_idx[n] < nets[n].alloc_end() {
                let idx = next_idx[n];
                next_idx[n] += 1;
                fixed.push(row!(Some(setup), deleted_at, None;
                    fixed_ip_id(n, per_net, idx), nets[n].addr(idx), (n + 1) as i64, i, false, false, false, None::<i64>, None::<&str>));
                g.fixed_ips_with_instance += 1;
            }
        }

        let meta_deleted = deleted_at;
        for k in 0..shape.metadata_per_instance {
            let key = if k < META_KEYS.len() {
                META_KEYS[k].to_string()
            } else {
                format!("{}-{}", META_KEYS[k % META_KEYS.len()], k / META_KEYS.len())
            };
            let id = (i - 1) * shape.metadata_per_instance as i64 + k as i64 + 1;
            metadata.push(row!(Some(created), None, meta_deleted; id, i, key, format!("value-{}-{k}", i % 97)));
        }
        let n_actions = 1 + i % 3;
        for a in 0..n_actions {
            let id = g.instance_actions as i64 + 1;
            let (action, error) = match a {
                0 if slot_no == SLOT_MISSING_IMAGE => (
                    "spawn",
                    Some(
                        "Traceback (most recent call last):\n  File \"/usr/lib/python2.7/dist-packages/nova/scheduler/manager.py\", line 101, in _schedule\nNoValidHost: Scheduler was unable to locate a host for this request. Is the appropriate service running?\n",
                    ),
                ),
                0 => ("spawn", None),
                1 => ("reboot", None),
                _ => ("snapshot", None),
            };
            actions.push(row!(Some(created + Duration::minutes(a)), None, None; id, i, action, error));
            g.instance_actions += 1;
        }
        let sg_del = deleted_at;
        sg_inst.push(row!(Some(created), sg_del, sg_del; g.security_group_instances as i64 + 1, (p + 1) as i64, i));
        g.security_group_instances += 1;
        if p == DEMO && i % 2 == 0 {
            sg_inst.push(row!(Some(created), sg_del, sg_del; g.security_group_instances as i64 + 1, WEB_GROUP, i));
            g.security_group_instances += 1;
        }
        if slot_no == SLOT_RESIZED {
            let source = COMPUTE_HOSTS[((i + 1) % 2) as usize];
            let dest = COMPUTE_HOSTS[(i % 2) as usize];
            migrations.push(row!(Some(created + Duration::hours(1)), Some(created + Duration::hours(1) + Duration::minutes(3)), None;
                migrations.written as i64 + migrations.rows.len() as i64 + 1, source, dest,
                format!("192.168.0.{}", 11 + i % 2), "finished", uuid, TINY, slot.flavor));
        }
        flush_if_full(
            db,
            &mut [&mut instances, &mut vifs, &mut fixed, &mut floating, &mut metadata, &mut actions, &mut sg_inst, &mut migrations],
            batch,
        )?;
    }
    flush_all(db, &mut [&mut instances, &mut vifs, &mut fixed, &mut floating, &mut metadata, &mut actions, &mut sg_inst, &mut migrations])?;
    g.vifs = vifs.written;
    g.instance_metadata = metadata.written;
    g.migrations = migrations.written;
    g.associated_floating_ips = floating_assoc as usize;

    // The rest of every network: reserved addresses and free ones.
    for (n, net) in nets.iter().enumerate() {
        let ranges = [(0, net.first_free.min(per_net)), (next_idx[n].min(per_net), per_net)];
        for (from, to) in ranges {
            for idx in from..to {
                let reserved = net.reserved(idx);
                g.reserved_fixed_ips += usize::from(reserved);
                fixed.push(row!(Some(setup), None, None;
                    fixed_ip_id(n, per_net, idx), net.addr(idx), (n + 1) as i64, None::<i64>, false, false, reserved, None::<i64>, None::<&str>));
                flush_if_full(db, &mut [&mut fixed], batch)?;
            }
        }
    }
    fixed.flush(db)?;
    g.fixed_ips = fixed.written;

    // The rest of the floating ips: some allocated to projects, the others in the pool.
    for id in floating_assoc + 1..=floating_total {
        let project = (id % 3 != 0).then_some(PROJECTS[(id % 3) as usize].0);
        floating.push(row!(Some(setup + Duration::days(1)), project.map(|_| epoch), None;
            id, floating_address(id), None::<i64>, project, NETWORK_HOST, false));
        flush_if_full(db, &mut [&mut floating], batch)?;
    }
    floating.flush(db)?;
    g.floating_ips = floating.written;

    // Volumes. Snapshots first (block device mappings name them): of volume 2, a live and a
    // deleted one; volume 4 was made from the live one.
    let snap_volume = volumes_n.min(2);
    if snap_volume > 0 {
        let c = epoch + Duration::days(3);
        let rows = vec![
            row!(Some(c), Some(c + Duration::minutes(2)), None; 1, snap_volume, "demo", "demo", "available", "100%", 10, Some(c), "snap-1", "Before upgrade"),
            row!(Some(c), Some(c + Duration::days(1)), Some(c + Duration::days(1)); 2, snap_volume, "demo", "demo", "deleted", "100%", 10, Some(c), "snap-2", None::<&str>),
        ];
        g.snapshots = insert(
            db,
            "snapshots",
            cols![
                "id",
                "volume_id",
                "user_id",
                "project_id",
                "status",
                "progress",
                "volume_size",
                "scheduled_at",
                "display_name",
                "display_description"
            ],
            rows,
        )?;
    }
    let mut volumes = Sink::new(&schema, "volumes", VOLUME_COLUMNS);
    let mut bdms = Sink::new(&schema, "block_device_mapping", BDM_COLUMNS);
    let mut iscsi = Sink::new(&schema, "iscsi_targets", ISCSI_COLUMNS);
    let mut vmeta = Sink::new(&schema, "volume_metadata", VOLUME_METADATA_COLUMNS);
    let mut bdm_id = 0i64;
    let san = shape.volume_driver == VolumeDriver::HpSan;
    for v in 1..=volumes_n {
        let k = (v - 1) / 4;
        // (instance, mountpoint, is boot volume)
        let attachment = match (v - 1) % 4 {
            0 if 12 * k + 8 <= n_inst => Some((12 * k + 8, "/dev/vda", true)),
            2 if 12 * k < n_inst => Some((12 * k + 1, "/dev/vdc", false)),
            _ => None,
        };
        let deleted = attachment.is_none() && v % 8 == 4;
        let error = attachment.is_none() && v % 8 == 0;
        let p = match attachment {
            Some((i, ..)) => project_of(i),
            None => (v % 3) as usize,
        };
        let created = epoch + Duration::days(1) + Duration::seconds(v * 37);
        let deleted_at = deleted.then_some(created + Duration::days(2));
        let size = if attachment.is_some_and(|a| a.2) { 10 } else { 1 + v % 50 };
        let (status, attach_status) = match attachment {
            Some(_) => ("in-use", "attached"),
            None if deleted => ("deleted", "detached"),
            None if error => ("error", "detached"),
            None => ("available", "detached"),
        };
        let target = v;
        volumes.push(row!(Some(created), Some(created + Duration::seconds(20)), deleted_at;
            v,
            None::<&str>,                                                   // ec2_id
            user_of(p),
            PROJECTS[p].0,
            VOLUME_HOST,
            size,
            "nova",
            attachment.map(|a| a.0),
            attachment.map(|a| a.1),
            None::<&str>,                                                   // attach_time
            status,
            attach_status,
            Some(created + Duration::seconds(1)),
            (!error).then_some(created + Duration::seconds(15)),
            deleted_at,
            format!("vol-{v}"),
            (v % 2 == 0).then(|| format!("Volume {v}")),
            (san && !error).then(|| format!("{LEFTHAND_VIP}:3260,1 iqn.2003-10.com.lefthandnetworks:group1:{}:volume-{v:08x}", 30 + v)),
            (san && !error).then(|| format!("CHAP proj_{0} project_secret_{0}", PROJECTS[p].0)),
            (v == 4 && g.snapshots > 0).then_some(1i64),
            (v % 2 == 0).then_some(1i64),
        ));
        if let Some((i, mountpoint, boot)) = attachment {
            g.attached_volumes += 1;
            bdm_id += 1;
            bdms.push(row!(Some(created), None, None; bdm_id, i, mountpoint, boot, None::<&str>, None::<i64>, v, size, None::<bool>));
            if boot {
                g.boot_from_volume += 1;
                if v == 1 {
                    // The first boot-from-volume instance also maps its ephemeral disk and hides a device.
                    bdm_id += 1;
                    bdms.push(row!(Some(created), None, None; bdm_id, i, "/dev/vdb", true, "ephemeral0", None::<i64>, None::<i64>, None::<i64>, None::<bool>));
                    bdm_id += 1;
                    bdms.push(row!(Some(created), None, None; bdm_id, i, "/dev/vdd", true, None::<&str>, None::<i64>, None::<i64>, None::<i64>, true));
                }
            }
        }
        if !san {
            iscsi.push(row!(Some(setup), Some(created), None; v, target, VOLUME_HOST, (!deleted).then_some(v)));
        }
        if v % 2 == 0 {
            vmeta.push(row!(Some(created), None, deleted_at; vmeta.written as i64 + vmeta.rows.len() as i64 + 1, v, "purpose", "data"));
        }
        flush_if_full(db, &mut [&mut volumes, &mut bdms, &mut iscsi, &mut vmeta], batch)?;
    }
    // Free iSCSI targets the volume host made at start-up.
    for k in (1..=4).filter(|_| !san) {
        iscsi.push(row!(Some(setup), None, None; volumes_n + k, volumes_n + k, VOLUME_HOST, None::<i64>));
    }
    flush_all(db, &mut [&mut volumes, &mut bdms, &mut iscsi, &mut vmeta])?;
    g.volumes = volumes.written;
    g.block_device_mappings = bdms.written;
    g.iscsi_targets = iscsi.written;
    g.volume_metadata = vmeta.written;

    // AoE export devices (052 drops the table): shelf 0, blades 0..4, the first two in use.
    let rows = (0..4i64)
        .map(|blade| row!(Some(setup), None, None; blade + 1, 0, blade, (blade < 2 && blade < volumes_n).then_some(blade + 1)))
        .collect();
    g.export_devices = insert(db, "export_devices", cols!["id", "shelf_id", "blade_id", "volume_id"], rows)?;

    if n_inst >= 1 {
        insert(
            db,
            "consoles",
            cols!["id", "instance_name", "instance_id", "password", "port", "pool_id"],
            vec![row!(Some(epoch + Duration::days(1)), None, None; 1, "instance-00000001", 1, "console-pass", 5901, 1)],
        )?;
    }

    db.reset_sequences(&schema)?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Access, DbUrl};
    use crate::schema::ColType;

    fn count(db: &mut Db, sql: &str) -> i64 {
        db.query_scalar(sql, &[]).unwrap().as_i64().unwrap()
    }

    fn generate_sqlite(shape: &Shape) -> (tempfile::TempDir, Db, Generated) {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::sqlite(&dir.path().join("nova.sqlite"));
        let mut db = Db::connect(&url, Access::ReadWrite).unwrap();
        let g = generate(&mut db, shape).unwrap();
        (dir, db, g)
    }

    #[test]
    fn demo_counts() {
        let shape = Shape::demo();
        let (_dir, mut db, g) = generate_sqlite(&shape);
        assert_eq!(count(&mut db, "SELECT version FROM migrate_version WHERE repository_id = 'nova'"), 46);
        assert_eq!(g.instances, 12);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instances"), 12);
        assert_eq!(g.deleted_instances, 2);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instances WHERE deleted = 1 AND deleted_at IS NOT NULL"), 2);
        assert_eq!(count(&mut db, "SELECT COUNT(DISTINCT uuid) FROM instances"), 12);
        assert_eq!(g.fixed_ips, 3 * 32);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM fixed_ips"), 96);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM fixed_ips WHERE instance_id IS NOT NULL"), g.fixed_ips_with_instance as i64);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM fixed_ips WHERE reserved = 1"), g.reserved_fixed_ips as i64);
        assert_eq!(g.floating_ips, 8);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM floating_ips WHERE fixed_ip_id IS NOT NULL"), g.associated_floating_ips as i64);
        assert!(g.associated_floating_ips > 0);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM virtual_interfaces"), g.vifs as i64);
        assert!(g.vifs >= 8);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instance_metadata"), 24);
        assert_eq!(g.volumes, 4);
        assert_eq!(g.attached_volumes, 2);
        assert_eq!(g.boot_from_volume, 1);
        assert_eq!(g.image_ref_empty, 1);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instances WHERE image_ref = ''"), 1);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instances WHERE image_ref LIKE 'http://%'"), 1);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instances WHERE image_ref = '999999'"), 1);
        assert_eq!(g.unknown_image_refs, 1);
        assert_eq!(g.image_ref_ids + g.image_ref_hrefs + g.image_ref_empty, 12);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instance_types"), 7);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instance_types WHERE rxtx_cap > 0"), 2);
        assert_eq!(count(&mut db, "SELECT flavorid FROM instance_types WHERE name = 'm1.tiny' AND id = 2"), 1);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instances WHERE instance_type_id = 2"), g.tiny_instances as i64);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM networks WHERE cidr_v6 IS NOT NULL"), 1);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM export_devices"), 4);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM migrations"), 1);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM user_role_association WHERE role = 'cloudadmin'"), 1);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM virtual_storage_arrays WHERE image_ref = '3'"), 1);
        // Every allocated fixed ip points at a vif of its instance and network.
        assert_eq!(
            count(
                &mut db,
                "SELECT COUNT(*) FROM fixed_ips f JOIN virtual_interfaces v ON v.id = f.virtual_interface_id \
                 WHERE v.instance_id = f.instance_id AND v.network_id = f.network_id"
            ),
            g.vifs as i64
        );
    }

    /// Values fit their columns, foreign keys hold, and a tiny batch size gives the same database.
    #[test]
    fn small_batches_fit_the_schema() {
        let shape = Shape { batch_size: 5, instances: 40, volumes: 13, metadata_per_instance: 7, ..Shape::demo() };
        let (_dir, mut db, g) = generate_sqlite(&shape);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instances"), 40);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM instance_metadata"), 280);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM block_device_mapping"), g.block_device_mappings as i64);
        assert_eq!(g.boot_from_volume, 3);
        let schema = schema::diablo::nova(crate::db::Backend::Sqlite).unwrap();
        for table in &schema.tables {
            for c in &table.columns {
                if let ColType::String(n) = c.ty {
                    let q = format!("SELECT COALESCE(MAX(LENGTH({})), 0) FROM {}", db.quote(&c.name), db.quote(&table.name));
                    assert!(count(&mut db, &q) <= i64::from(n), "{}.{} longer than {n}", table.name, c.name);
                }
            }
            // SQLite cannot check the composite key of user_project_role_association column by column.
            if table.name != "user_project_role_association" {
                let bad = db.query(&format!("PRAGMA foreign_key_check({})", db.quote(&table.name)), &[]).unwrap();
                assert!(bad.is_empty(), "{}: {} rows break a foreign key", table.name, bad.len());
            }
        }
    }

    #[test]
    fn uuids_and_macs_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..50_000u64 {
            assert!(seen.insert(fake_uuid(UUID_INSTANCE, n)));
            assert!(seen.insert(vif_mac(n)));
        }
        assert_eq!(fake_uuid(UUID_INSTANCE, 1).len(), 36);
        let s = Shape::scale(1.0);
        assert_eq!(s.networks * s.fixed_ips_per_network, 1_048_576);
        let s = Shape::scale(4.0);
        assert_eq!((s.instances, s.networks * s.fixed_ips_per_network), (400_000, 4_194_304));
        let s = Shape::scale(0.01);
        assert_eq!((s.instances, s.networks, s.fixed_ips_per_network), (1_000, 3, 1_024));
    }
}
