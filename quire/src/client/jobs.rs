//! `quire jobs`: list with filters, show, follow to the end, the attempts' log, retry (one by
//! one, or every dead job), cancel, download.

use std::path::PathBuf;

use clap::Subcommand;
use comfy_table::Cell;
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::Timestamp;

use super::failure::Failure;
use super::http::{Api, LONG_POLL_SECS, segment};
use super::output::{self, Out, status_cell, text, when};

/// Statuses a job ends in; `failed` is an attempt that failed with another to come.
const FINAL: [&str; 3] = ["succeeded", "dead", "cancelled"];
/// Most rows the API gives on one page.
const PAGE: usize = 200;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs, newest first.
    List {
        #[command(flatten)]
        filter: Filter,
        /// Most jobs to list (the API is paged through).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One job: status, attempts, result or error.
    Show { id: String },
    /// Waits for jobs to end; exits 1 if any did not succeed.
    Wait {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// A job's history: each attempt, the worker that ran it, its error.
    Logs { id: String },
    /// Runs dead or failed jobs again now: the ids given, or every dead job (of a kind).
    Retry {
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        ids: Vec<String>,
        /// Every dead job the key sees.
        #[arg(long)]
        all_dead: bool,
        /// With --all-dead: only jobs of this kind.
        #[arg(long, requires = "all_dead", value_parser = super::kinds())]
        kind: Option<String>,
    },
    /// Cancels waiting or running jobs (a running one stops at its next checkpoint).
    Cancel {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Saves a job's file (its PDF).
    Download {
        id: String,
        #[arg(long, short)]
        out: PathBuf,
    },
}

/// The listing filters (`GET /v1/jobs`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filter {
    #[arg(long, value_parser = super::kinds())]
    pub kind: Option<String>,
    #[arg(long, value_parser = super::statuses())]
    pub status: Option<String>,
    /// Created at or after: RFC 3339, or an age such as 30m, 6h, 2d.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<String>,
    #[arg(long, value_name = "BATCH_ID")]
    pub batch: Option<String>,
    /// A job id, or text in the job's data or last error.
    #[arg(long)]
    pub search: Option<String>,
}

/// `30m`, `6h`, `2d`, `45s` as the RFC 3339 time that long ago; RFC 3339 as it is.
fn parse_since(raw: &str) -> Result<String, String> {
    if Timestamp::parse_rfc3339(raw).is_some() {
        return Ok(raw.to_owned());
    }
    let unit = match raw.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => 0,
    };
    let count: Option<i64> = raw[..raw.len().saturating_sub(1)].parse().ok();
    match count {
        Some(n) if unit > 0 && n >= 0 => {
            Ok(Timestamp::from_millis(Timestamp::now().millis() - n * unit * 1000).to_rfc3339())
        }
        _ => Err("expected RFC 3339 (2026-12-06T10:00:00Z) or an age: 45s, 30m, 6h, 2d".into()),
    }
}

pub async fn run(api: &Api, out: Out, command: JobsCommand) -> Result<(), Failure> {
    match command {
        JobsCommand::List { filter, limit } => {
            let jobs = list(api, &filter, limit).await?;
            out.either(&json!({ "jobs": jobs }), || print_jobs(&jobs));
            Ok(())
        }
        JobsCommand::Show { id } => {
            let job = api.get(&job_path(&id)?).await?;
            out.either(&job, || print_job(&job));
            Ok(())
        }
        JobsCommand::Wait { ids } => {
            let mut jobs = Vec::new();
            for id in &ids {
                jobs.push(follow(api, id).await?);
            }
            out.either(&json!({ "jobs": jobs }), || print_jobs(&jobs));
            ended(&jobs)
        }
        JobsCommand::Logs { id } => {
            let history = api.get(&format!("{}/history", job_path(&id)?)).await?;
            out.either(&history, || {
                let mut table = output::table(&["AT", "STATUS", "ATTEMPT", "WORKER", "ERROR"]);
                for e in history["history"].as_array().into_iter().flatten() {
                    table.add_row(vec![
                        Cell::new(when(&e["at"])),
                        status_cell(e["status"].as_str().unwrap_or_default()),
                        Cell::new(text(&e["attempt"])),
                        Cell::new(text(&e["worker"])),
                        Cell::new(error_text(&e["error"])),
                    ]);
                }
                output::show(&table);
            });
            Ok(())
        }
        JobsCommand::Retry {
            ids,
            all_dead,
            kind,
        } => {
            let ids = if all_dead {
                let filter = Filter {
                    kind,
                    status: Some("dead".into()),
                    ..Filter::default()
                };
                list(api, &filter, usize::MAX)
                    .await?
                    .iter()
                    .filter_map(|j| j["id"].as_str().map(str::to_owned))
                    .collect()
            } else {
                ids
            };
            act_on_each(api, out, &ids, "retry", "queued again").await
        }
        JobsCommand::Cancel { ids } => act_on_each(api, out, &ids, "cancel", "cancelled").await,
        JobsCommand::Download { id, out: file } => {
            let path = format!("{}/file", job_path(&id)?);
            let bytes = api.download(api.request(Method::GET, &path), &file).await?;
            out.either(&json!({"id": id, "path": file, "bytes": bytes}), || {
                println!("{} ({})", file.display(), output::bytes(bytes))
            });
            Ok(())
        }
    }
}

