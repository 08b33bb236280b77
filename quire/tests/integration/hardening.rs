//! Security round 3: what a target URL shows in logs and errors, where webhooks may go, what
//! the dashboard's delete keeps, per-address limits for IPv6, who may read `/metrics`, secrets
//! at rest, and bounded DNS lookups.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::processes::{migrate_and_admin_key, quire, settings, spawn, wait_ready};

const WAIT: Duration = Duration::from_secs(60);

/// A webhook target's path and query may hold the receiver's secret: the delivery log, the
/// delivery job's error and the worker's WARN lines show only its scheme, host and port,
/// while its owner still reads the whole URL.
#[tokio::test]
async fn a_target_url_shows_only_scheme_host_and_port_in_logs_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let api = free_port();
    let base = format!("http://127.0.0.1:{api}");
    let env = settings(&[
        ("QUIRE_DATA_DIR", dir.path().to_str().unwrap()),
        ("QUIRE_BIND", &format!("127.0.0.1:{api}")),
        ("QUIRE_WEBHOOKS__ALLOW_HTTP", "true"),
        ("QUIRE_WEBHOOKS__ALLOW_NETWORKS", "127.0.0.0/8"),
        ("QUIRE_WEBHOOKS__PUMP_INTERVAL_MS", "50"),
        ("QUIRE_QUEUES__WEBHOOKS__MAX_ATTEMPTS", "2"),
        ("QUIRE_WEBHOOKS__RETRY__BASE_MS", "50"),
        ("QUIRE_WEBHOOKS__RETRY__MAX_SECS", "1"),
        ("RUST_LOG", "warn"),
    ]);
    let key = migrate_and_admin_key(&env);
    let log = dir.path().join("quire.log");
    let _quire = spawn(quire(&env, &["run"]), &log);
    wait_ready(&format!("{base}/ready"), "quire", &log).await;

    // A loopback port nothing listens on.
    let port = free_port();
    let target = format!("http://127.0.0.1:{port}/hooks/s3cretpath?token=s3cretquery");
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&key)
        .json(&json!({ "url": target, "events": ["job.succeeded"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook = created["id"].as_str().unwrap().to_owned();
    let submitted = client
        .post(format!("{base}/v1/certificates"))
        .bearer_auth(&key)
        .json(&certificate("Quiet Receiver"))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), StatusCode::ACCEPTED);

    // Both attempts fail to connect; the delivery dies.
    let deadline = tokio::time::Instant::now() + WAIT;
    let delivery = loop {
        let page: Value = client
            .get(format!("{base}/v1/webhooks/{hook}/deliveries"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(d) = page["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["status"] == "dead")
        {
            break d.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let shown = format!("http://127.0.0.1:{port}");
    let error = delivery["error"].as_str().unwrap();
    assert!(
        error.contains(&shown) && !error.contains("s3cret"),
        "delivery log: {error}"
    );
    // The owner's own view of the endpoint and delivery keeps the URL whole.
    assert_eq!(delivery["url"], target.as_str());
    let job: Value = client
        .get(format!(
            "{base}/v1/jobs/{}",
            delivery["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = job["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&shown) && !message.contains("s3cret"),
        "job error: {job}"
    );
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(
        lines.contains("attempt failed; will retry") && lines.contains(&shown),
        "the WARN line of the failed attempt: {lines}"
    );
    assert!(!lines.contains("s3cret"), "{lines}");
}
