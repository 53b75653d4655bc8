//! The nova.conf values Nova's data migrations depend on, and where each came from: `--set`, the
//! Diablo flagfile (read as gflags read it), Diablo's default, or (for an Essex-only option)
//! Essex's default.

use std::net::Ipv4Addr;

use crate::config::{self, Flagfile, FlagfileAt, Origin, Release};
use crate::error::{Error, Result};
use crate::images::map::MapSource;
use crate::migrate::{Finding, Severity};
use crate::reason::Reason;

#[derive(Debug, Clone)]
pub struct Setting {
    pub name: &'static str,
    pub value: Option<String>,
    pub origin: String,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// 074: libvirt sizes root and ephemeral disks differently from every other driver.
    pub connection_type: Setting,
    /// 067: every floating ip's `interface`.
    pub public_interface: Setting,
    /// 067: every floating ip's `pool` (an Essex option).
    pub default_floating_pool: Setting,
    /// 066: how IPv6 addresses are derived.
    pub ipv6_backend: Setting,
    /// Block device mappings: the volume driver and the flags its Essex counterpart builds
    /// connection_info from.
    pub volume_driver: Setting,
    pub volume_name_template: Setting,
    pub iscsi_target_prefix: Setting,
    pub rbd_pool: Setting,
    /// Essex's, as `config convert` writes it: Diablo's `iscsi_ip_prefix` when that is a whole
    /// address; `None` when it is not a literal address.
    pub iscsi_ip_address: Setting,
    /// Essex-only, from `--set` or Essex's default (`config convert` does not carry a Diablo
    /// file's line for an option Diablo lacked).
    pub iscsi_port: Setting,
    pub iscsi_helper: Setting,
    /// Where Diablo stopped reading the file (an indented comment), if it did.
    stopped_at: Option<String>,
}

