//! The OpenAPI document is generated from the code; real responses must match its schemas.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn check(doc: &Value, schema: &str, instance: &Value) {
    let schema = json!({
        "$ref": format!("#/components/schemas/{schema}"),
        "components": doc["components"],
    });
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "response does not match {schema}: {errors:?}\n{instance}"
    );
}

#[tokio::test]
async fn responses_match_the_openapi_document() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("docs").await;
    let doc = app.json_at(None, app.url("/v1/openapi.json")).await;
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/certificates",
        "/v1/jobs",
        "/v1/jobs/{id}",
        "/v1/jobs/{id}/file",
        "/health",
        "/ready",
        "/v1/certificates/batch",
        "/v1/certificates/public",
        "/v1/certificates/{id}/revoke",
        "/v1/batches/{id}",
        "/v1/batches/{id}/archive",
        "/v1/verify/{code}",
        "/v1/templates",
        "/v1/templates/{id}",
        "/v1/templates/{id}/preview",
        "/v1/system/cache/stats",
        "/v1/system/cache/health",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());

    let submitted: Value = app
        .submit(&key, &certificate("Schema Checked"))
        .await
        .json()
        .await
        .unwrap();
    check(&doc, "SubmittedView", &submitted);
    let id = submitted["id"].as_str().unwrap();
    let queued = app.job(&key, id).await;
    check(&doc, "JobView", &queued);
    let done = app.wait_for(&key, id, &["succeeded"]).await;
    check(&doc, "JobView", &done);
    let page: Value = app.get(&key, "/v1/jobs").await.json().await.unwrap();
    check(&doc, "JobPage", &page);
    let error: Value = app
        .submit(&key, &json!({"recipient_name": 1}))
        .await
        .json()
        .await
        .unwrap();
    check(&doc, "ErrorBody", &error);
    let certs: Value = app
        .get(&key, "/v1/certificates")
        .await
        .json()
        .await
        .unwrap();
    check(&doc, "CertificatePage", &certs);
    let cert: Value = app
        .get(&key, &format!("/v1/certificates/{id}"))
        .await
        .json()
        .await
        .unwrap();
    check(&doc, "CertificateView", &cert);
    let verified: Value = app
        .json_at(None, cert["verify_url"].as_str().unwrap())
        .await;
    check(&doc, "Verification", &verified);
    let templates: Value = app.get(&key, "/v1/templates").await.json().await.unwrap();
    check(&doc, "TemplateList", &templates);
    let template: Value = app
        .get(&key, "/v1/templates/classic")
        .await
        .json()
        .await
        .unwrap();
    check(&doc, "TemplateView", &template);
    let batch: Value = app
        .client
        .post(app.url("/v1/certificates/batch"))
        .bearer_auth(&key)
        .json(&json!({"rows": [{"recipient_name": "A", "course_name": "B"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&doc, "BatchView", &batch);
    let many: Value = app
        .client
        .post(app.url("/v1/certificates/batch"))
        .bearer_auth(&key)
        .json(&json!({"rows": [{"recipient_name": "", "course_name": "B"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&doc, "ErrorBody", &many);
    let stats: Value = app
        .get(&app.admin, "/v1/system/cache/stats")
        .await
        .json()
        .await
        .unwrap();
    check(&doc, "CacheStatsView", &stats);
    let cache: Value = app
        .get(&key, "/v1/system/cache/health")
        .await
        .json()
        .await
        .unwrap();
    check(&doc, "CacheHealthView", &cache);
    let health: Value = app.json_at(None, app.url("/ready")).await;
    check(&doc, "Health", &health);
    app.stop().await;
}

#[tokio::test]
async fn the_document_and_its_reference_page_need_no_key() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let response = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    // The interactive reference: Swagger UI, its assets served from the binary, pointed at
    // the document.
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"] {
        let response = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 10_000, "{asset}");
    }
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/v1/openapi.json"), "{init}");
    app.stop().await;
}

/// Every operation documents the error answers it can give, each with the one error body.
#[tokio::test]
async fn every_operation_documents_its_errors() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let doc = app.json_at(None, app.url("/v1/openapi.json")).await;
    let error_body = json!({"$ref": "#/components/schemas/ErrorBody"});
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let keyed = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let mut expected = Vec::new();
            if keyed {
                expected.push("401");
            }
            if op.get("requestBody").is_some() {
                expected.extend(["400", "413", "415"]);
            }
            if op.get("parameters").is_some() {
                expected.push("400");
            }
            if !["/health", "/ready", "/metrics", "/v1/openapi.json"].contains(&path.as_str()) {
                expected.push("503");
            }
            for status in expected {
                let response = &responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{method} {path} does not document {status}"));
                assert_eq!(
                    response["content"]["application/json"]["schema"], error_body,
                    "{method} {path} {status}"
                );
            }
            // `/ready` and `/health` answer 503 as probes read it (down or stalled), not as a
            // request to retry.
            let probe = ["/ready", "/health"].contains(&path.as_str());
            if let Some(unavailable) = responses.get("503").filter(|_| !probe) {
                assert!(
                    unavailable["headers"]["Retry-After"].is_object(),
                    "{method} {path}: 503 without Retry-After"
                );
            }
        }
    }
    // The statuses a few operations add.
    for (method, path, status) in [
        ("post", "/v1/emails", "429"),
        ("post", "/v1/certificates/batch", "429"),
        ("put", "/v1/templates/{id}", "409"),
        ("post", "/v1/templates", "503"),
        ("put", "/v1/templates/{id}", "503"),
        ("post", "/v1/templates/{id}/preview", "503"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"][status].is_object(),
            "{method} {path} does not document {status}"
        );
    }
    // `deny_unknown_fields` is `additionalProperties: false`.
    for schema in [
        "CertificateRequest",
        "ReportRequest",
        "EmailRequest",
        "TemplateRequest",
    ] {
        assert_eq!(
            doc["components"]["schemas"][schema]["additionalProperties"],
            json!(false),
            "{schema}"
        );
    }
    app.stop().await;
}

/// The document states the limits this process enforces, not the defaults.
#[tokio::test]
async fn the_document_states_the_configured_limits() {
    let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::ALL], |c| {
        c.limits.max_name_chars = 50;
        c.limits.max_report_sections = 7;
        c.limits.max_report_images = 3;
        c.limits.max_report_rows = 11;
    })
    .await;
    let doc = app.json_at(None, app.url("/v1/openapi.json")).await;
    let schemas = &doc["components"]["schemas"];
    for schema in ["CertificateRequest", "BatchItem"] {
        for property in ["recipient_name", "course_name", "issuer_name"] {
            assert_eq!(
                schemas[schema]["properties"][property]["maxLength"], 50,
                "{schema}.{property}"
            );
        }
    }
    let report = &schemas["ReportRequest"]["properties"];
    assert_eq!(report["sections"]["maxItems"], 7);
    assert_eq!(report["images"]["maxItems"], 3);
    assert_eq!(
        schemas["SectionInput"]["properties"]["rows"]["maxItems"],
        11
    );
    // And it means it: one character over is refused.
    let mut body = certificate("x");
    body["recipient_name"] = json!("y".repeat(51));
    let (status, error) = error_of(app.submit(&app.admin, &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "too_long");
    app.stop().await;
}
