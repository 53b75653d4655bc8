//! The Essex Keystone database itself, read and written as Essex's SQL backends do
//! (`identity/backends/sql.py`, `contrib/ec2/backends/sql.py`, `catalog/backends/sql.py` at
//! 2012.1): ids are uuid4 hex, every field beyond id and name goes to the JSON `extra` column,
//! passwords are stored as sha512_crypt hashes (40000 rounds), a grant is a role id (a string) in
//! `metadata.data` `{"roles": […]}` plus a `user_tenant_membership` row. The catalog comes from
//! the templates file when one is given (what keystone.conf's `template_file` names), else from
//! the SQL `service` and `endpoint` tables.
//!
//! Listings open the database read-only. Names longer than Essex's 64 characters, and names the
//! database would take for an existing one (on MySQL also without case), are refused before
//! anything is written.

use std::path::PathBuf;

use serde_json::{Map, Value as Json, json};

use super::{CatalogEntry, Ec2Credential, Grant, Kind, Named, NewEc2Credential, NewTenant, NewUser, enabled_of, id_of, text_of};
use super::{Role, Tenant, Transport, User};
use crate::db::{Access, Backend, Db, DbUrl, Row, Value};
use crate::error::{Error, Result};
use crate::essex_keystone::{catalog, password, rows};

/// Essex Keystone's limit on ids and names (VARCHAR(64)).
const MAX_NAME: usize = 64;

/// The tables every command needs.
const IDENTITY_TABLES: [&str; 6] = ["user", "tenant", "role", "metadata", "user_tenant_membership", "ec2_credential"];

pub struct DbTransport {
    db: Db,
    templates: Option<PathBuf>,
}

fn table_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Tenant => "tenant",
        Kind::User => "user",
        Kind::Role => "role",
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn text(row: &Row, field: &str) -> String {
    row.get(field).key_string().unwrap_or_default()
}

impl DbTransport {
    /// Opens an Essex Keystone database (read-only for listings); refuses anything else, naming
    /// what it is. A SQLite file must exist already.
    pub fn open(url: &DbUrl, access: Access, templates: Option<PathBuf>) -> Result<Self> {
        if url.backend == Backend::Sqlite && !url.path.as_ref().is_some_and(|p| p.exists()) {
            return Err(Error::Connect { url: url.to_string(), reason: "no such file".into(), source: None });
        }
        let mut db = Db::connect(url, access)?;
        let tables = db.table_names()?;
        let missing: Vec<&str> = IDENTITY_TABLES.iter().copied().filter(|t| !tables.iter().any(|x| x == t)).collect();
        if !missing.is_empty() {
            let has = |t: &str| tables.iter().any(|x| x == t);
            return Err(Error::Refused(if has("users") && has("tenants") {
                format!(
                    "{url} is a legacy (Diablo) Keystone database; this client manages Essex Keystone: \
                     build the Essex one first with `osmigrate db migrate keystone`"
                )
            } else {
                format!("{url} is not an Essex Keystone database (no table {})", missing.join(", "))
            }));
        }
        Ok(DbTransport { db, templates })
    }

    fn q(&self, name: &str) -> String {
        self.db.quote(name)
    }

    /// One row of an Essex Keystone table, its columns from [`rows`].
    fn insert(&mut self, table: &str, columns: &[&str], row: &[Value]) -> Result<()> {
        let names: Vec<String> = columns.iter().map(|c| self.q(c)).collect();
        let marks = vec!["?"; columns.len()].join(", ");
        self.db.execute(&format!("INSERT INTO {} ({}) VALUES ({marks})", self.q(table), names.join(", ")), row).map(|_| ())
    }

    /// A row's `extra` (or `data`) column: a JSON object; NULL reads as `{}`.
    fn json_column(row: &Row, table: &str, field: &str) -> Result<Map<String, Json>> {
        rows::object(row.text(table, field)?, table, row.id(), field)
    }

    /// Fails with [`Error::NotFound`] unless an object of `kind` has exactly this id.
    fn require(&mut self, kind: Kind, id: &str) -> Result<()> {
        let sql = format!("SELECT id FROM {} WHERE id = ?", self.q(table_of(kind)));
        if self.db.query(&sql, &[id.into()])?.iter().any(|r| text(r, "id") == id) {
            Ok(())
        } else {
            Err(Error::NotFound(format!("no {kind} has the id `{id}` in {}", self.db.url())))
        }
    }

