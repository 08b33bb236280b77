//! Hostile input: what renders where, what is bounded, and what a revoked thing can no longer
//! reach. Each test is a way in that was open before.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::db::TemplateChange;
use shared::domain::JobId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;
use crate::reports::report;
use quire::Roles;

/// Runs for hours unless something kills it (typst caps `while`, not nested `for`).
const ENDLESS: &str = "#for i in range(100000) { for j in range(100000) { } }\n";

/// Creates `loops` (admin): a certificate template that loops only for the recipient `Loop`,
/// so its creation check (with sample data) passes and a preview or job can be made to hold a
/// sandbox as long as wanted.
async fn create_looping_template(app: &TestApp) {
    let body = json!({
        "name": "loops",
        "is_public": true,
        "source": format!(
            "#let d = json(\"/data.json\")\n#set page(width: 10cm, height: 5cm)\n\
             #if d.recipient_name == \"Loop\" [{ENDLESS}]\nHello #d.recipient_name\n"
        ),
    });
    let created = app
        .send(Method::POST, &app.admin, "/v1/templates", Some(&body))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
}

async fn wait_batch(app: &TestApp, key: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status: Value = app
            .get(key, &format!("/v1/batches/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if status["complete"] == true {
            return status;
        }
        assert!(Instant::now() < deadline, "batch never completed: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A built-in's sources cannot change through the API, and whatever the database holds under a
/// built-in's row, only the exact shipped files render in the worker's process: anything else
/// renders in the bounded child, where an endless loop is killed at the sandbox's time limit.
#[tokio::test]
async fn only_the_shipped_sources_render_in_process() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        c.sandbox.timeout_ms = 1500;
    })
    .await;
    let admin = app.admin.clone();
    let change = json!({"source": ENDLESS});
    let (status, error) = error_of(
        app.send(Method::PUT, &admin, "/v1/templates/classic", Some(&change))
            .await,
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("builtin_template")),
        "{error}"
    );

    // Past the API: a new version of the built-in's row with other sources (as a database
    // write, a restore or a bug might leave it). The row still says `builtin`.
    let classic: Value = app
        .get(&admin, "/v1/templates/classic")
        .await
        .json()
        .await
        .unwrap();
    let (record, _) = app
        .db
        .update_template(
            classic["id"].as_str().unwrap(),
            TemplateChange {
                description: None,
                is_public: None,
                source: Some(format!(
                    "#let d = json(\"/data.json\")\n#if d.recipient_name == \"Loop\" [{ENDLESS}]\n"
                )),
                assets: None,
                fields: None,
                pdf_standard: None,
            },
            "test",
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert!(record.builtin);
    // A description change is allowed on a built-in, and makes this process read the new
    // version at once.
    let described = app
        .send(
            Method::PUT,
            &admin,
            "/v1/templates/classic",
            Some(&json!({"description": "changed"})),
        )
        .await;
    assert_eq!(described.status(), StatusCode::OK);

    let id = app.submit_ok(&admin, &certificate("Loop")).await;
    let job = app.wait_for(&admin, &id, &["dead", "failed"]).await;
    let error = job["error"].to_string();
    // In-process, the loop would hold a worker thread until the attempt's 60 s timeout (and
    // spin on after it); in the child it is killed at 1.5 s.
    assert!(
        error.contains("render_failed") && error.contains("longer than 1.5 s"),
        "{job}"
    );
    app.stop().await;
}

