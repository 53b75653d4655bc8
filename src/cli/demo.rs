//! `osmigrate demo [DIR]`: a small Diablo cloud generated on SQLite, migrated, reported.

use std::path::PathBuf;

use clap::Args;
use osmigrate::db::{Access, Db, DbUrl};
use osmigrate::generate;
use osmigrate::services::glance::{self, GlanceOptions};
use osmigrate::services::keystone::{self, KeystoneOptions};
use osmigrate::services::nova::{self, MapSource, NovaOptions};
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
    let nova_diablo = fresh(&a.dir, "nova-diablo.sqlite")?;
    let nova_essex = fresh(&a.dir, "nova-essex.sqlite")?;
    generate::keystone::generate(&mut Db::connect(&keystone_diablo, Access::ReadWrite)?, &generate::keystone::Shape::demo())?;
    let glance_shape = generate::glance::Shape::demo();
    generate::glance::generate(&mut Db::connect(&glance_diablo, Access::ReadWrite)?, &glance_shape)?;
    let nova_shape = generate::nova::Shape { glance_images: glance_shape.images, ..generate::nova::Shape::demo() };
    generate::nova::generate(&mut Db::connect(&nova_diablo, Access::ReadWrite)?, &nova_shape)?;
    eprintln!("Generated a Diablo cloud in {}", a.dir.display());

    let keystone_opts = KeystoneOptions { catalog_out: Some(a.dir.join("default_catalog.templates")), ..KeystoneOptions::default() };
    let map = a.dir.join("glance-image-map.csv");
    let glance_opts = GlanceOptions { map_out: Some(map.clone()), ..GlanceOptions::default() };
    let nova_opts = NovaOptions { image_map: MapSource::Csv(map), nova_conf: None, set: Vec::new(), batch_size: 1000 };
    let reports = vec![
        keystone::migrate(&keystone_diablo, &keystone_essex, &keystone_opts, &Bar::new("keystone"))?,
        glance::migrate(&glance_diablo, &glance_essex, &glance_opts, &Bar::new("glance"))?,
        nova::migrate(&nova_diablo, &nova_essex, &nova_opts, &Bar::new("nova"))?,
    ];
    // The demo's warnings are the point of the demo: success is success.
    emit_all(&reports, &a.output).map(|_| 0)
}
