//! The database layer itself against the real servers: what the engine relies on from it.

use osmigrate::db::{Access, Backend, Db, OnConflict, Value};
use osmigrate::schema::{ColType, Column, Table};

use crate::support::{self, FreshDb, Server, rows};

/// A new empty database, connected for writing.
fn created(server: &Server, label: &str) -> (FreshDb, Db) {
    let fresh = support::fresh_db(server, label);
    Db::create_database_if_missing(&fresh.url).unwrap();
    let db = Db::connect(&fresh.url, Access::ReadWrite).unwrap();
    (fresh, db)
}

/// A nullable column without default.
fn column(name: &str, ty: ColType) -> Column {
    Column { name: name.into(), ty, nullable: true, default: None, autoincrement: false, secret: false }
}

/// In a transaction, a table's batches go to a writer thread while the next batch is made
/// (PostgreSQL: one COPY; MySQL and SQLite: their INSERTs): a row the database refuses fails at
/// the latest the next statement on the connection, naming the table (and the key, where the
/// server's message does); a rollback leaves the connection usable, and batches for another table
/// start a writer of their own.
#[test]
fn a_row_the_server_refuses_fails_the_load_naming_its_table() {
    support::each_server(|server| {
        let ctx = server.name();
        let (fresh, mut db) = created(&server, "refused_row");
        let column = |name: &str| Column { nullable: false, ..column(name, ColType::Integer) };
        let table = |name: &str| Table { columns: vec![column("id"), column("n")], primary_key: vec!["id".into()], ..Table::new(name) };
        let (loaded, other) = (table("loaded"), table("other"));
        db.create_table(&loaded).unwrap();
        db.create_table(&other).unwrap();
        let batch = |ids: std::ops::Range<i64>| ids.map(|i| vec![Value::Int(i), Value::Int(i * 10)]).collect::<Vec<_>>();

        db.begin().unwrap();
        let first = db.insert_rows(&loaded, &["id", "n"], &batch(1..500), OnConflict::Fail).unwrap();
        assert_eq!(first, 499, "{ctx}");
        // Row 42 again: refused by the primary key, now or when the COPY ends.
        let refused = db
            .insert_rows(&loaded, &["id", "n"], &batch(42..43), OnConflict::Fail)
            .and_then(|_| db.insert_rows(&other, &["id", "n"], &batch(1..3), OnConflict::Fail))
            .and_then(|_| db.commit())
            .expect_err(ctx)
            .to_string();
        assert!(refused.contains("loaded"), "{ctx}: {refused}");
        if server.backend != Backend::Sqlite {
            assert!(refused.contains("42"), "{ctx}: the server's message names the key: {refused}");
        }
        db.rollback().unwrap();
        assert_eq!(rows(&fresh.url, "SELECT COUNT(*) FROM loaded")[0][0], "0", "{ctx}: rolled back");

        db.begin().unwrap();
        db.insert_rows(&loaded, &["id", "n"], &batch(1..1200), OnConflict::Fail).unwrap();
        db.insert_rows(&loaded, &["id", "n"], &batch(1200..1500), OnConflict::Fail).unwrap();
        db.insert_rows(&other, &["id", "n"], &batch(1..3), OnConflict::Fail).unwrap();
        assert_eq!(db.query_scalar("SELECT SUM(n) FROM loaded", &[]).unwrap().as_i64(), Some(10 * 1499 * 1500 / 2), "{ctx}");
        db.commit().unwrap();
        assert_eq!(rows(&fresh.url, "SELECT COUNT(*) FROM other")[0][0], "2", "{ctx}");
    });
}

/// What a batch holds is what the target reads back, on every backend however it loads the rows
/// (MySQL's `LOAD DATA LOCAL` and, on a server that refuses it, its SQL-text INSERTs escape it;
/// PostgreSQL's COPY text escapes it; SQLite binds it): quotes, backslashes, control bytes,
/// MySQL's `\Z`, non-ASCII text, extreme floats, microseconds.
#[test]
fn awkward_values_arrive_as_they_were_sent() {
    support::each_server(|server| {
        awkward_values_round_trip(&server, "awkward_values", true);
        if server.backend == Backend::Mysql {
            awkward_values_round_trip(&server, "awkward_values_text", false);
        }
    });
}

