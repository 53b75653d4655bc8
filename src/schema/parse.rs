//! The `.schema` text format: one table per `table NAME` block, one column or constraint per
//! indented line.
//!
//! ```text
//! stamp keystone 1
//! table endpoint
//!   id          varchar(64) not null
//!   service_id  varchar(64) not null
//!   extra       text
//!   primary key (id)
//!   foreign key (service_id) references service (id)
//! ```
//! Column options: `not null`, `default VALUE` (SQL literal), `autoincrement`, `secret` (its values
//! are secrets: errors about the table never quote its values). Constraint lines:
//! `primary key (…)`, `unique (…)`, `index NAME [unique] (…)`, `foreign key (…) references T (…)`,
//! `charset NAME` (MySQL character set of the table), `sequence NAME` (PostgreSQL sequence made
//! before the table). `#` starts a comment.
//!
//! Where the backends' upstream schemas differ, a line starts with the backends it is for:
//! `@sqlite size integer` / `@mysql,postgresql size bigint`. A qualified `table` line keeps or
//! drops the whole table. Where only the column order differs (SQLite's recreated tables), each
//! column is written once and `@sqlite column order (a, b, …)`, after the columns, gives that
//! backend's order.

use super::{Backend, ColType, Column, ForeignKey, Index, Stamp, Table};

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Mysql => "mysql",
        Backend::Postgres => "postgresql",
    }
}

