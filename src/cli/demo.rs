//! `osmigrate demo [DIR]`: a small Diablo cloud generated on SQLite, migrated, reported.

use std::path::PathBuf;

use clap::Args;
use osmigrate::db::{Access, Db, DbUrl};
use osmigrate::generate;
use osmigrate::services::glance::{self, GlanceOptions};
use osmigrate::services::keystone::{self, KeystoneOptions};
use osmigrate::Error;

use super::{db::emit_all, progress::Bar, OutputArgs};

#[derive(Args)]
pub struct DemoArgs {
    /// Where to put the demo databases and files (replaced if they exist).
    #[arg(default_value = "osmigrate-demo")]
    dir: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

/// A fresh SQLite database in the demo directory (an old one is replaced).
fn fresh(dir: &std::path::Path, name: &str) -> osmigrate::Result<DbUrl> {
    let url = DbUrl::sqlite(&dir.join(name));
    Db::drop_database_if_exists(&url)?;
    Ok(url)
}

pub fn run(a: DemoArgs) -> osmigrate::Result<i32> {
    std::fs::create_dir_all(&a.dir).map_err(|e| Error::io(&a.dir, e))?;
    let keystone_diablo = fresh(&a.dir, "keystone-diablo.sqlite")?;
    let keystone_essex = fresh(&a.dir, "keystone-essex.sqlite")?;
    let glance_diablo = fresh(&a.dir, "glance-diablo.sqlite")?;
    let glance_essex = fresh(&a.dir, "glance-essex.sqlite")?;
    generate::keystone::generate(&mut Db::connect(&keystone_diablo, Access::ReadWrite)?, &generate::keystone::Shape::demo())?;
    generate::glance::generate(&mut Db::connect(&glance_diablo, Access::ReadWrite)?, &generate::glance::Shape::demo())?;
    eprintln!("Generated a Diablo cloud in {}", a.dir.display());

    let keystone_opts = KeystoneOptions { catalog_out: Some(a.dir.join("default_catalog.templates")), ..KeystoneOptions::default() };
    let glance_opts = GlanceOptions { map_out: Some(a.dir.join("glance-image-map.csv")), ..GlanceOptions::default() };
    let reports = vec![
        keystone::migrate(&keystone_diablo, &keystone_essex, &keystone_opts, &Bar::new("keystone"))?,
        glance::migrate(&glance_diablo, &glance_essex, &glance_opts, &Bar::new("glance"))?,
    ];
    // The demo's warnings are the point of the demo: success is success.
    emit_all(&reports, &a.output).map(|_| 0)
}
