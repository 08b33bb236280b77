//! `quire cache` (admin): the answering API process's caches, as the seeds'
//! `cache stats|health|clear`. Answers are read as the API's own view types.

use api::routes::system::{CacheCleared, CacheHealthView, CacheStatsView};
use clap::Subcommand;
use serde_json::json;

use super::failure::Failure;
use super::http::Api;
use super::output::{self, Out};

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Per cache: entries, bytes, hits, misses, invalidations and hit ratio.
    Stats,
    /// Whether committed changes reach the caches (nothing is cached while they do not).
    Health,
    /// Empties the answering API process's caches (never needed for correctness).
    Clear,
}

pub async fn run(api: &Api, out: Out, command: CacheCommand) -> Result<(), Failure> {
    match command {
        CacheCommand::Stats => {
            let s: CacheStatsView = api.get_as("/v1/system/cache/stats").await?;
            out.either(&s, || {
                let mut table = output::table(&[
                    "cache",
                    "entries",
                    "bytes",
                    "hits",
                    "misses",
                    "invalidations",
                    "hit ratio",
                ]);
                for c in &s.caches {
                    table.add_row(vec![
                        c.name.clone(),
                        c.entries.to_string(),
                        c.bytes.to_string(),
                        c.hits.to_string(),
                        c.misses.to_string(),
                        c.invalidations.to_string(),
                        format!("{:.1}%", c.hit_ratio * 100.0),
                    ]);
                }
                output::show(&table);
                println!("{}", channel_line(&s.channel));
            });
        }
        CacheCommand::Health => {
            let h: CacheHealthView = api.get_as("/v1/system/cache/health").await?;
            out.either(&h, || println!("{}", channel_line(&h)));
            if !h.up {
                return Err(Failure::Unreachable(
                    "the caches' invalidation channel is down: every read goes to the database"
                        .into(),
                ));
            }
        }
        CacheCommand::Clear => {
            let c = api.post("/v1/system/cache/clear", &json!({})).await?;
            let c: CacheCleared = serde_json::from_value(c)
                .map_err(|e| Failure::Other(format!("unexpected answer: {e}")))?;
            out.either(&c, || {
                println!("dropped {} entries of the answering API process", c.dropped);
            });
        }
    }
    Ok(())
}

fn channel_line(h: &CacheHealthView) -> String {
    format!(
        "invalidations from {}: {}",
        h.channel,
        if h.up { "up" } else { "down (not caching)" }
    )
}
