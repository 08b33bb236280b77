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

/// A key and its id.
async fn key_with_id(app: &TestApp, name: &str) -> (String, String) {
    let created = app.db.create_key(name, false).await.unwrap();
    (created.secret.expose().clone(), created.key.id)
}

/// Where a webhook may point: globally reachable addresses only (the IPv6 forms of internal
/// IPv4 addresses and the special-purpose blocks the deny-list let through are refused), on
/// an allowed port; and a key given networks of its own reaches them, another key does not.
#[tokio::test]
async fn webhook_targets_are_public_addresses_on_allowed_ports_or_a_key_s_own_networks() {
    use quire::Roles;
    let rx = crate::receiver::Receiver::start().await;
    let port: u16 = host_port(&rx.url)
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap();
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], move |c| {
        c.webhooks.allow_http = true;
        c.webhooks.allowed_ports = format!("443, {port}");
        c.webhooks.pump_interval_ms = 50;
    })
    .await;
    let (plain, _) = key_with_id(&app, "plain").await;
    let (trusted, trusted_id) = key_with_id(&app, "trusted").await;
    let loopback = shared::webhooks::Networks::parse("127.0.0.0/8").unwrap();
    assert!(
        app.db
            .set_key_allow_networks(&trusted_id, &loopback)
            .await
            .unwrap()
    );
    let create = |key: String, url: String| {
        let app = &app;
        async move {
            app.post(
                &key,
                "/v1/webhooks",
                &json!({ "url": url, "events": ["job.succeeded"] }),
            )
            .await
        }
    };
    for url in [
        "https://[::7f00:1]/hook",                // IPv4-compatible loopback
        "https://[::a9fe:a9fe]/latest/meta-data", // IPv4-compatible metadata
        "https://[64:ff9b:1::a9fe:a9fe]/",        // local-use NAT64
        "https://[2002:a9fe:a9fe::1]/",           // 6to4 of the metadata address
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", // Teredo of 127.0.0.1
        "https://[fec0::1]/hook",                 // site-local
        "https://192.0.0.170/hook",               // IETF protocol assignments
    ] {
        for key in [&plain, &trusted] {
            let (status, body) = error_of(create(key.clone(), url.to_owned()).await).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
            assert_eq!(body["code"], "forbidden_target", "{url}: {body}");
        }
    }
    let (status, body) =
        error_of(create(plain.clone(), "https://example.com:22/hook".into()).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_url", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("webhooks.allowed_ports"),
        "{body}"
    );

    // Loopback: not for the plain key (webhook or callback), yes for the trusted one.
    let (status, body) = error_of(create(plain.clone(), rx.url.clone()).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "forbidden_target", "{body}");
    let mut with_callback = certificate("Called Back");
    with_callback["callback_url"] = json!(rx.url);
    let (status, body) = error_of(app.submit(&plain, &with_callback).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        create(trusted.clone(), rx.url.clone()).await.status(),
        StatusCode::CREATED
    );
    let id = app.submit_ok(&trusted, &with_callback).await;
    // The endpoint's job.succeeded and the callback: both delivered to loopback.
    let got = rx.wait_for(2, WAIT).await;
    assert!(
        got.iter().all(|d| d.json()["data"]["id"] == id.as_str()),
        "{got:?}"
    );
    app.stop().await;
}
