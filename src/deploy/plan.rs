//! `plan`: the ordered steps, with target databases and files, changing nothing.

use std::path::Path;

use serde::Serialize;

use super::discover::{self, discover};
use crate::db::Backend;
use crate::error::Result;
use crate::rootfs;

/// One step of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub root: String,
    pub state_dir: String,
    pub steps: Vec<PlannedStep>,
    /// Files migrate writes (besides backups).
    pub files: Vec<String>,
    pub grants: Vec<String>,
}

/// The ordered steps, with target databases and files, changing nothing.
pub fn plan(root: &Path, state_dir: &Path, services: bool, service_users: bool) -> Result<PlanReport> {
    let cloud = discover(root)?;
    let step = |name: &str, d: String| PlannedStep { name: name.into(), description: d };
    let svc_note = if !rootfs::is_host(root) {
        " (not on a rehearsal tree: only on the live host, --root /)"
    } else if services {
        ""
    } else {
        " (skipped: --no-services)"
    };
    let mut steps = vec![
        step("stop-services", format!("stop nova-*, glance-api, glance-registry, keystone{svc_note}")),
        step("install-packages", "install the Essex packages (the operator does this; osmigrate does not touch packages)".into()),
        step("backup-configs", format!("save etc/keystone, etc/glance, etc/nova to {}", state_dir.join("diablo-etc.tar").display())),
    ];
    let mut grants = Vec::new();
    if cloud.auth == discover::Auth::Nova {
        steps.push(step(
            "nova-auth-db",
            format!(
                "import Nova's own users, projects, roles and EC2 keys from {} into the Essex Keystone {}",
                cloud.nova.source, cloud.keystone_target
            ),
        ));
    }
    for s in cloud.services() {
        steps.push(step(&format!("{}-db", s.service), format!("build {} from {} (the source is only read)", s.target, s.source)));
        if s.target.backend != Backend::Sqlite {
            let user = s.source_host.user.clone().unwrap_or_else(|| s.service.to_string());
            let db = s.target.database.clone().unwrap_or_default();
            grants.push(match s.target.backend {
                Backend::Mysql => format!("GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'%';"),
                _ => format!("GRANT ALL PRIVILEGES ON DATABASE \"{db}\" TO \"{user}\";"),
            });
        }
    }
    if service_users {
        steps.push(step(
            "service-users",
            "create the Essex `service` tenant and the nova and glance users (Admin there), passwords kept in the state directory".into(),
        ));
    }
    steps.push(step(
        "keystone-config",
        "render keystone.conf (sql identity, token and ec2 backends, the new database, the catalog file)".into(),
    ));
    steps.push(step("glance-config", "render glance-api.conf, glance-registry.conf and their -paste.ini files".into()));
    steps.push(step(
        "nova-config",
        "convert nova.conf to Essex INI (new database, image ids through the map) and render api-paste.ini".into(),
    ));
    steps.push(step("start-services", format!("start keystone, glance, nova in that order{svc_note}")));
    let files = [
        "/etc/keystone/keystone.conf",
        "/etc/keystone/default_catalog.templates",
        "/etc/glance/glance-api.conf",
        "/etc/glance/glance-registry.conf",
        "/etc/glance/glance-api-paste.ini",
        "/etc/glance/glance-registry-paste.ini",
        "/etc/nova/nova.conf",
        "/etc/nova/api-paste.ini",
    ]
    .iter()
    .map(|rel| Ok(rootfs::under_root(root, Path::new(rel))?.display().to_string()))
    .collect::<Result<Vec<_>>>()?;
    Ok(PlanReport { root: root.display().to_string(), state_dir: state_dir.display().to_string(), steps, files, grants })
}
