//! Command-line front end: one module per subcommand; each turns its arguments into a library
//! call and renders the result. Only this module prints.

mod bench;
mod cloud;
mod config;
mod db;
mod demo;
mod docs;
mod document;
pub mod exit;
mod glance;
mod install;
mod keystone;
mod progress;
mod render;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use osmigrate::Error;

use self::exit::ExitStatus;

#[derive(Parser)]
#[command(name = "osmigrate", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("OSMIGRATE_COMMIT"), ")"), about = "Move an OpenStack control plane from Diablo (2011.3) to Essex (2012.1), side by side")]
pub struct Cli {
    /// Log what runs on stderr: -v each step and table, -vv details, -vvv everything.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Also append the log to FILE (mode 0600; at least each step and table, as -v).
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
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
    /// Also save the report in this file (0600): FILE.md as Markdown, FILE.html as a
    /// self-contained page for a change ticket, any other name as JSON.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// The log: on stderr at the level `-v` asks for (`OSMIGRATE_LOG` overrides it), and with
/// `--log-file` in that file too (0600, appended, timestamped), at least at info. Events name
/// steps, tables, counts and seconds, never a secret.
pub fn init_logging(cli: &Cli) -> osmigrate::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::prelude::*;
    let level = match cli.verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    // osmigrate's own events only: the database drivers log statements with their bound values
    // (passwords, tokens) at debug level.
    let own = |level: LevelFilter| tracing_subscriber::EnvFilter::new(format!("warn,osmigrate={level}"));
    let stderr_filter = match std::env::var("OSMIGRATE_LOG") {
        Ok(asked) => tracing_subscriber::EnvFilter::new(own_directives(&asked)),
        Err(_) => own(level),
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .with_filter(stderr_filter);
    let file = match &cli.log_file {
        Some(path) => {
            let io = |e| Error::io(path, e);
            let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(io)?;
            // An existing file keeps no wider mode than a new one gets.
            file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            let layer = tracing_subscriber::fmt::layer().with_writer(std::sync::Mutex::new(file)).with_ansi(false).with_target(false);
            Some(layer.with_filter(own(level.max(LevelFilter::INFO))))
        }
        None => None,
    };
    let _ = tracing_subscriber::registry().with(stderr).with(file).try_init();
    Ok(())
}

/// `OSMIGRATE_LOG`'s directives for osmigrate's own events (a bare level means them); every other
/// target stays at warn whatever it asks, since the drivers log bound values at debug.
fn own_directives(asked: &str) -> String {
    let mut out = vec!["warn".to_string()];
    for d in asked.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let target = d.split('=').next().unwrap_or_default();
        if target == "osmigrate" || target.starts_with("osmigrate::") {
            out.push(d.to_string());
        } else if !d.contains('=') && d.parse::<tracing_subscriber::filter::LevelFilter>().is_ok() {
            out.push(format!("osmigrate={d}"));
        }
    }
    out.join(",")
}

pub fn run(cli: Cli) -> ExitStatus {
    if let Err(e) = init_logging(&cli) {
        eprintln!("osmigrate: {e}");
        return ExitStatus::Refused;
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), commit = env!("OSMIGRATE_COMMIT"), "osmigrate starts");
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
        Ok(code) => {
            tracing::info!(exit = code.code(), "osmigrate ends");
            code
        }
        Err(e) => {
            tracing::info!(error = %e, "osmigrate ends: refused or failed");
            eprintln!("osmigrate: {e}");
            match e {
                Error::Usage(_) | Error::BadUrl { .. } => ExitStatus::Usage,
                _ => ExitStatus::Refused,
            }
        }
    }
}

/// Prints a value as JSON (`--json`) or as `text`, and saves it when `--report` asks (the
/// command's text in a document, for .md and .html).
pub fn emit_value<T: serde::Serialize>(value: &T, text: &str, output: &OutputArgs) -> osmigrate::Result<()> {
    let title = text.lines().next().unwrap_or("osmigrate").to_string();
    emit_document(value, text, &document::Document::of_text(title, text), output)
}

/// Saves the report where `--report` asks: FILE.md and FILE.html the document, else the JSON.
pub fn save_report(json: &str, doc: &document::Document, output: &OutputArgs) -> osmigrate::Result<()> {
    let Some(path) = &output.report else { return Ok(()) };
    let saved = match path.extension().and_then(|e| e.to_str()) {
        Some("md" | "markdown") => doc.markdown(),
        Some("html" | "htm") => doc.html(),
        _ => json.to_string(),
    };
    osmigrate::config::write::write_private(path, saved.as_bytes())
}

/// As [`emit_value`], with the document a `--report FILE.md|FILE.html` saves.
pub fn emit_document<T: serde::Serialize>(value: &T, text: &str, doc: &document::Document, output: &OutputArgs) -> osmigrate::Result<()> {
    let json = serde_json::to_string_pretty(value).expect("reports serialize");
    save_report(&json, doc, output)?;
    if output.json {
        println!("{json}");
    } else {
        print!("{text}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn osmigrate_log_never_raises_the_drivers() {
        assert_eq!(super::own_directives("debug"), "warn,osmigrate=debug");
        assert_eq!(super::own_directives("trace,tokio_postgres=debug, osmigrate::db=info"), "warn,osmigrate=trace,osmigrate::db=info");
        assert_eq!(super::own_directives("mysql=trace"), "warn");
    }
}
