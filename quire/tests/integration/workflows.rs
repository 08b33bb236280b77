//! Workflows (issue 37): a chord of certificates merged into one PDF and emailed to a real
//! SMTP server exactly once, checked with poppler's `pdfinfo` and `pdftotext`; the failure
//! policies (a dead header cancels the chord's callback and fails the workflow in the same
//! transaction; `continue` merges the survivors; retrying the dead step completes the
//! workflow; cancel mid-run); the graph's 422s.

use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::config::{Config, SmtpTls};

use crate::helpers::{Backend, TestApp, error_of};

use crate::mail::smtp_server::{self, SmtpServer};

fn smtp_to(config: &mut Config, port: u16) {
    config.smtp.host = Some("127.0.0.1".into());
    config.smtp.port = port;
    config.smtp.tls = SmtpTls::None;
    config.smtp.from = "quire@example.com".into();
    config.smtp.timeout_secs = 30;
}

impl TestApp {
    /// Submits a workflow and expects 202; returns its answer.
    async fn workflow_ok(&self, key: &str, body: &Value) -> Value {
        let response = self.post(key, "/v1/workflows", body).await;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(location.as_deref(), body["links"]["self"].as_str());
        body
    }

    /// The workflow once it is no longer `running` (long-polls, so no sleeps).
    async fn workflow_final(&self, key: &str, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        loop {
            let response = self.get(key, &format!("/v1/workflows/{id}?wait=30")).await;
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            if body["status"] != "running" {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still running: {}",
                body["finished"]
            );
        }
    }

    /// The workflow once every one of its jobs ended (a failed workflow may still run steps
    /// that do not depend on the failure).
    async fn workflow_settled(&self, key: &str, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let body = self.workflow_final(key, id).await;
            if body["finished"] == body["total"] {
                return body;
            }
            assert!(tokio::time::Instant::now() < deadline, "{body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The named step of a workflow answer.
fn step<'a>(workflow: &'a Value, name: &str) -> &'a Value {
    workflow["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {workflow}"))
}

/// What poppler says of a PDF: `pdfinfo`'s page count and `pdftotext`'s text per page.
fn poppler(pdf: &[u8]) -> (usize, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("merged.pdf");
    std::fs::write(&path, pdf).unwrap();
    let info = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils) is installed");
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let info = String::from_utf8(info.stdout).unwrap();
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .expect("pdfinfo prints Pages")
        .trim()
        .parse()
        .unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    assert!(text.status.success());
    // pdftotext ends each page with a form feed.
    let text = String::from_utf8(text.stdout).unwrap();
    let mut per_page: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if per_page.last().is_some_and(|p| p.trim().is_empty()) {
        per_page.pop();
    }
    (pages, per_page)
}

fn name_of(i: usize) -> String {
    format!("Recipient {i:04} Øster")
}

