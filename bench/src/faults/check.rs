//! The checks run on the jobs table (and the files and logs) after a scenario: every promised
//! job ended `succeeded`, once, within its attempts, with a whole file that is its own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use tokio::time::Instant;

use super::lab::Lab;

/// One job row, as the checks read it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    pub owner_id: String,
    pub status: String,
    pub attempt: i64,
    pub max_attempts: i64,
    pub result: Option<Value>,
    pub error_code: Option<String>,
    pub worker: Option<String>,
    pub payload: Value,
    pub idempotency_key: Option<String>,
    pub started_at: Option<i64>,
}

const TERMINAL: [&str; 3] = ["succeeded", "dead", "cancelled"];

pub async fn rows(pool: &sqlx::PgPool, filter: &str) -> anyhow::Result<Vec<JobRow>> {
    let sql = format!(
        "SELECT id, owner_id, status, attempt, max_attempts, result, error_code, worker, payload, \
         idempotency_key, started_at FROM jobs WHERE {filter}"
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .context("reading job rows")?;
    found
        .iter()
        .map(|r| {
            let json = |s: Option<String>| s.map(|s| serde_json::from_str(&s)).transpose();
            Ok(JobRow {
                id: r.try_get("id")?,
                owner_id: r.try_get("owner_id")?,
                status: r.try_get("status")?,
                attempt: r.try_get("attempt")?,
                max_attempts: r.try_get("max_attempts")?,
                result: json(r.try_get("result")?)?,
                error_code: r.try_get("error_code")?,
                worker: r.try_get("worker")?,
                payload: json(r.try_get("payload")?)?.unwrap_or_default(),
                idempotency_key: r.try_get("idempotency_key")?,
                started_at: r.try_get("started_at")?,
            })
        })
        .collect()
}

pub async fn rows_by_id(
    pool: &sqlx::PgPool,
    ids: &[String],
) -> anyhow::Result<HashMap<String, JobRow>> {
    let wanted: HashSet<&String> = ids.iter().collect();
    Ok(rows(pool, "TRUE")
        .await?
        .into_iter()
        .filter(|r| wanted.contains(&r.id))
        .map(|r| (r.id.clone(), r))
        .collect())
}

/// Rows per status for `filter`.
pub async fn status_counts(
    pool: &sqlx::PgPool,
    filter: &str,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let sql = format!("SELECT status, count(*) AS n FROM jobs WHERE {filter} GROUP BY status");
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?;
    found
        .iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect()
}

/// Waits until every row matching `filter` is terminal and there are at least `expected`,
/// printing progress every 5 s; fails after `limit`.
pub async fn wait_terminal(
    lab: &Lab,
    filter: &str,
    expected: usize,
    limit: Duration,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut said = Instant::now();
    loop {
        let counts = status_counts(lab.pool(), filter).await;
        if let Ok(counts) = &counts {
            let total: i64 = counts.values().sum();
            let open: i64 = counts
                .iter()
                .filter(|(s, _)| !TERMINAL.contains(&s.as_str()))
                .map(|(_, n)| n)
                .sum();
            if open == 0 && total as usize >= expected {
                return Ok(start.elapsed());
            }
            if said.elapsed() > Duration::from_secs(5) {
                eprintln!(
                    "  [{}] {:>4.0}s waiting for {expected} jobs: {counts:?}",
                    lab.name,
                    lab.elapsed().as_secs_f64()
                );
                said = Instant::now();
            }
        }
        if start.elapsed() > limit {
            bail!("jobs still not finished after {limit:?}: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the certificate checks found.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    /// Jobs the API accepted (202).
    pub promised: usize,
    pub succeeded: usize,
    /// Promised jobs not `succeeded` (or without a row): `id: status`.
    pub lost: Vec<String>,
    /// Certificate rows nobody was told were accepted.
    pub phantom: Vec<String>,
    /// A submission with more than one row, or a job whose success was recorded twice.
    pub duplicates: Vec<String>,
    pub max_attempt: i64,
    pub allowed: i64,
    /// Jobs that ran more attempts than allowed.
    pub over_attempts: Vec<String>,
    pub files_checked: usize,
    pub bad_files: Vec<String>,
    /// Attempts that ran more than once (retried after a kill, a lease expiry, a failure).
    pub retried: usize,
    /// Jobs whose success a worker logged (the duplicate check reads these lines).
    pub logged_successes: usize,
}

impl Verdict {
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        let list = |v: &[String]| {
            let shown: Vec<&str> = v.iter().take(5).map(String::as_str).collect();
            format!(
                "{}{}",
                shown.join(", "),
                if v.len() > 5 { ", …" } else { "" }
            )
        };
        if !self.lost.is_empty() {
            out.push(format!(
                "{} jobs lost: {}",
                self.lost.len(),
                list(&self.lost)
            ));
        }
        if !self.phantom.is_empty() {
            out.push(format!(
                "{} rows never acknowledged: {}",
                self.phantom.len(),
                list(&self.phantom)
            ));
        }
        if !self.duplicates.is_empty() {
            out.push(format!(
                "{} duplicates: {}",
                self.duplicates.len(),
                list(&self.duplicates)
            ));
        }
        if !self.over_attempts.is_empty() {
            out.push(format!(
                "{} jobs over their attempts: {}",
                self.over_attempts.len(),
                list(&self.over_attempts)
            ));
        }
        if !self.bad_files.is_empty() {
            out.push(format!(
                "{} bad files: {}",
                self.bad_files.len(),
                list(&self.bad_files)
            ));
        }
        out
    }
}

/// Checks every certificate row against the ids the API accepted, the files they point to,
/// and the workers' logs. `ambiguous`: submissions with no answer (their row may or may not
/// exist; neither is a fault).
pub async fn verify_certificates(
    lab: &Lab,
    accepted: &[String],
    ambiguous: usize,
) -> anyhow::Result<Verdict> {
    let rows = rows(lab.pool(), "kind = 'certificate'").await?;
    let mut v = Verdict {
        promised: accepted.len(),
        ..Verdict::default()
    };
    let by_id: HashMap<&str, &JobRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let promised: HashSet<&str> = accepted.iter().map(String::as_str).collect();
    for id in accepted {
        match by_id.get(id.as_str()) {
            Some(r) if r.status == "succeeded" => v.succeeded += 1,
            Some(r) => v.lost.push(format!(
                "{id}: {} after {} attempts ({})",
                r.status,
                r.attempt,
                r.error_code.as_deref().unwrap_or("no error")
            )),
            None => v.lost.push(format!("{id}: no row")),
        }
    }
    let phantom: Vec<String> = rows
        .iter()
        .filter(|r| !promised.contains(r.id.as_str()))
        .map(|r| format!("{}: {}", r.id, r.status))
        .collect();
    // A submission whose answer was lost may have left a row: not a fault up to that count.
    if phantom.len() > ambiguous {
        v.phantom = phantom;
    }
    // Each submission has its own recipient: two rows with one name are one job twice.
    let mut names: HashMap<&str, usize> = HashMap::new();
    for r in &rows {
        if let Some(name) = r.payload["recipient_name"].as_str() {
            *names.entry(name).or_default() += 1;
        }
    }
    v.duplicates.extend(
        names
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(name, n)| format!("{n} rows for {name}")),
    );
    for (id, n) in completions_in_logs(lab) {
        if by_id.contains_key(id.as_str()) {
            v.logged_successes += 1;
        }
        if n > 1 && by_id.contains_key(id.as_str()) {
            v.duplicates
                .push(format!("{id}: success recorded {n} times"));
        }
    }
    for r in &rows {
        v.max_attempt = v.max_attempt.max(r.attempt);
        v.allowed = v.allowed.max(r.max_attempts);
        if r.attempt > r.max_attempts {
            v.over_attempts
                .push(format!("{}: {} of {}", r.id, r.attempt, r.max_attempts));
        }
        if r.attempt > 1 {
            v.retried += 1;
        }
    }
    let succeeded: Vec<JobRow> = rows
        .iter()
        .filter(|r| r.status == "succeeded")
        .cloned()
        .collect();
    let data_dir = lab.data_dir.clone();
    let (checked, bad) =
        tokio::task::spawn_blocking(move || check_files(&data_dir, &succeeded)).await?;
    v.files_checked = checked;
    v.bad_files = bad;
    Ok(v)
}

/// Every succeeded row's file: the file of the attempt that succeeded, whole (size, sha256,
/// parses as a PDF with the recorded page count).
pub fn check_files(data_dir: &Path, rows: &[JobRow]) -> (usize, Vec<String>) {
    let mut bad = Vec::new();
    let mut checked = 0;
    for r in rows {
        checked += 1;
        if let Err(e) = check_file(data_dir, r) {
            bad.push(format!("{}: {e:#}", r.id));
        }
    }
    (checked, bad)
}

pub fn check_file(data_dir: &Path, r: &JobRow) -> anyhow::Result<()> {
    let result = r.result.as_ref().context("no result")?;
    let file = result["file"].as_str().context("no result.file")?;
    let own = format!("outputs/{}/{}-{}.pdf", r.owner_id, r.id, r.attempt);
    anyhow::ensure!(
        file == own,
        "result.file is {file}, not the succeeding attempt's {own}"
    );
    let path: PathBuf = data_dir.join(file);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    anyhow::ensure!(
        result["bytes"].as_u64() == Some(bytes.len() as u64),
        "{} bytes on disk, {} in the row",
        bytes.len(),
        result["bytes"]
    );
    let digest = hex::encode(Sha256::digest(&bytes));
    anyhow::ensure!(
        result["sha256"].as_str() == Some(digest.as_str()),
        "sha256 {digest} on disk, {} in the row",
        result["sha256"]
    );
    anyhow::ensure!(bytes.starts_with(b"%PDF-"), "no PDF header");
    anyhow::ensure!(
        bytes.trim_ascii_end().ends_with(b"%%EOF"),
        "no %%EOF at the end: cut short"
    );
    let doc = lopdf::Document::load_mem(&bytes).context("the PDF does not parse")?;
    let pages = doc.get_pages().len() as u64;
    anyhow::ensure!(
        result["pages"].as_u64() == Some(pages),
        "{pages} pages in the PDF, {} in the row",
        result["pages"]
    );
    Ok(())
}

/// How many times each job's success was logged, over every worker log of the lab: a fenced
/// completion logs `job succeeded` once, after its commit, so two lines for one job would
/// mean two attempts both recorded success.
pub fn completions_in_logs(lab: &Lab) -> HashMap<String, usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for event in log_events(lab, "worker") {
        if event["message"] == "job succeeded"
            && let Some(id) = event["span"]["job_id"].as_str()
        {
            *seen.entry(id.to_owned()).or_default() += 1;
        }
    }
    seen
}

/// Every JSON log line of the lab's processes of `role`.
pub fn log_events(lab: &Lab, role: &str) -> Vec<Value> {
    lab.procs
        .iter()
        .filter(|p| p.role == role)
        .flat_map(|p| log_events_of(&p.log))
        .collect()
}

pub fn log_events_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
