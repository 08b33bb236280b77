//! What keeps quire from being an open relay: per-key recipient quotas (per hour and per day,
//! `429` + `Retry-After`), a key's recipient-domain list, and free text (`generic`, `subject`)
//! for admin keys only unless a setting opens it. The submissions stay queued (API only): the
//! limits apply when a submission is accepted, not when the email is sent.

use quire::Roles;
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};
use shared::db::KeyEmailLimits;
use shared::domain::EmailDomains;

use crate::helpers::{Backend, TestApp, certificate, error_of};

/// A `job_failed` email (a template every key may use) to `to`.
fn email(to: &[&str]) -> Value {
    json!({
        "to": to,
        "template": "job_failed",
        "vars": {"kind": "report", "job_id": "j1", "attempts": 3, "error": "boom",
                 "job_url": "https://quire.example.com/v1/jobs/j1"},
    })
}

/// A key that is not an admin's, with its own email limits, set the way `quire keys set` does.
async fn key_with(app: &TestApp, name: &str, limits: KeyEmailLimits) -> String {
    let created = app.db.create_key(name, false).await.unwrap();
    assert!(
        app.db
            .set_key_email_limits(&created.key.id, &limits)
            .await
            .unwrap()
    );
    created.secret.expose().clone()
}

/// A refused submission: checks the 429 and its body; returns `Retry-After` and the error.
async fn refused(response: reqwest::Response) -> (u64, Value) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let (_, error) = error_of(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{error}");
    assert_eq!(error["code"], "quota_exceeded", "{error}");
    (retry_after.expect("a Retry-After header"), error)
}

fn notifying(name: &str, address: &str) -> Value {
    let mut body = certificate(name);
    body["notify"] = json!({"email": address});
    body
}

#[tokio::test]
async fn the_hourly_quota_counts_every_recipient_and_then_answers_429_with_retry_after() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.email.quota_per_hour = 4;
    })
    .await;
    let key = app.new_key("sender").await;
    let two = json!({"to": ["a@example.com"], "cc": ["b@example.com"], "template": "job_failed",
                     "vars": email(&[])["vars"]});
    app.post_ok(&key, "/v1/emails", &two).await;
    // A notification is one recipient too.
    app.submit_ok(&key, &notifying("Notified Holder", "ops@example.com"))
        .await;
    let last = app
        .client
        .post(app.url("/v1/emails"))
        .bearer_auth(&key)
        .header("Idempotency-Key", "last")
        .json(&email(&["c@example.com"]))
        .send()
        .await
        .unwrap();
    assert_eq!(last.status(), StatusCode::ACCEPTED, "4 of 4 used");
    let jobs = app.count_jobs(&key).await;

    let (retry_after, error) = refused(
        app.post(&key, "/v1/emails", &email(&["d@example.com"]))
            .await,
    )
    .await;
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("hourly") && message.contains("4 recipients per hour"),
        "{message}"
    );
    assert!(message.contains("has used 4"), "{message}");
    // A notification is refused the same way, and neither left a job behind.
    refused(
        app.submit(&key, &notifying("Too Many", "ops@example.com"))
            .await,
    )
    .await;
    assert_eq!(app.count_jobs(&key).await, jobs);
    // A certificate without `notify` sends nothing: not limited.
    app.submit_ok(&key, &certificate("Quiet Holder")).await;

    // The same request again is the original job, not a new charge.
    let again = app
        .client
        .post(app.url("/v1/emails"))
        .bearer_auth(&key)
        .header("Idempotency-Key", "last")
        .json(&email(&["c@example.com"]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);

    // Quotas are per key.
    let other = app.new_key("other").await;
    app.post_ok(&other, "/v1/emails", &email(&["a@example.com"]))
        .await;
    // More recipients than the whole quota can never fit: 422, not a 429 forever.
    let five = email(&[
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
        "e@example.com",
    ]);
    let (status, error) = error_of(app.post(&other, "/v1/emails", &five).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["errors"][0]["code"], "over_quota", "{error}");
    app.stop().await;
}

