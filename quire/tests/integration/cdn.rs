//! CDN purging (issue 36) through a real Varnish running `deploy/varnish/quire.vcl`: public
//! answers are cached and tagged, a revocation purges them within a second, a purge whose
//! endpoint is down is retried as a job while the answer's `max-age` still bounds staleness,
//! and each kind of change purges exactly its tags.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::config::{PurgeStyle, Secret};

use crate::helpers::*;

/// `varnishd` in the foreground on `port`, caching for the app at `backend_port` with the
/// shipped VCL (its backend port replaced). Stopped on drop.
struct Varnish {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Varnish {
    async fn start(port: u16, backend_port: u16) -> Varnish {
        let shipped = include_str!("../../../deploy/varnish/quire.vcl");
        let vcl = shipped.replace(".port = \"8080\";", &format!(".port = \"{backend_port}\";"));
        assert_ne!(
            vcl, shipped,
            "the shipped VCL names its backend port as 8080"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("quire.vcl");
        std::fs::write(&file, vcl).unwrap();
        let program = ["/usr/sbin/varnishd", "varnishd"]
            .into_iter()
            .find(|p| !p.starts_with('/') || std::path::Path::new(p).exists())
            .unwrap();
        let child = Command::new(program)
            .args(["-F", "-j", "none", "-s", "malloc,32m", "-a"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-f")
            .arg(&file)
            .arg("-n")
            .arg(dir.path().join("work"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("varnishd runs (deploy/test-services.sh installs Debian's `varnish`)");
        let varnish = Varnish {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        // Ready once it answers (compiling the VCL takes a moment).
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while client
            .get(format!("{}/ready", varnish.base))
            .send()
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "varnishd never answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        varnish
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Varnish {
    fn drop(&mut self) {
        // SIGTERM: the manager stops its cache process too (SIGKILL would orphan it).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// GET through the cache: the JSON body and whether it was a hit (the VCL's `X-Cache`).
async fn read(client: &reqwest::Client, url: &str) -> (Value, bool, reqwest::header::HeaderMap) {
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let headers = response.headers().clone();
    let hit = headers.get("x-cache").is_some_and(|v| v == "HIT");
    (response.json().await.unwrap(), hit, headers)
}

/// GET through the cache, as text.
async fn text(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// Reads `url` through the cache until it says `revoked`, failing at `deadline`.
async fn until_revoked(client: &reqwest::Client, url: &str, deadline: tokio::time::Instant) {
    loop {
        let (answer, _, _) = read(client, url).await;
        if answer["status"] == "revoked" {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {answer} at the edge"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A public certificate issued by a new key, rendered: (job id, verification code).
async fn issue(app: &TestApp, name: &str) -> (String, String) {
    let key = app.new_key("issuer").await;
    let mut body = certificate(name);
    body["is_public"] = json!(true);
    let id = app.submit_ok(&key, &body).await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let cert: Value = app
        .get(&app.admin, &format!("/v1/certificates/{id}"))
        .await
        .json()
        .await
        .unwrap();
    (id, cert["verification_code"].as_str().unwrap().to_owned())
}

/// The purge jobs: every maintenance job, in an app started without schedules (`quiet`).
async fn purges(app: &TestApp) -> Vec<Value> {
    let page: Value = app
        .get(&app.admin, "/v1/jobs?kind=maintenance&limit=200")
        .await
        .json()
        .await
        .unwrap();
    page["jobs"].as_array().unwrap().clone()
}

/// No schedules: the only maintenance jobs are purges.
fn quiet(config: &mut shared::config::Config) {
    config.schedules.clear();
}

async fn revoke(app: &TestApp, id: &str) {
    let response = app
        .post(
            &app.admin,
            &format!("/v1/certificates/{id}/revoke"),
            &json!({"reason": "issued in error"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn revocation_reaches_the_edge(backend: Backend, style: PurgeStyle) {
    let varnish_port = free_port();
    let app = TestApp::spawn_with(backend, &[Roles::ALL], |c| {
        quiet(c);
        c.cdn.purge_url = Some(format!("http://127.0.0.1:{varnish_port}"));
        c.cdn.style = style;
    })
    .await;
    let app_port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let varnish = Varnish::start(varnish_port, app_port).await;
    let (id, code) = issue(&app, "Edge Case").await;
    let client = reqwest::Client::new();
    let verify = varnish.url(&format!("/v1/verify/{code}"));
    let page = varnish.url(&format!("/verify/{code}"));
    let registry = varnish.url("/v1/certificates/public");

    // Tagged, cacheable for the configured max-age; the second read is a hit.
    let (first, hit, headers) = read(&client, &verify).await;
    assert_eq!(first["status"], "valid", "{first}");
    assert!(!hit);
    assert_eq!(headers["surrogate-key"], format!("cert-{code}").as_str());
    assert_eq!(headers["cache-tag"], format!("cert-{code}").as_str());
    assert_eq!(headers["cache-control"], "public, max-age=3600");
    let (_, hit, headers) = read(&client, &verify).await;
    assert!(hit, "{headers:?}");
    assert!(
        headers["x-varnish"].to_str().unwrap().contains(' '),
        "a hit names two requests"
    );
    let (listed, _, headers) = read(&client, &registry).await;
    assert_eq!(listed["certificates"][0]["status"], "valid", "{listed}");
    assert_eq!(headers["cache-control"], "public, max-age=60");
    assert_eq!(headers["surrogate-key"], "registry");
    assert!(
        read(&client, &registry).await.1,
        "the registry is cached too"
    );
    for _ in 0..2 {
        let html = text(&client, &page).await;
        assert!(
            html.contains("valid") && !html.contains("revoked"),
            "{html}"
        );
    }

    // Revoked through the API: the purge is a job the worker runs at once.
    revoke(&app, &id).await;
    let revoked_at = tokio::time::Instant::now();
    until_revoked(&client, &verify, revoked_at + Duration::from_secs(1)).await;
    let html = text(&client, &page).await;
    assert!(
        html.contains("revoked"),
        "the HTML page was purged too: {html}"
    );
    let (listed, _, _) = read(&client, &registry).await;
    assert_eq!(listed["certificates"][0]["status"], "revoked", "{listed}");
    // Cached again, now revoked.
    assert!(read(&client, &verify).await.1);

    let done = purges(&app).await;
    assert_eq!(done.len(), 1, "one purge for one revocation: {done:?}");
    let purge = app
        .wait_for(&app.admin, done[0]["id"].as_str().unwrap(), &["succeeded"])
        .await;
    // One BAN for both tags; a PURGE per URL: the JSON and HTML verification, the registry.
    let requests = if style == PurgeStyle::VarnishBan {
        1
    } else {
        3
    };
    assert_eq!(
        purge["summary"],
        json!({"tags": [format!("cert-{code}"), "registry"], "requests": requests}),
        "{purge}"
    );
    drop(varnish);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_revocation_reaches_the_edge() {
    revocation_reaches_the_edge(Backend::Embedded, PurgeStyle::VarnishBan).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn production_revocation_reaches_the_edge() {
    revocation_reaches_the_edge(Backend::Production, PurgeStyle::VarnishBan).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_revocation_reaches_the_edge_by_url() {
    revocation_reaches_the_edge(Backend::Embedded, PurgeStyle::VarnishPurge).await;
}

/// The purge endpoint is down: the purge job fails and is retried with backoff, the cached
/// answer turns `revoked` when its `max-age` runs out all the same, and once the endpoint is
/// back the purge succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn a_purge_is_retried_while_its_endpoint_is_down() {
    let varnish_port = free_port();
    let proxy = Proxy::start(&format!("127.0.0.1:{varnish_port}")).await;
    let purge_url = format!("http://{}", proxy.addr);
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        quiet(c);
        c.cdn.purge_url = Some(purge_url);
        c.cdn.max_age_secs = 3;
    })
    .await;
    let app_port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let varnish = Varnish::start(varnish_port, app_port).await;
    let (id, code) = issue(&app, "Down Time").await;
    let client = reqwest::Client::new();
    let verify = varnish.url(&format!("/v1/verify/{code}"));
    let (_, _, headers) = read(&client, &verify).await;
    assert_eq!(headers["cache-control"], "public, max-age=3");

    proxy.set_down(true);
    revoke(&app, &id).await;
    let revoked_at = tokio::time::Instant::now();
    // Retried: `failed` (waiting for its next attempt) after at least two attempts.
    let failing = loop {
        let found = purges(&app).await;
        if let Some(job) = found
            .iter()
            .find(|j| j["status"] == "failed" && j["attempt"].as_i64().unwrap() >= 2)
        {
            break job.clone();
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(20),
            "the purge was not retried: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(failing["error"]["code"], "purge_failed", "{failing}");
    let message = failing["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("BAN http://127.0.0.1:"), "{failing}");
    // No purge reached the cache, but the answer lives only `max-age` (and no grace).
    until_revoked(&client, &verify, revoked_at + Duration::from_secs(3 + 2)).await;
    let id = failing["id"].as_str().unwrap();
    assert_ne!(app.job(&app.admin, id).await["status"], "succeeded");

    // Back up: a later attempt succeeds.
    proxy.set_down(false);
    let purge = app.wait_for(&app.admin, id, &["succeeded", "dead"]).await;
    assert_eq!(purge["status"], "succeeded", "{purge}");
    assert!(purge["attempt"].as_i64().unwrap() >= 3, "{purge}");
    drop(varnish);
    app.stop().await;
}

/// What one received purge request was.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    surrogate_key: Option<String>,
    authorization: Option<String>,
    body: Value,
}

/// A CDN purge API that records what it is sent and answers 200.
async fn purge_api() -> (String, Arc<Mutex<Vec<Received>>>) {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = received.clone();
    let handler = move |method: axum::http::Method,
                        headers: axum::http::HeaderMap,
                        body: axum::body::Bytes| {
        let log = log.clone();
        async move {
            let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
            log.lock().unwrap().push(Received {
                method: method.to_string(),
                surrogate_key: header("surrogate-key"),
                authorization: header("authorization"),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            "{\"success\": true}"
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback(handler);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/service/s1/purge"), received)
}

/// Each change purges exactly the tags of the answers it changed, in the API style.
#[tokio::test(flavor = "multi_thread")]
async fn each_change_purges_its_tags() {
    let (url, received) = purge_api().await;
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        c.cdn.purge_url = Some(url);
        c.cdn.style = PurgeStyle::SurrogateKeyApi;
        c.cdn.token = Some(Secret::new("cdn-token".into()));
        c.cleanup.retention.certificate.succeeded_days = 1;
    })
    .await;
    let sent = |n: usize| {
        let received = received.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let got = received.lock().unwrap().clone();
                if got.len() >= n {
                    return got;
                }
                assert!(tokio::time::Instant::now() < deadline, "{got:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    // A revocation: the certificate and the registry it is listed in.
    let (id, code) = issue(&app, "Tag Holder").await;
    revoke(&app, &id).await;
    let got = sent(1).await;
    assert_eq!(got[0].method, "POST");
    assert_eq!(
        got[0].surrogate_key.as_deref(),
        Some(format!("cert-{code} registry").as_str())
    );
    assert_eq!(
        got[0].body,
        json!({"tags": [format!("cert-{code}"), "registry"]})
    );
    assert_eq!(got[0].authorization.as_deref(), Some("Bearer cdn-token"));

    // A template's new version, then its deletion: the template.
    let response = app
        .client
        .post(app.url("/v1/templates"))
        .bearer_auth(&app.admin)
        .json(&json!({
            "name": "purged", "is_public": true,
            "source": "#let d = json(\"/data.json\")\n#set page(width: 10cm, height: 5cm)\n#d.recipient_name\n",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let template: Value = response.json().await.unwrap();
    let template_id = template["id"].as_str().unwrap();
    let tag = format!("template-{template_id}");
    let response = app
        .client
        .put(app.url(&format!("/v1/templates/{template_id}")))
        .bearer_auth(&app.admin)
        .json(&json!({"description": "changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        sent(2).await[1].surrogate_key.as_deref(),
        Some(tag.as_str())
    );
    let response = app
        .client
        .delete(app.url(&format!("/v1/templates/{template_id}")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        sent(3).await[2].surrogate_key.as_deref(),
        Some(tag.as_str())
    );

    // An operator's delete keeps the verification: only the registry changes.
    let (kept, _) = issue(&app, "Kept Record").await;
    let kept = kept.parse().unwrap();
    let (_, purge) = app
        .db
        .delete_jobs_by(
            "test",
            &[kept],
            shared::domain::JobStatus::Succeeded,
            app.config.purging(),
        )
        .await
        .unwrap();
    let purge = purge.expect("a public certificate left the registry");
    app.queue_push(purge.id).await;
    assert_eq!(sent(4).await[3].surrogate_key.as_deref(), Some("registry"));

    // Retention deletes the registry row: its verification and the registry.
    let (old, old_code) = issue(&app, "Old Record").await;
    app.db
        .backdate_finished_for_test(
            old.parse().unwrap(),
            shared::domain::Timestamp::now().plus_millis(-2 * 24 * 3600 * 1000),
        )
        .await
        .unwrap();
    let run = app
        .post_ok(&app.admin, "/v1/schedules/cleanup/run", &Value::Null)
        .await;
    let job = app.wait_for(&app.admin, &run, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let got = sent(5).await;
    assert_eq!(
        got[4].surrogate_key.as_deref(),
        Some(format!("cert-{old_code} registry").as_str()),
        "{got:?}"
    );
    // Each step sent exactly its own purge, in order (its index above).
    assert_eq!(got.len(), 5, "{got:?}");
    app.stop().await;
}

/// Without `cdn.purge_url` nothing is purged and the answers keep their minute.
#[tokio::test(flavor = "multi_thread")]
async fn unconfigured_nothing_is_purged() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], quiet).await;
    let (id, code) = issue(&app, "Plain Holder").await;
    let response = app
        .client
        .get(app.url(&format!("/v1/verify/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    assert_eq!(
        response.headers()["surrogate-key"],
        format!("cert-{code}").as_str()
    );
    let registry = app
        .client
        .get(app.url("/v1/certificates/public"))
        .send()
        .await
        .unwrap();
    assert!(registry.headers().get("cache-control").is_none());
    // A purge would have been inserted with the revocation, before its answer.
    revoke(&app, &id).await;
    assert!(purges(&app).await.is_empty());
    app.stop().await;
}
