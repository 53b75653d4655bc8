//! Diablo Nova databases of realistic shape (several networks, IPv6 on one, instances in many
//! states, volumes, a child zone, every form of image reference) migrated by the real binary on
//! every backend; each data migration checked on its own rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use osmigrate::db::{Access, Backend, Db, DbUrl};
use osmigrate::generate::{glance as glance_gen, nova as nova_gen};
use serde_json::{Value as Json, json};

use crate::schema::{assert_same_schema, live, reference};
use crate::support::{self, FreshDb, Server, osmigrate, rows};

/// A Diablo Glance and Nova on one server, the Glance migrated with its map written as CSV.
struct Cloud {
    nova: FreshDb,
    glance_essex: FreshDb,
    map_csv: PathBuf,
    dir: tempfile::TempDir,
    _glance: FreshDb,
}

fn cloud(server: &Server, instances: usize) -> Cloud {
    let now = osmigrate::db::value::parse_datetime("2012-03-01 12:00:00").unwrap();
    let glance = support::fresh_db(server, "nova_glance");
    Db::create_database_if_missing(&glance.url).unwrap();
    let variant = if server.backend == Backend::Postgres { glance_gen::Variant::Unversioned } else { glance_gen::Variant::Versioned };
    let glance_shape = glance_gen::Shape { images: 60, variant, foreign_keys: true, now, batch_size: 100 };
    glance_gen::generate(&mut Db::connect(&glance.url, Access::ReadWrite).unwrap(), &glance_shape).unwrap();
    let nova = support::fresh_db(server, "nova");
    Db::create_database_if_missing(&nova.url).unwrap();
    let shape = nova_gen::Shape { instances, glance_images: 60, now, batch_size: 50, ..nova_gen::Shape::demo() };
    nova_gen::generate(&mut Db::connect(&nova.url, Access::ReadWrite).unwrap(), &shape).unwrap();
    let glance_essex = support::fresh_db(server, "nova_glance_essex");
    let dir = tempfile::tempdir().unwrap();
    let map_csv = dir.path().join("map.csv");
    let out = osmigrate()
        .args(["db", "migrate", "glance", "--from", &glance.url.expose_secret(), "--to", &glance_essex.url.expose_secret()])
        .args(["--map-out", map_csv.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.code().unwrap() <= 1, "{}", String::from_utf8_lossy(&out.stderr));
    Cloud { nova, glance_essex, map_csv, dir, _glance: glance }
}

fn migrate_nova(from: &DbUrl, to: &DbUrl, args: &[&str]) -> (i32, Json, String) {
    let out = osmigrate()
        .args(["db", "migrate", "nova", "--from", &from.expose_secret(), "--to", &to.expose_secret(), "--json", "--batch-size", "7"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    (out.status.code().unwrap_or(-1), json, stderr)
}

fn map_of(csv: &Path) -> BTreeMap<i64, String> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (o, n) = l.split_once(',').unwrap();
            (o.parse().unwrap(), n.to_string())
        })
        .collect()
}

/// What an image reference must become: ids and hrefs through the map, the rest untouched.
fn expected_ref(value: &str, map: &BTreeMap<i64, String>) -> String {
    let start = value.rfind('/').map_or(0, |i| i + 1);
    match value[start..].parse::<i64>().ok().and_then(|id| map.get(&id)) {
        Some(uuid) if !value.is_empty() => format!("{}{uuid}", &value[..start]),
        _ => value.to_string(),
    }
}

fn finding<'a>(report: &'a Json, code: &str, table: &str) -> Option<&'a Json> {
    report["findings"].as_array().unwrap().iter().find(|f| f["code"] == code && f["table"] == table)
}

/// EUI-64 (RFC 2462) computed here independently: flip bit 0x02 of the first octet, ff:fe in the middle.
fn eui64(prefix: &str, mac: &str) -> String {
    let m: Vec<u8> = mac.split(':').map(|x| u8::from_str_radix(x, 16).unwrap()).collect();
    let net: std::net::Ipv6Addr = prefix.split('/').next().unwrap().parse().unwrap();
    let iid = u64::from_be_bytes([m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]);
    std::net::Ipv6Addr::from(u128::from(net) | u128::from(iid)).to_string()
}

