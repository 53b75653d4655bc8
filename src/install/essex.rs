//! An Essex control plane: Keystone bootstrapped through the admin client's database transport
//! (as `keystone` commands against a fresh Essex Keystone would), the SQL catalog and the
//! templates file, and the shipped Essex files (`src/config/essex/`) with the site's values.

use std::path::Path;

use serde_json::json;

use super::{InstallReport, Site, Status, table, template_entries, tenant_of};
use crate::config::ini::IniDoc;
use crate::config::report::ConfigReport;
use crate::config::upgrade::{self, Rendered, set_paste, sql_token_and_ec2};
use crate::db::{Access, Db, DbUrl, Value};
use crate::error::{Error, Result};
use crate::essex_keystone::catalog;
use crate::keystone_client::db::DbTransport;
use crate::keystone_client::{Client, Kind, NewTenant, Secret};
use crate::schema;
use crate::services::create::Service;

/// The role Essex's policy files and glance's `admin_role` name.
const ADMIN_ROLE: &str = "Admin";

/// The tenants install makes: the one Diablo's global roles go to, the admin's, the services'.
const TENANTS: [(&str, &str); 3] = [
    ("systenant", "Administrators: where the cloud's admins hold their role"),
    ("admin", "The admin user's tenant"),
    ("service", "The OpenStack services' users"),
];

pub(super) fn install(site: &Site, root: &Path, report: &mut InstallReport) -> Result<()> {
    let Some(keystone) = site.database(Service::Keystone) else { return Ok(()) };
    let url = &keystone.local;
    let credentials = identity(site, url, report)?;
    let mut db = Db::connect(url, Access::ReadWrite)?;
    let kept: Vec<String> =
        report.items.iter().filter(|i| i.kind == "user" && i.status == Status::Existing).map(|i| i.name.clone()).collect();
    for user in kept {
        let sql = format!("SELECT extra FROM {} WHERE name = ?", db.quote("user"));
        let extra = db.query_scalar(&sql, &[user.as_str().into()])?;
        let extra: serde_json::Value = extra.as_str().and_then(|e| serde_json::from_str(e).ok()).unwrap_or_default();
        super::check_kept_password(site, report, &user, extra["password"].as_str());
    }
    for (user, user_id, tenant_id) in credentials {
        let sql = "SELECT access, secret FROM ec2_credential WHERE user_id = ? AND tenant_id = ? ORDER BY access";
        let rows = db.query(sql, &[user_id.as_str().into(), tenant_id.as_str().into()])?;
        let r = rows.first().ok_or_else(|| Error::db("reading the EC2 credential just made", "it is not there"))?;
        let (access, secret) = (r.required_text("ec2_credential", "access")?, r.required_text("ec2_credential", "secret")?);
        super::write_ec2rc(site, root, user, &access, &secret, &mut report.files)?;
    }
    sql_catalog(site, &mut db, report)
}

/// Finds `name` of `kind`, else makes it with `create` (which returns the new id); `detail`
/// describes what is made.
fn ensure(
    client: &mut Client,
    report: &mut InstallReport,
    kind: Kind,
    name: &str,
    detail: Option<String>,
    create: impl FnOnce(&mut Client) -> Result<String>,
) -> Result<String> {
    let (id, status) = match client.resolve(kind, name) {
        Ok(found) => (found.id, Status::Existing),
        Err(Error::NotFound(_)) => (create(client)?, Status::Created),
        Err(e) => return Err(e),
    };
    let detail = match (status, kind) {
        (Status::Created, _) => detail,
        (Status::Existing, Kind::User) => Some(super::KEPT_USER.into()),
        (Status::Existing, _) => None,
    };
    report.add(Service::Keystone, &kind.to_string(), name, status, detail);
    Ok(id)
}

fn grant(client: &mut Client, report: &mut InstallReport, user: (&str, &str), tenant: (&str, &str), role: &str) -> Result<()> {
    let held = client.grants(Some(user.1), Some(tenant.1))?.iter().any(|g| g.role.name == role);
    if !held {
        client.grant(user.1, tenant.1, role)?;
    }
    let status = if held { Status::Existing } else { Status::Created };
    report.add(Service::Keystone, "grant", format!("{role} on {} to {}", tenant.0, user.0), status, None);
    Ok(())
}