/// Previews start children: their number is bounded (503 with Retry-After beyond it), their
/// values are checked like a submission's, and a request past its deadline is stopped.
#[tokio::test]
async fn previews_are_bounded_and_checked() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.sandbox.max_children = 1;
        c.sandbox.timeout_ms = 3000;
    })
    .await;
    create_looping_template(&app).await;
    let user = app.new_key("previewer").await;
    let preview = |name: &str| {
        let request = app
            .client
            .post(app.url("/v1/templates/loops/preview"))
            .bearer_auth(&user)
            .json(&json!({"recipient_name": name}));
        async move { request.send().await.unwrap() }
    };

    // Until the looping preview holds the only child, a quick one may still get it (and the
    // looping one is refused: then it is sent again); once it does, quick ones are refused.
    // The loop holds the child for 3 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (holding, refused) = 'held: loop {
        let holding = tokio::spawn(preview("Loop"));
        loop {
            let response = preview("Ann").await;
            if response.status() == StatusCode::SERVICE_UNAVAILABLE {
                break 'held (holding, response);
            }
            assert_eq!(response.status(), StatusCode::OK);
            assert!(
                Instant::now() < deadline,
                "a second child was never refused"
            );
            if holding.is_finished() {
                let first = holding.await.unwrap();
                assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
                break;
            }
        }
    };
    assert!(refused.headers().contains_key("retry-after"));
    let (_, error) = error_of(refused).await;
    assert_eq!(error["code"], "unavailable", "{error}");
    let (status, error) = error_of(holding.await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("template_timeout"))
    );
    assert_eq!(preview("Ann").await.status(), StatusCode::OK, "free again");

    // Checked like a submission: too long, unknown field, bad date.
    let response = app
        .client
        .post(app.url("/v1/templates/loops/preview"))
        .bearer_auth(&user)
        .json(&json!({"recipient_name": "x".repeat(500), "issued_on": "someday", "fields": {"nope": 1}}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let fields: Vec<&str> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in ["recipient_name", "issued_on", "fields.nope"] {
        assert!(fields.contains(&field), "{field}: {error}");
    }
    app.stop().await;
}

/// Every request runs under a deadline, and a client that never finishes its headers is
/// disconnected.
#[tokio::test]
async fn slow_requests_and_slow_clients_are_cut_off() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.limits.request_timeout_secs = 1;
        c.limits.header_read_timeout_secs = 1;
        c.sandbox.timeout_ms = 20_000;
    })
    .await;
    let admin = app.admin.clone();
    create_looping_template(&app).await;
    let started = Instant::now();
    let response = app
        .post(
            &admin,
            "/v1/templates/loops/preview",
            &json!({"recipient_name": "Loop"}),
        )
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("timeout")),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cut at the deadline, not the sandbox's"
    );

    let mut stream = tokio::net::TcpStream::connect(host_port(&app.base))
        .await
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: quire\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
        .await
        .expect("the server closes the connection");
    // Closed (0 bytes, or a reset), maybe after a 408: never a normal answer.
    if let Ok(n) = read {
        let text = String::from_utf8_lossy(&buffer[..n]);
        assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    app.stop().await;
}

/// Report markup parses in one pass off the async executor: three reports of 1 MB of
/// markup-heavy text do not delay `/health`; more text than the limit is refused.
#[tokio::test]
async fn large_reports_do_not_stall_the_service() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |_| {}).await;
    let admin = app.admin.clone();
    // 50 text sections of 20,000 characters of `_a ` (an emphasis opener every 3 bytes): with a
    // search to the end of the line per opener, minutes of CPU per report.
    let markup = "_a ".repeat(6_666);
    let mut big = report(1, 3);
    big["text_sections"] = (0..50)
        .map(|i| json!({"title": format!("Notes {i}"), "body": markup}))
        .collect();
    let submissions: Vec<_> = (0..3)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/v1/reports"))
                .bearer_auth(&admin)
                .json(&big);
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    while !submissions.iter().all(|s| s.is_finished()) {
        let started = Instant::now();
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        slowest = slowest.max(started.elapsed());
    }
    for submission in submissions {
        assert_eq!(submission.await.unwrap(), StatusCode::ACCEPTED);
    }
    // Generous for a loaded 2-core machine; parsing by search took minutes here.
    assert!(slowest < Duration::from_secs(2), "/health took {slowest:?}");

    let mut over = big.clone();
    over["text_sections"] = (0..60)
        .map(|i| json!({"title": format!("Notes {i}"), "body": markup}))
        .collect();
    let (status, error) = error_of(app.post(&admin, "/v1/reports", &over).await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("too_long")),
        "{error}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("limits.max_report_text_bytes")
    );
    app.stop().await;
}

