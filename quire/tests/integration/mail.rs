//! Email jobs and notifications against a real SMTP server (aiosmtpd, see
//! `worker/tests/support/smtp_server.rs`), on Redis + PostgreSQL; the embedded default's
//! `.eml` files; and every bad email request.

use std::time::Duration;

use mail_parser::{Message, MessageParser, MimeHeaders};
use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::config::{Config, SmtpTls};

use crate::helpers::{
    Backend, TestApp, b64, certificate, error_of, html_unescape, jpeg_photo, pdf_text,
};

#[path = "../../../worker/tests/support/smtp_server.rs"]
pub(crate) mod smtp_server;

use smtp_server::{SmtpServer, free_port};

fn smtp_to(config: &mut Config, port: u16) {
    config.smtp.host = Some("127.0.0.1".into());
    config.smtp.port = port;
    config.smtp.tls = SmtpTls::None;
    config.smtp.from = "quire@example.com".into();
    config.smtp.timeout_secs = 5;
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default().parse(raw).expect("a MIME message")
}

/// The PDF attached to a message, checked to be one.
fn attached_pdf(m: &Message<'_>) -> Vec<u8> {
    assert_eq!(m.attachment_count(), 1, "one attachment expected");
    let a = m.attachment(0).unwrap();
    assert_eq!(a.content_type().unwrap().subtype(), Some("pdf"));
    assert!(a.attachment_name().unwrap().ends_with(".pdf"));
    a.contents().to_vec()
}

#[tokio::test]
async fn an_email_arrives_with_recipients_subject_both_parts_and_the_pdf() {
    let server = SmtpServer::start(&[], &[]);
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| {
        smtp_to(c, server.port)
    })
    .await;
    let key = app.new_key("mailer").await;
    let cert = app.submit_ok(&key, &certificate("Ingrid Ødegård")).await;
    let pdf = app.pdf_of(&key, &cert).await;

    // Free text (`generic`, a subject of one's own) is an admin's; an admin may attach any
    // key's job.
    let id = app
        .post_ok(
            &app.admin,
            "/v1/emails",
            &json!({
                "to": ["ana@example.com", "Bo@Example.COM"],
                "cc": ["cc@example.com"],
                "bcc": ["hidden@example.com"],
                "reply_to": "support@example.com",
                "subject": "Your certificate <3",
                "template": "generic",
                "vars": {"subject": "unused", "text": "Hello <b>Ingrid</b>,\n\nhere it is."},
                "attachments": [cert],
            }),
        )
        .await;
    let job = app.wait_for(&app.admin, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["kind"], "email");

    let messages = server.received(1);
    assert_eq!(messages.len(), 1);
    let (envelope, raw) = &messages[0];
    assert_eq!(
        envelope,
        &[
            "quire@example.com",
            "ana@example.com",
            "Bo@example.com",
            "cc@example.com",
            "hidden@example.com"
        ]
    );
    let m = parse(raw);
    assert_eq!(m.subject(), Some("Your certificate <3"));
    assert!(m.bcc().is_none(), "Bcc must not travel in the headers");
    let reply_to: Vec<_> = m
        .reply_to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(reply_to, ["support@example.com"]);
    assert!(m.body_text(0).unwrap().contains("Hello <b>Ingrid</b>,"));
    let html = m.body_html(0).unwrap();
    assert!(
        html.contains("Hello &lt;b&gt;Ingrid&lt;&#x2f;b&gt;,"),
        "HTML must be escaped: {html}"
    );
    let attached = attached_pdf(&m);
    assert_eq!(attached, pdf, "the attachment is the job's PDF");
    assert!(pdf_text(&attached).contains("Ingrid Ødegård"));
    app.stop().await;
}

#[tokio::test]
async fn a_certificate_with_notify_sends_certificate_issued_with_the_pdf() {
    let server = SmtpServer::start(&[], &[]);
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| {
        smtp_to(c, server.port)
    })
    .await;
    let key = app.new_key("notified").await;
    let mut body = certificate("Nikolaos Papadopoulos");
    body["notify"] = json!({"email": "holder@example.com", "attach": true});
    let cert = app.submit_ok(&key, &body).await;
    let pdf = app.pdf_of(&key, &cert).await;

    // The notification is its own job, visible through the API.
    let emails = wait_for_email_job(&app, &key).await;
    assert_eq!(emails["status"], "succeeded", "{emails}");
    let messages = server.received(1);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0[1], "holder@example.com");
    let m = parse(&messages[0].1);
    assert!(
        m.subject().unwrap().contains("Advanced Typesetting"),
        "{:?}",
        m.subject()
    );
    assert!(m.body_text(0).unwrap().contains("Nikolaos Papadopoulos"));
    assert!(m.body_html(0).is_some());
    assert_eq!(attached_pdf(&m), pdf);
    // The holder can add it to LinkedIn from the email: the link the API gives.
    let view: Value = app
        .get(&key, &format!("/v1/certificates/{cert}"))
        .await
        .json()
        .await
        .unwrap();
    let linkedin = view["linkedin_url"].as_str().unwrap();
    assert!(linkedin.contains("certId="), "{linkedin}");
    assert!(
        m.body_text(0).unwrap().contains(linkedin),
        "{:?}",
        m.body_text(0)
    );
    let html = html_unescape(&m.body_html(0).unwrap());
    assert!(html.contains(&format!("href=\"{linkedin}\"")), "{html}");
    // And its Open Badges credential, in both parts.
    let credential = view["credential_url"].as_str().unwrap();
    assert!(credential.ends_with("/credential"), "{credential}");
    assert!(m.body_text(0).unwrap().contains(credential));
    assert!(html.contains(&format!("href=\"{credential}\"")), "{html}");
    app.stop().await;
}

