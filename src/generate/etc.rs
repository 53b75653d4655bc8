//! A Diablo `/etc` tree under a root directory: the shipped Diablo keystone, glance and nova paste
//! files (keystone-enabled variants), a flagfile `nova.conf`, and each file's database URL set to
//! the cloud's databases, as a packaged Diablo controller holds them.

use std::path::{Path, PathBuf};

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

fn write(root: &Path, rel: &str, text: &str) -> Result<PathBuf> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// Writes the tree; returns the files written.
pub fn write_tree(root: &Path, urls: &Urls) -> Result<Vec<PathBuf>> {
    let nova_conf = format!(
        "--dhcpbridge_flagfile=/etc/nova/nova.conf\n--dhcpbridge=/usr/bin/nova-dhcpbridge\n--logdir=/var/log/nova\n\
         --state_path=/var/lib/nova\n--lock_path=/var/lock/nova\n--verbose\n--sql_connection={}\n\
         --api_paste_config=/etc/nova/api-paste.ini\n--image_service=nova.image.glance.GlanceImageService\n\
         --glance_api_servers=127.0.0.1:9292\n--network_manager=nova.network.manager.FlatDHCPManager\n\
         --public_interface=eth0\n--fixed_range=10.0.0.0/16\n--connection_type=libvirt\n--libvirt_type=kvm\n\
         --vncproxy_url=http://127.0.0.1:6080\n--keystone_ec2_url=http://127.0.0.1:5000/v2.0/ec2tokens\n",
        urls.nova
    );
    let mut files = vec![
        write(root, "etc/keystone/keystone.conf", &set_ini(KEYSTONE_CONF, "sql_connection", urls.keystone))?,
        write(root, "etc/glance/glance-api.conf", GLANCE_API_CONF)?,
        write(root, "etc/glance/glance-registry.conf", &set_ini(GLANCE_REGISTRY_CONF, "sql_connection", urls.glance))?,
        write(root, "etc/nova/api-paste.ini", NOVA_API_PASTE)?,
        write(root, "etc/nova/nova.conf", &nova_conf)?,
    ];
    for svc in ["nova", "glance", "keystone"] {
        for dir in [format!("var/lib/{svc}"), format!("var/log/{svc}")] {
            let d = root.join(dir);
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
    }
    files.sort();
    Ok(files)
}
