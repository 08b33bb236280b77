//! Fair service under mixed load, against a running deployment (bench/run.sh `fairness`
//! suite: Redis + PostgreSQL, one worker). Three measurements, each from the job rows'
//! own times (`created_at`, `started_at`, `finished_at`), not from polling:
//!
//! 1. `idle` / `loaded`: 200 single certificates submitted one at a time (each after the
//!    previous answer, `--pace-ms` apart), first on an idle system, then right after a
//!    10,000-row batch of another key: submit-to-finished p50 and p99 of each.
//! 2. `shares`: two keys submit 5,000-row batches at the same moment; while both have work,
//!    each key's share of the jobs finished per second; a third key's one-row batch (same
//!    priority) and single certificate (default priority), submitted 2 s later: how long
//!    each waited to start.
//! 3. `throughput`: jobs per second over the two batches of (2), first start to last finish.
//! 5. `scheduled`: 50 certificates submitted with `delay_secs: 2`: how late each started
//!    after its `run_at` (p50, p99, max), and whether any started early.
//! 4. `rate_limit`: a key limited to 100 requests/s (its own limit) sends 500/s for
//!    `--limit-secs`: requests accepted per second, refusals (each must be a 429 with
//!    `Retry-After`), and the latency of another key's requests (20/s) meanwhile against
//!    the same requests alone.
//!
//! Run it once with `queues.order = "fair"` and once with `"fifo"` (same binary, same
//! machine, same run) to compare. Prints one JSON line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bench::api::parse_time;
use bench::stats::Latencies;
use clap::Parser;
use serde_json::{Value, json};
use time::OffsetDateTime;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long)]
    url: String,
    /// Four keys, comma-separated: the big batch's, the two sharing keys', and the one that
    /// submits singles (and is the third key of the shares).
    #[arg(long, value_delimiter = ',')]
    keys: Vec<String>,
    /// A key whose own rate limit is 100 requests per second (`quire keys create
    /// --rate-limit 100`): the rate-limit measurement runs only with it.
    #[arg(long)]
    limited_key: Option<String>,
    /// Seconds of the rate-limit measurement (each half).
    #[arg(long, default_value_t = 5)]
    limit_secs: u64,
    /// Label of this run (`fair`, `fifo`).
    #[arg(long)]
    label: String,
    #[arg(long, default_value_t = 10_000)]
    batch_rows: usize,
    #[arg(long, default_value_t = 5_000)]
    share_rows: usize,
    #[arg(long, default_value_t = 200)]
    singles: usize,
    /// Pause between two single submissions.
    #[arg(long, default_value_t = 50)]
    pace_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    bench::exit_with_line("fairness", run(&args).await)
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn post(&self, key: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let request = self.http.post(format!("{}{path}", self.base)).json(&body);
        answer(request.bearer_auth(key), path).await
    }

    async fn post_csv(&self, key: &str, csv: String) -> anyhow::Result<Value> {
        let path = "/v1/certificates/batch";
        let request = self.http.post(format!("{}{path}", self.base));
        let request = request.header("content-type", "text/csv").body(csv);
        answer(request.bearer_auth(key), path).await
    }

    async fn get(&self, key: &str, path_or_url: &str) -> anyhow::Result<Value> {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        answer(self.http.get(&url).bearer_auth(key), &url).await
    }

    /// Waits until every job of `ids` is finished; returns their rows.
    async fn finished(&self, key: &str, ids: &[String]) -> anyhow::Result<Vec<Value>> {
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            loop {
                let job = self.get(key, &format!("/v1/jobs/{id}")).await?;
                match job["status"].as_str() {
                    Some("succeeded") => {
                        rows.push(job);
                        break;
                    }
                    Some("dead" | "cancelled") => bail!("job {id} ended {job}"),
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
        Ok(rows)
    }

    async fn wait_batch(&self, key: &str, id: &str) -> anyhow::Result<()> {
        loop {
            let batch = self.get(key, &format!("/v1/batches/{id}")).await?;
            if batch["complete"].as_bool() == Some(true) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every job of `key` (newest first, all pages).
    async fn all_jobs(&self, key: &str) -> anyhow::Result<Vec<Value>> {
        let mut jobs = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/jobs?limit=200&cursor={c}"),
                None => "/v1/jobs?limit=200".to_owned(),
            };
            let page = self.get(key, &path).await?;
            jobs.extend(page["jobs"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(jobs),
            }
        }
    }
}

/// The JSON answer of `request`, or an error naming `what` and the status.
async fn answer(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if !status.is_success() {
        bail!("{what}: {status}: {body}");
    }
    Ok(body)
}

fn csv(rows: usize, tag: &str) -> String {
    let mut out = String::from("recipient_name,course_name\n");
    for i in 0..rows {
        out.push_str(&format!("{tag} {i},Fair Service\n"));
    }
    out
}

fn time_of(job: &Value, field: &str) -> anyhow::Result<OffsetDateTime> {
    parse_time(
        job[field]
            .as_str()
            .with_context(|| format!("no {field}: {job}"))?,
    )
}

/// Submit-to-finished of `n` singles by `key`, one at a time.
async fn singles(client: &Client, key: &str, n: usize, pace: Duration) -> anyhow::Result<Value> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let body =
            json!({ "recipient_name": format!("Single {i}"), "course_name": "Fair Service" });
        let job = client.post(key, "/v1/certificates", body).await?;
        ids.push(job["id"].as_str().context("no id")?.to_owned());
        tokio::time::sleep(pace).await;
    }
    let rows = client.finished(key, &ids).await?;
    let (mut latencies, mut waits, mut runs) =
        (Latencies::new(), Latencies::new(), Latencies::new());
    for row in &rows {
        let (created, started) = (time_of(row, "created_at")?, time_of(row, "started_at")?);
        let finished = time_of(row, "finished_at")?;
        latencies.record_span(finished - created);
        waits.record_span(started - created);
        runs.record_span(finished - started);
    }
    let s = latencies.summary().context("no singles")?;
    let (w, r) = (
        waits.summary().context("no singles")?,
        runs.summary().context("no singles")?,
    );
    Ok(
        json!({ "p50_ms": s.p50_ms, "p99_ms": s.p99_ms, "max_ms": s.max_ms,
        "wait_p50_ms": w.p50_ms, "wait_p99_ms": w.p99_ms, "run_p50_ms": r.p50_ms, "run_p99_ms": r.p99_ms }),
    )
}

