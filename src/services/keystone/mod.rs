//! Keystone: a legacy (Diablo-era) Keystone database into a new Essex one, everything upstream
//! `keystone-manage import_legacy` does and what it gets wrong (global roles, EC2 credentials,
//! tokens, role name collisions, the catalog).

mod import;
pub mod legacy;

use std::path::PathBuf;

use crate::db::Backend;

pub use import::migrate;

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