fn awkward_values_round_trip(server: &Server, label: &str, load_data: bool) {
    let ctx = format!("{} (load data: {load_data})", server.name());
    let ctx = ctx.as_str();
    let (_fresh, mut db) = created(server, label);
    db.set_load_data(load_data);
    let table = Table {
        columns: vec![
            Column { nullable: false, ..column("id", ColType::Integer) },
            column("s", ColType::Text),
            column("f", ColType::Float),
            column("d", ColType::DateTime),
        ],
        primary_key: vec!["id".into()],
        ..Table::new("awkward")
    };
    db.create_table(&table).unwrap();
    let texts = [
        "it's",
        "back\\slash\\",
        "\\'; DROP TABLE awkward; --",
        "tab\tnew\nline\rret",
        "sub\u{1a}nul\u{0}x",
        "ünï 漢字",
        "",
        "\\N",
        "NULL",
    ];
    // FLOAT is single precision on MySQL: values a float holds exactly.
    let floats = [0.5, -1.5e30, 2.0e-30, 123_456.125, -0.0];
    let when = chrono::NaiveDate::from_ymd_opt(2011, 9, 22).unwrap().and_hms_micro_opt(23, 59, 58, 123_456).unwrap();
    let sent: Vec<Vec<Value>> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let text = if server.backend == Backend::Postgres { t.replace('\0', "") } else { (*t).to_string() };
            vec![Value::Int(i as i64), Value::Text(text), Value::Float(floats[i % floats.len()]), Value::DateTime(when)]
        })
        .chain([vec![Value::Int(99), Value::Null, Value::Null, Value::Null]])
        .collect();
    db.begin().unwrap();
    assert_eq!(db.insert_rows(&table, &["id", "s", "f", "d"], &sent, OnConflict::Fail).unwrap(), sent.len() as u64, "{ctx}");
    db.commit().unwrap();
    let back: Vec<Vec<Value>> =
        db.query("SELECT id, s, f, d FROM awkward ORDER BY id", &[]).unwrap().into_iter().map(osmigrate::db::Row::into_values).collect();
    for (got, want) in back.iter().zip(&sent) {
        assert_eq!(got[0].as_i64(), want[0].as_i64(), "{ctx}");
        assert_eq!(got[1].as_str(), want[1].as_str(), "{ctx}: text of row {:?}", want[0]);
        let float = |v: &Value| match v {
            Value::Float(f) => Some(*f as f32),
            _ => None,
        };
        assert_eq!(float(&got[2]), float(&want[2]), "{ctx}: float of row {:?}", want[0]);
        let day = |v: &Value| v.as_datetime().map(|d| d.and_utc().timestamp());
        assert_eq!(day(&got[3]), day(&want[3]), "{ctx}: datetime of row {:?}", want[0]);
    }
    assert_eq!(back.len(), sent.len(), "{ctx}");
}

/// MySQL's `LOAD DATA LOCAL` turns what an INSERT refuses into a warning and goes on (a NULL in
/// a NOT NULL column becomes 0 or '', a long value is cut, a duplicate key skipped): osmigrate's
/// loads refuse each instead, naming the table and the server's reason, and nothing is kept.
#[test]
fn mysql_loads_refuse_what_an_insert_would() {
    let Some(server) = support::servers().into_iter().find(|s| s.backend == Backend::Mysql) else {
        return;
    };
    let (fresh, mut db) = created(&server, "load_refusals");
    let table = Table {
        columns: vec![
            Column { nullable: false, ..column("id", ColType::Integer) },
            Column { nullable: false, ..column("name", ColType::String(5)) },
        ],
        primary_key: vec!["id".into()],
        ..Table::new("loaded")
    };
    db.create_table(&table).unwrap();
    let row = |id: i64, name: Value| vec![Value::Int(id), name];
    for (bad, why) in
        [(row(7, Value::Null), "name"), (row(7, Value::Text("too long".into())), "name"), (row(1, Value::Text("again".into())), "PRIMARY")]
    {
        db.begin().unwrap();
        let good: Vec<Vec<Value>> = (1..5).map(|i| row(i, Value::Text(format!("n{i}")))).collect();
        let refused = db
            .insert_rows(&table, &["id", "name"], &[good, vec![bad.clone()]].concat(), OnConflict::Fail)
            .and_then(|_| db.commit())
            .expect_err(&format!("{bad:?}"))
            .to_string();
        assert!(refused.contains("loaded") && refused.contains(why), "{bad:?}: {refused}");
        assert!(refused.contains("warning"), "{bad:?}: the load, not an INSERT, refused it: {refused}");
        db.rollback().unwrap();
        assert_eq!(rows(&fresh.url, "SELECT COUNT(*) FROM loaded")[0][0], "0", "{bad:?}: nothing kept");
    }
}

