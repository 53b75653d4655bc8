//! A Diablo Glance database: kernel/ramdisk/machine image chains, public, private and shared
//! images, deleted rows, properties and members, NULLs where real databases have them, and the
//! shapes seen in the wild (versioned at 9, unversioned, stamped 13 without migration, with or
//! without foreign keys).

use chrono::{Duration, NaiveDateTime};

use crate::db::{Backend, Db, OnConflict, Value};
use crate::error::{Error, Result};
use crate::migrate;
use crate::schema::{self, Schema, Stamp};
use crate::services::glance::source::{IMAGE_COLUMNS, MEMBER_COLUMNS, PROPERTY_COLUMNS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Made by Diablo's migrations, stamped 9 (SQLite and MySQL only: they fail on PostgreSQL).
    Versioned,
    /// Created by glance-registry itself: no migrate_version.
    Unversioned,
    /// Unversioned tables that an Essex glance-registry stamped 13 without migrating.
    StampedUnmigrated,
}

#[derive(Debug, Clone)]
pub struct Shape {
    pub images: usize,
    pub variant: Variant,
    /// False: no foreign keys (MyISAM tables on MySQL).
    pub foreign_keys: bool,
    pub now: NaiveDateTime,
    pub batch_size: usize,
}

impl Shape {
    pub fn demo() -> Self {
        Shape { images: 30, variant: Variant::Versioned, foreign_keys: true, now: chrono::Utc::now().naive_utc(), batch_size: 1000 }
    }

