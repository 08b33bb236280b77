//! The dashboard over plain HTTP (the browser tests in `deploy/browser-test.sh` drive it in
//! Chromium): sessions in the database (embedded) and in Redis (production), the cookie's
//! attributes, CSRF refusals, a revoked key's session ending at once, ownership, idle expiry,
//! sign-out, and pages that show what the API knows.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::helpers::{Backend, TestApp, certificate, html_unescape};

/// A browser without a cookie jar: the test carries the cookies by hand.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of `name="csrf"` in a page.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a token")
        + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// `name=value` of the `Set-Cookie` for `name`, with the whole header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap().to_owned(), v.to_owned()))
}

/// Signs in with `key`; the session cookie (`quire_session=…`).
pub(crate) async fn sign_in(app: &TestApp, key: &str) -> String {
    let http = client();
    let form = http
        .get(app.url("/dashboard/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let (pre, _) = set_cookie(&form, "quire_sign_in").expect("the sign-in token cookie");
    let token = csrf_of(&form.text().await.unwrap());
    let signed = http
        .post(app.url("/dashboard/sign-in"))
        .header(COOKIE, &pre)
        .form(&[("csrf", token.as_str()), ("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed.headers()[LOCATION], "/dashboard");
    let (cookie, header) = set_cookie(&signed, "quire_session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/dashboard", "Max-Age="] {
        assert!(header.contains(attribute), "{header}");
    }
    // Not https here, so not `Secure` (the browser would drop it).
    assert!(!header.contains("Secure"), "{header}");
    assert!(!header.contains(key), "the key never goes into the cookie");
    cookie
}

pub(crate) async fn get(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    client()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

async fn sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.new_key("ada").await;
    let bob = app.new_key("bob").await;

    // Signed out: every page sends to the sign-in page.
    let anonymous = client()
        .get(app.url("/dashboard/jobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()[LOCATION], "/dashboard/sign-in");

    // A wrong key: 401 with the form again.
    let http = client();
    let form = http
        .get(app.url("/dashboard/sign-in"))
        .send()
        .await
        .unwrap();
    let (pre, _) = set_cookie(&form, "quire_sign_in").unwrap();
    let token = csrf_of(&form.text().await.unwrap());
    let wrong = http
        .post(app.url("/dashboard/sign-in"))
        .header(COOKIE, &pre)
        .form(&[("csrf", token.as_str()), ("key", "qk_not_a_key")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("unknown or revoked"));
    // Without the sign-in cookie the token proves nothing: refused.
    let forged = http
        .post(app.url("/dashboard/sign-in"))
        .form(&[("csrf", token.as_str()), ("key", ada.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let cookie = sign_in(&app, &ada).await;
    let mut body = certificate("Dash Board Lovelace");
    body["notify"] = serde_json::json!({ "email": "ada@example.com" });
    let id = app.submit_ok(&ada, &body).await;
    app.wait_for(&ada, &id, &["succeeded"]).await;

    // The overview and the job page show what the API knows.
    let overview = get(&app, &cookie, "/dashboard").await;
    assert_eq!(overview.status(), StatusCode::OK);
    assert_eq!(overview.headers()["cache-control"], "no-store");
    assert!(
        overview.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let overview = overview.text().await.unwrap();
    assert!(overview.contains("data-kind=\"certificate\""), "{overview}");
    // The caches' counters are the operator's (admin) view.
    assert!(
        !overview.contains("Caches of this API process"),
        "{overview}"
    );
    let admin_cookie = sign_in(&app, &app.admin).await;
    let admin_overview = get(&app, &admin_cookie, "/dashboard")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        admin_overview.contains("Caches of this API process")
            && admin_overview.contains("<td>verifications</td>"),
        "{admin_overview}"
    );
    // The key's succeeded jobs are the latency sample (the certificate, perhaps its email).
    assert!(
        overview.contains("Last 1 succeeded jobs") || overview.contains("Last 2 succeeded jobs"),
        "{overview}"
    );
    let page = get(&app, &cookie, &format!("/dashboard/jobs/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Dash Board Lovelace"), "the payload is shown");
    assert!(page.contains(">succeeded<"), "{page}");
    // The notification email it made is linked.
    assert!(page.contains("class=\"notification\""), "{page}");
    assert!(!page.contains("<script>alert"), "escaped");
    let pdf = get(&app, &cookie, &format!("/dashboard/jobs/{id}/file")).await;
    assert_eq!(pdf.status(), StatusCode::OK);
    assert!(
        pdf.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    let search = get(&app, &cookie, "/dashboard/jobs?search=board+lovelace").await;
    assert!(search.text().await.unwrap().contains(&id));

    // Another key's job: not found, as in the API.
    let bob_cookie = sign_in(&app, &bob).await;
    let theirs = get(&app, &bob_cookie, &format!("/dashboard/jobs/{id}")).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let keys_page = get(&app, &bob_cookie, "/dashboard/keys").await;
    assert_eq!(keys_page.status(), StatusCode::FORBIDDEN);

    // Actions need the session's token.
    let csrf = csrf_of(&page);
    let retry = |token: Option<&str>| {
        let form: Vec<(&str, &str)> = token.map(|t| vec![("csrf", t)]).unwrap_or_default();
        client()
            .post(app.url(&format!("/dashboard/jobs/{id}/cancel")))
            .header(COOKIE, &cookie)
            .form(&form)
            .send()
    };
    assert_eq!(retry(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        retry(Some(&bob_csrf(&app, &bob_cookie).await))
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN,
        "another session's token"
    );
    // With it: the API's own answer (a finished job cannot be cancelled).
    let refused = retry(Some(&csrf)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.unwrap().contains("already succeeded"));

    // Revoking the key ends its sessions at once.
    let bob_id = app
        .db
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "bob")
        .unwrap()
        .id;
    assert!(app.db.revoke_key(&bob_id).await.unwrap());
    let after = get(&app, &bob_cookie, "/dashboard").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);

    // Signing out: the cookie is cleared and no longer works.
    let out = post_form(&app, &cookie, "/dashboard/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let (_, cleared) = set_cookie(&out, "quire_session").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let after = get(&app, &cookie, "/dashboard").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

/// A form posted with the session `cookie`.
async fn post_form(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client()
        .post(app.url(path))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn bob_csrf(app: &TestApp, cookie: &str) -> String {
    csrf_of(&get(app, cookie, "/dashboard").await.text().await.unwrap())
}

#[tokio::test]
async fn sessions_in_the_database() {
    sessions(Backend::Embedded).await;
}

#[tokio::test]
async fn sessions_in_redis() {
    sessions(Backend::Production).await;
}

/// A session unused for the idle timeout ends; the absolute one bounds even a busy one.
#[tokio::test]
async fn sessions_expire() {
    let app = TestApp::spawn_with(Backend::Production, &[quire::Roles::ALL], |c| {
        c.dashboard.idle_timeout_secs = 60;
        c.dashboard.absolute_timeout_secs = 60;
    })
    .await;
    let cookie = sign_in(&app, &app.admin).await;
    assert_eq!(
        get(&app, &cookie, "/dashboard").await.status(),
        StatusCode::OK
    );
    // Redis expires the record itself: its TTL is the session's end.
    let mut redis = redis::Client::open(crate::helpers::test_redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:session:*", app.config.redis_namespace))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(ttl > 50_000 && ttl <= 60_000, "{ttl}");
    // The stored record holds neither the key nor the cookie.
    let stored: String = redis::cmd("GET")
        .arg(&keys[0])
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!stored.contains(&app.admin) && !stored.contains(cookie.split('=').nth(1).unwrap()));
    let _: () = redis::cmd("PEXPIRE")
        .arg(&keys[0])
        .arg(1)
        .query_async(&mut redis)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        get(&app, &cookie, "/dashboard").await.status(),
        StatusCode::SEE_OTHER
    );
    app.stop().await;
}

/// Bulk retry of a failure group: a confirmation that counts them, then every one retried.
#[tokio::test]
async fn bulk_retry_of_a_failure_group() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let cookie = sign_in(&app, &app.admin).await;
    let probe = shared::jobs::Probe {
        sleep_ms: 0,
        outcome: shared::jobs::ProbeOutcome::FailPermanent,
    };
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(app.insert_probe(&app.admin, probe.clone(), 1).await);
    }
    for id in &ids {
        app.wait_for(&app.admin, id, &["dead"]).await;
    }
    let failures = get(&app, &cookie, "/dashboard/failures")
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&failures);
    let at = failures.find("name=\"group\" value=\"").unwrap() + 20;
    let group = html_unescape(failures[at..].split('"').next().unwrap());
    let confirm = post_form(
        &app,
        &cookie,
        "/dashboard/failures/bulk",
        &[("csrf", &csrf), ("do", "retry"), ("group", &group)],
    )
    .await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let confirm = confirm.text().await.unwrap();
    assert!(confirm.contains("id=\"confirm-count\">12<"), "{confirm}");
    let done = post_form(
        &app,
        &cookie,
        "/dashboard/failures/bulk",
        &[
            ("csrf", &csrf),
            ("do", "retry"),
            ("group", &group),
            ("confirmed", "yes"),
        ],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(
        done.headers()[LOCATION]
            .to_str()
            .unwrap()
            .contains("done=12")
    );
    for id in &ids {
        let job = app.job(&app.admin, id).await;
        assert!(
            job["attempt"].as_i64().unwrap() >= 1 && job["max_attempts"].as_i64().unwrap() > 1,
            "{job}"
        );
    }
    // Discarding the selected dead ones deletes them.
    for id in &ids {
        app.wait_for(&app.admin, id, &["dead"]).await;
    }
    let mut form = vec![("csrf", csrf.as_str()), ("do", "discard")];
    form.extend(ids[..3].iter().map(|id| ("id", id.as_str())));
    let discarded = post_form(&app, &cookie, "/dashboard/failures/bulk", &form).await;
    assert!(
        discarded.headers()[LOCATION]
            .to_str()
            .unwrap()
            .contains("done=3")
    );
    for id in &ids[..3] {
        let gone = app.get(&app.admin, &format!("/v1/jobs/{id}")).await;
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    }
    app.stop().await;
}

/// `r` of a `RateLimit: "key";r=N;t=M` header: requests left in the key's bucket.
fn remaining(response: &reqwest::Response) -> i64 {
    let value = response.headers()["ratelimit"].to_str().unwrap();
    let r = value.split(';').find_map(|p| p.strip_prefix("r=")).unwrap();
    r.parse().unwrap()
}

/// Every dashboard request spends from the session key's rate limit, as the key's own API
/// requests do: a key allowed 3 requests per 10 s gets 3 free-text searches through the
/// dashboard, then `429` pages with `Retry-After`, and its API requests share the bucket.
async fn dashboard_requests_spend_the_keys_rate_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[quire::Roles::ALL], |c| {
        c.rate_limit.window_secs = 10;
    })
    .await;
    let slow = app.new_key("slow").await;
    let id = app.db.find_key(&slow).await.unwrap().unwrap().id;
    let limits = shared::db::KeyServiceLimits {
        rate_limit: Some(3),
        ..Default::default()
    };
    assert!(app.db.set_key_service_limits(&id, &limits).await.unwrap());
    let cookie = sign_in(&app, &slow).await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let page = get(&app, &cookie, &format!("/dashboard/jobs?search=needle+{i}")).await;
        let status = page.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = page.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=4).contains(&retry), "Retry-After {retry}");
            let body = page.text().await.unwrap();
            assert!(body.contains("requests in 10 s for this key"), "{body}");
        }
        statuses.push(status.as_u16());
    }
    // 3 at once, and one more per 3.3 s the requests took.
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((3..=4).contains(&ok), "{statuses:?}");
    assert_eq!(statuses[..3], [200, 200, 200], "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 429].contains(s)),
        "{statuses:?}"
    );
    // The same bucket as the key's API requests.
    let api = app.get(&slow, "/v1/jobs").await;
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    // The live page stream too.
    let stream = get(&app, &cookie, "/dashboard/events").await;
    assert_eq!(stream.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

#[tokio::test]
async fn embedded_dashboard_requests_spend_the_keys_rate_limit() {
    dashboard_requests_spend_the_keys_rate_limit(Backend::Embedded).await;
}

#[tokio::test]
async fn production_dashboard_requests_spend_the_keys_rate_limit() {
    dashboard_requests_spend_the_keys_rate_limit(Backend::Production).await;
}

/// A bulk action spends one request per job it touches (on Redis: one script call that
/// takes them all or none); a key whose limit is below the selection may act on at most its
/// quota at once, and a failure group's "all" is cut to it.
#[tokio::test]
async fn bulk_actions_spend_one_request_per_job() {
    let app = TestApp::spawn_with(Backend::Production, &[quire::Roles::ALL], |c| {
        c.rate_limit.window_secs = 60;
    })
    .await;
    let probe = shared::jobs::Probe {
        sleep_ms: 0,
        outcome: shared::jobs::ProbeOutcome::FailPermanent,
    };
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(app.insert_probe(&app.admin, probe.clone(), 1).await);
    }
    for id in &ids {
        app.wait_for(&app.admin, id, &["dead"]).await;
    }
    // Operators with admin keys of their own limits: 100 and 5 requests per minute.
    let operator = |name: &'static str, rate: u64| {
        let db = app.db.clone();
        async move {
            let key = db.create_key(name, true).await.unwrap();
            let limits = shared::db::KeyServiceLimits {
                rate_limit: Some(rate),
                ..Default::default()
            };
            assert!(
                db.set_key_service_limits(&key.key.id, &limits)
                    .await
                    .unwrap()
            );
            key.secret.expose().clone()
        }
    };
    let ops = operator("ops", 100).await;
    let tiny = operator("tiny", 5).await;

    let cookie = sign_in(&app, &ops).await;
    let failures = get(&app, &cookie, "/dashboard/failures").await;
    let csrf = csrf_of(&failures.text().await.unwrap());
    let before = remaining(&app.get(&ops, "/v1/status").await);
    let mut form = vec![("csrf", csrf.as_str()), ("do", "discard")];
    form.extend(ids.iter().map(|id| ("id", id.as_str())));
    let done = post_form(&app, &cookie, "/dashboard/failures/bulk", &form).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(
        done.headers()[LOCATION]
            .to_str()
            .unwrap()
            .contains("done=12")
    );
    let after = remaining(&app.get(&ops, "/v1/status").await);
    // 12 for the action, 1 for the second status request; one interval (0.6 s) may have
    // refilled one.
    let spent = before - after;
    assert!((12..=13).contains(&spent), "spent {spent}");

    // A key allowed 5 per minute: ticking 6 is refused whole, nothing done.
    let mut more = Vec::new();
    for _ in 0..6 {
        more.push(app.insert_probe(&app.admin, probe.clone(), 1).await);
    }
    for id in &more {
        app.wait_for(&app.admin, id, &["dead"]).await;
    }
    let cookie = sign_in(&app, &tiny).await;
    let failures = get(&app, &cookie, "/dashboard/failures")
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&failures);
    let mut form = vec![("csrf", csrf.as_str()), ("do", "discard")];
    form.extend(more.iter().map(|id| ("id", id.as_str())));
    let refused = post_form(&app, &cookie, "/dashboard/failures/bulk", &form).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused.text().await.unwrap().contains("select fewer"));
    for id in &more {
        assert_eq!(app.job(&app.admin, id).await["status"], "dead");
    }
    // The group's "all" is cut to what the key may do at once.
    let at = failures.find("name=\"group\" value=\"").unwrap() + 20;
    let group = html_unescape(failures[at..].split('"').next().unwrap());
    let confirm = post_form(
        &app,
        &cookie,
        "/dashboard/failures/bulk",
        &[("csrf", &csrf), ("do", "retry"), ("group", &group)],
    )
    .await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let confirm = confirm.text().await.unwrap();
    assert!(confirm.contains("id=\"confirm-count\">5<"), "{confirm}");
    app.stop().await;
}

/// Sign-in attempts are limited per client address like the public endpoints: the form's
/// token pair can be made up by any client, so it bounds nothing on its own.
#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::API], |c| {
        c.rate_limit.public_per_address = 4;
        c.rate_limit.window_secs = 60;
    })
    .await;
    let ada = app.new_key("ada").await;
    let http = client();
    // A made-up pair: the same value as cookie and field.
    let attempt = |key: String| {
        http.post(app.url("/dashboard/sign-in"))
            .header(COOKIE, "quire_sign_in=madeup")
            .form(&[("csrf", "madeup".to_owned()), ("key", key)])
            .send()
    };
    let mut statuses = Vec::new();
    for i in 0..7 {
        let response = attempt(format!("qk_guess_{i}")).await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429, 429]);
    // The address is spent, for the right key too, and for public verification.
    let right = attempt(ada.clone()).await.unwrap();
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    let verify = app
        .client
        .get(app.url("/v1/verify/ABCD-EFGH-JKLM"))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