#[tokio::test]
async fn a_keys_own_quotas_replace_the_settings() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.email.quota_per_hour = 1;
        c.email.quota_per_day = 100;
    })
    .await;
    let default = app.new_key("default").await;
    app.post_ok(&default, "/v1/emails", &email(&["a@example.com"]))
        .await;
    refused(
        app.post(&default, "/v1/emails", &email(&["a@example.com"]))
            .await,
    )
    .await;

    let generous = key_with(
        &app,
        "generous",
        KeyEmailLimits {
            quota_per_hour: Some(3),
            ..Default::default()
        },
    )
    .await;
    for _ in 0..3 {
        app.post_ok(&generous, "/v1/emails", &email(&["a@example.com"]))
            .await;
    }
    refused(
        app.post(&generous, "/v1/emails", &email(&["a@example.com"]))
            .await,
    )
    .await;

    let unlimited = key_with(
        &app,
        "unlimited",
        KeyEmailLimits {
            quota_per_hour: Some(0),
            quota_per_day: Some(0),
            ..Default::default()
        },
    )
    .await;
    for _ in 0..5 {
        app.post_ok(&unlimited, "/v1/emails", &email(&["a@example.com"]))
            .await;
    }

    // A daily quota below the hourly one: refused by the day, and told to come back once the
    // oldest of today's recipients is a day old, not in an hour.
    let daily = key_with(
        &app,
        "daily",
        KeyEmailLimits {
            quota_per_hour: Some(10),
            quota_per_day: Some(2),
            ..Default::default()
        },
    )
    .await;
    app.post_ok(
        &daily,
        "/v1/emails",
        &email(&["a@example.com", "b@example.com"]),
    )
    .await;
    let (retry_after, error) = refused(
        app.post(&daily, "/v1/emails", &email(&["a@example.com"]))
            .await,
    )
    .await;
    assert!(
        (23 * 3600..=24 * 3600).contains(&retry_after),
        "{retry_after}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("daily"),
        "{error}"
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_submissions_to_several_api_processes_stay_within_the_quota() {
    // Two API processes on one PostgreSQL database, as production runs them.
    let app = TestApp::spawn_with(Backend::Production, &[Roles::API, Roles::API], |c| {
        c.email.quota_per_hour = 5;
    })
    .await;
    let key = app.new_key("burst").await;
    let bases: Vec<String> = app
        .apps
        .iter()
        .map(|a| format!("http://{}", a.addr.unwrap()))
        .collect();
    let requests = (0..12).map(|i| {
        let request = app
            .client
            .post(format!("{}/v1/emails", bases[i % bases.len()]))
            .bearer_auth(&key)
            .json(&email(&["a@example.com"]));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(requests).await;
    let accepted = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((accepted, refused), (5, 7), "{statuses:?}");
    assert_eq!(app.count_jobs(&key).await, 5);
    app.stop().await;
}

#[tokio::test]
async fn a_keys_domain_list_refuses_every_other_recipient_by_its_path() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |_| {}).await;
    let key = key_with(
        &app,
        "internal",
        KeyEmailLimits {
            domains: Some(EmailDomains::parse("example.com,example.org").unwrap()),
            ..Default::default()
        },
    )
    .await;
    let mut body = email(&["a@example.com", "b@mail.example.com", "c@evil.com"]);
    body["cc"] = json!(["d@example.org", "e@badexample.com"]);
    body["bcc"] = json!(["f@example.com.evil.net"]);
    body["reply_to"] = json!("reply@evil.com");
    let (status, error) = error_of(app.post(&key, "/v1/emails", &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let mut refused: Vec<&str> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["code"], "domain_not_allowed", "{error}");
            e["field"].as_str().unwrap()
        })
        .collect();
    refused.sort_unstable();
    assert_eq!(refused, ["bcc[0]", "cc[1]", "reply_to", "to[2]"], "{error}");

    let mut body = email(&["a@example.com", "b@Mail.Example.com"]);
    body["cc"] = json!(["d@example.org"]);
    body["reply_to"] = json!("help@example.com");
    app.post_ok(&key, "/v1/emails", &body).await;

    // A notification's address is a recipient too.
    let (status, error) = error_of(
        app.submit(&key, &notifying("Elsewhere", "ops@evil.com"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["field"], "notify.email", "{error}");
    assert_eq!(error["code"], "domain_not_allowed", "{error}");
    app.submit_ok(&key, &notifying("At Home", "ops@example.org"))
        .await;

    // A key without a list may email anyone.
    let open = app.new_key("open").await;
    app.post_ok(&open, "/v1/emails", &email(&["c@evil.com"]))
        .await;
    app.stop().await;
}

#[tokio::test]
async fn free_text_is_for_admins_unless_the_setting_opens_it() {
    let generic = json!({"to": ["a@example.com"], "template": "generic",
                         "vars": {"subject": "Hi", "text": "Free text"}});
    let mut subject = email(&["a@example.com"]);
    subject["subject"] = json!("A subject of my own");

    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |_| {}).await;
    let key = app.new_key("user").await;
    for (body, code) in [
        (&generic, "admin_only_template"),
        (&subject, "admin_only_field"),
    ] {
        let (status, error) = error_of(app.post(&key, "/v1/emails", body).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
        assert_eq!(error["code"], code, "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("email.generic_for_all"),
            "{error}"
        );
    }
    app.post_ok(&app.admin, "/v1/emails", &generic).await;
    app.post_ok(&app.admin, "/v1/emails", &subject).await;
    app.stop().await;

    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.email.generic_for_all = true;
    })
    .await;
    let key = app.new_key("user").await;
    app.post_ok(&key, "/v1/emails", &generic).await;
    app.post_ok(&key, "/v1/emails", &subject).await;
    app.stop().await;
}
