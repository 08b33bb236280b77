//! The cache layer (`api::cache`): every committed change reaches every API process's caches
//! as it commits — whatever made it (an API call, the CLI, SQL by hand) and whether Redis is
//! up — so no process answers from a stale entry once the change's answer has returned.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::config::Secret;

use crate::helpers::*;
use quire::Roles;

/// One cache's counters in a stats answer.
fn tier(stats: &Value, name: &str) -> Value {
    stats["caches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cache {name} in {stats}"))
        .clone()
}

/// The base URL of every API process of `app`.
fn bases(app: &TestApp) -> Vec<String> {
    app.apps
        .iter()
        .filter_map(|a| a.addr.map(|addr| format!("http://{addr}")))
        .collect()
}

async fn hits(app: &TestApp, base: &str, cache: &str) -> u64 {
    let stats = app
        .json_at(Some(&app.admin), format!("{base}/v1/system/cache/stats"))
        .await;
    tier(&stats, cache)["hits"].as_u64().unwrap()
}

/// Reads `url` until process `base` answers it from its `cache` (the channel comes up a
/// moment after a process starts; nothing is kept before).
async fn until_cached(app: &TestApp, base: &str, cache: &str, key: Option<&str>, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        app.json_at(key, url).await;
        let before = hits(app, base, cache).await;
        app.json_at(key, url).await;
        if hits(app, base, cache).await > before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never answered from {cache}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn verification(app: &TestApp, base: &str, code: &str) -> Value {
    app.json_at(None, format!("{base}/v1/verify/{code}")).await
}

/// A rendered certificate's verification code.
async fn issued(app: &TestApp, key: &str, name: &str) -> (String, String) {
    let id = app.submit_ok(key, &certificate(name)).await;
    let job = app.wait_for(key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let cert = app
        .json_at(Some(key), app.url(&format!("/v1/certificates/{id}")))
        .await;
    (id, cert["verification_code"].as_str().unwrap().to_owned())
}

/// Polls `url` with `key` until it answers `401`: how long the revocation took to arrive.
async fn refused_after(app: &TestApp, url: &str, key: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let status = app
            .client
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::UNAUTHORIZED {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{url} still accepts a revoked key after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A certificate revoked through one API process is `revoked` through the other as soon as
/// the revocation's answer returns, and stays so; a key revoked in the database (as the CLI
/// does) is refused by both within 100 ms.
#[tokio::test]
async fn revocations_reach_every_api_process_at_once() {
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL, Roles::API], |_| {}).await;
    let [here, there] = <[String; 2]>::try_from(bases(&app)).unwrap();
    let key = app.new_key("issuer").await;
    let (id, code) = issued(&app, &key, "Cached Holder").await;
    for base in [&here, &there] {
        let url = format!("{base}/v1/verify/{code}");
        until_cached(&app, base, "verifications", None, &url).await;
        assert_eq!(verification(&app, base, &code).await["status"], "valid");
    }

    let revoked = app
        .post(
            &key,
            &format!("/v1/certificates/{id}/revoke"),
            &json!({"reason": "issued in error"}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    // No waiting: the other process has been told by the time the answer is here.
    for _ in 0..20 {
        for base in [&here, &there] {
            let v = verification(&app, base, &code).await;
            assert_eq!(v["status"], "revoked", "{base}: {v}");
        }
    }

    // A key: cached by both processes, then revoked behind the API's back.
    let reader = app.new_key("reader").await;
    let key_id = app.owner_of(&reader).await;
    for base in [&here, &there] {
        let url = format!("{base}/v1/jobs?limit=1");
        until_cached(&app, base, "keys", Some(&reader), &url).await;
    }
    assert!(app.db.revoke_key(&key_id).await.unwrap());
    for base in [&here, &there] {
        let url = format!("{base}/v1/jobs?limit=1");
        let took = refused_after(&app, &url, &reader, Duration::from_millis(100)).await;
        eprintln!("{base}: revoked key refused after {took:?}");
        for _ in 0..10 {
            let status = app
                .client
                .get(&url)
                .bearer_auth(&reader)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "never reverts");
        }
    }
    app.stop().await;
}

/// A small deterministic generator: the seed is printed, so a failure can be replayed with
/// `CACHE_PROPERTY_SEED`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Random changes through random API processes, each followed by reads through every
/// process: no read after a change's answer returned sees the state before it.
#[tokio::test]
async fn random_changes_and_reads_across_two_processes_are_never_stale() {
    let seed = std::env::var("CACHE_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| shared::domain::Timestamp::now().millis() as u64 | 1);
    eprintln!("CACHE_PROPERTY_SEED={seed}");
    let mut rng = Rng(seed);
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL, Roles::API], |_| {}).await;
    let processes = bases(&app);
    let key = app.new_key("prop").await;
    let mut certificates = Vec::new();
    for n in 0..3 {
        let (id, code) = issued(&app, &key, &format!("Holder {n}")).await;
        certificates.push((id, code, false));
    }
    let template = json!({
        "name": "prop",
        "description": "d0",
        "is_public": true,
        "source": "#let d = json(\"/data.json\")\n#d.recipient_name\n",
    });
    let created = app.post(&app.admin, "/v1/templates", &template).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut description = "d0".to_owned();

    for step in 0..60 {
        let through = &processes[rng.below(2) as usize];
        match rng.below(4) {
            0 => {
                let (id, _, revoked) = &mut certificates[rng.below(3) as usize];
                let response = app
                    .client
                    .post(format!("{through}/v1/certificates/{id}/revoke"))
                    .bearer_auth(&key)
                    .json(&json!({"reason": format!("step {step}")}))
                    .send()
                    .await
                    .unwrap();
                let expected = if *revoked {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::OK
                };
                assert_eq!(response.status(), expected, "step {step}");
                *revoked = true;
            }
            1 => {
                description = format!("d{step}");
                let response = app
                    .client
                    .put(format!("{through}/v1/templates/prop"))
                    .bearer_auth(&app.admin)
                    .json(&json!({"description": description}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK, "step {step}");
            }
            // Reads only: they fill the caches the next change must empty.
            _ => {}
        }
        for base in &processes {
            for (_, code, revoked) in &certificates {
                let v = verification(&app, base, code).await;
                let expected = if *revoked { "revoked" } else { "valid" };
                assert_eq!(v["status"], expected, "step {step}, {base}: {v}");
            }
            let t = app
                .json_at(Some(&key), format!("{base}/v1/templates/prop"))
                .await;
            assert_eq!(
                t["description"],
                description.as_str(),
                "step {step}, {base}"
            );
        }
    }
    // The caches were used, not bypassed.
    for base in &processes {
        assert!(hits(&app, base, "verifications").await > 0, "{base}");
        assert!(hits(&app, base, "templates").await > 0, "{base}");
    }
    app.stop().await;
}

/// Redis plays no part in invalidation: with it down, the caches stay up and exact.
#[tokio::test]
async fn caches_stay_exact_while_redis_is_down() {
    let proxy = Proxy::start(&host_port(&test_redis_url())).await;
    let mut app = TestApp::spawn_with(
        Backend::Production,
        &[Roles::API, Roles::API, Roles::WORKER],
        |c| c.redis_url = Some(Secret::new(format!("redis://{}", proxy.addr))),
    )
    .await;
    let [here, there] = <[String; 2]>::try_from(bases(&app)).unwrap();
    let key = app.new_key("outage").await;
    let (id, code) = issued(&app, &key, "Outage Holder").await;
    for base in [&here, &there] {
        let url = format!("{base}/v1/verify/{code}");
        until_cached(&app, base, "verifications", None, &url).await;
    }
    // The worker's consumers stop with Redis (tested in outage.rs): only API processes here.
    app.apps.pop().unwrap().stop().await.unwrap();

    proxy.set_down(true);
    let revoked = app
        .post(
            &key,
            &format!("/v1/certificates/{id}/revoke"),
            &json!({"reason": "while Redis was down"}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    for base in [&here, &there] {
        let v = verification(&app, base, &code).await;
        assert_eq!(v["status"], "revoked", "{base}: {v}");
        let health = app
            .json_at(Some(&app.admin), format!("{base}/v1/system/cache/health"))
            .await;
        assert_eq!(health, json!({"channel": "postgres", "up": true}));
    }
    let ready: Value = app.json_at(None, format!("{there}/ready")).await;
    assert_eq!(
        ready["cache"],
        json!({"channel": "postgres", "up": true}),
        "{ready}"
    );
    proxy.set_down(false);
    app.stop().await;
}

/// The embedded deployment: a change made by another process on the same SQLite file (the
/// CLI) reaches the API's caches through the invalidation log within 100 ms.
#[tokio::test]
async fn embedded_changes_from_another_process_reach_the_caches() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let health = app
        .json_at(Some(&app.admin), app.url("/v1/system/cache/health"))
        .await;
    assert_eq!(health["channel"], "sqlite", "{health}");
    let reader = app.new_key("reader").await;
    let key_id = app.owner_of(&reader).await;
    let url = app.url("/v1/jobs?limit=1");
    until_cached(&app, &app.base, "keys", Some(&reader), &url).await;
    // Another connection to the file, as `quire keys revoke` opens.
    let cli = shared::db::Db::connect(&app.config.db_settings())
        .await
        .unwrap();
    assert!(cli.revoke_key(&key_id).await.unwrap());
    let took = refused_after(&app, &url, &reader, Duration::from_millis(100)).await;
    eprintln!("revoked key refused after {took:?}");
    app.stop().await;
}
