//! Schedules: configuration, the admin API (list, run, pause, resume), exactly one job per
//! tick with two schedulers, overlap and missed-tick policies, and the maintenance tasks
//! they run (cleanup, health, db-maintenance, cache-warm).

use std::time::Duration;

use quire::app::Roles;
use reqwest::StatusCode;
use serde_json::Value;
use shared::config::{Config, MissedTicks, ScheduleConfig};
use shared::domain::{JobId, Timestamp};
use shared::jobs::MaintenanceTask;

use crate::helpers::{Backend, TestApp, certificate, error_of};

fn every_second(task: MaintenanceTask, overlap: bool) -> ScheduleConfig {
    ScheduleConfig {
        task: Some(task),
        cron: "* * * * * *".into(),
        timezone: "UTC".into(),
        enabled: true,
        missed: MissedTicks::Skip,
        overlap,
    }
}

/// Keeps the built-in schedules from firing during a test (they would add jobs of their own).
fn quiet_builtins(config: &mut Config) {
    for schedule in config.schedules.values_mut() {
        schedule.enabled = false;
    }
}

async fn schedules(app: &TestApp) -> Vec<Value> {
    let response = app.get(&app.admin, "/v1/schedules").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["schedules"].as_array().unwrap().clone()
}

async fn schedule(app: &TestApp, name: &str) -> Value {
    schedules(app)
        .await
        .into_iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no schedule {name}"))
}

async fn status_of(app: &TestApp) -> Value {
    app.json_at(Some(&app.admin), app.url("/v1/status")).await
}

/// Runs `name` through the API and waits for its job to finish; the job.
async fn run_now(app: &TestApp, name: &str) -> Value {
    let id = app
        .post_ok(
            &app.admin,
            &format!("/v1/schedules/{name}/run"),
            &Value::Null,
        )
        .await;
    let job = app.wait_for(&app.admin, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{name}: {job}");
    job
}

/// The jobs of `schedule`'s ticks per second of tick time: (tick key, count) for every second
/// seen, so two jobs for one tick count twice even if their keys differed.
async fn tick_jobs(app: &TestApp, schedule: &str) -> Vec<(String, i64)> {
    app.db
        .tick_counts_for_test(schedule)
        .await
        .expect("tick counts")
}

async fn wait_for_ticks(app: &TestApp, schedule: &str, ticks: usize) -> Vec<(String, i64)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen = tick_jobs(app, schedule).await;
        if seen.len() >= ticks {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} ticks of {schedule}: {seen:?}",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn schedules_api(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[Roles::ALL], quiet_builtins).await;
    let listed = schedules(&app).await;
    let names: Vec<&str> = listed.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cache-warm", "cleanup", "db-maintenance", "health"]);
    let cleanup = schedule(&app, "cleanup").await;
    assert_eq!(cleanup["task"], "cleanup");
    assert_eq!(cleanup["cron"], "0 17 3 * * *");
    assert_eq!(cleanup["timezone"], "UTC");
    assert_eq!(cleanup["missed"], "run-once");
    assert_eq!(cleanup["enabled"], false);
    assert!(cleanup["next_run_at"].is_null(), "disabled: {cleanup}");

    // Only admins.
    let user = app.new_key("una").await;
    assert_eq!(
        app.get(&user, "/v1/schedules").await.status(),
        StatusCode::FORBIDDEN
    );
    let (status, error) = error_of(
        app.post(&app.admin, "/v1/schedules/nope/run", &Value::Null)
            .await,
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{error}"
    );

    // Run now: the task's result is the job's, and the schedule shows it as its last run.
    let job = run_now(&app, "db-maintenance").await;
    let expected = match backend {
        Backend::Embedded => "PRAGMA optimize",
        Backend::Production => "ANALYZE",
    };
    assert_eq!(job["summary"]["ran"], expected, "{job}");
    let shown = schedule(&app, "db-maintenance").await;
    assert_eq!(shown["last_run"]["id"], job["id"], "{shown}");
    assert_eq!(shown["last_run"]["status"], "succeeded");

    // cache-warm compiles every public template (the built-in ones at least).
    let job = run_now(&app, "cache-warm").await;
    assert!(job["summary"]["warmed"].as_u64().unwrap() >= 2, "{job}");
    assert_eq!(job["summary"]["failed"], serde_json::json!([]), "{job}");

    // Pause and resume.
    let response = app
        .post(&app.admin, "/v1/schedules/health/pause", &Value::Null)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let paused: Value = response.json().await.unwrap();
    assert_eq!(paused["paused"], true);
    assert!(paused["next_run_at"].is_null());
    assert_eq!(schedule(&app, "health").await["paused"], true);
    let response = app
        .post(&app.admin, "/v1/schedules/health/resume", &Value::Null)
        .await;
    let resumed: Value = response.json().await.unwrap();
    assert_eq!(resumed["paused"], false);
    app.stop().await;
}

