//! Schema data → CREATE statements, written the way SQLAlchemy 0.7 wrote them for each backend,
//! so that the result reads back exactly like the upstream-created reference databases.

use super::{Backend, quote_ident};
use crate::schema::{ColType, Column, ForeignKey, Index, Table};

fn type_sql(backend: Backend, ty: &ColType, autoincrement: bool) -> String {
    match (backend, ty) {
        (Backend::Postgres, ColType::Integer) if autoincrement => "SERIAL".into(),
        (Backend::Postgres, ColType::BigInt) if autoincrement => "BIGSERIAL".into(),
        (_, ColType::Integer) => "INTEGER".into(),
        (_, ColType::BigInt) => "BIGINT".into(),
        (_, ColType::SmallInt) => "SMALLINT".into(),
        (Backend::Mysql, ColType::Boolean) => "BOOL".into(),
        (_, ColType::Boolean) => "BOOLEAN".into(),
        (_, ColType::Float) => "FLOAT".into(),
        (_, ColType::String(n)) => format!("VARCHAR({n})"),
        (_, ColType::Text) => "TEXT".into(),
        (Backend::Postgres, ColType::DateTime) => "TIMESTAMP WITHOUT TIME ZONE".into(),
        (_, ColType::DateTime) => "DATETIME".into(),
    }
}

fn default_sql(backend: Backend, ty: &ColType, default: &str) -> String {
    // Boolean defaults are written 0/1 in the schema files; PostgreSQL wants a boolean literal.
    match (backend, ty, default) {
        (Backend::Postgres, ColType::Boolean, "0") => "false".into(),
        (Backend::Postgres, ColType::Boolean, "1") => "true".into(),
        _ => default.to_string(),
    }
}

fn column_list(backend: Backend, cols: &[String]) -> String {
    cols.iter().map(|c| quote_ident(backend, c)).collect::<Vec<_>>().join(", ")
}

/// How introspection (`db::introspect`) reports the type [`type_sql`] declares: SQLite keeps the
/// declared text, MySQL and PostgreSQL answer with their own names (MySQL's integer display
/// widths left out: MariaDB shows them, MySQL 8 does not).
pub fn reported_type(backend: Backend, ty: &ColType, autoincrement: bool) -> String {
    match (backend, ty) {
        (Backend::Sqlite, _) => type_sql(backend, ty, autoincrement),
        (Backend::Mysql, ColType::Integer) => "int".into(),
        (Backend::Mysql, ColType::Boolean) => "tinyint(1)".into(),
        (Backend::Postgres, ColType::Boolean) => "boolean".into(),
        (Backend::Postgres, ColType::Float) => "double precision".into(),
        (Backend::Postgres, ColType::String(n)) => format!("character varying({n})"),
        (Backend::Postgres, ColType::DateTime) => "timestamp without time zone".into(),
        _ => type_sql(backend, ty, false).to_ascii_lowercase(),
    }
}

/// How introspection reports a column's server default: PostgreSQL's SERIAL as the `nextval` of
/// the sequence it made, booleans as PostgreSQL wants them, anything else as declared.
pub fn reported_default(backend: Backend, table: &Table, column: &Column) -> Option<String> {
    if backend == Backend::Postgres && column.autoincrement {
        return Some(format!("nextval('{}_{}_seq'::regclass)", table.name, column.name));
    }
    column.default.as_ref().map(|d| default_sql(backend, &column.ty, d))
}

/// `CREATE SEQUENCE`, for a sequence a PostgreSQL table's default names.
pub fn create_sequence(backend: Backend, name: &str) -> String {
    format!("CREATE SEQUENCE {}", quote_ident(backend, name))
}

