//! `block_device_mapping.connection_info` for volumes attached under Diablo, which migration 053
//! leaves NULL: built as Essex 2012.1's own volume driver builds it at attach time
//! (`nova/volume/driver.py` `initialize_connection`, stored by `nova/compute/manager.py` as
//! `utils.dumps(connection_info)`), from what Diablo kept: the volume's `provider_location`,
//! `provider_auth`, host and `iscsi_targets` row, and the `volume_driver` / `iscsi_*` / `rbd_pool`
//! / `volume_name_template` flags. Essex's compute reads it back with `utils.loads` and hands
//! `driver_volume_type` and `data` to the libvirt volume driver on every reboot, terminate and
//! detach. Where Essex itself could not build it, the reason and the fix are returned instead.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Value as Json, json};

use super::Settings;
use crate::config::options::is_py_space;

/// The Diablo `volume_driver` and what Essex 2012.1 has for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    /// Essex's `ISCSIDriver` (and the SAN drivers built on it). `discovery`: a volume without
    /// `provider_location` is found by sendtargets discovery on its host (the LVM driver, which in
    /// Diablo never stored a location; the SAN drivers always did).
    Iscsi {
        discovery: bool,
    },
    Rbd,
    Sheepdog,
    /// A Diablo driver Essex no longer ships.
    Removed(&'static str),
    /// A test driver or another module's class: nothing osmigrate can build for it.
    Other,
}

impl Driver {
    pub fn from_class(class: &str) -> Driver {
        match class.trim() {
            "nova.volume.driver.ISCSIDriver" => Driver::Iscsi { discovery: true },
            "nova.volume.san.SolarisISCSIDriver" | "nova.volume.san.HpSanISCSIDriver" => Driver::Iscsi { discovery: false },
            "nova.volume.driver.RBDDriver" => Driver::Rbd,
            "nova.volume.driver.SheepdogDriver" => Driver::Sheepdog,
            "nova.volume.driver.AOEDriver" | "nova.volume.driver.FakeAOEDriver" => Driver::Removed("Essex 2012.1 has no AoE volume driver"),
            "nova.volume.driver.ZadaraBEDriver" => Driver::Removed("Essex 2012.1 has no Zadara (VSA) volume driver"),
            _ => Driver::Other,
        }
    }
}

/// The flags Essex's volume driver reads, as the converted nova.conf will hold them.
#[derive(Debug, Clone)]
pub struct Config {
    pub driver_class: String,
    pub driver: Driver,
    pub volume_name_template: String,
    pub iscsi_target_prefix: String,
    pub rbd_pool: String,
    /// Where Essex's discovery looks for a target: a literal address, or unknown (`$my_ip`, a
    /// prefix).
    pub iscsi_ip_address: Option<String>,
    pub iscsi_port: i64,
    /// `tgtadm` numbers the first LUN 1, `ietadm` (and anything else) 0.
    pub tgtadm: bool,
    /// Hosts of the volumes that need discovery: one address cannot be the portal of several.
    pub discovery_hosts: BTreeSet<String>,
}

impl Config {
    pub fn new(s: &Settings) -> Config {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let class = text(&s.volume_driver.value);
        Config {
            driver: Driver::from_class(&class),
            driver_class: class,
            volume_name_template: text(&s.volume_name_template.value),
            iscsi_target_prefix: text(&s.iscsi_target_prefix.value),
            rbd_pool: text(&s.rbd_pool.value),
            iscsi_ip_address: s.iscsi_ip_address.value.clone(),
            iscsi_port: s.iscsi_port.value.as_deref().and_then(|p| p.parse().ok()).unwrap_or(3260),
            tgtadm: s.iscsi_helper.value.as_deref() == Some("tgtadm"),
            discovery_hosts: BTreeSet::new(),
        }
    }

    /// Whether Essex would find this volume by discovery (no stored location).
    pub fn needs_discovery(&self, v: &Volume) -> bool {
        self.driver == (Driver::Iscsi { discovery: true }) && v.provider_location.as_deref().is_none_or(str::is_empty)
    }
}

/// What Diablo kept of a volume.
#[derive(Debug, Clone, Default)]
pub struct Volume {
    pub id: i64,
    pub host: Option<String>,
    pub provider_location: Option<String>,
    /// `CHAP user password`: a secret, never shown.
    pub provider_auth: Option<String>,
    pub deleted: bool,
    /// An `iscsi_targets` row names it (Essex's `ensure_export` re-exports it with that target id).
    pub has_iscsi_target: bool,
}

