//! Faults a job can meet, on PostgreSQL + Redis: a handler that panics, times out or fails
//! ends in the right state with its error; a worker stopped past its lease cannot overwrite
//! the attempt that replaced it; a worker told to stop finishes or hands over its jobs. The
//! longer scenarios (SIGKILL storms, Redis and PostgreSQL outages, two schedulers) are in
//! `bench/faults.sh`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use quire::Roles;
use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::jobs::{Probe, ProbeOutcome};

use crate::helpers::*;

// 7: handlers that fail ------------------------------------------------------------------

/// A panicking handler is a failed attempt (`panicked`), retried until `dead`; a permanent
/// error is `dead` at once; a retryable one is `dead` after its attempts. None stays `running`.
#[tokio::test]
async fn failing_handlers_end_dead_with_their_error() {
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| {
        c.queues.maintenance.concurrency = 4;
        c.retry.base_ms = 20;
    })
    .await;
    let key = app.new_key("ops").await;
    let probe = |outcome| Probe {
        sleep_ms: 0,
        outcome,
    };
    let panics = app.insert_probe(&key, probe(ProbeOutcome::Panic), 3).await;
    let permanent = app
        .insert_probe(&key, probe(ProbeOutcome::FailPermanent), 3)
        .await;
    let retryable = app
        .insert_probe(&key, probe(ProbeOutcome::FailRetryable), 3)
        .await;
    let succeeds = app
        .insert_probe(&key, probe(ProbeOutcome::Succeed), 3)
        .await;

    let job = app.wait_for(&key, &panics, &["dead", "succeeded"]).await;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_i64()),
        (Some("dead"), Some(3)),
        "{job}"
    );
    assert_eq!(job["error"]["code"], "panicked", "{job}");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the probe panicked as asked"),
        "{job}"
    );

    let job = app.wait_for(&key, &permanent, &["dead", "succeeded"]).await;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_i64()),
        (Some("dead"), Some(1)),
        "permanent errors are not retried: {job}"
    );
    assert_eq!(job["error"]["code"], "probe_failed", "{job}");

    let job = app.wait_for(&key, &retryable, &["dead", "succeeded"]).await;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_i64()),
        (Some("dead"), Some(3)),
        "{job}"
    );
    assert_eq!(job["error"]["code"], "probe_failed", "{job}");

    let job = app.wait_for(&key, &succeeds, &["dead", "succeeded"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(job["error"].is_null(), "{job}");
    app.stop().await;
}

/// An attempt that outlives the queue's timeout is recorded as failed (`timeout`), retried,
/// and `dead` after its attempts: never left `running`.
#[tokio::test]
async fn timed_out_attempts_fail_then_end_dead() {
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| {
        c.queues.maintenance.timeout_secs = 1;
        c.retry.base_ms = 20;
    })
    .await;
    let key = app.new_key("ops").await;
    let slow = Probe {
        sleep_ms: 30_000,
        outcome: ProbeOutcome::Succeed,
    };
    let id = app.insert_probe(&key, slow, 2).await;

    // The first attempt ended by its timeout: its error is on the row while the second runs
    // (or waits to).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let job = app.job(&key, &id).await;
        if job["attempt"] == 2 || job["status"] == "failed" {
            assert_eq!(job["error"]["code"], "timeout", "{job}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first attempt never timed out: {job}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let job = app.wait_for(&key, &id, &["dead", "succeeded"]).await;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_i64()),
        (Some("dead"), Some(2)),
        "{job}"
    );
    assert_eq!(job["error"]["code"], "timeout", "{job}");
    assert!(
        job["error"]["message"].as_str().unwrap().contains("1 s"),
        "{job}"
    );
    app.stop().await;
}

// Real worker processes ------------------------------------------------------------------

/// `quire worker` as a child process on the test app's database, queue and data directory.
/// Killed when dropped (also when stopped with SIGSTOP).
struct WorkerProcess {
    child: tokio::process::Child,
    pid: u32,
    log: PathBuf,
}

impl WorkerProcess {
    async fn start(app: &TestApp, name: &str, env: &[(&str, &str)]) -> WorkerProcess {
        let health = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = app.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_quire"));
        for (name, _) in std::env::vars() {
            if name.starts_with("QUIRE_") || name == "DATABASE_URL" || name == "REDIS_URL" {
                cmd.env_remove(name);
            }
        }
        let config = &app.config;
        cmd.arg("worker")
            .env(
                "DATABASE_URL",
                config.database_url.as_ref().unwrap().expose(),
            )
            .env("REDIS_URL", config.redis_url.as_ref().unwrap().expose())
            .env("QUIRE_REDIS_NAMESPACE", &config.redis_namespace)
            .env("QUIRE_DATA_DIR", &config.data_dir)
            .env("QUIRE_SECRETS__KEK", TEST_KEK)
            .env("QUIRE_HEALTH_BIND", health.to_string())
            // JSON lines, read back below.
            .env("QUIRE_LOG_FORMAT", "json")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().unwrap();
        let pid = child.id().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let ready = app
                .client
                .get(format!("http://{health}/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "worker exited: {}",
                std::fs::read_to_string(&log).unwrap()
            );
            assert!(tokio::time::Instant::now() < deadline, "worker never ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        WorkerProcess { child, pid, log }
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", self.pid);
    }

    /// Whether a row's `worker` column names this process (`quire-<host>-<pid>-<random>`).
    fn ran(&self, worker: Option<&str>) -> bool {
        worker.is_some_and(|w| w.contains(&format!("-{}-", self.pid)))
    }

    /// The ids of the jobs whose late outcome this worker logged as discarded (rejected by the
    /// fencing token, or not written at all: after a pause its first queries can time out
    /// waiting for a pooled connection).
    fn discarded(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| {
                e["message"].as_str().is_some_and(|m| {
                    m.starts_with("lease lost before") || m == "could not record the outcome"
                })
            })
            .filter_map(|e| e["span"]["job_id"].as_str().map(str::to_owned))
            .collect()
    }
}

/// What the test reads of a row that the API does not show.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Row {
    id: String,
    status: String,
    attempt: i64,
    worker: Option<String>,
    result: Option<String>,
    started_at: Option<i64>,
}

async fn rows_where(pool: &sqlx::PgPool, filter: &str) -> Vec<Row> {
    let sql = format!(
        "SELECT id, status, attempt, worker, result, started_at FROM jobs WHERE {filter} ORDER BY id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn rows_of(pool: &sqlx::PgPool, ids: &[String]) -> Vec<Row> {
    let list: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
    rows_where(pool, &format!("id IN ({})", list.join(","))).await
}

async fn pool_of(app: &TestApp) -> sqlx::PgPool {
    sqlx::PgPool::connect(app.config.database_url.as_ref().unwrap().expose())
        .await
        .unwrap()
}

// 2: a stale worker ----------------------------------------------------------------------

/// Not the scheduler's maintenance jobs, which workers run too.
const RUNNING_CERTIFICATES: &str = "kind = 'certificate' AND status = 'running'";

/// A worker stopped (SIGSTOP) while it holds attempts loses them when their leases expire;
/// another worker runs them again and its attempt's file becomes the result. When the stale
/// worker continues (SIGCONT) and finishes its attempts, their results are rejected: the rows
/// and files stay the new attempt's.
#[tokio::test]
async fn a_stopped_worker_cannot_overwrite_the_attempt_that_replaced_it() {
    let app = TestApp::spawn_with(Backend::Production, &[Roles::API, Roles::SCHEDULER], |c| {
        c.rescue.lease_secs = 5;
        c.rescue.stale_after_secs = 5;
    })
    .await;
    let key = app.new_key("stale").await;
    let pool = pool_of(&app).await;
    let worker_env = [
        ("QUIRE_RESCUE__LEASE_SECS", "5"),
        ("QUIRE_QUEUES__CERTIFICATES__CONCURRENCY", "4"),
    ];
    let a = WorkerProcess::start(&app, "worker-a", &worker_env).await;

    // A stream of certificates keeps A busy; certificates render in milliseconds, so A is
    // stopped at a moment it holds some.
    let (client, url) = (app.client.clone(), app.url("/v1/certificates"));
    let submitter_key = key.clone();
    let submitting = tokio::spawn(async move {
        use futures::StreamExt as _;
        futures::stream::iter(0..150)
            .map(|i| {
                let request = client
                    .post(&url)
                    .bearer_auth(&submitter_key)
                    .json(&certificate(&format!("Stale Test {i}")));
                async move {
                    let response = request.send().await.unwrap();
                    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
                    response.json::<Value>().await.unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                }
            })
            .buffer_unordered(8)
            .collect::<Vec<String>>()
            .await
    });
    let mut held = Vec::new();
    for _ in 0..20 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while rows_where(&pool, RUNNING_CERTIFICATES).await.is_empty()
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        a.signal("STOP");
        // Statements A sent before it stopped still land; read what it holds after them.
        tokio::time::sleep(Duration::from_secs(1)).await;
        held = rows_where(&pool, RUNNING_CERTIFICATES).await;
        if !held.is_empty() {
            break;
        }
        a.signal("CONT");
    }
    assert!(!held.is_empty(), "never caught worker A holding a job");
    assert!(held.iter().all(|r| a.ran(r.worker.as_deref())), "{held:?}");
    let held_ids: Vec<String> = held.iter().map(|r| r.id.clone()).collect();

    let b = WorkerProcess::start(&app, "worker-b", &worker_env).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let replaced = loop {
        let rows = rows_of(&pool, &held_ids).await;
        if rows.iter().all(|r| r.status == "succeeded") {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "held jobs never taken over: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for (row, stale) in replaced.iter().zip(&held) {
        assert!(
            b.ran(row.worker.as_deref()) && row.attempt > stale.attempt,
            "{row:?}"
        );
        let job = app.job(&key, &row.id).await;
        let result = &job["result"];
        // The file served is the new attempt's, whole, and its digest is the row's.
        let pdf = app
            .get(&key, &format!("/v1/jobs/{}/file", row.id))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(result["sha256"], hex::encode(Sha256::digest(&pdf)), "{job}");
        assert_eq!(result["bytes"], pdf.len(), "{job}");
        assert!(pdf_text(&pdf).contains("Stale Test"));
        let stored: Value = serde_json::from_str(row.result.as_deref().unwrap()).unwrap();
        assert!(
            stored["file"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{}-{}.pdf", row.id, row.attempt)),
            "{stored}"
        );
    }

    // A goes on: each attempt it held finishes and tries to record its result.
    a.signal("CONT");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let discarded = a.discarded();
        if held_ids.iter().all(|id| discarded.contains(id)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stale worker did not report its results discarded: {discarded:?} of {held_ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        rows_of(&pool, &held_ids).await,
        replaced,
        "the stale results changed nothing"
    );

    let ids = submitting.await.unwrap();
    for id in &ids {
        let job = app.wait_for(&key, id, &["succeeded", "dead"]).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    drop((a, b));
    app.stop().await;
}

// 6: SIGTERM -----------------------------------------------------------------------------

/// On SIGTERM a worker finishes the jobs that end within its grace period and gives the
/// others back at the end of it: another worker runs them at once (not after the lease), and
/// the released attempt is not counted. Nothing is lost.
#[tokio::test]
async fn sigterm_finishes_short_jobs_and_hands_long_ones_over() {
    const GRACE: &str = "6";
    let app = TestApp::spawn_with(Backend::Production, &[Roles::API], |_| {}).await;
    let key = app.new_key("term").await;
    let pool = pool_of(&app).await;
    let env = [
        ("QUIRE_SHUTDOWN_GRACE_SECS", GRACE),
        ("QUIRE_QUEUES__MAINTENANCE__CONCURRENCY", "4"),
        // The default lease: a hand-over that waited for it would take a minute.
        ("QUIRE_RESCUE__LEASE_SECS", "60"),
    ];
    let a = WorkerProcess::start(&app, "worker-a", &env).await;
    let probe = |sleep_ms| Probe {
        sleep_ms,
        outcome: ProbeOutcome::Succeed,
    };
    let short = app.insert_probe(&key, probe(5_000), 3).await;
    let long = app.insert_probe(&key, probe(15_000), 3).await;
    for id in [&short, &long] {
        app.wait_for(&key, id, &["running"]).await;
    }
    // B starts only now, so A holds both when it is told to stop.
    let b = WorkerProcess::start(&app, "worker-b", &env).await;

    let term_at = shared::domain::Timestamp::now().millis();
    a.signal("TERM");
    let mut a = a;
    let status = tokio::time::timeout(Duration::from_secs(20), a.child.wait())
        .await
        .expect("A exits after its grace period")
        .unwrap();
    assert!(status.success(), "{status}");

    let job = app.wait_for(&key, &short, &["succeeded", "dead"]).await;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_i64()),
        (Some("succeeded"), Some(1)),
        "{job}"
    );
    let job = app.wait_for(&key, &long, &["succeeded", "dead"]).await;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_i64()),
        (Some("succeeded"), Some(1)),
        "the released attempt is not counted: {job}"
    );
    let rows = rows_of(&pool, &[short.clone(), long.clone()]).await;
    let (short_row, long_row) = if rows[0].id == short {
        (&rows[0], &rows[1])
    } else {
        (&rows[1], &rows[0])
    };
    assert!(a.ran(short_row.worker.as_deref()), "{short_row:?}");
    assert!(b.ran(long_row.worker.as_deref()), "{long_row:?}");
    let handed_over_after = long_row.started_at.unwrap() - term_at;
    assert!(
        handed_over_after < 12_000,
        "B started the long job {handed_over_after} ms after SIGTERM (grace {GRACE} s)"
    );
    drop(b);
    app.stop().await;
}
