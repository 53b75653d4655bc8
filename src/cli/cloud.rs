//! `osmigrate check | plan | migrate | verify | rollback`: the whole controller.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use osmigrate::deploy::{self, CheckReport, MigrateOptions, MigrateReport, Migrated, PlanReport, VerifyReport};

use super::document::Document;
use super::exit::ExitStatus;
use super::progress::Bar;
use super::render::{self, Findings, Item, Verdict};
use super::{OutputArgs, emit_document, emit_value};

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

const CHECK: Verdict = Verdict { blocked: "blocked (migrate would refuse)", warned: "ready, with warnings to read", clean: "ready" };
const MIGRATE: Verdict = Verdict { blocked: "refused", warned: "done, with warnings to read", clean: "done" };
const VERIFY: Verdict =
    Verdict { blocked: "does not match the source (blockers below)", warned: "matches, with warnings", clean: "matches the source" };

pub fn render_check(r: &CheckReport) -> (String, Findings) {
    let findings = Findings::of_checks(&r.findings);
    let mut out = findings.verdict(&format!("check of {}", r.root), &CHECK);
    for d in &r.databases {
        let _ = writeln!(
            out,
            "  {:<9} {} — {}\n            from {} (named in {})\n            to   {}",
            d.service, d.source, d.release, d.source, d.config, d.target
        );
    }
    if !r.hosts.is_empty() {
        let _ = writeln!(out, "  other hosts of the cloud:");
        for h in &r.hosts {
            let _ = writeln!(out, "    {h}");
        }
    }
    findings.render(&mut out);
    (out, findings)
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

pub fn render_migrate(r: &MigrateReport) -> (String, Findings) {
    let mut findings = Findings::default();
    for d in &r.databases {
        findings.extend(Findings { items: d.findings.iter().map(|f| Item::of_finding(&format!("{}-db", d.service), f)).collect() });
    }
    for c in &r.configs {
        findings.extend(Findings {
            items: c
                .changes
                .iter()
                .map(|ch| {
                    let mut item = Item::of_change(ch);
                    item.subject = format!("{}: {}", c.command, item.subject);
                    item
                })
                .collect(),
        });
    }
    let mut out = findings.verdict(&format!("migrate of {}", r.root), &MIGRATE);
    let _ = writeln!(out, "\nSteps:");
    for s in &r.steps {
        let _ = writeln!(out, "  {:<16} {:<13} {}", s.name, s.status, s.detail);
    }
    for d in &r.databases {
        out.push('\n');
        out.push_str(&render::report_body(d));
    }
    for c in &r.configs {
        let written = c.files.iter().filter(|f| !f.unchanged).count();
        let _ = writeln!(out, "\n{}: {} change(s), {written} file(s) written", c.command, c.changes.len());
        for f in &c.files {
            let _ = writeln!(out, "  {}{}", f.path, if f.unchanged { " (unchanged)" } else { "" });
        }
    }
    findings.render(&mut out);
    (out, findings)
}

pub fn render_verify(r: &VerifyReport) -> (String, Findings) {
    let findings = Findings::of_checks(&r.checks);
    let mut out = findings.verdict(&format!("verify of {}", r.root), &VERIFY);
    findings.render(&mut out);
    (out, findings)
}

pub fn check(a: CloudArgs) -> osmigrate::Result<ExitStatus> {
    let r = deploy::check(&a.root()?, &a.state_dir()?)?;
    let (text, findings) = render_check(&r);
    let verdict = text.lines().next().unwrap_or_default();
    emit_document(&r, &text, &Document::of_findings(format!("osmigrate check of {}", r.root), &findings, verdict), &a.output)?;
    Ok(findings.exit_status())
}

pub fn plan(a: PlanArgs) -> osmigrate::Result<ExitStatus> {
    let r = deploy::plan(&a.cloud.root()?, &a.cloud.state_dir()?, !a.no_services, a.create_service_users)?;
    emit_value(&r, &render_plan(&r), &a.cloud.output)?;
    Ok(ExitStatus::Clean)
}

pub fn migrate(a: MigrateArgs) -> osmigrate::Result<ExitStatus> {
    let state_dir = a.cloud.state_dir()?;
    if !a.yes && std::io::stdin().is_terminal() {
        let plan = deploy::plan(&a.cloud.root()?, &state_dir, !a.no_services, a.create_service_users)?;
        eprint!("{}Run this plan? [y/N] ", render_plan(&plan));
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).map_err(|e| osmigrate::Error::io("stdin", e))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("migrate: declined — nothing was changed");
            return Ok(ExitStatus::Refused);
        }
    }
    let r = match deploy::migrate(
        &MigrateOptions { root: a.cloud.root()?, state_dir, services: !a.no_services, create_service_users: a.create_service_users },
        &Bar::new("migrate"),
    )? {
        Migrated::Refused(blockers) => {
            let findings = Findings::of_checks(&blockers);
            let mut text = findings.verdict("migrate", &MIGRATE);
            findings.render(&mut text);
            eprintln!("{text}nothing was changed; `osmigrate check` shows every finding");
            return Ok(ExitStatus::Refused);
        }
        Migrated::Done(r) => r,
    };
    let (text, findings) = render_migrate(&r);
    let verdict = text.lines().next().unwrap_or_default();
    emit_document(&r, &text, &Document::of_migrate(&r, &findings, verdict), &a.cloud.output)?;
    Ok(findings.exit_status())
}

pub fn verify(a: CloudArgs) -> osmigrate::Result<ExitStatus> {
    let r = deploy::verify(&a.root()?, &a.state_dir()?)?;
    let (text, findings) = render_verify(&r);
    let verdict = text.lines().next().unwrap_or_default();
    emit_document(&r, &text, &Document::of_verify(&r, &findings, verdict), &a.output)?;
    Ok(findings.exit_status())
}

pub fn rollback(a: CloudArgs) -> osmigrate::Result<ExitStatus> {
    let restored = deploy::rollback(&a.root()?, &a.state_dir()?)?;
    let mut text = format!(
        "rollback of {}: done — {} Diablo config file(s) restored; the Diablo databases were never changed\n",
        a.root()?.display(),
        restored.len()
    );
    for f in &restored {
        let _ = writeln!(text, "  {f}");
    }
    emit_value(&serde_json::json!({ "restored": restored }), &text, &a.output)?;
    Ok(ExitStatus::Clean)
}
