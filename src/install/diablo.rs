//! A Diablo control plane: the legacy Keystone tables as Diablo's `keystone-manage` bootstrap
//! (its `sampledata`) left them, and the shipped Diablo files (`generate::etc`) with the site's
//! databases, address and service token.
//!
//! Keystone: tenants `admin` and `service`; roles `Admin`, `Member`, `KeystoneAdmin`,
//! `KeystoneServiceAdmin`; the admin holds `Admin` on its tenant and `Admin`, `KeystoneAdmin` and
//! `KeystoneServiceAdmin` globally (the grants a migration moves to `systenant`); `nova` and
//! `glance` hold `Admin` on `service`; passwords stored as sha512_crypt (`hash-password = True`,
//! the shipped default); the catalog as `services` and global `endpoint_templates`; the service
//! token (the paste files' `admin_token`) as the admin's long-lived token.

use std::path::Path;

use super::{InstallReport, Site, Status, table};
use crate::config::upgrade::Rendered;
use crate::db::{Access, Db, DbUrl, OnConflict, Value};
use crate::error::{Error, Result};
use crate::essex_keystone::password;
use crate::generate::etc;
use crate::schema::{self, Schema};
use crate::services::create::{Release, Service};

/// When the service token expires: far enough never to matter (Diablo's sample data gave one date
/// too, and Diablo checked it).
const SERVICE_TOKEN_EXPIRES: &str = "2099-12-31 00:00:00";

const ROLES: [&str; 4] = ["Admin", "Member", "KeystoneAdmin", "KeystoneServiceAdmin"];

pub(super) fn install(site: &Site, root: &Path, report: &mut InstallReport) -> Result<()> {
    let Some(keystone) = site.database(Service::Keystone) else { return Ok(()) };
    let mut k = Legacy::open(&keystone.local)?;
    let mut tenants = Vec::new();
    for (name, description) in [("admin", None), ("service", Some("Service users"))] {
        if name == "service" && !site.users().iter().any(|(_, t)| *t == "service") {
            continue;
        }
        let desc: Value = description.into();
        let id = k.ensure(report, "tenants", "tenant", name, &[("name", name.into())], &[("desc", desc), ("enabled", 1.into())])?;
        tenants.push((name, id));
    }
    let tenant_id = |name: &str| tenants.iter().find(|(n, _)| *n == name).map(|(_, id)| id.clone()).expect("made above");
    let mut roles = Vec::new();
    for role in ROLES {
        let id = k.ensure(report, "roles", "role", role, &[("name", role.into()), ("service_id", Value::Null)], &[])?;
        roles.push((role, id));
    }
    let role_id = |name: &str| roles.iter().find(|(n, _)| *n == name).map(|(_, id)| id.clone()).expect("made above");
    let mut admin = None;
    for (user, tenant) in site.users() {
        let tid = tenant_id(tenant);
        let found = k.find("users", &[("name", user.into())])?;
        let uid = if let Some(id) = found {
            report.add(Service::Keystone, "user", user, Status::Existing, Some(super::KEPT_USER.into()));
            let stored = k.db.query_scalar("SELECT password FROM users WHERE id = ?", std::slice::from_ref(&id))?;
            super::check_kept_password(site, report, user, stored.as_str());
            id
        } else {
            let hashed = password::hash(site.password(user).expect("users() lists users with a password").expose());
            let values = [("password", hashed.into()), ("email", Value::Null), ("enabled", 1.into()), ("tenant_id", tid.clone())];
            k.ensure(report, "users", "user", user, &[("name", user.into())], &values)?
        };
        let grant = format!("Admin on {tenant} to {user}");
        k.ensure(
            report,
            "user_roles",
            "grant",
            &grant,
            &[("user_id", uid.clone()), ("role_id", role_id("Admin")), ("tenant_id", tid.clone())],
            &[],
        )?;
        if user == "admin" {
            for role in ["Admin", "KeystoneAdmin", "KeystoneServiceAdmin"] {
                let key = [("user_id", uid.clone()), ("role_id", role_id(role)), ("tenant_id", Value::Null)];
                k.ensure(report, "user_roles", "grant", &format!("{role} (global) to admin"), &key, &[])?;
            }
            admin = Some((uid.clone(), tid.clone()));
        }
        if site.ec2_users.iter().any(|u| u == user) {
            let key = [("user_id", uid.clone()), ("tenant_id", tid.clone()), ("type", "EC2".into())];
            let fresh = || uuid::Uuid::new_v4().simple().to_string();
            let values = [("key", fresh().into()), ("secret", fresh().into())];
            let id = k.ensure(report, "credentials", "ec2 credential", &format!("{user} on {tenant}"), &key, &values)?;
            let sql = format!("SELECT {} AS access, secret FROM credentials WHERE id = ?", k.db.quote("key"));
            let r = k.db.query(&sql, &[id])?;
            let r = r.first().ok_or_else(|| Error::db("reading the EC2 credential just made", "it is not there"))?;
            let (access, secret) = (r.required_text("credentials", "access")?, r.required_text("credentials", "secret")?);
            super::write_ec2rc(site, root, user, &access, &secret, &mut report.files)?;
        }
    }
    let (admin_id, admin_tenant) = admin.expect("keystone is installed, so is its admin");
    let expires = crate::db::value::parse_datetime(SERVICE_TOKEN_EXPIRES).expect("a valid date");
    k.ensure(
        report,
        "token",
        "service token",
        "the site's admin_token, the admin's on tenant admin",
        &[("id", site.token().into())],
        &[("user_id", admin_id), ("tenant_id", admin_tenant), ("expires", expires.into())],
    )?;
    for e in super::catalog(site, Release::Diablo) {
        let service = k.ensure(
            report,
            "services",
            "catalog service",
            &format!("{} ({})", e.service_type, e.name),
            &[("name", e.name.into())],
            &[("type", e.service_type.into()), ("desc", e.description.into())],
        )?;
        k.ensure(
            report,
            "endpoint_templates",
            "catalog endpoint",
            &format!("{} in {}", e.service_type, site.region),
            &[("region", site.region.as_str().into()), ("service_id", service)],
            &[
                ("public_url", e.public.into()),
                ("admin_url", e.admin.into()),
                ("internal_url", e.internal.into()),
                ("enabled", true.into()),
                ("is_global", true.into()),
            ],
        )?;
    }
    Ok(())
}

