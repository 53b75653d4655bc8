//! The flavors Diablo's migration 008 seeds, as data, and their rows in each release's form:
//! Diablo's as 008 left them, Essex's as 055, 059 and 074 (libvirt, the Python path) leave them —
//! what `nova-manage db sync` gives. `install` seeds them; the generator starts from them.

use chrono::NaiveDateTime;

use super::rules::{disks_for, flavorid_055, rxtx_base_059, rxtx_factor_059};
use crate::db::{Db, OnConflict, Value};
use crate::error::Result;
use crate::schema::Schema;

/// `(id, name, memory_mb, vcpus, local_gb, flavorid, swap, rxtx_quota, rxtx_cap)`
pub type Flavor = (i64, &'static str, i64, i64, i64, i64, i64, i64, i64);

/// The five of migration 008 exactly as a Diablo database holds them.
pub const SEEDED: [Flavor; 5] = [
    (1, "m1.medium", 4096, 2, 40, 3, 0, 0, 0),
    (2, "m1.tiny", 512, 1, 0, 1, 0, 0, 0),
    (3, "m1.large", 8192, 4, 80, 4, 0, 0, 0),
    (4, "m1.xlarge", 16384, 8, 160, 5, 0, 0, 0),
    (5, "m1.small", 2048, 1, 20, 2, 0, 0, 0),
];

/// Writes flavors into a Diablo Nova's `instance_types`, the `k`th made at `created(k)` (NULL
/// for `None`, as 008 leaves its own).
pub fn insert_diablo(db: &mut Db, schema: &Schema, flavors: &[Flavor], created: impl Fn(usize) -> Option<NaiveDateTime>) -> Result<usize> {
    let rows: Vec<Vec<Value>> = flavors
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let mut row = vec![Value::from(created(k)), Value::Null, Value::Null, false.into(), f.1.into()];
            row.extend([f.0, f.2, f.3, f.4, f.5, f.6, f.7, f.8].map(Value::from));
            row
        })
        .collect();
    let table = schema.table("instance_types").expect("diablo nova has instance_types");
    let columns = [
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted",
        "name",
        "id",
        "memory_mb",
        "vcpus",
        "local_gb",
        "flavorid",
        "swap",
        "rxtx_quota",
        "rxtx_cap",
    ];
    db.insert_rows(table, &columns, &rows, OnConflict::Fail)?;
    Ok(rows.len())
}

/// Writes flavors into an Essex Nova's `instance_types` as the Essex migrations leave them.
pub fn insert_essex(db: &mut Db, schema: &Schema, flavors: &[Flavor]) -> Result<()> {
    let columns = [
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted",
        "name",
        "id",
        "memory_mb",
        "vcpus",
        "root_gb",
        "ephemeral_gb",
        "swap",
        "rxtx_factor",
        "vcpu_weight",
        "flavorid",
    ];
    let rows: Vec<Vec<Value>> = flavors
        .iter()
        .map(|f| {
            let (root_gb, ephemeral_gb) = disks_for(true, &Value::Int(f.4), f.1 == "m1.tiny");
            let factor = rxtx_factor_059(Some(f.8), rxtx_base_059(None));
            vec![
                Value::Null,
                Value::Null,
                Value::Null,
                false.into(),
                f.1.into(),
                f.0.into(),
                f.2.into(),
                f.3.into(),
                root_gb,
                ephemeral_gb,
                f.6.into(),
                Value::Float(factor),
                Value::Null,
                flavorid_055(&Value::Int(f.5)),
            ]
        })
        .collect();
    let table = schema.table("instance_types").expect("essex nova has instance_types");
    db.insert_rows(table, &columns, &rows, OnConflict::Fail).map(|_| ())
}
