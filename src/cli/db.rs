//! `osmigrate db …`

use std::path::PathBuf;

use clap::{Args, Subcommand};
use osmigrate::db::DbUrl;
use osmigrate::migrate::Report;
use osmigrate::services::keystone::{self, KeystoneOptions};

use super::{progress::Bar, render, write_private, OutputArgs};

#[derive(Subcommand)]
pub enum DbCommand {
    /// Build a service's Essex database next to its Diablo one; the source is only read.
    #[command(subcommand)]
    Migrate(MigrateCommand),
}

#[derive(Subcommand)]
pub enum MigrateCommand {
    /// Import a legacy (Diablo-era) Keystone database into a new Essex Keystone database.
    Keystone(KeystoneArgs),
}

#[derive(Args)]
pub struct KeystoneArgs {
    /// The legacy Keystone database (SQLAlchemy URL, e.g. mysql://keystone:…@host/keystone).
    #[arg(long, value_name = "URL")]
    from: String,
    /// The new Essex database (created when missing; must be empty or osmigrate's own).
    #[arg(long, value_name = "URL")]
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
        DbCommand::Migrate(MigrateCommand::Keystone(a)) => {
            let from = DbUrl::parse(&a.from)?;
            let to = DbUrl::parse(&a.to)?;
            let opts = KeystoneOptions {
                global_roles_tenant: a.global_roles_tenant,
                default_region: a.default_region,
                catalog_out: a.catalog_out,
                paste_files: a.paste,
                batch_size: a.batch_size,
            };
            let report = keystone::migrate(&from, &to, &opts, &Bar::new("keystone"))?;
            emit(&report, &a.output)
        }
    }
}

/// Prints a report (text or JSON), saves it when asked, and returns its exit status.
pub fn emit(report: &Report, output: &OutputArgs) -> osmigrate::Result<i32> {
    let json = serde_json::to_string_pretty(report).expect("reports serialize");
    if let Some(path) = &output.report {
        write_private(path, json.as_bytes())?;
    }
    if output.json {
        println!("{json}");
    } else {
        print!("{}", render::report(report));
    }
    Ok(report.exit_status())
}
