//! The whole job lifecycle over HTTP, on both deployments.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

use shared::domain::{JobId, JobStatus, Timestamp};

use crate::helpers::*;
use quire::Roles;

/// Submit with a photo, poll to `succeeded`, download the PDF and read the name in it.
async fn lifecycle(app: &TestApp) {
    let key = app.new_key("alice").await;
    let mut body = certificate("Zoë Ångström-Núñez");
    body["photo"] = json!(b64(&jpeg_photo()));
    let response = app.submit(&key, &body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let submitted: Value = response.json().await.unwrap();
    let id = submitted["id"].as_str().unwrap();
    assert_eq!(submitted["status"], "queued");
    assert_eq!(location, app.url(&format!("/v1/jobs/{id}")));
    assert_eq!(submitted["links"]["self"], location);

    let job = app.wait_for(&key, id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["kind"], "certificate");
    assert_eq!(job["attempt"], 1);
    assert!(job["started_at"].is_string() && job["finished_at"].is_string());
    assert!(job["error"].is_null());
    let result = &job["result"];
    assert_eq!(result["pages"], 1);

    let response = app.get(&key, &format!("/v1/jobs/{id}/file")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/pdf");
    assert!(
        response.headers()[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let etag = response.headers()[ETAG].to_str().unwrap().to_owned();
    let pdf = response.bytes().await.unwrap();
    let digest = hex::encode(Sha256::digest(&pdf));
    assert_eq!(result["sha256"], digest.as_str());
    assert_eq!(result["bytes"], pdf.len());
    assert_eq!(etag, format!("\"{digest}\""));
    assert!(pdf.starts_with(b"%PDF"));
    let text = pdf_text(&pdf);
    assert!(
        text.contains("Zoë Ångström-Núñez"),
        "name missing from PDF text: {text}"
    );
    assert!(text.contains("Advanced Typesetting"), "{text}");

    let cached = app
        .client
        .get(app.url(&format!("/v1/jobs/{id}/file")))
        .bearer_auth(&key)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    // Finished jobs cannot be cancelled.
    let response = app
        .client
        .post(app.url(&format!("/v1/jobs/{id}/cancel")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "not_cancellable");

    // The listing shows it.
    let page: Value = app.get(&key, "/v1/jobs").await.json().await.unwrap();
    assert_eq!(page["jobs"][0]["id"], id);
}

#[tokio::test]
async fn embedded_lifecycle() {
    let app = TestApp::spawn(Backend::Embedded).await;
    lifecycle(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn production_lifecycle_with_separate_api_and_worker() {
    let app = TestApp::spawn_with(
        Backend::Production,
        &[Roles::API, Roles::WORKER, Roles::SCHEDULER],
        |_| {},
    )
    .await;
    lifecycle(&app).await;
    app.stop().await;
}

/// Without a worker the job stays queued; cancelling it means no worker ever runs it.
async fn cancel_queued(backend: Backend) {
    let mut app = TestApp::spawn_with(backend, &[Roles::API], |_| {}).await;
    let key = app.new_key("bob").await;
    let cancelled = app.submit_ok(&key, &certificate("Cancel Me")).await;
    let kept = app.submit_ok(&key, &certificate("Keep Me")).await;
    let response = app
        .client
        .post(app.url(&format!("/v1/jobs/{cancelled}/cancel")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["status"], "cancelled");
    // Cancelling twice: already cancelled.
    let response = app
        .client
        .post(app.url(&format!("/v1/jobs/{cancelled}/cancel")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);

    app.add(Roles::WORKER).await;
    app.wait_for(&key, &kept, &["succeeded"]).await;
    let job = app.job(&key, &cancelled).await;
    assert_eq!(job["status"], "cancelled");
    assert_eq!(job["attempt"], 0, "a cancelled job never ran: {job}");
    let response = app.get(&key, &format!("/v1/jobs/{cancelled}/file")).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn embedded_cancel_queued() {
    cancel_queued(Backend::Embedded).await;
}

#[tokio::test]
async fn production_cancel_queued() {
    cancel_queued(Backend::Production).await;
}

/// Keyset pagination newest first, with filters, done by the database.
async fn pagination(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[Roles::API], |_| {}).await;
    let key = app.new_key("carol").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            app.submit_ok(&key, &certificate(&format!("Person {i}")))
                .await,
        );
    }
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/jobs?limit=3&cursor={c}"),
            None => "/v1/jobs?limit=3".to_owned(),
        };
        let page: Value = app.get(&key, &path).await.json().await.unwrap();
        let jobs = page["jobs"].as_array().unwrap();
        assert!(jobs.len() <= 3);
        seen.extend(jobs.iter().map(|j| j["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let page: Value = app
        .get(&key, "/v1/jobs?status=queued&kind=certificate&limit=200")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["jobs"].as_array().unwrap().len(), 7);
    let page: Value = app
        .get(&key, "/v1/jobs?status=succeeded")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["jobs"].as_array().unwrap().len(), 0);

    for (query, field) in [
        ("status=done", "status"),
        ("kind=poster", "kind"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=nonsense", "cursor"),
    ] {
        let (status, error) = error_of(app.get(&key, &format!("/v1/jobs?{query}")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(error["field"], field, "{query}");
    }
    app.stop().await;
}

#[tokio::test]
async fn embedded_pagination() {
    pagination(Backend::Embedded).await;
}

#[tokio::test]
async fn production_pagination() {
    pagination(Backend::Production).await;
}

/// A row whose queue message never arrived (lost by Redis, or a crash between insert and
/// push) is found by the scheduler's rescuer and run.
async fn lost_message_is_rescued(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("dave").await;
    let id = app
        .insert_certificate_row(&key, "classic", Timestamp::now().plus_millis(-60_000))
        .await;
    // Never pushed: only the rescuer can make it run.
    let job = app
        .wait_for(&key, &id.to_string(), &["succeeded", "dead"])
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    app.stop().await;
}

#[tokio::test]
async fn embedded_lost_message_is_rescued() {
    lost_message_is_rescued(Backend::Embedded).await;
}

#[tokio::test]
async fn production_lost_message_is_rescued() {
    lost_message_is_rescued(Backend::Production).await;
}

/// Jobs and health endpoints answer even with many concurrent submissions; every job completes.
#[tokio::test]
async fn production_concurrent_burst_completes() {
    let app = TestApp::spawn_with(
        Backend::Production,
        &[Roles::API, Roles::WORKER, Roles::WORKER],
        |_| {},
    )
    .await;
    let key = app.new_key("erin").await;
    let submissions = (0..60).map(|i| {
        let (app, key) = (&app, &key);
        async move {
            app.submit_ok(key, &certificate(&format!("Burst {i}")))
                .await
        }
    });
    let ids = futures::future::join_all(submissions).await;
    for id in &ids {
        let job = app.wait_for(&key, id, &["succeeded", "dead"]).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["attempt"], 1, "ran once: {job}");
    }
    app.stop().await;
}

/// Same Idempotency-Key and body: the original job (200, same id); other body: 409.
async fn idempotent_submissions(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[Roles::API], |_| {}).await;
    let key = app.new_key("frank").await;
    let send = |body: Value, idem: &'static str| {
        app.client
            .post(app.url("/v1/certificates"))
            .bearer_auth(&key)
            .header("idempotency-key", idem)
            .json(&body)
            .send()
    };
    let first = send(certificate("Once Only"), "order-42").await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let again = send(certificate("Once Only"), "order-42").await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let (status, error) =
        error_of(send(certificate("Someone Else"), "order-42").await.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "idempotency_conflict");
    // Keys are per owner: another key may use the same value.
    let other = app.new_key("grace").await;
    let response = app
        .client
        .post(app.url("/v1/certificates"))
        .bearer_auth(&other)
        .header("idempotency-key", "order-42")
        .json(&certificate("Once Only"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(app.count_jobs(&key).await, 1);
    app.stop().await;
}

/// Batches honour `Idempotency-Key` too: the same request returns the original batch and
/// adds no jobs; another request with the key is a conflict.
async fn idempotent_batches(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[Roles::API], |_| {}).await;
    let key = app.new_key("olga").await;
    let batch = |names: &[&str]| {
        let rows: Vec<Value> = names
            .iter()
            .map(|n| json!({"recipient_name": n, "course_name": "Safety"}))
            .collect();
        json!({ "rows": rows })
    };
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/certificates/batch"))
            .bearer_auth(&key)
            .header("idempotency-key", "import-7")
            .json(&body)
            .send()
    };
    let first = send(batch(&["Ann", "Ben"])).await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let again = send(batch(&["Ann", "Ben"])).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert!(again.headers().contains_key("location"));
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["total"], 2, "{again}");
    assert_eq!(app.count_jobs(&key).await, 2, "no jobs added by the repeat");
    let (status, error) = error_of(send(batch(&["Ann", "Cid"])).await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_conflict"))
    );
    // The same rows as CSV are another request.
    let csv = app
        .client
        .post(app.url("/v1/certificates/batch"))
        .bearer_auth(&key)
        .header("idempotency-key", "import-7")
        .header("content-type", "text/csv")
        .body("recipient_name,course_name\nAnn,Safety\nBen,Safety\n")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn embedded_idempotent_batches() {
    idempotent_batches(Backend::Embedded).await;
}

#[tokio::test]
async fn production_idempotent_batches() {
    idempotent_batches(Backend::Production).await;
}

/// After the window, the same key makes a new job (and a new batch).
#[tokio::test]
async fn idempotency_keys_expire_after_their_window() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.idempotency_window_secs = 0
    })
    .await;
    let key = app.new_key("judy").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = app
            .client
            .post(app.url("/v1/certificates"))
            .bearer_auth(&key)
            .header("idempotency-key", "nightly")
            .json(&certificate("Again"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        ids.push(response.json::<Value>().await.unwrap()["id"].clone());
    }
    assert_ne!(ids[0], ids[1]);
    let mut batches = Vec::new();
    for _ in 0..2 {
        let response = app
            .client
            .post(app.url("/v1/certificates/batch"))
            .bearer_auth(&key)
            .header("idempotency-key", "nightly-batch")
            .json(&json!({"rows": [{"recipient_name": "Again", "course_name": "Safety"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        batches.push(response.json::<Value>().await.unwrap()["id"].clone());
    }
    assert_ne!(batches[0], batches[1]);
    app.stop().await;
}

#[tokio::test]
async fn embedded_idempotent_submissions() {
    idempotent_submissions(Backend::Embedded).await;
}

#[tokio::test]
async fn production_idempotent_submissions() {
    idempotent_submissions(Backend::Production).await;
}

/// A job that fails permanently ends `dead` at once with its error kept; `retry` re-queues it
/// with fresh attempts; only dead or failed jobs can be retried, and only by their owner.
async fn dead_jobs_keep_their_error_and_can_be_retried(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("henry").await;
    let ok = app.submit_ok(&key, &certificate("Fine")).await;
    app.wait_for(&key, &ok, &["succeeded"]).await;
    // A template that no longer exists: a permanent error, no retries.
    let id = app
        .insert_certificate_row(&key, "retired", Timestamp::now())
        .await;
    app.queue_push(id).await;
    let id = id.to_string();
    let job = app.wait_for(&key, &id, &["dead", "succeeded"]).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempt"], 1, "permanent errors are not retried: {job}");
    assert_eq!(job["error"]["code"], "unknown_template", "{job}");
    assert!(job["finished_at"].is_string());

    let retry = |key: String, id: String| {
        let client = app.client.clone();
        let url = app.url(&format!("/v1/jobs/{id}/retry"));
        async move { client.post(url).bearer_auth(key).send().await.unwrap() }
    };
    // Another owner cannot; a succeeded job cannot be retried.
    let other = app.new_key("ivy").await;
    assert_eq!(
        retry(other, id.clone()).await.status(),
        StatusCode::NOT_FOUND
    );
    let (status, error) = error_of(retry(key.clone(), ok.clone()).await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_retryable"))
    );

    let response = retry(key.clone(), id.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let requeued: Value = response.json().await.unwrap();
    assert!(requeued["error"].is_null(), "{requeued}");
    assert_eq!(requeued["max_attempts"], 1 + 5);
    // It runs again (and, the template still missing, dies again after one more attempt).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let job = app.job(&key, &id).await;
        if job["status"] == "dead" && job["attempt"] == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ran again: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // An admin may retry anyone's job.
    let response = retry(app.admin.clone(), id.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let requeued: Value = response.json().await.unwrap();
    assert!(requeued["error"].is_null(), "{requeued}");
    app.stop().await;
}

#[tokio::test]
async fn embedded_dead_jobs_keep_their_error_and_can_be_retried() {
    dead_jobs_keep_their_error_and_can_be_retried(Backend::Embedded).await;
}

#[tokio::test]
async fn production_dead_jobs_keep_their_error_and_can_be_retried() {
    dead_jobs_keep_their_error_and_can_be_retried(Backend::Production).await;
}

/// A worker whose grace period runs out gives its running jobs back: the row is `queued`
/// again without the attempt counted, another worker runs it at once, and the released
/// attempt's late result is rejected by the fencing token.
async fn shutdown_releases_running_jobs(backend: Backend) {
    use worker::executor::Executor;

    let mut app = TestApp::spawn_with(backend, &[Roles::API], |_| {}).await;
    let key = app.new_key("kim").await;
    let id = app.submit_ok(&key, &certificate("Handed Over")).await;
    let job_id: JobId = id.parse().unwrap();
    let stopping = Executor::new(app.job_context(), "stopping-worker".into());
    let claimed = stopping.claim_for_test(job_id).await.expect("claimed");
    assert_eq!(app.job(&key, &id).await["status"], "running");

    assert_eq!(stopping.release_running().await, 1);
    let job = app.job(&key, &id).await;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_i64()),
        (Some("queued"), Some(0)),
        "{job}"
    );

    app.add(Roles::WORKER).await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        job["attempt"], 1,
        "the released attempt was not counted: {job}"
    );
    let late = app
        .db
        .complete_job(
            job_id,
            &claimed.lease_token,
            &json!({"file": "stale"}),
            None,
        )
        .await
        .unwrap();
    assert!(!late, "a released attempt's result must be rejected");
    assert_eq!(app.job(&key, &id).await["result"]["pages"], 1);
    app.stop().await;
}

#[tokio::test]
async fn embedded_shutdown_releases_running_jobs() {
    shutdown_releases_running_jobs(Backend::Embedded).await;
}

#[tokio::test]
async fn production_shutdown_releases_running_jobs() {
    shutdown_releases_running_jobs(Backend::Production).await;
}

/// On shutdown the API stops accepting connections but finishes the requests in flight: a
/// submission whose body is still arriving when shutdown starts is accepted and its job is
/// written.
#[tokio::test]
async fn api_drains_in_flight_requests_on_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |_| {}).await;
    let key = app.new_key("quinn").await;
    let body = serde_json::to_vec(&certificate("In Flight")).unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/certificates HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server answers `100 Continue` when the handler starts reading the body: from here
    // on the request is in flight.
    let mut buf = vec![0u8; 256];
    let n = stream.read(&mut buf).await.unwrap();
    let interim = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    app.apps[0].shutdown_token().cancel();
    // New connections are refused once the listener has closed...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still accepting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...while the request in flight completes.
    stream.write_all(&body).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 202"), "{response}");
    let id = response
        .split("\"id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the job id");
    let row = app.db.get_job(id.parse().unwrap(), None).await.unwrap();
    assert_eq!(row.expect("job written").status, JobStatus::Queued);
    app.stop().await;
}
