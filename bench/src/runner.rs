//! The four modes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use time::OffsetDateTime;
use tokio::task::JoinSet;

use crate::api::{Api, CertificateRequest, Job, Submission};
use crate::photo::{self, Photo};
use crate::report::Report;
use crate::stats::{Latencies, rate};
use crate::{Args, Mode, rss};

/// Most pages one scan of the listing reads (200 rows each): a bound, never reached in practice.
const MAX_PAGES: usize = 100_000;
/// Consecutive failed polls tolerated before giving up.
const MAX_POLL_FAILURES: u32 = 20;
/// How often progress is printed on stderr while waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub async fn run(args: &Args) -> anyhow::Result<Report> {
    let key = args
        .key
        .as_deref()
        .context("--key (or BENCH_KEY) is required")?;
    let concurrency = usize::try_from(args.concurrency).context("--concurrency")?;
    let api = Api::new(
        &args.url,
        key,
        concurrency.max(4),
        Duration::from_secs(args.request_timeout_secs),
    )?;
    api.preflight().await?;
    let photo = if args.photo {
        Some(Arc::new(photo::generate().context("generating the photo")?))
    } else {
        None
    };
    if args.reset_peak_rss {
        for pid in &args.rss_pids {
            if let Err(e) = rss::reset_peak(*pid) {
                eprintln!("bench: warning: cannot reset the peak RSS of {pid}: {e:#}");
            }
        }
    }
    let mut report = Report {
        label: args.label.clone(),
        mode: args.mode,
        url: api.base().to_owned(),
        jobs: args.jobs,
        concurrency: if matches!(args.mode, Mode::Serial | Mode::Batch) {
            1
        } else {
            args.concurrency
        },
        photo: args.photo,
        photo_bytes: photo.as_ref().map(|p| p.bytes as u64),
        submitted: 0,
        errors: 0,
        submit_errors: 0,
        job_errors: 0,
        submit_error_kinds: BTreeMap::new(),
        final_statuses: BTreeMap::new(),
        submit_wall_s: 0.0,
        submit_per_s: None,
        submit_p50_ms: None,
        submit_p99_ms: None,
        submit_max_ms: None,
        e2e_wall_s: None,
        e2e_per_s: None,
        e2e_p50_ms: None,
        e2e_p99_ms: None,
        e2e_max_ms: None,
        queue_wait_p50_ms: None,
        queue_wait_p99_ms: None,
        run_p50_ms: None,
        run_p99_ms: None,
        backlog_at_end: None,
        batch_id: None,
        accepted_s: None,
        finished_s: None,
        archive_bytes: None,
        archive_s: None,
        archive_entries: None,
        peak_rss_mb: None,
        rss: Vec::new(),
        rss_before: Vec::new(),
        rss_accepted: Vec::new(),
        rss_complete: Vec::new(),
    };
    report.rss_before = rss_samples(&args.rss_pids);
    match args.mode {
        Mode::Burst | Mode::SubmitOnly => burst(args, &api, photo, &mut report).await?,
        Mode::Serial => serial(args, &api, photo.as_deref(), &mut report).await?,
        Mode::Batch => batch(args, &api, &mut report).await?,
    }
    report.rss = rss_samples(&args.rss_pids);
    report.peak_rss_mb = report.rss.iter().map(|s| s.peak_mb).reduce(f64::max);
    report.errors = report.submit_errors + report.job_errors;
    Ok(report)
}

/// The RSS of each of `pids` now (a process that cannot be read is warned about and left out).
fn rss_samples(pids: &[u32]) -> Vec<rss::RssSample> {
    pids.iter()
        .filter_map(|pid| {
            rss::sample(*pid)
                .map_err(|e| eprintln!("bench: warning: {e:#}"))
                .ok()
        })
        .collect()
}

/// Writes the body of one request (job 0), for load generators that send the same body
/// again and again (`wrk`).
pub fn write_body(file: &std::path::Path, with_photo: bool) -> anyhow::Result<()> {
    let photo = if with_photo {
        Some(photo::generate().context("generating the photo")?)
    } else {
        None
    };
    std::fs::write(file, body(0, photo.as_ref()))
        .with_context(|| format!("writing {}", file.display()))
}

/// The JSON body of job `i`.
fn body(i: u64, photo: Option<&Photo>) -> Vec<u8> {
    let recipient = format!("Bench Recipient {i}");
    let request = CertificateRequest {
        recipient_name: &recipient,
        course_name: "Load Testing for Backend Engineers",
        photo: photo.map(|p| p.base64.as_str()),
    };
    serde_json::to_vec(&request).expect("a struct of strings serializes")
}

