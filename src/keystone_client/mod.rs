//! An Essex Keystone admin client that takes names or ids everywhere.
//!
//! Two transports behind one trait: the v2.0 admin API ([`api`]) and the Essex Keystone database
//! itself ([`db`]). [`Client`] sits on top: it resolves every name exactly ([`resolve`]), refuses
//! to create a second object of a name, and keeps notes (a name that is also another object's id)
//! for the caller to show. Nothing here prints.

pub mod api;
pub mod db;
pub mod resolve;

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};
pub use crate::essex_keystone::catalog::TemplateEntry as CatalogEntry;
pub use resolve::{Kind, Resolved};

/// An object's id and name (the name is empty when Keystone has none or could not say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
}

/// A user as listings show it: never its password.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub enabled: bool,
    /// The default tenant: `tenantId` in `extra` (what the Essex API writes), else `tenant_id`
    /// (what the legacy import writes).
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    pub id: String,
    pub name: String,
}

/// A role held by a user on a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub tenant: Named,
    pub user: Named,
    pub role: Named,
}

/// An EC2 credential as listings show it: the access key, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ec2Credential {
    pub access: String,
    pub user: Named,
    pub tenant: Named,
}

/// A newly made EC2 credential: the one value this client hands out that holds a secret.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct NewEc2Credential {
    pub access: String,
    pub secret: String,
    pub user: Named,
    pub tenant: Named,
}

impl fmt::Debug for NewEc2Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEc2Credential")
            .field("access", &self.access)
            .field("secret", &crate::redact::MASK)
            .field("user", &self.user)
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// A secret (a password or a token) that never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", crate::redact::MASK)
    }
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub password: Option<Secret>,
    pub email: Option<String>,
    /// The default tenant (its id); the user also becomes a member of it.
    pub tenant_id: Option<String>,
    pub enabled: bool,
}

/// What a transport does; ids only (the [`Client`] resolves names). Listings come back in the
/// order Keystone gives; the client sorts.
pub trait Transport {
    /// Where this transport talks to, for messages (never a secret).
    fn target(&self) -> String;
    fn tenants(&mut self) -> Result<Vec<Tenant>>;
    fn users(&mut self) -> Result<Vec<User>>;
    fn roles(&mut self) -> Result<Vec<Role>>;
    /// Objects of `kind` that may be meant by `key`: every object, or fewer when the transport can
    /// narrow the search, keeping at least every exact id or name match and those whose name
    /// equals `key` ignoring case (for hints).
    fn candidates(&mut self, kind: Kind, key: &str) -> Result<Vec<Named>>;
    /// Every role held, narrowed to one user and/or one tenant when given.
    fn grants(&mut self, user: Option<&Named>, tenant: Option<&Named>) -> Result<Vec<Grant>>;
    /// Grants a role (and membership of the tenant, as Essex does); granting twice is no error.
    fn grant(&mut self, user_id: &str, tenant_id: &str, role_id: &str) -> Result<()>;
    /// Takes a role back; when the user holds no other role there, also the membership (as Essex).
    fn revoke(&mut self, user_id: &str, tenant_id: &str, role_id: &str) -> Result<()>;
    fn create_tenant(&mut self, tenant: &NewTenant) -> Result<Tenant>;
    fn create_user(&mut self, user: &NewUser) -> Result<User>;
    fn create_role(&mut self, name: &str) -> Result<Role>;
    fn create_ec2_credential(&mut self, user: &Named, tenant: &Named) -> Result<NewEc2Credential>;
    fn ec2_credentials(&mut self, user: &Named) -> Result<Vec<Ec2Credential>>;
    fn catalog(&mut self) -> Result<Vec<CatalogEntry>>;
}

/// The admin client: names or ids everywhere, resolved exactly.
pub struct Client {
    transport: Box<dyn Transport>,
    notes: Vec<String>,
}

impl Client {
    pub fn new(transport: Box<dyn Transport>) -> Self {
        Client { transport, notes: Vec::new() }
    }

    pub fn target(&self) -> String {
        self.transport.target()
    }

    /// Things the caller should tell the operator (on stderr): they are not errors.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The object `key` names: an id, else an exact name (see [`resolve::resolve`]).
    pub fn resolve(&mut self, kind: Kind, key: &str) -> Result<Resolved> {
        let candidates = self.transport.candidates(kind, key)?;
        let r = resolve::resolve(kind, key, &candidates)?;
        for other in &r.shadowed {
            self.notes.push(format!(
                "`{key}` is the id of {kind} `{}`, which was used; the {kind} named `{key}` (id {}) was not: give its id to mean it",
                r.name, other.id
            ));
        }
        Ok(r)
    }

    pub fn tenants(&mut self) -> Result<Vec<Tenant>> {
        let mut v = self.transport.tenants()?;
        v.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(v)
    }

    pub fn users(&mut self) -> Result<Vec<User>> {
        let mut v = self.transport.users()?;
        v.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(v)
    }

    pub fn roles(&mut self) -> Result<Vec<Role>> {
        let mut v = self.transport.roles()?;
        v.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(v)
    }

    /// Roles held, for one user and/or one tenant (names or ids), or all of them.
    pub fn grants(&mut self, user: Option<&str>, tenant: Option<&str>) -> Result<Vec<Grant>> {
        let user = user.map(|k| self.resolve(Kind::User, k)).transpose()?.map(Resolved::named);
        let tenant = tenant.map(|k| self.resolve(Kind::Tenant, k)).transpose()?.map(Resolved::named);
        let mut v = self.transport.grants(user.as_ref(), tenant.as_ref())?;
        v.sort_by(|a, b| {
            (&a.tenant.name, &a.tenant.id, &a.user.name, &a.user.id, &a.role.name).cmp(&(
                &b.tenant.name,
                &b.tenant.id,
                &b.user.name,
                &b.user.id,
                &b.role.name,
            ))
        });
        Ok(v)
    }

