//! `osmigrate db …`

use std::path::PathBuf;

use clap::{Args, Subcommand};
use osmigrate::db::DbUrl;
use osmigrate::images::map::MapSource;
use osmigrate::migrate::Report;
use osmigrate::services::glance::{self, GlanceOptions};
use osmigrate::services::keystone::{self, KeystoneOptions};
use osmigrate::services::nova::{self, NovaOptions};
use osmigrate::services::nova_auth::{self, NovaAuthOptions};

use super::{OutputArgs, emit_value, progress::Bar, render};

#[derive(Subcommand)]
pub enum DbCommand {
    /// Build a service's Essex database next to its Diablo one; the source is only read.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Create an empty database at a release's exact schema, stamped as that release stamps it.
    Create(CreateArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    #[arg(value_enum)]
    service: CreateService,
    /// The release whose schema to create.
    #[arg(long, value_enum)]
    release: CreateRelease,
    /// The database (created when missing; refused when it holds any table).
    #[arg(value_name = "URL")]
    url: String,
    /// Print one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CreateService {
    Keystone,
    Glance,
    Nova,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CreateRelease {
    Diablo,
    Essex,
}

#[derive(Subcommand)]
pub enum MigrateCommand {
    /// Import a legacy (Diablo-era) Keystone database into a new Essex Keystone database.
    Keystone(KeystoneArgs),
    /// Build an Essex Glance database (UUID image ids) from a Diablo one, keeping the old→new map.
    Glance(GlanceArgs),
    /// Build an Essex Nova database (version 82) from a Diablo one (46), image references rewritten.
    Nova(NovaArgs),
    /// Import Nova's own auth (users, projects, roles, EC2 keys) into an Essex Keystone database.
    NovaAuth(NovaAuthArgs),
}

#[derive(Args)]
pub struct NovaAuthArgs {
    /// The Diablo Nova database holding Nova's own auth tables (users, projects, roles).
    #[arg(long, value_name = "URL", env = "OSMIGRATE_FROM", hide_env_values = true)]
    from: String,
    /// The Essex Keystone database: new or empty, or one `db migrate keystone` built (added to).
    #[arg(long, value_name = "URL", env = "OSMIGRATE_TO", hide_env_values = true)]
    to: String,
    /// Passwords for some users, one `name:password` line each (a file closed to other users).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// The tenant that receives Diablo's global roles and administrators (created when missing).
    #[arg(long, value_name = "NAME", default_value = "systenant")]
    global_roles_tenant: String,
    /// Rows per batch.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    batch_size: usize,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
pub struct NovaArgs {
    /// The Diablo Nova database (migrate version 46).
    #[arg(long, value_name = "URL", env = "OSMIGRATE_FROM", hide_env_values = true)]
    from: String,
    /// The new Essex database (created when missing; must be empty or osmigrate's own).
    #[arg(long, value_name = "URL", env = "OSMIGRATE_TO", hide_env_values = true)]
    to: String,
    /// The Glance image map: the CSV of `db migrate glance --map-out`, or the URL of the Essex Glance
    /// database (osmigrate's, or one upstream migrated: then the map is rebuilt from image locations).
    #[arg(long, value_name = "MAP")]
    image_map: String,
    /// The Diablo nova.conf (flagfile) the data migrations take their settings from.
    #[arg(long, value_name = "FILE")]
    nova_conf: Option<PathBuf>,
    /// A setting that wins over the file, e.g. `--set connection_type=libvirt` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    set: Vec<(String, String)>,
    /// Rows per batch.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    batch_size: usize,
    #[command(flatten)]
    output: OutputArgs,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

#[derive(Args)]
pub struct GlanceArgs {
    /// The Diablo Glance database (versioned, unversioned, or stamped 13 but never migrated).
    #[arg(long, value_name = "URL", env = "OSMIGRATE_FROM", hide_env_values = true)]
    from: String,
    /// The new Essex database (created when missing; must be empty or osmigrate's own).
    #[arg(long, value_name = "URL", env = "OSMIGRATE_TO", hide_env_values = true)]
    to: String,
    /// Also write the old→new image id map here as CSV (`old_id,new_id`).
    #[arg(long, value_name = "FILE")]
    map_out: Option<PathBuf>,
    /// Rows per batch.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    batch_size: usize,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
pub struct KeystoneArgs {
    /// The legacy Keystone database (SQLAlchemy URL, e.g. mysql://keystone:…@host/keystone).
    #[arg(long, value_name = "URL", env = "OSMIGRATE_FROM", hide_env_values = true)]
    from: String,
    /// The new Essex database (created when missing; must be empty or osmigrate's own).
    #[arg(long, value_name = "URL", env = "OSMIGRATE_TO", hide_env_values = true)]
    to: String,
    /// Also write the Essex catalog templates file here.
    #[arg(long, value_name = "FILE")]
    catalog_out: Option<PathBuf>,
    /// The tenant that receives Diablo's global roles (created when missing).
    #[arg(long, value_name = "NAME", default_value = "systenant")]
    global_roles_tenant: String,
    /// The region of endpoint templates that have none.
    #[arg(long, value_name = "NAME", default_value = "RegionOne")]
    default_region: String,
    /// A Diablo paste file whose admin_token names a service token to carry (repeatable).
    #[arg(long, value_name = "FILE")]
    paste: Vec<PathBuf>,
    /// Rows per batch.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    batch_size: usize,
    #[command(flatten)]
    output: OutputArgs,
}

pub fn run(cmd: DbCommand) -> osmigrate::Result<i32> {
    match cmd {
        DbCommand::Create(a) => create(a),
        DbCommand::Migrate(MigrateCommand::Keystone(a)) => {
            let from = DbUrl::parse(&a.from)?;
            let to = DbUrl::parse(&a.to)?;
            let opts = KeystoneOptions {
                global_roles_tenant: a.global_roles_tenant,
                default_region: a.default_region,
                catalog_out: a.catalog_out,
                paste_files: a.paste,
                batch_size: a.batch_size,
                names_as: None,
            };
            let report = keystone::migrate(&from, &to, &opts, &Bar::new("keystone"))?;
            emit(&report, &a.output)
        }
        DbCommand::Migrate(MigrateCommand::Glance(a)) => {
            let from = DbUrl::parse(&a.from)?;
            let to = DbUrl::parse(&a.to)?;
            let opts = GlanceOptions { map_out: a.map_out, batch_size: a.batch_size, names_as: None };
            let report = glance::migrate(&from, &to, &opts, &Bar::new("glance"))?;
            emit(&report, &a.output)
        }
        DbCommand::Migrate(MigrateCommand::Nova(a)) => {
            let from = DbUrl::parse(&a.from)?;
            let to = DbUrl::parse(&a.to)?;
            let opts = NovaOptions {
                image_map: MapSource::parse(&a.image_map)?,
                nova_conf: a.nova_conf.map(osmigrate::config::FlagfileAt::host).transpose()?,
                set: a.set,
                batch_size: a.batch_size,
            };
            let report = nova::migrate(&from, &to, &opts, &Bar::new("nova"))?;
            emit(&report, &a.output)
        }
        DbCommand::Migrate(MigrateCommand::NovaAuth(a)) => {
            let from = DbUrl::parse(&a.from)?;
            let to = DbUrl::parse(&a.to)?;
            let opts = NovaAuthOptions {
                password_file: a.password_file,
                global_roles_tenant: a.global_roles_tenant,
                batch_size: a.batch_size,
                names_as: None,
            };
            let report = nova_auth::migrate(&from, &to, &opts, &Bar::new("nova-auth"))?;
            emit(&report, &a.output)
        }
    }
}

fn create(a: CreateArgs) -> osmigrate::Result<i32> {
    use osmigrate::services::create::{self, Release, Service};
    let service = match a.service {
        CreateService::Keystone => Service::Keystone,
        CreateService::Glance => Service::Glance,
        CreateService::Nova => Service::Nova,
    };
    let release = match a.release {
        CreateRelease::Diablo => Release::Diablo,
        CreateRelease::Essex => Release::Essex,
    };
    let made = create::create(service, release, &DbUrl::parse(&a.url)?)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&made).expect("serializes"));
        return Ok(0);
    }
    let stamp = match &made.stamp {
        Some(s) => format!("stamped `{}` version {}", s.repository_id, s.version),
        None => "no version stamp".to_string(),
    };
    let how = if made.database_created { "created" } else { "filled the empty database" };
    println!("{how} {}: {:?} {:?} schema, {} tables, {stamp}", made.database, made.release, made.service, made.tables.len());
    for note in &made.notes {
        println!("note: {note}");
    }
    Ok(0)
}

/// Prints a report (text or JSON), saves it when asked, and returns its exit status.
pub fn emit(report: &Report, output: &OutputArgs) -> osmigrate::Result<i32> {
    emit_value(report, &render::report(report), output)?;
    Ok(report.exit_status())
}
