//! Webhooks and waiting, against a running deployment (bench/run.sh `webhooks` suite:
//! Redis + PostgreSQL, one worker, deliveries allowed to loopback). Its own receiver listens
//! on 127.0.0.1 and records each delivery's `webhook-id`, arrival time, and the job's
//! `finished_at` from the body.
//!
//! 0. `baseline`: a batch of `--jobs` certificates with no endpoint: certificates per second
//!    (first start to last finish, from the job rows).
//! 1. `steady`: a batch of `--jobs` certificates, an endpoint subscribed to `job.succeeded`:
//!    certificates per second (first start to last finish, from the bodies), deliveries per
//!    second (first to last arrival), finished-to-received p50/p99/max.
//! 2. `outage`: the same again, with the receiver gone (port closed, connections cut) for
//!    `--outage-secs` once a third of the deliveries arrived: how many distinct events
//!    arrived in the end (goal: all), repeats of one `webhook-id` (at-least-once), and how
//!    long after the receiver came back the last one arrived.
//! 3. `wait_vs_poll`: `--wait-jobs` certificates followed by a client that long-polls each
//!    job (`?wait=30`) and `--wait-jobs` more by one that polls each job every second:
//!    requests per job and the time from `finished_at` to the client knowing.
//!
//! Prints one JSON line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    #[arg(long)]
    key: String,
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    #[arg(long, default_value_t = 30)]
    outage_secs: u64,
    #[arg(long, default_value_t = 1_000)]
    wait_jobs: usize,
}

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
struct Got {
    at: OffsetDateTime,
    started: OffsetDateTime,
    finished: OffsetDateTime,
}

#[derive(Default)]
struct Received {
    by_id: Mutex<HashMap<String, Got>>,
    repeats: AtomicU64,
}

/// The receiver: an accept loop whose connections die with it (a real outage: the port
/// refuses and pooled connections are cut, not a 503).
struct Receiver {
    addr: SocketAddr,
    state: Arc<Received>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    async fn start(addr: SocketAddr, state: Arc<Received>) -> anyhow::Result<Receiver> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(1024)?;
        let addr = listener.local_addr()?;
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { receive(&state, req).await }
                });
                connections.spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Receiver {
            addr,
            state,
            task: Some(task),
        })
    }

    /// Closes the port and cuts every connection (the JoinSet dies with the task).
    fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    fn distinct(&self) -> usize {
        self.state.by_id.lock().unwrap().len()
    }
}

