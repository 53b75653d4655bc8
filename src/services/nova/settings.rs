//! The nova.conf values Nova's data migrations depend on, and where each came from: `--set`, the
//! Diablo flagfile (read as gflags read it), Diablo's default, or (for an Essex-only option)
//! Essex's default.

use super::MapSource;
use crate::config::{self, Flagfile, FlagfileAt, Origin};
use crate::error::{Error, Result};
use crate::migrate::{Finding, Severity};

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
        Ok(Settings {
            connection_type: one("connection_type")?,
            public_interface: one("public_interface")?,
            default_floating_pool: one("default_floating_pool")?,
            ipv6_backend: one("ipv6_backend")?,
            stopped_at: file.as_ref().and_then(|f| f.stopped_at.as_ref()).map(|(p, l)| format!("{}:{l}", p.display())),
        })
    }

    /// The report's account of each value used.
    pub fn findings(&self, map: &MapSource) -> Vec<Finding> {
        let mut rows: Vec<String> = [&self.connection_type, &self.public_interface, &self.default_floating_pool, &self.ipv6_backend]
            .iter()
            .map(|s| format!("{} = {} ({})", s.name, s.value.as_deref().unwrap_or("(none)"), s.origin))
            .collect();
        rows.push(format!("image map: {}", map.describe()));
        let mut findings = vec![Finding {
            severity: Severity::Info,
            code: "settings".into(),
            table: "nova.conf".into(),
            message: "values the data migrations used, and where each came from".into(),
            count: rows.len() as u64,
            rows,
        }];
        if let Some(at) = &self.stopped_at {
            findings.push(Finding {
                severity: Severity::Warning,
                code: "flagfile_stopped".into(),
                table: "nova.conf".into(),
                message: "Diablo stopped reading nova.conf at an indented comment; later lines never took effect and were not used".into(),
                count: 1,
                rows: vec![at.clone()],
            });
        }
        findings
    }
}