/// `/v1/jobs/{id}`, with the id checked here so a typo is a usage error, not a 404.
pub fn job_path(id: &str) -> Result<String, Failure> {
    Ok(format!("/v1/jobs/{}", segment("a job id", id)?))
}

/// Up to `limit` jobs matching `filter`, newest first, across pages.
pub async fn list(api: &Api, filter: &Filter, limit: usize) -> Result<Vec<Value>, Failure> {
    let mut jobs = Vec::new();
    let mut cursor: Option<String> = None;
    while jobs.len() < limit {
        let mut query: Vec<(&str, String)> = [
            ("kind", &filter.kind),
            ("status", &filter.status),
            ("since", &filter.since),
            ("batch", &filter.batch),
            ("search", &filter.search),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect();
        query.push(("limit", (limit - jobs.len()).min(PAGE).to_string()));
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let page = api.get_query("/v1/jobs", &query).await?;
        jobs.extend(page["jobs"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    Ok(jobs)
}

/// Waits for job `id` to end (long polls, no busy loop) and answers it.
pub async fn follow(api: &Api, id: &str) -> Result<Value, Failure> {
    let path = job_path(id)?;
    loop {
        let job = api
            .get_query(&path, &[("wait", LONG_POLL_SECS.to_string())])
            .await?;
        if FINAL.contains(&job["status"].as_str().unwrap_or_default()) {
            return Ok(job);
        }
    }
}

/// `Ok` if every job succeeded; else a failure naming those that did not.
pub fn ended(jobs: &[Value]) -> Result<(), Failure> {
    let failed: Vec<String> = jobs
        .iter()
        .filter(|j| j["status"] != "succeeded")
        .map(|j| {
            format!(
                "job {} is {}{}",
                text(&j["id"]),
                text(&j["status"]),
                j["error"]["message"]
                    .as_str()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::JobFailed(failed.join("; ")))
    }
}

/// POSTs `/v1/jobs/{id}/{action}` for each id; the failures are told at the end (exit code of
/// the first), the successes as they come.
async fn act_on_each(
    api: &Api,
    out: Out,
    ids: &[String],
    action: &str,
    done: &str,
) -> Result<(), Failure> {
    let mut results = Vec::new();
    let mut first_failure = None;
    for id in ids {
        let outcome = match job_path(id) {
            Ok(path) => api.post(&format!("{path}/{action}"), &json!({})).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(job) => {
                if !out.json {
                    println!("{id}: {done} ({})", text(&job["status"]));
                }
                results.push(json!({"id": id, "ok": true, "job": job}));
            }
            Err(failure) => {
                if !out.json {
                    failure.report(false);
                }
                results.push(json!({"id": id, "ok": false, "error": failure.body()["error"]}));
                first_failure.get_or_insert(failure);
            }
        }
    }
    if out.json {
        out.print_json(&json!({ "results": results }));
    } else if ids.is_empty() {
        println!("no jobs to {action}");
    }
    match first_failure {
        Some(f) if out.json => Err(f),
        // Already told, one per id: exit with its code without telling it again.
        Some(f) => Err(Failure::Quiet(Box::new(f))),
        None => Ok(()),
    }
}

fn error_text(error: &Value) -> String {
    match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => String::new(),
    }
}

pub fn print_jobs(jobs: &[Value]) {
    let mut table = output::table(&[
        "ID", "KIND", "STATUS", "ATTEMPT", "CREATED", "FINISHED", "ERROR",
    ]);
    for j in jobs {
        table.add_row(vec![
            Cell::new(text(&j["id"])),
            Cell::new(text(&j["kind"])),
            status_cell(j["status"].as_str().unwrap_or_default()),
            Cell::new(format!(
                "{}/{}",
                text(&j["attempt"]),
                text(&j["max_attempts"])
            )),
            Cell::new(when(&j["created_at"])),
            Cell::new(when(&j["finished_at"])),
            Cell::new(output::error_line(j)),
        ]);
    }
    output::show(&table);
}

pub fn print_job(job: &Value) {
    let mut rows = vec![
        ("id", text(&job["id"])),
        ("kind", text(&job["kind"])),
        ("status", text(&job["status"])),
        ("priority", text(&job["priority"])),
        (
            "attempt",
            format!(
                "{} of {}",
                text(&job["attempt"]),
                text(&job["max_attempts"])
            ),
        ),
        ("created", when(&job["created_at"])),
        ("started", when(&job["started_at"])),
        ("finished", when(&job["finished_at"])),
    ];
    if !job["run_at"].is_null() {
        rows.push(("runs at", when(&job["run_at"])));
    }
    if let Some(p) = job["progress"].as_str() {
        rows.push(("progress", p.to_owned()));
    }
    if !job["result"].is_null() {
        let r = &job["result"];
        rows.push((
            "result",
            format!(
                "{} page{}, {}, sha256 {}",
                text(&r["pages"]),
                if r["pages"] == 1 { "" } else { "s" },
                output::bytes(r["bytes"].as_u64().unwrap_or_default()),
                text(&r["sha256"])
            ),
        ));
        rows.push(("file", text(&r["file"])));
    }
    if let Some(m) = job["message_id"].as_str() {
        rows.push(("message id", m.to_owned()));
    }
    if !job["summary"].is_null() {
        rows.push(("summary", job["summary"].to_string()));
    }
    if !job["error"].is_null() {
        rows.push(("error", error_text(&job["error"])));
    }
    if job["cancel_requested"] == true {
        rows.push(("cancel", "requested".to_owned()));
    }
    output::show(&output::record(&rows));
}