    /// A new name: at most 64 characters, and not one the database takes for an existing name.
    fn check_new_name(&mut self, kind: Kind, name: &str) -> Result<()> {
        let n = name.chars().count();
        if n > MAX_NAME {
            return Err(Error::Refused(format!("the {kind} name is {n} characters long; Essex Keystone keeps at most {MAX_NAME}")));
        }
        let sql = format!("SELECT id, name FROM {} WHERE name = ?", self.q(table_of(kind)));
        if let Some(r) = self.db.query(&sql, &[name.into()])?.first() {
            let why = if text(r, "name") == name { "" } else { " (MySQL compares names without case or trailing spaces)" };
            return Err(Error::Refused(format!(
                "a {kind} named `{}` already exists (id {}) in {}{why}",
                text(r, "name"),
                text(r, "id"),
                self.db.url()
            )));
        }
        Ok(())
    }

    fn metadata(&mut self, user_id: &str, tenant_id: &str) -> Result<Option<Map<String, Json>>> {
        let sql = format!("SELECT user_id AS id, data FROM {} WHERE user_id = ? AND tenant_id = ?", self.q("metadata"));
        match self.db.query(&sql, &[user_id.into(), tenant_id.into()])?.first() {
            Some(r) => Ok(Some(Self::json_column(r, "metadata", "data")?)),
            None => Ok(None),
        }
    }

    fn set_metadata(&mut self, user_id: &str, tenant_id: &str, data: &Map<String, Json>, exists: bool) -> Result<()> {
        let text = rows::json_text(&Json::Object(data.clone()));
        let m = self.q("metadata");
        if exists {
            self.db.execute(
                &format!("UPDATE {m} SET data = ? WHERE user_id = ? AND tenant_id = ?"),
                &[text, user_id.into(), tenant_id.into()],
            )?;
        } else {
            self.insert("metadata", &rows::METADATA_COLUMNS, &[user_id.into(), tenant_id.into(), text])?;
        }
        Ok(())
    }

    fn add_membership(&mut self, user_id: &str, tenant_id: &str) -> Result<()> {
        let t = self.q("user_tenant_membership");
        let params = [Value::from(user_id), Value::from(tenant_id)];
        let n =
            self.db.query_scalar(&format!("SELECT COUNT(*) FROM {t} WHERE user_id = ? AND tenant_id = ?"), &params)?.as_i64().unwrap_or(0);
        if n == 0 {
            self.insert("user_tenant_membership", &rows::MEMBERSHIP_COLUMNS, &params)?;
        }
        Ok(())
    }

    fn in_transaction<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.db.begin()?;
        match f(self) {
            Ok(v) => {
                self.db.commit()?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.db.rollback();
                Err(e)
            }
        }
    }
}

impl Transport for DbTransport {
    fn target(&self) -> String {
        self.db.url().to_string()
    }

    fn tenants(&mut self) -> Result<Vec<Tenant>> {
        let rows = self.db.query(&format!("SELECT id, name, extra FROM {}", self.q("tenant")), &[])?;
        rows.iter()
            .map(|r| {
                let extra = Json::Object(Self::json_column(r, "tenant", "extra")?);
                Ok(Tenant {
                    id: text(r, "id"),
                    name: text(r, "name"),
                    description: text_of(&extra, "description"),
                    enabled: enabled_of(extra.get("enabled")),
                })
            })
            .collect()
    }

    fn users(&mut self) -> Result<Vec<User>> {
        let rows = self.db.query(&format!("SELECT id, name, extra FROM {}", self.q("user")), &[])?;
        rows.iter()
            .map(|r| {
                let extra = Json::Object(Self::json_column(r, "user", "extra")?);
                Ok(User {
                    id: text(r, "id"),
                    name: text(r, "name"),
                    email: text_of(&extra, "email"),
                    enabled: enabled_of(extra.get("enabled")),
                    tenant_id: extra.get("tenantId").and_then(id_of).or_else(|| extra.get("tenant_id").and_then(id_of)),
                })
            })
            .collect()
    }

    fn roles(&mut self) -> Result<Vec<Role>> {
        let rows = self.db.query(&format!("SELECT id, name FROM {}", self.q("role")), &[])?;
        Ok(rows.iter().map(|r| Role { id: text(r, "id"), name: text(r, "name") }).collect())
    }

