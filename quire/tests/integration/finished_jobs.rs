//! Finished jobs are answered from each API process's memory, and every change to one (a
//! retry, a deletion, SQL by hand) is seen through every process: at once in the process that
//! made it, within a moment in the others, and never reverting.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use shared::domain::Timestamp;
use shared::jobs::{Probe, ProbeOutcome};

use crate::helpers::*;
use quire::Roles;

/// Polls `url` as `key` until `done` holds for its answer, for at most 5 s (on an idle
/// machine it takes milliseconds; a loaded CI machine may delay the message).
async fn soon(
    app: &TestApp,
    key: &str,
    url: &str,
    done: impl Fn(StatusCode, &Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let response = app.client.get(url).bearer_auth(key).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if done(status, &body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after 5 s still {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the process at `base` answers `url` from its finished jobs' cache. (A process
/// keeps nothing until its invalidation channel is up, a moment after it starts.)
async fn until_answered_from_memory(app: &TestApp, key: &str, base: &str, url: &str) {
    let hits = || async {
        let stats = app
            .json_at(Some(&app.admin), format!("{base}/v1/system/cache/stats"))
            .await;
        stats["caches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "finished_jobs")
            .unwrap()["hits"]
            .as_u64()
            .unwrap()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        app.json_at(Some(key), url).await;
        let before = hits().await;
        app.json_at(Some(key), url).await;
        if hits().await > before {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} still reads the database after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn finished_jobs_are_answered_from_memory_and_changes_reach_every_process() {
    // apps[0] serves the API only; apps[1] runs every role (the worker, the cleanup).
    let app = TestApp::spawn_with(Backend::Production, &[Roles::API, Roles::ALL], |c| {
        for schedule in c.schedules.values_mut() {
            schedule.enabled = false;
        }
        c.cleanup.retention.maintenance.dead_days = 1;
    })
    .await;
    let here = |id: &str| app.url(&format!("/v1/jobs/{id}"));
    let other_base = format!("http://{}", app.apps[1].addr.unwrap());
    let there = |id: &str| format!("{other_base}/v1/jobs/{id}");
    let key = app.new_key("reader").await;
    let stranger = app.new_key("stranger").await;
    let dead = Probe {
        sleep_ms: 0,
        outcome: ProbeOutcome::FailPermanent,
    };
    let id = app.insert_probe(&key, dead, 1).await;
    app.wait_for(&key, &id, &["dead"]).await;

    // Both processes answer (and keep) the dead job; its owner only.
    for url in [here(&id), there(&id)] {
        for _ in 0..2 {
            let job = app.json_at(Some(&key), &url).await;
            assert_eq!(job["status"], "dead", "{job}");
            assert_eq!(job["attempt"], 1, "{job}");
        }
        let response = app
            .client
            .get(&url)
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    for (base, url) in [(&app.base, here(&id)), (&other_base, there(&id))] {
        until_answered_from_memory(&app, &key, base, &url).await;
    }
    let job_id = id.parse().unwrap();

    // A change behind the API's back (SQL by hand) is seen too: the row's own trigger tells
    // every process as it commits.
    let earlier = Timestamp::now().plus_millis(-2 * 86_400_000);
    app.db
        .backdate_finished_for_test(job_id, earlier)
        .await
        .unwrap();
    let backdated = serde_json::to_value(earlier).unwrap();
    for url in [here(&id), there(&id)] {
        let job = soon(&app, &key, &url, |_, job| job["finished_at"] == backdated).await;
        assert_eq!(job["status"], "dead", "{job}");
    }

    // A retry through this process: its own answer at once, the other's soon after.
    let response = app
        .post(&key, &format!("/v1/jobs/{id}/retry"), &Value::Null)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // (The retried probe fails again within milliseconds: `dead` with attempt 2 is current
    // too; only `dead` with attempt 1 is the old answer.)
    let stale = |job: &Value| job["status"] == "dead" && job["attempt"] == 1;
    let job = app.json_at(Some(&key), here(&id)).await;
    assert!(!stale(&job), "{job}");
    soon(&app, &key, &there(&id), |_, job| !stale(job)).await;
    // It fails again (attempt 2), and both say so.
    let job = app.wait_for(&key, &id, &["dead"]).await;
    assert_eq!(job["attempt"], 2, "{job}");
    let job = soon(&app, &key, &there(&id), |_, job| job["status"] == "dead").await;
    assert_eq!(job["attempt"], 2, "{job}");
    assert_eq!(app.json_at(Some(&key), here(&id)).await["attempt"], 2);

    // The cleanup (run by the other process's worker) deletes it: a 404 everywhere.
    app.db
        .backdate_finished_for_test(job_id, earlier)
        .await
        .unwrap();
    let run = app
        .post_ok(&app.admin, "/v1/schedules/cleanup/run", &Value::Null)
        .await;
    let cleanup = app.wait_for(&app.admin, &run, &["succeeded", "dead"]).await;
    assert_eq!(cleanup["status"], "succeeded", "{cleanup}");
    for url in [here(&id), there(&id)] {
        soon(&app, &key, &url, |status, _| {
            status == StatusCode::NOT_FOUND
        })
        .await;
    }
    app.stop().await;
}
