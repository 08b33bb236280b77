//! Cancelling a running job: `POST /v1/jobs/{id}/cancel` answers 202, the worker holding the job is
//! signalled (in-process with SQLite, Redis pub/sub in production, or its heartbeat when the
//! signal is missed) and the job ends `cancelled` at the handler's next safe point.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shared::db::FailOutcome;
use shared::domain::{JobId, Timestamp};
use shared::jobs::{Probe, ProbeOutcome};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;
use quire::Roles;

/// A probe that would hold its worker for 20 s: anything much faster is the cancel at work.
const LONG: Probe = Probe {
    sleep_ms: 20_000,
    outcome: ProbeOutcome::Succeed,
};

/// Far below the probe's 20 s, and below a heartbeat of the default lease: the signal did it.
const QUICKLY: Duration = Duration::from_secs(5);

async fn cancel(app: &TestApp, key: &str, id: &str) -> Response {
    app.client
        .post(app.url(&format!("/v1/jobs/{id}/cancel")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// Checks the job ended `cancelled` by a cancel request on its first attempt, within `within`
/// of `asked`.
async fn assert_cancelled(
    app: &TestApp,
    key: &str,
    id: &str,
    asked: tokio::time::Instant,
    within: Duration,
) -> Value {
    let job = app
        .wait_for(key, id, &["cancelled", "succeeded", "failed", "dead"])
        .await;
    let took = asked.elapsed();
    assert_eq!(job["status"], "cancelled", "{job}");
    assert!(took < within, "cancelled only after {took:?}: {job}");
    assert_eq!(job["error"]["code"], "cancelled", "{job}");
    assert_eq!(job["attempt"], 1, "{job}");
    assert_eq!(job["cancel_requested"], true, "{job}");
    assert!(job["finished_at"].is_string(), "{job}");
    assert!(job["result"].is_null(), "{job}");
    job
}

/// The whole story on one deployment: a running job is cancelled through the API, quickly,
/// and never runs again; another owner cannot see it; a finished job cannot be cancelled.
async fn cancel_running(mut app: TestApp, worker_apart: bool) {
    if worker_apart {
        app.add(Roles::WORKER).await;
    }
    let key = app.new_key("dana").await;
    let id = app.insert_probe(&key, LONG, 3).await;
    let job = app.wait_for(&key, &id, &["running"]).await;
    assert_eq!(job["cancel_requested"], false, "{job}");

    // Ids are not probeable: someone else's job is unknown.
    let other = app.new_key("eve").await;
    let (status, error) = error_of(cancel(&app, &other, &id).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");

    let asked = tokio::time::Instant::now();
    let response = cancel(&app, &key, &id).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["status"], "running", "{view}");
    assert_eq!(view["cancel_requested"], true, "{view}");
    assert_eq!(view["id"], id.as_str());

    // Asking again is harmless: 202 while the request is pending, 409 if the worker was
    // quicker (the pending case is checked deterministically in
    // `a_cancel_request_is_never_retried`).
    let again = cancel(&app, &key, &id).await.status();
    assert!(
        again == StatusCode::ACCEPTED || again == StatusCode::CONFLICT,
        "{again}"
    );

    assert_cancelled(&app, &key, &id, asked, QUICKLY).await;

    // Finished now: a further DELETE is refused, and there is no file.
    let (status, error) = error_of(cancel(&app, &key, &id).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "not_cancellable");
    let response = app.get(&key, &format!("/v1/jobs/{id}/file")).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // The worker is free and takes the next job; a succeeded job is not cancellable.
    let next = app
        .insert_probe(
            &key,
            Probe {
                sleep_ms: 0,
                outcome: ProbeOutcome::Succeed,
            },
            3,
        )
        .await;
    let done = app.wait_for(&key, &next, &["succeeded", "dead"]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (status, error) = error_of(cancel(&app, &key, &next).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "not_cancellable");
    assert_eq!(app.job(&key, &next).await["cancel_requested"], false);

    // Not run again: still cancelled after its first and only attempt.
    let job = app.job(&key, &id).await;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_i64()),
        (Some("cancelled"), Some(1)),
        "{job}"
    );
    app.stop().await;
}

#[tokio::test]
async fn embedded_cancel_running() {
    let app = TestApp::spawn(Backend::Embedded).await;
    cancel_running(app, false).await;
}

#[tokio::test]
async fn production_cancel_running() {
    let app = TestApp::spawn(Backend::Production).await;
    cancel_running(app, false).await;
}

/// The API and the worker are different processes: the signal crosses over Redis.
#[tokio::test]
async fn production_cancel_running_with_separate_api_and_worker() {
    let app = TestApp::spawn_with(Backend::Production, &[Roles::API], |_| {}).await;
    cancel_running(app, true).await;
}

/// No signal at all (as when a pub/sub message is lost): the request is only in the row, and
/// the attempt's heartbeat finds it. A 5 s lease heartbeats every ~1.7 s.
async fn heartbeat_finds_the_request(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[Roles::ALL], |c| c.rescue.lease_secs = 5).await;
    let key = app.new_key("hank").await;
    let id = app.insert_probe(&key, LONG, 3).await;
    app.wait_for(&key, &id, &["running"]).await;
    let job_id: JobId = id.parse().unwrap();

    // What the API does, minus the signal. A second request keeps the first one's time.
    let asked = tokio::time::Instant::now();
    let mut requested_at = Vec::new();
    for _ in 0..2 {
        match app.db.cancel_job(job_id, None).await.unwrap() {
            shared::db::CancelOutcome::Requested(job) => {
                requested_at.push(job.cancel_requested_at.expect("recorded"));
            }
            other => panic!("expected a recorded request, got {other:?}"),
        }
    }
    assert_eq!(requested_at[0], requested_at[1]);
    // One heartbeat interval, and the probe's next step.
    assert_cancelled(&app, &key, &id, asked, Duration::from_secs(4)).await;
    app.stop().await;
}

#[tokio::test]
async fn embedded_heartbeat_finds_a_cancel_request() {
    heartbeat_finds_the_request(Backend::Embedded).await;
}

#[tokio::test]
async fn production_heartbeat_finds_a_cancel_request() {
    heartbeat_finds_the_request(Backend::Production).await;
}

/// Whatever else ends an attempt whose job has a cancel request (a retryable failure, an
/// expired lease, a shutdown that hands jobs back), the job ends `cancelled` instead of
/// running again. No worker runs: the test claims the jobs and plays the worker's part.
async fn a_cancel_request_is_never_retried(backend: Backend) {
    use worker::executor::Executor;

    let app = TestApp::spawn_with(backend, &[Roles::API], |_| {}).await;
    let key = app.new_key("ivan").await;
    let lease = 60_000;
    let mut ids = Vec::new();
    for name in ["Failing", "Expiring", "Released"] {
        let id: JobId = app
            .submit_ok(&key, &certificate(name))
            .await
            .parse()
            .unwrap();
        ids.push(id);
    }
    let [failing, expiring, released] = ids[..] else {
        unreachable!()
    };

    // A retryable failure after the request: cancelled, not failed.
    let claimed = app
        .db
        .claim_job(failing, "w", lease)
        .await
        .unwrap()
        .unwrap();
    // Running, so the request is recorded and answered 202, as often as it is made.
    for _ in 0..2 {
        let response = cancel(&app, &key, &failing.to_string()).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let view: Value = response.json().await.unwrap();
        assert_eq!(
            (view["status"].as_str(), &view["cancel_requested"]),
            (Some("running"), &json!(true)),
            "{view}"
        );
    }
    let outcome = app
        .db
        .fail_job(
            failing,
            &claimed.lease_token,
            "storage_failed",
            "disk full",
            Some(Timestamp::now()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome, FailOutcome::Cancelled);

    // The worker died (its lease is already over): the rescuer cancels instead of retrying.
    app.db
        .claim_job(expiring, "gone", -1)
        .await
        .unwrap()
        .unwrap();
    let response = cancel(&app, &key, &expiring.to_string()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (retry, dead) = app.db.expire_leases(100).await.unwrap();
    assert!(retry.iter().all(|j| j.id != expiring), "{retry:?}");
    assert!(!dead.contains(&expiring), "{dead:?}");

    // Shutdown hands running jobs back, but not one whose cancelling was asked.
    let stopping = Executor::new(app.job_context(), "stopping-worker".into());
    stopping.claim_for_test(released).await.expect("claimed");
    let response = cancel(&app, &key, &released.to_string()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(stopping.release_running().await, 0);

    for id in [failing, expiring, released] {
        let job = app.job(&key, &id.to_string()).await;
        assert_eq!(job["status"], "cancelled", "{job}");
        assert_eq!(job["attempt"], 1, "{job}");
        assert_eq!(job["cancel_requested"], true, "{job}");
        assert!(job["finished_at"].is_string(), "{job}");
    }
    app.stop().await;
}

#[tokio::test]
async fn embedded_a_cancel_request_is_never_retried() {
    a_cancel_request_is_never_retried(Backend::Embedded).await;
}

#[tokio::test]
async fn production_a_cancel_request_is_never_retried() {
    a_cancel_request_is_never_retried(Backend::Production).await;
}

/// The handlers' safe points: a cancelled certificate attempt stops before rendering and
/// writes no file; a cancelled email attempt stops before sending and mails nobody.
#[tokio::test]
async fn handlers_stop_at_safe_points() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |_| {}).await;
    let key = app.new_key("judy").await;
    let ctx = app.job_context();
    let cancelled = CancellationToken::new();
    cancelled.cancel();

    let id: JobId = app
        .submit_ok(&key, &certificate("Never Rendered"))
        .await
        .parse()
        .unwrap();
    let claimed = app.db.claim_job(id, "w", 60_000).await.unwrap().unwrap();
    let run = worker::jobs::dispatch(&ctx, &claimed);
    let err = worker::jobs::with_cancellation(cancelled.clone(), run)
        .await
        .0
        .expect_err("cancelled");
    assert!(err.is_cancellation(), "{err:?}");
    assert!(!app.dir.path().join("outputs").exists() || is_empty(&app.dir.path().join("outputs")));

    let id: JobId = app
        .post_ok(
            &app.admin,
            "/v1/emails",
            &json!({"to": ["ana@example.com"], "template": "generic",
                    "vars": {"subject": "Never", "text": "Never sent"}}),
        )
        .await
        .parse()
        .unwrap();
    let claimed = app.db.claim_job(id, "w", 60_000).await.unwrap().unwrap();
    let run = worker::jobs::dispatch(&ctx, &claimed);
    let err = worker::jobs::with_cancellation(cancelled, run)
        .await
        .0
        .expect_err("cancelled");
    assert!(err.is_cancellation(), "{err:?}");
    let mail = app.dir.path().join("mail");
    assert!(!mail.exists() || is_empty(&mail), "an email was written");
    assert!(app.db.email_send(id).await.unwrap().is_none());
    app.stop().await;
}

fn is_empty(dir: &std::path::Path) -> bool {
    walk(dir).is_empty()
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
