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
    let response = app.get(&key, "/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
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
