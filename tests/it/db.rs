//! The database layer itself against the real servers: what the engine relies on from it.

use osmigrate::db::{Access, Backend, Db, OnConflict, Value};
use osmigrate::schema::{ColType, Column, Table};

use crate::support::{self, rows};

/// PostgreSQL takes a table's batches into one COPY that runs while the next batch is made (other
/// backends insert each batch at once): a row the server refuses fails at the latest the next
/// statement on the connection, naming the table (and the key, where the server's message does); a rollback leaves the connection
/// usable, and batches for another table start a COPY of their own.
#[test]
fn a_row_the_server_refuses_fails_the_load_naming_its_table() {
    support::each_server(|server| {
        let ctx = server.name();
        let fresh = support::fresh_db(&server, "refused_row");
        Db::create_database_if_missing(&fresh.url).unwrap();
        let mut db = Db::connect(&fresh.url, Access::ReadWrite).unwrap();
        let column = |name: &str| Column { name: name.into(), ty: ColType::Integer, nullable: false, default: None, autoincrement: false };
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