/// The legacy Keystone database with its schema.
struct Legacy {
    db: Db,
    schema: Schema,
}

impl Legacy {
    fn open(url: &DbUrl) -> Result<Legacy> {
        let db = Db::connect(url, Access::ReadWrite)?;
        let schema = schema::diablo::keystone(db.backend());
        Ok(Legacy { db, schema })
    }

    /// The id of the row whose `key` columns hold these values (NULL matched as NULL).
    fn find(&mut self, t: &str, key: &[(&str, Value)]) -> Result<Option<Value>> {
        let cond: Vec<String> = key
            .iter()
            .map(|(c, v)| if v.is_null() { format!("{} IS NULL", self.db.quote(c)) } else { format!("{} = ?", self.db.quote(c)) })
            .collect();
        let params: Vec<Value> = key.iter().map(|(_, v)| v.clone()).filter(|v| !v.is_null()).collect();
        let sql = format!("SELECT id FROM {} WHERE {} ORDER BY id", self.db.quote(t), cond.join(" AND "));
        Ok(self.db.query(&sql, &params)?.first().map(|r| r.get("id").clone()))
    }

    /// The row of `t` with these `key` values, made with `values` besides when missing; returns
    /// its id and reports it as `kind` `label`.
    fn ensure(
        &mut self,
        report: &mut InstallReport,
        t: &str,
        kind: &str,
        label: &str,
        key: &[(&str, Value)],
        values: &[(&str, Value)],
    ) -> Result<Value> {
        if let Some(id) = self.find(t, key)? {
            report.add(Service::Keystone, kind, label, Status::Existing, None);
            return Ok(id);
        }
        let columns: Vec<&str> = key.iter().chain(values).map(|(c, _)| *c).collect();
        let row: Vec<Value> = key.iter().chain(values).map(|(_, v)| v.clone()).collect();
        self.db.insert_rows(table(&self.schema, t), &columns, &[row], OnConflict::Fail)?;
        let id = self.find(t, key)?.ok_or_else(|| Error::db(format!("reading back the {kind} just made"), "it is not there"))?;
        report.add(Service::Keystone, kind, label, Status::Created, None);
        Ok(id)
    }
}

/// The Diablo files of the installed services (`generate::etc`), with the site's values.
pub(super) fn render(site: &Site) -> Vec<Rendered> {
    let url = |s| site.database(s).map(|d| d.host.expose_secret()).unwrap_or_default();
    let (keystone, glance, nova) = (url(Service::Keystone), url(Service::Glance), url(Service::Nova));
    let urls = etc::Urls { keystone: &keystone, glance: &glance, nova: &nova };
    let tree = etc::render_tree(&etc::Site { urls: &urls, host: &site.controller, admin_token: site.token() });
    tree.into_iter().filter(|f| site.services.iter().any(|&s| super::site::service_name(s) == f.owner)).collect()
}