/// How a connection was built, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Location,
    Discovery,
    Rbd,
    Sheepdog,
}

impl How {
    pub fn message(self) -> &'static str {
        match self {
            How::Location => {
                "connection_info built as Essex's ISCSIDriver.initialize_connection builds it from the volume's provider_location \
                 (and provider_auth): Essex can reboot, terminate and detach the instance"
            }
            How::Discovery => {
                "connection_info built as Essex's ISCSIDriver finds a volume without provider_location: by discovery, the target \
                 iscsi_target_prefix + volume name at iscsi_ip_address:iscsi_port (target_discovered true); Essex can reboot, \
                 terminate and detach the instance"
            }
            How::Rbd => "connection_info built as Essex's RBDDriver builds it (rbd, name rbd_pool/volume name)",
            How::Sheepdog => "connection_info built as Essex's SheepdogDriver builds it (sheepdog, name the volume name)",
        }
    }
}

/// Why no connection_info could be built, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    VolumeMissing,
    VolumeDeleted,
    DriverRemoved(&'static str),
    DriverOther,
    BadTemplate,
    BadLocation,
    BadAuth,
    /// A SAN driver's volume without a location: never exported.
    NotExported,
    /// Discovery would find nothing: no host, or no iSCSI target allocated.
    NoTarget,
    /// Discovery would answer, but at an address not known here; the sketch has `ADDRESS`.
    AddressUnknown(Json),
    /// Discovery volumes on several hosts: one iscsi_ip_address cannot be each one's.
    SeveralHosts(Json),
}

impl Reason {
    /// The finding's message: why, and the fix (the row says it for the row).
    pub fn message(&self, cfg: &Config) -> String {
        let why = match self {
            Reason::VolumeMissing | Reason::VolumeDeleted => "the mapping names no live volume".to_string(),
            Reason::DriverRemoved(why) => format!("volume_driver {}: {why}", cfg.driver_class),
            Reason::DriverOther => format!(
                "volume_driver {} is none of the drivers Diablo shipped that Essex 2012.1 serves (ISCSIDriver, the SAN iSCSI \
                 drivers, RBDDriver, SheepdogDriver)",
                cfg.driver_class
            ),
            Reason::BadTemplate => format!(
                "volume_name_template `{}` is not a %-format of one integer (with a width and precision of at most {MOST_PADDING})",
                cfg.volume_name_template
            ),
            Reason::BadLocation => "provider_location is not `PORTAL[,TPGT] IQN [LUN]`, so Essex's driver fails on it".to_string(),
            Reason::BadAuth => "provider_auth is not `METHOD USER PASSWORD`, so Essex's driver fails on it".to_string(),
            Reason::NotExported => "the SAN driver stored no provider_location: the volume was never exported".to_string(),
            Reason::NoTarget => "no iSCSI target was allocated for it (or it has no host): Essex's discovery finds no export".to_string(),
            Reason::AddressUnknown(_) => "Essex finds it by discovery at iscsi_ip_address, which is not a literal address here \
                                          (Diablo's iscsi_ip_prefix was a prefix or $my_ip)"
                .to_string(),
            Reason::SeveralHosts(_) => format!(
                "Essex finds it by discovery at its host's iscsi_ip_address, and such volumes live on {} hosts, which one \
                 address cannot serve",
                cfg.discovery_hosts.len()
            ),
        };
        format!(
            "a volume attached under Diablo has no connection_info Essex 2012.1 can use: {why}. Migration 053 leaves it NULL, and \
             Essex fails to reboot, terminate or detach the instance until it is set; each row says how"
        )
    }

