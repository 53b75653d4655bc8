//! osmigrate: copy-forward migration of an OpenStack control plane from Diablo (2011.3) to
//! Essex (2012.1). The library does all the work and returns values (reports, maps); the
//! `osmigrate` binary only parses arguments and renders what comes back.

pub mod bench;
pub mod config;
pub mod db;
pub mod deploy;
pub mod error;
pub mod essex_keystone;
pub mod failpoint;
pub mod generate;
pub mod images;
pub mod install;
pub mod keystone_client;
pub mod migrate;
pub mod redact;
pub mod rootfs;
pub mod schema;
pub mod secret;
pub mod services;

pub use error::{Error, Result};
