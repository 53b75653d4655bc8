//! Essex Keystone's data as Essex itself writes and reads it: its identity rows (`rows`), password
//! hashes (`password`), the templated catalog (`catalog`) and the tenant that takes Diablo's global
//! roles (`global_roles`). Below `services` and `keystone_client`, which both write Essex Keystone.

pub mod catalog;
pub mod global_roles;
pub mod password;
pub mod rows;