/// How late after their `run_at` 50 jobs submitted with `delay_secs: 2` started.
async fn scheduled(client: &Client, key: &str) -> anyhow::Result<Value> {
    let (mut ids, mut due) = (Vec::new(), Vec::new());
    for i in 0..50 {
        let body = json!({ "recipient_name": format!("Later {i}"), "course_name": "Fair Service", "delay_secs": 2 });
        let job = client.post(key, "/v1/certificates", body).await?;
        let id = job["id"].as_str().context("no id")?.to_owned();
        // A scheduled job's view shows its run_at (a finished one's does not).
        due.push(time_of(
            &client.get(key, &format!("/v1/jobs/{id}")).await?,
            "run_at",
        )?);
        ids.push(id);
    }
    let rows = client.finished(key, &ids).await?;
    let mut late = Latencies::new();
    let mut early = 0;
    for (row, due) in rows.iter().zip(due) {
        let started = time_of(row, "started_at")?;
        if started < due {
            early += 1;
        }
        late.record_span(started - due);
    }
    let s = late.summary().context("no jobs")?;
    Ok(
        json!({ "late_p50_ms": s.p50_ms, "late_p99_ms": s.p99_ms, "late_max_ms": s.max_ms, "started_early": early }),
    )
}

/// Latencies of `GET /v1/jobs?limit=1` by `key`, `per_sec` a second for `secs`.
async fn paced_reads(
    client: &Client,
    key: &str,
    per_sec: u64,
    secs: u64,
) -> anyhow::Result<Latencies> {
    let mut latencies = Latencies::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_sec));
    for _ in 0..per_sec * secs {
        tick.tick().await;
        let started = std::time::Instant::now();
        client.get(key, "/v1/jobs?limit=1").await?;
        latencies.record(started.elapsed());
    }
    Ok(latencies)
}

/// What the limited key got while offering 500 requests a second, and another key's read
/// latency alone and meanwhile.
async fn rate_limit(
    client: &Client,
    limited: &str,
    other: &str,
    secs: u64,
) -> anyhow::Result<Value> {
    let alone = paced_reads(client, other, 20, secs).await?;
    let offered = 500 * secs;
    let flood = async {
        let mut tick = tokio::time::interval(Duration::from_millis(2));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..offered {
            tick.tick().await;
            let (http, url, key) = (
                client.http.clone(),
                format!("{}/v1/jobs?limit=1", client.base),
                limited.to_owned(),
            );
            tasks.spawn(async move {
                let response = http.get(url).bearer_auth(key).send().await?;
                let retry_after = response.headers().contains_key("retry-after");
                Ok::<_, anyhow::Error>((response.status().as_u16(), retry_after))
            });
        }
        let (mut accepted, mut refused, mut refused_without_retry_after, mut other) =
            (0u64, 0u64, 0u64, 0u64);
        while let Some(done) = tasks.join_next().await {
            match done?? {
                (200, _) => accepted += 1,
                (429, true) => refused += 1,
                (429, false) => refused_without_retry_after += 1,
                _ => other += 1,
            }
        }
        Ok::<_, anyhow::Error>((accepted, refused, refused_without_retry_after, other))
    };
    let (flooded, meanwhile) = tokio::join!(flood, paced_reads(client, other, 20, secs));
    let (accepted, refused, without, other_statuses) = flooded?;
    let (alone, meanwhile) = (
        alone.summary().context("no reads")?,
        meanwhile?.summary().context("no reads")?,
    );
    Ok(json!({
        "offered_per_s": offered / secs,
        "accepted_per_s": accepted as f64 / secs as f64,
        "refused_429": refused,
        "refused_without_retry_after": without,
        "other_statuses": other_statuses,
        "other_key_alone_p50_ms": alone.p50_ms, "other_key_alone_p99_ms": alone.p99_ms,
        "other_key_meanwhile_p50_ms": meanwhile.p50_ms, "other_key_meanwhile_p99_ms": meanwhile.p99_ms,
    }))
}

