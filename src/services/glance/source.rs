//! Recognising a Diablo Glance by its tables, not by its stamp: versioned at 9, unversioned
//! (created by glance-registry itself), or stamped 13 by an Essex registry that never ran
//! 010–013 — whatever the stamp says, integer `images.id` means Diablo.

use crate::db::Db;
use crate::db::introspect;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stamped {
    /// `migrate_version` at 9: made by Diablo's own migrations.
    Diablo9,
    /// No `migrate_version`: the tables glance-registry created on an empty database.
    Unversioned,
    /// A stamp that does not match the tables (an Essex registry stamps an unversioned database 13).
    Mismatched(i64),
}

#[derive(Debug, Clone)]
pub struct DiabloGlance {
    pub stamped: Stamped,
    /// False for a MyISAM (or hand-made) database without foreign keys.
    pub foreign_keys: bool,
}

/// The Diablo (migration 9) columns osmigrate reads, per table.
pub const IMAGE_COLUMNS: &[&str] = &[
    "id",
    "name",
    "size",
    "status",
    "is_public",
    "location",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "disk_format",
    "container_format",
    "checksum",
    "owner",
    "min_disk",
    "min_ram",
];
pub const PROPERTY_COLUMNS: &[&str] = &["id", "image_id", "name", "value", "created_at", "updated_at", "deleted_at", "deleted"];
pub const MEMBER_COLUMNS: &[&str] = &["id", "image_id", "member", "can_share", "created_at", "updated_at", "deleted_at", "deleted"];

const REQUIRED: &[(&str, &[&str])] =
    &[("images", IMAGE_COLUMNS), ("image_properties", PROPERTY_COLUMNS), ("image_members", MEMBER_COLUMNS)];

impl DiabloGlance {
    pub fn detect(db: &mut Db) -> Result<DiabloGlance> {
        let url = db.url().to_string();
        let tables = db.table_names()?;
        let missing: Vec<&str> = REQUIRED.iter().map(|(t, _)| *t).filter(|t| !tables.iter().any(|x| x == t)).collect();
        if !missing.is_empty() {
            let found = if tables.is_empty() { "no tables at all".to_string() } else { format!("tables {}", tables.join(", ")) };
            return Err(Error::Refused(format!("{url} is not a Glance database: it lacks {} (found {found})", missing.join(", "))));
        }
        for (table, columns) in REQUIRED {
            let actual = db.column_names(table)?;
            let absent: Vec<&str> = columns.iter().copied().filter(|c| !actual.iter().any(|a| a == c)).collect();
            if !absent.is_empty() {
                return Err(Error::Refused(format!(
                    "{url}: table {table} lacks {} — not a Diablo (migration 9) Glance; upgrade it to Diablo's schema first",
                    absent.join(", ")
                )));
            }
        }
        let id_type =
            introspect::columns(db, "images")?.into_iter().find(|c| c.name == "id").map(|c| c.ty.to_ascii_lowercase()).unwrap_or_default();
        let version = if tables.iter().any(|t| t == "migrate_version") {
            db.query_scalar("SELECT version FROM migrate_version", &[])?.as_i64()
        } else {
            None
        };
        if !id_type.contains("int") {
            return Err(Error::Refused(format!(
                "{url} already has Essex's string image ids (images.id is {id_type}, stamp {}): it was migrated already, \
                 and upstream kept no map of the old ids",
                version.map_or("none".to_string(), |v| v.to_string())
            )));
        }
        let stamped = match version {
            None => Stamped::Unversioned,
            Some(9) => Stamped::Diablo9,
            Some(v) => Stamped::Mismatched(v),
        };
        let mut foreign_keys = false;
        for t in ["image_properties", "image_members"] {
            foreign_keys |= !introspect::shape(db, t)?.foreign_keys.is_empty();
        }
        Ok(DiabloGlance { stamped, foreign_keys })
    }

    pub fn release(&self) -> String {
        let fk = if self.foreign_keys { "" } else { ", no foreign keys" };
        match self.stamped {
            Stamped::Diablo9 => format!("Diablo Glance (migrate version 9{fk})"),
            Stamped::Unversioned => format!("Diablo Glance (unversioned: created by glance-registry{fk})"),
            Stamped::Mismatched(v) => format!("Diablo Glance (integer ids, though stamped version {v}{fk})"),
        }
    }
}
