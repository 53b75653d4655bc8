//! `install --release essex|diablo --site FILE --root DIR`: a whole control plane from one site
//! file ([`site`]): each service's database created at the release's exact schema and stamped
//! (`services::create`), Keystone bootstrapped (an admin, the service users, the catalog, EC2
//! credentials on request), and every config file of the release rendered under the root.
//!
//! Essex ([`essex`]): Keystone is bootstrapped through the admin client's database transport, the
//! files are the shipped Essex ones with the site's values. Diablo ([`diablo`]): the legacy
//! Keystone tables as Diablo's `keystone-manage` left them, the shipped Diablo files
//! (`generate::etc`) with the site's values — the natural rehearsal of a migration.
//!
//! Running it again changes nothing: every object is looked up by name first and only made when
//! missing, a file that already holds the text is not written, no secret is made twice. The
//! report says what was created and what was already there.

mod diablo;
mod essex;
pub mod site;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::report::{ConfigReport, WrittenFile};
use crate::config::write::{self, Ownership};
use crate::db::{Access, Db, DbUrl};
use crate::error::{Error, Result};
use crate::essex_keystone::catalog::TemplateEntry;
use crate::schema::{self, Schema};
use crate::services::create::{self, Release, Service};
pub use site::Site;

#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub release: Release,
    /// The site file.
    pub site: PathBuf,
    /// The tree to install under (`/` on the host itself).
    pub root: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made by this run.
    Created,
    /// Already there (an earlier run, or the operator): left as it is.
    Existing,
}

/// One thing install makes: a database, a tenant, a user, a grant, a flavor, a catalog entry…
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub service: Service,
    pub kind: String,
    pub name: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    pub release: Release,
    pub root: String,
    pub site: String,
    pub services: Vec<Service>,
    pub items: Vec<Item>,
    /// Every file rendered: written, or already holding exactly that text (`unchanged`).
    pub files: ConfigReport,
    pub warnings: Vec<String>,
}

impl InstallReport {
    pub fn count(&self, status: Status) -> usize {
        self.items.iter().filter(|i| i.status == status).count()
    }

    /// 0 clean, 1 done with warnings.
    pub fn exit_status(&self) -> i32 {
        i32::from(!self.warnings.is_empty() || self.files.has_warnings())
    }

    fn add(&mut self, service: Service, kind: &str, name: impl Into<String>, status: Status, detail: Option<String>) {
        self.items.push(Item { service, kind: kind.to_string(), name: name.into(), status, detail });
    }
}

