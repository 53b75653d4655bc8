//! The Diablo-cloud generator: legacy databases of a chosen size and shape, on any backend, made
//! with the project's own code. It serves the demo, the tests, install rehearsals and the
//! benchmark.

pub mod etc;
pub mod glance;
pub mod keystone;
pub mod nova;
