//! A Diablo `/etc` tree under a root directory: the shipped Diablo keystone, glance and nova paste
//! files (keystone-enabled variants), a flagfile `nova.conf`, and each file's database URL set to
//! the cloud's databases, as a packaged Diablo controller holds them. The controller's address and
//! the service token (`admin_token`) are the shipped ones unless a [`Site`] says otherwise
//! (`install --release diablo`).

use std::path::{Path, PathBuf};

use crate::config::upgrade::Rendered;
use crate::error::{Error, Result};

const KEYSTONE_CONF: &str = include_str!("diablo-etc/keystone.conf");
const GLANCE_API_CONF: &str = include_str!("diablo-etc/glance-api.conf");
const GLANCE_REGISTRY_CONF: &str = include_str!("diablo-etc/glance-registry.conf");
const NOVA_API_PASTE: &str = include_str!("diablo-etc/nova-api-paste.ini");

/// The database URLs as the config files write them (host paths, passwords included).
pub struct Urls<'a> {
    pub keystone: &'a str,
    pub glance: &'a str,
    pub nova: &'a str,
}

/// Everything a Diablo tree names: its databases, the controller's address in the URLs the
/// services reach each other at, and the service token the paste files authenticate with.
pub struct Site<'a> {
    pub urls: &'a Urls<'a>,
    pub host: &'a str,
    pub admin_token: &'a str,
}

/// Replaces the value of every `key = …` line (INI) with `value`.
fn set_ini(text: &str, key: &str, value: &str) -> String {
    text.lines()
        .map(|l| match l.split_once('=') {
            Some((k, _)) if k.trim() == key && !l.starts_with('#') => format!("{key} = {value}"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn write(root: &Path, rel: &str, text: &[u8]) -> Result<PathBuf> {
    let path = root.join(rel);
    crate::config::write::write_bytes(&path, crate::config::write::Perms::mode(crate::config::write::MODE), text)?;
    Ok(path)
}

/// The Diablo files of a site, each with the service that owns it.
pub fn render_tree(site: &Site) -> Vec<Rendered> {
    let host = site.host;
    let urls = site.urls;
    let nova_conf = format!(
        "--dhcpbridge_flagfile=/etc/nova/nova.conf\n--dhcpbridge=/usr/bin/nova-dhcpbridge\n--logdir=/var/log/nova\n\
         --state_path=/var/lib/nova\n--lock_path=/var/lock/nova\n--verbose\n--sql_connection={}\n\
         --api_paste_config=/etc/nova/api-paste.ini\n--image_service=nova.image.glance.GlanceImageService\n\
         --glance_api_servers={host}:9292\n--network_manager=nova.network.manager.FlatDHCPManager\n\
         --public_interface=eth0\n--fixed_range=10.0.0.0/16\n--connection_type=libvirt\n--libvirt_type=kvm\n\
         --vncproxy_url=http://{host}:6080\n--keystone_ec2_url=http://{host}:5000/v2.0/ec2tokens\n",
        urls.nova
    );
    // The `[filter:authtoken]` of every paste file: where Keystone is, and the service token.
    let auth = |text: &str| {
        let mut text = text.to_string();
        for (key, value) in [
            ("service_host", host.to_string()),
            ("auth_host", host.to_string()),
            ("auth_uri", format!("http://{host}:5000/")),
            ("admin_token", site.admin_token.to_string()),
        ] {
            text = set_ini(&text, key, &value);
        }
        text
    };
    let file = |path, owner, text: String| Rendered { path, owner, text: text.into_bytes() };
    vec![
        file("etc/keystone/keystone.conf", "keystone", set_ini(KEYSTONE_CONF, "sql_connection", urls.keystone)),
        file("etc/glance/glance-api.conf", "glance", auth(GLANCE_API_CONF)),
        file("etc/glance/glance-registry.conf", "glance", auth(&set_ini(GLANCE_REGISTRY_CONF, "sql_connection", urls.glance))),
        file("etc/nova/api-paste.ini", "nova", auth(NOVA_API_PASTE)),
        file("etc/nova/nova.conf", "nova", nova_conf),
    ]
}

/// The tree of a cloud that ran Nova's own auth instead of Keystone: no keystone.conf, and nova's
/// API pipelines authenticating with `authenticate` (EC2) and `auth` (OpenStack API).
pub fn render_nova_auth_tree(site: &Site) -> Vec<Rendered> {
    render_tree(site)
        .into_iter()
        .filter(|f| f.path != "etc/keystone/keystone.conf")
        .map(|mut f| {
            if f.path == "etc/nova/api-paste.ini" {
                let text = String::from_utf8_lossy(&f.text)
                    .replace("totoken authtoken keystonecontext", "authenticate")
                    .replace("authtoken keystonecontext", "auth");
                f.text = text.into_bytes();
            }
            f
        })
        .collect()
}

/// Writes the tree with the shipped address and service token, for the generator's Nova database;
/// returns the files written.
pub fn write_tree(root: &Path, urls: &Urls) -> Result<Vec<PathBuf>> {
    write_files(root, generated_cloud(render_tree(&Site { urls, host: "127.0.0.1", admin_token: super::keystone::SERVICE_TOKEN })))
}

/// Writes the tree of a cloud that ran Nova's own auth ([`render_nova_auth_tree`]).
pub fn write_nova_auth_tree(root: &Path, urls: &Urls) -> Result<Vec<PathBuf>> {
    write_files(
        root,
        generated_cloud(render_nova_auth_tree(&Site { urls, host: "127.0.0.1", admin_token: super::keystone::SERVICE_TOKEN })),
    )
}

/// The cloud-wide nova.conf of the generator's cloud names its volume host's iSCSI address, as
/// Diablo's discovery filter (a whole address: Essex's `iscsi_ip_address`).
fn generated_cloud(mut files: Vec<Rendered>) -> Vec<Rendered> {
    for f in files.iter_mut().filter(|f| f.path == "etc/nova/nova.conf") {
        f.text.extend_from_slice(format!("--iscsi_ip_prefix={}\n", super::nova::VOLUME_HOST_ADDRESS).as_bytes());
    }
    files
}

fn write_files(root: &Path, rendered: Vec<Rendered>) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for f in rendered {
        files.push(write(root, f.path, &f.text)?);
    }
    for svc in ["nova", "glance", "keystone"] {
        for dir in [format!("var/lib/{svc}"), format!("var/log/{svc}")] {
            let d = root.join(dir);
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
    }
    files.sort();
    Ok(files)
}