    fn candidates(&mut self, kind: Kind, key: &str) -> Result<Vec<Named>> {
        let sql = format!("SELECT id, name FROM {} WHERE id = ? OR LOWER(name) = LOWER(?)", self.q(table_of(kind)));
        let rows = self.db.query(&sql, &[key.into(), key.into()])?;
        Ok(rows.iter().map(|r| Named { id: text(r, "id"), name: text(r, "name") }).collect())
    }

    fn grants(&mut self, user: Option<&Named>, tenant: Option<&Named>) -> Result<Vec<Grant>> {
        let roles = self.roles()?;
        let mut sql = format!(
            "SELECT m.user_id AS id, m.user_id, m.tenant_id, m.data, u.name AS user_name, t.name AS tenant_name FROM {} m \
             LEFT JOIN {} u ON u.id = m.user_id LEFT JOIN {} t ON t.id = m.tenant_id WHERE 1 = 1",
            self.q("metadata"),
            self.q("user"),
            self.q("tenant")
        );
        let mut params = Vec::new();
        if let Some(u) = user {
            sql.push_str(" AND m.user_id = ?");
            params.push(Value::from(u.id.as_str()));
        }
        if let Some(t) = tenant {
            sql.push_str(" AND m.tenant_id = ?");
            params.push(Value::from(t.id.as_str()));
        }
        let mut out = Vec::new();
        for r in self.db.query(&sql, &params)? {
            let data = Self::json_column(&r, "metadata", "data")?;
            let user = Named { id: text(&r, "user_id"), name: text(&r, "user_name") };
            let tenant = Named { id: text(&r, "tenant_id"), name: text(&r, "tenant_name") };
            for id in rows::role_ids(&data) {
                // A role id naming no role is skipped, as the API leaves it out too.
                if let Some(role) = roles.iter().find(|x| x.id == id) {
                    out.push(Grant {
                        tenant: tenant.clone(),
                        user: user.clone(),
                        role: Named { id: role.id.clone(), name: role.name.clone() },
                    });
                }
            }
        }
        Ok(out)
    }

    fn grant(&mut self, user_id: &str, tenant_id: &str, role_id: &str) -> Result<()> {
        self.require(Kind::User, user_id)?;
        self.require(Kind::Tenant, tenant_id)?;
        self.require(Kind::Role, role_id)?;
        self.in_transaction(|t| {
            t.add_membership(user_id, tenant_id)?;
            let existing = t.metadata(user_id, tenant_id)?;
            let exists = existing.is_some();
            let mut data = existing.unwrap_or_default();
            rows::add_roles(&mut data, &[role_id.to_string()], format!("user {user_id} tenant {tenant_id}"))?;
            t.set_metadata(user_id, tenant_id, &data, exists)
        })
    }

    fn revoke(&mut self, user_id: &str, tenant_id: &str, role_id: &str) -> Result<()> {
        self.require(Kind::User, user_id)?;
        self.require(Kind::Tenant, tenant_id)?;
        self.require(Kind::Role, role_id)?;
        self.in_transaction(|t| {
            let not_held = || Error::NotFound(format!("user `{user_id}` does not hold role `{role_id}` on tenant `{tenant_id}`"));
            let mut data = t.metadata(user_id, tenant_id)?.ok_or_else(not_held)?;
            if !rows::remove_role(&mut data, role_id) {
                return Err(not_held());
            }
            let none_left = rows::role_ids(&data).is_empty();
            t.set_metadata(user_id, tenant_id, &data, true)?;
            if none_left {
                let m = t.q("user_tenant_membership");
                t.db.execute(&format!("DELETE FROM {m} WHERE user_id = ? AND tenant_id = ?"), &[user_id.into(), tenant_id.into()])?;
            }
            Ok(())
        })
    }

    fn create_tenant(&mut self, new: &NewTenant) -> Result<Tenant> {
        self.check_new_name(Kind::Tenant, &new.name)?;
        let id = new_id();
        let mut extra = Map::new();
        if let Some(d) = &new.description {
            extra.insert("description".into(), json!(d));
        }
        extra.insert("enabled".into(), json!(new.enabled));
        self.insert("tenant", &rows::NAMED_COLUMNS, &rows::named(&id, &new.name, &Json::Object(extra)))?;
        Ok(Tenant { id, name: new.name.clone(), description: new.description.clone(), enabled: new.enabled })
    }

