//! Every bad input gets a 4xx JSON error naming what was wrong and where, and leaves nothing
//! behind: no job row, no stored input.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn with(field: &str, value: Value) -> Value {
    let mut body = certificate("Valid Name");
    body[field] = value;
    body
}

fn without(field: &str) -> Value {
    let mut body = certificate("Valid Name");
    body.as_object_mut().unwrap().remove(field);
    body
}

/// (case, body, expected status, expected code, expected field)
fn bad_bodies() -> Vec<(
    &'static str,
    Value,
    StatusCode,
    &'static str,
    Option<&'static str>,
)> {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    let mut truncated_jpeg = jpeg_photo();
    truncated_jpeg.truncate(4);
    // Over the 2 MiB default: a real JPEG header followed by padding.
    let mut huge = jpeg_photo();
    huge.resize(2 * 1024 * 1024 + 10, 0);
    vec![
        (
            "wrong type",
            with("recipient_name", json!(42)),
            unprocessable,
            "invalid_type",
            Some("recipient_name"),
        ),
        (
            "wrong type in fields",
            with("fields", json!("x")),
            unprocessable,
            "invalid_type",
            Some("fields"),
        ),
        (
            "missing recipient",
            without("recipient_name"),
            unprocessable,
            "missing_field",
            Some("recipient_name"),
        ),
        (
            "missing course",
            without("course_name"),
            unprocessable,
            "missing_field",
            Some("course_name"),
        ),
        (
            "unknown field",
            with("colour", json!("red")),
            unprocessable,
            "unknown_field",
            Some("colour"),
        ),
        (
            "empty name",
            with("recipient_name", json!("   ")),
            unprocessable,
            "missing_field",
            Some("recipient_name"),
        ),
        (
            "over-long name",
            with("recipient_name", json!("x".repeat(201))),
            unprocessable,
            "too_long",
            Some("recipient_name"),
        ),
        (
            "control characters",
            with("course_name", json!("a\u{0}b")),
            unprocessable,
            "invalid_field",
            Some("course_name"),
        ),
        (
            "bad date",
            with("issued_on", json!("21/11/2026")),
            unprocessable,
            "invalid_date",
            Some("issued_on"),
        ),
        (
            "impossible date",
            with("issued_on", json!("2026-02-30")),
            unprocessable,
            "invalid_date",
            Some("issued_on"),
        ),
        (
            "bad base64",
            with("photo", json!("not base64 at all!!")),
            unprocessable,
            "invalid_base64",
            Some("photo"),
        ),
        (
            "not an image",
            with("photo", json!(b64(b"%PDF-1.7 this is not a photo"))),
            unprocessable,
            "unsupported_image",
            Some("photo"),
        ),
        (
            "gif",
            with("photo", json!(b64(gif))),
            unprocessable,
            "unsupported_image",
            Some("photo"),
        ),
        (
            "truncated jpeg",
            with("photo", json!(b64(&truncated_jpeg))),
            unprocessable,
            "corrupt_image",
            Some("photo"),
        ),
        (
            "image over limit",
            with("photo", json!(b64(&huge))),
            unprocessable,
            "image_too_large",
            Some("photo"),
        ),
        (
            "unknown template",
            with("template", json!("poster")),
            unprocessable,
            "unknown_template",
            Some("template"),
        ),
        (
            "nested field value",
            with("fields", json!({"grade": {"a": 1}})),
            unprocessable,
            "invalid_type",
            Some("fields.grade"),
        ),
        (
            "bad field name",
            with("fields", json!({"no spaces": "x"})),
            unprocessable,
            "unknown_field",
            Some("fields.no spaces"),
        ),
    ]
}

