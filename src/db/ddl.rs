//! Schema data → CREATE statements, written the way SQLAlchemy 0.7 wrote them for each backend,
//! so that the result reads back exactly like the upstream-created reference databases.

use super::{Backend, quote_ident};
use crate::schema::{ColType, Table};

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

/// The statements that create one table and its named indexes.
pub fn create_table_statements(backend: Backend, table: &Table) -> Vec<String> {
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
        parts.push(format!(
            "FOREIGN KEY ({}) REFERENCES {} ({})",
            column_list(backend, &fk.columns),
            q(&fk.ref_table),
            column_list(backend, &fk.ref_columns)
        ));
    }
    let mut create = format!("CREATE TABLE {} (\n\t{}\n)", q(&table.name), parts.join(", \n\t"));
    if backend == Backend::Mysql {
        create.push_str(&format!(" ENGINE={} DEFAULT CHARSET={}", table.mysql_engine, table.mysql_charset));
    }
    let mut statements: Vec<String> = Vec::new();
    if backend == Backend::Postgres {
        statements.extend(table.sequences.iter().map(|s| format!("CREATE SEQUENCE {}", q(s))));
    }
    statements.push(create);
    for idx in &table.indexes {
        statements.push(format!(
            "CREATE {}INDEX {} ON {} ({})",
            if idx.unique { "UNIQUE " } else { "" },
            q(&idx.name),
            q(&table.name),
            column_list(backend, &idx.columns)
        ));
    }
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
