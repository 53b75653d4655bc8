//! Glance: integer image ids to UUIDs with a durable old→new map, and the semantics of Essex
//! migrations 010–013 without upstream's bugs.
//!
//! An image's UUID is a function of its old id and creation time ([`new_image_id`]): the map is
//! written to the target (`osmigrate_image_map`, which Essex ignores, for Nova and `--map-out`) in
//! the first step, and every later step computes the same UUIDs from the rows it reads (a child
//! row's image joined on the source), so no map is held in memory or looked up per batch, and a
//! resumed run keeps the same UUIDs.

pub mod location;
pub mod source;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use crate::db::{Backend, Db, DbUrl, OnConflict, Row, Value, in_list};
use crate::error::{Error, Result};
use crate::images::map::{MAP_TABLE, write_map_csv};
use crate::migrate::{self, Plan, Progress, Report, Severity, Sink, Step};
use crate::reason::Reason;
use crate::schema;
use location::Location;
use source::{DiabloGlance, IMAGE_COLUMNS};

#[derive(Debug, Clone)]
pub struct GlanceOptions {
    /// Where to write the map as CSV (`old_id,new_id`), if anywhere.
    pub map_out: Option<PathBuf>,
    pub batch_size: usize,
    /// Compare names as this backend does instead of the target's own (`check` rehearses the
    /// migration into a scratch SQLite database that stands in for the real target).
    pub names_as: Option<Backend>,
}

impl Default for GlanceOptions {
    fn default() -> Self {
        GlanceOptions { map_out: None, batch_size: 1000, names_as: None }
    }
}

/// Property names whose values are image ids (rewritten as 2012.1.1 does, bugs 975651/975655).
const IMAGE_REFERENCE_PROPERTIES: &[&str] = &["kernel_id", "ramdisk_id"];

struct Ctx {
    /// A second read-only source connection, for lookups while the first one streams.
    lookup: Db,
}

pub fn migrate(from: &DbUrl, to: &DbUrl, opts: &GlanceOptions, progress: &dyn Progress) -> Result<Report> {
    let mut source = migrate::open_source(from)?;
    let glance = DiabloGlance::detect(&mut source)?;
    preflight(&mut source, opts.names_as.unwrap_or(to.backend))?;
    let mut ctx = Ctx { lookup: source };
    let steps: Vec<Step<Ctx>> = vec![
        Step { name: "image_map", target_tables: &[MAP_TABLE], run: &image_map },
        Step { name: "images", target_tables: &["images"], run: &images },
        Step { name: "image_properties", target_tables: &["image_properties"], run: &image_properties },
        Step { name: "image_members", target_tables: &["image_members"], run: &image_members },
    ];
    let mut source_tables = vec!["images".to_string(), "image_properties".to_string(), "image_members".to_string()];
    if glance.stamped != source::Stamped::Unversioned {
        source_tables.push("migrate_version".into());
    }
    let plan = Plan {
        service: "glance",
        source_url: from.clone(),
        target_url: to.clone(),
        source_release: glance.release(),
        schema: schema::essex::glance(to.backend)?,
        own_tables: vec![schema::own::image_map()?],
        source_tables,
        settings: Vec::new(),
        steps,
        batch_size: opts.batch_size,
    };
    let mut report = migrate::run(plan, &mut ctx, progress)?;
    if let source::Stamped::Mismatched(v) = glance.stamped {
        report.findings.push(migrate::Finding {
            severity: Severity::Info,
            code: Reason::StampWithoutMigration,
            table: "migrate_version".into(),
            message: format!(
                "the database was stamped {v} (an Essex glance-registry does that to an unversioned database) but still had \
                 Diablo's integer ids: migrated as Diablo"
            ),
            count: 1,
            rows: Vec::new(),
        });
    }
    if let Some(path) = &opts.map_out {
        // Through the one atomic writer, 0600 like the rest of the state it usually joins.
        crate::config::write::write_file(path, crate::config::write::Perms::PRIVATE, |file| {
            let mut out = std::io::BufWriter::new(file);
            write_map_csv(to, &mut out).and_then(|()| out.flush().map_err(|e| Error::io(path, e)))
        })?;
        report.files.push(path.display().to_string());
    }
    Ok(report)
}

