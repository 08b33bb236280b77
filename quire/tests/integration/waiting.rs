//! Long-polling (`?wait=`): an answer as soon as the job or batch is finished, woken by the
//! worker's event (across API processes through Redis), or after the wait with the state
//! then; bad waits are 400s.

use std::time::{Duration, Instant};

use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_of};

async fn long_poll(backend: Backend) {
    // Production: the API that waits is another process than the worker's and the one that
    // takes the submissions, so the event must cross Redis.
    let roles: &[Roles] = match backend {
        Backend::Embedded => &[Roles::ALL],
        Backend::Production => &[Roles::ALL, Roles::API],
    };
    let app = TestApp::spawn_with(backend, roles, |_| {}).await;
    let waiting_base = format!("http://{}", app.apps.last().unwrap().addr.unwrap());
    let key = app.new_key("waiter").await;
    let probe = shared::jobs::Probe {
        sleep_ms: 2_500,
        outcome: shared::jobs::ProbeOutcome::Succeed,
    };
    let id = app.insert_probe(&key, probe, 1).await;

    // Not finished within the wait: its state then.
    let started = Instant::now();
    let view: Value = app
        .json_at(Some(&key), format!("{waiting_base}/v1/jobs/{id}?wait=1"))
        .await;
    assert!(
        matches!(view["status"].as_str(), Some("queued" | "running")),
        "{view}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );

    // Finished while the client waits: answered at once, not at the next re-read (5 s).
    let started = Instant::now();
    let view: Value = app
        .json_at(Some(&key), format!("{waiting_base}/v1/jobs/{id}?wait=30"))
        .await;
    assert_eq!(view["status"], "succeeded", "{view}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "answered after {took:?}");

    // A batch: answered once every job is finished.
    let rows: Vec<Value> = (0..4)
        .map(|i| json!({ "recipient_name": format!("Row {i}"), "course_name": "Waiting" }))
        .collect();
    let batch = app
        .post(&key, "/v1/certificates/batch", &json!({ "rows": rows }))
        .await;
    assert_eq!(batch.status(), StatusCode::ACCEPTED);
    let batch: Value = batch.json().await.unwrap();
    let url = format!(
        "{waiting_base}/v1/batches/{}?wait=30",
        batch["id"].as_str().unwrap()
    );
    let view = app.json_at(Some(&key), url).await;
    assert_eq!(view["complete"], true, "{view}");
    assert_eq!(view["counts"]["succeeded"], 4, "{view}");

    // A finished job answers at once; a wait beyond 60 s is refused.
    let started = Instant::now();
    let view = app
        .json_at(Some(&key), format!("{waiting_base}/v1/jobs/{id}?wait=30"))
        .await;
    assert_eq!(view["status"], "succeeded");
    assert!(started.elapsed() < Duration::from_secs(1));
    let refused = app.get(&key, &format!("/v1/jobs/{id}?wait=61")).await;
    let (status, body) = error_of(refused).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "wait", "{body}");
    app.stop().await;
}

#[tokio::test]
async fn embedded_long_poll() {
    long_poll(Backend::Embedded).await;
}

#[tokio::test]
async fn production_long_poll_across_api_processes() {
    long_poll(Backend::Production).await;
}