    fn create_user(&mut self, new: &NewUser) -> Result<User> {
        self.check_new_name(Kind::User, &new.name)?;
        if let Some(t) = &new.tenant_id {
            self.require(Kind::Tenant, t)?;
        }
        let id = new_id();
        // The keys the Essex API stores for a user it creates (`tenantId` included).
        let mut extra = Map::new();
        if let Some(p) = &new.password {
            extra.insert("password".into(), json!(password::hash(p.expose())));
        }
        if let Some(e) = &new.email {
            extra.insert("email".into(), json!(e));
        }
        extra.insert("enabled".into(), json!(new.enabled));
        if let Some(t) = &new.tenant_id {
            extra.insert("tenantId".into(), json!(t));
        }
        let row = rows::named(&id, &new.name, &Json::Object(extra));
        self.in_transaction(|t| {
            t.insert("user", &rows::NAMED_COLUMNS, &row)?;
            if let Some(tenant) = &new.tenant_id {
                t.add_membership(&id, tenant)?;
            }
            Ok(())
        })?;
        Ok(User { id, name: new.name.clone(), email: new.email.clone(), enabled: new.enabled, tenant_id: new.tenant_id.clone() })
    }

    fn create_role(&mut self, name: &str) -> Result<Role> {
        self.check_new_name(Kind::Role, name)?;
        let id = new_id();
        self.insert("role", &rows::ROLE_COLUMNS, &[id.as_str().into(), name.into()])?;
        Ok(Role { id, name: name.to_string() })
    }

    fn create_ec2_credential(&mut self, user: &Named, tenant: &Named) -> Result<NewEc2Credential> {
        self.require(Kind::User, &user.id)?;
        self.require(Kind::Tenant, &tenant.id)?;
        let (access, secret) = (new_id(), new_id());
        let row = [access.as_str().into(), secret.as_str().into(), user.id.as_str().into(), tenant.id.as_str().into()];
        self.insert("ec2_credential", &rows::EC2_COLUMNS, &row)?;
        Ok(NewEc2Credential { access, secret, user: user.clone(), tenant: tenant.clone() })
    }

    fn ec2_credentials(&mut self, user: &Named) -> Result<Vec<Ec2Credential>> {
        self.require(Kind::User, &user.id)?;
        let sql = format!(
            "SELECT c.access, c.tenant_id, t.name AS tenant_name FROM {} c LEFT JOIN {} t ON t.id = c.tenant_id WHERE c.user_id = ?",
            self.q("ec2_credential"),
            self.q("tenant")
        );
        let rows = self.db.query(&sql, &[user.id.as_str().into()])?;
        Ok(rows
            .iter()
            .map(|r| Ec2Credential {
                access: text(r, "access"),
                user: user.clone(),
                tenant: Named { id: text(r, "tenant_id"), name: text(r, "tenant_name") },
            })
            .collect())
    }

    fn catalog(&mut self) -> Result<Vec<CatalogEntry>> {
        if let Some(path) = &self.templates {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            return catalog::parse(&text).map_err(|e| Error::Refused(format!("{}: {e}", path.display())));
        }
        let tables = self.db.table_names()?;
        if !["service", "endpoint"].iter().all(|t| tables.iter().any(|x| x == t)) {
            return Err(Error::Refused(format!(
                "{} has no service/endpoint tables; give the templates file with --catalog-templates",
                self.db.url()
            )));
        }
        let sql = format!(
            "SELECT e.id, e.region, e.extra AS endpoint_extra, s.type, s.extra AS service_extra FROM {} e LEFT JOIN {} s ON s.id = e.service_id",
            self.q("endpoint"),
            self.q("service")
        );
        let rows = self.db.query(&sql, &[])?;
        rows.iter()
            .map(|r| {
                let e = Json::Object(Self::json_column(r, "endpoint", "endpoint_extra")?);
                let s = Json::Object(Self::json_column(r, "service", "service_extra")?);
                Ok(CatalogEntry {
                    region: text(r, "region"),
                    service_type: text(r, "type"),
                    name: text_of(&s, "name").unwrap_or_default(),
                    public_url: text_of(&e, "publicurl").unwrap_or_default(),
                    admin_url: text_of(&e, "adminurl").unwrap_or_default(),
                    internal_url: text_of(&e, "internalurl").unwrap_or_default(),
                })
            })
            .collect()
    }
}