#[tokio::test]
async fn embedded_schedules_api() {
    schedules_api(Backend::Embedded).await;
}

#[tokio::test]
async fn production_schedules_api() {
    schedules_api(Backend::Production).await;
}

/// Two schedulers (separate apps, as two processes would be) fire the same every-second
/// schedule: exactly one job per tick, and no tick is missed.
#[tokio::test]
async fn two_schedulers_make_one_job_per_tick() {
    let mut app = TestApp::spawn_with(
        Backend::Production,
        &[Roles::API, Roles::WORKER, Roles::SCHEDULER],
        |c| {
            quiet_builtins(c);
            c.schedules.insert(
                "every-second".into(),
                every_second(MaintenanceTask::DbMaintenance, true),
            );
        },
    )
    .await;
    app.add(Roles::SCHEDULER).await;
    let seen = wait_for_ticks(&app, "every-second", 6).await;
    for (key, count) in &seen {
        assert_eq!(*count, 1, "{key} has {count} jobs");
    }
    // Consecutive seconds: none missing between the first and the last.
    let mut ticks: Vec<i64> = seen
        .iter()
        .map(|(k, _)| k.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    ticks.sort();
    for pair in ticks.windows(2) {
        assert_eq!(pair[1] - pair[0], 1000, "a tick is missing: {ticks:?}");
    }
    app.stop().await;
}

/// Without overlap, a tick is skipped while the previous run is unfinished (here: no worker,
/// so the first tick's job stays queued); with overlap every tick makes a job.
#[tokio::test]
async fn overlap_policy() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API, Roles::SCHEDULER], |c| {
        quiet_builtins(c);
        c.schedules.insert(
            "exclusive".into(),
            every_second(MaintenanceTask::DbMaintenance, false),
        );
        c.schedules.insert(
            "overlapping".into(),
            every_second(MaintenanceTask::DbMaintenance, true),
        );
    })
    .await;
    wait_for_ticks(&app, "overlapping", 4).await;
    let exclusive = tick_jobs(&app, "exclusive").await;
    assert_eq!(exclusive.len(), 1, "{exclusive:?}");
    // The ticks were handled (skipped), so a restart does not count them as missed.
    let shown = schedule(&app, "exclusive").await;
    assert!(shown["last_tick_at"].is_string(), "{shown}");
    assert_eq!(shown["last_run"]["status"], "queued");
    // A run on request is refused the same way.
    let (status, error) = error_of(
        app.post(&app.admin, "/v1/schedules/exclusive/run", &Value::Null)
            .await,
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_running"))
    );
    app.stop().await;
}

/// A scheduler that starts after ticks were missed runs a `run-once` schedule once (for the
/// latest missed tick) and a `skip` schedule not at all.
#[tokio::test]
async fn missed_ticks_policy() {
    let nightly = |missed| ScheduleConfig {
        task: Some(MaintenanceTask::DbMaintenance),
        cron: "0 0 3 * * *".into(),
        timezone: "Europe/Berlin".into(),
        enabled: true,
        missed,
        overlap: false,
    };
    let mut app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        quiet_builtins(c);
        c.schedules
            .insert("catch-up".into(), nightly(MissedTicks::RunOnce));
        c.schedules
            .insert("forget".into(), nightly(MissedTicks::Skip));
        c.schedules.insert(
            "clock".into(),
            every_second(MaintenanceTask::DbMaintenance, true),
        );
    })
    .await;
    // Both last fired three days ago: the schedulers were down since.
    let long_ago = Timestamp::now().plus_millis(-3 * 24 * 3600 * 1000);
    for name in ["catch-up", "forget"] {
        app.db
            .record_schedule_run(name, Some(long_ago), None)
            .await
            .unwrap();
    }
    app.add(Roles::SCHEDULER).await;
    let caught_up = wait_for_ticks(&app, "catch-up", 1).await;
    // The clock's ticks show the scheduler has been running for a while.
    wait_for_ticks(&app, "clock", 2).await;
    assert_eq!(caught_up.len(), 1, "{caught_up:?}");
    let spec = app.config.schedule_spec("catch-up").unwrap();
    let latest = spec.latest_at_or_before(Timestamp::now()).unwrap();
    assert_eq!(caught_up[0].0, spec.tick_key(latest));
    assert!(tick_jobs(&app, "forget").await.is_empty());
    app.stop().await;
}