impl Settings {
    pub fn resolve(nova_conf: Option<&FlagfileAt>, set: &[(String, String)]) -> Result<Settings> {
        let file: Option<Flagfile> = match nova_conf {
            None => None,
            Some(conf) => {
                let path = conf.local()?;
                let text = crate::rootfs::read_config(&path, None)?;
                if !config::is_flagfile(&String::from_utf8_lossy(&text)) {
                    return Err(Error::Usage(format!(
                        "{} is not a Diablo flagfile (no `--flag` lines): give the nova.conf Diablo ran with",
                        path.display()
                    )));
                }
                Some(conf.read()?)
            }
        };
        let one = |name: &'static str| -> Result<Setting> {
            let r = config::resolve(name, file.as_ref(), set)?;
            let origin = match &r.origin {
                Origin::Override => "--set".to_string(),
                Origin::File { path, line } => format!("{}:{line}", path.display()),
                Origin::DiabloDefault => "Diablo default".to_string(),
                Origin::EssexDefault => "Essex default (not a Diablo option)".to_string(),
                Origin::Missing => "not set, no default".to_string(),
            };
            Ok(Setting { name, value: r.value, origin })
        };
        let overridden = |name: &str| set.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let essex_only = |name: &'static str| match overridden(name) {
            Some(v) => Setting { name, value: Some(v), origin: "--set".into() },
            None => Setting {
                name,
                value: config::nova_option(Release::Essex, name).and_then(|o| o.default.clone()),
                origin: "Essex default (not a Diablo option)".into(),
            },
        };
        let iscsi_ip_address = match overridden("iscsi_ip_address") {
            Some(v) if v.parse::<Ipv4Addr>().is_ok() => Setting { name: "iscsi_ip_address", value: Some(v), origin: "--set".into() },
            Some(_) => return Err(Error::Usage("iscsi_ip_address: give the IPv4 address itself".into())),
            None => {
                let prefix = one("iscsi_ip_prefix")?;
                match prefix.value.filter(|v| v.parse::<Ipv4Addr>().is_ok()) {
                    Some(v) => Setting {
                        name: "iscsi_ip_address",
                        value: Some(v),
                        origin: format!("Diablo's iscsi_ip_prefix ({})", prefix.origin),
                    },
                    None => Setting {
                        name: "iscsi_ip_address",
                        value: None,
                        origin: "Diablo's iscsi_ip_prefix is no whole address: Essex's default is each volume host's $my_ip".into(),
                    },
                }
            }
        };
        let iscsi_port = essex_only("iscsi_port");
        if iscsi_port.value.as_deref().is_some_and(|p| p.parse::<u16>().is_err()) {
            return Err(Error::Usage("iscsi_port: give a port number".into()));
        }
        Ok(Settings {
            connection_type: one("connection_type")?,
            public_interface: one("public_interface")?,
            default_floating_pool: one("default_floating_pool")?,
            ipv6_backend: one("ipv6_backend")?,
            volume_driver: one("volume_driver")?,
            volume_name_template: one("volume_name_template")?,
            iscsi_target_prefix: one("iscsi_target_prefix")?,
            rbd_pool: one("rbd_pool")?,
            iscsi_ip_address,
            iscsi_port,
            iscsi_helper: essex_only("iscsi_helper"),
            stopped_at: file.as_ref().and_then(|f| f.stopped_at.as_ref()).map(|(p, l)| format!("{}:{l}", p.display())),
        })
    }

    fn all(&self) -> [&Setting; 11] {
        [
            &self.connection_type,
            &self.public_interface,
            &self.default_floating_pool,
            &self.ipv6_backend,
            &self.volume_driver,
            &self.volume_name_template,
            &self.iscsi_target_prefix,
            &self.rbd_pool,
            &self.iscsi_ip_address,
            &self.iscsi_port,
            &self.iscsi_helper,
        ]
    }

    /// Each value by name, as the journal records what a run was started with.
    pub fn values(&self) -> Vec<(String, String)> {
        self.all().iter().map(|s| (s.name.to_string(), s.value.clone().unwrap_or_else(|| "(none)".into()))).collect()
    }

    /// The report's account of each value used.
    pub fn findings(&self, map: &MapSource) -> Vec<Finding> {
        let mut rows: Vec<String> =
            self.all().iter().map(|s| format!("{} = {} ({})", s.name, s.value.as_deref().unwrap_or("(none)"), s.origin)).collect();
        rows.push(format!("image map: {}", map.describe()));
        let mut findings = vec![Finding {
            severity: Severity::Info,
            code: Reason::Settings,
            table: "nova.conf".into(),
            message: "values the data migrations used, and where each came from".into(),
            count: rows.len() as u64,
            rows,
        }];
        if let Some(at) = &self.stopped_at {
            findings.push(Finding {
                severity: Severity::Warning,
                code: Reason::FlagfileStopped,
                table: "nova.conf".into(),
                message: "Diablo stopped reading nova.conf at an indented comment; later lines never took effect and were not used".into(),
                count: 1,
                rows: vec![at.clone()],
            });
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(conf: &str, set: &[(&str, &str)]) -> Result<Settings> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nova.conf");
        std::fs::write(&path, conf).unwrap();
        let set: Vec<(String, String)> = set.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::resolve(Some(&FlagfileAt::host(path).unwrap()), &set)
    }

    #[test]
    fn volume_settings_as_essex_will_have_them() {
        // A whole-address iscsi_ip_prefix is Essex's iscsi_ip_address; an Essex-only line in a
        // Diablo file never took effect, so Essex's default stands.
        let s = resolve("--iscsi_ip_prefix=10.0.0.5\n--iscsi_helper=tgtadm\n--rbd_pool=volumes\n", &[]).unwrap();
        assert_eq!(s.iscsi_ip_address.value.as_deref(), Some("10.0.0.5"));
        assert!(s.iscsi_ip_address.origin.starts_with("Diablo's iscsi_ip_prefix ("), "{}", s.iscsi_ip_address.origin);
        assert_eq!((s.iscsi_helper.value.as_deref(), s.iscsi_port.value.as_deref()), (Some("ietadm"), Some("3260")));
        assert_eq!(
            (s.rbd_pool.value.as_deref(), s.volume_driver.value.as_deref()),
            (Some("volumes"), Some("nova.volume.driver.ISCSIDriver"))
        );
        // A prefix, or $my_ip, is no address.
        assert_eq!(resolve("--iscsi_ip_prefix=192.168.\n", &[]).unwrap().iscsi_ip_address.value, None);
        assert_eq!(resolve("--verbose\n", &[]).unwrap().iscsi_ip_address.value, None);
        let s = resolve("--iscsi_ip_prefix=192.168.\n", &[("iscsi_ip_address", "192.168.0.9"), ("iscsi_helper", "tgtadm")]).unwrap();
        assert_eq!((s.iscsi_ip_address.value.as_deref(), s.iscsi_helper.value.as_deref()), (Some("192.168.0.9"), Some("tgtadm")));
        assert!(resolve("--verbose\n", &[("iscsi_ip_address", "$my_ip")]).is_err());
        assert!(resolve("--verbose\n", &[("iscsi_port", "iscsi")]).is_err());
    }
}
