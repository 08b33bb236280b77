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
    // Changes can no longer be heard: the caches keep nothing, and say so.
    cache_channel_becomes(&app, false).await;

    proxy.set_down(false);
    let after = submit_when_back(&app, &key, "After Outage").await;
    let job = app.wait_for(&key, &after, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    // Only the two accepted jobs exist.
    assert_eq!(app.count_jobs(&key).await, 2);
    // And the caches listen again by themselves.
    cache_channel_becomes(&app, true).await;
    app.stop().await;
}

/// Waits until `/ready` says the caches' invalidation channel is `up`.
async fn cache_channel_becomes(app: &TestApp, up: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let response = app.client.get(app.url("/ready")).send().await.unwrap();
        let body: Value = response.json().await.unwrap_or_default();
        if body["cache"]["up"] == up {
            assert_eq!(body["cache"]["channel"], "postgres", "{body}");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cache channel never became up={up}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `/ready` at `url` answers `status` with `down` containing `must_list`.
async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    status: StatusCode,
    must_list: Option<&str>,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(url).send().await {
            let got = response.status();
            let body: Value = response.json().await.unwrap_or_default();
            let listed = must_list.is_none_or(|m| {
                body["down"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|x| x == m))
            });
            if got == status && listed {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/ready never became {status} listing {must_list:?}: {got} {body}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A standalone worker's `/ready` means "consuming": it says `consumers` when Redis killed
/// them, and ready again once they are restarted and jobs flow.
#[tokio::test]
async fn worker_readiness_means_consuming() {
    let proxy = Proxy::start(&host_port(&test_redis_url())).await;
    let mut app = TestApp::spawn_with(Backend::Production, &[Roles::API], |c| {
        c.redis_url = Some(Secret::new(format!("redis://{}", proxy.addr)));
        c.health_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    app.add(Roles::WORKER).await;
    let health = app
        .apps
        .last()
        .unwrap()
        .health_addr
        .expect("worker serves health");
    let ready = format!("http://{health}/ready");
    wait_ready(&app.client, &ready, StatusCode::OK, None).await;
    let no_api = app
        .client
        .get(format!("http://{health}/v1/jobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_api.status(),
        StatusCode::NOT_FOUND,
        "the worker serves no API"
    );

    proxy.set_down(true);
    wait_ready(
        &app.client,
        &ready,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("consumers"),
    )
    .await;
    proxy.set_down(false);
    wait_ready(&app.client, &ready, StatusCode::OK, None).await;

    let key = app.new_key("ops").await;
    let id = submit_when_back(&app, &key, "After Restart").await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    app.stop().await;
}
