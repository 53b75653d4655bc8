//! Release schemas as data: tables, columns, types, defaults, keys, indexes, foreign keys and the
//! migrate_version stamp. Each release's tables live in a `.schema` text file parsed at run time
//! (see [`parse`]); rendering them as DDL is the database layer's job. This module knows nothing
//! about connections.

pub mod difference;
mod parse;

use std::fmt;
use std::sync::OnceLock;

pub use parse::parse;

/// The services whose databases osmigrate makes and migrates (and whose configs it upgrades).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Keystone,
    Glance,
    Nova,
}

/// The two releases: the one migrated from and the one migrated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Release {
    Diablo,
    Essex,
}

/// The SQL dialects a schema is rendered for (a name, not a connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Mysql,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Mysql => "MySQL",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

impl Backend {
    /// The key under which two names are one name in a unique column of this backend: MySQL's
    /// default collation ignores case and trailing spaces.
    pub fn name_key(self, name: &str) -> String {
        match self {
            Backend::Mysql => name.trim_end_matches(' ').to_lowercase(),
            _ => name.to_string(),
        }
    }
}

/// A column type, named after the SQLAlchemy type the upstream migrations use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColType {
    Integer,
    BigInt,
    SmallInt,
    Boolean,
    Float,
    /// VARCHAR(n)
    String(u32),
    Text,
    DateTime,
}

impl ColType {
    pub fn is_integer(&self) -> bool {
        matches!(self, ColType::Integer | ColType::BigInt | ColType::SmallInt)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: ColType,
    pub nullable: bool,
    /// A literal server default, as SQL text (`0`, `'x'`).
    pub default: Option<String>,
    pub autoincrement: bool,
    /// Its values are secrets (a token, an EC2 secret): an error about a write into the table
    /// never quotes the table's values.
    pub secret: bool,
}

/// Which PostgreSQL sequence feeds a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence<'a> {
    /// The one SERIAL made for the column.
    Serial,
    /// A sequence named in the column's default (`nextval('quotas_new_id_seq'::regclass)`).
    Named(&'a str),
}

impl Column {
    pub fn sequence(&self) -> Option<Sequence<'_>> {
        if self.autoincrement {
            return Some(Sequence::Serial);
        }
        let d = self.default.as_deref()?;
        let name = d.strip_prefix("nextval('")?.split('\'').next()?;
        Some(Sequence::Named(name))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// Unnamed UNIQUE constraints declared inline (each backend names them itself).
    pub uniques: Vec<Vec<String>>,
    /// Named indexes created after the table.
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
    /// MySQL character set; `utf8` unless the release keeps another (Nova's `dns_domains`).
    pub mysql_charset: String,
    /// MySQL storage engine: InnoDB (a Diablo MySQL may hold MyISAM tables, without foreign keys).
    pub mysql_engine: String,
    /// PostgreSQL sequences created before the table (upstream leftovers a default still names).
    pub sequences: Vec<String>,
}

impl Table {
    pub fn new(name: &str) -> Self {
        Table {
            name: name.to_string(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            uniques: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            mysql_charset: "utf8".to_string(),
            mysql_engine: "InnoDB".to_string(),
            sequences: Vec::new(),
        }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// Whether any of its columns holds secrets.
    pub fn holds_secrets(&self) -> bool {
        self.columns.iter().any(|c| c.secret)
    }
}

/// The `migrate_version` row a release's own tooling writes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stamp {
    pub repository_id: String,
    pub version: i64,
}

#[derive(Debug, Clone)]
pub struct Schema {
    pub service: &'static str,
    pub release: &'static str,
    pub tables: Vec<Table>,
    pub stamp: Option<Stamp>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Tables in an order where every table comes after the tables its foreign keys reference.
    pub fn tables_in_dependency_order(&self) -> Vec<&Table> {
        let mut done: Vec<&Table> = Vec::new();
        let mut pending: Vec<&Table> = self.tables.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|t| {
                let ready = t.foreign_keys.iter().all(|fk| fk.ref_table == t.name || done.iter().any(|d| d.name == fk.ref_table));
                if ready {
                    done.push(t);
                }
                !ready
            });
            if pending.len() == before {
                // A cycle: keep declaration order for the rest.
                done.append(&mut pending);
            }
        }
        done
    }
}

/// The table sqlalchemy-migrate keeps its version in; part of every versioned release.
pub const MIGRATE_VERSION_TABLE: &str = "migrate_version";

pub mod essex {
    use super::{Backend, Schema, load};
    use crate::error::Result;

    /// Essex Keystone as `keystone-manage db_sync` leaves it (migrate repository `keystone`, version 1).
    pub fn keystone(backend: Backend) -> Result<Schema> {
        load(0, backend)
    }

    /// Essex Nova at migration 082 (`nova`, version 82).
    pub fn nova(backend: Backend) -> Result<Schema> {
        load(1, backend)
    }

    /// Essex Glance after migrations 010–013 (`Glance Migrations`, version 13).
    pub fn glance(backend: Backend) -> Result<Schema> {
        load(2, backend)
    }
}

pub mod diablo {
    use super::{Backend, Schema, load};
    use crate::error::Result;

    /// The legacy (Diablo, stable/diablo) Keystone tables; the legacy codebase keeps no version stamp.
    pub fn keystone(backend: Backend) -> Result<Schema> {
        load(3, backend)
    }

