//! Redis for high availability, with real `redis-server` processes on loopback started here
//! (`shared::redis_lab`): a master SIGKILLed under a burst behind Sentinel, a Redis Cluster
//! whose master is killed, and a TLS server with an ACL user limited to quire's keys. The
//! full 2,000-certificate Sentinel run is `bench/faults.sh sentinel-failover`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::config::{Config, Secret};
use shared::redis_lab::{ClusterLab, SentinelLab, TlsLab};

use crate::dashboard::{get as dashboard_get, sign_in};
use crate::helpers::*;
use crate::receiver::Receiver;

/// Deliveries may go to loopback (the receiver) and retry fast.
fn loopback(c: &mut Config) {
    c.webhooks.allow_http = true;
    c.webhooks.allow_networks = "127.0.0.0/8".into();
    c.webhooks.retry.base_ms = 200;
    c.webhooks.retry.max_secs = 2;
    c.webhooks.pump_interval_ms = 50;
}

/// The API, a worker and the scheduler as separate apps on `tweak`'s Redis, so wake-ups,
/// events and cancels cross processes through it.
async fn three_roles(tweak: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(
        Backend::Production,
        &[Roles::API, Roles::WORKER, Roles::SCHEDULER],
        |c| {
            loopback(c);
            tweak(c);
        },
    )
    .await
}