async fn run(args: &Args) -> anyhow::Result<String> {
    let [batch_key, key_a, key_b, single_key] = args.keys.as_slice() else {
        bail!("--keys needs four keys: batch, share-a, share-b, single");
    };
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?,
        base: args.url.trim_end_matches('/').to_owned(),
    };
    let pace = Duration::from_millis(args.pace_ms);

    // 5 and 4 first, on an idle system: scheduled jobs and the rate limit.
    let scheduled = scheduled(&client, single_key).await?;
    let limited = match &args.limited_key {
        Some(limited) => rate_limit(&client, limited, single_key, args.limit_secs).await?,
        None => Value::Null,
    };

    // 1. The same singles idle, then behind a big batch.
    let idle = singles(&client, single_key, args.singles, pace).await?;
    let big = client
        .post_csv(batch_key, csv(args.batch_rows, "Big"))
        .await?;
    let loaded = singles(&client, single_key, args.singles, pace).await?;
    client
        .wait_batch(batch_key, big["id"].as_str().context("no batch id")?)
        .await?;

    // 2. Two keys' batches at once; a third key's jobs 2 s later.
    let (a, b) = tokio::join!(
        client.post_csv(key_a, csv(args.share_rows, "A")),
        client.post_csv(key_b, csv(args.share_rows, "B")),
    );
    let (a, b) = (a?, b?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let third_row = client.post_csv(single_key, csv(1, "Third")).await?;
    let third_single = client
        .post(
            single_key,
            "/v1/certificates",
            json!({ "recipient_name": "Third Single", "course_name": "Fair Service" }),
        )
        .await?;
    for (key, batch) in [(key_a, &a), (key_b, &b)] {
        client
            .wait_batch(key, batch["id"].as_str().context("no batch id")?)
            .await?;
    }
    let third_row_job = client
        .get(
            single_key,
            third_row["links"]["certificates"]
                .as_str()
                .context("no certificates link")?,
        )
        .await?["certificates"][0]["id"]
        .as_str()
        .context("no job of the third key's batch")?
        .to_owned();
    let waited = |job: &Value| -> anyhow::Result<f64> {
        Ok((time_of(job, "started_at")? - time_of(job, "created_at")?).as_seconds_f64() * 1000.0)
    };
    let third_row_job = &client.finished(single_key, &[third_row_job]).await?[0];
    let third_single_job = &client
        .finished(
            single_key,
            &[third_single["id"].as_str().context("no id")?.to_owned()],
        )
        .await?[0];

    let finishes = |jobs: &[Value]| -> anyhow::Result<Vec<OffsetDateTime>> {
        let mut t: Vec<_> = jobs
            .iter()
            .map(|j| time_of(j, "finished_at"))
            .collect::<anyhow::Result<_>>()?;
        t.sort();
        Ok(t)
    };
    let jobs_a = client.all_jobs(key_a).await?;
    let jobs_b = client.all_jobs(key_b).await?;
    let (fa, fb) = (finishes(&jobs_a)?, finishes(&jobs_b)?);
    let first_start = jobs_a
        .iter()
        .chain(&jobs_b)
        .map(|j| time_of(j, "started_at"))
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .min()
        .context("no jobs")?;
    let last_finish = *fa.last().max(fb.last()).context("no jobs")?;
    let both_until = *fa.last().min(fb.last()).context("no jobs")?;
    // Per whole second while both have work: A's share of the jobs finished.
    let mut shares = Vec::new();
    let mut second = first_start;
    while second + time::Duration::SECOND <= both_until {
        let end = second + time::Duration::SECOND;
        let count = |f: &[OffsetDateTime]| f.iter().filter(|t| **t >= second && **t < end).count();
        let (na, nb) = (count(&fa), count(&fb));
        if na + nb > 0 {
            shares.push(na as f64 / (na + nb) as f64);
        }
        second = end;
    }
    let in_window = |f: &[OffsetDateTime]| f.iter().filter(|t| **t <= both_until).count();
    let (wa, wb) = (in_window(&fa), in_window(&fb));
    let share_a = wa as f64 / (wa + wb).max(1) as f64;
    shares.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        shares
            .get(((shares.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    let total = fa.len() + fb.len();
    let span = (last_finish - first_start).as_seconds_f64();

    let line = json!({
        "label": args.label,
        "singles_idle": idle,
        "singles_loaded": loaded,
        "share_a": share_a,
        "share_a_per_second": { "min": shares.first(), "p10": pick(0.1), "median": pick(0.5), "p90": pick(0.9), "max": shares.last(), "seconds": shares.len() },
        "third_key_row_wait_ms": waited(third_row_job)?,
        "third_key_single_wait_ms": waited(third_single_job)?,
        "throughput_per_s": total as f64 / span,
        "jobs": total,
        "rate_limit": limited,
        "scheduled": scheduled,
    });
    Ok(line.to_string())
}
