//! Webhooks, checked with a real HTTP receiver on loopback and the Standard Webhooks reference
//! implementation: signed deliveries of each event type, the retry schedule (and
//! `Retry-After`), permanent failures, disabling after repeated failures (with the email),
//! refused targets at creation and at delivery, secret rotation with its overlap, one-off
//! callback URLs, the delivery log with test and retry, and a worker stopped mid-delivery.

use std::time::Duration;

use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, certificate, error_of};
use crate::receiver::{Receiver, Reply, verified_by_reference};

/// Deliveries may go to loopback (the receiver) and retry fast.
fn loopback(c: &mut shared::config::Config) {
    c.webhooks.allow_http = true;
    c.webhooks.allow_networks = "127.0.0.0/8".into();
    c.webhooks.retry.base_ms = 200;
    c.webhooks.retry.max_secs = 2;
    c.webhooks.pump_interval_ms = 50;
}

const WAIT: Duration = Duration::from_secs(60);

async fn create_hook(app: &TestApp, key: &str, url: &str, events: &[&str]) -> (String, String) {
    let response = app
        .post(
            key,
            "/v1/webhooks",
            &json!({ "url": url, "events": events }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn patch(app: &TestApp, key: &str, hook: &str, body: &Value) -> Value {
    let response = app
        .client
        .patch(app.url(&format!("/v1/webhooks/{hook}")))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The endpoint's delivery log once `done` holds for it (polled: the log is what a user
/// reads; each entry is written after the receiver answered).
async fn log_until(
    app: &TestApp,
    key: &str,
    hook: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let page: Value = app
            .json_at(
                Some(key),
                app.url(&format!("/v1/webhooks/{hook}/deliveries")),
            )
            .await;
        let entries = page["deliveries"].as_array().unwrap().clone();
        if done(&entries) {
            return entries;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "log never settled: {:?}",
            entries
                .iter()
                .map(|e| (&e["status"], &e["attempts"], &e["error"]))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_status(entries: &[Value], n: usize, status: &str) -> bool {
    entries.len() == n && entries.iter().all(|e| e["status"] == status)
}

async fn signed_deliveries(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[Roles::ALL], loopback).await;
    let rx = Receiver::start().await;
    let key = app.new_key("hooks").await;
    let (hook, secret) = create_hook(&app, &key, &rx.url, &["job.succeeded", "job.dead"]).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    // The secret is shown once.
    let shown: Value = app
        .json_at(Some(&key), app.url(&format!("/v1/webhooks/{hook}")))
        .await;
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(shown["enabled"], true);

    let mut ids = Vec::new();
    for name in ["Ada Hook", "Grace Hook", "Linus Hook"] {
        ids.push(app.submit_ok(&key, &certificate(name)).await);
    }
    let probe = shared::jobs::Probe {
        sleep_ms: 0,
        outcome: shared::jobs::ProbeOutcome::FailPermanent,
    };
    // `owner_of` submits one more certificate: five events in all.
    let dead = app.insert_probe(&key, probe, 1).await;
    let got = rx.wait_for(5, WAIT).await;
    assert!(verified_by_reference(&secret, &got), "signatures");
    let bodies: Vec<Value> = got.iter().map(|d| d.json()).collect();
    for id in &ids {
        let body = bodies
            .iter()
            .find(|b| b["data"]["id"] == id.as_str())
            .unwrap_or_else(|| panic!("no delivery for {id}: {bodies:?}"));
        assert_eq!(body["type"], "job.succeeded");
        assert_eq!(body["data"]["status"], "succeeded");
        assert!(
            body["data"]["result"]["file"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/v1/jobs/{id}/file")),
            "{body}"
        );
    }
    let died = bodies
        .iter()
        .find(|b| b["data"]["id"] == dead.as_str())
        .unwrap();
    assert_eq!(died["type"], "job.dead", "{died}");
    // One webhook-id per event.
    let mut msg_ids: Vec<&str> = got.iter().map(|d| d.id.as_str()).collect();
    msg_ids.sort_unstable();
    msg_ids.dedup();
    assert_eq!(msg_ids.len(), 5);

    let log = log_until(&app, &key, &hook, |e| all_status(e, 5, "succeeded")).await;
    for entry in &log {
        assert_eq!(entry["attempts"], 1, "{entry}");
        assert_eq!(entry["response_status"], 200, "{entry}");
        assert_eq!(entry["response_body"], "receiver says hello", "{entry}");
        assert!(entry["response_ms"].as_i64().is_some(), "{entry}");
    }
    // No other event (the running ones) was delivered.
    assert_eq!(rx.received().len(), 5);
    app.stop().await;
}

#[tokio::test]
async fn deliveries_are_signed_per_the_standard_embedded() {
    signed_deliveries(Backend::Embedded).await;
}

#[tokio::test]
async fn deliveries_are_signed_per_the_standard_production() {
    signed_deliveries(Backend::Production).await;
}

#[tokio::test]
async fn failures_retry_with_backoff_and_retry_after_and_410_is_permanent() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], loopback).await;
    let rx = Receiver::start().await;
    let key = app.new_key("retries").await;
    let (hook, _) = create_hook(&app, &key, &rx.url, &["job.succeeded"]).await;
    rx.script([
        Reply::status(503),
        Reply::status(500),
        Reply {
            status: 429,
            retry_after: Some("2".into()),
        },
    ]);
    app.submit_ok(&key, &certificate("Backoff")).await;
    let got = rx.wait_for(4, WAIT).await;
    assert!(
        got.iter().all(|d| d.id == got[0].id),
        "one webhook-id across retries"
    );
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    // Backoff base 200 ms, doubling, jitter between half and all: at least 100, 200 ms;
    // then the answer's Retry-After (2 s) beats the backoff (400–800 ms).
    assert!(gaps[0] >= Duration::from_millis(100), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(200), "{gaps:?}");
    assert!(gaps[1] > gaps[0] / 2, "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(1900), "{gaps:?}");
    let log = log_until(&app, &key, &hook, |e| all_status(e, 1, "succeeded")).await;
    assert_eq!(log[0]["attempts"], 4, "{log:?}");

    // 410 Gone: permanent, one attempt.
    rx.script([Reply::status(410)]);
    app.submit_ok(&key, &certificate("Gone")).await;
    let log = log_until(&app, &key, &hook, |e| {
        e.len() == 2 && e[0]["status"] == "dead"
    })
    .await;
    assert_eq!(log[0]["attempts"], 1, "{log:?}");
    assert_eq!(log[0]["response_status"], 410, "{log:?}");
    assert_eq!(rx.received().len(), 5);
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_disable_the_endpoint_and_email_its_owner() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        loopback(c);
        c.webhooks.disable_after_failures = 3;
        c.webhooks.retry.base_ms = 20;
        c.webhooks.retry.max_secs = 1;
        // Each delivery dies after two failed attempts.
        c.queues.webhooks.max_attempts = 2;
    })
    .await;
    let rx = Receiver::start().await;
    rx.set_default(Some(Reply::status(500)));
    let key = app.new_key("flaky").await;
    let owner = app.owner_of(&key).await;
    let address = shared::domain::EmailAddress::parse("ops@example.com").unwrap();
    assert!(
        app.db
            .set_key_notify_email(&owner, Some(&address))
            .await
            .unwrap()
    );
    let (hook, _) = create_hook(&app, &key, &rx.url, &["*"]).await;
    let mut dying = Vec::new();
    for name in ["Never Heard", "Nor This", "Nor That"] {
        dying.push(app.submit_ok(&key, &certificate(name)).await);
    }
    // Retried attempts do not count; the third dead delivery in a row disables it.
    let deadline = tokio::time::Instant::now() + WAIT;
    let view = loop {
        let view: Value = app
            .json_at(Some(&key), app.url(&format!("/v1/webhooks/{hook}")))
            .await;
        if view["enabled"] == false {
            break view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never disabled: {view}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // (Deliveries die side by side: the count may pass 3 by those in flight.)
    assert!(
        view["consecutive_failures"].as_i64().unwrap() >= 3,
        "{view}"
    );
    // Three died of their two attempts; any left then died at their next one, refused by
    // the disabled endpoint without another request.
    let log = log_until(&app, &key, &hook, |e| {
        e.iter()
            .filter(|d| d["status"] == "dead" && d["attempts"] == 2)
            .count()
            >= 3
    })
    .await;
    assert!(
        log.iter().all(|d| d["attempts"].as_i64() <= Some(2)),
        "{log:?}"
    );
    // The notice went out (embedded: the outbox of .eml files).
    let mail_dir = app.dir.path().join("mail");
    let deadline = tokio::time::Instant::now() + WAIT;
    let notice = loop {
        let found = std::fs::read_dir(&mail_dir).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .find(|m| m.contains("Webhook disabled"))
        });
        if let Some(m) = found {
            break m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notice in {mail_dir:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(notice.contains("ops@example.com"), "{notice}");
    assert!(notice.contains(&hook), "{notice}");

    // Nothing more is sent to it: the next job's event is numbered without a delivery.
    let before = rx.received().len();
    let later = app.submit_ok(&key, &certificate("Still Quiet")).await;
    app.wait_for(&key, &later, &["succeeded"]).await;
    wait_numbered(&app, &later, "job.succeeded").await;
    let log = log_until(&app, &key, &hook, |_| true).await;
    assert!(
        log.iter()
            .all(|e| e["payload"]["data"]["id"] != later.as_str()),
        "{log:?}"
    );
    assert!(
        rx.received().len() <= before + 1,
        "at most the attempt in flight"
    );

    // Enabled again: failures start from 0.
    let view = patch(&app, &key, &hook, &json!({ "enabled": true })).await;
    assert_eq!(view["enabled"], true);
    assert_eq!(view["consecutive_failures"], 0);
    app.stop().await;
}

/// Waits until the job's event of `event_type` has its number (the pump's round, which
/// also decided its deliveries, committed).
async fn wait_numbered(app: &TestApp, job: &str, event_type: &str) {
    let filter = shared::db::EventFilter {
        job_id: Some(job.to_owned()),
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let events = app.db.events_after(0, &filter, 100).await.unwrap().events;
        if events.iter().any(|e| e.event_type == event_type) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{event_type} of {job} never numbered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn private_targets_are_refused_at_creation_and_at_delivery() {
    // The defaults: https only, public addresses only.
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("ssrf").await;
    let refused = [
        ("http://example.com/hook", "invalid_url"),
        ("https://user:pw@example.com/hook", "invalid_url"),
        ("ftp://example.com/", "invalid_url"),
        ("https://127.0.0.1/hook", "forbidden_target"),
        ("https://localhost:8443/hook", "forbidden_target"),
        (
            "https://169.254.169.254/latest/meta-data",
            "forbidden_target",
        ),
        ("https://10.1.2.3/hook", "forbidden_target"),
        ("https://192.168.0.10/hook", "forbidden_target"),
        ("https://[::1]/hook", "forbidden_target"),
        ("https://[::ffff:127.0.0.1]/hook", "forbidden_target"),
        ("https://[fd00:ec2::254]/", "forbidden_target"),
    ];
    for (url, code) in refused {
        let response = app
            .post(
                &key,
                "/v1/webhooks",
                &json!({ "url": url, "events": ["*"] }),
            )
            .await;
        let (status, body) = error_of(response).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["code"], code, "{url}: {body}");
        assert_eq!(body["field"], "url", "{url}: {body}");
    }
    let mut cert = certificate("Callback");
    cert["callback_url"] = json!("https://127.0.0.1/cb");
    let (status, body) = error_of(app.submit(&key, &cert).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "callback_url", "{body}");
    let (status, body) = error_of(
        app.post(
            &key,
            "/v1/webhooks",
            &json!({ "url": "https://example.com/", "events": ["job.exploded"] }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_events", "{body}");
    app.stop().await;

    // At delivery: an endpoint whose address became private (written straight to the table
    // here, as a rebinding name would look) is refused before any connection.
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        c.webhooks.allow_http = true;
        c.webhooks.pump_interval_ms = 50;
    })
    .await;
    let rx = Receiver::start().await;
    let key = app.new_key("rebound").await;
    let owner = app.owner_of(&key).await;
    let hook = app
        .db
        .create_webhook(&shared::db::NewWebhook {
            owner_id: owner,
            url: rx.url.clone(),
            events: vec!["job.succeeded".into()],
            description: None,
            secret: shared::webhooks::new_secret(),
        })
        .await
        .unwrap();
    app.submit_ok(&key, &certificate("Rebound")).await;
    // (Perhaps two: the job `owner_of` submitted may end after the endpoint was made.)
    let log = log_until(&app, &key, &hook.id, |e| {
        !e.is_empty() && e.iter().all(|d| d["status"] == "dead")
    })
    .await;
    assert!(
        log[0]["error"]
            .as_str()
            .unwrap()
            .contains("public addresses only"),
        "{log:?}"
    );
    assert!(
        rx.received().is_empty(),
        "nothing reached the private address"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], loopback).await;
    let rx = Receiver::start().await;
    let key = app.new_key("rotate").await;
    let (hook, first) = create_hook(&app, &key, &rx.url, &["job.succeeded"]).await;
    app.submit_ok(&key, &certificate("Before Rotation")).await;
    let got = rx.wait_for(1, WAIT).await;
    assert!(verified_by_reference(&first, &got));

    let view = patch(&app, &key, &hook, &json!({ "rotate_secret": true })).await;
    let second = view["secret"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(view["previous_secret_until"].is_string(), "{view}");
    app.submit_ok(&key, &certificate("During Overlap")).await;
    let got = rx.wait_for(2, WAIT).await;
    let during = &got[1..];
    assert_eq!(
        during[0].signature.split(' ').count(),
        2,
        "{}",
        during[0].signature
    );
    assert!(
        verified_by_reference(&first, during),
        "old secret still verifies"
    );
    assert!(
        verified_by_reference(&second, during),
        "new secret verifies"
    );

    // No overlap: the old one stops at once.
    let view = patch(
        &app,
        &key,
        &hook,
        &json!({ "rotate_secret": true, "overlap_secs": 0 }),
    )
    .await;
    let third = view["secret"].as_str().unwrap().to_owned();
    app.submit_ok(&key, &certificate("After Overlap")).await;
    let got = rx.wait_for(3, WAIT).await;
    let after = &got[2..];
    assert!(verified_by_reference(&third, after));
    assert!(
        !verified_by_reference(&second, after),
        "the old secret no longer signs"
    );
    app.stop().await;
}

#[tokio::test]
async fn callbacks_batches_revocations_tests_and_retries() {
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], loopback).await;
    let rx = Receiver::start().await;
    let key = app.new_key("callbacks").await;
    let secret: Value = app
        .json_at(Some(&key), app.url("/v1/webhooks/callback-secret"))
        .await;
    let callback_secret = secret["secret"].as_str().unwrap().to_owned();

    // A one-off callback for one job.
    let mut cert = certificate("Called Back");
    cert["callback_url"] = json!(rx.url);
    let job = app.submit_ok(&key, &cert).await;
    let got = rx.wait_for(1, WAIT).await;
    assert!(verified_by_reference(&callback_secret, &got));
    assert_eq!(got[0].json()["type"], "job.succeeded");
    assert_eq!(got[0].json()["data"]["id"], job.as_str());

    // A batch's callback: `batch.completed` once, with its counts.
    let rows: Vec<Value> = (0..3)
        .map(|i| json!({ "recipient_name": format!("Batch {i}"), "course_name": "Hooks" }))
        .collect();
    let response = app
        .post(
            &key,
            "/v1/certificates/batch",
            &json!({ "rows": rows, "callback_url": rx.url }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let batch: Value = response.json().await.unwrap();
    let got = rx.wait_for(2, WAIT).await;
    let completed = got[1].json();
    assert_eq!(completed["type"], "batch.completed", "{completed}");
    assert_eq!(completed["data"]["id"], batch["id"], "{completed}");
    assert_eq!(completed["data"]["counts"]["succeeded"], 3, "{completed}");

    // A revocation, to an endpoint that wants only those.
    let (hook, secret) = create_hook(&app, &key, &rx.url, &["certificate.revoked"]).await;
    let response = app
        .post(
            &key,
            &format!("/v1/certificates/{job}/revoke"),
            &json!({ "reason": "issued in error" }),
        )
        .await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let got = rx.wait_for(3, WAIT).await;
    let revoked = got[2].json();
    assert_eq!(revoked["type"], "certificate.revoked", "{revoked}");
    assert_eq!(revoked["data"]["reason"], "issued in error", "{revoked}");
    assert_eq!(revoked["data"]["job"]["id"], job.as_str(), "{revoked}");
    assert!(verified_by_reference(&secret, &got[2..]));

    // A test event, refused with 410; retried by hand: the same webhook-id, then logged
    // as succeeded after two attempts.
    rx.script([Reply::status(410)]);
    let response = app
        .post(&key, &format!("/v1/webhooks/{hook}/test"), &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let test: Value = response.json().await.unwrap();
    let delivery = test["id"].as_str().unwrap().to_owned();
    let got = rx.wait_for(4, WAIT).await;
    assert_eq!(got[3].json()["type"], "webhook.test");
    log_until(&app, &key, &hook, |e| {
        e.iter()
            .any(|d| d["id"] == delivery.as_str() && d["status"] == "dead")
    })
    .await;
    let response = app
        .post(
            &key,
            &format!("/v1/webhooks/{hook}/deliveries/{delivery}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let got = rx.wait_for(5, WAIT).await;
    assert_eq!(got[4].id, got[3].id, "the same webhook-id");
    let log = log_until(&app, &key, &hook, |e| {
        e.iter()
            .any(|d| d["id"] == delivery.as_str() && d["status"] == "succeeded")
    })
    .await;
    let entry = log.iter().find(|d| d["id"] == delivery.as_str()).unwrap();
    assert_eq!(entry["attempts"], 2, "{entry}");

    // An admin sees and manages every key's endpoints, and makes one for another key.
    let all: Value = app.json_at(Some(&app.admin), app.url("/v1/webhooks")).await;
    assert!(
        all["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == hook.as_str()),
        "{all}"
    );
    let owner = app.owner_of(&key).await;
    let response = app
        .post(
            &app.admin,
            "/v1/webhooks",
            &json!({ "url": rx.url, "events": ["job.dead"], "owner_id": owner }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let made: Value = response.json().await.unwrap();
    assert_eq!(made["owner_id"], owner.as_str(), "{made}");
    let response = app
        .post(
            &key,
            "/v1/webhooks",
            &json!({ "url": rx.url, "events": ["*"], "owner_id": "someone-else" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Past their retention, events and delivery logs go. (Only numbered events go: one the
    // pump had not numbered yet, on a loaded machine, goes with the next pass.)
    let later = shared::domain::Timestamp::now().plus_millis(1_000);
    assert!(app.db.delete_old_events(later, later).await.unwrap() > 0);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (low, high) = app.db.event_seq_bounds().await.unwrap();
        if (low, high) == (0, 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "events left: {low}..{high}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.db.delete_old_events(later, later).await.unwrap();
    }
    let log = log_until(&app, &key, &hook, |_| true).await;
    assert!(log.is_empty(), "{log:?}");

    // Another key sees none of it.
    let other = app.new_key("stranger").await;
    let response = app.get(&other, &format!("/v1/webhooks/{hook}")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let list: Value = app.json_at(Some(&other), app.url("/v1/webhooks")).await;
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 0);
    let response = app
        .client
        .delete(app.url(&format!("/v1/webhooks/{hook}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .client
        .delete(app.url(&format!("/v1/webhooks/{hook}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test]
async fn a_worker_stopped_mid_delivery_loses_nothing_and_repeats_with_the_same_id() {
    // The worker is a process of its own; the receiver holds the first request open long
    // enough for the worker to be stopped while it waits.
    let mut app = TestApp::spawn_with(
        Backend::Production,
        &[
            Roles {
                worker: false,
                ..Roles::ALL
            },
            Roles::WORKER,
        ],
        |c| {
            loopback(c);
            c.shutdown_grace_secs = 0;
            c.rescue.lease_secs = 2;
        },
    )
    .await;
    let rx = Receiver::start().await;
    rx.hold_first(Duration::from_secs(30));
    let key = app.new_key("interrupted").await;
    let (hook, secret) = create_hook(&app, &key, &rx.url, &["job.succeeded"]).await;
    let job = app.submit_ok(&key, &certificate("Interrupted")).await;
    rx.wait_for(1, WAIT).await;
    // Stopped while the endpoint has not answered: the attempt is released, not recorded.
    app.apps.pop().unwrap().stop().await.unwrap();
    app.add(Roles::WORKER).await;
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(got[0].id, got[1].id, "at-least-once, with one webhook-id");
    assert!(verified_by_reference(&secret, &got));
    let log = log_until(&app, &key, &hook, |e| all_status(e, 1, "succeeded")).await;
    assert_eq!(log[0]["payload"]["data"]["id"], job.as_str());
    app.stop().await;
}

#[tokio::test]
async fn events_wait_for_a_stopped_scheduler_and_are_delivered_once_after() {
    // The scheduler (and its event pump) is a process of its own, stopped while jobs end.
    let mut app = TestApp::spawn_with(
        Backend::Production,
        &[
            Roles {
                scheduler: false,
                ..Roles::ALL
            },
            Roles::SCHEDULER,
        ],
        loopback,
    )
    .await;
    let rx = Receiver::start().await;
    let key = app.new_key("pumped").await;
    let (hook, secret) = create_hook(&app, &key, &rx.url, &["job.succeeded"]).await;
    let first = app.submit_ok(&key, &certificate("Before The Stop")).await;
    rx.wait_for(1, WAIT).await;
    app.apps.pop().unwrap().stop().await.unwrap();
    let mut ids = vec![first];
    for i in 0..5 {
        let id = app
            .submit_ok(&key, &certificate(&format!("While Stopped {i}")))
            .await;
        app.wait_for(&key, &id, &["succeeded"]).await;
        ids.push(id);
    }
    // Their events wait in the log, committed with the jobs; nothing went out meanwhile.
    assert_eq!(rx.received().len(), 1);
    app.add(Roles::SCHEDULER).await;
    let got = rx.wait_for(ids.len(), WAIT).await;
    assert!(verified_by_reference(&secret, &got));
    let mut delivered: Vec<String> = got
        .iter()
        .map(|d| d.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    delivered.sort();
    ids.sort();
    assert_eq!(delivered, ids, "each job's success");
    log_until(&app, &key, &hook, |e| all_status(e, ids.len(), "succeeded")).await;
    assert_eq!(rx.received().len(), ids.len(), "once");
    app.stop().await;
}
