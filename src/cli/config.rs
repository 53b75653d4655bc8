//! `osmigrate config …`: nova.conf converted, the other services' Essex files rendered, ownership
//! repaired.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use osmigrate::config::nova::{self, ConvertOptions};
use osmigrate::config::report::ConfigReport;
use osmigrate::config::upgrade::{self, Service, UpgradeOptions};
use osmigrate::config::write::{self, Ownership};
use osmigrate::db::DbUrl;
use osmigrate::deploy;
use osmigrate::images::map::MapSource;
use osmigrate::migrate::Severity;

use super::OutputArgs;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Convert a Diablo config file to Essex.
    #[command(subcommand)]
    Convert(ConvertCommand),
    /// Render a service's Essex config files from its Diablo ones under --root.
    Upgrade(UpgradeArgs),
    /// Give root-owned files under ROOT/var/log/<service> and ROOT/var/lib/<service> back to the
    /// service user (nova, glance, keystone).
    FixOwnership(FixOwnershipArgs),
}

#[derive(Subcommand)]
pub enum ConvertCommand {
    /// Diablo's flagfile nova.conf → the Essex INI nova.conf, with the values Diablo ran with.
    Nova(ConvertNovaArgs),
}

#[derive(Args)]
pub struct ConvertNovaArgs {
    /// The Diablo flagfile; repeat for every --flagfile nova was started with, in that order.
    #[arg(long = "in", value_name = "FILE", required = true)]
    inputs: Vec<PathBuf>,
    /// Write the Essex file here (atomically, 0640, the old file kept as FILE.osmigrate-backup);
    /// without it the file goes to stdout and the report to stderr.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The Diablo api-paste.ini that auth_strategy is derived from (default: the file
    /// api_paste_config names, looked up as Diablo did).
    #[arg(long, value_name = "FILE")]
    paste: Option<PathBuf>,
    /// The Glance image map for the image-id options: the CSV of `db migrate glance --map-out`, or
    /// the Essex Glance database URL.
    #[arg(long, value_name = "MAP", env = "OSMIGRATE_IMAGE_MAP")]
    image_map: Option<String>,
    /// The new Essex Nova database, written as sql_connection.
    #[arg(long, value_name = "URL", env = "OSMIGRATE_SQL_CONNECTION")]
    sql_connection: Option<String>,
    /// Also carry the lines after the point where Diablo stopped reading (an indented comment).
    #[arg(long)]
    carry_after_stop: bool,
    /// The tree whose etc/passwd names the nova user the file is given to.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum UpgradeService {
    Keystone,
    Glance,
    NovaPaste,
}

