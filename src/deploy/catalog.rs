//! The catalog of a cloud that ran Nova's own auth. The Essex keystone.conf osmigrate renders
//! selects the templated catalog (`/etc/keystone/default_catalog.templates`), and Diablo had no
//! Keystone to carry one from, so it is made from the endpoints the Diablo configs name: nova.conf's
//! OpenStack (and, with it, Essex's volume) and EC2 APIs, the Glance API server Nova used, and
//! Keystone's own ports (5000, 35357, those of the shipped Essex keystone.conf) at the controller,
//! where nova-api runs.

use std::path::Path;

use super::discover::{self, Cloud};
use crate::config::ini::IniDoc;
use crate::config::report::ConfigReport;
use crate::config::upgrade::CATALOG_TEMPLATES;
use crate::config::{self, Origin, flagfile};
use crate::error::{Error, Result};
use crate::essex_keystone::catalog::{self, TemplateEntry};
use crate::rootfs;

/// The region of every entry: Nova's own auth had no regions, Essex's default is this one.
const REGION: &str = "RegionOne";

/// A setting of the Diablo nova.conf as Diablo read it, and where it came from.
struct Setting {
    value: Option<String>,
    origin: String,
}

/// The Diablo nova.conf's settings, flagfile or INI, with Diablo's defaults.
struct NovaConf {
    path: std::path::PathBuf,
    flags: Option<flagfile::Flagfile>,
    ini: Option<IniDoc>,
    /// The host's address, for `$my_ip`: set in nova.conf, or (on the host itself) found as Diablo found it.
    my_ip: Option<String>,
}

impl NovaConf {
    fn read(cloud: &Cloud) -> Result<NovaConf> {
        // As Diablo had it (osmigrate's backup once replaced), read under the root, includes too.
        let host = discover::diablo_host_file(&cloud.root, Path::new(discover::NOVA_CONF))?;
        let path = rootfs::under_root(&cloud.root, &host)?;
        let bytes = rootfs::read_config(&path, None)?;
        let (flags, ini) = if flagfile::is_flagfile(&String::from_utf8_lossy(&bytes)) {
            (Some(config::read_flagfiles(&[host], Path::new(discover::NOVA_CWD), &cloud.root)?), None)
        } else {
            (None, Some(IniDoc::parse(&bytes)))
        };
        let mut conf = NovaConf { path, flags, ini, my_ip: None };
        conf.my_ip = conf.raw("my_ip")?.value.or_else(|| (cloud.root == Path::new("/")).then(diablo_my_ip).flatten());
        Ok(conf)
    }

    /// The value as written (or Diablo's default), before `$name` substitution.
    fn raw(&self, name: &str) -> Result<Setting> {
        if let Some(ini) = &self.ini {
            if let Some(v) = ini.get("DEFAULT", name) {
                return Ok(Setting { value: Some(v), origin: self.path.display().to_string() });
            }
        }
        let r = config::resolve(name, self.flags.as_ref(), &[])?;
        let origin = match r.origin {
            Origin::File { path, line } => format!("{}:{line}", path.display()),
            Origin::DiabloDefault => "Diablo's default".into(),
            _ => "not set".into(),
        };
        Ok(Setting { value: r.value, origin })
    }

    /// The value with `$name` (gflags' template syntax) filled in, as Diablo's services saw it.
    fn get(&self, name: &str) -> Result<Setting> {
        let mut s = self.raw(name)?;
        s.value = match s.value {
            Some(v) => self.substitute(&v, 4)?,
            None if name == "my_ip" => self.my_ip.clone(),
            None => None,
        };
        Ok(s)
    }

    fn substitute(&self, value: &str, depth: u8) -> Result<Option<String>> {
        let Some(i) = value.find('$') else { return Ok(Some(value.to_string())) };
        let rest = value[i + 1..].trim_start_matches('{');
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let name = &rest[..len];
        let after = rest[len..].strip_prefix('}').unwrap_or(&rest[len..]);
        let inner = if name == "my_ip" { self.my_ip.clone() } else { self.raw(name)?.value };
        let Some(inner) = inner.filter(|_| depth > 0 && !name.is_empty()) else { return Ok(None) };
        let Some(inner) = self.substitute(&inner, depth - 1)? else { return Ok(None) };
        Ok(self.substitute(after, depth)?.map(|tail| format!("{}{inner}{tail}", &value[..i])))
    }
}

/// Diablo's `_get_my_ip`: the address of the interface that routes to the outside (no packet is
/// sent); none without a route.
fn diablo_my_ip() -> Option<String> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("8.8.8.8:80").ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}