async fn rejects_bad_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("mallory").await;
    for (case, body, status, code, field) in bad_bodies() {
        let (got, error) = error_of(app.submit(&key, &body).await).await;
        assert_eq!(got, status, "{case}: {error}");
        assert_eq!(error["code"], code, "{case}: {error}");
        assert_eq!(error["field"].as_str(), field, "{case}: {error}");
    }

    let post = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/v1/certificates"))
            .bearer_auth(&key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, error) = error_of(
        post(b"{\"recipient_name\": ".to_vec(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json")),
        "{error}"
    );
    let (status, error) =
        error_of(post(b"[1, 2".to_vec(), "application/json").await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json")),
        "{error}"
    );
    let (status, error) = error_of(post(b"[]".to_vec(), "application/json").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, _) = error_of(
        post(
            b"recipient_name=x".to_vec(),
            "application/x-www-form-urlencoded",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A body over the 10 MiB limit.
    let mut big = br#"{"recipient_name": ""#.to_vec();
    big.resize(11 * 1024 * 1024, b'a');
    big.extend_from_slice(br#"", "course_name": "x"}"#);
    let (status, error) = error_of(post(big, "application/json").await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");
    assert_eq!(error["code"], "payload_too_large");

    // Nothing was left behind.
    assert_eq!(app.count_jobs(&key).await, 0);
    let inputs = app.dir.path().join("inputs");
    let leftovers = std::fs::read_dir(&inputs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "inputs left behind in {}", inputs.display());

    // Unknown routes and methods are JSON errors too.
    let (status, _) = error_of(app.get(&key, "/v1/nothing-here").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = error_of(app.get(&key, "/v1/jobs/not-a-uuid").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn embedded_rejects_bad_input() {
    rejects_bad_input(Backend::Embedded).await;
}

#[tokio::test]
async fn production_rejects_bad_input() {
    rejects_bad_input(Backend::Production).await;
}

/// A long name is accepted up to the limit and still renders as one page.
#[tokio::test]
async fn longest_allowed_name_fits_one_page() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("long").await;
    let name = "Maximilian Alexander ".repeat(9);
    let name = name.trim();
    assert!(name.chars().count() <= 200);
    let id = app.submit_ok(&key, &certificate(name)).await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["pages"], 1);
    app.stop().await;
}

/// Data never becomes markup: a name that looks like typst code is printed as is.
#[tokio::test]
async fn typst_code_in_names_is_text() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("eve").await;
    let name = r#"Bob #read("/data.json") $x$ [*y*]"#;
    let id = app.submit_ok(&key, &certificate(name)).await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let pdf = app
        .get(&key, &format!("/v1/jobs/{id}/file"))
        .await
        .bytes()
        .await
        .unwrap();
    let text = pdf_text(&pdf);
    assert!(text.contains(r#"#read("/data.json")"#), "{text}");
    assert!(
        !text.contains("verification_code"),
        "the data file leaked into the PDF: {text}"
    );
    app.stop().await;
}

/// Every rejection, not only those of bodies, is the one JSON error body: a wrong method is
/// 405 with `Allow`, a bad query or path parameter a 400 that names it.
#[tokio::test]
async fn every_rejection_is_the_json_error_body() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("strict").await;

    let response = app
        .client
        .patch(app.url("/v1/jobs"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let allow = response.headers().get("allow").cloned();
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{error}");
    assert_eq!(error["code"], "method_not_allowed");
    assert_eq!(
        allow.as_ref().and_then(|a| a.to_str().ok()),
        Some("GET,HEAD")
    );
    let response = app
        .client
        .delete(app.url("/v1/certificates"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let mut methods: Vec<&str> = allow.split(',').collect();
    methods.sort_unstable();
    assert_eq!(methods, ["GET", "HEAD", "POST"]);

    for (path, field) in [
        ("/v1/jobs?limit=many", "limit"),
        ("/v1/jobs?limit=-1", "limit"),
        ("/v1/certificates?limit=1.5", "limit"),
        ("/v1/certificates/public?limit=x", "limit"),
        ("/v1/templates?use_cache=perhaps", "use_cache"),
        ("/v1/templates/classic?use_cache=2", "use_cache"),
    ] {
        let response = app.get(&key, path).await;
        let (status, error) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {error}");
        assert_eq!(error["code"], "invalid_query", "{path}: {error}");
        assert_eq!(error["field"], field, "{path}: {error}");
    }
    // A path segment that is not UTF-8 once decoded.
    let (status, error) = error_of(app.get(&key, "/v1/templates/%FF%FE").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["code"], "invalid_path", "{error}");
    assert_eq!(error["field"], "id", "{error}");

    // A signed link without its expiry is as unknown as a wrong one: the documented 404.
    let id = app.submit_ok(&key, &certificate("Link Holder")).await;
    for query in ["?sig=00", "?expires=soon&sig=00", ""] {
        let response = app
            .client
            .get(app.url(&format!("/v1/files/{id}{query}")))
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(response).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{query}: {error}");
    }
    app.stop().await;
}

/// A request with thousands of problems gets a bounded answer that still counts them all.
#[tokio::test]
async fn many_problems_are_listed_up_to_a_bound() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("sloppy").await;
    let equipment: Vec<Value> = (0..300)
        .map(|_| json!({"name": "", "calibration_due": "soon"}))
        .collect();
    let report = json!({
        "document_number": "SAT-1", "revision": "A", "project": "P", "client": "C",
        "site": "S", "system": "X", "equipment": equipment,
    });
    let (status, error) = error_of(app.post(&key, "/v1/reports", &report).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["errors"].as_array().unwrap().len(), 100, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("599 more problems"), "{message}");
    app.stop().await;
}