/// Cleanup deletes finished jobs past their kind's retention for their status, with their
/// files and registry entries, in batches; recent and unfinished jobs stay.
async fn cleanup_deletes_expired_jobs(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[Roles::ALL], |c| {
        quiet_builtins(c);
        c.cleanup.batch_size = 1;
        c.cleanup.retention.certificate.succeeded_days = 30;
        c.cleanup.retention.certificate.dead_days = 90;
    })
    .await;
    let key = app.new_key("vera").await;
    let mut old = Vec::new();
    for name in ["Old One", "Old Two", "Recent"] {
        let id = app.submit_ok(&key, &certificate(name)).await;
        app.wait_for(&key, &id, &["succeeded"]).await;
        old.push(id);
    }
    let recent = old.pop().unwrap();
    let dead = app
        .insert_certificate_row(&key, "retired", Timestamp::now())
        .await;
    app.queue_push(dead).await;
    app.wait_for(&key, &dead.to_string(), &["dead"]).await;
    let files: Vec<std::path::PathBuf> = {
        let mut files = Vec::new();
        for id in &old {
            let row = app
                .db
                .get_job(id.parse().unwrap(), None)
                .await
                .unwrap()
                .unwrap();
            let file = row.result.unwrap()["file"].as_str().unwrap().to_owned();
            let path = app.dir.path().join(file);
            assert!(path.exists());
            files.push(path);
        }
        files
    };
    let day = 24 * 3600 * 1000;
    for id in &old {
        let id: JobId = id.parse().unwrap();
        app.db
            .backdate_finished_for_test(id, Timestamp::now().plus_millis(-31 * day))
            .await
            .unwrap();
    }
    // Dead 31 days: within its 90.
    app.db
        .backdate_finished_for_test(dead, Timestamp::now().plus_millis(-31 * day))
        .await
        .unwrap();
    let job = run_now(&app, "cleanup").await;
    assert_eq!(job["summary"]["deleted"], 2, "{job}");
    assert_eq!(
        job["summary"]["by_kind_and_status"]["certificate/succeeded"], 2,
        "{job}"
    );
    assert_eq!(job["summary"]["files_removed"], 2, "{job}");
    for id in &old {
        // The API keeps finished jobs' views in memory; a deletion by another part of the
        // system (this cleanup, in the worker) reaches it through the database's invalidation
        // log: at once on PostgreSQL (NOTIFY), within one poll of SQLite's log (50 ms).
        let deadline = tokio::time::Instant::now() + shared::db::SQLITE_POLL * 20;
        while app.get(&key, &format!("/v1/jobs/{id}")).await.status() != StatusCode::NOT_FOUND {
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} still served after its deletion"
            );
            tokio::time::sleep(shared::db::SQLITE_POLL / 5).await;
        }
        assert_eq!(
            app.get(&key, &format!("/v1/certificates/{id}"))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
    }
    for file in &files {
        assert!(!file.exists(), "{} still there", file.display());
    }
    assert_eq!(app.job(&key, &recent).await["status"], "succeeded");
    assert_eq!(
        app.get(&key, &format!("/v1/jobs/{recent}/file"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.job(&key, &dead.to_string()).await["status"], "dead");

    // Past 90 days the dead job goes too; a second run finds nothing else.
    app.db
        .backdate_finished_for_test(dead, Timestamp::now().plus_millis(-91 * day))
        .await
        .unwrap();
    let job = run_now(&app, "cleanup").await;
    assert_eq!(
        job["summary"]["by_kind_and_status"]["certificate/dead"], 1,
        "{job}"
    );
    // The deletion reaches the API's cache of finished jobs through the invalidation log
    // (read every 50 ms on SQLite), not through the cleanup's own answer.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while app.get(&key, &format!("/v1/jobs/{dead}")).await.status() != StatusCode::NOT_FOUND {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a deleted job still answers after 2 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // A workflow goes with its last step, its step rows and edges with it.
    let chain = serde_json::json!({"steps": [
        {"name": "first", "kind": "certificate", "certificate": certificate("Chain One")},
        {"name": "second", "kind": "certificate", "after": ["first"],
         "certificate": certificate("Chain Two")},
    ]});
    let workflow = app.post_ok(&key, "/v1/workflows", &chain).await;
    let done = loop {
        let body: Value = app
            .get(&key, &format!("/v1/workflows/{workflow}?wait=30"))
            .await
            .json()
            .await
            .unwrap();
        if body["status"] != "running" {
            break body;
        }
    };
    assert_eq!(done["status"], "completed", "{done}");
    for step in done["steps"].as_array().unwrap() {
        let id: JobId = step["job"]["id"].as_str().unwrap().parse().unwrap();
        app.db
            .backdate_finished_for_test(id, Timestamp::now().plus_millis(-31 * day))
            .await
            .unwrap();
    }
    let job = run_now(&app, "cleanup").await;
    assert_eq!(
        job["summary"]["by_kind_and_status"]["certificate/succeeded"], 2,
        "{job}"
    );
    let gone = app.get(&key, &format!("/v1/workflows/{workflow}")).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let left = app
        .db
        .count_workflow_rows_for_test(&workflow)
        .await
        .unwrap();
    assert_eq!(left, 0, "workflow, step and edge rows left");
    app.stop().await;
}

#[tokio::test]
async fn embedded_cleanup_deletes_expired_jobs() {
    cleanup_deletes_expired_jobs(Backend::Embedded).await;
}

#[tokio::test]
async fn production_cleanup_deletes_expired_jobs() {
    cleanup_deletes_expired_jobs(Backend::Production).await;
}

/// The health task records database, queue, mail and disk; `/v1/status` and `/ready` show
/// them. A failing check (here: more free disk wanted than exists, and an SMTP server that is
/// not there) is recorded as failing with what is wrong.
#[tokio::test]
async fn health_task_records_checks() {
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], quiet_builtins).await;
    let status: Value = status_of(&app).await;
    assert!(status["health"].is_null(), "not run yet: {status}");
    let job = run_now(&app, "health").await;
    assert_eq!(job["summary"]["ok"], true, "{job}");
    let status: Value = status_of(&app).await;
    let checks = status["health"]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["database", "disk", "mail", "queue", "storage"],
        "{status}"
    );
    assert!(checks.iter().all(|c| c["ok"] == true), "{status}");
    assert_eq!(status["health"]["ok"], true);
    // The jobs table by queue and status: the health job itself succeeded.
    let maintenance = status["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "maintenance")
        .expect("maintenance counts");
    assert!(
        maintenance["jobs"]["succeeded"].as_i64().unwrap() >= 1,
        "{status}"
    );
    let user = app.new_key("walt").await;
    assert_eq!(
        app.get(&user, "/v1/status").await.status(),
        StatusCode::FORBIDDEN
    );
    let ready: Value = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["recorded"]["ok"], true, "{ready}");
    // No key there: the summary only, never the checks' details (paths, disk, errors).
    assert!(ready["recorded"].get("checks").is_none(), "{ready}");
    assert!(!ready.to_string().contains("detail"), "{ready}");
    app.stop().await;

    let port = crate::helpers::free_port();
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        quiet_builtins(c);
        c.health.min_free_disk_mb = u64::MAX / (1024 * 1024 * 2);
        c.smtp.host = Some("127.0.0.1".into());
        c.smtp.port = port;
        c.smtp.tls = shared::config::SmtpTls::None;
        c.smtp.timeout_secs = 2;
    })
    .await;
    let job = run_now(&app, "health").await;
    assert_eq!(job["summary"]["ok"], false, "{job}");
    let status: Value = status_of(&app).await;
    let check = |name: &str| {
        status["health"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(check("disk")["ok"], false, "{status}");
    assert!(
        check("disk")["detail"]
            .as_str()
            .unwrap()
            .contains("MiB free")
    );
    assert_eq!(check("mail")["ok"], false, "{status}");
    assert_eq!(check("database")["ok"], true, "{status}");
    assert_eq!(status["health"]["ok"], false);
    app.stop().await;
}

/// The rescuer is not a queued job: while the `maintenance` queue's only slot is held by a
/// long cleanup (50,000 expired rows, deleted one per transaction), a job whose worker died
/// (a running row whose lease nobody extends: what a SIGKILLed worker leaves) runs again
/// within its lease plus 2 s, with the default rescue interval.
async fn rescue_runs_beside_a_long_cleanup(backend: Backend) {
    use shared::domain::JobStatus;
    const ROWS: i64 = 50_000;
    const LEASE_MS: i64 = 5_000;
    let app = TestApp::spawn_with(backend, &[Roles::ALL], |c| {
        quiet_builtins(c);
        c.queues.maintenance.concurrency = 1;
        c.cleanup.batch_size = 1;
        c.cleanup.max_per_run = ROWS as u32;
        c.rescue.interval_ms = 1_000;
        c.rescue.lease_secs = (LEASE_MS / 1000) as u64;
        c.shutdown_grace_secs = 1;
    })
    .await;
    let key = app.new_key("rita").await;

    // 50,000 maintenance jobs that finished 30 days ago (kept 7): one statement.
    let pool = sqlx::AnyPool::connect(app.config.database_url().expose())
        .await
        .unwrap();
    let old = Timestamp::now()
        .plus_millis(-30 * 24 * 3600 * 1000)
        .millis();
    // Job ids are UUIDs: the row number fills the last group (the dialects pad differently).
    let padded = match app.db.backend() {
        shared::config::DatabaseBackend::Postgres => "lpad(i::text, 12, '0')",
        shared::config::DatabaseBackend::Sqlite => "printf('%012d', i)",
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO jobs (id, kind, queue, owner_id, status, attempt, max_attempts, run_at, \
         payload, created_at, finished_at, updated_at) \
         SELECT '00000000-0000-7000-8000-' || {padded}, 'maintenance', 'maintenance', 'system', \
         'succeeded', 1, 1, $1, '{{}}', $1, $1, $1 \
         FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
         SELECT i FROM n) AS s"
    )))
    .bind(old)
    .bind(ROWS)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let cleanup: JobId = app
        .post_ok(&app.admin, "/v1/schedules/cleanup/run", &Value::Null)
        .await
        .parse()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.db.get_job(cleanup, None).await.unwrap().unwrap().status != JobStatus::Running {
        assert!(
            tokio::time::Instant::now() < deadline,
            "cleanup never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let victim = app
        .insert_certificate_row(&key, "classic", Timestamp::now())
        .await;
    let claimed_before = Timestamp::now();
    app.db
        .claim_job(victim, "quire-killed-1-gone", LEASE_MS)
        .await
        .unwrap()
        .expect("claimed by the worker that dies");
    let lease_expired = claimed_before.plus_millis(LEASE_MS);

    let job = app
        .wait_for(&key, &victim.to_string(), &["succeeded", "dead"])
        .await;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_i64()),
        (Some("succeeded"), Some(2)),
        "{job}"
    );
    let row = app.db.get_job(victim, None).await.unwrap().unwrap();
    let again_after = row.started_at.unwrap().millis() - lease_expired.millis();
    let cleanup_row = app.db.get_job(cleanup, None).await.unwrap().unwrap();
    assert!(
        cleanup_row.status == JobStatus::Running
            || cleanup_row.finished_at.unwrap().millis() > row.started_at.unwrap().millis(),
        "the cleanup ended before the rescue: {cleanup_row:?}"
    );
    println!(
        "rescue under cleanup ({backend:?}): running again {again_after} ms after the lease expired"
    );
    assert!(
        again_after <= 2_000,
        "running again {again_after} ms after its lease expired (at most 2,000)"
    );
    app.stop().await;
}

#[tokio::test]
async fn embedded_rescue_runs_beside_a_long_cleanup() {
    rescue_runs_beside_a_long_cleanup(Backend::Embedded).await;
}

#[tokio::test]
async fn production_rescue_runs_beside_a_long_cleanup() {
    rescue_runs_beside_a_long_cleanup(Backend::Production).await;
}