#[test]
fn every_data_migration_on_every_backend() {
    support::each_server(|server| {
        let ctx = server.name();
        let cloud = cloud(&server, 40);
        let src = &cloud.nova.url;
        let target = support::fresh_db(&server, "nova_essex");
        let t = &target.url;
        // A Diablo flagfile with an include, and an override on the command line.
        let conf = cloud.dir.path().join("nova.conf");
        let extra = cloud.dir.path().join("extra.conf");
        std::fs::write(&extra, "--connection_type=libvirt\n--public_interface=eth9\n").unwrap();
        std::fs::write(
            &conf,
            format!("--flagfile={}\n--public_interface=eth2\n--verbose\n--iscsi_ip_prefix=192.168.0.20\n", extra.display()),
        )
        .unwrap();
        let (code, report, stderr) = migrate_nova(
            src,
            t,
            &[
                "--image-map",
                cloud.map_csv.to_str().unwrap(),
                "--nova-conf",
                conf.to_str().unwrap(),
                "--set",
                "default_floating_pool=public",
            ],
        );
        assert_eq!(code, 1, "{ctx}: {stderr}");

        // The schema is Essex's, exactly.
        assert_same_schema(&format!("essex nova on {ctx}"), &live(t), &reference("essex", "nova", server.backend));
        assert_eq!(rows(t, "SELECT repository_id, version FROM migrate_version"), vec![vec!["nova".to_string(), "82".to_string()]]);

        // Tables carried as they are keep every row.
        for table in [
            "fixed_ips",
            "virtual_interfaces",
            "instance_metadata",
            "security_group_rules",
            "volumes",
            "block_device_mapping",
            "key_pairs",
            "services",
            "snapshots",
            "migrations",
            "quotas",
        ] {
            let mut db = Db::connect(src, Access::ReadOnly).unwrap();
            let columns = db.column_names(table).unwrap().iter().map(|c| db.quote(c)).collect::<Vec<_>>().join(", ");
            let q = format!("SELECT {columns} FROM {table} ORDER BY id");
            assert!(rows(t, &q) == rows(src, &q), "{ctx}: {table} carried verbatim");
        }

        // 055 flavorid as text; 059 rxtx with real division; 074 root/ephemeral under libvirt.
        let caps = rows(src, "SELECT rxtx_cap FROM instance_types WHERE rxtx_cap > 0");
        let base = caps.iter().map(|c| c[0].parse::<i64>().unwrap()).min().filter(|m| *m > 1).unwrap_or(1);
        for r in rows(src, "SELECT id, flavorid, rxtx_cap, local_gb, name FROM instance_types ORDER BY id") {
            let got = &rows(t, &format!("SELECT flavorid, rxtx_factor, root_gb, ephemeral_gb FROM instance_types WHERE id = {}", r[0]))[0];
            assert_eq!(got[0], r[1], "{ctx}: 055 flavorid of {}", r[4]);
            let cap: i64 = r[2].parse().unwrap();
            let factor: f64 = got[1].parse().unwrap();
            assert_eq!(factor, if cap > 0 { cap as f64 / base as f64 } else { 1.0 }, "{ctx}: 059 rxtx_factor of {}", r[4]);
            let root = if r[4] == "m1.tiny" { "0" } else { "10" };
            assert_eq!((got[2].as_str(), got[3].as_str()), (root, r[3].as_str()), "{ctx}: 074 disks of {}", r[4]);
        }
        assert!(rows(t, "SELECT rxtx_base FROM networks").iter().all(|r| r[0] == base.to_string()), "{ctx}: 059 rxtx_base");

        // Instances: 074 disks, 068 defaults, renamed device, image references through the map.
        let map = map_of(&cloud.map_csv);
        let tiny = rows(src, "SELECT id FROM instance_types WHERE name = 'm1.tiny'")[0][0].clone();
        let cols = "id, instance_type_id, local_gb, default_local_device, image_ref, kernel_id, ramdisk_id";
        for r in rows(src, &format!("SELECT {cols} FROM instances ORDER BY id")) {
            let got = &rows(
                t,
                &format!(
                    "SELECT root_gb, ephemeral_gb, default_ephemeral_device, image_ref, kernel_id, ramdisk_id, shutdown_terminate, disable_terminate, cell_name FROM instances WHERE id = {}",
                    r[0]
                ),
            )[0];
            let root = if r[1] == tiny { "0" } else { "10" };
            assert_eq!((got[0].as_str(), got[1].as_str()), (root, r[2].as_str()), "{ctx}: 074 instance {}", r[0]);
            assert_eq!(got[2], r[3], "{ctx}: default_ephemeral_device");
            for (i, col) in [(3, 4), (4, 5), (5, 6)] {
                assert_eq!(got[i], expected_ref(&r[col], &map), "{ctx}: instance {} reference `{}`", r[0], r[col]);
            }
            assert_eq!((got[6].as_str(), got[7].as_str(), got[8].as_str()), ("1", "0", "NULL"), "{ctx}: 068 defaults");
        }
        assert_eq!(
            rows(t, "SELECT image_ref FROM virtual_storage_arrays")[0][0],
            expected_ref(&rows(src, "SELECT image_ref FROM virtual_storage_arrays")[0][0], &map)
        );
        let unknown = finding(&report, "image_ref_not_in_map", "instances").unwrap();
        assert!(unknown["rows"][0].as_str().unwrap().contains("uuid="), "{ctx}: reported per instance");

        // s3_images: the map, so EC2 ids survive.
        let s3: BTreeMap<i64, String> =
            rows(t, "SELECT id, uuid FROM s3_images").into_iter().map(|r| (r[0].parse().unwrap(), r[1].clone())).collect();
        assert_eq!(s3, map, "{ctx}: s3_images seeded with the map");

        // 064 actions by instance uuid.
        let want = rows(src, "SELECT a.id, i.uuid FROM instance_actions a LEFT JOIN instances i ON i.id = a.instance_id ORDER BY a.id");
        assert_eq!(rows(t, "SELECT id, instance_uuid FROM instance_actions ORDER BY id"), want, "{ctx}: 064");

        // 067 pool and interface from the settings; 069 and 078 defaults; 082 zones → cells.
        assert!(
            rows(t, "SELECT pool, interface FROM floating_ips").iter().all(|r| r == &["public".to_string(), "eth2".to_string()]),
            "{ctx}: 067"
        );
        assert!(rows(t, "SELECT disk_available_least FROM compute_nodes").iter().all(|r| r[0] == "0"), "{ctx}: 069");
        assert_eq!(rows(t, "SELECT id, api_url, is_parent FROM cells"), rows(src, "SELECT id, api_url, 0 FROM zones"), "{ctx}: 078/082");

        // 066: one cache per instance, built from vifs, fixed and floating ips, IPv6 on the v6 network.
        assert_eq!(
            rows(t, "SELECT COUNT(*) FROM instance_info_caches"),
            rows(src, "SELECT COUNT(*) FROM instances WHERE uuid IS NOT NULL")
        );
        for r in rows(
            src,
            "SELECT i.uuid, v.id, v.uuid, v.address, n.cidr_v6 FROM instances i JOIN virtual_interfaces v ON v.instance_id = i.id JOIN networks n ON n.id = v.network_id ORDER BY v.id",
        ) {
            let cache: Json = serde_json::from_str(
                &rows(t, &format!("SELECT network_info FROM instance_info_caches WHERE instance_id = '{}'", r[0]))[0][0],
            )
            .unwrap();
            let vif =
                cache.as_array().unwrap().iter().find(|v| v["id"] == r[2].as_str()).unwrap_or_else(|| panic!("{ctx}: vif {} cached", r[2]));
            assert_eq!(vif["address"], r[3].as_str());
            let fixed: Vec<String> = rows(src, &format!("SELECT address FROM fixed_ips WHERE virtual_interface_id = {} ORDER BY id", r[1]))
                .into_iter()
                .map(|x| x[0].clone())
                .collect();
            let v4 = &vif["network"]["subnets"][0];
            let got: Vec<&str> = v4["ips"].as_array().unwrap().iter().map(|ip| ip["address"].as_str().unwrap()).collect();
            assert_eq!(got, fixed, "{ctx}: v4 fixed ips of vif {}", r[2]);
            for ip in v4["ips"].as_array().unwrap() {
                let floating: Vec<String> = rows(src, &format!("SELECT f.address FROM floating_ips f JOIN fixed_ips x ON x.id = f.fixed_ip_id WHERE x.address = '{}' ORDER BY f.id", ip["address"].as_str().unwrap()))
                    .into_iter()
                    .map(|x| x[0].clone())
                    .collect();
                let got: Vec<&str> = ip["floating_ips"].as_array().unwrap().iter().map(|f| f["address"].as_str().unwrap()).collect();
                assert_eq!(got, floating, "{ctx}: floating ips (under `address`, not upstream's `a`)");
            }
            if r[4] != "NULL" {
                assert_eq!(
                    vif["network"]["subnets"][1]["ips"][0]["address"],
                    eui64(&r[4], &r[3]).as_str(),
                    "{ctx}: v6 address of {}",
                    r[3]
                );
            }
        }

        // The report: settings with their origins, dropped data counted.
        let settings = finding(&report, "settings", "nova.conf").unwrap()["rows"].to_string();
        assert!(settings.contains("public_interface = eth2") && settings.contains("nova.conf:2"), "{ctx}: {settings}");
        assert!(settings.contains("connection_type = libvirt") && settings.contains("extra.conf:1"), "{ctx}: {settings}");
        assert!(settings.contains("default_floating_pool = public (--set)"), "{ctx}: {settings}");
        let export = report["tables"].as_array().unwrap().iter().find(|x| x["source_table"] == "export_devices").unwrap();
        assert_eq!(export["skipped"].to_string(), rows(src, "SELECT COUNT(*) FROM export_devices")[0][0]);
        assert!(finding(&report, "column_dropped", "instance_types").unwrap()["message"].as_str().unwrap().contains("rxtx_quota"));

        // 053: Diablo's LVM driver stored no provider_location; Essex finds such a volume by
        // discovery at iscsi_ip_address (Diablo's whole-address iscsi_ip_prefix), LUN 0 (ietadm).
        let attached = live_volume_mappings(src);
        assert!(!attached.is_empty(), "{ctx}");
        for (bdm, volume) in &attached {
            let (device, data) = essex_attaches(&connection_info(t, bdm));
            let iqn = format!("iqn.2010-10.org.openstack:volume-{:08x}", volume.parse::<i64>().unwrap());
            assert_eq!(device, format!("/dev/disk/by-path/ip-192.168.0.20:3260-iscsi-{iqn}-lun-0"), "{ctx}: bdm {bdm}");
            assert_eq!((data["target_discovered"].as_bool(), data["volume_id"].to_string()), (Some(true), volume.clone()), "{ctx}");
            assert!(data.get("auth_method").is_none(), "{ctx}: the LVM driver set no CHAP");
        }
        assert_eq!(
            rows(t, "SELECT COUNT(*) FROM block_device_mapping WHERE connection_info IS NOT NULL")[0][0],
            attached.len().to_string()
        );
        let rebuilt = finding(&report, "bdm_connection_info_rebuilt", "block_device_mapping").unwrap();
        assert_eq!(rebuilt["count"], attached.len(), "{ctx}");
        assert!(finding(&report, "bdm_without_connection_info", "block_device_mapping").is_none(), "{ctx}");
        assert!(settings.contains("iscsi_ip_address = 192.168.0.20 (Diablo's iscsi_ip_prefix"), "{ctx}: {settings}");

        // Sequences past the largest id: a new row without an id gets a fresh one.
        let mut db = Db::connect(t, Access::ReadWrite).unwrap();
        for (table, col) in [("instance_metadata", "instance_id"), ("quotas", "resource")] {
            let sql = format!("INSERT INTO {table} ({}, deleted) VALUES (?, ?)", db.quote(col));
            db.execute(&sql, &["1".into(), 0.into()]).unwrap_or_else(|e| panic!("{ctx}: insert into {table} after migration: {e}"));
        }
    });
}

