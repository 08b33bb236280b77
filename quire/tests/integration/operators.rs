//! What operators read and do beyond a single job: the worker registry in `/v1/status`, a
//! job's attempt history, listing filters (time, batch, free text), the batch listing and
//! clearing the template cache. Both backends.

use std::time::Duration;

use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, certificate, error_of};

/// The status page lists the running worker with its queues and a fresh heartbeat; a worker
/// stopped cleanly leaves the list.
async fn workers_are_listed(backend: Backend) {
    let mut app = TestApp::spawn_with(backend, &[Roles::API, Roles::WORKER], |_| {}).await;
    // The worker writes its row as it starts consuming: wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = app.json_at(Some(&app.admin), app.url("/v1/status")).await;
        if !status["workers"].as_array().unwrap().is_empty() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let workers = status["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{status}");
    let w = &workers[0];
    assert_eq!(w["alive"], true, "{w}");
    assert_eq!(w["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(w["pid"], std::process::id());
    assert!(w["queues"]["certificates"].as_u64().unwrap() >= 1, "{w}");
    assert!(w["name"].as_str().unwrap().starts_with("quire-"), "{w}");

    // A job the worker runs names it.
    let key = app.new_key("ops").await;
    let id = app.submit_ok(&key, &certificate("Worker Named")).await;
    app.wait_for(&key, &id, &["succeeded"]).await;
    let history = app
        .json_at(Some(&key), app.url(&format!("/v1/jobs/{id}/history")))
        .await;
    let ran_by: Vec<&Value> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["worker"])
        .filter(|w| !w.is_null())
        .collect();
    assert!(
        !ran_by.is_empty() && ran_by.iter().all(|n| **n == w["name"]),
        "{history}"
    );

    // Non-admin keys do not see the status page.
    let (status, _) = error_of(app.get(&key, "/v1/status").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let worker = app.apps.pop().unwrap();
    worker.stop().await.unwrap();
    let status = app.json_at(Some(&app.admin), app.url("/v1/status")).await;
    assert_eq!(status["workers"], json!([]), "{status}");
    app.stop().await;
}

#[tokio::test]
async fn workers_are_listed_embedded() {
    workers_are_listed(Backend::Embedded).await;
}

#[tokio::test]
async fn workers_are_listed_production() {
    workers_are_listed(Backend::Production).await;
}

/// A job's history: each attempt's start with its worker and its end with its error, then a
/// manual retry's attempt.
async fn history_shows_every_attempt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("history").await;
    let probe = shared::jobs::Probe {
        sleep_ms: 0,
        outcome: shared::jobs::ProbeOutcome::FailRetryable,
    };
    let id = app.insert_probe(&key, probe, 2).await;
    app.wait_for(&key, &id, &["dead"]).await;
    let retried = app
        .post(&key, &format!("/v1/jobs/{id}/retry"), &json!({}))
        .await;
    assert_eq!(retried.status(), StatusCode::OK);
    // The retry allows the queue's attempts again; wait until they are spent.
    let last = retried.json::<Value>().await.unwrap()["max_attempts"]
        .as_i64()
        .unwrap();
    assert!(last > 3, "{last}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let history = loop {
        let job = app.wait_for(&key, &id, &["dead"]).await;
        if job["attempt"] == last {
            break app
                .json_at(Some(&key), app.url(&format!("/v1/jobs/{id}/history")))
                .await;
        }
        assert!(std::time::Instant::now() < deadline, "{job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let steps: Vec<(String, i64)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap().to_owned(),
                e["attempt"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(&str, i64)> = vec![
        ("running", 1),
        ("failed", 1),
        ("running", 2),
        ("dead", 2),
        ("queued", 2),
    ];
    for attempt in 3..=last {
        expected.push(("running", attempt));
        expected.push((if attempt == last { "dead" } else { "failed" }, attempt));
    }
    let expected: Vec<(String, i64)> = expected
        .into_iter()
        .map(|(s, a)| (s.to_owned(), a))
        .collect();
    assert_eq!(steps, expected, "{history}");
    for entry in history["history"].as_array().unwrap() {
        let ended_badly = matches!(entry["status"].as_str(), Some("failed" | "dead"));
        assert_eq!(entry["error"].is_object(), ended_badly, "{entry}");
        if ended_badly {
            assert!(!entry["error"]["message"].as_str().unwrap().is_empty());
            assert!(entry["worker"].is_string(), "{entry}");
        }
    }
    // Another key's job is not found.
    let other = app.new_key("other").await;
    let (status, body) = error_of(app.get(&other, &format!("/v1/jobs/{id}/history")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn history_shows_every_attempt_embedded() {
    history_shows_every_attempt(Backend::Embedded).await;
}

#[tokio::test]
async fn history_shows_every_attempt_production() {
    history_shows_every_attempt(Backend::Production).await;
}

/// `/v1/jobs` by time, batch and free text (a recipient, an error message, a job id, with
/// `%` and `_` taken literally); `/v1/batches` newest first with counts and paging; bad
/// values are 400s that name the parameter.
async fn listing_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("lister").await;
    let ada = app.submit_ok(&key, &certificate("Ada 100% Lovelace")).await;
    let grace = app.submit_ok(&key, &certificate("Grace Hopper")).await;
    for id in [&ada, &grace] {
        app.wait_for(&key, id, &["succeeded"]).await;
    }
    let between = time::OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let rows: Vec<Value> = ["Row One", "Row Two", "Row Three"]
        .iter()
        .map(|n| json!({ "recipient_name": n, "course_name": "Listing" }))
        .collect();
    let first_batch = app
        .post_ok(&key, "/v1/certificates/batch", &json!({ "rows": rows }))
        .await;
    let second_batch = app
        .post_ok(
            &key,
            "/v1/certificates/batch",
            &json!({ "rows": [{ "recipient_name": "Solo", "course_name": "Listing" }] }),
        )
        .await;
    let probe = shared::jobs::Probe {
        sleep_ms: 0,
        outcome: shared::jobs::ProbeOutcome::FailPermanent,
    };
    let dead = app.insert_probe(&key, probe, 1).await;
    app.wait_for(&key, &dead, &["dead"]).await;
    let dead_error = app.job(&key, &dead).await["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();

    let ids = |page: &Value| -> Vec<String> {
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |query: String| {
        let app = &app;
        let key = key.clone();
        async move {
            app.json_at(Some(&key), app.url(&format!("/v1/jobs?{query}")))
                .await
        }
    };
    let enc = |t: &str| {
        t.replace('%', "%25")
            .replace(' ', "%20")
            .replace('+', "%2B")
            .replace(':', "%3A")
    };
    assert_eq!(
        ids(&list(format!("search={}", enc("ada 100%"))).await),
        vec![ada.clone()]
    );
    // `%` is literal: "100%L" does not match "100% L".
    assert!(ids(&list(format!("search={}", enc("100%L"))).await).is_empty());
    assert_eq!(
        ids(&list(format!("search={grace}")).await),
        vec![grace.clone()]
    );
    let word = dead_error
        .split_whitespace()
        .max_by_key(|w| w.len())
        .unwrap();
    assert!(
        ids(&list(format!("search={}", enc(&word.to_uppercase()))).await).contains(&dead),
        "searching the error message for {word}"
    );
    let batch_jobs = list(format!("batch={first_batch}")).await;
    assert_eq!(ids(&batch_jobs).len(), 3, "{batch_jobs}");
    let since = between
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let recent = ids(&list(format!("since={}", enc(&since))).await);
    assert!(!recent.contains(&ada) && !recent.contains(&grace));
    // 3 + 1 batch rows, the probe and the certificate that learnt its owner.
    assert_eq!(recent.len(), 6, "{recent:?}");
    let older = ids(&list(format!("until={}&kind=certificate", enc(&since))).await);
    assert!(older.contains(&ada) && older.contains(&grace));
    assert!(!older.iter().any(|id| recent.contains(id)));
    for (query, field) in [
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
    ] {
        let (status, body) = error_of(app.get(&key, &format!("/v1/jobs?{query}")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["field"], field, "{body}");
    }
    let long = "x".repeat(201);
    let (status, body) = error_of(app.get(&key, &format!("/v1/jobs?search={long}")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "search", "{body}");

    // Batches: newest first, counts, paging; another key sees none of them.
    for id in ids(&batch_jobs) {
        app.wait_for(&key, &id, &["succeeded"]).await;
    }
    let page = app
        .json_at(Some(&key), app.url("/v1/batches?limit=1"))
        .await;
    assert_eq!(page["batches"][0]["id"], second_batch.as_str(), "{page}");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let page = app
        .json_at(
            Some(&key),
            app.url(&format!("/v1/batches?limit=1&cursor={cursor}")),
        )
        .await;
    let first = &page["batches"][0];
    assert_eq!(first["id"], first_batch.as_str(), "{page}");
    assert_eq!(first["total"], 3);
    assert_eq!(first["counts"]["succeeded"], 3, "{first}");
    assert_eq!(first["complete"], true);
    assert!(page["next_cursor"].is_null(), "{page}");
    let other = app.new_key("other").await;
    let none = app.json_at(Some(&other), app.url("/v1/batches")).await;
    assert_eq!(none["batches"], json!([]));
    let all = app.json_at(Some(&app.admin), app.url("/v1/batches")).await;
    assert_eq!(
        all["batches"].as_array().unwrap().len(),
        2,
        "admins see every batch"
    );
    app.stop().await;
}

#[tokio::test]
async fn listing_filters_embedded() {
    listing_filters(Backend::Embedded).await;
}

#[tokio::test]
async fn listing_filters_production() {
    listing_filters(Backend::Production).await;
}

/// Clearing the caches drops the entries of the answering process; admins only.
#[tokio::test]
async fn cache_clear_drops_entries() {
    let app = TestApp::spawn(Backend::Production).await;
    let key = app.new_key("cache").await;
    app.get(&key, "/v1/templates").await;
    let entries = |stats: &Value| -> u64 {
        stats["caches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["entries"].as_u64().unwrap())
            .sum()
    };
    let before = app
        .json_at(Some(&app.admin), app.url("/v1/system/cache/stats"))
        .await;
    assert!(entries(&before) >= 1, "{before}");
    let (status, _) = error_of(app.post(&key, "/v1/system/cache/clear", &json!({})).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let cleared = app
        .post(&app.admin, "/v1/system/cache/clear", &json!({}))
        .await;
    assert_eq!(cleared.status(), StatusCode::OK);
    let cleared: Value = cleared.json().await.unwrap();
    assert!(cleared["dropped"].as_u64().unwrap() >= 1, "{cleared}");
    let after = app
        .json_at(Some(&app.admin), app.url("/v1/system/cache/stats"))
        .await;
    // Only the admin key's own lookup (this very request) may be back.
    assert!(entries(&after) <= 1, "{after}");
    app.stop().await;
}