/// Unique keys that hold in the source but would not in the target: MySQL compares without case.
/// Each table is read in `image_id` order (the source's unique key on `(image_id, …)` serves it,
/// where a `GROUP BY` on the folded name would sort every row in a temporary table: 0.75 s of a
/// 2.5 s Glance) and the folded names compared image by image, holding one image's rows at most.
fn preflight(source: &mut Db, target: Backend) -> Result<()> {
    if target != Backend::Mysql {
        return Ok(());
    }
    for (table, column) in [("image_members", "member"), ("image_properties", "name")] {
        let key = target.name_key_sql(column);
        let sql = format!("SELECT image_id, {key} AS k FROM {table} ORDER BY image_id");
        let mut dups = CaseDuplicates::default();
        source.stream(&sql, &[], 5000, |batch| {
            for r in &batch {
                dups.add(r.get("image_id").key_string(), r.get("k").key_string());
            }
            Ok(())
        })?;
        let groups = dups.finish();
        if !groups.is_empty() {
            let lines: Vec<String> = groups
                .iter()
                .take(20)
                .map(|(image, k)| {
                    format!("{table}: image {} `{column}` {}", image.as_deref().unwrap_or_default(), k.as_deref().unwrap_or_default())
                })
                .collect();
            return Err(Error::Refused(format!(
                "{} {table} row group(s) differ only in case, which a MySQL Essex database cannot hold apart (unique per image); \
                 nothing was written:\n  {}",
                groups.len(),
                lines.join("\n  ")
            )));
        }
    }
    Ok(())
}

/// The (image, folded name) pairs met more than once, from rows in image order.
#[derive(Default)]
struct CaseDuplicates {
    /// The current image (of the rows in `names`).
    image: Option<String>,
    /// The folded names of the current image's rows.
    names: Vec<Option<String>>,
    found: Vec<(Option<String>, Option<String>)>,
}

impl CaseDuplicates {
    fn add(&mut self, image: Option<String>, name: Option<String>) {
        if self.image != image {
            self.flush();
            self.image = image;
        }
        self.names.push(name);
    }

    /// The current image's names met twice or more, each once.
    fn flush(&mut self) {
        let mut names = std::mem::take(&mut self.names);
        names.sort_unstable();
        let image = self.image.clone();
        for pair in names.windows(2).filter(|w| w[0] == w[1]) {
            if self.found.last() != Some(&(image.clone(), pair[0].clone())) {
                self.found.push((image.clone(), pair[0].clone()));
            }
        }
    }

    fn finish(mut self) -> Vec<(Option<String>, Option<String>)> {
        self.flush();
        self.found
    }
}

fn image_map(src: &mut Db, s: &mut Sink, _: &mut Ctx) -> Result<()> {
    let batch_size = s.batch_size;
    src.stream("SELECT id, created_at FROM images ORDER BY id", &[], batch_size, |batch| {
        let mut rows = Vec::with_capacity(batch.len());
        for r in &batch {
            let id = r.get("id").as_i64().ok_or_else(|| Error::bad_data("images", r.id(), "id", "not an integer"))?;
            rows.push(vec![Value::Int(id), new_image_id(id, r.get("created_at")).into()]);
        }
        s.write("images", MAP_TABLE, &["old_id", "new_id"], &rows, OnConflict::Fail)
    })
}

/// Namespace of the UUIDs osmigrate gives Glance images.
const IMAGE_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f736d69_6772_6174_6567_6c616e636531);

/// An image's new id: a name-based UUID of its old id and creation time, so that a migration
/// started again from scratch (or on another target) gives every image the same UUID it gave
/// before — Nova's references and any map already handed out stay valid.
pub fn new_image_id(old_id: i64, created_at: &Value) -> String {
    let created = created_at.as_datetime().map(|d| crate::db::value::sqlite_datetime_text(&d)).unwrap_or_default();
    uuid::Uuid::new_v5(&IMAGE_NAMESPACE, format!("glance-image:{old_id}:{created}").as_bytes()).to_string()
}

fn images(src: &mut Db, s: &mut Sink, _: &mut Ctx) -> Result<()> {
    let sql = format!("SELECT {} FROM images ORDER BY id", IMAGE_COLUMNS.join(", "));
    let mut columns: Vec<&str> = IMAGE_COLUMNS.to_vec();
    columns.push("protected");
    let batch_size = s.batch_size;
    src.stream(&sql, &[], batch_size, |batch| {
        s.report.read("images", batch.len() as u64);
        let mut out = Vec::with_capacity(batch.len());
        for r in &batch {
            out.push(image_row(s, r)?);
        }
        s.write("images", "images", &columns, &out, OnConflict::Fail)
    })
}

