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

/// Every operation has its own operationId, one a generated client can use as a method name.
/// (Names shared by several operations made generators send one operation's calls to another.)
#[tokio::test]
async fn operation_ids_are_unique_method_names() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let doc = app.json_at(None, app.url("/v1/openapi.json")).await;
    let mut ids = std::collections::HashMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(
                !id.is_empty()
                    && id.starts_with(|c: char| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{method} {path}: operationId {id:?} is not a snake_case name"
            );
            if let Some(other) = ids.insert(id.clone(), format!("{method} {path}")) {
                panic!("operationId {id} of {method} {path} is also {other}'s");
            }
        }
    }
    for (id, operation) in [
        ("submit_certificate", "post /v1/certificates"),
        ("submit_batch", "post /v1/certificates/batch"),
        ("list_certificates", "get /v1/certificates"),
        ("list_jobs", "get /v1/jobs"),
        ("get_job", "get /v1/jobs/{id}"),
        ("download_job_file", "get /v1/jobs/{id}/file"),
        ("download_batch_archive", "get /v1/batches/{id}/archive"),
        ("retry_job", "post /v1/jobs/{id}/retry"),
        ("stream_events", "get /v1/events"),
    ] {
        assert_eq!(ids.get(id).map(String::as_str), Some(operation), "{id}");
    }
    app.stop().await;
}

