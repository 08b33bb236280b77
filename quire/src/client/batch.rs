//! `quire batch`: submit a CSV (or JSON) of certificates and follow it with a progress bar,
//! status, download its ZIP, list.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Subcommand;
use comfy_table::Cell;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};

use super::failure::Failure;
use super::http::{Api, segment};
use super::output::{self, Out, text, when};

/// How often a followed batch is read (one indexed count per read on the server).
const POLL: Duration = Duration::from_millis(500);
/// How often plain progress lines are printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Submits a batch from a CSV (header row: recipient_name, course_name, issued_on,
    /// issuer_name, expires_on, then template fields) or a JSON batch request.
    Submit {
        file: PathBuf,
        /// Template id or name (CSV; a JSON request names its own).
        #[arg(long)]
        template: Option<String>,
        /// List the certificates in the public registry (CSV).
        #[arg(long)]
        public: bool,
        #[arg(long, value_parser = super::priorities())]
        priority: Option<String>,
        /// The same key and request within the window answer the original batch.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
        /// Follow the batch with a progress bar until every job ended (exit 1 if any failed).
        #[arg(long)]
        wait: bool,
        /// Save the batch's ZIP of PDFs here when it is complete (implies --wait).
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A batch's counts by status; --wait follows it to the end.
    Status {
        id: String,
        #[arg(long)]
        wait: bool,
    },
    /// Saves a batch's ZIP (its PDFs and a manifest).
    Download {
        id: String,
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
    },
    /// Batches, newest first.
    List {
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
    },
}

pub async fn run(api: &Api, out: Out, command: BatchCommand) -> Result<(), Failure> {
    match command {
        BatchCommand::Submit {
            file,
            template,
            public,
            priority,
            idempotency_key,
            wait,
            out: zip,
        } => {
            let body = std::fs::read(&file)
                .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
            let json_request = file.extension().is_some_and(|e| e == "json");
            let mut request = api.request(Method::POST, "/v1/certificates/batch");
            request = if json_request {
                request.header("Content-Type", "application/json")
            } else {
                let mut query: Vec<(&str, String)> = Vec::new();
                if let Some(t) = template {
                    query.push(("template", t));
                }
                if public {
                    query.push(("is_public", "true".into()));
                }
                if let Some(p) = priority {
                    query.push(("priority", p));
                }
                request.header("Content-Type", "text/csv").query(&query)
            };
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            let batch = api.json(request.body(body)).await?;
            let id = text(&batch["id"]);
            if !wait && zip.is_none() {
                out.either(&batch, || print_batch(&batch));
                return Ok(());
            }
            if !out.json {
                eprintln!(
                    "batch {id}: {} certificates accepted",
                    text(&batch["total"])
                );
            }
            finish(api, out, &id, zip.as_deref()).await
        }
        BatchCommand::Status { id, wait } => {
            let path = batch_path(&id)?;
            if wait {
                return finish(api, out, &id, None).await;
            }
            let batch = api.get(&path).await?;
            out.either(&batch, || print_batch(&batch));
            Ok(())
        }
        BatchCommand::Download { id, out: zip } => {
            let bytes = download(api, &id, &zip).await?;
            out.either(&json!({"id": id, "path": zip, "bytes": bytes}), || {
                println!("{} ({})", zip.display(), output::bytes(bytes));
            });
            Ok(())
        }
        BatchCommand::List { limit } => {
            let page = api
                .get_query("/v1/batches", &[("limit", limit.to_string())])
                .await?;
            out.either(&page, || {
                let mut table = output::table(&[
                    "ID", "TEMPLATE", "TOTAL", "DONE", "FAILED", "COMPLETE", "CREATED",
                ]);
                for b in page["batches"].as_array().into_iter().flatten() {
                    table.add_row(vec![
                        Cell::new(text(&b["id"])),
                        Cell::new(text(&b["template"])),
                        Cell::new(text(&b["total"])),
                        Cell::new(text(&b["finished"])),
                        Cell::new(failures(b)),
                        Cell::new(text(&b["complete"])),
                        Cell::new(when(&b["created_at"])),
                    ]);
                }
                output::show(&table);
            });
            Ok(())
        }
    }
}

fn batch_path(id: &str) -> Result<String, Failure> {
    Ok(format!("/v1/batches/{}", segment("a batch id", id)?))
}