/// A key holds at most `dashboard.max_sessions_per_key` sessions: a third sign-in ends its
/// oldest, and no other key's.
async fn sessions_per_key_are_capped(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[quire::Roles::ALL], |c| {
        c.dashboard.max_sessions_per_key = 2;
    })
    .await;
    let ada = app.new_key("ada").await;
    let bob = app.new_key("bob").await;
    let bobs = sign_in(&app, &bob).await;
    let first = sign_in(&app, &ada).await;
    let second = sign_in(&app, &ada).await;
    let third = sign_in(&app, &ada).await;
    let status = |cookie: String| {
        let app = &app;
        async move { get(app, &cookie, "/dashboard").await.status() }
    };
    assert_eq!(status(first.clone()).await, StatusCode::SEE_OTHER, "ended");
    assert_eq!(status(second.clone()).await, StatusCode::OK);
    assert_eq!(status(third.clone()).await, StatusCode::OK);
    assert_eq!(status(bobs.clone()).await, StatusCode::OK, "another key's");
    // What is stored: two of ada's and bob's one, however often ada signs in.
    for _ in 0..5 {
        sign_in(&app, &ada).await;
    }
    match backend {
        Backend::Embedded => {
            let ada_id = app.db.find_key(&ada).await.unwrap().unwrap().id;
            let stored = app.db.session_count_for_test(Some(&ada_id)).await.unwrap();
            assert_eq!(stored, 2);
            assert_eq!(app.db.session_count_for_test(None).await.unwrap(), 3);
        }
        Backend::Production => {
            let mut redis = redis::Client::open(crate::helpers::test_redis_url())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}:session:*", app.config.redis_namespace))
                .query_async(&mut redis)
                .await
                .unwrap();
            assert_eq!(keys.len(), 3, "{keys:?}");
        }
    }
    assert_eq!(status(bobs).await, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn embedded_sessions_per_key_are_capped() {
    sessions_per_key_are_capped(Backend::Embedded).await;
}

#[tokio::test]
async fn production_sessions_per_key_are_capped() {
    sessions_per_key_are_capped(Backend::Production).await;
}

/// Ended sessions of the embedded deployment are removed by the cleanup job, not by the
/// next write (every sign-in and refresh used to delete them all, unindexed).
#[tokio::test]
async fn ended_sessions_are_removed_by_the_cleanup() {
    let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::ALL], |c| {
        for schedule in c.schedules.values_mut() {
            schedule.enabled = false;
        }
    })
    .await;
    let now = shared::domain::Timestamp::now();
    let ended = shared::db::NewSession {
        id: "session:ended",
        key_id: "some-key",
        data: "{}",
        created_at: now.plus_millis(-120_000),
        expires_at: now.plus_millis(60_000),
    };
    app.db.create_session(&ended, 10).await.unwrap();
    let past = now.plus_millis(-60_000);
    app.db.put_session(ended.id, "{}", past).await.unwrap();
    assert_eq!(app.db.get_session(ended.id).await.unwrap(), None);
    // Writes of other sessions leave it to the cleanup.
    let ada = app.new_key("ada").await;
    sign_in(&app, &ada).await;
    assert_eq!(app.db.session_count_for_test(None).await.unwrap(), 2);
    let id = app
        .post_ok(
            &app.admin,
            "/v1/schedules/cleanup/run",
            &serde_json::Value::Null,
        )
        .await;
    let job = app.wait_for(&app.admin, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["summary"]["sessions_removed"], 1, "{job}");
    assert_eq!(app.db.session_count_for_test(None).await.unwrap(), 1);
    app.stop().await;
}

