//! `plan`: the ordered steps, with target databases and files, changing nothing.

use std::path::Path;

use serde::Serialize;

use super::discover::discover;
use super::steps::{MigrateOptions, Step};
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

/// The ordered steps, with target databases and files, changing nothing: migrate's own list of
/// steps (`Step::ALL`), each saying what it will do here, and the files they write.
pub fn plan(root: &Path, state_dir: &Path, services: bool, service_users: bool) -> Result<PlanReport> {
    let cloud = discover(root)?;
    let opts =
        MigrateOptions { root: root.to_path_buf(), state_dir: state_dir.to_path_buf(), services, create_service_users: service_users };
    let steps = Step::ALL.iter().map(|s| PlannedStep { name: s.name().into(), description: s.describe(&cloud, &opts) }).collect();
    let mut files: Vec<String> = Vec::new();
    for step in Step::ALL {
        for f in step.files(&cloud) {
            let path = rootfs::under_root(root, Path::new(f))?.display().to_string();
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    let mut grants = Vec::new();
    for s in cloud.services() {
        let user = s.source_host.user.clone().unwrap_or_else(|| s.service.to_string());
        grants.extend(s.target.backend.grant_all_sql(s.target.database.as_deref().unwrap_or_default(), &user));
    }
    Ok(PlanReport { root: root.display().to_string(), state_dir: state_dir.display().to_string(), steps, files, grants })
}
