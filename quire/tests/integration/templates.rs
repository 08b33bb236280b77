//! Templates over the API: create, version, pin, validate submissions against declared fields,
//! preview, delete; the cross-process cache.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use quire::Roles;

/// A small certificate template that prints a marker, the name and its declared fields.
fn template_body(name: &str, marker: &str) -> Value {
    json!({
        "name": name,
        "description": "test template",
        "is_public": true,
        "source": format!(
            "#let d = json(\"/data.json\")\n#set page(width: 20cm, height: 10cm)\n{marker}: #d.recipient_name / #d.fields.at(\"grade\", default: \"-\") / #d.fields.at(\"score\", default: \"-\")\n"
        ),
        "fields": [
            {"name": "grade", "type": "text", "required": true, "max_length": 10},
            {"name": "score", "type": "number"},
            {"name": "passed_on", "type": "date"}
        ]
    })
}

impl TestApp {
    /// Creates `badge` (admin): a certificate template with one required image field,
    /// `badge`, printed as "Badge for <name>".
    pub async fn create_badge_template(&self) {
        let body = json!({
            "name": "badge",
            "is_public": true,
            "source": "#let d = json(\"/data.json\")\n#set page(width: 12cm, height: 8cm)\nBadge for #d.recipient_name\n#image(\"/fields/badge\", width: 3cm)\n",
            "fields": [{"name": "badge", "type": "image", "required": true}]
        });
        let response = self
            .send(
                reqwest::Method::POST,
                &self.admin,
                "/v1/templates",
                Some(&body),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    pub async fn pdf_of(&self, key: &str, id: &str) -> Vec<u8> {
        let job = self.wait_for(key, id, &["succeeded", "dead"]).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        let response = self.get(key, &format!("/v1/jobs/{id}/file")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.unwrap().to_vec()
    }
}

async fn templates_lifecycle(backend: Backend) {
    // API only at first, so a job can wait in the queue while its template changes.
    let mut app = TestApp::spawn_with(backend, &[Roles::API], |c| {
        c.sandbox.timeout_ms = 2000;
    })
    .await;
    let admin = app.admin.clone();
    let user = app.new_key("user").await;
    use reqwest::Method;

    // The built-ins are seeded and public.
    let list: Value = app.get(&user, "/v1/templates").await.json().await.unwrap();
    let names: Vec<&str> = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for builtin in ["classic", "modern", "signature"] {
        assert!(names.contains(&builtin), "{names:?}");
    }

    // Only admins write.
    let body = template_body("award", "VERSION-ONE");
    let response = app
        .send(Method::POST, &user, "/v1/templates", Some(&body))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .send(Method::POST, &admin, "/v1/templates", Some(&body))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["version"], 1);
    let id = created["id"].as_str().unwrap().to_owned();
    let response = app
        .send(Method::POST, &admin, "/v1/templates", Some(&body))
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("name_taken"))
    );