    /// Benchmark sizes: n=1 is 20k images with 5 properties each.
    pub fn scale(n: f64, variant: Variant) -> Self {
        Shape { images: super::scaled(20_000, n), variant, foreign_keys: true, now: chrono::Utc::now().naive_utc(), batch_size: 5_000 }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub images: usize,
    pub properties: usize,
    pub members: usize,
}

/// A property value that names no image, to be reported and kept.
pub const DANGLING_KERNEL: i64 = 999_999;

fn schema_for(backend: Backend, shape: &Shape) -> Result<Schema> {
    let mut s = match (shape.variant, backend) {
        (Variant::Versioned, Backend::Postgres) => {
            return Err(Error::Usage(
                "Diablo's Glance migrations fail on PostgreSQL: a Diablo Glance there is the auto-created shape".into(),
            ));
        }
        (Variant::Versioned, _) => schema::diablo::glance(backend)?,
        _ => schema::diablo::glance_autocreate(backend)?,
    };
    if shape.variant == Variant::StampedUnmigrated {
        let essex = schema::essex::glance(backend)?;
        s.tables.insert(0, essex.table(schema::MIGRATE_VERSION_TABLE).expect("migrate_version").clone());
        s.stamp = essex.stamp;
    }
    if !shape.foreign_keys {
        for t in &mut s.tables {
            t.foreign_keys.clear();
            t.mysql_engine = "MyISAM".into();
        }
    }
    Ok(s)
}

pub fn generate(db: &mut Db, shape: &Shape) -> Result<Generated> {
    let schema = schema_for(db.backend(), shape)?;
    db.create_schema(&schema)?;
    if let Some(stamp) = &schema.stamp {
        migrate::stamp_version(db, &schema, &Stamp { repository_id: stamp.repository_id.clone(), version: stamp.version })?;
    }
    let table = |name: &str| schema.table(name).expect("glance table").clone();
    let (images_t, props_t, members_t) = (table("images"), table("image_properties"), table("image_members"));
    let mut g = Generated::default();
    let (mut images, mut props, mut members) = (Vec::new(), Vec::new(), Vec::new());
    let batch = shape.batch_size.max(1);
    for i in 1..=shape.images as i64 {
        // Groups of ten: a kernel, a ramdisk, then eight machine images booting them.
        let group_base = (i - 1) / 10 * 10 + 1;
        let (kind, disk) = match (i - 1) % 10 {
            0 => ("kernel", "aki"),
            1 => ("ramdisk", "ari"),
            _ => ("machine", "ami"),
        };
        let created = shape.now - Duration::minutes(shape.images as i64 - i + 60);
        let deleted = i % 13 == 0;
        let location: Value = match i {
            _ if i % 29 == 0 => Value::Null, // never uploaded (killed)
            _ if i % 9 == 0 => format!("swift+http://glance:swiftkey{i}@swift.example:8080/v1.0/glance/{i}").into(),
            _ if i % 31 == 0 => format!("/var/lib/glance/images/{i}").into(),
            _ => format!("file:///var/lib/glance/images/{i}").into(),
        };
        images.push(vec![
            i.into(),
            format!("{kind}-{i}").into(),
            if location.is_null() { Value::Null } else { Value::Int(1024 * 1024 * (i % 500 + 1)) },
            (if deleted {
                "deleted"
            } else if location.is_null() {
                "killed"
            } else {
                "active"
            })
            .into(),
            (i % 3 == 0).into(),
            location,
            created.into(),
            if i % 7 == 0 { Value::Null } else { (created + Duration::seconds(30)).into() },
            if deleted { (created + Duration::minutes(5)).into() } else { Value::Null },
            deleted.into(),
            disk.into(),
            disk.into(),
            format!("{:032x}", i * 7919).into(),
            format!("tenant{}", i % 4).into(),
            if i % 11 == 0 { Value::Null } else { Value::Int(i % 3) },
            if i % 11 == 0 { Value::Null } else { Value::Int(256 * (i % 4)) },
        ]);
        let mut p = |name: &str, value: Value| {
            let id = props.len() as i64 + g.properties as i64 + 1;
            props.push(vec![id.into(), i.into(), name.into(), value, created.into(), Value::Null, Value::Null, false.into()]);
        };
        if kind == "machine" {
            let kernel = if i == 3 { DANGLING_KERNEL } else { group_base };
            p("kernel_id", kernel.to_string().into());
            p("ramdisk_id", (group_base + 1).to_string().into());
            p("image_location", format!("bucket/{kind}-{i}.manifest.xml").into());
        } else {
            p("type", kind.into());
            p("distro", "ubuntu".into());
            p("version", "11.10".into());
        }
        p("architecture", "x86_64".into());
        p("os_type", "linux".into());
        if i % 5 == 0 && i % 3 != 0 {
            for (k, tenant) in ["tenant1", "tenant2"].iter().enumerate() {
                let id = members.len() as i64 + g.members as i64 + 1;
                members.push(vec![
                    id.into(),
                    i.into(),
                    (*tenant).into(),
                    (k == 0).into(),
                    created.into(),
                    Value::Null,
                    Value::Null,
                    (k == 1 && i % 2 == 0).into(),
                ]);
            }
        }
        // Parents first: children reference the images already written.
        if images.len() >= batch || props.len() >= batch || members.len() >= batch {
            g.images += flush(db, &images_t, IMAGE_COLUMNS, &mut images)?;
            g.properties += flush(db, &props_t, PROPERTY_COLUMNS, &mut props)?;
            g.members += flush(db, &members_t, MEMBER_COLUMNS, &mut members)?;
        }
    }
    g.images += flush(db, &images_t, IMAGE_COLUMNS, &mut images)?;
    g.properties += flush(db, &props_t, PROPERTY_COLUMNS, &mut props)?;
    g.members += flush(db, &members_t, MEMBER_COLUMNS, &mut members)?;
    db.reset_sequences(&schema)?;
    Ok(g)
}

fn flush(db: &mut Db, table: &schema::Table, columns: &[&str], rows: &mut Vec<Vec<Value>>) -> Result<usize> {
    let n = rows.len();
    db.insert_rows(table, columns, rows, OnConflict::Fail)?;
    rows.clear();
    Ok(n)
}
