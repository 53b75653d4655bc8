//! One module per OpenStack service: how to recognise its source release, and the steps that carry
//! its rows into the next release.

pub mod create;
pub mod glance;
pub mod keystone;
pub mod nova;
pub mod nova_auth;
