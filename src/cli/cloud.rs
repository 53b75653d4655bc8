//! `osmigrate check | plan | migrate | verify | rollback`: the whole controller.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use osmigrate::deploy::{self, CheckReport, Level, MigrateOptions, MigrateReport, PlanReport, VerifyReport};

use super::{OutputArgs, emit_value, render};

#[derive(Args, Clone)]
pub struct CloudArgs {
    /// The tree holding the controller's etc/ and var/ (`/` on the host itself).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Where the journal, lock, config backup and image map live (default: ROOT/var/lib/osmigrate).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl CloudArgs {
    /// The root made absolute: config files name paths relative to it.
    fn root(&self) -> osmigrate::Result<PathBuf> {
        std::path::absolute(&self.root).map_err(|e| osmigrate::Error::io(&self.root, e))
    }

    fn state_dir(&self) -> osmigrate::Result<PathBuf> {
        match &self.state_dir {
            Some(dir) => Ok(dir.clone()),
            None => deploy::default_state_dir(&self.root()?),
        }
    }
}

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// Do not stop and start services.
    #[arg(long)]
    pub no_services: bool,
    /// Also create Essex's `service` tenant and the nova and glance users.
    #[arg(long)]
    pub create_service_users: bool,
}

#[derive(Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// Do not stop and start services (systemctl or service).
    #[arg(long)]
    pub no_services: bool,
    /// Do not ask for confirmation (it is asked only when stdin is a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Also create Essex's `service` tenant and the nova and glance users (admin role there), their
    /// passwords kept in the state directory (0600).
    #[arg(long)]
    pub create_service_users: bool,
}

fn level(l: Level) -> &'static str {
    match l {
        Level::Info => "ok",
        Level::Warning => "warning",
        Level::Blocker => "BLOCKER",
    }
}

pub fn render_check(r: &CheckReport) -> String {
    let mut out = format!("check of {}\n", r.root);
    for d in &r.databases {
        let _ = writeln!(
            out,
            "  {:<9} {} — {}\n            from {} (named in {})\n            to   {}",
            d.service, d.source, d.release, d.source, d.config, d.target
        );
    }
    for f in &r.findings {
        let count = f.count.map_or_else(String::new, |n| format!(" ({n})"));
        let _ = writeln!(out, "  [{}] {}{count}: {}", level(f.level), f.code, f.message);
        for row in f.rows.iter().take(3) {
            let _ = writeln!(out, "      {row}");
        }
        if let Some(more) = f.count.map(|n| n as usize).filter(|n| *n > 3 && f.rows.len() > 3) {
            let _ = writeln!(out, "      … and {} more (--json lists up to ten)", more - 3);
        }
        let _ = writeln!(out, "      fix: {}", f.fix);
    }
    if !r.hosts.is_empty() {
        let _ = writeln!(out, "  other hosts of the cloud:");
        for h in &r.hosts {
            let _ = writeln!(out, "    {h}");
        }
    }
    out
}

pub fn render_plan(r: &PlanReport) -> String {
    let mut out = format!("plan for {} (state in {})\n", r.root, r.state_dir);
    for (i, s) in r.steps.iter().enumerate() {
        let _ = writeln!(out, "  {:>2}. {:<16} {}", i + 1, s.name, s.description);
    }
    if !r.grants.is_empty() {
        let _ = writeln!(out, "  grants each service user needs on its new database:");
        for g in &r.grants {
            let _ = writeln!(out, "    {g}");
        }
    }
    let _ = writeln!(out, "  files written (each old one kept as FILE.osmigrate-backup):");
    for f in &r.files {
        let _ = writeln!(out, "    {f}");
    }
    out
}

pub fn render_migrate(r: &MigrateReport) -> String {
    let mut out = format!("migrate of {}\n", r.root);
    for s in &r.steps {
        let _ = writeln!(out, "  {:<16} {:<13} {}", s.name, s.status, s.detail);
    }
    for d in &r.databases {
        out.push('\n');
        out.push_str(&render::report(d));
    }
    for c in &r.configs {
        let _ = writeln!(
            out,
            "\n{}: {} change(s){}",
            c.command,
            c.changes.len(),
            if c.has_warnings() { ", with warnings (see --json)" } else { "" }
        );
    }
    out
}

pub fn render_verify(r: &VerifyReport) -> String {
    let mut out = format!("verify of {}\n", r.root);
    for c in &r.checks {
        let shown = match c.level {
            Level::Blocker => "MISMATCH",
            Level::Warning => "warning",
            Level::Info => "ok",
        };
        let _ = writeln!(out, "  [{shown}] {}: {}", c.code, c.message);
        if c.level == Level::Blocker {
            let _ = writeln!(out, "      fix: {}", c.fix);
        }
    }
    out
}

pub fn check(a: CloudArgs) -> osmigrate::Result<i32> {
    let r = deploy::check(&a.root()?, &a.state_dir()?)?;
    emit_value(&r, &render_check(&r), &a.output)?;
    Ok(r.exit_status())
}

pub fn plan(a: PlanArgs) -> osmigrate::Result<i32> {
    let r = deploy::plan(&a.cloud.root()?, &a.cloud.state_dir()?, !a.no_services, a.create_service_users)?;
    emit_value(&r, &render_plan(&r), &a.cloud.output)?;
    Ok(0)
}

pub fn migrate(a: MigrateArgs) -> osmigrate::Result<i32> {
    let state_dir = a.cloud.state_dir()?;
    if !a.yes && std::io::stdin().is_terminal() {
        let plan = deploy::plan(&a.cloud.root()?, &state_dir, !a.no_services, a.create_service_users)?;
        eprint!("{}Run this plan? [y/N] ", render_plan(&plan));
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).map_err(|e| osmigrate::Error::io("stdin", e))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing done");
            return Ok(2);
        }
    }
    let r = deploy::migrate(&MigrateOptions {
        root: a.cloud.root()?,
        state_dir,
        services: !a.no_services,
        create_service_users: a.create_service_users,
    })?;
    emit_value(&r, &render_migrate(&r), &a.cloud.output)?;
    Ok(r.exit_status())
}

pub fn verify(a: CloudArgs) -> osmigrate::Result<i32> {
    let r = deploy::verify(&a.root()?, &a.state_dir()?)?;
    emit_value(&r, &render_verify(&r), &a.output)?;
    Ok(r.exit_status())
}

pub fn rollback(a: CloudArgs) -> osmigrate::Result<i32> {
    let restored = deploy::rollback(&a.root()?, &a.state_dir()?)?;
    let text = format!("restored {} Diablo config file(s); the Diablo databases were never changed\n", restored.len());
    emit_value(&serde_json::json!({ "restored": restored }), &text, &a.output)?;
    Ok(0)
}