async fn subscribe_to_successes(app: &TestApp, key: &str, url: &str) {
    let response = app
        .post(
            key,
            "/v1/webhooks",
            &json!({ "url": url, "events": ["job.succeeded"] }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// What a burst of submissions got: each accepted job id with when it was accepted.
#[derive(Default)]
struct Burst {
    accepted: Mutex<Vec<(String, Instant)>>,
    refused: Mutex<usize>,
}

impl Burst {
    fn count(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
}

/// Submits `n` certificates from `clients` concurrent clients; a refused one (`503` while
/// Redis fails over: nothing was kept) is submitted again until accepted.
async fn burst(app: Arc<TestApp>, key: String, n: usize, clients: usize, out: Arc<Burst>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (app, key, out, next) = (app.clone(), key.clone(), out.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= n {
                    return;
                }
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let response = app.submit(&key, &certificate(&format!("HA {i}"))).await;
                    match response.status() {
                        StatusCode::ACCEPTED => {
                            let body: Value = response.json().await.unwrap();
                            let id = body["id"].as_str().unwrap().to_owned();
                            out.accepted.lock().unwrap().push((id, Instant::now()));
                            break;
                        }
                        StatusCode::SERVICE_UNAVAILABLE => {
                            *out.refused.lock().unwrap() += 1;
                            assert!(Instant::now() < deadline, "refused for a minute");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        other => panic!("{other}: {}", response.text().await.unwrap()),
                    }
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// Waits until every job in `ids` has a `job.succeeded` delivery; the deliveries by job.
async fn deliveries_by_job(
    rx: &Receiver,
    ids: &HashSet<String>,
    within: Duration,
) -> HashMap<String, Vec<(String, Instant)>> {
    let deadline = Instant::now() + within;
    loop {
        let mut by_job: HashMap<String, Vec<(String, Instant)>> = HashMap::new();
        for d in rx.received() {
            let body = d.json();
            if body["type"] == "job.succeeded" {
                let job = body["data"]["id"].as_str().unwrap().to_owned();
                by_job.entry(job).or_default().push((d.id.clone(), d.at));
            }
        }
        let missing = ids.iter().filter(|id| !by_job.contains_key(*id)).count();
        if missing == 0 {
            return by_job;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} accepted jobs have no delivery after {within:?}",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every accepted job succeeded, and each has exactly one event delivered (a delivery
/// repeated after a lost answer carries the same id); when each started.
async fn every_job_succeeded_once(
    app: &TestApp,
    key: &str,
    by_job: &HashMap<String, Vec<(String, Instant)>>,
) -> HashMap<String, SystemTime> {
    let mut started = HashMap::new();
    for (job, deliveries) in by_job {
        let events: HashSet<&String> = deliveries.iter().map(|(id, _)| id).collect();
        assert_eq!(
            events.len(),
            1,
            "job {job} succeeded {} times",
            events.len()
        );
        let view = app.job(key, job).await;
        assert_eq!(view["status"], "succeeded", "{view}");
        let at = time::OffsetDateTime::parse(
            view["started_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        started.insert(job.clone(), SystemTime::from(at));
    }
    started
}

/// (a) One master, one replica, three sentinels; the master SIGKILLed a third of the way
/// through a burst with a webhook per job and a dashboard session open.
#[tokio::test]
async fn sentinel_failover_under_a_burst() {
    let jobs: usize = std::env::var("QUIRE_HA_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    let dir = tempfile::tempdir().unwrap();
    let mut lab = SentinelLab::start(dir.path()).await.unwrap();
    let sentinels = lab.sentinel_list();
    let name = lab.name.clone();
    let app = three_roles(|c| {
        // The host is not used: the sentinels name the master.
        c.redis_url = Some(Secret::new(format!("redis://{name}")));
        c.redis.sentinels = sentinels;
        c.redis.sentinel_master = name;
    })
    .await;
    let rx = Receiver::start().await;
    let key = app.new_key("ha").await;
    subscribe_to_successes(&app, &key, &rx.url).await;
    let cookie = sign_in(&app, &key).await;
    assert_eq!(
        dashboard_get(&app, &cookie, "/dashboard").await.status(),
        StatusCode::OK
    );
    // The session is on the replica before the master dies (asynchronous replication
    // could otherwise lose a write made the instant before).
    lab.wait_replicated().await.unwrap();

    let app = Arc::new(app);
    let out = Arc::new(Burst::default());
    let submitting = tokio::spawn(burst(app.clone(), key.clone(), jobs, 8, out.clone()));
    while out.count() < jobs / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lab.master.kill();
    let killed = Instant::now();
    let promoted = lab
        .wait_promoted(Duration::from_secs(30))
        .await
        .unwrap()
        .into_std();
    let promoted_at = SystemTime::now() - promoted.elapsed();
    submitting.await.unwrap();

    let accepted = out.accepted.lock().unwrap().clone();
    let ids: HashSet<String> = accepted.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids.len(), jobs);
    let by_job = deliveries_by_job(&rx, &ids, Duration::from_secs(600)).await;
    let started = every_job_succeeded_once(&app, &key, &by_job).await;

    // Work resumed: a worker started a job after the promotion (a claim needs a queue
    // message, so none starts while Redis is away), and its delivery arrived.
    let first_accepted = accepted
        .iter()
        .map(|(_, at)| *at)
        .filter(|at| *at > promoted)
        .min();
    let resumed = started
        .iter()
        .filter_map(|(id, at)| Some((id, at.duration_since(promoted_at).ok()?)))
        .min_by_key(|(_, after)| *after);
    let (resumed_job, first_start) = resumed.expect("a job started after the promotion");
    let first_delivered = by_job[resumed_job]
        .iter()
        .map(|(_, at)| *at)
        .min()
        .unwrap()
        .saturating_duration_since(promoted);
    eprintln!(
        "sentinel failover: {jobs} jobs, {} refusals (503) meanwhile; promoted {:.2} s after \
         the kill; after the promotion: first accepted {:?}, first started {first_start:?}, \
         its delivery {first_delivered:?}",
        *out.refused.lock().unwrap(),
        (promoted - killed).as_secs_f64(),
        first_accepted.map(|t| t - promoted),
    );
    assert!(
        first_delivered < Duration::from_secs(10),
        "work resumed {first_delivered:?} after the promotion"
    );

    // The session survived the failover.
    assert_eq!(
        dashboard_get(&app, &cookie, "/dashboard").await.status(),
        StatusCode::OK
    );
    let app = Arc::into_inner(app).expect("the burst is over");
    app.stop().await;
}

/// (b) Three masters with a replica each: the lifecycle, a batch, `?wait=`, SSE and rate
/// limits across the cluster; then a master killed, its replica promoted, nothing lost.
#[tokio::test]
async fn cluster_lifecycle_and_failover() {
    let dir = tempfile::tempdir().unwrap();
    let mut lab = ClusterLab::start(dir.path(), 3).await.unwrap();
    let (url, seeds) = (lab.url(), lab.seed_list());
    let app = three_roles(|c| {
        c.redis_url = Some(Secret::new(url));
        c.redis.cluster = true;
        c.redis.cluster_nodes = seeds;
        // Public verification is limited per address: the buckets live in the cluster.
        c.rate_limit.public_per_address = 5;
        c.rate_limit.window_secs = 60;
    })
    .await;
    let key = app.new_key("cluster").await;
    let rx = Receiver::start().await;
    subscribe_to_successes(&app, &key, &rx.url).await;

    // The lifecycle, waited on with `?wait=` (the finished event crosses the cluster).
    let one = app.submit_ok(&key, &certificate("Cluster One")).await;
    let waited: Value = app
        .json_at(Some(&key), app.url(&format!("/v1/jobs/{one}?wait=30")))
        .await;
    assert_eq!(waited["status"], "succeeded", "{waited}");
    let pdf = app.get(&key, &format!("/v1/jobs/{one}/file")).await;
    assert_eq!(pdf.status(), StatusCode::OK);

    // A batch.
    let rows: Vec<Value> = (0..5)
        .map(|i| json!({ "recipient_name": format!("Row {i}"), "course_name": "Slots" }))
        .collect();
    let batch = app
        .post(&key, "/v1/certificates/batch", &json!({ "rows": rows }))
        .await;
    assert_eq!(batch.status(), StatusCode::ACCEPTED);
    let batch: Value = batch.json().await.unwrap();
    let batch_id = batch["id"].as_str().expect("a batch id").to_owned();
    let done: Value = app
        .json_at(
            Some(&key),
            app.url(&format!("/v1/batches/{batch_id}?wait=60")),
        )
        .await;
    assert_eq!(done["counts"]["succeeded"], 5, "{done}");

    // SSE: the event stream carries the jobs' events.
    let mut events = app
        .client
        .get(app.url("/v1/events"))
        .bearer_auth(&key)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !text.contains(&one) {
        let chunk = tokio::time::timeout(Duration::from_secs(30), events.chunk())
            .await
            .expect("an event")
            .unwrap()
            .expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
        assert!(Instant::now() < deadline, "no event for {one}: {text}");
    }
    drop(events);

    // A master killed during submissions; its replica promoted; nothing lost.
    let app = Arc::new(app);
    let out = Arc::new(Burst::default());
    let jobs = 90;
    // The master of the certificates queue's slot.
    let victim = lab
        .master_of(&format!(
            "{{{}:certificates}}:active",
            app.config.redis_namespace
        ))
        .await
        .unwrap();
    let submitting = tokio::spawn(burst(app.clone(), key.clone(), jobs, 4, out.clone()));
    while out.count() < jobs / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (killed, promoted) = lab
        .kill_and_wait_promoted(victim, Duration::from_secs(30))
        .await
        .unwrap();
    submitting.await.unwrap();
    let ids: HashSet<String> = out
        .accepted
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    let by_job = deliveries_by_job(&rx, &ids, Duration::from_secs(120)).await;
    let _ = every_job_succeeded_once(&app, &key, &by_job).await;
    eprintln!(
        "cluster failover: replica promoted {:.2} s after the kill; {} refusals meanwhile",
        (promoted - killed).as_secs_f64(),
        *out.refused.lock().unwrap()
    );

    // Rate limits, after the failover: five verifications pass, then the address is refused.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = app
            .client
            .get(app.url("/v1/verify/ABCD-EFGH-JKLM"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // (A check that reaches no master lets its request through, so allow one such.)
    assert!(
        refused >= 2 && !statuses[..5].contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let app = Arc::into_inner(app).expect("the burst is over");
    app.stop().await;
}

/// TLS with a private CA, and an ACL user allowed only quire's keys and channels (the
/// default user off): the lifecycle, a dashboard session and rate limits work; without the
/// CA the server is refused.
#[tokio::test]
async fn tls_and_an_acl_user_limited_to_the_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let namespace = format!("t{}", uuid::Uuid::new_v4().simple());
    let password = "s3cret-acl-pass";
    let lab = TlsLab::start(
        dir.path(),
        "quire",
        password,
        &format!("~{namespace}:* &{namespace}:*"),
    )
    .await
    .unwrap();
    let url = format!("rediss://quire:{password}@127.0.0.1:{}", lab.node.port);

    // Without the CA the certificate is not trusted; the error does not show the password.
    let refused = shared::queue::Queue::redis(&url, &namespace)
        .await
        .expect_err("an unknown CA is refused");
    assert!(!refused.to_string().contains(password), "{refused}");

    let ca = lab.ca.clone();
    let app = TestApp::spawn_with(Backend::Production, &[Roles::ALL], |c| {
        c.redis_url = Some(Secret::new(url));
        c.redis_namespace = namespace;
        c.redis.tls_ca_file = Some(ca);
        c.rate_limit.per_key = 1000;
    })
    .await;
    let key = app.new_key("tls").await;
    let id = app.submit_ok(&key, &certificate("Over TLS")).await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let limited = app.get(&key, "/v1/jobs").await;
    assert_eq!(limited.status(), StatusCode::OK);
    // The bucket lives in Redis, under the namespace the user is limited to.
    assert!(
        limited.headers().contains_key("ratelimit"),
        "{:?}",
        limited.headers()
    );
    let cookie = sign_in(&app, &key).await;
    assert_eq!(
        dashboard_get(&app, &cookie, "/dashboard").await.status(),
        StatusCode::OK
    );
    app.stop().await;
}
