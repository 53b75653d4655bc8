//! The one integration-test crate: the real binary against real SQLite, MariaDB and PostgreSQL
//! databases (servers from `scripts/test`), one module per area.

mod bench;
mod cli;
mod cloud;
mod config;
mod db;
mod glance;
mod install;
mod keystone;
mod keystone_client;
mod nova;
mod nova_auth;
mod refusals;
mod schema;
mod support;