/// Given names, some accented (the API must take UTF-8 CSV as is).
const GIVEN: [&str; 12] = [
    "Ana", "José", "Zoë", "Łukasz", "Chloé", "Søren", "Mei", "Björn", "Amélie", "Oliver", "Dvořák",
    "Priya",
];
const FAMILY: [&str; 10] = [
    "García",
    "Müller",
    "O'Brien",
    "Nguyễn",
    "Smith",
    "Østergaard",
    "Kowalski",
    "Brontë",
    "Tanaka",
    "Fernández",
];

/// A CSV field, quoted when it must be.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// The CSV body of a batch of `rows` rows: header `recipient_name,course_name`, a distinct
/// name per row (the row number keeps them distinct), every fourth course name quoted.
fn batch_csv(rows: u64) -> Vec<u8> {
    let mut csv = String::with_capacity(rows as usize * 64 + 32);
    csv.push_str("recipient_name,course_name\n");
    for i in 0..rows {
        let given = GIVEN[(i % GIVEN.len() as u64) as usize];
        let family = FAMILY[(i / GIVEN.len() as u64 % FAMILY.len() as u64) as usize];
        let name = format!("{given} {family} {i}");
        let course = if i % 4 == 0 {
            "Load Testing, Part 2"
        } else {
            "Load Testing for Backend Engineers"
        };
        csv.push_str(&csv_field(&name));
        csv.push(',');
        csv.push_str(&csv_field(course));
        csv.push('\n');
    }
    csv.into_bytes()
}