    /// The fix for one mapping (never a secret: a password stays a placeholder).
    pub fn fix(&self, bdm_id: i64, volume_id: i64) -> String {
        let detach = format!("detach it under Diablo (`euca-detach-volume vol-{volume_id:08x}`) before the final migration");
        let set = |sketch: &Json| {
            format!("UPDATE block_device_mapping SET connection_info = '{}' WHERE id = {bdm_id}", sketch.to_string().replace('\'', "''"))
        };
        match self {
            Reason::VolumeMissing | Reason::VolumeDeleted => format!(
                "UPDATE block_device_mapping SET deleted = TRUE, deleted_at = CURRENT_TIMESTAMP WHERE id = {bdm_id} (in the \
                 Essex database)"
            ),
            Reason::DriverRemoved(_) => format!("{detach} and copy its data to a volume of a driver Essex has"),
            Reason::DriverOther => format!(
                "{} with what that driver's Essex initialize_connection returns, or {detach} and attach it again under Essex",
                set(&json!({"driver_volume_type": "TYPE", "data": {}}))
            ),
            Reason::BadTemplate => "give --set volume_name_template=TEMPLATE (as Essex will have it) to a fresh run".to_string(),
            Reason::BadLocation | Reason::BadAuth | Reason::NotExported | Reason::NoTarget => {
                format!("{detach} and attach it again under Essex")
            }
            Reason::AddressUnknown(sketch) | Reason::SeveralHosts(sketch) => format!(
                "{} with ADDRESS the volume host's iSCSI address{} (or, with one volume host, give --set iscsi_ip_address=ADDRESS \
                 to a fresh run)",
                set(sketch),
                if sketch["data"].get("auth_password").is_some() { " and PASSWORD the one in volumes.provider_auth" } else { "" }
            ),
        }
    }
}

/// The connection_info Essex's driver would have stored for `volume` (`None`: the mapping names
/// no volume), or why there is none.
pub fn build(cfg: &Config, volume: Option<&Volume>) -> Result<(Json, How), Reason> {
    let v = volume.ok_or(Reason::VolumeMissing)?;
    if v.deleted {
        return Err(Reason::VolumeDeleted);
    }
    let name = || py_format_int(&cfg.volume_name_template, v.id).ok_or(Reason::BadTemplate);
    match cfg.driver {
        Driver::Removed(why) => Err(Reason::DriverRemoved(why)),
        Driver::Other => Err(Reason::DriverOther),
        Driver::Rbd => Ok((json!({"driver_volume_type": "rbd", "data": {"name": format!("{}/{}", cfg.rbd_pool, name()?)}}), How::Rbd)),
        Driver::Sheepdog => Ok((json!({"driver_volume_type": "sheepdog", "data": {"name": name()?}}), How::Sheepdog)),
        Driver::Iscsi { discovery } => {
            let location = v.provider_location.as_deref().filter(|l| !l.is_empty());
            if let Some(location) = location {
                return Ok((iscsi(cfg, v, location, false)?, How::Location));
            }
            if !discovery {
                return Err(Reason::NotExported);
            }
            if v.host.is_none() || !v.has_iscsi_target {
                return Err(Reason::NoTarget);
            }
            // What sendtargets answers for the target Essex's ensure_export re-creates: its
            // portal and IQN, no LUN.
            let iqn = format!("{}{}", cfg.iscsi_target_prefix, name()?);
            let line = |address: &str| format!("{address}:{},1 {iqn}", cfg.iscsi_port);
            let sketch = || {
                iscsi(cfg, v, &line("ADDRESS"), true).map(|mut j| {
                    if j["data"].get("auth_password").is_some() {
                        j["data"]["auth_password"] = json!("PASSWORD");
                    }
                    j
                })
            };
            if cfg.discovery_hosts.len() > 1 {
                return Err(Reason::SeveralHosts(sketch()?));
            }
            match &cfg.iscsi_ip_address {
                Some(address) => Ok((iscsi(cfg, v, &line(address), true)?, How::Discovery)),
                None => Err(Reason::AddressUnknown(sketch()?)),
            }
        }
    }
}

