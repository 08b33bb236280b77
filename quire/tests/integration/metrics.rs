//! Metrics read by a real Prometheus: quire as separate processes (the API, two workers and
//! the scheduler, each with its own recorder) on PostgreSQL and Redis, scraped on loopback
//! every second; a known workload; then what Prometheus reports is compared with the jobs
//! table. A process per role is the point: in-process apps would share one recorder.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::domain::{JobId, JobStatus, Timestamp};

use crate::helpers::*;
use crate::processes::{migrate_and_admin_key, quire, settings, spawn, wait_ready};

/// One number from Prometheus's HTTP API (`None`: no series).
async fn scalar(prometheus: &str, query: &str) -> Option<f64> {
    let body: Value = reqwest::Client::new()
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", query)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "success", "{query}: {body}");
    let result = body["data"]["result"].as_array().unwrap();
    assert!(result.len() <= 1, "{query}: {body}");
    result
        .first()
        .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
}

/// Waits until `query` reports `want` (scrapes are a second apart).
async fn eventually(prometheus: &str, query: &str, want: f64) {
    until(
        prometheus,
        query,
        &format!("the jobs table {want}"),
        |got| got == want,
    )
    .await;
}

/// Waits until what `query` reports satisfies `ok` (`wanted` says what, for the failure).
async fn until(prometheus: &str, query: &str, wanted: &str, ok: impl Fn(f64) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = scalar(prometheus, query).await;
        if got.is_some_and(&ok) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{query}: Prometheus says {got:?}, want {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every job id in the (fresh) database.
async fn all_job_ids(database_url: &str) -> Vec<JobId> {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(database_url).await.unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM jobs")
        .fetch_all(&mut db)
        .await
        .unwrap();
    ids.iter().map(|id| id.parse().unwrap()).collect()
}

#[tokio::test]
async fn prometheus_agrees_with_the_jobs_table() {
    let prometheus_bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("Prometheus must be installed (deploy/test-services.sh installs Debian's package)");
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_postgres().await;
    let namespace = format!("t{}", uuid::Uuid::new_v4().simple());
    let (api, api_health, w1, w2, sched, prom) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let api_url = format!("http://127.0.0.1:{api}");
    let mut env = settings(&[
        ("DATABASE_URL", database_url.as_str()),
        ("REDIS_URL", &test_redis_url()),
        ("QUIRE_REDIS_NAMESPACE", &namespace),
        ("QUIRE_DATA_DIR", dir.path().to_str().unwrap()),
        ("QUIRE_SECRETS__KEK", TEST_KEK),
        ("QUIRE_PUBLIC_BASE_URL", &api_url),
        // Probes that outlive their queue's timeout: two attempts, then dead.
        ("QUIRE_QUEUES__MAINTENANCE__TIMEOUT_SECS", "1"),
        ("QUIRE_QUEUES__MAINTENANCE__MAX_ATTEMPTS", "2"),
        ("QUIRE_RETRY__BASE_MS", "50"),
        ("QUIRE_RETRY__MAX_SECS", "1"),
        ("QUIRE_RESCUE__INTERVAL_MS", "250"),
        ("QUIRE_SHUTDOWN_GRACE_SECS", "1"),
        // The health schedule ticks every second during the workload (its jobs are part of
        // the comparison); it is paused before the table is read.
        ("QUIRE_SCHEDULES__HEALTH__CRON", "* * * * * *"),
        // No other schedule adds jobs.
        ("QUIRE_SCHEDULES__CACHE_WARM__ENABLED", "false"),
        ("QUIRE_SCHEDULES__CLEANUP__ENABLED", "false"),
        ("QUIRE_SCHEDULES__DB_MAINTENANCE__ENABLED", "false"),
        ("RUST_LOG", "warn"),
    ]);
    let key = migrate_and_admin_key(&env);

    let log = |name: &str| dir.path().join(format!("{name}.log"));
    env.push(("QUIRE_BIND".into(), format!("127.0.0.1:{api}")));
    // The API's metrics on its health port, as the deployments scrape them (its public port
    // serves them only with a token).
    let mut api_command = quire(&env, &["api"]);
    api_command.env("QUIRE_HEALTH_BIND", format!("127.0.0.1:{api_health}"));
    let _api = spawn(api_command, &log("api"));
    let mut roles = Vec::new();
    for (name, role, port) in [
        ("worker-1", "worker", w1),
        ("worker-2", "worker", w2),
        ("scheduler", "scheduler", sched),
    ] {
        let mut command = quire(&env, &[role]);
        command.env("QUIRE_HEALTH_BIND", format!("127.0.0.1:{port}"));
        roles.push(spawn(command, &log(name)));
    }
    wait_ready(&format!("{api_url}/ready"), "api", &log("api")).await;
    for (name, port) in [("worker-1", w1), ("worker-2", w2), ("scheduler", sched)] {
        wait_ready(&format!("http://127.0.0.1:{port}/ready"), name, &log(name)).await;
    }

    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n\
             - job_name: quire-api\n  static_configs: [{{targets: ['127.0.0.1:{api_health}']}}]\n\
             - job_name: quire-worker\n  static_configs: [{{targets: ['127.0.0.1:{w1}', '127.0.0.1:{w2}']}}]\n\
             - job_name: quire-scheduler\n  static_configs: [{{targets: ['127.0.0.1:{sched}']}}]\n"
        ),
    )
    .unwrap();
    let _prometheus = spawn(
        {
            let mut c = Command::new(prometheus_bin);
            c.arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("tsdb").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{prom}"))
                .arg("--log.level=warn");
            c
        },
        &log("prometheus"),
    );
    let prometheus = format!("http://127.0.0.1:{prom}");
    wait_ready(
        &format!("{prometheus}/-/ready"),
        "prometheus",
        &log("prometheus"),
    )
    .await;
    eventually(&prometheus, "count(up == 1)", 4.0).await;

    // The workload: 50 certificates through the API, and maintenance probes put in the
    // table and queue directly (the API cannot submit them): 5 that fail permanently, 3 that
    // outlive their timeout twice (dead), 1 cancelled while it waits.
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..50 {
        let response = client
            .post(format!("{api_url}/v1/certificates"))
            .bearer_auth(&key)
            .json(&certificate(&format!("Counted Person {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().parse::<JobId>().unwrap());
    }
    let db = shared::db::Db::connect(&shared::db::DbSettings {
        url: shared::config::Secret::new(database_url.clone()),
        backend: shared::db::DatabaseBackend::Postgres,
        max_connections: 2,
        create_dir: None,
    })
    .await
    .unwrap();
    let queue = shared::queue::Queue::redis(&test_redis_url(), &namespace)
        .await
        .unwrap();
    let owner = db.get_job(ids[0], None).await.unwrap().unwrap().owner_id;
    let probe = |sleep_ms, outcome| shared::jobs::Probe { sleep_ms, outcome };
    use shared::jobs::ProbeOutcome::{FailPermanent, Succeed};
    for p in std::iter::repeat_n(probe(0, FailPermanent), 5)
        .chain(std::iter::repeat_n(probe(3_000, Succeed), 3))
    {
        let job = shared::db::NewJob::probe(&owner, p, 2);
        db.insert_job(&job).await.unwrap();
        queue.push(job.kind.queue(), job.id, None).await.unwrap();
        ids.push(job.id);
    }
    let mut waiting = shared::db::NewJob::probe(&owner, probe(0, Succeed), 2);
    waiting.run_at = Timestamp::now().plus_millis(3_600_000);
    db.insert_job(&waiting).await.unwrap();
    let cancelled = client
        .post(format!("{api_url}/v1/jobs/{}/cancel", waiting.id))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    ids.push(waiting.id);
    // A refused submission, for the HTTP error series.
    let refused = client
        .post(format!("{api_url}/v1/certificates"))
        .bearer_auth(&key)
        .json(&json!({"recipient_name": "No Course"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // At least one tick ran; then no more jobs come from the schedule.
    until(
        &prometheus,
        "sum(quire_schedule_tick_lag_seconds_count)",
        "a tick",
        |n| n >= 1.0,
    )
    .await;
    let paused = client
        .post(format!("{api_url}/v1/schedules/health/pause"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), StatusCode::OK);

    // Every job of the table final: the workload's and the ticks'.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let rows = loop {
        let rows = db
            .jobs_by_ids(&all_job_ids(&database_url).await)
            .await
            .unwrap();
        if rows.iter().all(|r| {
            matches!(
                r.status,
                JobStatus::Succeeded | JobStatus::Dead | JobStatus::Cancelled
            )
        }) {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs not final: {:?}",
            rows.iter()
                .filter(|r| !r.status.is_terminal())
                .map(|r| (r.id, r.kind, r.status, r.run_at, r.priority))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(rows.len() > 59, "the workload and at least one tick");

    // What the table says, per kind and status, against what Prometheus says.
    for kind in ["certificate", "maintenance"] {
        let of_kind: Vec<_> = rows.iter().filter(|r| r.kind.as_str() == kind).collect();
        for status in ["succeeded", "dead", "cancelled"] {
            let n = of_kind
                .iter()
                .filter(|r| r.status.as_str() == status)
                .count();
            eventually(
                &prometheus,
                &format!("sum(quire_jobs_{status}_total{{kind=\"{kind}\"}})"),
                n as f64,
            )
            .await;
        }
        let attempts: i64 = of_kind.iter().map(|r| r.attempt).sum();
        let retried: i64 = of_kind.iter().map(|r| (r.attempt - 1).max(0)).sum();
        for (query, want) in [
            (
                format!("sum(quire_jobs_started_total{{kind=\"{kind}\"}})"),
                attempts,
            ),
            (
                format!("sum(quire_jobs_failed_total{{kind=\"{kind}\"}})"),
                retried,
            ),
            // Every attempt is in the run-time and wait-time histograms.
            (
                format!("sum(quire_job_run_seconds_count{{kind=\"{kind}\"}})"),
                attempts,
            ),
            (
                format!("sum(quire_job_wait_seconds_count{{kind=\"{kind}\"}})"),
                attempts,
            ),
            // Waiting jobs come back to none (the API and scheduler sample every 5 s).
            (format!("max(quire_jobs_queued{{kind=\"{kind}\"}})"), 0),
            (format!("max(quire_jobs_running{{kind=\"{kind}\"}})"), 0),
        ] {
            eventually(&prometheus, &query, want as f64).await;
        }
    }
    for (query, want) in [
        (
            "sum(quire_jobs_submitted_total{kind=\"certificate\"})",
            50.0,
        ),
        (
            "sum(quire_render_seconds_count{kind=\"certificate\"})",
            50.0,
        ),
        ("sum(quire_pdf_bytes_count{kind=\"certificate\"})", 50.0),
        (
            "sum(quire_http_requests_total{route=\"/v1/certificates\",method=\"POST\",status=\"202\"})",
            50.0,
        ),
        ("sum(quire_worker_consuming)", 2.0),
        ("count(quire_build_info)", 4.0),
        ("count(process_resident_memory_bytes)", 4.0),
    ] {
        eventually(&prometheus, query, want).await;
    }

    // Every expression of the alerts and the dashboard parses, runs on this Prometheus and
    // reads data: each dashboard query returns series, each alert's selectors match series.
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let checked = Command::new("python3")
        .arg(deploy.join("prometheus/exprs.py"))
        .arg("--query")
        .arg(&prometheus)
        .arg("--require-data")
        .arg(deploy.join("prometheus/alerts.yml"))
        .arg(deploy.join("grafana/quire.json"))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
