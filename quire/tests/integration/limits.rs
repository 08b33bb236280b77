//! Rate limits and quotas: per key (across API processes on Redis), a key's own limit,
//! per client address on the public endpoints, the waiting-jobs quota (nothing of a refused
//! submission accepted) and the batch size (413). Each answer is checked as a client sees
//! it: status, error code, `Retry-After` and the `RateLimit-Policy` / `RateLimit` headers.

use quire::Roles;
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, certificate, error_of};

/// (accepted, refused) of `n` GETs of `path` with `key`, sent one after another to `bases`
/// in turn; every answer carries the draft headers, every refusal `Retry-After`.
async fn hammer(
    app: &TestApp,
    bases: &[String],
    key: Option<&str>,
    path: &str,
    n: usize,
    policy: &str,
) -> (usize, usize) {
    let (mut ok, mut refused) = (0, 0);
    for i in 0..n {
        let mut request = app.client.get(format!("{}{path}", bases[i % bases.len()]));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.unwrap();
        let header = |r: &Response, name: &str| {
            r.headers()
                .get(name)
                .unwrap_or_else(|| panic!("no {name} header ({})", r.status()))
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(header(&response, "ratelimit-policy"), policy);
        assert!(header(&response, "ratelimit").starts_with(&policy[..policy.find(';').unwrap()]));
        match response.status() {
            StatusCode::TOO_MANY_REQUESTS => {
                let retry: u64 = header(&response, "retry-after").parse().unwrap();
                // At most one interval of the policy (window / quota), rounded up.
                assert!(
                    (1..=4).contains(&retry),
                    "Retry-After {retry} at request {i}"
                );
                let (_, body) = error_of(response).await;
                assert_eq!(body["code"], "rate_limited", "{body}");
                refused += 1;
            }
            status if status.is_success() || status == StatusCode::NOT_FOUND => ok += 1,
            other => panic!("unexpected {other}"),
        }
    }
    (ok, refused)
}

/// 20 requests per 10 s per key: 60 quick requests get about 20 through, whichever API
/// process they reach (production: two API processes share the Redis bucket); another key
/// is not slowed; a key's own limit replaces the setting.
async fn keys_are_rate_limited(backend: Backend) {
    let roles: &[Roles] = match backend {
        Backend::Embedded => &[Roles::ALL],
        Backend::Production => &[Roles::ALL, Roles::API],
    };
    let app = TestApp::spawn_with(backend, roles, |config| {
        config.rate_limit.per_key = 20;
        config.rate_limit.window_secs = 10;
    })
    .await;
    let bases: Vec<String> = app
        .apps
        .iter()
        .filter_map(|a| a.addr.map(|addr| format!("http://{addr}")))
        .collect();
    let noisy = app.new_key("noisy").await;
    let quiet = app.new_key("quiet").await;
    let (ok, refused) = hammer(
        &app,
        &bases,
        Some(&noisy),
        "/v1/jobs",
        60,
        "\"key\";q=20;w=10",
    )
    .await;
    // 20 at once, plus one more per 500 ms the requests took.
    assert!((20..=24).contains(&ok), "{ok} accepted");
    assert_eq!(ok + refused, 60);
    let (ok, refused) = hammer(
        &app,
        &bases,
        Some(&quiet),
        "/v1/jobs",
        5,
        "\"key\";q=20;w=10",
    )
    .await;
    assert_eq!((ok, refused), (5, 0), "another key is not held back");

    // A key's own limit, set before its first use (API processes cache keys for 10 s).
    let strict = app.new_key("strict").await;
    let id = app.db.find_key(&strict).await.unwrap().unwrap().id;
    let limits = shared::db::KeyServiceLimits {
        rate_limit: Some(3),
        ..Default::default()
    };
    assert!(app.db.set_key_service_limits(&id, &limits).await.unwrap());
    let (ok, _) = hammer(
        &app,
        &bases[..1],
        Some(&strict),
        "/v1/jobs",
        6,
        "\"key\";q=3;w=10",
    )
    .await;
    assert_eq!(ok, 3);
    app.stop().await;
}

#[tokio::test]
async fn embedded_keys_are_rate_limited() {
    keys_are_rate_limited(Backend::Embedded).await;
}

#[tokio::test]
async fn production_keys_are_rate_limited_across_api_processes() {
    keys_are_rate_limited(Backend::Production).await;
}

/// Public verification is limited per client address, so codes cannot be enumerated fast.
async fn public_endpoints_are_limited_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[Roles::API], |config| {
        config.rate_limit.public_per_address = 5;
        config.rate_limit.window_secs = 10;
    })
    .await;
    let bases = vec![app.base.clone()];
    let policy = "\"address\";q=5;w=10";
    let (ok, refused) = hammer(&app, &bases, None, "/v1/verify/ABCD-EFGH-JKLM", 12, policy).await;
    assert_eq!((ok, refused), (5, 7), "unknown codes count too");
    // The same address's bucket covers the public registry.
    let (ok, _) = hammer(&app, &bases, None, "/v1/certificates/public", 2, policy).await;
    assert_eq!(ok, 0);
    app.stop().await;
}

#[tokio::test]
async fn embedded_public_endpoints_are_limited_per_address() {
    public_endpoints_are_limited_per_address(Backend::Embedded).await;
}

#[tokio::test]
async fn production_public_endpoints_are_limited_per_address() {
    public_endpoints_are_limited_per_address(Backend::Production).await;
}

/// A key's waiting jobs are bounded: past the quota a submission is refused whole.
async fn waiting_jobs_are_bounded(backend: Backend) {
    // No worker: everything submitted stays waiting.
    let app = TestApp::spawn_with(backend, &[Roles::API], |config| {
        config.quotas.max_waiting_jobs = 4;
    })
    .await;
    let key = app.new_key("bounded").await;
    for i in 0..3 {
        app.submit_ok(&key, &certificate(&format!("Waiting {i}")))
            .await;
    }
    // A batch of two would make five: refused, nothing of it written.
    let rows = json!({ "rows": [
        { "recipient_name": "A", "course_name": "B" },
        { "recipient_name": "C", "course_name": "D" },
    ]});
    let refused = app.post(&key, "/v1/certificates/batch", &rows).await;
    assert!(refused.headers().contains_key("retry-after"));
    let (status, body) = error_of(refused).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "too_many_waiting_jobs", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("at most 4"),
        "{body}"
    );
    assert_eq!(app.count_jobs(&key).await, 3);
    app.submit_ok(&key, &certificate("Fourth")).await;
    let (status, body) = error_of(app.submit(&key, &certificate("Fifth")).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(app.count_jobs(&key).await, 4);
    // Another key has its own quota.
    let other = app.new_key("other").await;
    app.submit_ok(&other, &certificate("Elsewhere")).await;

    // More rows than a batch may hold: 413, whatever the quota.
    let mut csv = String::from("recipient_name,course_name\n");
    for i in 0..10_001 {
        csv.push_str(&format!("R {i},C\n"));
    }
    let response = app
        .client
        .post(app.url("/v1/certificates/batch"))
        .bearer_auth(&other)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "too_many_rows", "{body}");
    app.stop().await;
}

#[tokio::test]
async fn embedded_waiting_jobs_are_bounded() {
    waiting_jobs_are_bounded(Backend::Embedded).await;
}

#[tokio::test]
async fn production_waiting_jobs_are_bounded() {
    waiting_jobs_are_bounded(Backend::Production).await;
}
