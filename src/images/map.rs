//! Where the Glance old→new image id map comes from: the CSV `db migrate glance --map-out` wrote,
//! the Essex Glance database osmigrate built (its `osmigrate_image_map`), or a Glance that upstream
//! already migrated and kept no map — then the map is rebuilt from the old integer ids that file
//! and swift locations still carry. The Glance migration writes the map table; Nova and
//! `config convert nova` read it through this module.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use crate::db::{Access, Db, DbUrl};
use crate::error::{Error, Result};
use crate::migrate::{Severity, StepReport};
use crate::reason::Reason;

/// osmigrate's table of old integer ids and new UUIDs, in the Essex Glance database.
pub const MAP_TABLE: &str = "osmigrate_image_map";

#[derive(Debug, Clone)]
pub enum MapSource {
    Csv(PathBuf),
    Glance(DbUrl),
}

impl MapSource {
    /// A database URL (`scheme://…`) or the path of a CSV file.
    pub fn parse(arg: &str) -> Result<MapSource> {
        if arg.contains("://") {
            return Ok(MapSource::Glance(DbUrl::parse(arg)?));
        }
        let path = PathBuf::from(arg);
        if !path.is_file() {
            return Err(Error::Usage(format!(
                "--image-map {}: no such file (give the CSV from `db migrate glance --map-out` or a Glance database URL)",
                crate::redact::url_text(arg)
            )));
        }
        Ok(MapSource::Csv(path))
    }

    pub fn describe(&self) -> String {
        match self {
            MapSource::Csv(p) => format!("the CSV map {}", p.display()),
            MapSource::Glance(u) => format!("the Glance database {u}"),
        }
    }
}

/// Calls `f` with every (old id, UUID) of the map, in streaming fashion; what cannot be placed is
/// reported under the source table `image_map`.
pub fn for_each_entry(source: &MapSource, report: &mut StepReport, mut f: impl FnMut(i64, String) -> Result<()>) -> Result<()> {
    match source {
        MapSource::Csv(path) => {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
                let line = line.map_err(|e| Error::io(path, e))?;
                let line = line.trim();
                if line.is_empty() || (n == 0 && line == "old_id,new_id") {
                    continue;
                }
                let bad = |why: &str| Error::Usage(format!("{}:{}: {why}: `{line}` (expected `old_id,new_id`)", path.display(), n + 1));
                let (old, new) = line.split_once(',').ok_or_else(|| bad("no comma"))?;
                let old: i64 = old.trim().parse().map_err(|_| bad("the old id is not an integer"))?;
                let new = new.trim();
                uuid::Uuid::parse_str(new).map_err(|_| bad("the new id is not a UUID"))?;
                f(old, new.to_string())?;
            }
            Ok(())
        }
        MapSource::Glance(url) => {
            let mut db = Db::connect(url, Access::ReadOnly)?;
            let tables = db.table_names()?;
            if tables.iter().any(|t| t == MAP_TABLE) {
                drop(db);
                return for_each_map_entry(url, |old, new| f(old, new.to_string()));
            }
            if !tables.iter().any(|t| t == "images") {
                return Err(Error::Refused(format!("{url} is not a Glance database (no images table)")));
            }
            let id_type =
                crate::db::introspect::columns(&mut db, "images")?.into_iter().find(|c| c.name == "id").map(|c| c.ty.to_ascii_lowercase());
            if id_type.is_some_and(|t| t.contains("int")) {
                return Err(Error::Refused(format!(
                    "{url} still has Diablo's integer image ids: migrate Glance first (`osmigrate db migrate glance`) and give its map"
                )));
            }
            rebuild_from_locations(&mut db, report, f)
        }
    }
}

/// Streams the map of a migrated Glance database as CSV (`old_id,new_id`, header line).
pub fn write_map_csv(db_url: &DbUrl, out: &mut dyn Write) -> Result<()> {
    let io = |e: std::io::Error| Error::io("map output", e);
    writeln!(out, "old_id,new_id").map_err(io)?;
    for_each_map_entry(db_url, |old, new| writeln!(out, "{old},{new}").map_err(io))
}

/// Calls `f` with every (old id, new UUID) of a migrated Glance database, in old-id order.
pub fn for_each_map_entry(db_url: &DbUrl, mut f: impl FnMut(i64, &str) -> Result<()>) -> Result<()> {
    let mut db = Db::connect(db_url, Access::ReadOnly)?;
    if !db.table_names()?.iter().any(|t| t == MAP_TABLE) {
        return Err(Error::Refused(format!(
            "{db_url} holds no osmigrate image map ({MAP_TABLE}): it was not made by `osmigrate db migrate glance`"
        )));
    }
    db.stream(&format!("SELECT old_id, new_id FROM {MAP_TABLE} ORDER BY old_id"), &[], 5000, |batch| {
        for r in batch {
            let old = r.get("old_id").as_i64().unwrap_or_default();
            f(old, r.get("new_id").as_str().unwrap_or_default())?;
        }
        Ok(())
    })
}

/// An upstream-migrated Glance kept no map, but file and swift locations still end in the old id.
fn rebuild_from_locations(db: &mut Db, report: &mut StepReport, mut f: impl FnMut(i64, String) -> Result<()>) -> Result<()> {
    report.note(
        Severity::Info,
        "image_map",
        Reason::MapRebuiltFromLocations,
        "Glance was migrated by upstream, which keeps no map: the map is rebuilt from the old ids in image locations",
        db.url().to_string(),
    );
    db.stream("SELECT id, location FROM images ORDER BY id", &[], 1000, |batch| {
        for r in batch {
            let uuid = r.required_text("images", "id")?;
            let location = r.text("images", "location")?.unwrap_or_default();
            let last = location.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            match (location.contains("://"), last.parse::<i64>()) {
                (true, Ok(old)) if old > 0 => f(old, uuid)?,
                _ => report.note(
                    Severity::Warning,
                    "image_map",
                    Reason::ImageNotPlaced,
                    "the image's location carries no old integer id: Nova references to it cannot be rewritten",
                    format!("image {uuid}"),
                ),
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_maps_are_checked_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.csv");
        std::fs::write(&path, "old_id,new_id\n1,2b8f1a4e-3c6d-4a4b-9f0e-0c1d2e3f4a5b\n\n").unwrap();
        let mut seen = Vec::new();
        let source = MapSource::parse(path.to_str().unwrap()).unwrap();
        for_each_entry(&source, &mut StepReport::default(), |o, n| {
            seen.push((o, n));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(1, "2b8f1a4e-3c6d-4a4b-9f0e-0c1d2e3f4a5b".to_string())]);
        std::fs::write(&path, "old_id,new_id\nx,y\n").unwrap();
        let e = for_each_entry(&source, &mut StepReport::default(), |_, _| Ok(())).unwrap_err().to_string();
        assert!(e.contains("map.csv:2") && e.contains("not an integer"), "{e}");
        assert!(MapSource::parse("/no/such/map.csv").is_err());
    }
}