pub fn install(opts: &InstallOptions) -> Result<InstallReport> {
    let site = Site::read(&opts.site, &opts.root, opts.release == Release::Diablo)?;
    std::fs::create_dir_all(&opts.root).map_err(|e| Error::io(&opts.root, e))?;
    let owners = Ownership::new(&opts.root)?;
    let release = match opts.release {
        Release::Essex => "essex",
        Release::Diablo => "diablo",
    };
    let mut report = InstallReport {
        release: opts.release,
        root: opts.root.display().to_string(),
        site: opts.site.display().to_string(),
        services: site.services.clone(),
        items: Vec::new(),
        files: ConfigReport::new(&format!("install {release}")),
        warnings: site.warnings.clone(),
    };
    for (service, db) in &site.databases {
        database(&mut report, *service, opts.release, &db.host, &db.local)?;
    }
    if let Some(nova) = site.database(Service::Nova) {
        flavors(&mut report, opts.release, &nova.local)?;
    }
    // The directories the packages make (the services' state and logs, which their configs name),
    // and (made as root) everything in them given to the service users, as the services must write there.
    for service in &site.services {
        let name = match service {
            Service::Keystone => "keystone",
            Service::Glance => "glance",
            Service::Nova => "nova",
        };
        for dir in [format!("/var/lib/{name}"), format!("/var/log/{name}")] {
            let dir = crate::rootfs::under_root(&opts.root, Path::new(&dir))?;
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
    }
    if owners.is_root() {
        report.files.merge(write::fix_ownership(&opts.root, &owners)?);
    }
    match opts.release {
        Release::Essex => essex::install(&site, &opts.root, &mut report)?,
        Release::Diablo => diablo::install(&site, &opts.root, &mut report)?,
    }
    let files = match opts.release {
        Release::Essex => essex::render(&site, &mut report.files),
        Release::Diablo => diablo::render(&site),
    };
    for f in files {
        write::write_config(&crate::rootfs::under_root(&opts.root, Path::new(f.path))?, &f.text, f.owner, &owners, &mut report.files)?;
    }
    Ok(report)
}

/// The service's database at the release's schema: created (and stamped) when it is new or
/// empty, found when it already holds that schema, refused when it holds anything else.
fn database(report: &mut InstallReport, service: Service, release: Release, host: &DbUrl, local: &DbUrl) -> Result<()> {
    if let Some(dir) = local.path.as_ref().and_then(|p| p.parent()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Db::create_database_if_missing(local)?;
    let (schema, note) = create::schema_for(service, release, local.backend);
    let mut db = Db::connect(local, Access::ReadWrite)?;
    let tables: Vec<String> = db.table_names()?;
    let stamp = match &schema.stamp {
        Some(s) => format!("stamped `{}` {}", s.repository_id, s.version),
        None => "no version stamp".to_string(),
    };
    let what = format!("{release:?} {service:?} schema");
    let detail = Some(format!("{what}, {stamp}{}", note.map(|n| format!(" ({n})")).unwrap_or_default()));
    if tables.is_empty() {
        drop(db);
        create::create(service, release, local)?;
        report.add(service, "database", host.to_string(), Status::Created, detail);
        return Ok(());
    }
    let mut missing = Vec::new();
    for t in &schema.tables {
        if !tables.contains(&t.name) {
            missing.push(t.name.clone());
            continue;
        }
        let columns = db.column_names(&t.name)?;
        missing.extend(t.columns.iter().filter(|c| !columns.contains(&c.name)).map(|c| format!("{}.{}", t.name, c.name)));
    }
    let stamped = match &schema.stamp {
        None => true,
        Some(s) => {
            tables.iter().any(|t| t == schema::MIGRATE_VERSION_TABLE)
                && db
                    .query_scalar("SELECT version FROM migrate_version WHERE repository_id = ?", &[s.repository_id.clone().into()])?
                    .as_i64()
                    == Some(s.version)
        }
    };
    if (!missing.is_empty() || !stamped) && unfinished(&mut db, &schema, &tables)? {
        // An earlier run stopped while making the schema: only its empty tables are there.
        for t in schema.tables_in_dependency_order().into_iter().rev().filter(|t| tables.contains(&t.name)) {
            db.execute(&format!("DROP TABLE {}", db.quote(&t.name)), &[])?;
        }
        drop(db);
        create::create(service, release, local)?;
        report.add(service, "database", host.to_string(), Status::Created, detail);
        return Ok(());
    }
    if !missing.is_empty() || !stamped {
        let shown: Vec<String> = missing.iter().take(5).cloned().collect();
        return Err(Error::Refused(format!(
            "{local} holds {} table(s) but is not the {what} ({}{}): install creates a database or finds the one it made; \
             give an empty or new database",
            tables.len(),
            if missing.is_empty() { format!("not {stamp}") } else { format!("missing {}", shown.join(", ")) },
            if missing.len() > 5 { ", …" } else { "" }
        )));
    }
    report.add(service, "database", host.to_string(), Status::Existing, detail);
    Ok(())
}

/// Whether every table is one of the schema's and none holds a row: a schema whose making was
/// cut short (the stamp is written last).
fn unfinished(db: &mut Db, schema: &Schema, tables: &[String]) -> Result<bool> {
    for t in tables {
        if schema.table(t).is_none() {
            return Ok(false);
        }
        if db.query_scalar(&format!("SELECT COUNT(*) FROM {}", db.quote(t)), &[])?.as_i64() != Some(0) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The five flavors migration 008 seeds, in the release's form (`services::nova::flavors`). A
/// flavor of that name (deleted ones included) is left alone.
fn flavors(report: &mut InstallReport, release: Release, url: &DbUrl) -> Result<()> {
    use crate::services::nova::flavors::{self, Flavor, SEEDED};
    let mut db = Db::connect(url, Access::ReadWrite)?;
    let have: Vec<String> =
        db.query("SELECT name FROM instance_types", &[])?.iter().filter_map(|r| r.get("name").as_str().map(str::to_owned)).collect();
    let missing: Vec<Flavor> = SEEDED.iter().copied().filter(|f| !have.iter().any(|h| h == f.1)).collect();
    let schema = match release {
        Release::Diablo => {
            let schema = schema::diablo::nova(db.backend());
            flavors::insert_diablo(&mut db, &schema, &missing, |_| None)?;
            schema
        }
        Release::Essex => {
            let schema = schema::essex::nova(db.backend());
            flavors::insert_essex(&mut db, &schema, &missing)?;
            schema
        }
    };
    db.reset_sequences(&schema)?;
    for f in &SEEDED {
        let status = if missing.iter().any(|m| m.1 == f.1) { Status::Created } else { Status::Existing };
        report.add(Service::Nova, "flavor", f.1, status, None);
    }
    Ok(())
}

/// One entry of the catalog, in Diablo's form (`%tenant_id%`); the Essex form goes through
/// `catalog::essex_url`, as a migration carries it.
pub(crate) struct Endpoint {
    /// The service the entry is installed with.
    pub service: Service,
    /// The legacy service name (`services.name`; `service.extra.name` in Essex).
    pub name: &'static str,
    pub service_type: &'static str,
    pub description: &'static str,
    pub public: String,
    pub admin: String,
    pub internal: String,
}

/// The catalog of the installed services, every URL at the controller: identity, image, compute,
/// EC2, and (Essex's own API) volume.
pub(crate) fn catalog(site: &Site, release: Release) -> Vec<Endpoint> {
    let h = &site.controller;
    let entry = |service, name, service_type, description, public: String, admin: Option<String>| Endpoint {
        service,
        name,
        service_type,
        description,
        internal: public.clone(),
        admin: admin.unwrap_or_else(|| public.clone()),
        public,
    };
    let mut all = vec![
        entry(
            Service::Keystone,
            "keystone",
            "identity",
            "Identity Service",
            format!("http://{h}:5000/v2.0"),
            Some(format!("http://{h}:35357/v2.0")),
        ),
        entry(Service::Glance, "glance", "image", "Image Service", format!("http://{h}:9292/v1"), None),
        entry(Service::Nova, "nova", "compute", "Compute Service", format!("http://{h}:8774/v1.1/%tenant_id%"), None),
        entry(
            Service::Nova,
            "ec2",
            "ec2",
            "EC2 Service",
            format!("http://{h}:8773/services/Cloud"),
            Some(format!("http://{h}:8773/services/Admin")),
        ),
    ];
    if release == Release::Essex {
        all.push(entry(Service::Nova, "nova-volume", "volume", "Volume Service", format!("http://{h}:8776/v1/%tenant_id%"), None));
    }
    all.retain(|e| site.has(e.service));
    all
}

/// The Essex templates-file entries of the catalog.
pub(crate) fn template_entries(site: &Site) -> Vec<TemplateEntry> {
    use crate::essex_keystone::catalog::essex_url;
    catalog(site, Release::Essex)
        .into_iter()
        .map(|e| TemplateEntry {
            region: site.region.clone(),
            service_type: e.service_type.to_string(),
            name: e.description.to_string(),
            public_url: essex_url(&e.public),
            admin_url: essex_url(&e.admin),
            internal_url: essex_url(&e.internal),
        })
        .collect()
}

/// The tenant a user `install` makes belongs to.
pub(crate) fn tenant_of(user: &str) -> &'static str {
    site::USERS.iter().find(|(u, _)| *u == user).map_or("admin", |(_, t)| t)
}

/// Writes `ROOT/DIR/ec2rc-USER`, the shell lines of one EC2 key pair (0640, owned by whoever runs
/// install), unless it already holds them.
pub(crate) fn write_ec2rc(site: &Site, root: &Path, user: &str, access: &str, secret: &str, report: &mut ConfigReport) -> Result<()> {
    let path = crate::rootfs::under_root(root, &site.ec2_dir.join(format!("ec2rc-{user}")))?;
    let text = format!(
        "# The EC2 credentials of Keystone user {user} on tenant {}, made by osmigrate install. Keep this file private.\n\
         export EC2_ACCESS_KEY={access}\nexport EC2_SECRET_KEY={secret}\nexport EC2_URL=http://{}:8773/services/Cloud\n",
        tenant_of(user),
        site.controller
    );
    let shown = path.display().to_string();
    let unchanged = std::fs::read(&path).is_ok_and(|old| old == text.as_bytes());
    if !unchanged {
        write::write_bytes(&path, write::Perms::mode(write::MODE), text.as_bytes())?;
    }
    report.files.push(WrittenFile { path: shown, backup: None, mode: format!("{:04o}", write::MODE), owner: None, unchanged });
    Ok(())
}

/// Warns when a user that was already there holds a password other than the site's (`stored`: its
/// hash, or a legacy plaintext), since the files carry the site's.
fn check_kept_password(site: &Site, report: &mut InstallReport, user: &str, stored: Option<&str>) {
    let wanted = site.password(user).map(super::keystone_client::Secret::expose).unwrap_or_default();
    let same = match stored {
        Some(s) if crate::essex_keystone::password::is_sha512_crypt(s) => crate::essex_keystone::password::verify(wanted, s),
        Some(s) => s == wanted,
        None => false,
    };
    if !same {
        report.warnings.push(format!(
            "user `{user}` was already there with a password other than the site's; install leaves it as it is, so Keystone \
             and the site disagree (Essex's paste files carry the site's) until one of them is changed"
        ));
    }
}

/// What an existing user is left with.
const KEPT_USER: &str = "left as it is, password included";

/// Schema tables by name, for inserts.
fn table<'s>(schema: &'s Schema, name: &str) -> &'s schema::Table {
    schema.table(name).unwrap_or_else(|| panic!("{} schema has table {name}", schema.service))
}
