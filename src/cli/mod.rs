//! Command-line front end: one module per subcommand; each turns its arguments into a library
//! call and renders the result. Only this module prints.

mod bench;
mod cloud;
mod config;
mod db;
mod demo;
mod docs;
mod glance;
mod install;
mod keystone;
mod progress;
mod render;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use osmigrate::Error;

pub const EXIT_REFUSED: i32 = 2;
pub const EXIT_USAGE: i32 = 64;
pub const EXIT_INTERNAL: i32 = 70;

#[derive(Parser)]
#[command(name = "osmigrate", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("OSMIGRATE_COMMIT"), ")"), about = "Move an OpenStack control plane from Diablo (2011.3) to Essex (2012.1), side by side")]
pub struct Cli {
    /// More log output on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a small Diablo cloud on SQLite and migrate it, printing the report.
    Demo(demo::DemoArgs),
    /// What is there and what blocks the migration (exit 0 clean, 1 warnings, 2 blockers).
    Check(cloud::CloudArgs),
    /// The ordered steps of the migration, changing nothing.
    Plan(cloud::PlanArgs),
    /// Run the plan: journaled, locked, resumable; the Diablo databases are only read.
    Migrate(cloud::MigrateArgs),
    /// Check the result against the source.
    Verify(cloud::CloudArgs),
    /// Put the Diablo configs back (the Diablo databases were never changed).
    Rollback(cloud::CloudArgs),
    /// Database commands.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Generate a cloud at scale; measure the migration against a raw copy.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Glance commands.
    #[command(subcommand)]
    Glance(glance::GlanceCommand),
    /// Config files: convert nova.conf, render Essex keystone/glance/nova-paste files, fix ownership.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Essex Keystone administration by names or ids (the v2.0 admin API, or the database).
    Keystone(keystone::KeystoneArgs),
    /// Install a release's control plane from a site file: databases, Keystone bootstrap, configs.
    Install(install::InstallArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(docs::CompletionsArgs),
    /// Print the manual page (roff), or write one per command with --out-dir.
    Man(docs::ManArgs),
}

/// Output options shared by every reporting command.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Print one JSON document on stdout instead of the human-readable report.
    #[arg(long)]
    pub json: bool,
    /// Also save the report as JSON in this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        // osmigrate's own events only: the database drivers log statements with their bound
        // values (passwords, tokens) at debug level.
        1 => "warn,osmigrate=info",
        _ => "warn,osmigrate=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OSMIGRATE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).without_time().try_init();
}

pub fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Check(a) => cloud::check(a),
        Command::Plan(a) => cloud::plan(a),
        Command::Migrate(a) => cloud::migrate(a),
        Command::Verify(a) => cloud::verify(a),
        Command::Rollback(a) => cloud::rollback(a),
        Command::Db(cmd) => db::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Glance(cmd) => glance::run(cmd),
        Command::Config(cmd) => config::run(cmd),
        Command::Keystone(args) => keystone::run(args),
        Command::Install(args) => install::run(args),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("osmigrate: {e}");
            match e {
                Error::Usage(_) | Error::BadUrl { .. } => EXIT_USAGE,
                _ => EXIT_REFUSED,
            }
        }
    }
}

/// Prints a value as JSON (`--json`) or as `text`, and saves the JSON when `--report` asks.
pub fn emit_value<T: serde::Serialize>(value: &T, text: &str, output: &OutputArgs) -> osmigrate::Result<()> {
    let json = serde_json::to_string_pretty(value).expect("reports serialize");
    if let Some(path) = &output.report {
        osmigrate::config::write::write_private(path, json.as_bytes())?;
    }
    if output.json {
        println!("{json}");
    } else {
        print!("{text}");
    }
    Ok(())
}