/// The templates file of the cloud and the report of where each entry came from.
pub fn render(cloud: &Cloud) -> Result<(String, ConfigReport)> {
    let nova = NovaConf::read(cloud)?;
    let mut report = ConfigReport::new("keystone catalog");
    report.source(&nova.path);
    let host = |name: &str, report: &mut ConfigReport| -> Result<String> {
        let s = nova.get(name)?;
        Ok(s.value.filter(|v| !v.is_empty()).unwrap_or_else(|| {
            report.warn(
                "catalog_host_unknown",
                CATALOG_TEMPLATES,
                name,
                format!(
                    "nova.conf does not say which address {name} is (Diablo computed $my_ip on the host): 127.0.0.1 written; \
                     set my_ip in {} or correct the catalog",
                    nova.path.display()
                ),
            );
            "127.0.0.1".to_string()
        }))
    };
    let apis = nova.get("enabled_apis")?.value.unwrap_or_default();
    let has_api = |api: &str| apis.split(',').any(|a| a.trim() == api);
    let mut entries = Vec::new();
    let mut entry = |ty: &str, name: &str, public: String, admin: String, from: String, report: &mut ConfigReport| {
        report.info("catalog_entry", CATALOG_TEMPLATES, &format!("catalog.{REGION}.{ty}"), format!("{public} ({from})"));
        entries.push(TemplateEntry {
            region: REGION.into(),
            service_type: ty.into(),
            name: name.into(),
            internal_url: public.clone(),
            public_url: public,
            admin_url: admin,
        });
    };
    let controller = host("osapi_host", &mut report)?;
    entry(
        "identity",
        "Identity Service",
        format!("http://{controller}:5000/v2.0"),
        format!("http://{controller}:35357/v2.0"),
        "Keystone at the controller (osapi_host), the ports of the shipped keystone.conf".into(),
        &mut report,
    );
    let glance = nova.get("glance_api_servers")?;
    let glance_server = glance.value.as_deref().and_then(|v| v.split(',').next()).map(str::trim).filter(|v| !v.is_empty());
    let (image, from) = match glance_server {
        Some(server) => (format!("http://{server}/v1"), format!("glance_api_servers, {}", glance.origin)),
        None => (format!("http://{}:9292/v1", host("my_ip", &mut report)?), "Diablo's default glance_api_servers, $my_ip:9292".into()),
    };
    entry("image", "Image Service", image.clone(), image, from, &mut report);
    if has_api("osapi") {
        let (scheme, port, path) = (nova.get("osapi_scheme")?, nova.get("osapi_port")?, nova.get("osapi_path")?);
        let scheme = scheme.value.unwrap_or_else(|| "http".into());
        let port = port.value.unwrap_or_else(|| "8774".into());
        let path = path.value.unwrap_or_else(|| "/v1.1/".into());
        let path = if path.ends_with('/') { path } else { format!("{path}/") };
        let compute = format!("{scheme}://{controller}:{port}{path}$(tenant_id)s");
        entry("compute", "Compute Service", compute.clone(), compute, "osapi_host, osapi_port, osapi_path".into(), &mut report);
        // Essex's converted nova.conf runs Diablo's osapi as osapi_compute and osapi_volume.
        let volume = format!("{scheme}://{controller}:8776/v1/$(tenant_id)s");
        entry("volume", "Volume Service", volume.clone(), volume, "osapi_host, Essex's osapi_volume_listen_port".into(), &mut report);
    }
    if has_api("ec2") {
        let ec2_host = host("ec2_host", &mut report)?;
        let (scheme, port, path) = (nova.get("ec2_scheme")?, nova.get("ec2_port")?, nova.get("ec2_path")?);
        let scheme = scheme.value.unwrap_or_else(|| "http".into());
        let port = port.value.unwrap_or_else(|| "8773".into());
        let path = path.value.unwrap_or_else(|| "/services/Cloud".into());
        let public = format!("{scheme}://{ec2_host}:{port}{path}");
        let admin = match path.strip_suffix("/Cloud") {
            Some(base) => format!("{scheme}://{ec2_host}:{port}{base}/Admin"),
            None => public.clone(),
        };
        entry("ec2", "EC2 Service", public, admin, "ec2_host, ec2_port, ec2_path".into(), &mut report);
    }
    if let Some(why) = entries.iter().find_map(catalog::unrepresentable) {
        return Err(Error::Refused(format!("{}: the catalog cannot be written: {why}", nova.path.display())));
    }
    let header = "Essex Keystone catalog (TemplatedCatalog) of a cloud that ran Nova's own auth, from the endpoints its Diablo configs name (osmigrate).";
    Ok((catalog::render_with_header(header, &entries), report))
}