/// Rows that may collide with a key (memberships, `s3_images`): those that do are skipped and not
/// counted, the first of two in one batch wins, whatever columns each writer gives, in or out of
/// a transaction; a refusal other than a collision names the real table (PostgreSQL stages the
/// rows in a temporary table first).
#[test]
fn colliding_rows_are_skipped_and_counted_on_every_backend() {
    support::each_server(|server| {
        let ctx = server.name();
        let (fresh, mut db) = created(&server, "skip_conflicts");
        let table = Table {
            columns: vec![
                Column { nullable: false, ..column("id", ColType::Integer) },
                Column { nullable: false, ..column("name", ColType::String(20)) },
                Column { default: Some("7".into()), ..column("n", ColType::Integer) },
            ],
            primary_key: vec!["id".into()],
            ..Table::new("pairs")
        };
        db.create_table(&table).unwrap();
        let row = |id: i64, name: &str| vec![Value::Int(id), Value::Text(name.into())];

        let first = db.insert_rows(&table, &["id", "name"], &[row(1, "a"), row(2, "b"), row(2, "b-again")], OnConflict::Ignore).unwrap();
        assert_eq!(first, 2, "{ctx}: the second row 2 of the batch skipped");
        db.begin().unwrap();
        let more = [row(2, "c"), row(3, "d")].map(|mut r| {
            r.push(Value::Int(9));
            r
        });
        assert_eq!(db.insert_rows(&table, &["id", "name", "n"], &more, OnConflict::Ignore).unwrap(), 1, "{ctx}: other columns");
        db.commit().unwrap();
        assert_eq!(
            rows(&fresh.url, "SELECT id, name, n FROM pairs ORDER BY id"),
            [["1", "a", "7"], ["2", "b", "7"], ["3", "d", "9"]].map(|r| r.map(String::from).to_vec()).to_vec(),
            "{ctx}"
        );

        let refused = db.insert_rows(&table, &["id", "name"], &[vec![Value::Int(4), Value::Null]], OnConflict::Ignore).expect_err(ctx);
        let refused = refused.to_string();
        assert!(refused.contains("pairs") && !refused.contains("osm_stage"), "{ctx}: {refused}");
        assert_eq!(rows(&fresh.url, "SELECT COUNT(*) FROM pairs")[0][0], "3", "{ctx}");
    });
}

/// A refused write into a table holding secrets (a duplicate token, a NULL beside one) names the
/// table and the key, never a value, on every backend and every way rows go in (piped or not;
/// MySQL by load and by INSERT); PostgreSQL's "Failing row contains (…)" included.
#[test]
fn refusals_of_a_table_with_secrets_show_no_value() {
    support::each_server(|server| {
        let ctx = server.name();
        let (_fresh, mut db) = created(&server, "secret_refusals");
        let table = Table {
            columns: vec![
                Column { nullable: false, secret: true, ..column("id", ColType::String(64)) },
                Column { nullable: false, ..column("user_id", ColType::String(64)) },
            ],
            primary_key: vec!["id".into()],
            ..Table::new("token")
        };
        db.create_table(&table).unwrap();
        let token = "Tok3n-that-must-not-show-0123456789";
        let row = |id: &str, user: Value| vec![Value::Text(id.into()), user];
        let load_ways: &[bool] = if server.backend == Backend::Mysql { &[true, false] } else { &[true] };
        for &loads in load_ways {
            db.set_load_data(loads);
            for piped in [false, true] {
                for (bad, why) in [(row(token, Value::Text("u".into())), "PRIMARY"), (row("other-token", Value::Null), "user_id")] {
                    if piped {
                        db.begin().unwrap();
                    }
                    let rows = [row(token, Value::Text("u".into())), bad.clone()];
                    let refused = db
                        .insert_rows(&table, &["id", "user_id"], &rows, OnConflict::Fail)
                        .and_then(|_| if piped { db.commit() } else { Ok(()) })
                        .expect_err(&format!("{ctx}: {bad:?}"))
                        .to_string();
                    let at = format!("{ctx}, loads {loads}, piped {piped}, {bad:?}: {refused}");
                    assert!(refused.contains("token"), "the table is named: {at}");
                    assert!(server.backend == Backend::Sqlite || why != "PRIMARY" || refused.contains("****"), "{at}");
                    assert!(!refused.contains(token) && !refused.contains("other-token"), "a value was shown: {at}");
                    let _ = db.rollback();
                    db.execute("DELETE FROM token", &[]).unwrap();
                }
            }
        }
    });
}