/// Roles, tenants, users, grants and EC2 credentials; returns the EC2 credentials wanted
/// (user name, user id, tenant id).
fn identity(site: &Site, url: &DbUrl, report: &mut InstallReport) -> Result<Vec<(&'static str, String, String)>> {
    let mut client = Client::new(Box::new(DbTransport::open(url, Access::ReadWrite, None)?));
    for role in [ADMIN_ROLE, "Member"] {
        ensure(&mut client, report, Kind::Role, role, None, |c| Ok(c.create_role(role)?.id))?;
    }
    let users = site.users();
    let mut tenants = Vec::new();
    for (name, description) in TENANTS {
        if name == "service" && !users.iter().any(|(_, t)| *t == "service") {
            continue;
        }
        let new = NewTenant { name: name.to_string(), description: Some(description.to_string()), enabled: true };
        let id = ensure(&mut client, report, Kind::Tenant, name, None, |c| Ok(c.create_tenant(&new)?.id))?;
        tenants.push((name, id));
    }
    let tenant_id = |name: &str| tenants.iter().find(|(n, _)| *n == name).map(|(_, id)| id.clone()).expect("made above");
    let mut ec2 = Vec::new();
    for (user, tenant) in users {
        let password: Secret = site.password(user).cloned().expect("users() lists users with a password");
        let tid = tenant_id(tenant);
        let detail = Some(format!("default tenant {tenant}"));
        let uid = ensure(&mut client, report, Kind::User, user, detail, |c| {
            Ok(c.create_user(user, Some(password), None, Some(tid.as_str()), true)?.id)
        })?;
        grant(&mut client, report, (user, &uid), (tenant, &tid), ADMIN_ROLE)?;
        if user == "admin" {
            grant(&mut client, report, (user, &uid), ("systenant", &tenant_id("systenant")), ADMIN_ROLE)?;
        }
        if site.ec2_users.iter().any(|u| u == user) {
            let held = client.ec2_credentials(&uid)?.iter().any(|c| c.tenant.id == tid);
            if !held {
                client.create_ec2_credential(&uid, &tid)?;
            }
            let status = if held { Status::Existing } else { Status::Created };
            report.add(Service::Keystone, "ec2 credential", format!("{user} on {tenant}"), status, None);
            ec2.push((user, uid, tid));
        }
    }
    report.warnings.extend(client.take_notes());
    Ok(ec2)
}

/// The SQL catalog (`service` and `endpoint` rows, as Essex's SQL catalog backend reads them) of
/// the installed services; an entry of that type (and region) is left alone.
fn sql_catalog(site: &Site, db: &mut Db, report: &mut InstallReport) -> Result<()> {
    let schema = schema::essex::keystone(db.backend());
    for e in super::catalog(site, crate::services::create::Release::Essex) {
        let found = db.query(&format!("SELECT id FROM {} WHERE type = ?", db.quote("service")), &[e.service_type.into()])?;
        let (service_id, status) = if let Some(r) = found.first() {
            (r.required_text("service", "id")?, Status::Existing)
        } else {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let extra = json!({ "name": e.name, "description": e.description }).to_string();
            db.insert_rows(
                table(&schema, "service"),
                &["id", "type", "extra"],
                &[vec![id.as_str().into(), e.service_type.into(), extra.into()]],
                crate::db::OnConflict::Fail,
            )?;
            (id, Status::Created)
        };
        report.add(Service::Keystone, "catalog service", format!("{} ({})", e.service_type, e.name), status, None);
        let sql = format!("SELECT id FROM {} WHERE region = ? AND service_id = ?", db.quote("endpoint"));
        let exists = !db.query(&sql, &[site.region.as_str().into(), service_id.as_str().into()])?.is_empty();
        if !exists {
            let extra = json!({
                "publicurl": catalog::essex_url(&e.public),
                "internalurl": catalog::essex_url(&e.internal),
                "adminurl": catalog::essex_url(&e.admin),
            })
            .to_string();
            let id = uuid::Uuid::new_v4().simple().to_string();
            let row: Vec<Value> = vec![id.into(), site.region.as_str().into(), service_id.into(), extra.into()];
            db.insert_rows(table(&schema, "endpoint"), &["id", "region", "service_id", "extra"], &[row], crate::db::OnConflict::Fail)?;
        }
        let status = if exists { Status::Existing } else { Status::Created };
        report.add(Service::Keystone, "catalog endpoint", format!("{} in {}", e.service_type, site.region), status, None);
    }
    Ok(())
}

/// The `[filter:authtoken]` of an Essex paste file: Keystone at the controller, the service user.
fn authtoken(doc: &mut IniDoc, site: &Site, user: &str, target: &str, report: &mut ConfigReport) {
    let section = "filter:authtoken";
    let h = &site.controller;
    let password = site.password(user).map(Secret::expose).unwrap_or_default();
    for (key, value) in [
        ("service_host", h.clone()),
        ("auth_host", h.clone()),
        ("auth_uri", format!("http://{h}:5000/")),
        ("admin_tenant_name", tenant_of(user).to_string()),
        ("admin_user", user.to_string()),
        ("admin_password", password.to_string()),
    ] {
        set_paste(doc, section, key, &value, target, report);
    }
}

