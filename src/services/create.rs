//! `db create`: an empty database at one release's exact schema (from the schema data), stamped as
//! that release's own tooling stamps it. A Diablo Keystone has no stamp (the legacy codebase made
//! its tables itself); Diablo Glance's migrations fail on PostgreSQL, so there a Diablo Glance is
//! the shape glance-registry creates itself on an empty database, also unstamped.

use serde::Serialize;

use crate::db::{Access, Backend, Db, DbUrl};
use crate::error::{Error, Result};
use crate::migrate::stamp_version;
use crate::schema::{Release, Schema, Service, Stamp, diablo, essex};

/// What `create` made.
impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Service::Keystone => "keystone",
            Service::Glance => "glance",
            Service::Nova => "nova",
        })
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Release::Diablo => "Diablo",
            Release::Essex => "Essex",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub service: Service,
    pub release: Release,
    /// The database URL, password hidden.
    pub database: String,
    /// Whether the database itself was created (false: it existed, empty).
    pub database_created: bool,
    pub tables: Vec<String>,
    pub stamp: Option<Stamp>,
    /// Facts the operator should know about the shape chosen.
    pub notes: Vec<String>,
}

/// The schema a release's own tooling leaves on `backend`, with a note when it is not the obvious one.
pub fn schema_for(service: Service, release: Release, backend: Backend) -> Result<(Schema, Option<String>)> {
    Ok(match (service, release) {
        (Service::Keystone, Release::Essex) => (essex::keystone(backend)?, None),
        (Service::Glance, Release::Essex) => (essex::glance(backend)?, None),
        (Service::Nova, Release::Essex) => (essex::nova(backend)?, None),
        (Service::Keystone, Release::Diablo) => {
            (diablo::keystone(backend)?, Some("a legacy (Diablo) Keystone keeps no migrate_version stamp".to_string()))
        }
        (Service::Glance, Release::Diablo) if backend == Backend::Postgres => (
            diablo::glance_autocreate(backend)?,
            Some(
                "Diablo Glance's migrations fail on PostgreSQL: this is the shape glance-registry creates itself \
                 on an empty database (unversioned, no migrate_version)"
                    .to_string(),
            ),
        ),
        (Service::Glance, Release::Diablo) => (diablo::glance(backend)?, None),
        (Service::Nova, Release::Diablo) => (diablo::nova(backend)?, None),
    })
}

/// Creates the database when it does not exist, refuses one that holds any table, then creates
/// the schema and writes its stamp (last).
pub fn create(service: Service, release: Release, url: &DbUrl) -> Result<Created> {
    let (schema, note) = schema_for(service, release, url.backend)?;
    let database_created = Db::create_database_if_missing(url)?;
    let mut db = Db::connect(url, Access::ReadWrite)?;
    let existing = db.table_names()?;
    if !existing.is_empty() {
        return Err(Error::Refused(format!(
            "{url} already holds {} table(s) ({}{}); `db create` only fills an empty or new database",
            existing.len(),
            existing.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if existing.len() > 5 { ", …" } else { "" }
        )));
    }
    db.create_schema(&schema)?;
    if let Some(stamp) = &schema.stamp {
        stamp_version(&mut db, &schema, stamp)?;
    }
    Ok(Created {
        service,
        release,
        database: url.to_string(),
        database_created,
        tables: schema.tables.iter().map(|t| t.name.clone()).collect(),
        stamp: schema.stamp.clone(),
        notes: note.into_iter().collect(),
    })
}