/// Essex's `_get_iscsi_properties` on a location (stored, or a discovery line).
fn iscsi(cfg: &Config, v: &Volume, location: &str, discovered: bool) -> Result<Json, Reason> {
    let fields: Vec<&str> = location.split(' ').collect();
    let portal = fields[0].split(',').next().unwrap_or_default();
    let iqn = fields.get(1).copied().unwrap_or_default();
    if portal.is_empty() || iqn.is_empty() {
        return Err(Reason::BadLocation);
    }
    let lun = match fields.get(2).map(|f| py_int(f)) {
        Some(PyInt::Int(n)) => n,
        Some(PyInt::TooBig) => return Err(Reason::BadLocation),
        None | Some(PyInt::NotInt) => i64::from(cfg.tgtadm),
    };
    let mut data = serde_json::Map::new();
    data.insert("target_discovered".into(), json!(discovered));
    data.insert("target_portal".into(), json!(portal));
    data.insert("target_iqn".into(), json!(iqn));
    data.insert("target_lun".into(), json!(lun));
    data.insert("volume_id".into(), json!(v.id));
    if let Some(auth) = v.provider_auth.as_deref().filter(|a| !a.is_empty()) {
        let words: Vec<&str> = auth.split(is_py_space).filter(|w| !w.is_empty()).collect();
        let [method, user, password] = words.as_slice() else { return Err(Reason::BadAuth) };
        data.insert("auth_method".into(), json!(method));
        data.insert("auth_username".into(), json!(user));
        data.insert("auth_password".into(), json!(password));
    }
    Ok(json!({"driver_volume_type": "iscsi", "data": data}))
}

/// A built connection for the report: its type and where it points, never the password.
pub fn summary(info: &Json) -> String {
    let d = &info["data"];
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    match info["driver_volume_type"].as_str() {
        Some("iscsi") => {
            let auth = d.get("auth_method").map(|m| format!(" {} user {}", m.as_str().unwrap_or_default(), s("auth_username")));
            format!("iscsi {} {} lun {}{}", s("target_portal"), s("target_iqn"), d["target_lun"], auth.unwrap_or_default())
        }
        Some(kind) => format!("{kind} {}", s("name")),
        None => String::new(),
    }
}

enum PyInt {
    Int(i64),
    NotInt,
    TooBig,
}

/// Python's `int(text)`: blanks around, an optional sign, decimal digits.
fn py_int(text: &str) -> PyInt {
    let t = text.trim_matches(is_py_space);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return PyInt::NotInt;
    }
    t.parse().map_or(PyInt::TooBig, PyInt::Int)
}

/// The widest field a volume name template may ask for: Essex's volume names are VARCHAR(255).
const MOST_PADDING: usize = 255;

/// A width or precision: none is 0; `None` beyond [`MOST_PADDING`].
fn padding(digits: &str) -> Option<usize> {
    if digits.is_empty() {
        return Some(0);
    }
    digits.parse::<usize>().ok().filter(|n| *n <= MOST_PADDING)
}

