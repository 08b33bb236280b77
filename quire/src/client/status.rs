//! `quire status` (admin): health of every dependency, queues per kind and status, workers
//! with their heartbeats, schedules, the template cache's channel; `quire top`: the same,
//! refreshed in place until interrupted.

use std::io::IsTerminal as _;
use std::time::Duration;

use comfy_table::Cell;
use serde_json::{Value, json};

use super::failure::Failure;
use super::http::Api;
use super::output::{self, Out, status_cell, text, when};

/// Job statuses in a job's order of life, the columns of the queue table.
const STATUSES: [&str; 7] = [
    "scheduled",
    "queued",
    "running",
    "failed",
    "succeeded",
    "dead",
    "cancelled",
];

pub async fn status(api: &Api, out: Out) -> Result<(), Failure> {
    let snapshot = snapshot(api).await?;
    out.either(&snapshot, || print(&snapshot));
    Ok(())
}

pub async fn top(
    api: &Api,
    out: Out,
    interval: u64,
    iterations: Option<u64>,
) -> Result<(), Failure> {
    let in_place = !out.json && std::io::stdout().is_terminal();
    let mut shown = 0;
    loop {
        let snapshot = snapshot(api).await?;
        if out.json {
            // One document per line (JSON Lines), for a script that reads as it comes.
            println!("{snapshot}");
        } else {
            if in_place {
                // Home and clear: the next screen replaces this one.
                print!("\x1b[H\x1b[2J");
            }
            println!(
                "quire at {}, every {interval}s (Ctrl-C to stop)\n",
                api.base()
            );
            print(&snapshot);
        }
        shown += 1;
        if iterations.is_some_and(|n| shown >= n) {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(interval)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// `/v1/status`, `/v1/schedules` and the cache channel's health, read at once.
async fn snapshot(api: &Api) -> Result<Value, Failure> {
    let (status, schedules, cache) = tokio::join!(
        api.get("/v1/status"),
        api.get("/v1/schedules"),
        api.get("/v1/system/cache/health")
    );
    Ok(json!({
        "status": status?,
        "schedules": schedules?["schedules"],
        "cache": cache?,
    }))
}

fn print(snapshot: &Value) {
    let status = &snapshot["status"];
    let health = &status["health"];
    if health.is_null() {
        println!("health: not checked yet (the `health` schedule has not run)");
    } else {
        let state = match (health["ok"] == true, health["stale"] == true) {
            (_, true) => "stale",
            (true, _) => "ok",
            _ => "down",
        };
        let mut table = output::table(&["CHECK", "STATE", "DETAIL", "TOOK", "CHECKED"]);
        for c in health["checks"].as_array().into_iter().flatten() {
            table.add_row(vec![
                Cell::new(text(&c["name"])),
                status_cell(if c["ok"] == true { "ok" } else { "down" }),
                Cell::new(text(&c["detail"])),
                Cell::new(format!("{} ms", text(&c["duration_ms"]))),
                Cell::new(when(&c["checked_at"])),
            ]);
        }
        let cache = &snapshot["cache"];
        table.add_row(vec![
            Cell::new(format!("cache ({})", text(&cache["channel"]))),
            status_cell(if cache["up"] == true { "up" } else { "down" }),
            Cell::new(format!("entries live {}s", text(&cache["ttl_secs"]))),
            Cell::new(""),
            Cell::new(""),
        ]);
        println!("health: {state}");
        output::show(&table);
        println!();
    }

    let mut header = vec!["QUEUE"];
    header.extend(STATUSES.iter().map(|s| s.to_owned()));
    let mut table = output::table(&header);
    for q in status["queues"].as_array().into_iter().flatten() {
        let mut row = vec![Cell::new(text(&q["queue"]))];
        row.extend(
            STATUSES
                .iter()
                .map(|s| Cell::new(q["jobs"][s].as_i64().unwrap_or(0))),
        );
        table.add_row(row);
    }
    output::show(&table);
    println!();

    let mut table = output::table(&[
        "WORKER",
        "HOST",
        "VERSION",
        "QUEUES",
        "RUNNING",
        "HEARTBEAT",
        "STATE",
    ]);
    for w in status["workers"].as_array().into_iter().flatten() {
        let queues = w["queues"]
            .as_object()
            .map(|q| {
                q.iter()
                    .map(|(name, n)| format!("{name}:{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        table.add_row(vec![
            Cell::new(text(&w["name"])),
            Cell::new(text(&w["host"])),
            Cell::new(text(&w["version"])),
            Cell::new(queues),
            Cell::new(text(&w["running"])),
            Cell::new(when(&w["heartbeat_at"])),
            status_cell(if w["alive"] == true { "alive" } else { "gone" }),
        ]);
    }
    if status["workers"].as_array().is_none_or(Vec::is_empty) {
        println!("workers: none registered\n");
    } else {
        output::show(&table);
        println!();
    }

    super::schedules::print_schedules(
        snapshot["schedules"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );
}