/// (id, volume_id) of the source's live block device mappings of a volume.
fn live_volume_mappings(src: &DbUrl) -> Vec<(String, String)> {
    rows(src, "SELECT id, volume_id, deleted FROM block_device_mapping WHERE volume_id IS NOT NULL ORDER BY id")
        .into_iter()
        .filter(|r| r[2] == "0")
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

fn connection_info(target: &DbUrl, bdm: &str) -> String {
    rows(target, &format!("SELECT connection_info FROM block_device_mapping WHERE id = {bdm}"))[0][0].clone()
}

/// What Essex 2012.1's compute does with a mapping on reboot, terminate and detach: `utils.loads`
/// the connection_info, then the libvirt volume driver of its `driver_volume_type`
/// (`nova/virt/libvirt/volume.py`) reads `data`: iSCSI logs in to `target_portal` /
/// `target_iqn` (CHAP from `auth_*`) and opens `/dev/disk/by-path/ip-PORTAL-iscsi-IQN-lun-LUN`;
/// rbd and sheepdog name the network disk `PROTOCOL:NAME`. Every read checks the JSON type Essex
/// needs. Returns the device and `data`.
fn essex_attaches(text: &str) -> (String, serde_json::Map<String, Json>) {
    let info: Json = serde_json::from_str(text).unwrap_or_else(|e| panic!("connection_info is not JSON ({e}): {text}"));
    let data = info["data"].as_object().expect("data is an object").clone();
    let str_of = |k: &str| data[k].as_str().unwrap_or_else(|| panic!("{k} is a string: {text}")).to_string();
    let device = match info["driver_volume_type"].as_str().expect("driver_volume_type is a string") {
        "iscsi" => {
            assert!(data["target_discovered"].is_boolean(), "target_discovered is a bool: {text}");
            assert!(data["volume_id"].is_u64(), "volume_id is an integer: {text}");
            let lun = data.get("target_lun").map_or(0, |l| l.as_u64().unwrap_or_else(|| panic!("target_lun is an integer: {text}")));
            if data.contains_key("auth_method") {
                for k in ["auth_method", "auth_username", "auth_password"] {
                    str_of(k);
                }
            }
            format!("/dev/disk/by-path/ip-{}-iscsi-{}-lun-{lun}", str_of("target_portal"), str_of("target_iqn"))
        }
        protocol @ ("rbd" | "sheepdog") => format!("{protocol}:{}", str_of("name")),
        other => panic!("Essex 2012.1 has no libvirt volume driver for `{other}`"),
    };
    (device, data)
}

/// An empty image map, for clouds whose image references do not matter here.
fn empty_map(dir: &Path) -> String {
    let map = dir.join("empty-map.csv");
    std::fs::write(&map, "old_id,new_id\n").unwrap();
    map.to_str().unwrap().to_string()
}

fn generated_nova(server: &Server, label: &str, driver: nova_gen::VolumeDriver) -> FreshDb {
    let nova = support::fresh_db(server, label);
    Db::create_database_if_missing(&nova.url).unwrap();
    let now = osmigrate::db::value::parse_datetime("2012-03-01 12:00:00").unwrap();
    let shape = nova_gen::Shape { instances: 24, volumes: 8, volume_driver: driver, now, batch_size: 50, ..nova_gen::Shape::demo() };
    nova_gen::generate(&mut Db::connect(&nova.url, Access::ReadWrite).unwrap(), &shape).unwrap();
    nova
}

#[test]
fn connection_info_of_san_volumes_with_chap_on_every_backend() {
    for server in support::servers() {
        let ctx = server.name();
        let dir = tempfile::tempdir().unwrap();
        let nova = generated_nova(&server, "nova_san", nova_gen::VolumeDriver::HpSan);
        let target = support::fresh_db(&server, "nova_san_essex");
        let driver = format!("volume_driver={}", nova_gen::VolumeDriver::HpSan.class());
        let args = ["--image-map", &empty_map(dir.path()), "--set", "connection_type=libvirt", "--set", &driver];
        let out = osmigrate()
            .args(["db", "migrate", "nova", "--from", &nova.url.expose_secret(), "--to", &target.url.expose_secret(), "--json"])
            .args(args)
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.code().unwrap() <= 1, "{ctx}: {stderr}");
        let report: Json = serde_json::from_str(&stdout).unwrap();

        // Each live mapping as Essex reads it, against the volume row read here: the portal before
        // the first comma, the IQN, no LUN field so ietadm's 0, CHAP split on blanks.
        let attached = live_volume_mappings(&nova.url);
        assert_eq!(attached.len(), 4, "{ctx}");
        for (bdm, volume) in &attached {
            let v = &rows(&nova.url, &format!("SELECT provider_location, provider_auth FROM volumes WHERE id = {volume}"))[0];
            let (location, auth): (Vec<&str>, Vec<&str>) = (v[0].split(' ').collect(), v[1].split_whitespace().collect());
            let (device, data) = essex_attaches(&connection_info(&target.url, bdm));
            let portal = location[0].split(',').next().unwrap();
            assert_eq!(device, format!("/dev/disk/by-path/ip-{portal}-iscsi-{}-lun-0", location[1]), "{ctx}: bdm {bdm}");
            assert_eq!(data["target_discovered"], Json::Bool(false), "{ctx}: a stored location, no discovery");
            assert_eq!(data["volume_id"].to_string(), *volume, "{ctx}");
            let chap: Vec<&str> = ["auth_method", "auth_username", "auth_password"].iter().map(|k| data[*k].as_str().unwrap()).collect();
            assert_eq!((chap, auth[0]), (auth.clone(), "CHAP"), "{ctx}: CHAP as provider_auth holds it");
            assert!(auth[2].starts_with("project_secret_"), "{ctx}");
        }
        assert_eq!(finding(&report, "bdm_connection_info_rebuilt", "block_device_mapping").unwrap()["count"], 4, "{ctx}");
        // The CHAP password is a secret: nowhere in the report, on either stream.
        assert!(!stdout.contains("project_secret_") && !stderr.contains("project_secret_"), "{ctx}: {stdout}");
        assert!(stdout.contains("CHAP user proj_"), "{ctx}: the report names the method and user");
    }
}

