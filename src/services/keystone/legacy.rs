//! Recognising a legacy (pre-Essex) Keystone database by its tables, whatever milestone made it:
//! diablo-5 and stable/diablo (integer ids, `token`), essex-2 (migrate version 4, `tokens`,
//! `endpoint_templates.version_*`), essex-3 (version 11, repository `Keystone`, hex `uid`s that
//! become the new ids).

use crate::db::Db;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Legacy {
    pub tables: Vec<String>,
    /// `token` (Diablo) or `tokens` (essex-2 and later); None when neither exists.
    pub token_table: Option<String>,
    pub tenants_have_uid: bool,
    pub users_have_uid: bool,
    pub has_credentials: bool,
    pub has_catalog: bool,
    pub has_endpoints: bool,
    /// The legacy migrate repository's version, when the database has one.
    pub version: Option<i64>,
}

/// Columns each legacy table must have for the import to read it.
const REQUIRED: &[(&str, &[&str])] = &[
    ("tenants", &["id", "name", "desc", "enabled"]),
    ("users", &["id", "name", "password", "email", "enabled", "tenant_id"]),
    ("roles", &["id", "name", "desc", "service_id"]),
    ("user_roles", &["id", "user_id", "role_id", "tenant_id"]),
];
const OPTIONAL: &[(&str, &[&str])] = &[
    ("credentials", &["id", "user_id", "tenant_id", "type", "key", "secret"]),
    ("services", &["id", "name", "type", "desc"]),
    ("endpoint_templates", &["id", "region", "service_id", "public_url", "admin_url", "internal_url", "enabled", "is_global"]),
    ("endpoints", &["id", "tenant_id", "endpoint_template_id"]),
    ("token", &["id", "user_id", "tenant_id", "expires"]),
    ("tokens", &["id", "user_id", "tenant_id", "expires"]),
];

impl Legacy {
    pub fn detect(db: &mut Db) -> Result<Legacy> {
        let tables = db.table_names()?;
        let has = |t: &str| tables.iter().any(|x| x == t);
        let url = db.url().to_string();
        if has("user") && has("tenant") && has("metadata") {
            return Err(Error::Refused(format!(
                "{url} is already an Essex Keystone database (tables user, tenant, metadata); there is nothing to import"
            )));
        }
        let missing: Vec<&str> = REQUIRED.iter().map(|(t, _)| *t).filter(|t| !has(t)).collect();
        if !missing.is_empty() {
            let found = if tables.is_empty() { "no tables at all".to_string() } else { format!("tables {}", tables.join(", ")) };
            return Err(Error::Refused(format!(
                "{url} is not a legacy Keystone database: it lacks {} (found {found})",
                missing.join(", ")
            )));
        }
        for (table, columns) in REQUIRED.iter().chain(OPTIONAL.iter()).filter(|(t, _)| has(t)) {
            let actual = db.column_names(table)?;
            let absent: Vec<&&str> = columns.iter().filter(|c| !actual.iter().any(|a| a == *c)).collect();
            if !absent.is_empty() {
                return Err(Error::Refused(format!(
                    "{url}: table {table} lacks column(s) {} that every legacy Keystone has; this is not a database osmigrate knows",
                    absent.iter().map(std::string::ToString::to_string).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let version = if has("migrate_version") { db.query_scalar("SELECT version FROM migrate_version", &[])?.as_i64() } else { None };
        Ok(Legacy {
            token_table: ["token", "tokens"].iter().find(|t| has(t)).map(std::string::ToString::to_string),
            tenants_have_uid: db.column_names("tenants")?.iter().any(|c| c == "uid"),
            users_have_uid: db.column_names("users")?.iter().any(|c| c == "uid"),
            has_credentials: has("credentials"),
            has_catalog: has("services") && has("endpoint_templates"),
            has_endpoints: has("endpoints"),
            version,
            tables,
        })
    }

    /// A readable name for the release that made the database.
    pub fn release(&self) -> String {
        if self.tenants_have_uid || self.users_have_uid {
            format!(
                "legacy Keystone, essex-3 milestone (uids{})",
                self.version.map(|v| format!(", migrate version {v}")).unwrap_or_default()
            )
        } else if self.token_table.as_deref() == Some("tokens") {
            format!("legacy Keystone, essex-2 milestone{}", self.version.map(|v| format!(" (migrate version {v})")).unwrap_or_default())
        } else {
            "legacy Keystone, Diablo (diablo-5 / stable/diablo)".to_string()
        }
    }

    /// The source tables whose state the journal remembers.
    pub fn fingerprint_tables(&self) -> Vec<String> {
        let known =
            ["tenants", "users", "roles", "user_roles", "credentials", "services", "endpoint_templates", "endpoints", "token", "tokens"];
        self.tables.iter().filter(|t| known.contains(&t.as_str())).cloned().collect()
    }

    /// The SQL expression of a tenant's new id, for a `tenants` alias.
    pub fn tenant_key(&self, alias: &str) -> String {
        if self.tenants_have_uid { format!("{alias}.uid") } else { format!("{alias}.id") }
    }

    pub fn user_key(&self, alias: &str) -> String {
        if self.users_have_uid { format!("{alias}.uid") } else { format!("{alias}.id") }
    }
}