/// The served document passes openapi-spec-validator (the reference validator of the
/// OpenAPI specification's rules: unique operationIds, the 3.1 meta-schema, ...).
#[tokio::test]
async fn the_document_is_valid_openapi() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let doc = app.json_at(None, app.url("/v1/openapi.json")).await;
    // Stopped first: the validator blocks this test's one thread for seconds, which would
    // starve the app's tasks (its SQLite queue then saw "database is locked" at stop).
    app.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = std::process::Command::new("openapi-spec-validator")
        .arg(&file)
        .output()
        .expect(
            "openapi-spec-validator must be installed: bash deploy/test-services.sh installs it",
        );
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Enums live in `components/schemas` under one name each, referenced wherever they are used:
/// no inline enum for a generator to name after its place (two `status` filters of different
/// values got the same generated name, and one operation was left out).
#[tokio::test]
async fn shared_enums_are_named_components() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let doc = app.json_at(None, app.url("/v1/openapi.json")).await;
    fn inline_enums(value: &Value, path: &str, top: bool, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if map.contains_key("enum") && !top {
                    out.push(path.to_owned());
                }
                for (key, child) in map {
                    // A `not` names what is refused, never a type of its own.
                    if key != "not" {
                        inline_enums(child, &format!("{path}/{key}"), false, out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    inline_enums(child, &format!("{path}/{i}"), false, out);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    inline_enums(&doc["paths"], "paths", false, &mut found);
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        inline_enums(
            schema,
            &format!("components/schemas/{name}"),
            true,
            &mut found,
        );
    }
    assert!(found.is_empty(), "inline enums: {found:#?}");
    let named = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let param = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .clone()
    };
    assert_eq!(param("/v1/jobs", "status"), named("JobStatus"));
    assert_eq!(param("/v1/jobs", "kind"), named("JobKind"));
    assert_eq!(param("/v1/events", "kind"), named("JobKind"));
    assert_eq!(
        param("/v1/certificates", "status"),
        named("CertificateStatus")
    );
    assert_eq!(
        param("/v1/certificates/public", "sort"),
        named("CertificateSort")
    );
    let job = &doc["components"]["schemas"]["JobView"]["properties"];
    assert_eq!(job["status"], named("JobStatus"));
    assert_eq!(job["kind"], named("JobKind"));
    assert_eq!(job["priority"], named("Priority"));
    assert_eq!(
        doc["components"]["schemas"]["EmailRequest"]["properties"]["template"],
        named("EmailTemplateName")
    );
    app.stop().await;
}

/// A validator for `schema` (any JSON Schema using the document's components), formats
/// checked.
fn validator(doc: &Value, schema: Value) -> jsonschema::Validator {
    let mut schema = schema;
    schema["components"] = doc["components"].clone();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

/// Asserts `instance` is valid, saying why not.
fn assert_valid(validator: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{instance}: {errors:?}");
}

fn parameter_schema(doc: &Value, path: &str, name: &str) -> Value {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{path} has no parameter {name}"))["schema"]
        .clone()
}

/// What the validation refuses and JSON Schema can say, the document says: a client (or
/// schemathesis) that trusts the document is never refused for it, and the document refuses
/// what the API refuses.
#[tokio::test]
async fn the_schema_states_the_rules_the_validation_enforces() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("rules").await;
    let doc = app.json_at(None, app.url("/v1/openapi.json")).await;
    let component = |name: &str| {
        validator(
            &doc,
            json!({"$ref": format!("#/components/schemas/{name}")}),
        )
    };

    // `run_at` and `delay_secs` together.
    let mut both = certificate("Both Times");
    both["run_at"] = json!("2030-01-01T00:00:00Z");
    both["delay_secs"] = json!(60);
    assert!(!component("CertificateRequest").is_valid(&both));
    let (status, error) = error_of(app.submit(&key, &both).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "conflicting_fields");
    let mut one = certificate("One Time");
    one["run_at"] = json!(null);
    one["delay_secs"] = json!(60);
    assert_valid(&component("CertificateRequest"), &one);
    // JSON Schema's integers include `60.0` (schemathesis sends such numbers); so do the
    // API's.
    one["delay_secs"] = json!(60.0);
    let response = app.submit(&key, &one).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "{}",
        response.text().await.unwrap()
    );
    for (schema, body) in [
        (
            "BatchRequest",
            json!({"rows": [{"recipient_name": "A", "course_name": "B"}], "run_at": "2030-01-01T00:00:00Z", "delay_secs": 1}),
        ),
        (
            "EmailRequest",
            json!({"to": ["a@example.com"], "template": "generic", "run_at": "2030-01-01T00:00:00Z", "delay_secs": 1}),
        ),
    ] {
        assert!(!component(schema).is_valid(&body), "{schema}");
    }

    // Cursors: each listing's own syntax; an empty or malformed one is refused by both.
    let first = app.submit_ok(&key, &certificate("Cursor One")).await;
    app.submit_ok(&key, &certificate("Cursor Two")).await;
    app.wait_for(&key, &first, &["succeeded"]).await;
    for path in ["/v1/jobs", "/v1/certificates", "/v1/batches"] {
        let cursor = validator(&doc, parameter_schema(&doc, path, "cursor"));
        for bad in ["", "garbage", "-1_01a24fa9-6345-7221-ab3c-529a4ce250f0"] {
            assert!(!cursor.is_valid(&json!(bad)), "{path} cursor {bad:?}");
            let response = app.get(&key, &format!("{path}?cursor={bad}")).await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{path} cursor {bad:?}"
            );
        }
    }
    for path in ["/v1/jobs", "/v1/certificates"] {
        let cursor = validator(&doc, parameter_schema(&doc, path, "cursor"));
        let page: Value = app
            .get(&key, &format!("{path}?limit=1"))
            .await
            .json()
            .await
            .unwrap();
        let next = &page["next_cursor"];
        assert!(
            cursor.is_valid(next),
            "{path}: {next} does not match its documented pattern"
        );
        let response = app
            .get(
                &key,
                &format!("{path}?limit=1&cursor={}", next.as_str().unwrap()),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // A cursor holds its row in every order of the registry.
    let page: Value = app
        .get(&key, "/v1/certificates?limit=1")
        .await
        .json()
        .await
        .unwrap();
    let response = app
        .get(
            &key,
            &format!(
                "/v1/certificates?limit=1&sort=issued_on&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // The event stream's `job` filter is a job id.
    let job = validator(&doc, parameter_schema(&doc, "/v1/events", "job"));
    assert!(!job.is_valid(&json!("")));
    assert_valid(&job, &json!(first));
    let response = app.get(&key, "/v1/events?job=").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // A template's assets: base64 strings at paths that are not reserved.
    let template =
        |assets: Value| json!({"name": "assets-rule", "source": "= Hi", "assets": assets});
    let request = component("TemplateRequest");
    assert_valid(&request, &template(json!({"/logo.svg": "PHN2Zy8+"})));
    for bad in [
        json!({"/logo.svg": true}),
        json!({"/logo.svg": {"nested": 1}}),
        json!({"/logo.svg": "not base64!"}),
        json!({"/photo": "PHN2Zy8+"}),
        json!({"/fields/x": "PHN2Zy8+"}),
        json!({"logo.svg": "PHN2Zy8+"}),
        json!({"/../x": "PHN2Zy8+"}),
    ] {
        assert!(!request.is_valid(&template(bad.clone())), "{bad}");
        let (status, error) = error_of(
            app.post(&app.admin, "/v1/templates", &template(bad.clone()))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {error}");
    }

    // `overlap_secs` only with `rotate_secret: true`; `max_length` on text fields only.
    let update = component("UpdateWebhook");
    assert!(!update.is_valid(&json!({"overlap_secs": 60})));
    assert!(!update.is_valid(&json!({"overlap_secs": 60, "rotate_secret": false})));
    assert_valid(&update, &json!({"overlap_secs": 60, "rotate_secret": true}));
    let field = component("FieldSpec");
    assert!(!field.is_valid(&json!({"name": "n", "type": "number", "max_length": 5})));
    assert_valid(
        &field,
        &json!({"name": "n", "type": "text", "max_length": 5}),
    );
    app.stop().await;
}

/// `GET /v1/events` is described event by event (`StreamEvent`: `id`, `event`, `data` holding
/// an `EventView`), as clients and schemathesis read a `text/event-stream`; every event of a
/// real stream, read bounded, matches.
#[tokio::test]
async fn the_event_stream_is_described_event_by_event() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("events-doc").await;
    let doc = app.json_at(None, app.url("/v1/openapi.json")).await;
    let content =
        &doc["paths"]["/v1/events"]["get"]["responses"]["200"]["content"]["text/event-stream"];
    assert_eq!(
        content["schema"],
        json!({"$ref": "#/components/schemas/StreamEvent"})
    );
    let event = validator(&doc, content["schema"].clone());
    let data_schema =
        doc["components"]["schemas"]["JobStreamEvent"]["properties"]["data"]["contentSchema"]
            .clone();
    let data = validator(&doc, data_schema);
    let id = app.submit_ok(&key, &certificate("Streamed Event")).await;
    app.wait_for(&key, &id, &["succeeded"]).await;

    let mut response = app
        .client
        .get(app.url(&format!("/v1/events?after=0&job={id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut buffer = String::new();
    let events = crate::receiver::read_events(
        &mut response,
        &mut buffer,
        std::time::Duration::from_secs(30),
        |(_, name, _)| name != "job.succeeded",
    )
    .await;
    drop(response);
    assert!(
        events.iter().any(|(_, name, _)| name == "job.succeeded"),
        "{events:?}"
    );
    for (seq, name, payload) in &events {
        let instance = json!({
            "id": seq.unwrap().to_string(),
            "event": name,
            "data": payload.to_string(),
        });
        let errors: Vec<String> = event
            .iter_errors(&instance)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{instance} is not a StreamEvent: {errors:?}"
        );
        assert!(data.is_valid(payload), "{payload} is not an EventView");
    }
    // The largest event id resumes (after everything) rather than overflowing.
    let response = app
        .client
        .get(app.url("/v1/events"))
        .bearer_auth(&key)
        .header("Last-Event-ID", i64::MAX.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    // A gap is an event of its own shape.
    let gap = json!({"event": "gap", "data": "{\"oldest\":5,\"message\":\"missed\"}"});
    assert_valid(&event, &gap);
    app.stop().await;
}
