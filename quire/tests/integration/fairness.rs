//! Fair service on both backends: priorities (a worker takes the highest-priority ready job;
//! one priority in submission order; only admin keys raise it), turns between keys within a
//! priority, and scheduled jobs (`run_at`, `delay_secs`): not before their time, within a
//! second after it, cancellable meanwhile, and kept through the loss of every queue message.
//! Jobs are submitted while no worker runs, then one worker with one slot starts and the
//! order is read from the rows' `started_at`.

use std::time::Duration;

use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, certificate, error_of};

/// API and scheduler now, a one-slot worker later (`start_worker`).
async fn app_without_worker(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, &[Roles::API, Roles::SCHEDULER], |config| {
        config.queues.certificates.concurrency = 1;
    })
    .await
}

fn with(mut body: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn instant(job: &Value, field: &str) -> time::OffsetDateTime {
    let text = job[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field}: {job}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

/// Job ids in the order their (only) attempt started.
async fn start_order(app: &TestApp, key: &str, ids: &[String]) -> Vec<String> {
    let ids: Vec<(String, String)> = ids.iter().map(|id| (id.clone(), id.clone())).collect();
    started_in_order(app, key, &ids).await
}

/// For each job of `jobs` (a key and its job ids), its key, in the order the jobs started:
/// who was served when.
async fn owners_in_start_order(app: &TestApp, jobs: &[(&String, &Vec<String>)]) -> Vec<String> {
    let tagged: Vec<(String, String)> = jobs
        .iter()
        .flat_map(|(key, ids)| ids.iter().map(|id| ((*key).clone(), id.clone())))
        .collect();
    // The admin key reads every key's jobs.
    started_in_order(app, &app.admin, &tagged).await
}

/// The tags of (tag, job id) pairs in the order the jobs' (only) attempts started.
async fn started_in_order(app: &TestApp, key: &str, jobs: &[(String, String)]) -> Vec<String> {
    let mut started = Vec::new();
    for (tag, id) in jobs {
        let job = app.wait_for(key, id, &["succeeded"]).await;
        started.push((instant(&job, "started_at"), tag.clone()));
    }
    // One slot: attempts never overlap, and each takes milliseconds, so no ties.
    started.sort();
    started.into_iter().map(|(_, tag)| tag).collect()
}

async fn batch(app: &TestApp, key: &str, rows: usize, extra: Value) -> Vec<String> {
    let rows: Vec<Value> = (0..rows)
        .map(|i| json!({ "recipient_name": format!("Row {i}"), "course_name": "Fairness" }))
        .collect();
    let response = app
        .post(
            key,
            "/v1/certificates/batch",
            &with(json!({ "rows": rows }), extra),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let batch: Value = response.json().await.unwrap();
    let certificates = app
        .json_at(Some(key), batch["links"]["certificates"].as_str().unwrap())
        .await;
    let mut ids: Vec<String> = certificates["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    // Job ids are UUIDv7: sorting gives submission order.
    ids.sort();
    ids
}

async fn priorities_order_the_queue(backend: Backend) {
    let mut app = app_without_worker(backend).await;
    let key = app.new_key("prio").await;
    let mut low = Vec::new();
    let mut normal = Vec::new();
    for i in 0..3 {
        let body = with(
            certificate(&format!("Low {i}")),
            json!({ "priority": "low" }),
        );
        low.push(app.submit_ok(&key, &body).await);
        normal.push(
            app.submit_ok(&key, &certificate(&format!("Normal {i}")))
                .await,
        );
    }
    let admin = app.admin.clone();
    let high = app
        .submit_ok(
            &admin,
            &with(certificate("Urgent"), json!({ "priority": "high" })),
        )
        .await;
    let view = app.job(&key, &low[0]).await;
    assert_eq!(view["priority"], "low", "{view}");
    assert_eq!(app.job(&key, &normal[0]).await["priority"], "normal");

    // Only admin keys go above the default: `high` for a single job, `normal` for a batch.
    let refused = app
        .submit(
            &key,
            &with(certificate("Pushy"), json!({ "priority": "high" })),
        )
        .await;
    let (status, body) = error_of(refused).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "priority_not_allowed", "{body}");
    let refused = app
        .post(
            &key,
            "/v1/certificates/batch",
            &json!({ "rows": [{ "recipient_name": "A", "course_name": "B" }], "priority": "normal" }),
        )
        .await;
    assert_eq!(error_of(refused).await.0, StatusCode::FORBIDDEN);

    app.add(Roles::WORKER).await;
    let mut all = vec![high];
    all.extend(normal);
    all.extend(low);
    // The admin key sees every key's jobs.
    let order = start_order(&app, &admin, &all).await;
    assert_eq!(
        order, all,
        "high, then normal, then low; each in submission order"
    );
    app.stop().await;
}

#[tokio::test]
async fn embedded_priorities_order_the_queue() {
    priorities_order_the_queue(Backend::Embedded).await;
}

#[tokio::test]
async fn production_priorities_order_the_queue() {
    priorities_order_the_queue(Backend::Production).await;
}

/// Two keys' batches at one priority alternate; a third key's one-row batch, submitted
/// last, starts within the first few jobs instead of after both batches.
async fn keys_take_turns(backend: Backend) {
    let mut app = app_without_worker(backend).await;
    let (a, b, c) = (
        app.new_key("turn-a").await,
        app.new_key("turn-b").await,
        app.new_key("turn-c").await,
    );
    let a_ids = batch(&app, &a, 12, json!({})).await;
    let b_ids = batch(&app, &b, 12, json!({})).await;
    let c_ids = batch(&app, &c, 1, json!({})).await;
    assert_eq!(app.job(&a, &a_ids[0]).await["priority"], "bulk");
    app.add(Roles::WORKER).await;
    let started = owners_in_start_order(&app, &[(&a, &a_ids), (&b, &b_ids), (&c, &c_ids)]).await;
    let owners: Vec<&str> = started.iter().map(String::as_str).collect();
    let c_at = owners.iter().position(|k| *k == c).unwrap();
    assert!(c_at < 4, "the third key's job started {c_at}th: {owners:?}");
    // While both batches have work (the first 20 jobs), neither key is ahead by more than 2.
    let (mut na, mut nb) = (0i32, 0i32);
    for owner in owners.iter().take(20) {
        if *owner == a {
            na += 1;
        } else if *owner == b {
            nb += 1;
        }
        assert!((na - nb).abs() <= 2, "turns not shared: {owners:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn embedded_keys_take_turns() {
    keys_take_turns(Backend::Embedded).await;
}

#[tokio::test]
async fn production_keys_take_turns() {
    keys_take_turns(Backend::Production).await;
}

/// Deletes every Redis key of the app's namespace: Redis lost its data.
async fn lose_queue_messages(app: &TestApp) {
    let client = redis::Client::open(crate::helpers::test_redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", app.config.redis_namespace))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// Priorities survive the loss of every queue message: the rescuer pushes the rows again and
/// the claim still takes the best one first.
#[tokio::test]
async fn production_priority_survives_losing_the_queue() {
    let mut app = app_without_worker(Backend::Production).await;
    let key = app.new_key("flushed").await;
    let low = app
        .submit_ok(
            &key,
            &with(certificate("Low"), json!({ "priority": "low" })),
        )
        .await;
    let normal = app.submit_ok(&key, &certificate("Normal")).await;
    lose_queue_messages(&app).await;
    app.add(Roles::WORKER).await;
    let order = start_order(&app, &key, &[low.clone(), normal.clone()]).await;
    assert_eq!(order, vec![normal, low]);
    app.stop().await;
}

async fn scheduled_jobs_wait_for_their_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("later").await;
    let later = app
        .submit(
            &key,
            &with(certificate("Later"), json!({ "delay_secs": 2 })),
        )
        .await;
    assert_eq!(later.status(), StatusCode::ACCEPTED);
    let later: Value = later.json().await.unwrap();
    assert_eq!(later["status"], "scheduled", "{later}");
    let id = later["id"].as_str().unwrap().to_owned();
    let view = app.job(&key, &id).await;

    // An RFC 3339 instant; cancelled while it waits, it never runs.
    let at = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let doomed = app
        .submit_ok(&key, &with(certificate("Doomed"), json!({ "run_at": at })))
        .await;
    assert_eq!(app.job(&key, &doomed).await["status"], "scheduled");
    let cancelled = app
        .post(&key, &format!("/v1/jobs/{doomed}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(app.job(&key, &doomed).await["status"], "cancelled");

    let done = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let started = instant(&done, "started_at");
    let due = instant(&view, "run_at");
    assert!(started >= due, "started {started} before its run_at {due}");
    assert!(
        started - due < time::Duration::milliseconds(1500),
        "started {started}, more than a second after its run_at {due}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.job(&key, &doomed).await["status"], "cancelled");

    // Bad instants and both fields at once are 422s naming the field.
    for (extra, field) in [
        (json!({ "run_at": "tomorrow" }), "run_at"),
        (json!({ "run_at": at, "delay_secs": 5 }), "delay_secs"),
        (json!({ "delay_secs": 40_000_000u64 }), "delay_secs"),
    ] {
        let (status, body) =
            error_of(app.submit(&key, &with(certificate("Bad"), extra)).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], field, "{body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn embedded_scheduled_jobs_wait_for_their_time() {
    scheduled_jobs_wait_for_their_time(Backend::Embedded).await;
}

#[tokio::test]
async fn production_scheduled_jobs_wait_for_their_time() {
    scheduled_jobs_wait_for_their_time(Backend::Production).await;
}

/// A scheduled job has no queue message while it waits: losing Redis's data and restarting
/// the worker and scheduler neither loses it nor fires it early.
#[tokio::test]
async fn production_scheduled_job_survives_restart_and_queue_loss() {
    let mut app = TestApp::spawn_with(
        Backend::Production,
        &[Roles::API, Roles::WORKER, Roles::SCHEDULER],
        |_| {},
    )
    .await;
    let key = app.new_key("durable").await;
    let id = app
        .submit_ok(
            &key,
            &with(certificate("Durable"), json!({ "delay_secs": 3 })),
        )
        .await;
    let due = instant(&app.job(&key, &id).await, "run_at");
    for stopped in app.apps.split_off(1) {
        stopped.stop().await.expect("clean stop");
    }
    lose_queue_messages(&app).await;
    assert_eq!(app.job(&key, &id).await["status"], "scheduled");
    app.add(Roles::WORKER).await;
    app.add(Roles::SCHEDULER).await;
    let done = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(instant(&done, "started_at") >= due);
    app.stop().await;
}

/// A key of weight 3 gets about three turns for each of a weight-1 key's.
async fn weights_share_turns(backend: Backend) {
    let mut app = app_without_worker(backend).await;
    let (heavy, light) = (app.new_key("heavy").await, app.new_key("light").await);
    let id = app.db.find_key(&heavy).await.unwrap().unwrap().id;
    let weight = shared::db::KeyServiceLimits {
        weight: Some(3),
        ..Default::default()
    };
    assert!(app.db.set_key_service_limits(&id, &weight).await.unwrap());
    let heavy_ids = batch(&app, &heavy, 12, json!({})).await;
    let light_ids = batch(&app, &light, 12, json!({})).await;
    app.add(Roles::WORKER).await;
    let started = owners_in_start_order(&app, &[(&heavy, &heavy_ids), (&light, &light_ids)]).await;
    let first: Vec<bool> = started.iter().take(12).map(|k| *k == heavy).collect();
    let heavy_turns = first.iter().filter(|h| **h).count();
    assert!(
        (8..=10).contains(&heavy_turns),
        "{heavy_turns} of 12: {first:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn embedded_weights_share_turns() {
    weights_share_turns(Backend::Embedded).await;
}

#[tokio::test]
async fn production_weights_share_turns() {
    weights_share_turns(Backend::Production).await;
}

/// With `max_running_per_key = 1` a key's jobs never run two at once, though the worker has
/// four slots, while another key's jobs run beside them.
async fn a_key_runs_at_most_its_cap(backend: Backend) {
    let mut app = TestApp::spawn_with(backend, &[Roles::API, Roles::SCHEDULER], |config| {
        config.queues.certificates.concurrency = 4;
        config.queues.certificates.max_running_per_key = 1;
    })
    .await;
    let (capped, other) = (app.new_key("capped").await, app.new_key("other").await);
    let capped_ids = batch(&app, &capped, 6, json!({})).await;
    let mut other_ids = Vec::new();
    for i in 0..3 {
        other_ids.push(
            app.submit_ok(&other, &certificate(&format!("Beside {i}")))
                .await,
        );
    }
    app.add(Roles::WORKER).await;
    let mut spans = Vec::new();
    for id in &capped_ids {
        let job = app.wait_for(&capped, id, &["succeeded"]).await;
        spans.push((instant(&job, "started_at"), instant(&job, "finished_at")));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "two of the key's jobs overlapped: {pair:?}"
        );
    }
    let mut last_other = None;
    for id in &other_ids {
        let job = app.wait_for(&other, id, &["succeeded"]).await;
        last_other = last_other.max(Some(instant(&job, "finished_at")));
    }
    // The other key was not made to wait for the capped key's whole batch.
    assert!(last_other.unwrap() < spans.last().unwrap().1);
    app.stop().await;
}

#[tokio::test]
async fn embedded_a_key_runs_at_most_its_cap() {
    a_key_runs_at_most_its_cap(Backend::Embedded).await;
}

#[tokio::test]
async fn production_a_key_runs_at_most_its_cap() {
    a_key_runs_at_most_its_cap(Backend::Production).await;
}

/// A job whose worker died keeps its priority: the rescuer retries it, and it still runs
/// before the lower-priority job that waited all along.
async fn priority_survives_a_rescue(backend: Backend) {
    let mut app = app_without_worker(backend).await;
    let key = app.new_key("rescued").await;
    let low = app
        .submit_ok(
            &key,
            &with(certificate("Low"), json!({ "priority": "low" })),
        )
        .await;
    let normal = app.submit_ok(&key, &certificate("Normal")).await;
    // A worker took it and died: its lease is already over.
    app.db
        .claim_job(normal.parse().unwrap(), "gone", -1)
        .await
        .unwrap()
        .unwrap();
    let rescued = app.wait_for(&key, &normal, &["failed"]).await;
    assert_eq!(rescued["priority"], "normal", "{rescued}");
    assert_eq!(rescued["error"]["code"], "lease_expired", "{rescued}");
    app.add(Roles::WORKER).await;
    let order = start_order(&app, &key, &[low.clone(), normal.clone()]).await;
    assert_eq!(order, vec![normal, low]);
    app.stop().await;
}

#[tokio::test]
async fn embedded_priority_survives_a_rescue() {
    priority_survives_a_rescue(Backend::Embedded).await;
}

#[tokio::test]
async fn production_priority_survives_a_rescue() {
    priority_survives_a_rescue(Backend::Production).await;
}

/// A retry that comes due in an otherwise idle queue is not pushed behind jobs submitted
/// meanwhile: the virtual clock does not restart below a job waiting for its retry.
async fn a_due_retry_is_not_overtaken(backend: Backend) {
    use shared::domain::{QueueName, Timestamp};
    let app = app_without_worker(backend).await;
    let (early, late) = (app.new_key("early").await, app.new_key("late").await);
    let first = app.submit_ok(&early, &certificate("First")).await;
    let retried = app.submit_ok(&early, &certificate("Retried")).await;
    // A worker ran both: the first succeeded, the second failed and retries in a moment.
    let token = |claimed: Option<shared::db::Claimed>| claimed.unwrap().lease_token;
    let done = token(
        app.db
            .claim_job(first.parse().unwrap(), "w", 60_000)
            .await
            .unwrap(),
    );
    assert!(
        app.db
            .complete_job(first.parse().unwrap(), &done, &json!({}), None)
            .await
            .unwrap()
    );
    let failing = token(
        app.db
            .claim_job(retried.parse().unwrap(), "w", 60_000)
            .await
            .unwrap(),
    );
    let due = Timestamp::now().plus_millis(1_000);
    app.db
        .fail_job(
            retried.parse().unwrap(),
            &failing,
            "flaky",
            "try again",
            Some(due),
            None,
        )
        .await
        .unwrap();
    // Meanwhile another key submits to the idle queue.
    let newer = app.submit_ok(&late, &certificate("Newer")).await;
    while Timestamp::now() < due {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let next = app
        .db
        .claim_next(QueueName::Certificates, "w", 60_000, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        next.job.id.to_string(),
        retried,
        "the due retry first, then {newer}"
    );
    app.stop().await;
}

#[tokio::test]
async fn embedded_a_due_retry_is_not_overtaken() {
    a_due_retry_is_not_overtaken(Backend::Embedded).await;
}

#[tokio::test]
async fn production_a_due_retry_is_not_overtaken() {
    a_due_retry_is_not_overtaken(Backend::Production).await;
}

/// A key and its id (the jobs' owner).
async fn key_with_id(app: &TestApp, name: &str) -> (String, String) {
    let created = app.db.create_key(name, false).await.unwrap();
    (created.secret.expose().clone(), created.key.id)
}

/// The owners of the next `n` jobs a worker would claim (claimed here, none run).
async fn claim_owners(app: &TestApp, n: usize) -> Vec<(String, String)> {
    let mut claimed = Vec::new();
    for _ in 0..n {
        let Some(next) = app
            .db
            .claim_next(shared::domain::QueueName::Certificates, "w", 60_000, 0)
            .await
            .unwrap()
        else {
            break;
        };
        claimed.push((next.job.owner_id, next.job.id.to_string()));
    }
    claimed
}

/// Key A's 5,000 scheduled rows come due at once, so the promoter queues them in passes of
/// 1,000 rows, one statement each. Key B then submits ten: they are claimed among A's first
/// jobs, in turns, not after a block of A's (one statement's rows once shared one virtual
/// time).
async fn a_due_backlog_takes_turns_with_other_keys(backend: Backend) {
    let app = app_without_worker(backend).await;
    let (a, _) = key_with_id(&app, "backlog").await;
    let (b, b_id) = key_with_id(&app, "meanwhile").await;
    let at = (time::OffsetDateTime::now_utc() + time::Duration::seconds(8))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let rows: Vec<Value> = (0..5_000)
        .map(|i| json!({ "recipient_name": format!("Later {i}"), "course_name": "Backlog" }))
        .collect();
    let response = app
        .post(
            &a,
            "/v1/certificates/batch",
            &json!({ "rows": rows, "run_at": at }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let scheduled = |key: String| {
        let app = &app;
        async move {
            app.json_at(
                Some(&key),
                app.url("/v1/jobs?status=scheduled&limit=1").as_str(),
            )
            .await["jobs"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        scheduled(a.clone()).await,
        1,
        "A's rows wait as scheduled (else the promoter is not what this tests)"
    );
    // The promoter queues them all (five passes of 1,000) once their time comes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while scheduled(a.clone()).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "never promoted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = app
        .post(
            &b,
            "/v1/certificates/batch",
            &json!({ "rows": (0..10).map(|i| json!({ "recipient_name": format!("B {i}"), "course_name": "Turns" })).collect::<Vec<_>>() }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let claimed = claim_owners(&app, 40).await;
    let b_at: Vec<usize> = claimed
        .iter()
        .enumerate()
        .filter(|(_, (owner, _))| *owner == b_id)
        .map(|(i, _)| i)
        .collect();
    // Turns: B's k-th job right after A's (k+1)-th, so all ten within the first 21 claims.
    assert_eq!(
        b_at.len(),
        10,
        "B's jobs among the first 40 claims: {b_at:?}"
    );
    assert!(b_at.iter().all(|i| *i < 25), "B's jobs claimed at {b_at:?}");
    app.stop().await;
}

#[tokio::test]
async fn embedded_a_due_backlog_takes_turns_with_other_keys() {
    a_due_backlog_takes_turns_with_other_keys(Backend::Embedded).await;
}

#[tokio::test]
async fn production_a_due_backlog_takes_turns_with_other_keys() {
    a_due_backlog_takes_turns_with_other_keys(Backend::Production).await;
}

/// A dead job retried by hand waits again: it counts against its owner's waiting-jobs quota
/// (also when an admin retries it), and it takes a fresh turn behind its owner's jobs
/// instead of the place it had when it first ran.
async fn a_manual_retry_takes_a_fresh_turn_within_the_quota(backend: Backend) {
    use shared::domain::QueueName;
    let app = app_without_worker(backend).await;
    let (a, a_id) = key_with_id(&app, "retrier").await;
    let (b, _) = key_with_id(&app, "other").await;
    let limits = shared::db::KeyServiceLimits {
        max_waiting_jobs: Some(3),
        ..Default::default()
    };
    assert!(app.db.set_key_service_limits(&a_id, &limits).await.unwrap());
    let mut dead = Vec::new();
    for name in ["Dead 1", "Dead 2"] {
        let id = app.submit_ok(&a, &certificate(name)).await;
        let claimed = app
            .db
            .claim_next(QueueName::Certificates, "w", 60_000, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.job.id.to_string(), id);
        app.db
            .fail_job(
                claimed.job.id,
                &claimed.lease_token,
                "broken",
                "gave up",
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(app.job(&a, &id).await["status"], "dead");
        dead.push(id);
    }
    let a1 = app.submit_ok(&a, &certificate("A 1")).await;
    let a2 = app.submit_ok(&a, &certificate("A 2")).await;
    let b1 = app.submit_ok(&b, &certificate("B 1")).await;
    let b2 = app.submit_ok(&b, &certificate("B 2")).await;

    // Two waiting and a quota of three: one retry fits, the second does not, whoever asks.
    let retried = app
        .post(&a, &format!("/v1/jobs/{}/retry", dead[0]), &json!({}))
        .await;
    assert_eq!(retried.status(), StatusCode::OK);
    for key in [&a, &app.admin] {
        let (status, body) = error_of(
            app.post(key, &format!("/v1/jobs/{}/retry", dead[1]), &json!({}))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["code"], "too_many_waiting_jobs", "{body}");
    }
    assert_eq!(app.job(&a, &dead[1]).await["status"], "dead");

    // The retried job goes behind A's waiting jobs (it first ran before all of them).
    let order: Vec<String> = claim_owners(&app, 10)
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(order.len(), 5, "{order:?}");
    let at = |id: &String| order.iter().position(|o| o == id).unwrap();
    assert!(
        at(&dead[0]) > at(&a1) && at(&dead[0]) > at(&a2),
        "the retry jumped its owner's queue: {order:?} (a1 {a1}, a2 {a2}, b1 {b1}, b2 {b2}, \
         retried {})",
        dead[0]
    );
    app.stop().await;
}

#[tokio::test]
async fn embedded_a_manual_retry_takes_a_fresh_turn_within_the_quota() {
    a_manual_retry_takes_a_fresh_turn_within_the_quota(Backend::Embedded).await;
}

#[tokio::test]
async fn production_a_manual_retry_takes_a_fresh_turn_within_the_quota() {
    a_manual_retry_takes_a_fresh_turn_within_the_quota(Backend::Production).await;
}
