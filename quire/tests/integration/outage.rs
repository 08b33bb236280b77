//! Dependencies going down: submissions answer 503 with Retry-After and leave nothing behind;
//! when the dependency returns, work resumes and every accepted job completes.

use std::time::Duration;

use quire::Roles;
use reqwest::StatusCode;
use serde_json::Value;
use shared::config::Secret;

use crate::helpers::*;

/// Submits until accepted (the dependency is back), within a bound.
async fn submit_when_back(app: &TestApp, key: &str, name: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let response = app.submit(key, &certificate(name)).await;
        if response.status() == StatusCode::ACCEPTED {
            let body: Value = response.json().await.unwrap();
            return body["id"].as_str().unwrap().to_owned();
        }
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn expect_unavailable(app: &TestApp, key: &str, what: &str) {
    let response = app.submit(key, &certificate("During Outage")).await;
    let status = response.status();
    if status != StatusCode::SERVICE_UNAVAILABLE {
        panic!(
            "expected 503, got {status}: {}",
            response.text().await.unwrap()
        );
    }
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("5")
    );
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{error}");
    assert_eq!(error["code"], "unavailable");
    let ready = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert!(
        body["down"].as_array().unwrap().iter().any(|d| d == what),
        "{body}"
    );
}

#[tokio::test]
async fn redis_outage_gives_503_and_recovers() {
    let proxy = Proxy::start(&host_port(&test_redis_url())).await;
    let app = TestApp::spawn_with(
        Backend::Production,
        &[Roles::API, Roles::WORKER, Roles::SCHEDULER],
        |c| {
            c.redis_url = Some(Secret::new(format!("redis://{}", proxy.addr)));
        },
    )
    .await;
    let key = app.new_key("ops").await;
    let before = app.submit_ok(&key, &certificate("Before Outage")).await;
    app.wait_for(&key, &before, &["succeeded"]).await;

    proxy.set_down(true);
    expect_unavailable(&app, &key, "queue").await;
    // The refused submission left no row.
    assert_eq!(app.count_jobs(&key).await, 1);

    proxy.set_down(false);
    let after = submit_when_back(&app, &key, "After Outage").await;
    let job = app.wait_for(&key, &after, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    app.stop().await;
}

#[tokio::test]
async fn postgres_outage_gives_503_and_recovers() {
    let proxy = Proxy::start(&host_port(&test_database_url())).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = production_config(&dir).await;
    let url = config.database_url.take().unwrap().expose().clone();
    let proxied = url.replace(&host_port(&url), &proxy.addr.to_string());
    config.database_url = Some(Secret::new(proxied));
    let app =
        TestApp::spawn_config(config, dir, &[Roles::API, Roles::WORKER, Roles::SCHEDULER]).await;
    let key = app.new_key("ops").await;
    let before = app.submit_ok(&key, &certificate("Before Outage")).await;
    app.wait_for(&key, &before, &["succeeded"]).await;

    proxy.set_down(true);
    expect_unavailable(&app, &key, "database").await;

    proxy.set_down(false);
    let after = submit_when_back(&app, &key, "After Outage").await;
    let job = app.wait_for(&key, &after, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    // Only the two accepted jobs exist.
    assert_eq!(app.count_jobs(&key).await, 2);
    app.stop().await;
}