/// An operator deletes finished certificate jobs from the dashboard: the jobs and their files
/// go, but each certificate keeps verifying as before (a revoked one `revoked`, a valid one
/// `valid` with its PDF's checksum, and it can still be revoked), and `quire audit` says who
/// deleted what.
#[tokio::test]
async fn a_deleted_certificate_job_still_verifies_and_the_deletion_is_recorded() {
    use serde_json::{Value, json};
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("issuer").await;
    let revoked = app.submit_ok(&key, &certificate("Revoked Holder")).await;
    let valid = app.submit_ok(&key, &certificate("Valid Holder")).await;
    let mut codes = Vec::new();
    for id in [&revoked, &valid] {
        app.wait_for(&key, id, &["succeeded"]).await;
        let cert: Value = app
            .json_at(
                Some(&key),
                app.url(&format!("/v1/certificates/{id}")).as_str(),
            )
            .await;
        codes.push(cert["verification_code"].as_str().unwrap().to_owned());
    }
    let revoke = |id: String| {
        let (app, key) = (&app, &key);
        async move {
            app.post(
                key,
                &format!("/v1/certificates/{id}/revoke"),
                &json!({ "reason": "Issued in error" }),
            )
            .await
            .status()
        }
    };
    assert_eq!(revoke(revoked.clone()).await, StatusCode::OK);
    let verify = |code: String| {
        let app = &app;
        async move {
            let response = client()
                .get(app.url(&format!("/v1/verify/{code}")))
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let before = verify(codes[1].clone()).await.1;
    assert_eq!(before["status"], "valid", "{before}");

    let cookie = sign_in(&app, &app.admin).await;
    for id in [&revoked, &valid] {
        let page = get(&app, &cookie, &format!("/dashboard/jobs/{id}"))
            .await
            .text()
            .await
            .unwrap();
        let deleted = post_form(
            &app,
            &cookie,
            &format!("/dashboard/jobs/{id}/delete"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
        assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
        let gone = app.get(&key, &format!("/v1/jobs/{id}")).await;
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    }

    let (status, body) = verify(codes[0].clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "revoked", "{body}");
    assert_eq!(body["revocation_reason"], "Issued in error", "{body}");
    let (status, body) = verify(codes[1].clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "valid", "{body}");
    assert_eq!(body["sha256"], before["sha256"], "{body}");
    // Still the owner's to read and revoke; then it verifies as revoked.
    let kept: Value = app
        .json_at(
            Some(&key),
            app.url(&format!("/v1/certificates/{valid}")).as_str(),
        )
        .await;
    assert_eq!(kept["status"], "valid", "{kept}");
    assert_eq!(revoke(valid.clone()).await, StatusCode::OK);
    assert_eq!(verify(codes[1].clone()).await.1["status"], "revoked");

    // Who deleted what: `quire audit` on the same data directory.
    let admin_id = app.db.find_key(&app.admin).await.unwrap().unwrap().id;
    let owner_id = app.db.find_key(&key).await.unwrap().unwrap().id;
    let out = crate::helpers::quire_binary()
        .env("QUIRE_DATA_DIR", &app.config.data_dir)
        .arg("audit")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    for id in [&revoked, &valid] {
        let line = listed
            .lines()
            .find(|l| l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("{id} not in {listed}"));
        assert!(
            line.contains(&admin_id) && line.contains(&owner_id) && line.contains("job.deleted"),
            "{line}"
        );
        assert!(line.contains("stays verifiable"), "{line}");
    }
    app.stop().await;
}

/// The workflow pages: the list names it, its page draws the graph as SVG (a box per step
/// with its state, an arrow per edge) and lists each step; another key's session gets 404.
#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_is_drawn_as_its_graph() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("graph").await;
    let cert = |name: &str| serde_json::json!({"recipient_name": name, "course_name": "Graphs"});
    let body = serde_json::json!({"name": "drawn-chord", "steps": [
        {"name": "left", "kind": "certificate", "certificate": cert("Left Header")},
        {"name": "right", "kind": "certificate", "certificate": cert("Right Header")},
        {"name": "callback", "kind": "merge", "after": ["left", "right"]}
    ]});
    let submitted: serde_json::Value = app
        .post(&key, "/v1/workflows", &body)
        .await
        .json()
        .await
        .unwrap();
    let id = submitted["id"].as_str().unwrap().to_owned();
    let done = loop {
        let w: serde_json::Value = app
            .get(&key, &format!("/v1/workflows/{id}?wait=30"))
            .await
            .json()
            .await
            .unwrap();
        if w["status"] != "running" {
            break w;
        }
    };
    assert_eq!(done["status"], "completed", "{done}");

    let cookie = sign_in(&app, &key).await;
    let list = get(&app, &cookie, "/dashboard/workflows").await;
    assert_eq!(list.status(), StatusCode::OK);
    let list = html_unescape(&list.text().await.unwrap());
    assert!(list.contains("drawn-chord") && list.contains(&id), "{list}");

    let page = get(&app, &cookie, &format!("/dashboard/workflows/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = html_unescape(&page.text().await.unwrap());
    let svg = &page[page.find("<svg").expect("the graph")..page.find("</svg>").unwrap()];
    assert_eq!(svg.matches("<rect").count(), 3, "a box per step: {svg}");
    assert_eq!(
        svg.matches("class=\"edge\"").count(),
        2,
        "an arrow per edge: {svg}"
    );
    assert_eq!(svg.matches("class=\"node succeeded\"").count(), 3, "{svg}");
    for step in ["left", "right", "callback"] {
        assert!(svg.contains(&format!(">{step}</text>")), "{step}: {svg}");
    }

    let other = app.new_key("not-the-owner").await;
    let other_cookie = sign_in(&app, &other).await;
    let hidden = get(&app, &other_cookie, &format!("/dashboard/workflows/{id}")).await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
