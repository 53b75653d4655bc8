//! The ways a live table can differ from the schema data (what `db::diff` finds): plain data, so
//! that errors and reports carry it without depending on connections.

use std::fmt;

/// One way a table differs from the schema data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub table: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    MissingTable,
    UnexpectedTable,
    /// PostgreSQL: a sequence the table's default names.
    MissingSequence {
        sequence: String,
    },
    MissingColumn {
        column: String,
    },
    UnexpectedColumn {
        column: String,
    },
    /// The column's `type`, `nullability`, `default` or `auto_increment` is not the schema's.
    Column {
        column: String,
        attribute: &'static str,
        expected: String,
        found: String,
    },
    PrimaryKey {
        expected: Vec<String>,
        found: Vec<String>,
    },
    MissingIndex {
        index: String,
        columns: Vec<String>,
        unique: bool,
    },
    /// A named index on other columns, or unique where the schema's is not (or the reverse).
    Index {
        index: String,
        expected: String,
        found: String,
    },
    UnexpectedIndex {
        index: String,
        columns: Vec<String>,
    },
    MissingUnique {
        columns: Vec<String>,
    },
    UnexpectedUnique {
        columns: Vec<String>,
    },
    MissingForeignKey {
        columns: Vec<String>,
        ref_table: String,
        ref_columns: Vec<String>,
    },
    UnexpectedForeignKey {
        columns: Vec<String>,
        ref_table: String,
        ref_columns: Vec<String>,
    },
    /// MySQL: the table's `engine` or `charset`.
    Storage {
        attribute: &'static str,
        expected: String,
        found: String,
    },
}

fn list(columns: &[String]) -> String {
    format!("({})", columns.join(", "))
}

pub(crate) fn index_text(columns: &[String], unique: bool) -> String {
    format!("{}{}", if unique { "unique " } else { "" }, list(columns))
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.table;
        match &self.kind {
            Kind::MissingTable => write!(f, "table {t} is missing"),
            Kind::UnexpectedTable => write!(f, "table {t} is not in the schema"),
            Kind::MissingSequence { sequence } => write!(f, "table {t}: sequence {sequence} is missing"),
            Kind::MissingColumn { column } => write!(f, "table {t}: column {column} is missing"),
            Kind::UnexpectedColumn { column } => write!(f, "table {t}: column {column} is not in the schema"),
            Kind::Column { column, attribute, expected, found } => {
                write!(f, "table {t}: column {column} has {attribute} {found}, the schema says {expected}")
            }
            Kind::PrimaryKey { expected, found } => write!(f, "table {t}: primary key {}, the schema says {}", list(found), list(expected)),
            Kind::MissingIndex { index, columns, unique } => {
                write!(f, "table {t}: index {index} {} is missing", index_text(columns, *unique))
            }
            Kind::Index { index, expected, found } => write!(f, "table {t}: index {index} is {found}, the schema says {expected}"),
            Kind::UnexpectedIndex { index, columns } => write!(f, "table {t}: index {index} {} is not in the schema", list(columns)),
            Kind::MissingUnique { columns } => write!(f, "table {t}: unique constraint {} is missing", list(columns)),
            Kind::UnexpectedUnique { columns } => write!(f, "table {t}: unique constraint {} is not in the schema", list(columns)),
            Kind::MissingForeignKey { columns, ref_table, ref_columns } => {
                write!(f, "table {t}: foreign key {} → {ref_table} {} is missing", list(columns), list(ref_columns))
            }
            Kind::UnexpectedForeignKey { columns, ref_table, ref_columns } => {
                write!(f, "table {t}: foreign key {} → {ref_table} {} is not in the schema", list(columns), list(ref_columns))
            }
            Kind::Storage { attribute, expected, found } => write!(f, "table {t}: MySQL {attribute} {found}, the schema says {expected}"),
        }
    }
}
