//! Glance images as the other services refer to them: the old→new id map (`map`) and the image
//! references Nova and nova.conf hold (`image_ref`). Below `config` and `services`, so that the
//! Glance migration (which writes the map), the Nova migration and `config convert nova` (which
//! read it) share it without importing one another.

pub mod image_ref;
pub mod map;
