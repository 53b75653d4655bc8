//! `osmigrate demo [DIR]`: a small Diablo controller built in DIR (SQLite databases, a Diablo /etc
//! with a flagfile nova.conf), then check → plan → migrate → verify on it.

use std::path::PathBuf;

use clap::Args;
use osmigrate::Error;
use osmigrate::db::{Access, Db, DbUrl};
use osmigrate::deploy::{self, MigrateOptions, Migrated};
use osmigrate::generate::{self, etc};
use osmigrate::migrate::NoProgress;
use osmigrate::reason::Severity;
use osmigrate::rootfs::under_root;

use super::cloud::{render_check, render_migrate, render_plan, render_verify};
use super::exit::ExitStatus;
use super::{OutputArgs, emit_value};

#[derive(Args)]
pub struct DemoArgs {
    /// Where to build the demo controller (replaced if it exists).
    #[arg(default_value = "osmigrate-demo")]
    dir: PathBuf,
    /// A cloud that ran Nova's own auth (no Keystone): its users, projects and keys move into a new one.
    #[arg(long)]
    nova_auth: bool,
    #[command(flatten)]
    output: OutputArgs,
}

/// The database URLs the Diablo config files hold (host paths, under the demo root on disk).
const KEYSTONE: &str = "sqlite:///keystone.db";
const GLANCE: &str = "sqlite:////var/lib/glance/glance.sqlite";
const NOVA: &str = "sqlite:////var/lib/nova/nova.sqlite";

pub fn run(a: DemoArgs) -> osmigrate::Result<ExitStatus> {
    if a.dir.exists() {
        std::fs::remove_dir_all(&a.dir).map_err(|e| Error::io(&a.dir, e))?;
    }
    let root = std::path::absolute(&a.dir).map_err(|e| Error::io(&a.dir, e))?;
    let urls = etc::Urls { keystone: KEYSTONE, glance: GLANCE, nova: NOVA };
    if a.nova_auth {
        etc::write_nova_auth_tree(&root, &urls)?;
    } else {
        etc::write_tree(&root, &urls)?;
    }
    let local = |host: &str| Ok::<_, Error>(DbUrl::sqlite(&under_root(&root, std::path::Path::new(host))?));
    let keystone = local("/var/lib/keystone/keystone.db")?;
    let glance = local("/var/lib/glance/glance.sqlite")?;
    let nova = local("/var/lib/nova/nova.sqlite")?;
    if !a.nova_auth {
        generate::keystone::generate(&mut Db::connect(&keystone, Access::ReadWrite)?, &generate::keystone::Shape::demo())?;
    }
    let glance_shape = generate::glance::Shape::demo();
    generate::glance::generate(&mut Db::connect(&glance, Access::ReadWrite)?, &glance_shape)?;
    let nova_shape = generate::nova::Shape { glance_images: glance_shape.images, ..generate::nova::Shape::demo() };
    let mut nova = Db::connect(&nova, Access::ReadWrite)?;
    generate::nova::generate(&mut nova, &nova_shape)?;
    if a.nova_auth {
        generate::nova::add_nova_auth_users(&mut nova)?;
    }
    drop(nova);
    eprintln!("Built a Diablo controller in {}", root.display());

    let state_dir = deploy::default_state_dir(&root)?;
    let check = deploy::check(&root, &state_dir)?;
    let plan = deploy::plan(&root, &state_dir, false, true)?;
    let opts = MigrateOptions { root: root.clone(), state_dir: state_dir.clone(), services: false, create_service_users: true };
    let migrate = match deploy::migrate(&opts, &NoProgress)? {
        Migrated::Done(r) => r,
        // The blockers are check's: shown with the rest of its findings.
        Migrated::Refused(_) => {
            eprint!("{}", render_check(&check).0);
            return Ok(ExitStatus::Refused);
        }
    };
    let verify = deploy::verify(&root, &state_dir)?;
    let (verified, findings) = render_verify(&verify);
    let text = format!("{}\n{}\n{}\n{verified}", render_check(&check).0, render_plan(&plan), render_migrate(&migrate).0);
    emit_value(&serde_json::json!({ "check": check, "plan": plan, "migrate": migrate, "verify": verify }), &text, &a.output)?;
    // The demo's warnings are the point of the demo (a tree with data problems and no service
    // users): its success is a verified migration, so only a blocker fails it.
    Ok(if findings.worst() == Some(Severity::Blocker) { ExitStatus::Refused } else { ExitStatus::Clean })
}