async fn receive(
    state: &Received,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<String>, hyper::Error> {
    use http_body_util::BodyExt;
    let at = OffsetDateTime::now_utc();
    let id = req
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = req.into_body().collect().await?.to_bytes();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let time = |field: &str| {
        parsed["data"][field]
            .as_str()
            .and_then(|t| parse_time(t).ok())
            .unwrap_or(at)
    };
    let got = Got {
        at,
        started: time("started_at"),
        finished: time("finished_at"),
    };
    let mut by_id = state.by_id.lock().unwrap();
    if by_id.insert(id, got).is_some() {
        state.repeats.fetch_add(1, Ordering::Relaxed);
    }
    Ok(hyper::Response::new("ok".into()))
}

struct Client {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Client {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }

    /// A batch of `n` certificates; its id.
    async fn batch(&self, n: usize, tag: &str) -> anyhow::Result<String> {
        let rows: Vec<Value> = (0..n)
            .map(|i| json!({ "recipient_name": format!("{tag} {i}"), "course_name": "Webhooks" }))
            .collect();
        let batch = self
            .post("/v1/certificates/batch", &json!({ "rows": rows }))
            .await?;
        Ok(batch["id"].as_str().context("batch id")?.to_owned())
    }

    /// Jobs per second of every job of the key so far: their number over first start to
    /// last finish (from the rows).
    async fn jobs_rate(&self) -> anyhow::Result<f64> {
        let (mut first, mut last, mut n) = (None::<OffsetDateTime>, None::<OffsetDateTime>, 0);
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/v1/jobs?limit=200".to_owned();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&path).await?;
            for job in page["jobs"].as_array().context("jobs")? {
                let (Some(started), Some(finished)) =
                    (job["started_at"].as_str(), job["finished_at"].as_str())
                else {
                    continue;
                };
                let (started, finished) = (parse_time(started)?, parse_time(finished)?);
                first = Some(first.map_or(started, |f| f.min(started)));
                last = Some(last.map_or(finished, |l| l.max(finished)));
                n += 1;
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        match (first, last) {
            (Some(a), Some(b)) if b > a => Ok(n as f64 / (b - a).as_seconds_f64()),
            _ => bail!("no finished job to measure"),
        }
    }

    /// The ids of a batch's jobs (its registry listing).
    async fn batch_jobs(&self, batch: &str) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/certificates?batch={batch}&limit=200");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&path).await?;
            for c in page["certificates"].as_array().context("certificates")? {
                ids.push(c["id"].as_str().context("certificate id")?.to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(ids),
            }
        }
    }
}

/// Waits until `n` distinct deliveries arrived (or `limit` passed); whether they did.
async fn until_delivered(receiver: &Receiver, n: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while receiver.distinct() < n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

fn ms(d: time::Duration) -> f64 {
    d.as_seconds_f64() * 1000.0
}

/// Rates and latencies of the deliveries received so far.
fn delivery_figures(received: &Received) -> Value {
    let by_id = received.by_id.lock().unwrap();
    let gots: Vec<&Got> = by_id.values().collect();
    let first_start = gots.iter().map(|g| g.started).min();
    let last_finish = gots.iter().map(|g| g.finished).max();
    let first_at = gots.iter().map(|g| g.at).min();
    let last_at = gots.iter().map(|g| g.at).max();
    let mut latency = Latencies::new();
    for g in &gots {
        latency.record_span(g.at - g.finished);
    }
    let rate = |from: Option<OffsetDateTime>, to: Option<OffsetDateTime>| match (from, to) {
        (Some(a), Some(b)) if b > a => gots.len() as f64 / (b - a).as_seconds_f64(),
        _ => 0.0,
    };
    let summary = latency.summary();
    json!({
        "delivered": gots.len(),
        "certificates_per_s": rate(first_start, last_finish),
        "deliveries_per_s": rate(first_at, last_at),
        "finished_to_received_p50_ms": summary.as_ref().map(|s| s.p50_ms),
        "finished_to_received_p99_ms": summary.as_ref().map(|s| s.p99_ms),
        "finished_to_received_max_ms": summary.as_ref().map(|s| s.max_ms),
    })
}

/// `--wait-jobs` jobs known finished by long-polling (`wait = true`) or by polling every
/// second: requests per job and finished-to-known latencies.
async fn waiting(client: Arc<Client>, n: usize, wait: bool) -> anyhow::Result<Value> {
    let batch = client
        .batch(n, if wait { "Waiter" } else { "Poller" })
        .await?;
    let ids = client.batch_jobs(&batch).await?;
    let requests = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids {
        let (client, requests) = (client.clone(), requests.clone());
        tasks.spawn(async move {
            loop {
                let path = if wait {
                    format!("/v1/jobs/{id}?wait=30")
                } else {
                    format!("/v1/jobs/{id}")
                };
                requests.fetch_add(1, Ordering::Relaxed);
                let job = client.get(&path).await?;
                let known = OffsetDateTime::now_utc();
                if matches!(
                    job["status"].as_str(),
                    Some("succeeded" | "dead" | "cancelled")
                ) {
                    let finished = parse_time(job["finished_at"].as_str().context("finished_at")?)?;
                    return anyhow::Ok(known - finished);
                }
                if !wait {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }
    let mut latency = Latencies::new();
    while let Some(done) = tasks.join_next().await {
        latency.record_span(done??);
    }
    let summary = latency.summary().context("no job")?;
    Ok(json!({
        "jobs": n,
        "requests": requests.load(Ordering::Relaxed),
        "requests_per_job": requests.load(Ordering::Relaxed) as f64 / n as f64,
        "added_latency_p50_ms": summary.p50_ms,
        "added_latency_p99_ms": summary.p99_ms,
    }))
}

async fn run(args: Args) -> anyhow::Result<Value> {
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(2_000)
            .timeout(Duration::from_secs(120))
            .build()?,
        url: args.url.trim_end_matches('/').to_owned(),
        key: args.key.clone(),
    });

    // 0. Baseline: the same batch with no endpoint, its rate from the job rows.
    eprintln!("webhooks: baseline, {} jobs without an endpoint", args.jobs);
    let baseline = client.batch(args.jobs, "Baseline").await?;
    loop {
        let batch = client
            .get(&format!("/v1/batches/{baseline}?wait=60"))
            .await?;
        if batch["complete"] == true {
            break;
        }
    }
    let baseline_rate = client.jobs_rate().await?;

    // 1. Steady: every certificate's success delivered.
    let steady = Arc::new(Received::default());
    let receiver = Receiver::start("127.0.0.1:0".parse()?, steady.clone()).await?;
    let hook = client
        .post(
            "/v1/webhooks",
            &json!({ "url": format!("http://{}/hook", receiver.addr), "events": ["job.succeeded"] }),
        )
        .await?;
    let hook_id = hook["id"].as_str().context("webhook id")?.to_owned();
    eprintln!("webhooks: steady, {} jobs", args.jobs);
    client.batch(args.jobs, "Steady").await?;
    let complete = until_delivered(&receiver, args.jobs, Duration::from_secs(1800)).await;
    let mut steady_figures = delivery_figures(&steady);
    steady_figures["baseline_certificates_per_s"] = json!(baseline_rate);
    steady_figures["complete"] = json!(complete);
    steady_figures["repeats"] = json!(steady.repeats.load(Ordering::Relaxed));
    drop(receiver);

    // 2. Outage: the receiver disappears for a while once a third arrived.
    let outage = Arc::new(Received::default());
    let mut receiver = Receiver::start("127.0.0.1:0".parse()?, outage.clone()).await?;
    client
        .http
        .patch(format!("{}/v1/webhooks/{hook_id}", client.url))
        .bearer_auth(&client.key)
        .json(&json!({ "url": format!("http://{}/hook", receiver.addr) }))
        .send()
        .await?
        .error_for_status()?;
    eprintln!(
        "webhooks: outage of {} s, {} jobs",
        args.outage_secs, args.jobs
    );
    client.batch(args.jobs, "Outage").await?;
    until_delivered(&receiver, args.jobs / 3, Duration::from_secs(1800)).await;
    let addr = receiver.addr;
    receiver.down();
    let down_at = receiver.distinct();
    tokio::time::sleep(Duration::from_secs(args.outage_secs)).await;
    let receiver = Receiver::start(addr, outage.clone()).await?;
    let back = Instant::now();
    let complete = until_delivered(&receiver, args.jobs, Duration::from_secs(1800)).await;
    let last = outage.by_id.lock().unwrap().values().map(|g| g.at).max();
    let back_wall = OffsetDateTime::now_utc() - back.elapsed();
    let outage_figures = json!({
        "jobs": args.jobs,
        "delivered_before_outage": down_at,
        "delivered": receiver.distinct(),
        "lost": args.jobs.saturating_sub(receiver.distinct()),
        "complete": complete,
        "repeats": outage.repeats.load(Ordering::Relaxed),
        "last_delivery_after_return_ms": last.map(|l| ms(l - back_wall)),
    });
    drop(receiver);

    // 3. Waiting versus polling.
    eprintln!(
        "webhooks: ?wait= versus polling, {} jobs each",
        args.wait_jobs
    );
    let waited = waiting(client.clone(), args.wait_jobs, true).await?;
    let polled = waiting(client.clone(), args.wait_jobs, false).await?;
    Ok(json!({
        "steady": steady_figures,
        "outage": outage_figures,
        "wait": waited,
        "poll": polled,
    }))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("webhooks bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