/// One image through 010–013: `updated_at` filled, `min_disk`/`min_ram` never NULL, the new id,
/// `protected` false, `location` untouched (and classified for the report).
fn image_row(s: &mut Sink, r: &Row) -> Result<Vec<Value>> {
    let old = r.get("id").as_i64().ok_or_else(|| Error::bad_data("images", r.id(), "id", "not an integer"))?;
    let new = new_image_id(old, r.get("created_at"));
    let shown = format!("id={old} → {new}");
    let mut values = Vec::with_capacity(IMAGE_COLUMNS.len() + 1);
    for col in IMAGE_COLUMNS {
        let v = match *col {
            "id" => Value::Text(new.clone()),
            "updated_at" if r.get("updated_at").is_null() => {
                s.report.note(
                    Severity::Info,
                    "images",
                    Reason::UpdatedAtFilled,
                    "updated_at was NULL; set to created_at (Essex 010)",
                    shown.clone(),
                );
                r.get("created_at").clone()
            }
            "min_disk" | "min_ram" if r.get(col).is_null() => {
                s.report.note(
                    Severity::Info,
                    "images",
                    if *col == "min_disk" { Reason::MinDiskNull } else { Reason::MinRamNull },
                    &format!("{col} was NULL; Essex requires a value (011), 0 written"),
                    shown.clone(),
                );
                Value::Int(0)
            }
            "name" | "location" | "owner" | "status" | "disk_format" | "container_format" | "checksum" => {
                r.text("images", col)?.map_or(Value::Null, Value::Text)
            }
            _ => r.get(col).clone(),
        };
        values.push(v);
    }
    values.push(Value::Int(0)); // protected (013)
    let location = r.text("images", "location")?;
    match location::classify(location.as_deref(), old) {
        Location::NamesOldId(scheme) => s.report.note(
            Severity::Info,
            "images",
            Reason::LocationNamesOldId,
            "the location names the old integer id; it stays reachable (Essex reads through `location`, unchanged)",
            format!("{shown} ({scheme})"),
        ),
        Location::NoScheme => s.report.note(
            Severity::Warning,
            "images",
            Reason::LocationNoScheme,
            "the location has no store scheme (file://, swift://, …); Essex cannot read the image data through it",
            shown,
        ),
        Location::UnknownStore(scheme) => s.report.note(
            Severity::Warning,
            "images",
            Reason::LocationUnknownStore,
            "the location names a store Essex does not know",
            format!("{shown} ({scheme})"),
        ),
        Location::None | Location::Other(_) => {}
    }
    Ok(values)
}

const CHILD_COLUMNS: &[&str] = &["id", "image_id", "created_at", "updated_at", "deleted_at", "deleted"];

/// A child table's rows with what names their image's new id: its creation time, and whether
/// it exists (`image_found` is NULL for an orphan).
fn child_select(table: &str, own: &[&str]) -> String {
    let columns: Vec<String> = CHILD_COLUMNS.iter().chain(own).map(|c| format!("c.{c}")).collect();
    format!(
        "SELECT {}, i.id AS image_found, i.created_at AS image_created_at FROM {table} c LEFT JOIN images i ON i.id = c.image_id \
         ORDER BY c.id",
        columns.join(", ")
    )
}

fn image_properties(src: &mut Db, s: &mut Sink, ctx: &mut Ctx) -> Result<()> {
    let sql = child_select("image_properties", &["name", "value"]);
    let mut columns = CHILD_COLUMNS.to_vec();
    columns.extend(["name", "value"]);
    let batch_size = s.batch_size;
    src.stream(&sql, &[], batch_size, |batch| {
        s.report.read("image_properties", batch.len() as u64);
        let mut references: Vec<i64> = Vec::new();
        for r in &batch {
            if is_reference(r) {
                if let Some(v) = r.get("value").as_str().and_then(|v| v.trim().parse::<i64>().ok()) {
                    references.push(v);
                }
            }
        }
        let referenced = referenced_images(&mut ctx.lookup, references)?;
        let mut out = Vec::with_capacity(batch.len());
        for r in &batch {
            let Some(mut row) = child_row(s, "image_properties", r) else { continue };
            let name = r.required_text("image_properties", "name")?;
            let mut value = r.text("image_properties", "value")?;
            if is_reference(r) {
                value = value.map(|v| rewrite_reference(s, r, &name, v, &referenced));
            }
            row.push(name.into());
            row.push(value.into());
            out.push(row);
        }
        s.write("image_properties", "image_properties", &columns, &out, OnConflict::Fail)
    })
}

fn is_reference(r: &Row) -> bool {
    r.get("name").as_str().is_some_and(|n| IMAGE_REFERENCE_PROPERTIES.contains(&n))
}