pub fn parse(text: &str, backend: Backend) -> Result<(Vec<Table>, Option<Stamp>), String> {
    let mut tables: Vec<Table> = Vec::new();
    let mut stamp = None;
    let mut skipping_table = false;
    for (n, raw) in text.lines().enumerate() {
        let full = raw.split('#').next().unwrap_or("").trim();
        if full.is_empty() {
            continue;
        }
        let at = |m: &str| format!("line {}: {m}: `{full}`", n + 1);
        let (included, line) = match full.strip_prefix('@') {
            Some(rest) => {
                let (names, body) = rest.split_once(char::is_whitespace).ok_or_else(|| at("a backend list needs a line after it"))?;
                if let Some(bad) = names.split(',').find(|b| !["sqlite", "mysql", "postgresql"].contains(b)) {
                    return Err(at(&format!("unknown backend `{bad}`")));
                }
                (names.split(',').any(|b| b == backend_name(backend)), body.trim())
            }
            None => (true, full),
        };
        let err = |m: &str| format!("line {}: {m}: `{line}`", n + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "table" {
            skipping_table = !included;
        }
        if !included || skipping_table {
            continue;
        }
        match words[0] {
            // stamp REPOSITORY ID (may hold spaces) VERSION
            "stamp" if words.len() >= 3 => {
                let version = words[words.len() - 1].parse().map_err(|_| err("version is not a number"))?;
                stamp = Some(Stamp { repository_id: words[1..words.len() - 1].join(" "), version });
            }
            "table" if words.len() == 2 => tables.push(Table::new(words[1])),
            // The backend's column order when it is not the order the columns are listed in
            // (SQLite's recreated tables): each column is written once, its order per backend.
            "column" if words.get(1) == Some(&"order") => {
                let table = tables.last_mut().ok_or_else(|| err("line outside a table"))?;
                let order = column_list(line).map_err(|m| err(&m))?;
                let mut columns = Vec::with_capacity(order.len());
                for name in &order {
                    let at = table.columns.iter().position(|c| &c.name == name).ok_or_else(|| err(&format!("no column `{name}` above")))?;
                    columns.push(table.columns.remove(at));
                }
                if !table.columns.is_empty() {
                    return Err(err("the order leaves out columns listed above"));
                }
                table.columns = columns;
            }
            _ => {
                let table = tables.last_mut().ok_or_else(|| err("line outside a table"))?;
                parse_table_line(table, line, &words).map_err(|m| err(&m))?;
            }
        }
    }
    Ok((tables, stamp))
}

fn parse_table_line(table: &mut Table, line: &str, words: &[&str]) -> Result<(), String> {
    match words {
        ["primary", "key", ..] => table.primary_key = column_list(line)?,
        ["unique", ..] => table.uniques.push(column_list(line)?),
        ["index", name, rest @ ..] => {
            table.indexes.push(Index { name: name.to_string(), columns: column_list(line)?, unique: rest.first() == Some(&"unique") });
        }
        ["foreign", "key", ..] => {
            let (local, remote) = line.split_once("references").ok_or("expected `references`")?;
            let columns = column_list(local)?;
            let remote = remote.trim();
            let ref_table = remote.split(|c: char| c == '(' || c.is_whitespace()).next().unwrap_or("").to_string();
            table.foreign_keys.push(ForeignKey { columns, ref_table, ref_columns: column_list(remote)? });
        }
        ["charset", name] => table.mysql_charset = name.to_string(),
        ["sequence", name] => table.sequences.push(name.to_string()),
        ["engine", name] => table.mysql_engine = name.to_string(),
        [name, ty, options @ ..] => {
            let ty = parse_type(ty)?;
            let mut column = Column { name: name.to_string(), ty, nullable: true, default: None, autoincrement: false, secret: false };
            let mut i = 0;
            while i < options.len() {
                match options[i] {
                    "not" if options.get(i + 1) == Some(&"null") => {
                        column.nullable = false;
                        i += 1;
                    }
                    "default" => {
                        column.default = Some(options.get(i + 1).ok_or("`default` needs a value")?.to_string());
                        i += 1;
                    }
                    "autoincrement" => column.autoincrement = true,
                    "secret" => column.secret = true,
                    other => return Err(format!("unknown column option `{other}`")),
                }
                i += 1;
            }
            table.columns.push(column);
        }
        _ => return Err("expected a column or a constraint".to_string()),
    }
    Ok(())
}

fn parse_type(ty: &str) -> Result<ColType, String> {
    let lower = ty.to_ascii_lowercase();
    if let Some(n) = lower.strip_prefix("varchar(").and_then(|r| r.strip_suffix(')')) {
        return n.parse().map(ColType::String).map_err(|_| format!("bad length in `{ty}`"));
    }
    Ok(match lower.as_str() {
        "integer" => ColType::Integer,
        "bigint" => ColType::BigInt,
        "smallint" => ColType::SmallInt,
        "boolean" => ColType::Boolean,
        "float" => ColType::Float,
        "text" => ColType::Text,
        "datetime" => ColType::DateTime,
        _ => return Err(format!("unknown type `{ty}`")),
    })
}

fn column_list(text: &str) -> Result<Vec<String>, String> {
    let open = text.find('(').ok_or("expected `(columns)`")?;
    let close = text[open..].find(')').ok_or("expected `)`")? + open;
    let cols: Vec<String> = text[open + 1..close].split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
    if cols.is_empty() {
        return Err("empty column list".to_string());
    }
    Ok(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_order_lists_each_column_once() {
        let text = "table t\n  a integer\n  b integer\n  @sqlite column order (b, a)\n";
        let names = |b| parse(text, b).unwrap().0[0].columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(Backend::Sqlite), ["b", "a"]);
        assert_eq!(names(Backend::Mysql), ["a", "b"]);
        let bad = |order: &str| parse(&format!("table t\n  a integer\n  b integer\n  column order ({order})\n"), Backend::Sqlite);
        assert!(bad("a").unwrap_err().contains("leaves out"));
        assert!(bad("a, b, c").unwrap_err().contains("no column `c`"));
    }

    #[test]
    fn parses_columns_and_constraints() {
        let (tables, stamp) = parse(
            "stamp nova 82\n\
             table t  # a comment\n\
               id integer not null autoincrement\n\
               name varchar(255) default 'x'\n\
               deleted boolean not null default 0\n\
               primary key (id)\n\
               unique (name, deleted)\n\
               index t_name_idx (name)\n\
               foreign key (id) references other (oid)\n\
               charset latin1\n",
            Backend::Mysql,
        )
        .unwrap();
        assert_eq!(stamp, Some(Stamp { repository_id: "nova".into(), version: 82 }));
        let t = &tables[0];
        assert_eq!(t.columns.len(), 3);
        assert!(!t.columns[0].nullable && t.columns[0].autoincrement);
        assert_eq!(t.columns[1].ty, ColType::String(255));
        assert_eq!(t.columns[1].default.as_deref(), Some("'x'"));
        assert_eq!(t.uniques, vec![vec!["name".to_string(), "deleted".to_string()]]);
        assert_eq!(t.indexes[0].name, "t_name_idx");
        assert_eq!(t.foreign_keys[0].ref_table, "other");
        assert_eq!(t.foreign_keys[0].ref_columns, vec!["oid".to_string()]);
        assert_eq!(t.mysql_charset, "latin1");
    }

    #[test]
    fn rejects_garbage_with_line_numbers() {
        let e = parse("table t\n  id nosuchtype\n", Backend::Sqlite).unwrap_err();
        assert!(e.contains("line 2") && e.contains("nosuchtype"), "{e}");
        assert!(parse("  id integer\n", Backend::Sqlite).unwrap_err().contains("outside a table"));
        assert!(parse("table t\n @oracle id integer\n", Backend::Sqlite).unwrap_err().contains("unknown backend"));
    }

    #[test]
    fn backend_qualified_lines() {
        let text =
            "table t\n @sqlite size integer\n @mysql,postgresql size bigint\n@postgresql table only_pg\n x integer\ntable u\n y integer\n";
        let (lite, _) = parse(text, Backend::Sqlite).unwrap();
        assert_eq!(lite[0].columns[0].ty, ColType::Integer);
        assert_eq!(lite.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["t", "u"]);
        let (pg, _) = parse(text, Backend::Postgres).unwrap();
        assert_eq!(pg[0].columns[0].ty, ColType::BigInt);
        assert_eq!(pg.len(), 3);
    }
}