/// Waits for the caller's one email job to finish and returns it.
async fn wait_for_email_job(app: &TestApp, key: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let page: Value = app
            .get(key, "/v1/jobs?kind=email")
            .await
            .json()
            .await
            .unwrap();
        if let Some(job) = page["jobs"].as_array().unwrap().first()
            && ["succeeded", "dead"].contains(&job["status"].as_str().unwrap())
        {
            return job.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no finished email job: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_linked_pdf_downloads_without_a_key_and_a_forged_link_does_not() {
    let server = SmtpServer::start(&[], &[]);
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| {
        smtp_to(c, server.port);
        // Smaller than any PDF: the notification links instead of attaching.
        c.limits.max_email_attachment_bytes = 100;
    })
    .await;
    let key = app.new_key("linked").await;
    let mut body = certificate("Linked Holder");
    body["notify"] = json!({"email": "holder@example.com", "attach": true});
    let cert = app.submit_ok(&key, &body).await;
    let pdf = app.pdf_of(&key, &cert).await;
    assert_eq!(wait_for_email_job(&app, &key).await["status"], "succeeded");

    let m_raw = server.received(1).remove(0).1;
    let m = parse(&m_raw);
    assert_eq!(m.attachment_count(), 0);
    let text = m.body_text(0).unwrap().into_owned();
    let url = text
        .split_whitespace()
        .find(|w| w.contains("/v1/files/"))
        .unwrap_or_else(|| panic!("no download link in {text}"))
        .to_owned();
    let response = app.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().to_vec(), pdf);

    let forged = format!("{}0", url.trim_end_matches(|c: char| c.is_ascii_hexdigit()));
    let (status, _) = error_of(app.client.get(&forged).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other_job = url.replace(&cert, &shared::domain::JobId::new().to_string());
    let (status, _) = error_of(app.client.get(&other_job).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_5xx_reply_fails_the_email_at_once_with_the_servers_reply() {
    let server = SmtpServer::start(&["nobody@example.com"], &[]);
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| {
        smtp_to(c, server.port)
    })
    .await;
    // `generic` is an admin's template.
    let key = app.admin.clone();
    let id = app
        .post_ok(
            &key,
            "/v1/emails",
            &json!({"to": ["nobody@example.com"], "template": "generic",
                    "vars": {"subject": "Hi", "text": "Hello"}}),
        )
        .await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(
        job["attempt"], 1,
        "a permanent failure is not retried: {job}"
    );
    assert_eq!(job["error"]["code"], "smtp_rejected");
    let message = job["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("550") && message.contains("unknown mailbox"),
        "{message}"
    );
    assert!(server.received_within(0, Duration::ZERO).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_server_that_is_down_is_retried_until_it_comes_back() {
    let port = free_port();
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| smtp_to(c, port)).await;
    // `generic` is an admin's template.
    let key = app.admin.clone();
    let id = app
        .post_ok(
            &key,
            "/v1/emails",
            &json!({"to": ["ana@example.com"], "template": "generic",
                    "vars": {"subject": "Eventually", "text": "Hello"}}),
        )
        .await;
    // Wait until the job has failed at least twice on the refused connection.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = app.job(&key, &id).await;
        if job["attempt"].as_u64().unwrap() >= 2 && job["status"] == "failed" {
            assert_eq!(job["error"]["code"], "smtp_unavailable", "{job}");
            break;
        }
        assert_ne!(job["status"], "dead", "{job}");
        assert!(tokio::time::Instant::now() < deadline, "{job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let server = SmtpServer::start_on(port, &[], &[]);
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let messages = server.received(1);
    assert_eq!(messages.len(), 1);
    assert_eq!(parse(&messages[0].1).subject(), Some("Eventually"));
    app.stop().await;
}

#[tokio::test]
async fn a_sent_email_is_not_sent_again_by_a_retry() {
    let server = SmtpServer::start(&[], &[]);
    // API only: the test runs the handler itself, twice, as a retry after "sent, then the
    // job failed to record its success" would.
    let app = TestApp::spawn_with(Backend::Production, &[Roles::API], |c| {
        smtp_to(c, server.port)
    })
    .await;
    // `generic` is an admin's template.
    let key = app.admin.clone();
    let id = app
        .post_ok(
            &key,
            "/v1/emails",
            &json!({"to": ["ana@example.com"], "template": "generic",
                    "vars": {"subject": "Once", "text": "Only once"}}),
        )
        .await;
    let job_id: shared::domain::JobId = id.parse().unwrap();
    let ctx = app.job_context();
    let lease = 60_000;
    let first = app
        .db
        .claim_job(job_id, "first", lease)
        .await
        .unwrap()
        .expect("claimed");
    let sent = worker::jobs::dispatch(&ctx, &first).await.unwrap();
    // The attempt never records its success (its worker is stopped and its job handed over);
    // another worker runs it again.
    app.db
        .release_job(job_id, &first.lease_token)
        .await
        .unwrap();
    let second = app
        .db
        .claim_job(job_id, "second", lease)
        .await
        .unwrap()
        .expect("claimed again");
    let again = worker::jobs::dispatch(&ctx, &second).await.unwrap();
    assert_eq!(again["message_id"], sent["message_id"]);
    assert_eq!(again["sent_by_earlier_attempt"], true);
    assert_eq!(server.received_within(2, Duration::from_secs(1)).len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_dead_job_with_on_failure_sends_job_failed() {
    let server = SmtpServer::start(&[], &[]);
    let mut app = TestApp::spawn_with(Backend::Production, &[Roles::API], |c| {
        smtp_to(c, server.port)
    })
    .await;
    let key = app.new_key("doomed").await;
    let mut body = certificate("Doomed Holder");
    body["photo"] = json!(b64(&jpeg_photo()));
    body["notify"] = json!({"email": "ops@example.com", "on_failure": true});
    let id = app.submit_ok(&key, &body).await;
    // Its stored photo disappears before a worker runs it: a permanent failure.
    let job_id: shared::domain::JobId = id.parse().unwrap();
    shared::storage::Storage::new(app.dir.path())
        .remove_inputs(job_id)
        .await
        .unwrap();
    app.add(Roles::WORKER).await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "dead", "{job}");

    assert_eq!(wait_for_email_job(&app, &key).await["status"], "succeeded");
    let messages = server.received(1);
    assert_eq!(messages[0].0[1], "ops@example.com");
    let m = parse(&messages[0].1);
    let text = m.body_text(0).unwrap();
    assert!(text.contains(&id), "{text}");
    assert!(text.contains("missing_input"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn the_embedded_default_writes_eml_files() {
    let app = TestApp::spawn(Backend::Embedded).await;
    // `generic` is an admin's template.
    let key = app.admin.clone();
    let id = app
        .post_ok(
            &key,
            "/v1/emails",
            &json!({"to": ["ana@example.com"], "template": "generic",
                    "vars": {"subject": "Local", "text": "Written to a file"}}),
        )
        .await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let dir = app.config.mail_dir();
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let raw = std::fs::read(&files[0]).unwrap();
    let m = parse(&raw);
    assert_eq!(m.subject(), Some("Local"));
    assert!(m.body_text(0).unwrap().contains("Written to a file"));
    app.stop().await;
}

#[tokio::test]
async fn bad_email_requests_are_422_naming_each_field() {
    // A key that is not an admin's (its attachments must be its own), with `generic` open.
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.email.generic_for_all = true;
    })
    .await;
    let key = app.new_key("careless").await;
    let other = app.new_key("other").await;
    let theirs = app.submit_ok(&other, &certificate("Not Yours")).await;
    let unfinished = app.submit_ok(&key, &certificate("Not Yet")).await;
    let many: Vec<String> = (0..51).map(|i| format!("u{i}@example.com")).collect();
    let cases = [
        (
            json!({"to": [], "template": "generic", "vars": {"subject": "s", "text": "t"}}),
            "to",
            "missing_field",
        ),
        (
            json!({"to": many, "template": "generic", "vars": {"subject": "s", "text": "t"}}),
            "to",
            "too_many",
        ),
        (
            json!({"to": ["not-an-address"], "template": "generic", "vars": {"subject": "s", "text": "t"}}),
            "to[0]",
            "invalid_email",
        ),
        (
            json!({"to": ["a@example.com\r\nBcc: evil@example.com"], "template": "generic", "vars": {"subject": "s", "text": "t"}}),
            "to[0]",
            "invalid_email",
        ),
        (
            json!({"to": ["a@example.com"], "cc": ["x"], "template": "generic", "vars": {"subject": "s", "text": "t"}}),
            "cc[0]",
            "invalid_email",
        ),
        (
            json!({"to": ["a@example.com"], "reply_to": "a@b\nc", "template": "generic", "vars": {"subject": "s", "text": "t"}}),
            "reply_to",
            "invalid_email",
        ),
        (
            json!({"to": ["a@example.com"], "subject": "Hi\r\nBcc: evil@example.com", "template": "generic", "vars": {"subject": "s", "text": "t"}}),
            "subject",
            "header_injection",
        ),
        (
            json!({"to": ["a@example.com"], "template": "generic", "vars": {"subject": "Hi\nBcc: evil@example.com", "text": "t"}}),
            "vars",
            "header_injection",
        ),
        (
            json!({"to": ["a@example.com"], "template": "nope", "vars": {}}),
            "template",
            "unknown_template",
        ),
        (
            json!({"to": ["a@example.com"], "template": "generic", "vars": {"subject": "s"}}),
            "vars",
            "missing_field",
        ),
        (
            json!({"to": ["a@example.com"], "template": "generic", "vars": {"subject": "s", "text": "t"}, "attachments": [theirs]}),
            "attachments[0]",
            "unknown_job",
        ),
        (
            json!({"to": ["a@example.com"], "template": "generic", "vars": {"subject": "s", "text": "t"}, "attachments": [unfinished]}),
            "attachments[0]",
            "not_finished",
        ),
        (
            json!({"to": ["a@example.com"], "template": "generic", "vars": {"subject": "s", "text": "t"}, "attachments": ["x"]}),
            "attachments[0]",
            "invalid_id",
        ),
    ];
    for (body, field, code) in cases {
        let (status, error) = error_of(app.post(&key, "/v1/emails", &body).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        let errors = error["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{error}"));
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["code"] == code),
            "{body}: expected {field}/{code} in {error}"
        );
    }
    // A bad `notify` on a certificate is refused too, before anything is queued.
    let mut body = certificate("Bad Notify");
    body["notify"] = json!({"email": "nope"});
    let (status, error) = error_of(app.submit(&key, &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error.to_string().contains("notify"), "{error}");
    app.stop().await;
}

#[tokio::test]
async fn a_report_with_notify_sends_report_ready_with_a_link() {
    let server = SmtpServer::start(&[], &[]);
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| {
        smtp_to(c, server.port)
    })
    .await;
    let key = app.new_key("reporter").await;
    let mut body = crate::reports::report(2, 10);
    body["notify"] = json!({"email": "pm@example.com"});
    let id = app.post_ok(&key, "/v1/reports", &body).await;
    let pdf = app.pdf_of(&key, &id).await;
    assert_eq!(wait_for_email_job(&app, &key).await["status"], "succeeded");

    let messages = server.received(1);
    assert_eq!(messages[0].0[1], "pm@example.com");
    let m = parse(&messages[0].1);
    assert!(
        m.subject().unwrap().contains("SAT-2026-0042"),
        "{:?}",
        m.subject()
    );
    assert_eq!(m.attachment_count(), 0, "attach was not asked for");
    let text = m.body_text(0).unwrap().into_owned();
    let url = text
        .split_whitespace()
        .find(|w| w.contains("/v1/files/"))
        .unwrap_or_else(|| panic!("no link in {text}"));
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().to_vec(), pdf);
    app.stop().await;
}

#[tokio::test]
async fn a_job_whose_worker_died_on_its_last_attempt_still_sends_job_failed() {
    let app = TestApp::spawn_with(Backend::Production, &[Roles::API], |c| {
        c.queues.certificates.max_attempts = 1;
    })
    .await;
    let key = app.new_key("ghosted").await;
    let mut body = certificate("Ghost Holder");
    body["notify"] = json!({"email": "ops@example.com", "on_failure": true});
    let id = app.submit_ok(&key, &body).await;
    let job_id: shared::domain::JobId = id.parse().unwrap();
    // A worker claims it with a lease that has already run out, and is never heard of again.
    app.db
        .claim_job(job_id, "ghost", -1)
        .await
        .unwrap()
        .expect("claimed");
    let rescuer = app.rescuer();
    rescuer.pass().await.unwrap();
    let job = app.job(&key, &id).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["error"]["code"], "lease_expired", "{job}");

    // The notification is queued once, however many rescue passes run.
    rescuer.pass().await.unwrap();
    let page: Value = app
        .get(&key, "/v1/jobs?kind=email")
        .await
        .json()
        .await
        .unwrap();
    let emails = page["jobs"].as_array().unwrap();
    assert_eq!(emails.len(), 1, "{page}");
    let row = app
        .db
        .get_job(emails[0]["id"].as_str().unwrap().parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.payload["template"], "job_failed");
    assert_eq!(row.payload["to"][0], "ops@example.com");
    assert_eq!(row.payload["vars"]["job_id"], id.as_str());
    app.stop().await;
}
