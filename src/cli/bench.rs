//! `osmigrate bench generate|run`: a Diablo cloud at scale, and the full migration measured
//! against a raw copy of the same databases on the same server.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use super::exit::ExitStatus;
use clap::{Args, Subcommand};
use osmigrate::Error;
use osmigrate::bench::{self, Place};
use osmigrate::db::DbUrl;
use osmigrate::migrate::Report;
use serde_json::json;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Generate a Diablo cloud of realistic proportions (scale 1 ≈ 10k users, 200k tokens, 20k images,
    /// 100k instances, 1M fixed ips).
    Generate(GenerateArgs),
    /// Generate, migrate all three services, raw-copy the same databases, and compare.
    Run(RunArgs),
}

/// How large a cloud: 1 is the reference cloud, 4 four times it; a fraction (0.01) makes a small
/// one for a quick check of the benchmark itself.
fn parse_scale(arg: &str) -> Result<f64, String> {
    match arg.parse::<f64>() {
        Ok(s) if (0.001..=1000.0).contains(&s) => Ok(s),
        _ => Err(format!("`{arg}` is not a scale between 0.001 and 1000")),
    }
}

#[derive(Args)]
pub struct GenerateArgs {
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    scale: f64,
    #[arg(long, value_name = "URL")]
    keystone: String,
    #[arg(long, value_name = "URL")]
    glance: String,
    #[arg(long, value_name = "URL")]
    nova: String,
}

#[derive(Args)]
pub struct RunArgs {
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    scale: f64,
    /// A MySQL/PostgreSQL server URL with the right to create databases, or `sqlite:DIR`.
    #[arg(long, value_name = "URL")]
    server: String,
    /// Rows per batch for the migrations.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    batch_size: usize,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BenchCommand) -> osmigrate::Result<ExitStatus> {
    match cmd {
        BenchCommand::Generate(a) => {
            let started = Instant::now();
            let cloud = bench::generate(a.scale, &DbUrl::parse(&a.keystone)?, &DbUrl::parse(&a.glance)?, &DbUrl::parse(&a.nova)?)?;
            eprintln!("generated scale {} in {:.1} s", a.scale, started.elapsed().as_secs_f64());
            println!(
                "users {}  images {}  instances {}  fixed ips {}  tokens {}",
                cloud.keystone.users,
                cloud.glance.images,
                cloud.nova.instances,
                cloud.nova.fixed_ips,
                cloud.keystone.live_tokens + cloud.keystone.expired_tokens
            );
            Ok(ExitStatus::Clean)
        }
        BenchCommand::Run(a) => run_bench(a),
    }
}

/// One service's timings.
struct Measured {
    service: &'static str,
    migration: f64,
    /// Its seconds again, migrated with nothing beside it.
    alone: f64,
    raw_copy: f64,
    /// The part of `alone` spent hashing plaintext passwords (Keystone): `alone` less the same
    /// migration from a copy whose passwords are all one hash.
    hashing: f64,
    peak_rss: u64,
    report: Report,
}