/// Proof 1: a chord of `n` certificates (a batch step) → merge → email to a real SMTP
/// server. The email arrives once, with one PDF of `n` pages, page i naming row i.
async fn chord_merge_email(backend: Backend, n: usize) {
    let server = SmtpServer::start(&[], &[]);
    let app = TestApp::spawn_with(backend, &[Roles::ALL], |c| {
        smtp_to(c, server.port);
        // One merged PDF of every certificate: attached, not linked.
        c.limits.max_email_attachment_bytes = 1 << 30;
        c.quotas.max_waiting_jobs = 0;
    })
    .await;
    let key = app.new_key("chord").await;
    let rows: Vec<Value> = (0..n)
        .map(|i| json!({"recipient_name": name_of(i), "course_name": "Workflows 101", "issued_on": "2026-12-07"}))
        .collect();
    let body = json!({
        "name": "the proof",
        "steps": [
            {"name": "certificates", "kind": "batch", "batch": {"rows": rows}},
            {"name": "combined", "kind": "merge", "after": ["certificates"],
             "merge": {"filename": "everyone.pdf"}},
            {"name": "send", "kind": "email", "after": ["combined"],
             "email": {"to": ["office@example.com"], "template": "certificate_issued",
                       "vars": {"recipient_name": "the office", "course": "Workflows 101", "verification_code": "n/a", "verify_url": "https://example.com", "job_id": "n/a"},
                       "attachments": ["combined"]}}
        ]
    });
    let submitted = app.workflow_ok(&key, &body).await;
    assert_eq!(submitted["total"], n + 2);
    assert_eq!(step(&submitted, "combined")["status"], "waiting");
    let id = submitted["id"].as_str().unwrap();
    let done = app.workflow_final(&key, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["finished"], n + 2);
    assert_eq!(step(&done, "certificates")["counts"]["succeeded"], n);
    let merge = &step(&done, "combined")["job"];
    assert_eq!(merge["status"], "succeeded");
    assert_eq!(merge["kind"], "bundle");

    // Exactly one email: the one expected, and no second within a while.
    let messages = server.received_within(2, Duration::from_secs(3));
    assert_eq!(messages.len(), 1, "the email arrives exactly once");
    assert_eq!(messages[0].0[1], "office@example.com");
    let message = MessageParser::default().parse(&messages[0].1).unwrap();
    assert_eq!(message.attachment_count(), 1);
    let attachment = message.attachment(0).unwrap();
    assert_eq!(attachment.attachment_name(), Some("combined.pdf"));
    let pdf = attachment.contents().to_vec();
    // The merge's own file is the attached one.
    let stored = app.pdf_of(&key, merge["id"].as_str().unwrap()).await;
    assert_eq!(pdf, stored);

    let (pages, text) = poppler(&pdf);
    assert_eq!(pages, n, "pdfinfo: one page per certificate");
    assert_eq!(text.len(), n);
    for (i, page) in text.iter().enumerate() {
        let flat = page.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(&name_of(i)),
            "page {} should name row {i} ({}): {flat}",
            i + 1,
            name_of(i)
        );
        if i + 1 < n {
            assert!(
                !flat.contains(&name_of(i + 1)),
                "page {} names the next row",
                i + 1
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn production_a_chord_of_1000_certificates_is_merged_and_emailed_exactly_once() {
    chord_merge_email(Backend::Production, 1000).await;
}

#[tokio::test]
async fn embedded_a_chord_of_certificates_is_merged_and_emailed_exactly_once() {
    chord_merge_email(Backend::Embedded, 60).await;
}

/// A template that dies on one name: its render fails permanently, so that job ends `dead`
/// at its first attempt.
async fn fragile_template(app: &TestApp) {
    let body = json!({
        "name": "fragile",
        "is_public": true,
        "source": "#let d = json(\"/data.json\")\n#set page(width: 12cm, height: 8cm)\n#if d.recipient_name == \"Doomed Header\" { panic(\"this header dies\") }\nCertificate for #d.recipient_name\n",
        "fields": []
    });
    let response = app.post(&app.admin, "/v1/templates", &body).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{:?}",
        response.text().await
    );
}

fn chord(policy: &str) -> Value {
    let cert = |name: &str| json!({"template": "fragile", "recipient_name": name, "course_name": "Chords"});
    json!({
        "steps": [
            {"name": "ana", "kind": "certificate", "certificate": cert("Ana Header")},
            {"name": "doomed", "kind": "certificate", "certificate": cert("Doomed Header")},
            {"name": "bea", "kind": "certificate", "certificate": cert("Bea Header")},
            {"name": "callback", "kind": "merge", "after": ["ana", "doomed", "bea"],
             "on_parent_failure": policy},
            {"name": "archive", "kind": "archive", "after": ["callback"]}
        ]
    })
}

/// Proof 3, the Celery bug as a test: a header step that dies cancels the chord's callback
/// (`parent_failed`) and fails the workflow in the transaction that records the death.
async fn dead_header_cancels_the_callback(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    fragile_template(&app).await;
    let key = app.new_key("celery").await;
    let submitted = app.workflow_ok(&key, &chord("cancel")).await;
    let id = submitted["id"].as_str().unwrap();
    let failed = app.workflow_final(&key, id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let doomed = &step(&failed, "doomed")["job"];
    assert_eq!(doomed["status"], "dead");
    assert_eq!(doomed["error"]["code"], "render_failed");
    for name in ["callback", "archive"] {
        let job = &step(&failed, name)["job"];
        assert_eq!(job["status"], "cancelled", "{name}: {job}");
        assert_eq!(job["error"]["code"], "parent_failed");
        assert!(job["started_at"].is_null(), "{name} never started");
    }
    // Failed at the moment the header died, not after a timeout.
    let died =
        shared::domain::Timestamp::parse_rfc3339(doomed["finished_at"].as_str().unwrap()).unwrap();
    let ended =
        shared::domain::Timestamp::parse_rfc3339(failed["finished_at"].as_str().unwrap()).unwrap();
    assert!(
        (ended.millis() - died.millis()).abs() < 1000,
        "workflow failed {} ms after the header died",
        ended.millis() - died.millis()
    );
    // The other headers still end (they do not depend on the failure).
    let settled = app.workflow_settled(&key, id).await;
    assert_eq!(settled["status"], "failed");
    assert_eq!(step(&settled, "ana")["status"], "succeeded");
    app.stop().await;
}

#[tokio::test]
async fn embedded_a_dead_header_cancels_the_chord_callback_and_fails_the_workflow() {
    dead_header_cancels_the_callback(Backend::Embedded).await;
}

#[tokio::test]
async fn production_a_dead_header_cancels_the_chord_callback_and_fails_the_workflow() {
    dead_header_cancels_the_callback(Backend::Production).await;
}

/// `continue`: the callback merges the headers that succeeded, in their order.
async fn continue_merges_the_survivors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    fragile_template(&app).await;
    let key = app.new_key("survivors").await;
    let submitted = app.workflow_ok(&key, &chord("continue")).await;
    let id = submitted["id"].as_str().unwrap();
    let done = app.workflow_final(&key, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(step(&done, "doomed")["status"], "dead");
    let merge = &step(&done, "callback")["job"];
    assert_eq!(merge["status"], "succeeded", "{merge}");
    let pdf = app.pdf_of(&key, merge["id"].as_str().unwrap()).await;
    let (pages, text) = poppler(&pdf);
    assert_eq!(pages, 2);
    assert!(text[0].contains("Ana Header"), "{text:?}");
    assert!(text[1].contains("Bea Header"), "{text:?}");
    // The archive holds the merge and its manifest.
    let archive = &step(&done, "archive")["job"];
    assert_eq!(archive["status"], "succeeded", "{archive}");
    app.stop().await;
}

#[tokio::test]
async fn embedded_continue_merges_the_survivors() {
    continue_merges_the_survivors(Backend::Embedded).await;
}

#[tokio::test]
async fn production_continue_merges_the_survivors() {
    continue_merges_the_survivors(Backend::Production).await;
}

/// Retrying the dead step resumes the workflow: the steps its death cancelled wait again and
/// run once it succeeds. The step dies of a real SMTP rejection; the server then accepts.
#[tokio::test]
async fn retrying_the_dead_step_completes_the_workflow() {
    let port = smtp_server::free_port();
    let rejecting = SmtpServer::start_on(port, &["first@example.com"], &[]);
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| smtp_to(c, port)).await;
    let key = app.new_key("resume").await;
    let mail = |to: &str| {
        json!({"to": [to], "template": "certificate_issued",
        "vars": {"recipient_name": "Ana", "course": "Retries", "verification_code": "n/a", "verify_url": "https://example.com", "job_id": "n/a"}})
    };
    let body = json!({
        "steps": [
            {"name": "cert", "kind": "certificate",
             "certificate": {"recipient_name": "Ana Retry", "course_name": "Retries"}},
            {"name": "first", "kind": "email", "after": ["cert"],
             "email": {"to": ["first@example.com"], "template": "certificate_issued",
                       "vars": {"recipient_name": "Ana", "course": "Retries", "verification_code": "n/a", "verify_url": "https://example.com", "job_id": "n/a"},
                       "attachments": ["cert"]}},
            {"name": "second", "kind": "email", "after": ["first"], "email": mail("second@example.com")}
        ]
    });
    let submitted = app.workflow_ok(&key, &body).await;
    let id = submitted["id"].as_str().unwrap();
    let failed = app.workflow_final(&key, id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let first = step(&failed, "first")["job"].clone();
    assert_eq!(first["status"], "dead", "{first}");
    assert_eq!(
        step(&failed, "second")["job"]["error"]["code"],
        "parent_failed"
    );
    drop(rejecting);

    let accepting = SmtpServer::start_on(port, &[], &[]);
    let retry = app
        .post(
            &key,
            &format!("/v1/jobs/{}/retry", first["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(retry.status(), StatusCode::OK, "{:?}", retry.text().await);
    let done = app.workflow_final(&key, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(step(&done, "second")["status"], "succeeded");
    let messages = accepting.received(2);
    let to: Vec<&str> = messages
        .iter()
        .map(|(envelope, _)| envelope[1].as_str())
        .collect();
    assert_eq!(to, ["first@example.com", "second@example.com"]);
    app.stop().await;
}

/// Cancelling a workflow mid-run cancels its unfinished steps; those that ended stay.
async fn cancel_mid_run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("cancel").await;
    let rows: Vec<Value> = (0..40)
        .map(|i| json!({"recipient_name": name_of(i), "course_name": "Cancelled"}))
        .collect();
    let body = json!({"steps": [
        {"name": "rows", "kind": "batch", "batch": {"rows": rows}},
        {"name": "all", "kind": "merge", "after": ["rows"]}
    ]});
    let submitted = app.workflow_ok(&key, &body).await;
    let id = submitted["id"].as_str().unwrap();
    let response = app
        .post(&key, &format!("/v1/workflows/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let settled = app.workflow_settled(&key, id).await;
    assert_eq!(settled["status"], "cancelled");
    let merge = &step(&settled, "all")["job"];
    assert_eq!(merge["status"], "cancelled");
    assert!(merge["started_at"].is_null());
    let counts = &step(&settled, "rows")["counts"];
    let ended =
        counts["succeeded"].as_i64().unwrap_or(0) + counts["cancelled"].as_i64().unwrap_or(0);
    assert_eq!(ended, 40, "{counts}");
    assert!(counts["cancelled"].as_i64().unwrap_or(0) > 0, "{counts}");
    // Twice is a conflict.
    let again = app
        .post(&key, &format!("/v1/workflows/{id}/cancel"), &json!({}))
        .await;
    let (status, error) = error_of(again).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "not_cancellable");
    // Listed with its status, and filtered by it.
    let page: Value = app
        .get(&key, "/v1/workflows?status=cancelled")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["workflows"][0]["id"], id);
    let none: Value = app
        .get(&key, "/v1/workflows?status=completed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["workflows"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn embedded_cancelling_a_workflow_mid_run_cancels_its_unfinished_steps() {
    cancel_mid_run(Backend::Embedded).await;
}

#[tokio::test]
async fn production_cancelling_a_workflow_mid_run_cancels_its_unfinished_steps() {
    cancel_mid_run(Backend::Production).await;
}

#[tokio::test]
async fn bad_graphs_are_422s_naming_the_step() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("graphs").await;
    let cert = json!({"recipient_name": "Ana", "course_name": "Graphs"});
    let cases = [
        (
            json!({"steps": [
                {"name": "a", "kind": "certificate", "certificate": cert, "after": ["m"]},
                {"name": "m", "kind": "merge", "after": ["a"]}
            ]}),
            "steps[0].after",
            "cycle",
        ),
        (
            json!({"steps": [{"name": "m", "kind": "merge", "after": ["nobody"]}]}),
            "steps[0].after[0]",
            "unknown_step",
        ),
        (
            json!({"steps": [
                {"name": "a", "kind": "certificate", "certificate": cert},
                {"name": "b", "kind": "certificate", "certificate": cert},
                {"name": "e", "kind": "email", "after": ["a"], "email": {"to": ["x@example.com"],
                  "template": "certificate_issued", "vars": {"recipient_name": "A", "course": "B", "verification_code": "n/a", "verify_url": "https://example.com", "job_id": "n/a"},
                  "attachments": ["b"]}}
            ]}),
            "steps[2].email.attachments[0]",
            "output_not_available",
        ),
        (
            json!({"steps": [{"name": "a", "kind": "certificate",
                "certificate": {"recipient_name": "", "course_name": "Graphs"}}]}),
            "steps[0].certificate.recipient_name",
            "missing_field",
        ),
    ];
    for (body, field, code) in cases {
        let response = app.post(&key, "/v1/workflows", &body).await;
        let (status, error) = error_of(response).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        let fields: Vec<(&str, &str)> = error["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
                    .collect()
            })
            .unwrap_or_else(|| {
                vec![(
                    error["field"].as_str().unwrap(),
                    error["code"].as_str().unwrap(),
                )]
            });
        assert!(fields.contains(&(field, code)), "{field} {code}: {error}");
    }
    // Nothing of a refused workflow exists.
    assert_eq!(app.count_jobs(&key).await, 0);
    app.stop().await;
}