/// Jobs of the batch that ended without a PDF (dead or cancelled).
fn failures(batch: &Value) -> u64 {
    ["dead", "cancelled"]
        .iter()
        .filter_map(|s| batch["counts"][s].as_u64())
        .sum()
}

/// Follows batch `id` to its end with a progress bar (or progress lines), then saves its ZIP
/// to `zip` if asked; exit 1 if any of its jobs failed.
async fn finish(api: &Api, out: Out, id: &str, zip: Option<&Path>) -> Result<(), Failure> {
    let path = batch_path(id)?;
    let mut batch = api.get(&path).await?;
    let total = batch["total"].as_u64().unwrap_or_default();
    let progress = Progress::new(total, out.json);
    while batch["complete"] != true {
        progress.show(&batch);
        tokio::time::sleep(POLL).await;
        batch = api.get(&path).await?;
    }
    progress.done(&batch);
    let mut saved = Value::Null;
    if let Some(zip) = zip {
        let bytes = download(api, id, zip).await?;
        saved = json!({"path": zip, "bytes": bytes});
    }
    out.either(&json!({"batch": batch, "saved": saved}), || {
        print_batch(&batch);
        if let (Some(zip), Some(bytes)) = (zip, saved["bytes"].as_u64()) {
            println!("saved {} ({})", zip.display(), output::bytes(bytes));
        }
    });
    match failures(&batch) {
        0 => Ok(()),
        n => Err(Failure::JobFailed(format!(
            "{n} of the batch's {total} certificates failed (`quire jobs list --batch {id} --status dead`)"
        ))),
    }
}

async fn download(api: &Api, id: &str, zip: &Path) -> Result<u64, Failure> {
    let path = format!("{}/archive", batch_path(id)?);
    api.download(api.request(Method::GET, &path), zip).await
}

/// A batch's progress on stderr: a live bar on a terminal, else a line now and then.
struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: std::cell::Cell<Option<Instant>>,
    total: u64,
    quiet: bool,
}

impl Progress {
    fn new(total: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40.cyan/blue} {pos}/{len} {percent}% {rate} ETA {eta} {msg}",
                )
                .expect("a valid template")
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1}/s", state.per_sec());
                    },
                )
                .progress_chars("█▉▊▋▌▍▎▏ "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
            last_line: std::cell::Cell::new(None),
            total,
            quiet,
        }
    }

    fn show(&self, batch: &Value) {
        let finished = batch["finished"].as_u64().unwrap_or_default();
        let failed = failures(batch);
        if let Some(bar) = &self.bar {
            bar.set_position(finished);
            bar.set_message(if failed > 0 {
                format!("{failed} failed")
            } else {
                String::new()
            });
            return;
        }
        if self.quiet
            || self
                .last_line
                .get()
                .is_some_and(|t| t.elapsed() < LINE_EVERY)
        {
            return;
        }
        self.last_line.set(Some(Instant::now()));
        self.line(finished, failed);
    }

    fn line(&self, finished: u64, failed: u64) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = finished as f64 / secs;
        let eta = if rate > 0.0 {
            format!(
                ", ETA {:.0}s",
                self.total.saturating_sub(finished) as f64 / rate
            )
        } else {
            String::new()
        };
        eprintln!(
            "{finished}/{} done ({}%), {failed} failed, {rate:.1}/s{eta}",
            self.total,
            (finished * 100).checked_div(self.total).unwrap_or(100)
        );
    }

    fn done(&self, batch: &Value) {
        let finished = batch["finished"].as_u64().unwrap_or_default();
        match &self.bar {
            Some(bar) => {
                self.show(batch);
                bar.finish();
            }
            None if !self.quiet => self.line(finished, failures(batch)),
            None => {}
        }
    }
}

fn print_batch(batch: &Value) {
    let counts = batch["counts"]
        .as_object()
        .map(|c| {
            c.iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    output::show(&output::record(&[
        ("batch", text(&batch["id"])),
        (
            "template",
            format!(
                "{} (version {})",
                text(&batch["template"]),
                text(&batch["template_version"])
            ),
        ),
        (
            "progress",
            format!(
                "{}/{} finished{}",
                text(&batch["finished"]),
                text(&batch["total"]),
                if batch["complete"] == true {
                    ", complete"
                } else {
                    ""
                }
            ),
        ),
        ("jobs", counts),
        ("created", when(&batch["created_at"])),
    ]));
}