fn run_bench(a: RunArgs) -> osmigrate::Result<ExitStatus> {
    let place = Place::parse(&a.server)?;
    if let Place::Directory(dir) = &place {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let name = |svc: &str, kind: &str| format!("osm_bench_s{}_{svc}_{kind}", a.scale.to_string().replace('.', "_"));
    let db = |svc: &str, kind: &str| place.database(&name(svc, kind));
    let started = Instant::now();
    bench::generate(a.scale, &db("keystone", "diablo"), &db("glance", "diablo"), &db("nova", "diablo"))?;
    eprintln!("generated the Diablo cloud (scale {}) in {:.1} s", a.scale, started.elapsed().as_secs_f64());

    let map = std::env::temp_dir().join(format!("osm-bench-map-{}.csv", std::process::id()));
    let map_arg = map.to_string_lossy().into_owned();
    let batch = a.batch_size.to_string();
    // Dropped before the clock starts (PostgreSQL's DROP DATABASE waits for a checkpoint).
    for service in ["keystone", "glance", "nova"] {
        osmigrate::db::Db::drop_database_if_exists(&db(service, "essex"))?;
    }
    let measure_from = |service: &'static str, source: &DbUrl, extra: &[&str]| -> osmigrate::Result<Measured> {
        let target = db(service, "essex");
        let started = Instant::now();
        let (report, peak_rss) = migrate_child(service, source, &target, extra, &batch)?;
        let migration = started.elapsed().as_secs_f64();
        eprintln!("{service}: migrated in {migration:.1} s, peak RSS {:.0} MB", peak_rss as f64 / 1e6);
        Ok(Measured { service, migration, alone: 0.0, raw_copy: 0.0, hashing: 0.0, peak_rss, report })
    };
    let measure = |service: &'static str, extra: &[&str]| measure_from(service, &db(service, "diablo"), extra);
    // As `migrate` runs them: Keystone beside Glance then Nova.
    let started = Instant::now();
    let (keystone, rest) = std::thread::scope(|scope| {
        let keystone = scope.spawn(|| measure("keystone", &[]));
        let rest = measure("glance", &["--map-out", &map_arg]).and_then(|g| Ok([g, measure("nova", &["--image-map", &map_arg])?]));
        (keystone.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), rest)
    });
    let total_migration = started.elapsed().as_secs_f64();
    let [glance, nova] = rest?;
    let mut measured = vec![keystone?, glance, nova];
    // Each service again, alone: what it takes when nothing competes with it and its database
    // server for the cores (hashing beside Glance and Nova runs at the lowest priority, so the
    // run above tells little of Keystone's own work). Rows/s per table come from this run.
    for (m, extra) in measured.iter_mut().zip([&[][..], &["--map-out", &map_arg], &["--image-map", &map_arg]]) {
        osmigrate::db::Db::drop_database_if_exists(&db(m.service, "essex"))?;
        let again = measure(m.service, extra)?;
        m.alone = again.migration;
        m.report = again.report;
        m.peak_rss = m.peak_rss.max(again.peak_rss);
    }
    // Keystone once more, from a copy whose passwords are all one hash: all of its
    // work but the hashing.
    let prehashed = db("keystone", "prehashed");
    bench::keystone_prehashed(&db("keystone", "diablo"), &prehashed)?;
    osmigrate::db::Db::drop_database_if_exists(&db("keystone", "essex"))?;
    let keystone_rest = measure_from("keystone", &prehashed, &[])?.migration;
    measured[0].hashing = (measured[0].alone - keystone_rest).max(0.0);
    let passwords = measured[0].report.finding("password_hashed").map_or(0, |f| f.count);
    let peak_rss = measured.iter().map(|m| m.peak_rss).max().unwrap_or(0);
    for m in &mut measured {
        m.raw_copy = bench::raw_copy(&db(m.service, "diablo"), &db(m.service, "copy"))?;
        eprintln!("{}: raw copy in {:.1} s", m.service, m.raw_copy);
    }
    let _ = std::fs::remove_file(&map);
    let total_copy: f64 = measured.iter().map(|m| m.raw_copy).sum();
    let total_hashing = measured[0].hashing;
    // Were there nothing to hash: the longer of Keystone's rest and Glance then Nova, alone.
    let without_hashing = (measured[0].alone - measured[0].hashing).max(measured[1].alone + measured[2].alone);
    let ratio = |seconds: f64, copy: f64| seconds / copy.max(1e-9);
    if a.json {
        let services: Vec<_> = measured
            .iter()
            .map(|m| {
                json!({
                    "service": m.service, "migration_seconds": m.migration, "raw_copy_seconds": m.raw_copy,
                    "ratio": ratio(m.migration, m.raw_copy), "hashing_seconds": m.hashing,
                    "alone_seconds": m.alone,
                    "ratio_without_hashing": ratio(m.alone - m.hashing, m.raw_copy),
                    "peak_rss_bytes": m.peak_rss, "tables": table_rates(&m.report),
                })
            })
            .collect();
        let doc = json!({
            "scale": a.scale, "server": place_name(&place), "services": services,
            "migration_seconds": total_migration, "raw_copy_seconds": total_copy,
            "ratio": ratio(total_migration, total_copy), "peak_rss_bytes": peak_rss,
            "hashing": {
                "plaintext_passwords": passwords, "seconds": total_hashing, "keystone_prehashed_seconds": keystone_rest,
            },
            "migration_seconds_without_hashing": without_hashing,
            "ratio_without_hashing": ratio(without_hashing, total_copy),
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("serializes"));
    } else {
        println!("scale {} on {}", a.scale, place_name(&place));
        println!(
            "  {:<10} {:>12} {:>10} {:>12} {:>7} {:>16} {:>13}",
            "service", "migration s", "hashing s", "raw copy s", "ratio", "w/o hashing", "peak RSS MB"
        );
        for m in &measured {
            println!(
                "  {:<10} {:>12.1} {:>10.1} {:>12.1} {:>7.2} {:>16.2} {:>13.0}",
                m.service,
                m.migration,
                m.hashing,
                m.raw_copy,
                ratio(m.migration, m.raw_copy),
                ratio(m.alone - m.hashing, m.raw_copy),
                m.peak_rss as f64 / 1e6
            );
        }
        println!(
            "  {:<10} {:>12.1} {:>10.1} {:>12.1} {:>7.2} {:>16.2}",
            "whole",
            total_migration,
            total_hashing,
            total_copy,
            ratio(total_migration, total_copy),
            ratio(without_hashing, total_copy)
        );
        println!("  whole: Keystone beside Glance then Nova, as `migrate` runs them (each service's seconds are its own)");
        println!("  w/o hashing: each service migrated again alone, less its hashing; whole: the longer of Keystone's and Glance + Nova");
        println!(
            "  hashing: {passwords} plaintext passwords; Keystone alone {:.1} s, from a copy with them hashed already {keystone_rest:.1} s",
            measured[0].alone
        );
        println!("  peak RSS of a migration: {:.0} MB", peak_rss as f64 / 1e6);
        println!("\n  rows/s per table (largest first):");
        let mut all: Vec<serde_json::Value> = measured.iter().flat_map(|m| table_rates(&m.report)).collect();
        all.sort_by_key(|t| std::cmp::Reverse(t["rows"].as_u64()));
        for t in all.iter().take(15) {
            println!(
                "  {:<38} {:>10} rows {:>12.0} rows/s",
                t["table"].as_str().unwrap_or_default(),
                t["rows"],
                t["rows_per_second"].as_f64().unwrap_or_default()
            );
        }
    }
    Ok(ExitStatus::Clean)
}

