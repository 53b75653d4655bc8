//! Keystone: a legacy (Diablo-era) Keystone database into a new Essex one, everything upstream
//! `keystone-manage import_legacy` does and what it gets wrong (global roles, EC2 credentials,
//! tokens, role name collisions, the catalog).

pub mod catalog;
mod import;
pub mod legacy;
pub mod password;

use std::path::PathBuf;

use crate::db::Backend;

pub use import::migrate;

/// The tenant osmigrate creates for Diablo's global roles: its id (name-based, so that a run
/// started again from scratch creates the same tenant) and its `extra`.
pub fn global_roles_tenant(name: &str) -> (String, serde_json::Value) {
    let namespace = uuid::Uuid::from_u128(0x6f736d69_6772_6174_656b_657973746f6e);
    let id = uuid::Uuid::new_v5(&namespace, format!("keystone-tenant:{name}").as_bytes()).simple().to_string();
    let extra = serde_json::json!({"description": "Holds the roles that were global in Diablo (created by osmigrate)", "enabled": true});
    (id, extra)
}

/// Settings of a Keystone import.
#[derive(Debug, Clone)]
pub struct KeystoneOptions {
    /// The tenant that receives Diablo's global roles (created when missing).
    pub global_roles_tenant: String,
    /// The region of endpoint templates that have none.
    pub default_region: String,
    /// Where to write the Essex catalog templates file, if anywhere.
    pub catalog_out: Option<PathBuf>,
    /// Diablo paste files whose `admin_token` names a service token.
    pub paste_files: Vec<PathBuf>,
    pub batch_size: usize,
    /// Compare names as this backend does instead of the target's own (`check` rehearses the
    /// migration into a scratch SQLite database that stands in for the real target).
    pub names_as: Option<Backend>,
}

impl Default for KeystoneOptions {
    fn default() -> Self {
        KeystoneOptions {
            global_roles_tenant: "systenant".into(),
            default_region: "RegionOne".into(),
            catalog_out: None,
            paste_files: Vec::new(),
            batch_size: 1000,
            names_as: None,
        }
    }
}
