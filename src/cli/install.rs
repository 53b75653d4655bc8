//! `osmigrate install --release essex|diablo --site FILE --root DIR`: a whole control plane from
//! one site file; run again, it changes nothing.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use osmigrate::install::{self, InstallOptions, InstallReport, Status};
use osmigrate::schema::Release;

use super::db::CreateRelease;
use super::exit::ExitStatus;
use super::{OutputArgs, emit_value};

#[derive(Args)]
pub struct InstallArgs {
    /// The release to install.
    #[arg(long, value_enum)]
    release: CreateRelease,
    /// The site file (TOML): the controller's address, the database server, password files,
    /// region, services, EC2 credentials (see the README).
    #[arg(long, value_name = "FILE")]
    site: PathBuf,
    /// The tree to install under: `/` on the controller itself, any directory for a rehearsal.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

pub fn run(a: InstallArgs) -> osmigrate::Result<ExitStatus> {
    let release = match a.release {
        CreateRelease::Diablo => Release::Diablo,
        CreateRelease::Essex => Release::Essex,
    };
    let report = install::install(&InstallOptions { release, site: a.site, root: a.root })?;
    emit_value(&report, &render(&report), &a.output)?;
    Ok(if report.warnings.is_empty() && !report.files.has_warnings() { ExitStatus::Clean } else { ExitStatus::Warnings })
}

fn render(r: &InstallReport) -> String {
    let mut out = format!("install {} under {} (site {})\n", r.release, r.root, r.site);
    let width = r.items.iter().map(|i| i.kind.len()).max().unwrap_or(0);
    for i in &r.items {
        let status = match i.status {
            Status::Created => "created",
            Status::Existing => "already there",
        };
        let detail = i.detail.as_ref().map(|d| format!(" — {d}")).unwrap_or_default();
        let _ = writeln!(out, "  {:<8} {:<width$}  {:<14} {}{detail}", i.service.to_string(), i.kind, status, i.name);
    }
    let _ = writeln!(out, "files:");
    for f in &r.files.files {
        let how = if f.unchanged { "unchanged" } else { "written" };
        let owner = f.owner.as_ref().map(|o| format!(", {o}")).unwrap_or_default();
        let _ = writeln!(out, "  {how:<9} {} ({}{owner})", f.path, f.mode);
    }
    let warnings: Vec<String> = r
        .files
        .changes
        .iter()
        .filter(|c| c.severity == osmigrate::migrate::Severity::Warning)
        .map(|c| format!("{}: {}", c.file, c.message))
        .collect();
    for w in r.warnings.iter().chain(&warnings) {
        let _ = writeln!(out, "warning: {w}");
    }
    let written = r.files.files.iter().filter(|f| !f.unchanged).count();
    let _ = writeln!(
        out,
        "{} created, {} already there; {written} file(s) written, {} unchanged",
        r.count(Status::Created),
        r.count(Status::Existing),
        r.files.files.len() - written
    );
    out
}