    /// Grants `role` to `user` on `tenant` (names or ids) and returns what was granted.
    pub fn grant(&mut self, user: &str, tenant: &str, role: &str) -> Result<Grant> {
        let g = self.resolve_grant(user, tenant, role)?;
        self.transport.grant(&g.user.id, &g.tenant.id, &g.role.id)?;
        Ok(g)
    }

    /// Takes `role` on `tenant` back from `user` (names or ids).
    pub fn revoke(&mut self, user: &str, tenant: &str, role: &str) -> Result<Grant> {
        let g = self.resolve_grant(user, tenant, role)?;
        self.transport.revoke(&g.user.id, &g.tenant.id, &g.role.id)?;
        Ok(g)
    }

    fn resolve_grant(&mut self, user: &str, tenant: &str, role: &str) -> Result<Grant> {
        Ok(Grant {
            user: self.resolve(Kind::User, user)?.named(),
            tenant: self.resolve(Kind::Tenant, tenant)?.named(),
            role: self.resolve(Kind::Role, role)?.named(),
        })
    }

    pub fn create_tenant(&mut self, tenant: &NewTenant) -> Result<Tenant> {
        self.check_new_name(Kind::Tenant, &tenant.name)?;
        self.transport.create_tenant(tenant)
    }

    /// Creates a user; `tenant` (a name or id) becomes its default tenant and it a member there.
    pub fn create_user(
        &mut self,
        name: &str,
        password: Option<Secret>,
        email: Option<String>,
        tenant: Option<&str>,
        enabled: bool,
    ) -> Result<User> {
        self.check_new_name(Kind::User, name)?;
        let tenant_id = tenant.map(|t| self.resolve(Kind::Tenant, t)).transpose()?.map(|r| r.id);
        self.transport.create_user(&NewUser { name: name.to_string(), password, email, tenant_id, enabled })
    }

    pub fn create_role(&mut self, name: &str) -> Result<Role> {
        self.check_new_name(Kind::Role, name)?;
        self.transport.create_role(name)
    }

    pub fn create_ec2_credential(&mut self, user: &str, tenant: &str) -> Result<NewEc2Credential> {
        let user = self.resolve(Kind::User, user)?.named();
        let tenant = self.resolve(Kind::Tenant, tenant)?.named();
        self.transport.create_ec2_credential(&user, &tenant)
    }

    pub fn ec2_credentials(&mut self, user: &str) -> Result<Vec<Ec2Credential>> {
        let user = self.resolve(Kind::User, user)?.named();
        let mut v = self.transport.ec2_credentials(&user)?;
        v.sort_by(|a, b| (&a.tenant.name, &a.access).cmp(&(&b.tenant.name, &b.access)));
        Ok(v)
    }

    pub fn catalog(&mut self) -> Result<Vec<CatalogEntry>> {
        let mut v = self.transport.catalog()?;
        v.sort_by(|a, b| (&a.region, &a.service_type).cmp(&(&b.region, &b.service_type)));
        Ok(v)
    }

    /// A new object's name: not empty, not already taken (exactly) by one of its kind; a name
    /// that is another object's id is allowed, with a note (that id wins when resolving).
    fn check_new_name(&mut self, kind: Kind, name: &str) -> Result<()> {
        if name.trim().is_empty() {
            return Err(Error::Usage(format!("a {kind} needs a name that is not empty")));
        }
        let candidates = self.transport.candidates(kind, name)?;
        if let Some(same) = candidates.iter().find(|c| c.name == name) {
            return Err(Error::Refused(format!("a {kind} named `{name}` already exists (id {}) in {}", same.id, self.target())));
        }
        if let Some(other) = candidates.iter().find(|c| c.id == name) {
            self.notes.push(format!(
                "the new {kind} is named `{name}`, which is the id of {kind} `{}`: `{name}` will resolve to that one; use the new id",
                other.name
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Tenant => "tenant",
            Kind::User => "user",
            Kind::Role => "role",
        })
    }
}

/// Essex's `enabled` as stored or sent: a JSON boolean, the integer 1 the upstream import left, or
/// text; absent means enabled (Essex reads `get('enabled', True)`).
pub(crate) fn enabled_of(v: Option<&serde_json::Value>) -> bool {
    use serde_json::Value as J;
    match v {
        None | Some(J::Null) => true,
        Some(J::Bool(b)) => *b,
        Some(J::Number(n)) => n.as_f64() != Some(0.0),
        Some(J::String(s)) => !matches!(s.trim().to_ascii_lowercase().as_str(), "0" | "false" | "f" | "no" | "n" | "off" | ""),
        Some(_) => true,
    }
}

/// A JSON value that holds an id: text, or the integer the upstream import wrote.
pub(crate) fn id_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Text from a JSON object's field (`None` when absent, null or not text).
pub(crate) fn text_of(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn enabled_flags_read_like_essex() {
        assert!(enabled_of(None));
        assert!(enabled_of(Some(&json!(true))));
        assert!(!enabled_of(Some(&json!(false))));
        assert!(enabled_of(Some(&json!(1))));
        assert!(!enabled_of(Some(&json!(0))));
        assert!(!enabled_of(Some(&json!("False"))));
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(****)");
        let n = Named { id: "u".into(), name: "n".into() };
        let c = NewEc2Credential { access: "a".into(), secret: "s3cr3t".into(), user: n.clone(), tenant: n };
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
