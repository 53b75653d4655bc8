//! The Diablo-cloud generator: legacy databases of a chosen size and shape, on any backend, made
//! with the project's own code. It serves the demo, the tests, install rehearsals and the
//! benchmark.

pub mod etc;
pub mod glance;
pub mod keystone;
pub mod nova;

/// `base` rows at a benchmark scale (1.0 is the reference cloud; fractions make small clouds for
/// smoke tests), never fewer than one.
pub fn scaled(base: usize, scale: f64) -> usize {
    ((base as f64) * scale).round().max(1.0) as usize
}