/// One CSV batch of `--jobs` rows: accepted in, finished in, then the archive.
async fn batch(args: &Args, api: &Api, report: &mut Report) -> anyhow::Result<()> {
    let csv = batch_csv(args.jobs);
    let poll = args.poll_interval();
    let timeout = Duration::from_secs(args.timeout_secs);
    let sent = Instant::now();
    let accepted = api.submit_batch_csv(csv).await?;
    let accepted_s = sent.elapsed().as_secs_f64();
    report.rss_accepted = rss_samples(&args.rss_pids);
    let id = accepted.id.clone();
    report.batch_id = Some(id.clone());
    report.accepted_s = Some(accepted_s);
    report.submitted = accepted.total;
    report.submit_wall_s = accepted_s;
    report.submit_per_s = rate(accepted.total, accepted_s);
    anyhow::ensure!(
        accepted.total == args.jobs,
        "the batch {id} holds {} jobs, {} rows were sent",
        accepted.total,
        args.jobs
    );
    eprintln!(
        "bench: batch {id}: {} rows accepted in {accepted_s:.2} s",
        accepted.total
    );
    let deadline = sent + timeout;
    let mut last_progress = Instant::now();
    let mut failures = 0;
    let done = loop {
        match api.batch(&id).await {
            Ok(b) if b.complete => break b,
            Ok(b) => {
                failures = 0;
                if last_progress.elapsed() >= PROGRESS_EVERY {
                    eprintln!(
                        "bench: batch {id}: {} of {} finished after {:.0} s",
                        b.finished,
                        b.total,
                        sent.elapsed().as_secs_f64()
                    );
                    last_progress = Instant::now();
                }
            }
            Err(e) => {
                failures += 1;
                anyhow::ensure!(
                    failures < MAX_POLL_FAILURES,
                    "polling the batch failed {failures} times in a row: {e:#}"
                );
                eprintln!("bench: warning: polling the batch: {e:#}");
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out after {} s (--timeout-secs) waiting for batch {id}",
            args.timeout_secs
        );
        tokio::time::sleep(poll).await;
    };
    let finished_s = sent.elapsed().as_secs_f64();
    report.rss_complete = rss_samples(&args.rss_pids);
    report.finished_s = Some(finished_s);
    report.e2e_wall_s = Some(finished_s);
    let succeeded = done.counts.get("succeeded").copied().unwrap_or(0);
    report.e2e_per_s = rate(succeeded, finished_s);
    report.job_errors = done.total.saturating_sub(succeeded);
    report.final_statuses = done.counts.clone();
    eprintln!("bench: batch {id}: complete after {finished_s:.2} s; downloading the archive");
    let started = Instant::now();
    let archive = api.download_archive(&id, timeout).await?;
    report.archive_s = Some(started.elapsed().as_secs_f64());
    report.archive_bytes = Some(archive.bytes);
    report.archive_entries = archive.entries;
    match archive.entries {
        // The PDFs and manifest.csv.
        Some(n) if n != succeeded + 1 => eprintln!(
            "bench: warning: the archive has {n} entries; {succeeded} PDFs + manifest expected"
        ),
        None => eprintln!(
            "bench: warning: no end-of-central-directory record found in the archive (cut \
             short, or ZIP64)"
        ),
        _ => {}
    }
    Ok(())
}

/// What one client task did.
#[derive(Default)]
struct ClientTally {
    ids: Vec<String>,
    latencies: Latencies,
    errors: BTreeMap<String, u64>,
}

async fn burst(
    args: &Args,
    api: &Api,
    photo: Option<Arc<Photo>>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let jobs = args.jobs;
    let next = Arc::new(AtomicU64::new(0));
    // Jobs are known final from the event stream, opened before the first submission (no
    // polling: the API's and the database's work is the jobs', not the watcher's).
    let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel();
    let follower = (args.mode == Mode::Burst).then(|| {
        let api = api.clone();
        tokio::spawn(async move { api.finished_jobs(ended_tx).await })
    });
    let first_submission = OffsetDateTime::now_utc();
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for _ in 0..args.concurrency.min(jobs) {
        let (api, next, photo) = (api.clone(), next.clone(), photo.clone());
        clients.spawn(async move {
            let mut tally = ClientTally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= jobs {
                    break;
                }
                let body = body(i, photo.as_deref());
                let sent = Instant::now();
                let outcome = api.submit(body).await;
                let took = sent.elapsed();
                match outcome {
                    Submission::Accepted(id) => {
                        tally.latencies.record(took);
                        tally.ids.push(id);
                    }
                    Submission::Rejected(why) => *tally.errors.entry(why).or_default() += 1,
                }
            }
            tally
        });
    }
    let mut ids = Vec::new();
    let mut latencies = Latencies::new();
    while let Some(tally) = clients.join_next().await {
        let tally = tally.context("a client task panicked")?;
        ids.extend(tally.ids);
        latencies.merge(&tally.latencies);
        for (why, n) in tally.errors {
            *report.submit_error_kinds.entry(why).or_default() += n;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    report.submitted = ids.len() as u64;
    report.submit_errors = report.submit_error_kinds.values().sum();
    report.submit_wall_s = wall;
    report.submit_per_s = rate(report.submitted, wall);
    report.set_submit(latencies.summary());
    if ids.is_empty() {
        return Ok(());
    }
    let mut tracker = Tracker::new(&ids, first_submission);
    if args.mode == Mode::SubmitOnly {
        // One look at where the jobs stand, for the backlog figure.
        tracker.scan(api, tracker.floor).await?;
        report.backlog_at_end = Some(tracker.pending());
        let picked_up = tracker.picked_up();
        if args.no_worker_expected && picked_up > 0 {
            eprintln!(
                "bench: warning: {picked_up} jobs were already picked up by a worker although \
                 --no-worker-expected was given"
            );
        }
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let ours: HashSet<&String> = ids.iter().collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut last_progress = Instant::now();
    while done.len() < ours.len() {
        match tokio::time::timeout_at(deadline, ended.recv()).await {
            Ok(Some(id)) => {
                if ours.contains(&id) {
                    done.insert(id);
                }
            }
            Ok(None) => {
                let why = match follower {
                    Some(f) => match f.await {
                        Ok(Err(e)) => format!("{e:#}"),
                        _ => "it ended".into(),
                    },
                    None => "none was open".into(),
                };
                anyhow::bail!(
                    "the event stream stopped ({why}) with {} of {} final",
                    done.len(),
                    ours.len()
                );
            }
            Err(_) => anyhow::bail!(
                "timed out after {} s (--timeout-secs): {} of {} final",
                args.timeout_secs,
                done.len(),
                ours.len()
            ),
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            eprintln!("bench: waiting: {} of {} final", done.len(), ours.len());
            last_progress = Instant::now();
        }
    }
    if let Some(f) = follower {
        f.abort();
    }
    // Every job final: their rows, once, for the figures.
    tracker.scan(api, tracker.floor).await?;
    anyhow::ensure!(tracker.done(), "a finished job is missing from the listing");
    job_figures(report, tracker.finals.values(), first_submission)
}

async fn serial(
    args: &Args,
    api: &Api,
    photo: Option<&Photo>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let poll = args.poll_interval();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let first_submission = OffsetDateTime::now_utc();
    let mut latencies = Latencies::new();
    let mut finals = Vec::new();
    let mut last_progress = Instant::now();
    for i in 0..args.jobs {
        let sent = Instant::now();
        let outcome = api.submit(body(i, photo)).await;
        let took = sent.elapsed();
        let id = match outcome {
            Submission::Accepted(id) => id,
            Submission::Rejected(why) => {
                *report.submit_error_kinds.entry(why).or_default() += 1;
                continue;
            }
        };
        latencies.record(took);
        report.submitted += 1;
        let mut failures = 0;
        loop {
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out after {} s (--timeout-secs) waiting for job {id} ({} of {} done)",
                args.timeout_secs,
                finals.len(),
                args.jobs
            );
            // Told when it is final (`?wait=`), not by polling.
            match api.job_waiting(&id).await {
                Ok(job) if job.is_final() => {
                    finals.push(job);
                    break;
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    anyhow::ensure!(failures < MAX_POLL_FAILURES, "waiting for job {id}: {e:#}");
                    tokio::time::sleep(poll).await;
                }
            }
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            eprintln!("bench: serial: {} of {} done", finals.len(), args.jobs);
            last_progress = Instant::now();
        }
    }
    report.submit_errors = report.submit_error_kinds.values().sum();
    report.submit_wall_s = started.elapsed().as_secs_f64();
    report.set_submit(latencies.summary());
    job_figures(report, finals.iter(), first_submission)
}

/// Timings of the final jobs, from their rows.
fn job_figures<'a>(
    report: &mut Report,
    jobs: impl Iterator<Item = &'a Job>,
    first_submission: OffsetDateTime,
) -> anyhow::Result<()> {
    let (mut e2e, mut wait, mut run) = (Latencies::new(), Latencies::new(), Latencies::new());
    let mut first = first_submission;
    let mut last: Option<OffsetDateTime> = None;
    let mut succeeded = 0u64;
    for job in jobs {
        *report.final_statuses.entry(job.status.clone()).or_default() += 1;
        let created = job.created()?;
        first = first.min(created);
        if job.status != "succeeded" {
            report.job_errors += 1;
            continue;
        }
        succeeded += 1;
        let finished = job
            .finished()?
            .with_context(|| format!("job {} succeeded without finished_at", job.id))?;
        last = Some(last.map_or(finished, |l| l.max(finished)));
        e2e.record_span(finished - created);
        if let Some(started) = job.started()? {
            wait.record_span(started - created);
            run.record_span(finished - started);
        }
    }
    if let Some(last) = last {
        let span = (last - first).as_seconds_f64();
        report.e2e_wall_s = Some(span);
        report.e2e_per_s = rate(succeeded, span);
    }
    report.set_e2e(e2e.summary());
    report.set_queue_wait(wait.summary());
    report.set_run(run.summary());
    Ok(())
}

/// Follows a set of jobs through the listing (newest first) until all are final. A final
/// row never changes, so each scan stops at the oldest job still pending: the scans shrink
/// as the jobs finish.
struct Tracker {
    ours: HashSet<String>,
    created: HashMap<String, OffsetDateTime>,
    status: HashMap<String, String>,
    finals: HashMap<String, Job>,
    /// Before every job of ours (they were created after the first submission).
    floor: OffsetDateTime,
}

impl Tracker {
    fn new(ids: &[String], first_submission: OffsetDateTime) -> Self {
        Self {
            ours: ids.iter().cloned().collect(),
            created: HashMap::new(),
            status: HashMap::new(),
            finals: HashMap::new(),
            floor: first_submission - time::Duration::seconds(5),
        }
    }

    fn pending(&self) -> u64 {
        (self.ours.len() - self.finals.len()) as u64
    }

    /// Jobs seen in any status but `queued`.
    fn picked_up(&self) -> u64 {
        self.status.values().filter(|s| *s != "queued").count() as u64
    }

    fn observe(&mut self, job: &Job) -> anyhow::Result<()> {
        if !self.ours.contains(&job.id) || self.finals.contains_key(&job.id) {
            return Ok(());
        }
        if !self.created.contains_key(&job.id) {
            self.created.insert(job.id.clone(), job.created()?);
        }
        self.status.insert(job.id.clone(), job.status.clone());
        if job.is_final() {
            self.finals.insert(job.id.clone(), job.clone());
        }
        Ok(())
    }

    /// Reads the listing from the newest row down to `boundary` (rows created before it are
    /// not needed).
    async fn scan(&mut self, api: &Api, boundary: OffsetDateTime) -> anyhow::Result<()> {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = api.page(cursor.as_deref()).await?;
            for job in &page.jobs {
                self.observe(job)?;
            }
            let past = match page.jobs.last() {
                Some(job) => job.created()? < boundary,
                None => true,
            };
            match page.next_cursor {
                Some(next) if !past && !self.done() => cursor = Some(next),
                _ => return Ok(()),
            }
        }
        anyhow::bail!("the job listing has more than {MAX_PAGES} pages")
    }

    fn done(&self) -> bool {
        self.finals.len() == self.ours.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_csv_has_distinct_quoted_rows() {
        let text = String::from_utf8(batch_csv(200)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "recipient_name,course_name");
        assert_eq!(lines.len(), 201);
        let names: HashSet<&str> = lines[1..]
            .iter()
            .map(|l| l.split_once(',').unwrap().0)
            .collect();
        assert_eq!(names.len(), 200);
        assert!(names.iter().any(|n| !n.is_ascii()));
        assert_eq!(lines[1], "Ana García 0,\"Load Testing, Part 2\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
    }
}
