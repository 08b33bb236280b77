//! Requests built to exhaust the API (issue 33, points 1 and 5): a flood of image-carrying
//! reports on a runtime with few blocking threads, a certificate whose `fields` object holds
//! hundreds of thousands of keys, and bodies larger than their route needs. Each is answered
//! quickly with the one error body, and the process keeps serving.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, b64, certificate, error_of};
use crate::reports::report;

/// A PNG that is decoded in full on upload (PNGs are; JPEGs are only walked).
fn png(side: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 239) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// A PNG of noise: it does not compress, so its size is about 3 bytes a pixel.
fn noisy_png(side: u32) -> Vec<u8> {
    let mut state = 0x9E37_79B9_u32;
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// The wedge: every report's validation used to take a blocking thread and, inside it, wait
/// for its image decode on that same pool. With the blocking pool at 6 threads, 40 reports at
/// once (from 10 keys) left every thread waiting for a decode that could never be scheduled,
/// and the process served nothing again (not even a file write). Now every report is answered
/// (accepted, or refused at once over the per-key cap), and the process still writes files
/// and answers `/health`.
#[test]
fn a_flood_of_reports_with_images_cannot_wedge_the_api() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(6)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::API], |c| {
            c.limits.max_concurrent_decodes = 2;
        })
        .await;
        let mut keys = Vec::new();
        for i in 0..10 {
            keys.push(app.new_key(&format!("flood{i}")).await);
        }
        let mut body = report(1, 3);
        body["images"] = json!([{"image": b64(&png(700)), "caption": "Panel"}]);
        let mut flood = tokio::task::JoinSet::new();
        for i in 0..40 {
            let (client, url, key, body) = (
                app.client.clone(),
                app.url("/v1/reports"),
                keys[i % keys.len()].clone(),
                body.clone(),
            );
            flood.spawn(async move {
                let response = client.post(url).bearer_auth(key).json(&body).send().await;
                let response = response.unwrap();
                let status = response.status();
                let code = response.json::<Value>().await.unwrap()["error"]["code"].clone();
                (status, code)
            });
        }
        let answers = tokio::time::timeout(Duration::from_secs(60), flood.join_all())
            .await
            .expect("the API wedged: reports were never answered");
        let accepted = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::ACCEPTED)
            .count();
        for (status, code) in &answers {
            assert!(
                *status == StatusCode::ACCEPTED
                    || (*status == StatusCode::TOO_MANY_REQUESTS && code == "too_many_checks")
                    || (*status == StatusCode::SERVICE_UNAVAILABLE && code == "busy"),
                "unexpected answer {status} {code}"
            );
        }
        assert!(accepted >= 10, "only {accepted} of 40 accepted");
        // Still serving: a certificate with a photo is checked, its input written (tokio::fs
        // on the blocking pool) and accepted; /health says ok.
        let mut cert = certificate("After The Flood");
        cert["photo"] = json!(b64(&png(64)));
        let response = tokio::time::timeout(Duration::from_secs(20), app.submit(&app.admin, &cert))
            .await
            .expect("no answer after the flood");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        app.stop().await;
    });
}

/// 800,000 keys in `fields` used to be read, allocated and reported one by one on a runtime
/// thread (2.2 s and +286 MB per request). Reading now stops at the limit with a 422.
#[tokio::test]
async fn a_certificate_with_a_huge_fields_object_is_refused_while_read() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let mut fields = String::with_capacity(9 << 20);
    fields.push('{');
    for i in 0..800_000 {
        if i > 0 {
            fields.push(',');
        }
        fields.push_str(&format!("\"f{i}\":1"));
    }
    fields.push('}');
    let body =
        format!(r#"{{"recipient_name":"Ada","course_name":"Typesetting","fields":{fields}}}"#);
    assert!(body.len() < 10 << 20);
    let started = std::time::Instant::now();
    let response = app
        .client
        .post(app.url("/v1/certificates"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["field"], "fields", "{error}");
    let message = error["message"].as_str().unwrap();
    assert_eq!(error["code"], "too_many", "{error}");
    assert!(message.contains("too many fields: at most 50"), "{message}");
    // Not a timing test: a generous bound that the old path (seconds of work) could miss on
    // a loaded machine but the new one never approaches.
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // A list or object as a field's value is refused the same way.
    let mut bad = certificate("Ada");
    bad["fields"] = json!({"grade": [1, 2, 3]});
    let (status, error) = error_of(app.submit(&app.admin, &bad).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["field"], "fields.grade", "{error}");
    app.stop().await;
}

/// Email `vars` are bounded the same way.
#[tokio::test]
async fn an_email_with_too_many_variables_is_refused_while_read() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let vars: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("v{i}"), json!("x"))).collect();
    let body = json!({"to": ["someone@example.com"], "template": "generic",
        "vars": Value::Object(vars)});
    let (status, error) = error_of(app.post(&app.admin, "/v1/emails", &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["field"], "vars", "{error}");
    assert_eq!(error["code"], "too_many", "{error}");
    app.stop().await;
}

/// Routes that carry no images or documents read at most `limits.max_json_body_bytes`
/// (default 256 KiB): a 1 MiB webhook or email body is a 413 naming that limit, while a
/// certificate may still carry megabytes of images.
#[tokio::test]
async fn small_routes_refuse_large_bodies() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let filler = "x".repeat(1 << 20);
    for path in ["/v1/webhooks", "/v1/emails"] {
        let body = json!({"url": "https://example.com/hook", "padding": filler});
        let (status, error) = error_of(app.post(&app.admin, path, &body).await).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {error}");
        assert_eq!(error["code"], "payload_too_large");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("262144"), "{path}: {message}");
    }
    let mut cert = certificate("Big Photo");
    cert["photo"] = json!(b64(&noisy_png(600)));
    assert!(cert.to_string().len() > 1 << 20);
    assert_eq!(
        app.submit(&app.admin, &cert).await.status(),
        StatusCode::ACCEPTED
    );
    app.stop().await;
}

/// `/health` proves progress: with every blocking thread of the process taken, it answers
/// `503 stalled` (so a liveness probe restarts the process), and `200` again once they free.
#[test]
fn health_fails_while_the_process_cannot_make_progress() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(3)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::API], |c| {
            c.health.stall_after_secs = 3;
        })
        .await;
        let health = || async {
            let response = app.client.get(app.url("/health")).send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        };
        assert_eq!(health().await.0, StatusCode::OK);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = std::sync::Arc::new(std::sync::Mutex::new(wait));
        for _ in 0..3 {
            let wait = wait.clone();
            tokio::task::spawn_blocking(move || {
                let _ = wait.lock().unwrap().recv();
            });
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = health().await;
            if status == StatusCode::SERVICE_UNAVAILABLE {
                assert_eq!(body["status"], "stalled", "{body}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reported stalled"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop(release);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while health().await.0 != StatusCode::OK {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never healthy again"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        app.stop().await;
    });
}