#[test]
fn connection_info_that_cannot_be_built_is_reported_with_its_fix() {
    let server = &support::servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let map = empty_map(dir.path());
    let nova = generated_nova(server, "nova_nofix", nova_gen::VolumeDriver::Iscsi);
    let attached = live_volume_mappings(&nova.url);
    let migrate = |label: &str, set: &[&str]| {
        let target = support::fresh_db(server, label);
        let mut args = vec!["--image-map", map.as_str(), "--set", "connection_type=libvirt"];
        for s in set {
            args.extend(["--set", s]);
        }
        let (code, report, stderr) = migrate_nova(&nova.url, &target.url, &args);
        assert_eq!(code, 1, "{stderr}");
        (target, report)
    };
    let fixes = |report: &Json| -> Vec<String> {
        let f = finding(report, "bdm_without_connection_info", "block_device_mapping").unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!(f["count"], attached.len());
        f["rows"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().split_once(": fix: ").unwrap().1.to_string()).collect()
    };

    // Diablo's iscsi_ip_prefix left at $my_ip: the address is unknown. The fix is the statement
    // that sets what a run that knew the address writes, with ADDRESS to fill in.
    let (unknown, report) = migrate("nova_noaddr", &[]);
    let (known, _) = migrate("nova_addr", &["iscsi_ip_address=192.168.0.20"]);
    let mut db = Db::connect(&unknown.url, Access::ReadWrite).unwrap();
    for fix in fixes(&report) {
        let sql = fix.split_once(" with ADDRESS").unwrap().0.replace("ADDRESS", "192.168.0.20");
        db.execute(&sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    for (bdm, _) in &attached {
        let fixed = connection_info(&unknown.url, bdm);
        assert_eq!(
            essex_attaches(&fixed),
            essex_attaches(&connection_info(&known.url, bdm)),
            "bdm {bdm}: the fix gives what osmigrate builds"
        );
    }

    // RBD and Sheepdog: what Essex's drivers name the volume.
    let (rbd, _) = migrate("nova_rbd", &["volume_driver=nova.volume.driver.RBDDriver", "rbd_pool=volumes"]);
    let (sheepdog, _) = migrate("nova_sheepdog", &["volume_driver=nova.volume.driver.SheepdogDriver"]);
    for (bdm, volume) in &attached {
        let name = format!("volume-{:08x}", volume.parse::<i64>().unwrap());
        assert_eq!(essex_attaches(&connection_info(&rbd.url, bdm)).0, format!("rbd:volumes/{name}"));
        assert_eq!(essex_attaches(&connection_info(&sheepdog.url, bdm)).0, format!("sheepdog:{name}"));
    }

    // AoE is gone from Essex: reported with the detach that fixes it, nothing written.
    let (aoe, report) = migrate("nova_aoe", &["volume_driver=nova.volume.driver.AOEDriver", "iscsi_ip_address=192.168.0.20"]);
    let (_, volume) = &attached[0];
    assert!(
        fixes(&report)[0].starts_with(&format!("detach it under Diablo (`euca-detach-volume vol-{:08x}`)", volume.parse::<i64>().unwrap()))
    );
    assert!(
        finding(&report, "bdm_without_connection_info", "block_device_mapping").unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("no AoE volume driver")
    );
    assert_eq!(rows(&aoe.url, "SELECT COUNT(*) FROM block_device_mapping WHERE connection_info IS NOT NULL"), [["0"]]);

    // Attached volumes on two hosts: one address cannot be both portals.
    Db::connect(&nova.url, Access::ReadWrite)
        .unwrap()
        .execute(&format!("UPDATE volumes SET host = 'volume2' WHERE id = {volume}"), &[])
        .unwrap();
    let (_, report) = migrate("nova_twohosts", &["iscsi_ip_address=192.168.0.20"]);
    let f = finding(&report, "bdm_without_connection_info", "block_device_mapping").unwrap();
    assert!(f["message"].as_str().unwrap().contains("live on 2 hosts"), "{f}");
}

#[test]
fn other_drivers_keep_the_local_disk_as_root() {
    let server = &support::servers()[0];
    let cloud = cloud(server, 10);
    let target = support::fresh_db(server, "nova_xen");
    let (code, _, stderr) =
        migrate_nova(&cloud.nova.url, &target.url, &["--image-map", cloud.map_csv.to_str().unwrap(), "--set", "connection_type=xenapi"]);
    assert_eq!(code, 1, "{stderr}");
    let want = rows(&cloud.nova.url, "SELECT id, local_gb, 0 FROM instances ORDER BY id");
    assert_eq!(rows(&target.url, "SELECT id, root_gb, ephemeral_gb FROM instances ORDER BY id"), want);
    let want = rows(&cloud.nova.url, "SELECT id, local_gb, 0 FROM instance_types ORDER BY id");
    assert_eq!(rows(&target.url, "SELECT id, root_gb, ephemeral_gb FROM instance_types ORDER BY id"), want);
}

#[test]
fn the_map_can_come_from_glance_itself() {
    support::each_server(|server| {
        let cloud = cloud(&server, 10);
        let map = map_of(&cloud.map_csv);
        // osmigrate's own Essex Glance: its map table.
        let target = support::fresh_db(&server, "nova_from_glance");
        let (code, _, stderr) = migrate_nova(&cloud.nova.url, &target.url, &["--image-map", &cloud.glance_essex.url.expose_secret()]);
        assert_eq!(code, 1, "{stderr}");
        let s3: BTreeMap<i64, String> =
            rows(&target.url, "SELECT id, uuid FROM s3_images").into_iter().map(|r| (r[0].parse().unwrap(), r[1].clone())).collect();
        assert_eq!(s3, map, "{}", server.name());

        // Too many images to hold: each batch looks up its own, to the same references.
        let looked_up = support::fresh_db(&server, "nova_looked_up");
        let out = osmigrate()
            .args(["db", "migrate", "nova", "--from", &cloud.nova.url.expose_secret(), "--to", &looked_up.url.expose_secret()])
            .args(["--batch-size", "3", "--image-map", &cloud.glance_essex.url.expose_secret()])
            .env("OSMIGRATE_HELD_IMAGES", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let refs = "SELECT id, image_ref, kernel_id, ramdisk_id FROM instances ORDER BY id";
        let held = rows(&target.url, refs);
        assert!(held.iter().any(|r| map.values().any(|uuid| r[1].contains(uuid.as_str()))), "{}: references were rewritten", server.name());
        assert_eq!(rows(&looked_up.url, refs), held, "{}", server.name());

        // A Glance upstream migrated keeps no map: rebuilt from the ids in file and swift locations.
        Db::connect(&cloud.glance_essex.url, Access::ReadWrite).unwrap().execute("DROP TABLE osmigrate_image_map", &[]).unwrap();
        let rebuilt = support::fresh_db(&server, "nova_rebuilt");
        let (code, report, stderr) = migrate_nova(&cloud.nova.url, &rebuilt.url, &["--image-map", &cloud.glance_essex.url.expose_secret()]);
        assert_eq!(code, 1, "{stderr}");
        let s3: BTreeMap<i64, String> =
            rows(&rebuilt.url, "SELECT id, uuid FROM s3_images").into_iter().map(|r| (r[0].parse().unwrap(), r[1].clone())).collect();
        let placeable: Vec<String> =
            rows(&cloud.glance_essex.url, "SELECT id FROM images WHERE location LIKE '%://%'").into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(s3.len(), placeable.len(), "{}", server.name());
        assert!(s3.iter().all(|(old, new)| map[old] == *new), "{}: rebuilt entries agree with the real map", server.name());
        let unplaced = finding(&report, "image_not_placed", "image_map").unwrap();
        assert_eq!(unplaced["count"].as_u64().unwrap() as usize, map.len() - placeable.len());
    });
}

#[test]
fn an_interrupted_run_ends_with_the_same_rows() {
    support::each_server(|server| {
        let cloud = cloud(&server, 15);
        let target = support::fresh_db(&server, "nova_resume");
        let args = ["--image-map", cloud.map_csv.to_str().unwrap()];
        assert_eq!(migrate_nova(&cloud.nova.url, &target.url, &args).0, 1);
        let tables = ["instances", "fixed_ips", "floating_ips", "instance_info_caches", "s3_images", "block_device_mapping"];
        let snapshot = |url: &DbUrl| -> Vec<Vec<Vec<String>>> {
            tables
                .iter()
                .map(|t| {
                    let cols = if *t == "instance_info_caches" { "instance_id, network_info" } else { "*" };
                    rows(url, &format!("SELECT {cols} FROM {t} ORDER BY 1"))
                })
                .collect()
        };
        let whole = snapshot(&target.url);
        assert_eq!(autovacuum_off(&server, &target.url), Vec::<String>::new(), "{}: autovacuum back on after the load", server.name());
        let mut db = Db::connect(&target.url, Access::ReadWrite).unwrap();
        // As a run killed during its load leaves them (PostgreSQL).
        db.set_autovacuum(["instances", "fixed_ips"], false).unwrap();
        db.execute("DELETE FROM osmigrate_journal WHERE step IN ('floating_ips', 'instance_info_caches', 'block_device_mapping', 'virtual_storage_arrays', 'dropped', 'finished')", &[]).unwrap();
        for step in ["instance_actions", "instance_metadata", "snapshots", "iscsi_targets", "volume_metadata", "volumes"] {
            db.execute("DELETE FROM osmigrate_journal WHERE step = ?", &[step.into()]).unwrap();
        }
        db.execute("DELETE FROM migrate_version", &[]).unwrap();
        db.execute("DELETE FROM instance_info_caches WHERE id > 3", &[]).unwrap();
        drop(db);
        // Finished with other settings, the rows would mix both; from another source, another cloud's.
        let xenapi = [&args[..], &["--set", "connection_type=xenapi"]].concat();
        let (code, _, stderr) = migrate_nova(&cloud.nova.url, &target.url, &xenapi);
        assert_eq!(code, 2, "{}: {stderr}", server.name());
        assert!(stderr.contains("started with other settings (connection_type ") && stderr.contains(" -> xenapi)"), "{stderr}");
        if let Some(path) = &cloud.nova.url.path {
            let copy = path.with_extension("copy.sqlite");
            std::fs::copy(path, &copy).unwrap();
            let (code, _, stderr) = migrate_nova(&DbUrl::sqlite(&copy), &target.url, &args);
            assert_eq!(code, 2, "{stderr}");
            assert!(stderr.contains("was started from sqlite:") && stderr.contains("copy.sqlite; give that source"), "{stderr}");
        }
        let (code, report, stderr) = migrate_nova(&cloud.nova.url, &target.url, &args);
        assert_eq!(code, 1, "{}: {stderr}", server.name());
        assert_eq!(report["outcome"], "resumed");
        assert_eq!(snapshot(&target.url), whole, "{}: same rows as the uninterrupted run", server.name());
        assert_eq!(
            autovacuum_off(&server, &target.url),
            Vec::<String>::new(),
            "{}: the resumed run turns autovacuum back on",
            server.name()
        );
    });
}

/// The tables of a PostgreSQL database whose autovacuum is turned off (none elsewhere).
fn autovacuum_off(server: &Server, url: &DbUrl) -> Vec<String> {
    if server.backend != Backend::Postgres {
        return Vec::new();
    }
    let off = rows(url, "SELECT relname FROM pg_class WHERE relkind = 'r' AND reloptions::text LIKE '%autovacuum_enabled%' ORDER BY 1");
    off.into_iter().flatten().collect()
}

#[test]
fn what_is_not_a_diablo_nova_is_refused() {
    let server = &support::servers()[0];
    let cloud = cloud(server, 5);
    let map = cloud.map_csv.to_str().unwrap();
    let target = support::fresh_db(server, "t");
    let mut db = Db::connect(&cloud.nova.url, Access::ReadWrite).unwrap();
    db.execute("UPDATE migrate_version SET version = 45", &[]).unwrap();
    let (code, _, err) = migrate_nova(&cloud.nova.url, &target.url, &["--image-map", map]);
    assert_eq!(code, 2);
    assert!(err.contains("migrate version 45"), "{err}");
    db.execute("UPDATE migrate_version SET version = 46", &[]).unwrap();
    let keystone = support::generated_keystone(server, "ks", &[]);
    let (code, _, err) = migrate_nova(&keystone.url, &target.url, &["--image-map", map]);
    assert_eq!(code, 2);
    assert!(err.contains("not a versioned Nova database"), "{err}");
    let (code, _, err) = migrate_nova(&cloud.nova.url, &target.url, &["--image-map", "/no/such/map.csv"]);
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = migrate_nova(&cloud.nova.url, &target.url, &["--image-map", map, "--set", "connection_type="]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("connection_type"), "{err}");
    db.execute("UPDATE instances SET uuid = (SELECT uuid FROM instances WHERE id = 1) WHERE id = 2", &[]).unwrap();
    let (code, _, err) = migrate_nova(&cloud.nova.url, &target.url, &["--image-map", map]);
    assert_eq!(code, 2);
    assert!(err.contains("shared by several instances"), "{err}");
}

/// Text in an integer column (only a SQLite source can hold it) into every backend, and MySQL's
/// zero dates (only a MySQL source has them) into every backend, in a copied table with rules
/// (instances) and a verbatim one (key_pairs: on the same MySQL server, copied on the server).
#[test]
fn text_in_integer_columns_and_zero_dates_reach_the_report() {
    let servers = support::servers();
    let lite = generated_nova(&servers[0], "nova_text", nova_gen::VolumeDriver::Iscsi);
    let mut db = Db::connect(&lite.url, Access::ReadWrite).unwrap();
    db.execute("UPDATE instances SET memory_mb = 'lots' WHERE id = 2", &[]).unwrap();
    // SQLite keeps a REAL in an integer column: a whole one is that integer, a fraction is not one.
    db.execute("UPDATE instances SET vcpus = 1.5, memory_mb = 512.0 WHERE id = 4", &[]).unwrap();
    db.execute("UPDATE instance_types SET rxtx_cap = 'unlimited', flavorid = 1.5 WHERE name = 'm1.large'", &[]).unwrap();
    // A fraction below the other caps is no cap: it neither sets the base nor gets a factor.
    db.execute("UPDATE instance_types SET rxtx_cap = 49.5 WHERE name = 'm1.small'", &[]).unwrap();
    // Text in a datetime column: another spelling of one is that datetime; anything else is none.
    db.execute("UPDATE instances SET launched_at = 'yesterday', scheduled_at = '2012-02-14', terminated_at = 1329177600 WHERE id = 6", &[])
        .unwrap();
    // A vif whose network row is gone: its instance's cache cannot list its addresses.
    db.execute("PRAGMA foreign_keys = OFF", &[]).unwrap();
    db.execute("UPDATE virtual_interfaces SET network_id = 9999 WHERE id = 1", &[]).unwrap();
    let orphan =
        rows(&lite.url, "SELECT i.id, i.uuid, v.uuid FROM instances i JOIN virtual_interfaces v ON v.instance_id = i.id WHERE v.id = 1");
    let [instance_id, instance_uuid, vif_uuid] = <[String; 3]>::try_from(orphan[0].clone()).unwrap();
    drop(db);
    let mysql = servers.iter().find(|s| s.backend == Backend::Mysql).map(|s| {
        let nova = generated_nova(s, "nova_zero", nova_gen::VolumeDriver::Iscsi);
        let mut db = Db::connect(&nova.url, Access::ReadWrite).unwrap();
        db.execute("SET SESSION sql_mode = ''", &[]).unwrap();
        db.execute("UPDATE instances SET deleted_at = '0000-00-00 00:00:00' WHERE id IN (1, 3, 5)", &[]).unwrap();
        db.execute("UPDATE key_pairs SET created_at = '0000-00-00 00:00:00' WHERE id = 1", &[]).unwrap();
        nova
    });
    support::each_server(|server| {
        let dir = tempfile::tempdir().unwrap();
        let target = support::fresh_db(&server, "nova_essex");
        let (code, report, stderr) = migrate_nova(&lite.url, &target.url, &["--image-map", &empty_map(dir.path())]);
        let ctx = format!("SQLite source, {} target", server.name());
        assert!(code <= 1, "{ctx}: {stderr}");
        let not_integers: Vec<(String, Json)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "not_an_integer" && f["table"] == "instances")
            .map(|f| (f["message"].as_str().unwrap().split(' ').next().unwrap().to_string(), f["rows"].clone()))
            .collect();
        let expected = [("instances.memory_mb", json!(["id=2 memory_mb=`lots`"])), ("instances.vcpus", json!(["id=4 vcpus=`1.5`"]))];
        assert_eq!(not_integers, expected.map(|(c, r)| (c.to_string(), r)), "{ctx}");
        assert_eq!(rows(&target.url, "SELECT memory_mb FROM instances WHERE id = 2"), vec![vec!["NULL".to_string()]], "{ctx}");
        assert_eq!(
            rows(&target.url, "SELECT vcpus, memory_mb FROM instances WHERE id = 4"),
            vec![vec!["NULL".to_string(), "512".to_string()]],
            "{ctx}"
        );
        let large = rows(&target.url, "SELECT id, flavorid, rxtx_factor FROM instance_types WHERE name = 'm1.large'");
        assert_eq!(large[0][1..], ["1.5".to_string(), "1".to_string()], "{ctx}: {large:?}");
        let found = finding(&report, "not_an_integer", "instance_types").unwrap_or_else(|| panic!("{ctx}: {report}"));
        let small = rows(&target.url, "SELECT id, rxtx_factor FROM instance_types WHERE name = 'm1.small'");
        assert_eq!(
            found["rows"],
            json!([format!("id={} rxtx_cap=`unlimited`", large[0][0]), format!("id={} rxtx_cap=`49.5`", small[0][0])]),
            "{ctx}"
        );
        assert_eq!(small[0][1], "1", "{ctx}");
        assert_eq!(
            rows(&target.url, "SELECT DISTINCT rxtx_base FROM networks"),
            vec![vec!["50".to_string()]],
            "{ctx}: the base of the whole caps"
        );
        let fast = rows(&target.url, "SELECT rxtx_factor FROM instance_types WHERE name = 'x1.fastnet'");
        assert_eq!(fast[0][0], "2", "{ctx}");
        let not_datetimes: Vec<Json> =
            report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "not_a_datetime").map(|f| f["rows"][0].clone()).collect();
        assert_eq!(not_datetimes, [json!("id=6 launched_at=`yesterday`"), json!("id=6 terminated_at=`1329177600`")], "{ctx}");
        assert_eq!(rows(&target.url, "SELECT terminated_at FROM instances WHERE id = 6"), vec![vec!["NULL".to_string()]], "{ctx}");
        let carried = rows(&target.url, "SELECT launched_at, scheduled_at FROM instances WHERE id = 6");
        assert_eq!(carried, vec![vec!["NULL".to_string(), "2012-02-14 00:00:00.000000".to_string()]], "{ctx}");
        if server.backend == Backend::Sqlite {
            let stored = rows(&target.url, "SELECT length(scheduled_at) FROM instances WHERE id = 6");
            assert_eq!(stored[0][0], "26", "{ctx}: written as SQLAlchemy writes a datetime");
        }
        let found = finding(&report, "vif_without_network", "instances (066)").unwrap_or_else(|| panic!("{ctx}: {report}"));
        assert_eq!((found["severity"].as_str(), found["count"].as_u64()), (Some("warning"), Some(1)), "{ctx}");
        let example = found["rows"][0].as_str().unwrap();
        assert!(example.starts_with(&format!("id={instance_id} uuid={instance_uuid} vif {vif_uuid} (")), "{ctx}: {example}");
        let cache = rows(&target.url, &format!("SELECT network_info FROM instance_info_caches WHERE instance_id = '{instance_uuid}'"));
        assert!(
            cache[0][0].contains(&format!(r#"{{"id":"{vif_uuid}","address":"#)) && cache[0][0].contains(r#""network":null"#),
            "{ctx}: {cache:?}"
        );

        let Some(mysql) = &mysql else { return };
        let target = support::fresh_db(&server, "nova_essex_zero");
        let (code, report, stderr) = migrate_nova(&mysql.url, &target.url, &["--image-map", &empty_map(dir.path())]);
        let ctx = format!("MySQL source, {} target", server.name());
        assert!(code <= 1, "{ctx}: {stderr}");
        for (table, column, n) in [("instances", "deleted_at", 3), ("key_pairs", "created_at", 1)] {
            let found = finding(&report, "zero_date", table).unwrap_or_else(|| panic!("{ctx}: no zero_date for {table}: {report}"));
            assert_eq!((found["severity"].as_str(), found["count"].as_u64()), (Some("info"), Some(n)), "{ctx}: {table}");
            assert!(found["message"].as_str().unwrap().starts_with(&format!("{table}.{column} held MySQL's zero date")), "{ctx}");
        }
        let nulls = rows(&target.url, "SELECT COUNT(*) FROM instances WHERE id IN (1, 3, 5) AND deleted_at IS NULL");
        assert_eq!(nulls[0][0], "3", "{ctx}");
        assert_eq!(rows(&target.url, "SELECT created_at FROM key_pairs WHERE id = 1"), vec![vec!["NULL".to_string()]], "{ctx}");
    });
}

/// A NULL where Essex needs a value, in a table no rule touches (PostgreSQL to PostgreSQL: copied
/// as COPY text, never parsed; elsewhere through the engine), is refused naming table, row and
/// field, and the target is left unstamped.
#[test]
fn a_null_essex_refuses_in_a_verbatim_table_names_its_row_on_every_backend() {
    support::each_server(|server| {
        if server.backend == Backend::Sqlite {
            return; // SQLite cannot drop a NOT NULL in place; the engine's check is shared anyway.
        }
        let dir = tempfile::tempdir().unwrap();
        let nova = generated_nova(&server, "nova_null", nova_gen::VolumeDriver::Iscsi);
        let mut db = Db::connect(&nova.url, Access::ReadWrite).unwrap();
        db.execute(
            match server.backend {
                Backend::Mysql => "ALTER TABLE instance_metadata MODIFY instance_id INTEGER NULL",
                _ => "ALTER TABLE instance_metadata ALTER COLUMN instance_id DROP NOT NULL",
            },
            &[],
        )
        .unwrap();
        db.execute("INSERT INTO instance_metadata (id, instance_id, deleted) VALUES (9001, NULL, false)", &[]).unwrap();
        let target = support::fresh_db(&server, "nova_null_essex");
        let (code, _, stderr) = migrate_nova(&nova.url, &target.url, &["--image-map", &empty_map(dir.path()), "-vv"]);
        let ctx = server.name();
        assert_eq!(code, 2, "{ctx}: {stderr}");
        if server.backend == Backend::Postgres {
            assert!(stderr.contains("rows copied") && stderr.contains("table=fixed_ips"), "{ctx}: COPY text was used: {stderr}");
        }
        assert!(
            stderr.contains("instance_metadata row 9001, field `instance_id`: is NULL, but instance_metadata.instance_id requires a value"),
            "{ctx}: {stderr}"
        );
        let stamped = rows(&target.url, "SELECT COUNT(*) FROM migrate_version");
        assert_eq!(stamped[0][0], "0", "{ctx}: a refused run leaves the target unstamped");
    });
}

/// A row naming a parent row that does not exist (Diablo on SQLite or MyISAM never checked) fails
/// the Essex foreign key on every backend, and the refusal names the row, the field and the
/// missing parent, whichever way the table was copied.
#[test]
fn a_row_naming_a_missing_parent_is_refused_by_name_on_every_backend() {
    support::each_server(|server| {
        let dir = tempfile::tempdir().unwrap();
        let nova = generated_nova(&server, "nova_orphan", nova_gen::VolumeDriver::Iscsi);
        let mut db = Db::connect(&nova.url, Access::ReadWrite).unwrap();
        match server.backend {
            Backend::Sqlite => {
                db.execute("PRAGMA foreign_keys = OFF", &[]).unwrap();
            }
            Backend::Mysql => {
                db.execute("SET FOREIGN_KEY_CHECKS = 0", &[]).unwrap();
            }
            Backend::Postgres => {
                db.execute("ALTER TABLE instance_metadata DROP CONSTRAINT IF EXISTS instance_metadata_instance_id_fkey", &[]).unwrap();
            }
        }
        db.execute(
            "INSERT INTO instance_metadata (id, instance_id, deleted, \"key\", value) VALUES (9001, 777777, false, 'k', 'v')"
                .replace('"', if server.backend == Backend::Mysql { "`" } else { "\"" })
                .as_str(),
            &[],
        )
        .unwrap();
        drop(db);
        let target = support::fresh_db(&server, "nova_orphan_essex");
        let (code, _, stderr) = migrate_nova(&nova.url, &target.url, &["--image-map", &empty_map(dir.path())]);
        let ctx = server.name();
        assert_eq!(code, 2, "{ctx}: {stderr}");
        assert!(
            stderr.contains("instance_metadata row 9001, field `instance_id`: names instances id=777777, which does not exist"),
            "{ctx}: {stderr}"
        );
        assert_eq!(rows(&target.url, "SELECT COUNT(*) FROM migrate_version")[0][0], "0", "{ctx}: unstamped");
    });
}