/// Image fields in batch rows are stored per job like a single submission's, so such a batch
/// succeeds; a bad image is a 422 naming its row, and nothing is accepted.
#[tokio::test]
async fn batch_rows_carry_image_fields() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let admin = app.admin.clone();
    app.create_badge_template().await;
    let row = |name: &str, badge: String| json!({"recipient_name": name, "course_name": "Safety", "fields": {"badge": badge}});
    let bad = json!({"template": "badge", "rows": [
        row("Ann", b64(&jpeg_photo())),
        row("Ben", b64(b"not an image")),
    ]});
    let (status, error) = error_of(app.post(&admin, "/v1/certificates/batch", &bad).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["errors"][0]["row"], 2, "{error}");
    assert_eq!(error["errors"][0]["field"], "fields.badge", "{error}");
    assert_eq!(app.count_jobs(&admin).await, 0, "nothing accepted");

    let good = json!({"template": "badge", "rows": [
        row("Ann Badge", b64(&jpeg_photo())),
        row("Ben Badge", b64(&jpeg_photo())),
    ]});
    let response = app.post(&admin, "/v1/certificates/batch", &good).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let batch: Value = response.json().await.unwrap();
    let status = wait_batch(&app, &admin, batch["id"].as_str().unwrap()).await;
    assert_eq!(status["counts"]["succeeded"], 2, "{status}");
    let page: Value = app
        .get(
            &admin,
            &format!("/v1/certificates?batch={}", batch["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    for certificate in page["certificates"].as_array().unwrap() {
        let id = certificate["id"].as_str().unwrap();
        let text = pdf_text(&app.pdf_of(&admin, id).await);
        assert!(text.contains("Badge for"), "{text}");
    }
    app.stop().await;
}

/// A small PNG that claims 6300 × 6300 pixels (about 450 MiB decoded) is refused from
/// its header, under the default limits.
#[tokio::test]
async fn decompression_bombs_are_refused_from_the_header() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |_| {}).await;
    let mut png = std::io::Cursor::new(Vec::new());
    image::GrayImage::new(6300, 6300)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let png = png.into_inner();
    // Small enough for the byte limit (2 MiB): only the header's dimensions give it away.
    assert!(png.len() < 1024 * 1024, "{} bytes", png.len());
    let mut cert = certificate("Bomb");
    cert["photo"] = json!(b64(&png));
    let (status, error) = error_of(app.submit(&app.admin, &cert).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (error["field"].as_str(), error["errors"][0]["code"].as_str()),
        (Some("photo"), Some("image_dimensions")),
        "{error}"
    );
    app.stop().await;
}

/// A signed download link stops working when its certificate is revoked, and when the key
/// that owns the job is.
#[tokio::test]
async fn signed_links_die_with_revocation() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let signer = shared::links::LinkSigner::load(&app.db).await.unwrap();
    let owner = app.new_key("owner").await;
    let first = app.submit_ok(&owner, &certificate("Revoked Later")).await;
    let second = app.submit_ok(&owner, &certificate("Key Revoked")).await;
    for id in [&first, &second] {
        app.wait_for(&owner, id, &["succeeded"]).await;
    }
    let link = |id: &str| signer.url(&app.base, id.parse::<JobId>().unwrap());
    let status = |url: String| {
        let request = app.client.get(url);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status(link(&first)).await, StatusCode::OK);
    assert_eq!(status(link(&second)).await, StatusCode::OK);

    let revoked = app
        .post(
            &owner,
            &format!("/v1/certificates/{first}/revoke"),
            &json!({"reason": "issued in error"}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(status(link(&first)).await, StatusCode::NOT_FOUND);
    assert_eq!(status(link(&second)).await, StatusCode::OK);

    let owner_id = app.owner_of(&owner).await;
    assert!(app.db.revoke_key(&owner_id).await.unwrap());
    assert_eq!(status(link(&second)).await, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The public registry (no key) refuses a crafted cursor whose keys are not of their types
/// (`<ms>_<YYYY-MM-DD>_<id>`) with a 400, not a database error.
#[tokio::test]
async fn crafted_registry_cursors_are_refused() {
    let app = TestApp::spawn_with(Backend::Production, &[Roles::API], |_| {}).await;
    let id = JobId::new();
    for cursor in [
        format!("5_7_{id}"),
        format!("5_2026-01-01'%20OR%20'1'='1_{id}"),
        format!("x_2026-01-01_{id}"),
    ] {
        let response = app
            .client
            .get(app.url(&format!(
                "/v1/certificates/public?sort=-issued_on&cursor={cursor}"
            )))
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cursor}: {error}");
        assert_eq!(error["field"], "cursor", "{error}");
    }
    app.stop().await;
}
