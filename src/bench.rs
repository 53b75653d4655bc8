//! The benchmark's building blocks: a Diablo cloud of a given scale on any backend, and the floor
//! any migration is measured against — a raw copy of the same databases with the backend's own
//! tools (`mysqldump | mysql`, `pg_dump | psql`; on SQLite, which has no such pair, the fastest
//! copy a program can make: the same schema in a fresh file filled by `INSERT … SELECT` from the
//! attached source in one transaction).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::db::{Access, Backend, Db, DbUrl};
use crate::error::{Error, Result};
use crate::generate::{glance, keystone, nova};

/// Where the benchmark's databases live: a server (MySQL/PostgreSQL URL with the right to create
/// databases) or a directory of SQLite files (`sqlite:DIR`).
#[derive(Debug, Clone)]
pub enum Place {
    Server(DbUrl),
    Directory(PathBuf),
}

impl Place {
    pub fn parse(arg: &str) -> Result<Place> {
        if let Some(dir) = arg.strip_prefix("sqlite:").filter(|d| !d.starts_with("//")) {
            return Ok(Place::Directory(PathBuf::from(dir)));
        }
        let url = DbUrl::parse(arg)?;
        if url.backend == Backend::Sqlite {
            return Err(Error::Usage(format!("give a directory as sqlite:DIR, not a database file ({arg})")));
        }
        Ok(Place::Server(url))
    }

    /// The database called `name` here.
    pub fn database(&self, name: &str) -> DbUrl {
        match self {
            Place::Server(url) => url.with_database(name),
            Place::Directory(dir) => DbUrl::sqlite(&dir.join(format!("{name}.sqlite"))),
        }
    }
}

/// Creates (or re-creates) a database and opens it for writing.
pub fn fresh(url: &DbUrl) -> Result<Db> {
    Db::drop_database_if_exists(url)?;
    Db::create_database_if_missing(url)?;
    Db::connect(url, Access::ReadWrite)
}

/// What `generate` made, per service.
#[derive(Debug, Clone)]
pub struct Cloud {
    pub keystone: keystone::Generated,
    pub glance: glance::Generated,
    pub nova: nova::Generated,
}

/// A Diablo cloud of realistic proportions at `scale` (1 ≈ 10k users, 200k tokens, 20k images, 100k
/// instances, 1M fixed ips, …), the three databases created anew.
pub fn generate(scale: f64, keystone_url: &DbUrl, glance_url: &DbUrl, nova_url: &DbUrl) -> Result<Cloud> {
    let glance_shape = glance::Shape::scale(
        scale,
        if glance_url.backend == Backend::Postgres { glance::Variant::Unversioned } else { glance::Variant::Versioned },
    );
    let nova_shape = nova::Shape { glance_images: glance_shape.images, ..nova::Shape::scale(scale) };
    Ok(Cloud {
        keystone: keystone::generate(&mut fresh(keystone_url)?, &keystone::Shape::scale(scale))?,
        glance: glance::generate(&mut fresh(glance_url)?, &glance_shape)?,
        nova: nova::generate(&mut fresh(nova_url)?, &nova_shape)?,
    })
}