    // A template that does not compile: 422 with typst's located diagnostics.
    let mut broken = template_body("broken", "X");
    broken["source"] = json!("#let d = json(\"/data.json\")\n\n#(d.recipient_name + )\n");
    let response = app
        .send(Method::POST, &admin, "/v1/templates", Some(&broken))
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "template_error");
    let first = &error["diagnostics"][0];
    assert_eq!(first["line"], 3, "{error}");
    assert!(first["column"].as_u64().unwrap() > 0, "{error}");
    // A loop that would run for hours is stopped by the sandbox's time limit. (typst itself
    // refuses `while true` and caps `while` loops, but not nested `for` loops.)
    broken["source"] = json!("#for i in range(100000) { for j in range(100000) { } }\n");
    let response = app
        .send(Method::POST, &admin, "/v1/templates", Some(&broken))
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "template_timeout", "{error}");

    // Submissions are checked against the declared fields, every problem named.
    let mut bad = certificate("Ann");
    bad["template"] = json!("award");
    bad["fields"] = json!({"score": "many", "extra": 1, "passed_on": "yesterday"});
    let (status, error) = error_of(app.submit(&user, &bad).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let problems: Vec<(String, String)> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("fields.extra", "unknown_field"),
        ("fields.grade", "missing_field"),
        ("fields.score", "invalid_type"),
        ("fields.passed_on", "invalid_date"),
    ] {
        assert!(
            problems.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} missing from {problems:?}"
        );
    }
    bad["fields"] = json!({"grade": "far too long for ten"});
    let (_, error) = error_of(app.submit(&user, &bad).await).await;
    assert_eq!(error["code"], "too_long", "{error}");
    assert_eq!(error["field"], "fields.grade", "{error}");

    // A job pins the version it was submitted with.
    let mut good = certificate("Pinned Person");
    good["template"] = json!("award");
    good["fields"] = json!({"grade": "A+", "score": 97});
    let pinned = app.submit_ok(&user, &good).await;

    let mut change = json!({"source": template_body("award", "VERSION-TWO")["source"]});
    let response = app
        .send(
            Method::PUT,
            &admin,
            &format!("/v1/templates/{id}"),
            Some(&change),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["version"], 2);
    change["source"] = json!("#(");
    let response = app
        .send(Method::PUT, &admin, "/v1/templates/award", Some(&change))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fresh = app.submit_ok(&user, &good).await;

    app.add(Roles::WORKER).await;
    let old = pdf_text(&app.pdf_of(&user, &pinned).await);
    assert!(
        old.contains("VERSION-ONE: Pinned Person / A+ / 97"),
        "{old}"
    );
    let new = pdf_text(&app.pdf_of(&user, &fresh).await);
    assert!(new.contains("VERSION-TWO"), "{new}");

    // Preview: a PDF, or page 1 as PNG, rendered now with sample values filling the gaps.
    let preview = json!({"recipient_name": "Preview Person", "fields": {"grade": "B"}});
    let response = app
        .send(
            Method::POST,
            &user,
            "/v1/templates/award/preview",
            Some(&preview),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let text = pdf_text(&response.bytes().await.unwrap());
    assert!(
        text.contains("VERSION-TWO: Preview Person / B / 42"),
        "{text}"
    );
    let response = app
        .client
        .post(app.url("/v1/templates/award/preview"))
        .bearer_auth(&user)
        .header("accept", "image/png")
        .json(&preview)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    let png = image::load_from_memory(&response.bytes().await.unwrap()).expect("a PNG");
    assert!(png.width() > png.height(), "20x10 cm page");

    // Delete: soft, since certificates used it; the name disappears, issued ones stay.
    let response = app
        .send(Method::DELETE, &user, "/v1/templates/award", None)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .send(Method::DELETE, &admin, "/v1/templates/award", None)
        .await;
    let deleted: Value = response.json().await.unwrap();
    assert_eq!(deleted["deleted"], "soft", "{deleted}");
    assert_eq!(
        app.get(&user, "/v1/templates/award").await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, error) = error_of(app.submit(&user, &good).await).await;
    assert_eq!(error["code"], "unknown_template");
    let unused = template_body("unused", "U");
    app.send(Method::POST, &admin, "/v1/templates", Some(&unused))
        .await;
    let deleted: Value = app
        .send(Method::DELETE, &admin, "/v1/templates/unused", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["deleted"], "hard", "{deleted}");
    let response = app
        .send(Method::DELETE, &admin, "/v1/templates/classic", None)
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // A private template is invisible to other keys.
    let mut private = template_body("private", "P");
    private["is_public"] = json!(false);
    app.send(Method::POST, &admin, "/v1/templates", Some(&private))
        .await;
    assert_eq!(
        app.get(&user, "/v1/templates/private").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&admin, "/v1/templates/private").await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn embedded_templates_lifecycle() {
    templates_lifecycle(Backend::Embedded).await;
}

#[tokio::test]
async fn production_templates_lifecycle() {
    templates_lifecycle(Backend::Production).await;
}

/// Two API processes: a change through one is seen by the other at once, although the other
/// had the old version cached (the change's own notification drops it, see `api::cache`).
#[tokio::test]
async fn template_changes_invalidate_other_processes() {
    use reqwest::Method;
    let app = TestApp::spawn_with(Backend::Production, &[Roles::API, Roles::ALL], |_| {}).await;
    let admin = app.admin.clone();
    let other = format!("http://{}", app.apps[1].addr.unwrap());
    let on_other = |path: &str| format!("{other}{path}");
    let response = app
        .send(
            Method::POST,
            &admin,
            "/v1/templates",
            Some(&template_body("shared", "FIRST")),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // The other process caches version 1 (a miss, then a hit).
    let health: Value = app
        .json_at(Some(&admin), on_other("/v1/system/cache/health"))
        .await;
    assert_eq!(health["channel"], "postgres");
    assert_eq!(health["up"], true, "{health}");
    for _ in 0..2 {
        let t: Value = app
            .json_at(Some(&admin), on_other("/v1/templates/shared"))
            .await;
        assert_eq!(t["version"], 1);
    }
    let templates = |stats: &Value| -> Value {
        stats["caches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "templates")
            .unwrap()
            .clone()
    };
    let stats: Value = app
        .json_at(Some(&admin), on_other("/v1/system/cache/stats"))
        .await;
    let stats = templates(&stats);
    assert!(stats["hits"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats["entries"].as_u64().unwrap() >= 1, "{stats}");
    let invalidations_before = stats["invalidations"].as_u64().unwrap();

    let change = json!({"source": template_body("shared", "SECOND")["source"]});
    let response = app
        .send(Method::PUT, &admin, "/v1/templates/shared", Some(&change))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // Within a second the other process serves version 2 from its cache.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let t: Value = app
            .json_at(Some(&admin), on_other("/v1/templates/shared"))
            .await;
        if t["version"] == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still version 1 after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats: Value = app
        .json_at(Some(&admin), on_other("/v1/system/cache/stats"))
        .await;
    let stats = templates(&stats);
    assert!(
        stats["invalidations"].as_u64().unwrap() > invalidations_before,
        "{stats}"
    );

    // And renders with it: submit through the other process.
    let mut body = certificate("Cross Process");
    body["template"] = json!("shared");
    body["fields"] = json!({"grade": "A"});
    let response = app
        .client
        .post(on_other("/v1/certificates"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = pdf_text(&app.pdf_of(&admin, &id).await);
    assert!(text.contains("SECOND: Cross Process"), "{text}");

    // use_cache=false reads the database.
    let response = app
        .get(&admin, "/v1/templates/shared?use_cache=false")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let user = app.new_key("u").await;
    assert_eq!(
        app.get(&user, "/v1/system/cache/stats").await.status(),
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

/// Every bad template input is a clear error naming the member at fault; nothing is stored.
#[tokio::test]
async fn bad_templates_are_refused() {
    use reqwest::Method;
    let app = TestApp::spawn(Backend::Embedded).await;
    let admin = app.admin.clone();
    let with = |member: &str, value: Value| {
        let mut body = template_body("bad", "B");
        body[member] = value;
        body
    };
    let cases: Vec<(&str, Value, StatusCode, &str, &str)> = vec![
        (
            "upper-case name",
            with("name", json!("Bad Name")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "name",
        ),
        (
            "uuid name",
            with("name", json!("0190a5b2-7c1e-7d3a-9b2f-1234567890ab")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "name",
        ),
        (
            "empty source",
            with("source", json!("  ")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
            "source",
        ),
        (
            "huge source",
            with("source", json!("x".repeat(300_000))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
            "source",
        ),
        (
            "asset path escapes",
            with("assets", json!({"/../etc/passwd": "AAAA"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "assets./../etc/passwd",
        ),
        (
            "asset path without slash",
            with("assets", json!({"logo.svg": "AAAA"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "assets.logo.svg",
        ),
        (
            "asset shadows main",
            with("assets", json!({"/main.typ": "AAAA"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "assets./main.typ",
        ),
        (
            "asset not base64",
            with("assets", json!({"/logo.svg": "%%%"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_base64",
            "assets./logo.svg",
        ),
        (
            "bad field name",
            with("fields", json!([{"name": "no spaces", "type": "text"}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "fields[0]",
        ),
        (
            "duplicate field",
            with(
                "fields",
                json!([{"name": "a", "type": "text"}, {"name": "a", "type": "number"}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "duplicate_field",
            "fields[1]",
        ),
        (
            "max_length on a number",
            with(
                "fields",
                json!([{"name": "n", "type": "number", "max_length": 3}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "fields[0]",
        ),
        (
            "unknown field type",
            with("fields", json!([{"name": "n", "type": "colour"}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
            "fields[0].type",
        ),
        (
            "unknown member",
            with("colour", json!("red")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
            "colour",
        ),
        (
            "reserved asset path",
            with("assets", json!({"/photo": "AAAA"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "assets./photo",
        ),
    ];
    for (case, body, status, code, field) in cases {
        let response = app
            .send(Method::POST, &admin, "/v1/templates", Some(&body))
            .await;
        let (got, error) = error_of(response).await;
        assert_eq!(got, status, "{case}: {error}");
        assert_eq!(error["code"], code, "{case}: {error}");
        assert_eq!(error["field"], field, "{case}: {error}");
    }
    let names: Value = app.get(&admin, "/v1/templates").await.json().await.unwrap();
    assert!(
        !names["templates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "bad"),
        "nothing stored"
    );
    let response = app
        .send(Method::PUT, &admin, "/v1/templates/nope", Some(&json!({})))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// An uploaded template that passed its check but loops on some data: the job's render runs
/// in the bounded sandbox, is killed at the time limit and the job ends `dead`, while the
/// worker goes on rendering.
#[tokio::test]
async fn uploaded_template_looping_on_data_is_killed() {
    use reqwest::Method;
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        c.sandbox.timeout_ms = 1500;
    })
    .await;
    let admin = app.admin.clone();
    let mut body = template_body("trap", "T");
    body["source"] = json!(
        "#let d = json(\"/data.json\")\n#if d.recipient_name == \"Loop Forever\" { for i in range(100000) { for j in range(100000) { } } } else [Fine: #d.recipient_name]\n"
    );
    let response = app
        .send(Method::POST, &admin, "/v1/templates", Some(&body))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut looping = certificate("Loop Forever");
    looping["template"] = json!("trap");
    looping["fields"] = json!({"grade": "A"});
    let stuck = app.submit_ok(&admin, &looping).await;
    let mut fine = looping.clone();
    fine["recipient_name"] = json!("Normal Person");
    let ok = app.submit_ok(&admin, &fine).await;

    let job = app.wait_for(&admin, &stuck, &["dead", "succeeded"]).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["error"]["code"], "render_failed", "{job}");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than"),
        "{job}"
    );
    let text = pdf_text(&app.pdf_of(&admin, &ok).await);
    assert!(text.contains("Fine: Normal Person"), "{text}");
    app.stop().await;
}

/// A declared image field travels like the photo: checked at submission, stored with the
/// job, served to typst at `/fields/<name>`.
#[tokio::test]
async fn image_fields_reach_the_template() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let admin = app.admin.clone();
    app.create_badge_template().await;
    let mut cert = certificate("Badge Holder");
    cert["template"] = json!("badge");
    let (_, error) = error_of(app.submit(&admin, &cert).await).await;
    assert_eq!(
        (error["code"].as_str(), error["field"].as_str()),
        (Some("missing_field"), Some("fields.badge"))
    );
    cert["fields"] = json!({"badge": b64(b"GIF89a not really")});
    let (_, error) = error_of(app.submit(&admin, &cert).await).await;
    assert_eq!(error["field"], "fields.badge", "{error}");
    cert["fields"] = json!({"badge": b64(&jpeg_photo())});
    let id = app.submit_ok(&admin, &cert).await;
    let pdf = app.pdf_of(&admin, &id).await;
    assert!(pdf_text(&pdf).contains("Badge for Badge Holder"));
    let document = pdf_extract::Document::load_mem(&pdf).unwrap();
    let images = document
        .objects
        .values()
        .filter(|o| match o {
            pdf_extract::Object::Stream(s) => s
                .dict
                .get(b"Subtype")
                .and_then(|t| t.as_name())
                .is_ok_and(|n| n == b"Image"),
            _ => false,
        })
        .count();
    assert_eq!(images, 1, "the badge is embedded");
    app.stop().await;
}