/// The Essex nova.conf (INI) of the site.
fn nova_conf(site: &Site) -> String {
    let h = &site.controller;
    let sql = site.database(Service::Nova).map(|d| d.host.expose_secret()).unwrap_or_default();
    let settings = [
        ("dhcpbridge_flagfile", "/etc/nova/nova.conf".to_string()),
        ("dhcpbridge", "/usr/bin/nova-dhcpbridge".into()),
        ("logdir", "/var/log/nova".into()),
        ("state_path", "/var/lib/nova".into()),
        ("lock_path", "/var/lock/nova".into()),
        ("root_helper", "sudo nova-rootwrap".into()),
        ("verbose", "true".into()),
        ("sql_connection", sql),
        ("api_paste_config", "/etc/nova/api-paste.ini".into()),
        ("auth_strategy", "keystone".into()),
        ("enabled_apis", "ec2,osapi_compute,osapi_volume,metadata".into()),
        ("keystone_ec2_url", format!("http://{h}:5000/v2.0/ec2tokens")),
        ("s3_host", h.clone()),
        ("ec2_host", h.clone()),
        ("image_service", "nova.image.glance.GlanceImageService".into()),
        ("glance_api_servers", format!("{h}:9292")),
        ("network_manager", "nova.network.manager.FlatDHCPManager".into()),
        ("public_interface", "eth0".into()),
        ("fixed_range", "10.0.0.0/16".into()),
        ("connection_type", "libvirt".into()),
        ("libvirt_type", "kvm".into()),
        ("novncproxy_base_url", format!("http://{h}:6080/vnc_auto.html")),
        ("vncserver_listen", "0.0.0.0".into()),
    ];
    let mut out = String::from("# nova.conf for Essex (2012.1), written by osmigrate install.\n[DEFAULT]\n");
    for (key, value) in settings {
        out.push_str(&format!("{key}={value}\n"));
    }
    out
}

/// Every Essex file of the installed services, relative to the root.
pub(super) fn render(site: &Site, report: &mut ConfigReport) -> Vec<Rendered> {
    let mut files = Vec::new();
    let file = |path, owner, text: Vec<u8>| Rendered { path, owner, text };
    if let Some(db) = site.database(Service::Keystone) {
        let target = upgrade::KEYSTONE_CONF;
        let mut doc = IniDoc::parse(upgrade::ESSEX_KEYSTONE.as_bytes());
        doc.set("DEFAULT", "admin_token", site.token());
        doc.set("DEFAULT", "debug", "False");
        report.info("value_rewritten", target, "debug", "the shipped True logs every request body, passwords included").to =
            Some("False".into());
        doc.set("sql", "connection", &db.host.expose_secret());
        doc.set("catalog", "template_file", &format!("/{}", upgrade::CATALOG_TEMPLATES));
        sql_token_and_ec2(&mut doc, target, report);
        files.push(file(target, "keystone", doc.to_bytes()));
        let header = "Essex Keystone catalog (TemplatedCatalog), written by osmigrate install.";
        let templates = catalog::render_with_header(header, &template_entries(site));
        files.push(file(upgrade::CATALOG_TEMPLATES, "keystone", templates.into_bytes()));
        files.push(upgrade::policy(upgrade::Service::Keystone));
    }
    if let Some(db) = site.database(Service::Glance) {
        for (conf_rel, conf, paste_rel, paste) in [
            (upgrade::GLANCE_API_CONF, upgrade::ESSEX_GLANCE_API, upgrade::GLANCE_API_PASTE, upgrade::ESSEX_GLANCE_API_PASTE),
            (
                upgrade::GLANCE_REGISTRY_CONF,
                upgrade::ESSEX_GLANCE_REGISTRY,
                upgrade::GLANCE_REGISTRY_PASTE,
                upgrade::ESSEX_GLANCE_REGISTRY_PASTE,
            ),
        ] {
            let mut doc = IniDoc::parse(conf.as_bytes());
            doc.set("paste_deploy", "flavor", "keystone");
            doc.set("DEFAULT", "admin_role", ADMIN_ROLE);
            if conf_rel == upgrade::GLANCE_REGISTRY_CONF {
                doc.set("DEFAULT", "sql_connection", &db.host.expose_secret());
            }
            files.push(file(conf_rel, "glance", doc.to_bytes()));
            let mut doc = IniDoc::parse(paste.as_bytes());
            authtoken(&mut doc, site, "glance", paste_rel, report);
            files.push(file(paste_rel, "glance", doc.to_bytes()));
        }
        files.push(upgrade::policy(upgrade::Service::Glance));
    }
    if site.has(Service::Nova) {
        files.push(file("etc/nova/nova.conf", "nova", nova_conf(site).into_bytes()));
        let mut doc = IniDoc::parse(upgrade::ESSEX_NOVA_API_PASTE.as_bytes());
        authtoken(&mut doc, site, "nova", upgrade::NOVA_API_PASTE, report);
        files.push(file(upgrade::NOVA_API_PASTE, "nova", doc.to_bytes()));
        files.push(upgrade::policy(upgrade::Service::NovaPaste));
    }
    files
}