#[derive(Args)]
pub struct UpgradeArgs {
    /// keystone (keystone.conf), glance (glance-api/registry.conf and their -paste.ini), or
    /// nova-paste (nova's api-paste.ini).
    #[arg(value_enum)]
    service: UpgradeService,
    /// The tree whose etc/ holds the Diablo files (`/` on the host itself).
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// The Essex Keystone database (`db migrate keystone --to`): keystone.conf's [sql] connection,
    /// and the roles glance's admin_role is checked against.
    #[arg(long, value_name = "URL", env = "OSMIGRATE_KEYSTONE_DB")]
    keystone_db: Option<String>,
    /// The Essex Glance database (`db migrate glance --to`): glance's sql_connection.
    #[arg(long, value_name = "URL", env = "OSMIGRATE_GLANCE_DB")]
    glance_db: Option<String>,
    /// Glance's admin role (default: Diablo keystone.conf's keystone-admin-role, else Admin).
    #[arg(long, value_name = "NAME")]
    admin_role: Option<String>,
    /// Write the files under DIR (same paths as under --root) instead of in place.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
pub struct FixOwnershipArgs {
    /// The tree to repair (its etc/passwd names the users).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

pub fn run(cmd: ConfigCommand) -> osmigrate::Result<i32> {
    match cmd {
        ConfigCommand::Convert(ConvertCommand::Nova(a)) => {
            let cwd = std::env::current_dir().map_err(|e| osmigrate::Error::io(".", e))?;
            let opts = ConvertOptions {
                auth_strategy: None,
                inputs: a.inputs,
                cwd,
                // Files named on this host's command line are this host's (`--root` names the passwd).
                root: PathBuf::from("/"),
                paste: a.paste,
                image_map: a.image_map.as_deref().map(MapSource::parse).transpose()?,
                sql_connection: a.sql_connection.map(|u| DbUrl::parse(&u).map(|_| u)).transpose()?,
                carry_after_stop: a.carry_after_stop,
                target: a.out.as_ref().map_or_else(|| "stdout".to_string(), |p| p.display().to_string()),
            };
            let converted = nova::convert(&opts)?;
            let mut report = converted.report;
            if let Some(out) = &a.out {
                let owners = Ownership::new(&a.root)?;
                write::write_config(out, converted.text.as_bytes(), "nova", &owners, &mut report)?;
                emit(&report, &a.output, false)
            } else {
                print!("{}", converted.text);
                emit(&report, &a.output, true)
            }
        }
        ConfigCommand::Upgrade(a) => {
            let service = match a.service {
                UpgradeService::Keystone => Service::Keystone,
                UpgradeService::Glance => Service::Glance,
                UpgradeService::NovaPaste => Service::NovaPaste,
            };
            // Kept where the files go: with --out-dir the tree itself is never written.
            let token_file = deploy::default_state_dir(a.out_dir.as_ref().unwrap_or(&a.root))?.join(upgrade::ADMIN_TOKEN_FILE);
            let opts = UpgradeOptions {
                new_keystone: false,
                root: a.root.clone(),
                out_dir: a.out_dir,
                keystone_db: a.keystone_db.as_deref().map(DbUrl::parse).transpose()?,
                keystone_db_local: None,
                glance_db: a.glance_db.as_deref().map(DbUrl::parse).transpose()?,
                admin_role: a.admin_role,
                token_file,
            };
            let owners = Ownership::new(&a.root)?;
            let report = upgrade::upgrade(service, &opts, &owners)?;
            emit(&report, &a.output, false)
        }
        ConfigCommand::FixOwnership(a) => {
            let owners = Ownership::new(&a.root)?;
            let report = write::fix_ownership(&a.root, &owners)?;
            emit(&report, &a.output, false)
        }
    }
}

/// Prints the report (text or JSON) on stdout, or on stderr when stdout carries the file; saves it
/// when asked; returns the exit status.
fn emit(report: &ConfigReport, output: &OutputArgs, to_stderr: bool) -> osmigrate::Result<i32> {
    let json = serde_json::to_string_pretty(report).expect("reports serialize");
    if let Some(path) = &output.report {
        osmigrate::config::write::write_private(path, json.as_bytes())?;
    }
    let shown = if output.json { format!("{json}\n") } else { render(report) };
    if to_stderr {
        eprint!("{shown}");
    } else {
        print!("{shown}");
    }
    Ok(report.exit_status())
}

fn render(r: &ConfigReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", r.command);
    for s in &r.sources {
        let _ = writeln!(out, "  read  {s}");
    }
    for (severity, title) in [(Severity::Warning, "Warnings"), (Severity::Info, "Changes and notes")] {
        let changes: Vec<_> = r.changes.iter().filter(|c| c.severity == severity).collect();
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}:");
        for c in changes {
            let mut line = format!("  [{}] {}", c.code, short(&c.file));
            if !c.setting.is_empty() {
                let _ = write!(line, " {}", c.setting);
            }
            let _ = write!(line, ": {}", c.message);
            match (&c.from, &c.to) {
                (Some(f), Some(t)) => {
                    let _ = write!(line, " ({f} → {t})");
                }
                (Some(f), None) => {
                    let _ = write!(line, " (was {f})");
                }
                (None, Some(t)) => {
                    let _ = write!(line, " (now {t})");
                }
                (None, None) => {}
            }
            if let Some(o) = &c.origin {
                let _ = write!(line, " [{o}]");
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if !r.files.is_empty() {
        let _ = writeln!(out, "\nFiles:");
        for f in &r.files {
            let mut line = format!("  {} ({}", f.path, f.mode);
            if let Some(o) = &f.owner {
                let _ = write!(line, " {o}");
            }
            if f.unchanged {
                line.push_str(", unchanged");
            }
            if let Some(b) = &f.backup {
                let _ = write!(line, ", previous kept as {b}");
            }
            line.push(')');
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// A file name as the report lines show it: its last two components.
fn short(file: &str) -> String {
    let p = Path::new(file);
    let parts: Vec<_> = p.components().rev().take(2).collect();
    parts.into_iter().rev().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}