/// `template % n` as Python 2 formats one integer (`volume_name_template % volume['id']`); `None`
/// where Python raises (no conversion, more than one, or one an integer cannot fill), and for a
/// width or precision above [`MOST_PADDING`] (a name that long fits no volume's column; Python
/// would take minutes or all memory to pad it).
fn py_format_int(template: &str, n: i64) -> Option<String> {
    let mut out = String::new();
    let mut used = false;
    let mut rest = template;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let spec = &rest[at + 1..];
        let flags_end = spec.find(|c| !"-+ #0".contains(c)).unwrap_or(spec.len());
        let flags = &spec[..flags_end];
        let after_flags = &spec[flags_end..];
        let width_end = after_flags.find(|c: char| !c.is_ascii_digit()).unwrap_or(after_flags.len());
        let width = padding(&after_flags[..width_end])?;
        let mut tail = &after_flags[width_end..];
        let mut precision = None;
        if let Some(p) = tail.strip_prefix('.') {
            let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            precision = Some(padding(&p[..end])?);
            tail = &p[end..];
        }
        tail = tail.trim_start_matches(['h', 'l', 'L']);
        let ty = tail.chars().next()?;
        rest = &tail[ty.len_utf8()..];
        if ty == '%' {
            out.push('%');
            continue;
        }
        if used {
            return None;
        }
        used = true;
        let (left, zero) = (flags.contains('-'), flags.contains('0'));
        let (body, sign, prefix) = match ty {
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
                let m = n.unsigned_abs();
                let mut digits = match ty {
                    'x' => format!("{m:x}"),
                    'X' => format!("{m:X}"),
                    'o' => format!("{m:o}"),
                    _ => m.to_string(),
                };
                while digits.len() < precision.unwrap_or(0) {
                    digits.insert(0, '0');
                }
                let sign = if n < 0 {
                    "-"
                } else if flags.contains('+') {
                    "+"
                } else if flags.contains(' ') {
                    " "
                } else {
                    ""
                };
                let prefix = match (flags.contains('#'), ty) {
                    (true, 'x') => "0x",
                    (true, 'X') => "0X",
                    (true, 'o') if !digits.starts_with('0') => "0",
                    _ => "",
                };
                (digits, sign, prefix)
            }
            's' | 'r' => {
                let s = n.to_string();
                (precision.map_or(s.clone(), |p| s.chars().take(p).collect()), "", "")
            }
            _ => return None,
        };
        let len = sign.len() + prefix.len() + body.len();
        let pad = width.saturating_sub(len);
        let numeric = !matches!(ty, 's' | 'r');
        if left {
            let _ = write!(out, "{sign}{prefix}{body}{}", " ".repeat(pad));
        } else if zero && numeric {
            let _ = write!(out, "{sign}{prefix}{}{body}", "0".repeat(pad));
        } else {
            let _ = write!(out, "{}{sign}{prefix}{body}", " ".repeat(pad));
        }
    }
    out.push_str(rest);
    used.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(driver: &str) -> Config {
        Config {
            driver_class: driver.into(),
            driver: Driver::from_class(driver),
            volume_name_template: "volume-%08x".into(),
            iscsi_target_prefix: "iqn.2010-10.org.openstack:".into(),
            rbd_pool: "rbd".into(),
            iscsi_ip_address: Some("192.168.0.20".into()),
            iscsi_port: 3260,
            tgtadm: false,
            discovery_hosts: ["volume1".to_string()].into(),
        }
    }

    fn volume(location: Option<&str>, auth: Option<&str>) -> Volume {
        Volume {
            id: 10,
            host: Some("volume1".into()),
            provider_location: location.map(str::to_owned),
            provider_auth: auth.map(str::to_owned),
            deleted: false,
            has_iscsi_target: true,
        }
    }

    const ISCSI: &str = "nova.volume.driver.ISCSIDriver";
    const HPSAN: &str = "nova.volume.san.HpSanISCSIDriver";

    #[test]
    fn python_percent_format_of_one_integer() {
        for (template, want) in [
            ("volume-%08x", "volume-0000000a"),
            ("%08.3d", "00000010"),
            ("%#o", "012"),
            ("%#x", "0xa"),
            ("%+d", "+10"),
            ("% d", " 10"),
            ("%-6d|", "10    |"),
            ("%5s", "   10"),
            ("%.1s", "1"),
            ("%05s", "   10"),
            ("%x%%", "a%"),
            ("vol-%ld", "vol-10"),
            ("%#08x", "0x00000a"),
            ("%-08d|", "10      |"),
        ] {
            assert_eq!(py_format_int(template, 10).as_deref(), Some(want), "{template}");
        }
        assert_eq!(py_format_int("%08x", -10).as_deref(), Some("-000000a"));
        assert_eq!(py_format_int("%0255d", 10).map(|s| s.len()), Some(255));
        for raises in ["volume", "%d-%d", "%(id)s", "%*d", "%c", "%f", "trailing %", "volume-%.99999999d", "%09999999999999999999999d"] {
            assert_eq!(py_format_int(raises, 10), None, "{raises}");
        }
    }

    #[test]
    fn a_stored_location_is_read_as_essex_reads_it() {
        let cfg = config(HPSAN);
        let v = volume(Some("192.168.0.30:3260,1 iqn.2003-10.com.lefthandnetworks:g:37:volume-0000000a"), Some("CHAP proj_x  s3cret\t"));
        let (info, how) = build(&cfg, Some(&v)).unwrap();
        assert_eq!(how, How::Location);
        assert_eq!(
            info,
            json!({"driver_volume_type": "iscsi", "data": {
                "target_discovered": false, "target_portal": "192.168.0.30:3260",
                "target_iqn": "iqn.2003-10.com.lefthandnetworks:g:37:volume-0000000a", "target_lun": 0, "volume_id": 10,
                "auth_method": "CHAP", "auth_username": "proj_x", "auth_password": "s3cret"}})
        );
        assert!(!summary(&info).contains("s3cret"), "{}", summary(&info));
        // Essex's own three-field form keeps its LUN; a LUN that is no integer falls back to the helper's first.
        let essex = volume(Some("10.0.0.5:3260,4 iqn.2010-10.org.openstack:volume-0000000a 1"), None);
        assert_eq!(build(&cfg, Some(&essex)).unwrap().0["data"]["target_lun"], json!(1));
        let odd = volume(Some("10.0.0.5:3260,4 iqn.x lun-a"), None);
        assert_eq!(build(&Config { tgtadm: true, ..cfg.clone() }, Some(&odd)).unwrap().0["data"]["target_lun"], json!(1));
        assert_eq!(build(&cfg, Some(&odd)).unwrap().0["data"]["target_lun"], json!(0));
        assert_eq!(build(&cfg, Some(&volume(Some("10.0.0.5:3260,4"), None))), Err(Reason::BadLocation));
        assert_eq!(build(&cfg, Some(&volume(Some("10.0.0.5 iqn.x 99999999999999999999"), None))), Err(Reason::BadLocation));
        assert_eq!(build(&cfg, Some(&volume(Some("10.0.0.5 iqn.x"), Some("CHAP only-two")))), Err(Reason::BadAuth));
        assert_eq!(build(&cfg, Some(&volume(None, None))), Err(Reason::NotExported));
    }

    #[test]
    fn the_lvm_driver_is_found_by_discovery() {
        let cfg = config(ISCSI);
        let (info, how) = build(&cfg, Some(&volume(None, None))).unwrap();
        assert_eq!(how, How::Discovery);
        assert_eq!(
            info,
            json!({"driver_volume_type": "iscsi", "data": {
                "target_discovered": true, "target_portal": "192.168.0.20:3260",
                "target_iqn": "iqn.2010-10.org.openstack:volume-0000000a", "target_lun": 0, "volume_id": 10}})
        );
        let no_target = Volume { has_iscsi_target: false, ..volume(None, None) };
        assert_eq!(build(&cfg, Some(&no_target)), Err(Reason::NoTarget));
        let unknown = Config { iscsi_ip_address: None, ..cfg.clone() };
        let Err(Reason::AddressUnknown(sketch)) = build(&unknown, Some(&volume(Some(""), Some("CHAP u p4ss")))) else { panic!() };
        assert_eq!(sketch["data"]["target_portal"], "ADDRESS:3260");
        assert_eq!(sketch["data"]["auth_password"], "PASSWORD");
        let fix = Reason::AddressUnknown(sketch).fix(5, 10);
        assert!(fix.starts_with("UPDATE block_device_mapping SET connection_info = '{\"driver_volume_type\":\"iscsi\""), "{fix}");
        assert!(fix.contains("WHERE id = 5") && !fix.contains("p4ss"), "{fix}");
        let several = Config { discovery_hosts: ["a".to_string(), "b".to_string()].into(), ..cfg };
        assert!(matches!(build(&several, Some(&volume(None, None))), Err(Reason::SeveralHosts(_))));
    }

    #[test]
    fn network_volumes_and_drivers_essex_lacks() {
        let rbd = Config { rbd_pool: "volumes".into(), ..config("nova.volume.driver.RBDDriver") };
        assert_eq!(
            build(&rbd, Some(&volume(None, None))).unwrap(),
            (json!({"driver_volume_type": "rbd", "data": {"name": "volumes/volume-0000000a"}}), How::Rbd)
        );
        let sheepdog = config("nova.volume.driver.SheepdogDriver");
        assert_eq!(
            build(&sheepdog, Some(&volume(None, None))).unwrap().0,
            json!({"driver_volume_type": "sheepdog", "data": {"name": "volume-0000000a"}})
        );
        let bad = Config { volume_name_template: "volume".into(), ..sheepdog };
        assert_eq!(build(&bad, Some(&volume(None, None))), Err(Reason::BadTemplate));
        let aoe = config("nova.volume.driver.AOEDriver");
        assert_eq!(build(&aoe, Some(&volume(None, None))), Err(Reason::DriverRemoved("Essex 2012.1 has no AoE volume driver")));
        assert!(Reason::DriverRemoved("x").fix(5, 10).contains("euca-detach-volume vol-0000000a"));
        assert_eq!(build(&config("nova.volume.driver.FakeISCSIDriver"), Some(&volume(None, None))), Err(Reason::DriverOther));
        assert_eq!(build(&config(ISCSI), None), Err(Reason::VolumeMissing));
        let gone = Volume { deleted: true, ..volume(None, None) };
        assert_eq!(build(&config(ISCSI), Some(&gone)), Err(Reason::VolumeDeleted));
    }
}