/// Copies a database with the backend's own tools; returns the seconds it took.
pub fn raw_copy(from: &DbUrl, to: &DbUrl) -> Result<f64> {
    let started = Instant::now();
    match from.backend {
        Backend::Sqlite => sqlite_copy(from, to)?,
        Backend::Mysql => {
            fresh(to)?;
            let dump = client(from, "mysqldump", &["--single-transaction", "--skip-lock-tables", "--quick"], from);
            let load = client(to, "mysql", &[], to);
            pipe(dump, load)?;
        }
        Backend::Postgres => {
            fresh(to)?;
            let dump = client(from, "pg_dump", &["--no-owner", "--no-privileges"], from);
            let load = client(to, "psql", &["-q", "-v", "ON_ERROR_STOP=1"], to);
            pipe(dump, load)?;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// `from`'s schema (tables and indexes, as its `sqlite_master` holds them) in a fresh file at `to`,
/// each table filled with `INSERT INTO t SELECT * FROM src.t`, all in one transaction.
fn sqlite_copy(from: &DbUrl, to: &DbUrl) -> Result<()> {
    let source = from.path.as_ref().expect("sqlite url has a path");
    let mut db = fresh(to)?;
    let objects = Db::connect(from, Access::ReadOnly)?
        .query("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid", &[])?;
    // A URI, so that the source is attached read-only.
    let uri = format!("file:{}?mode=ro", source.display().to_string().replace('%', "%25").replace('?', "%3f").replace('#', "%23"));
    db.execute("ATTACH DATABASE ? AS src", &[uri.into()])?;
    db.transaction(|db| {
        for o in &objects {
            db.execute(o.get("sql").as_str().unwrap_or_default(), &[])?;
        }
        for table in objects.iter().filter(|o| o.get("type").as_str() == Some("table")) {
            let q = db.quote(table.get("name").as_str().unwrap_or_default());
            db.execute(&format!("INSERT INTO main.{q} SELECT * FROM src.{q}"), &[])?;
        }
        Ok(())
    })
}

/// A copy of the Keystone source at `to` whose passwords are all one sha512_crypt hash: migrated,
/// it does all of Keystone's work but the hashing (a stored hash is kept as it is), so that what
/// the hashing takes is measured, not estimated.
pub fn keystone_prehashed(from: &DbUrl, to: &DbUrl) -> Result<()> {
    use crate::essex_keystone::password;
    raw_copy(from, to)?;
    let sql = "UPDATE users SET password = ? WHERE password IS NOT NULL";
    Db::connect(to, Access::ReadWrite)?.execute(sql, &[password::hash("prehashed").into()])?;
    Ok(())
}

/// A backend client command for `url`, the password passed in the environment (never argv).
fn client(url: &DbUrl, program: &str, extra: &[&str], db: &DbUrl) -> Command {
    let mut cmd = Command::new(program);
    let host = url.host_or_default().to_string();
    let port = url.port_or_default().to_string();
    let user = url.user.clone().unwrap_or_default();
    let database = db.database.clone().unwrap_or_default();
    if url.backend == Backend::Mysql {
        cmd.args(["-h", &host, "-P", &port, "-u", &user, "--protocol=TCP"]).args(extra).arg(&database);
        if let Some(p) = url.password() {
            cmd.env("MYSQL_PWD", p);
        }
    } else {
        cmd.args(["-h", &host, "-p", &port, "-U", &user]).args(extra).args(["-d", &database]);
        if let Some(p) = url.password() {
            cmd.env("PGPASSWORD", p);
        }
    }
    cmd
}

fn pipe(mut producer: Command, mut consumer: Command) -> Result<()> {
    let name = |c: &Command| c.get_program().to_string_lossy().into_owned();
    let (p_name, c_name) = (name(&producer), name(&consumer));
    let spawn_err =
        |n: &str, e: std::io::Error| Error::Refused(format!("cannot run `{n}` for the raw copy ({e}); install the database client tools"));
    let mut p = producer.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| spawn_err(&p_name, e))?;
    let out = p.stdout.take().expect("piped stdout");
    let c = consumer.stdin(out).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(|e| spawn_err(&c_name, e))?;
    let c_out = c.wait_with_output().map_err(|e| Error::io(&c_name, e))?;
    let p_out = p.wait_with_output().map_err(|e| Error::io(&p_name, e))?;
    for (n, o) in [(&p_name, &p_out), (&c_name, &c_out)] {
        if !o.status.success() {
            let msg = String::from_utf8_lossy(&o.stderr);
            return Err(Error::db(
                "raw copy",
                format!("`{n}` failed ({}): {}", o.status, msg.lines().take(3).collect::<Vec<_>>().join(" ")),
            ));
        }
    }
    Ok(())
}

/// Runs a command to the end, sampling its peak resident memory (`VmHWM`, which exec resets, so
/// the parent's memory is not counted) every 20 ms. Returns its output and the peak in bytes.
pub fn run_measured(cmd: &mut Command) -> Result<(std::process::Output, u64)> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| Error::io(&program, e))?;
    let status_file = format!("/proc/{}/status", child.id());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(text) = std::fs::read_to_string(&status_file) {
                    if let Some(kb) = text
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    {
                        peak = peak.max(kb * 1024);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            peak
        })
    };
    let output = child.wait_with_output().map_err(|e| Error::io(&program, e));
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    Ok((output?, peak))
}
