//! `quire cache` (admin): the API's template cache, as the seeds' `cache stats|health|clear`.

use clap::Subcommand;
use serde_json::json;

use super::failure::Failure;
use super::http::Api;
use super::output::{self, Out, text};

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Hits, misses, entries and hit ratio of the answering API process.
    Stats,
    /// Whether the channel that tells other API processes of changes is up.
    Health,
    /// Empties every API process's cache (never needed for correctness).
    Clear,
}

pub async fn run(api: &Api, out: Out, command: CacheCommand) -> Result<(), Failure> {
    match command {
        CacheCommand::Stats => {
            let s = api.get("/v1/system/cache/stats").await?;
            out.either(&s, || {
                output::show(&output::record(&[
                    ("entries", text(&s["entries"])),
                    ("hits", text(&s["hits"])),
                    ("misses", text(&s["misses"])),
                    ("bypasses", text(&s["bypasses"])),
                    ("invalidations", text(&s["invalidations"])),
                    (
                        "hit ratio",
                        format!("{:.1}%", s["hit_ratio"].as_f64().unwrap_or(0.0) * 100.0),
                    ),
                ]));
            });
        }
        CacheCommand::Health => {
            let h = api.get("/v1/system/cache/health").await?;
            out.either(&h, || {
                println!(
                    "channel {}: {}; entries live {}s",
                    text(&h["channel"]),
                    if h["up"] == true { "up" } else { "down" },
                    text(&h["ttl_secs"])
                );
            });
            if h["up"] != true {
                return Err(Failure::Unreachable(
                    "the cache's invalidation channel is down".into(),
                ));
            }
        }
        CacheCommand::Clear => {
            let c = api.post("/v1/system/cache/clear", &json!({})).await?;
            out.either(&c, || {
                println!(
                    "dropped {} entries; other API processes {}",
                    text(&c["dropped"]),
                    if c["broadcast"] == true {
                        "told"
                    } else {
                        "not told (channel down; their entries expire soon)"
                    }
                );
            });
        }
    }
    Ok(())
}
