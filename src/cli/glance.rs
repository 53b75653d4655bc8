//! `osmigrate glance …`

use clap::{Args, Subcommand};
use osmigrate::db::DbUrl;
use osmigrate::images::map as glance_map;

#[derive(Subcommand)]
pub enum GlanceCommand {
    /// Print the old→new image id map kept in a migrated (Essex) Glance database.
    Map(MapArgs),
}

#[derive(Args)]
pub struct MapArgs {
    /// The Essex Glance database osmigrate built.
    #[arg(long, value_name = "URL")]
    db: String,
    /// One JSON document (`[{"old_id": 1, "new_id": "…"}, …]`) instead of CSV.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: GlanceCommand) -> osmigrate::Result<i32> {
    match cmd {
        GlanceCommand::Map(a) => {
            let url = DbUrl::parse(&a.db)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            if a.json {
                use std::io::Write;
                let io = |e: std::io::Error| osmigrate::Error::io("stdout", e);
                let mut first = true;
                write!(out, "[").map_err(io)?;
                glance_map::for_each_map_entry(&url, |old, new| {
                    let sep = if first { "" } else { "," };
                    first = false;
                    write!(out, "{sep}\n  {}", serde_json::json!({"old_id": old, "new_id": new})).map_err(io)
                })?;
                writeln!(out, "\n]").map_err(io)?;
            } else {
                glance_map::write_map_csv(&url, &mut out)?;
            }
            Ok(0)
        }
    }
}
