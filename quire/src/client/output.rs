//! What the client commands print: aligned tables for people (coloured only when stdout is a
//! terminal and `NO_COLOR` is unset), or the API's JSON for scripts (`--json`).

use std::io::IsTerminal as _;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` as JSON (one document per command; `quire top` prints one per line).
    pub fn print_json<T: serde::Serialize + ?Sized>(&self, value: &T) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }

    /// `json` with `--json`, else what `human` prints.
    pub fn either<T: serde::Serialize + ?Sized>(&self, json: &T, human: impl FnOnce()) {
        if self.json {
            self.print_json(json);
        } else {
            human();
        }
    }
}

/// A table with `header`, styled for stdout.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(|h| Cell::new(h).fg(Color::DarkGrey)));
    fit(&mut table);
    table
}

/// Colour only when wanted; wrapped to the terminal's width only when it has a usable one
/// (a pseudo-terminal may report 0 columns).
fn fit(table: &mut Table) {
    if !colour() {
        table.force_no_tty();
    }
    if table.width().is_none_or(|w| w < 40) {
        table.set_content_arrangement(ContentArrangement::Disabled);
    }
}

/// Prints `table` without the padding its last column leaves at the end of each line.
pub fn show(table: &Table) {
    for line in table.lines() {
        println!("{}", line.trim_end());
    }
}

/// Two columns, names and values: one record.
pub fn record(rows: &[(&str, String)]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic);
    fit(&mut table);
    for (name, value) in rows {
        table.add_row(vec![Cell::new(name).fg(Color::DarkGrey), Cell::new(value)]);
    }
    table
}

fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A job's (or certificate's, or check's) status, coloured by how it ended.
pub fn status_cell(status: &str) -> Cell {
    let colour = match status {
        "succeeded" | "valid" | "ok" | "up" | "alive" => Some(Color::Green),
        "failed" | "expired" | "stale" | "paused" => Some(Color::Yellow),
        "dead" | "cancelled" | "revoked" | "down" | "gone" => Some(Color::Red),
        "running" => Some(Color::Cyan),
        _ => None,
    };
    match colour {
        Some(c) => Cell::new(status).fg(c),
        None => Cell::new(status),
    }
}

/// `2026-12-06T14:27:16.123Z` as `2026-12-06 14:27:16`; `-` for none.
pub fn when(value: &Value) -> String {
    match value.as_str() {
        Some(t) => {
            let t = t.replacen('T', " ", 1);
            let cut = t.find(['.', 'Z', '+']).unwrap_or(t.len());
            t[..cut].to_owned()
        }
        None => "-".to_owned(),
    }
}

/// A string member, or `-`.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// A job's last error, on one line and shortened for a table.
pub fn error_line(job: &Value) -> String {
    match job["error"]["message"].as_str() {
        Some(m) => {
            let line = m.lines().next().unwrap_or_default();
            let mut short: String = line.chars().take(80).collect();
            if short.len() < line.len() {
                short.push('…');
            }
            short
        }
        None => String::new(),
    }
}

/// 1234567 as `1.2 MB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / f64::from(1 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / f64::from(1 << 10)),
        n => format!("{n} B"),
    }
}