fn place_name(place: &Place) -> String {
    match place {
        Place::Server(url) => url.to_string(),
        Place::Directory(dir) => format!("sqlite:{}", dir.display()),
    }
}

/// Rows read, seconds and rows per second of every source table of a report.
fn table_rates(report: &Report) -> Vec<serde_json::Value> {
    report
        .tables
        .iter()
        .map(|t| {
            json!({
                "table": format!("{}.{}", report.service, t.source_table), "rows": t.read, "seconds": t.seconds,
                "rows_per_second": t.read as f64 / t.seconds.max(1e-6),
            })
        })
        .collect()
}

/// Runs `osmigrate db migrate SERVICE` as a child process, so that its peak memory is its own.
fn migrate_child(service: &str, from: &DbUrl, to: &DbUrl, extra: &[&str], batch: &str) -> osmigrate::Result<(Report, u64)> {
    let exe: PathBuf = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let mut cmd = Command::new(&exe);
    // The URLs carry passwords: the environment, not argv (which every local user can read).
    cmd.args(["db", "migrate", service, "--json", "--batch-size", batch])
        .args(extra)
        .env("OSMIGRATE_FROM", from.expose_secret())
        .env("OSMIGRATE_TO", to.expose_secret());
    let (out, peak) = bench::run_measured(&mut cmd)?;
    if out.status.code().unwrap_or(2) > 1 {
        return Err(Error::db(format!("migrating {service}"), String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    let report = serde_json::from_slice(&out.stdout).map_err(|e| Error::db_from(format!("reading the {service} report"), e))?;
    Ok((report, peak))
}