/// `CREATE TABLE` with the columns, primary key, unique constraints and foreign keys (one
/// statement: a table exists with all of them or not at all).
pub fn create_table(backend: Backend, table: &Table) -> String {
    let q = |s: &str| quote_ident(backend, s);
    let mut parts = Vec::new();
    for c in &table.columns {
        let mut def = format!("{} {}", q(&c.name), type_sql(backend, &c.ty, c.autoincrement));
        if let Some(d) = &c.default {
            def.push_str(&format!(" DEFAULT {}", default_sql(backend, &c.ty, d)));
        }
        if !c.nullable {
            def.push_str(" NOT NULL");
        }
        if backend == Backend::Mysql && c.autoincrement {
            def.push_str(" AUTO_INCREMENT");
        }
        parts.push(def);
    }
    if !table.primary_key.is_empty() {
        parts.push(format!("PRIMARY KEY ({})", column_list(backend, &table.primary_key)));
    }
    for u in &table.uniques {
        parts.push(format!("UNIQUE ({})", column_list(backend, u)));
    }
    if backend == Backend::Sqlite {
        // SQLAlchemy's Boolean on SQLite comes with a CHECK constraint.
        for c in table.columns.iter().filter(|c| c.ty == ColType::Boolean) {
            parts.push(format!("CHECK ({} IN (0, 1))", q(&c.name)));
        }
    }
    for fk in &table.foreign_keys {
        parts.push(foreign_key_clause(backend, fk));
    }
    let mut create = format!("CREATE TABLE {} (\n\t{}\n)", q(&table.name), parts.join(", \n\t"));
    if backend == Backend::Mysql {
        create.push_str(&format!(" ENGINE={} DEFAULT CHARSET={}", table.mysql_engine, table.mysql_charset));
    }
    create
}

/// `CREATE [UNIQUE] INDEX` for one of a table's named indexes.
pub fn create_index(backend: Backend, table: &Table, index: &Index) -> String {
    format!(
        "CREATE {}INDEX {} ON {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        quote_ident(backend, &index.name),
        quote_ident(backend, &table.name),
        column_list(backend, &index.columns)
    )
}

/// Adds an unnamed unique constraint to an existing table. MySQL and PostgreSQL name it as they
/// name one made inline; SQLite cannot add constraints to a table.
pub fn add_unique(backend: Backend, table: &Table, columns: &[String]) -> Option<String> {
    (backend != Backend::Sqlite)
        .then(|| format!("ALTER TABLE {} ADD UNIQUE ({})", quote_ident(backend, &table.name), column_list(backend, columns)))
}

/// Adds a foreign key to an existing table (not on SQLite, as [`add_unique`]).
pub fn add_foreign_key(backend: Backend, table: &Table, fk: &ForeignKey) -> Option<String> {
    (backend != Backend::Sqlite)
        .then(|| format!("ALTER TABLE {} ADD {}", quote_ident(backend, &table.name), foreign_key_clause(backend, fk)))
}

fn foreign_key_clause(backend: Backend, fk: &ForeignKey) -> String {
    format!(
        "FOREIGN KEY ({}) REFERENCES {} ({})",
        column_list(backend, &fk.columns),
        quote_ident(backend, &fk.ref_table),
        column_list(backend, &fk.ref_columns)
    )
}

/// The statements that create one table: its sequences, the table, its named indexes.
pub fn create_table_statements(backend: Backend, table: &Table) -> Vec<String> {
    let mut statements: Vec<String> = Vec::new();
    if backend == Backend::Postgres {
        statements.extend(table.sequences.iter().map(|s| create_sequence(backend, s)));
    }
    statements.push(create_table(backend, table));
    statements.extend(table.indexes.iter().map(|idx| create_index(backend, table, idx)));
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_backend() {
        let (tables, _) = crate::schema::parse(
            "table t\n id integer not null autoincrement\n on boolean not null default 0\n primary key (id)\n index t_on (on)\n",
            Backend::Sqlite,
        )
        .unwrap();
        let t = &tables[0];
        let pg = create_table_statements(Backend::Postgres, t);
        assert!(pg[0].contains("\"id\" SERIAL NOT NULL") && pg[0].contains("DEFAULT false"), "{}", pg[0]);
        let my = create_table_statements(Backend::Mysql, t);
        assert!(my[0].contains("AUTO_INCREMENT") && my[0].ends_with("ENGINE=InnoDB DEFAULT CHARSET=utf8"), "{}", my[0]);
        let lite = create_table_statements(Backend::Sqlite, t);
        assert!(lite[0].contains("CHECK (\"on\" IN (0, 1))"), "{}", lite[0]);
        assert_eq!(lite[1], "CREATE INDEX \"t_on\" ON \"t\" (\"on\")");
    }
}