/// A `kernel_id`/`ramdisk_id` value through the map; values naming no image are kept and reported.
fn rewrite_reference(s: &mut Sink, r: &Row, name: &str, value: String, referenced: &HashMap<i64, Referenced>) -> String {
    let image = r.get("image_id").key_string().unwrap_or_default();
    let Ok(old) = value.trim().parse::<i64>() else {
        if uuid::Uuid::parse_str(value.trim()).is_err() && !value.trim().is_empty() {
            s.report.note(
                Severity::Warning,
                "image_properties",
                Reason::ImageReferenceUnknown,
                "the value names no image (neither an old id nor a UUID); kept as it is",
                format!("id={} image {image} {name}={value}", r.id()),
            );
        }
        return value;
    };
    if let Some(Referenced { new, deleted }) = referenced.get(&old) {
        s.report.note(
            Severity::Info,
            "image_properties",
            Reason::ImageReferenceRewritten,
            "kernel_id/ramdisk_id rewritten to the new UUID (as 2012.1.1 does)",
            format!("id={} image {image} {name} {old} → {new}", r.id()),
        );
        if *deleted {
            s.report.note(
                Severity::Warning,
                "image_properties",
                Reason::ImageReferenceDeleted,
                "the property points at a deleted image",
                format!("id={} image {image} {name}={old}", r.id()),
            );
        }
        new.clone()
    } else {
        s.report.note(
            Severity::Warning,
            "image_properties",
            Reason::ImageReferenceUnknown,
            "the value names an image that does not exist; kept as it is",
            format!("id={} image {image} {name}={value}", r.id()),
        );
        value
    }
}

/// An image a `kernel_id`/`ramdisk_id` property names.
struct Referenced {
    new: String,
    deleted: bool,
}

/// The images of the given old ids that exist, read from the source.
fn referenced_images(lookup: &mut Db, mut ids: Vec<i64>) -> Result<HashMap<i64, Referenced>> {
    // A batch's properties name the same few kernels and ramdisks over and over.
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::new();
    for chunk in ids.chunks(5000) {
        let (marks, params) = in_list(chunk);
        for r in lookup.query(&format!("SELECT id, deleted, created_at FROM images WHERE id IN ({marks})"), &params)? {
            if let Some(id) = r.get("id").as_i64() {
                let deleted = r.get("deleted").as_bool().unwrap_or(false);
                out.insert(id, Referenced { new: new_image_id(id, r.get("created_at")), deleted });
            }
        }
    }
    Ok(out)
}

/// The columns shared by properties and members, re-pointed; None (and reported) for an orphan.
fn child_row(s: &mut Sink, table: &str, r: &Row) -> Option<Vec<Value>> {
    let image = r.get("image_id").as_i64().filter(|_| !r.get("image_found").is_null());
    let Some(image) = image.map(|old| new_image_id(old, r.get("image_created_at"))) else {
        s.report.skip(
            table,
            Reason::OrphanImage,
            "the row names an image that does not exist (possible without foreign keys)",
            format!("id={} image_id={}", r.id(), r.get("image_id").key_string().unwrap_or_else(|| "NULL".into())),
        );
        return None;
    };
    let mut row = Vec::with_capacity(CHILD_COLUMNS.len() + 2);
    for col in CHILD_COLUMNS {
        row.push(if *col == "image_id" { Value::Text(image.clone()) } else { r.get(col).clone() });
    }
    Some(row)
}

fn image_members(src: &mut Db, s: &mut Sink, _: &mut Ctx) -> Result<()> {
    let sql = child_select("image_members", &["member", "can_share"]);
    let mut columns = CHILD_COLUMNS.to_vec();
    columns.extend(["member", "can_share"]);
    let batch_size = s.batch_size;
    src.stream(&sql, &[], batch_size, |batch| {
        s.report.read("image_members", batch.len() as u64);
        let mut out = Vec::with_capacity(batch.len());
        for r in &batch {
            let Some(mut row) = child_row(s, "image_members", r) else { continue };
            row.push(r.required_text("image_members", "member")?.into());
            row.push(r.get("can_share").clone());
            out.push(row);
        }
        s.write("image_members", "image_members", &columns, &out, OnConflict::Fail)
    })
}

#[cfg(test)]
mod tests {
    use super::CaseDuplicates;

    #[test]
    fn names_met_twice_within_one_image_are_each_named_once() {
        let mut d = CaseDuplicates::default();
        let s = |v: &str| Some(v.to_string());
        for (image, name) in [("1", "a"), ("1", "b"), ("1", "a"), ("1", "a"), ("2", "a"), ("3", "b"), ("3", "c"), ("3", "b")] {
            d.add(s(image), s(name));
        }
        d.add(None, s("x"));
        d.add(None, s("x"));
        assert_eq!(d.finish(), vec![(s("1"), s("a")), (s("3"), s("b")), (None, s("x"))]);
        assert_eq!(CaseDuplicates::default().finish(), vec![]);
    }
}