    /// Diablo Nova at migration 046 (`nova`, version 46).
    pub fn nova(backend: Backend) -> Result<Schema> {
        load(4, backend)
    }

    /// Diablo Glance made by its migrations 001–009 (`Glance Migrations`, version 9). They fail on
    /// PostgreSQL, where only [`glance_autocreate`] exists.
    pub fn glance(backend: Backend) -> Result<Schema> {
        load(5, backend)
    }

    /// The tables a Diablo glance-registry creates itself on an empty database: no version stamp.
    pub fn glance_autocreate(backend: Backend) -> Result<Schema> {
        load(6, backend)
    }
}

/// osmigrate's own tables, kept in the databases it builds.
pub mod own {
    use super::{Backend, Table, load};
    use crate::error::{Error, Result};

    fn table(name: &str) -> Result<Table> {
        // The same on every backend: parsed once, as SQLite's.
        let schema = load(7, Backend::Sqlite)?;
        schema.table(name).cloned().ok_or_else(|| Error::SchemaData { name: "osmigrate".into(), reason: format!("no table `{name}`") })
    }

    /// The journal of a migration's steps (`osmigrate_journal`).
    pub fn journal() -> Result<Table> {
        table("osmigrate_journal")
    }

    /// Glance's old→new image id map (`osmigrate_image_map`).
    pub fn image_map() -> Result<Table> {
        table("osmigrate_image_map")
    }
}

/// The built-in schema files: (service, release, text), in the order `essex`, `diablo` and `own`
/// name them.
const BUILTIN: [(&str, &str, &str); 8] = [
    ("keystone", "essex", include_str!("essex/keystone.schema")),
    ("nova", "essex", include_str!("essex/nova.schema")),
    ("glance", "essex", include_str!("essex/glance.schema")),
    ("keystone", "diablo", include_str!("diablo/keystone.schema")),
    ("nova", "diablo", include_str!("diablo/nova.schema")),
    ("glance", "diablo", include_str!("diablo/glance.schema")),
    ("glance", "diablo", include_str!("diablo/glance-autocreate.schema")),
    ("osmigrate", "own", include_str!("osmigrate.schema")),
];

type Parsed = std::result::Result<Schema, String>;

/// Each built-in schema parsed once per backend, on first use.
static PARSED: [[OnceLock<Parsed>; 3]; BUILTIN.len()] = [const { [const { OnceLock::new() }; 3] }; BUILTIN.len()];

fn load(index: usize, backend: Backend) -> crate::error::Result<Schema> {
    let (service, release, text) = BUILTIN[index];
    let slot = match backend {
        Backend::Sqlite => 0,
        Backend::Mysql => 1,
        Backend::Postgres => 2,
    };
    let parsed = PARSED[index][slot].get_or_init(|| parse(text, backend).map(|(tables, stamp)| Schema { service, release, tables, stamp }));
    parsed.clone().map_err(|reason| crate::error::Error::SchemaData { name: format!("{release}/{service}"), reason })
}

#[cfg(test)]
mod tests {
    use super::Backend;

    #[test]
    fn names_collide_as_the_backend_compares_them() {
        assert_eq!(Backend::Mysql.name_key("Admin  "), Backend::Mysql.name_key("admin"));
        assert_ne!(Backend::Postgres.name_key("Admin"), Backend::Postgres.name_key("admin"));
    }

    #[test]
    fn a_schema_that_does_not_parse_is_an_error_naming_its_line() {
        let e = super::parse("table t\n  id integer\n  @oracle x integer\n", Backend::Sqlite).unwrap_err();
        assert!(e.contains("line 3") && e.contains("oracle"), "{e}");
    }

    #[test]
    fn builtin_schemas_parse() {
        let k = super::essex::keystone(super::Backend::Sqlite).unwrap();
        assert_eq!(k.tables.len(), 10);
        assert_eq!(k.stamp.as_ref().unwrap().repository_id, "keystone");
        let order: Vec<_> = k.tables_in_dependency_order().iter().map(|t| t.name.clone()).collect();
        let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(pos("user") < pos("user_tenant_membership"));
        assert!(pos("service") < pos("endpoint"));
        assert_eq!(super::diablo::keystone(super::Backend::Sqlite).unwrap().tables.len(), 9);
        for b in [super::Backend::Sqlite, super::Backend::Mysql, super::Backend::Postgres] {
            assert_eq!(super::essex::glance(b).unwrap().stamp.unwrap().version, 13);
            assert_eq!(super::diablo::glance_autocreate(b).unwrap().stamp, None);
            assert_eq!(super::essex::nova(b).unwrap().stamp.unwrap().version, 82);
            assert_eq!(super::diablo::nova(b).unwrap().stamp.unwrap().version, 46);
            assert!(super::essex::nova(b).unwrap().table("instance_types").is_some());
            // Every built-in schema of every service, on every backend.
            for index in 0..super::BUILTIN.len() {
                let s = super::load(index, b).unwrap();
                // Diablo Glance's migrations fail on PostgreSQL: only the autocreated shape exists there.
                let none_there = index == 5 && b == super::Backend::Postgres;
                assert_eq!(s.tables.is_empty(), none_there, "{}/{} on {b}", s.release, s.service);
            }
        }
        // A second load is the first one's parse.
        assert!(super::PARSED[1][0].get().is_some());
    }
}
