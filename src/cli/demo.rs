//! `osmigrate demo [DIR]`: a small Diablo cloud generated on SQLite, migrated, reported.

use std::path::PathBuf;

use clap::Args;
use osmigrate::db::{Access, Db, DbUrl};
use osmigrate::generate;
use osmigrate::services::keystone::{self, KeystoneOptions};
use osmigrate::Error;

use super::{db::emit, progress::Bar, OutputArgs};

#[derive(Args)]
pub struct DemoArgs {
    /// Where to put the demo databases and files (replaced if they exist).
    #[arg(default_value = "osmigrate-demo")]
    dir: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

pub fn run(a: DemoArgs) -> osmigrate::Result<i32> {
    std::fs::create_dir_all(&a.dir).map_err(|e| Error::io(&a.dir, e))?;
    let diablo = DbUrl::sqlite(&a.dir.join("keystone-diablo.sqlite"));
    let essex = DbUrl::sqlite(&a.dir.join("keystone-essex.sqlite"));
    Db::drop_database_if_exists(&diablo)?;
    Db::drop_database_if_exists(&essex)?;
    let mut db = Db::connect(&diablo, Access::ReadWrite)?;
    generate::keystone::generate(&mut db, &generate::keystone::Shape::demo())?;
    drop(db);
    eprintln!("Generated a Diablo Keystone database: {diablo}");
    let opts = KeystoneOptions { catalog_out: Some(a.dir.join("default_catalog.templates")), ..KeystoneOptions::default() };
    let report = keystone::migrate(&diablo, &essex, &opts, &Bar::new("keystone"))?;
    // The demo's warnings are the point of the demo: success is success.
    emit(&report, &a.output).map(|_| 0)
}
