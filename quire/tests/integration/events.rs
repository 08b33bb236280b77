//! `GET /v1/events`: every transition of a 1,000-job batch seen exactly once by a client that
//! is cut off once and whose API process is restarted, resuming with `Last-Event-ID` on
//! other API processes; filters, ownership and bad cursors.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::db::EventFilter;

use crate::helpers::{Backend, TestApp, error_of};
use crate::receiver::read_events;

async fn open(
    app: &TestApp,
    base: &str,
    key: &str,
    query: &str,
    last: Option<i64>,
) -> reqwest::Response {
    let mut request = app
        .client
        .get(format!("{base}/v1/events?{query}"))
        .bearer_auth(key);
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    response
}

fn base_of(app: &TestApp, i: usize) -> String {
    format!("http://{}", app.apps[i].addr.unwrap())
}

#[tokio::test]
async fn a_batch_is_seen_exactly_once_across_a_reconnect_and_an_api_restart() {
    // Worker and scheduler in the first process; two more API processes serve the stream.
    let mut app = TestApp::spawn_with(
        Backend::Production,
        &[Roles::ALL, Roles::API, Roles::API],
        |_| {},
    )
    .await;
    let key = app.new_key("streamer").await;
    const JOBS: usize = 1_000;
    let rows: Vec<Value> = (0..JOBS)
        .map(|i| json!({ "recipient_name": format!("Streamed {i}"), "course_name": "Events" }))
        .collect();
    let response = app
        .post(&key, "/v1/certificates/batch", &json!({ "rows": rows }))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let batch: Value = response.json().await.unwrap();
    let batch = batch["id"].as_str().unwrap().to_owned();
    let query = format!("batch={batch}");
    let mut seen: Vec<(Option<i64>, String, Value)> = Vec::new();
    let done = |item: &(Option<i64>, String, Value)| item.1 != "batch.completed";
    let within = Duration::from_secs(240);

    // From the start of the log (after=0), on the second process; cut off after 600 events.
    let mut stream = open(
        &app,
        &base_of(&app, 1),
        &key,
        &format!("{query}&after=0"),
        None,
    )
    .await;
    let mut buffer = String::new();
    let mut n = 0;
    seen.extend(
        read_events(&mut stream, &mut buffer, within, |item| {
            n += 1;
            n < 600 && done(item)
        })
        .await,
    );
    drop(stream);
    assert_eq!(seen.len(), 600, "first connection");

    // Resumed on the third process; that process is stopped after 600 more.
    let last = seen.last().unwrap().0;
    let mut stream = open(&app, &base_of(&app, 2), &key, &query, last).await;
    let mut buffer = String::new();
    let mut n = 0;
    seen.extend(
        read_events(&mut stream, &mut buffer, within, |item| {
            n += 1;
            n < 600 && done(item)
        })
        .await,
    );
    let stopping = app.apps.remove(2);
    stopping.stop().await.unwrap();
    // Whatever the stopped process had sent before its stream ended still counts.
    seen.extend(read_events(&mut stream, &mut buffer, Duration::from_secs(5), done).await);

    // Resumed on a new API process, until the batch completes.
    app.add(Roles::API).await;
    let last = seen.last().unwrap().0;
    let mut stream = open(&app, &base_of(&app, 2), &key, &query, last).await;
    let mut buffer = String::new();
    seen.extend(read_events(&mut stream, &mut buffer, within, done).await);
    assert_eq!(
        seen.last().unwrap().1,
        "batch.completed",
        "the stream reached the end"
    );

    // Exactly once: ids strictly increasing (no repeat, nothing out of order), the same
    // events as the log holds, each job's start and success once.
    let ids: Vec<i64> = seen.iter().map(|s| s.0.unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");
    let filter = shared::db::EventFilter {
        batch_id: Some(batch.clone()),
        ..Default::default()
    };
    let logged: Vec<i64> = app
        .db
        .events_after(0, &filter, 10_000)
        .await
        .unwrap()
        .events
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(ids, logged, "every logged event, once");
    let mut per_job: HashMap<String, Vec<String>> = HashMap::new();
    for (_, event, data) in &seen {
        assert_eq!(data["type"], event.as_str());
        if let Some(job) = data["job_id"].as_str() {
            per_job
                .entry(job.to_owned())
                .or_default()
                .push(event.clone());
        }
    }
    assert_eq!(per_job.len(), JOBS);
    for (job, events) in &per_job {
        assert_eq!(
            events.iter().filter(|e| *e == "job.succeeded").count(),
            1,
            "{job}: {events:?}"
        );
        assert_eq!(
            events.first().map(String::as_str),
            Some("job.running"),
            "{job}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_stream_shows_only_the_callers_events_and_filters_them() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let mine = app.new_key("mine").await;
    let theirs = app.new_key("theirs").await;
    let mut stream = open(&app, &app.base, &mine, "kind=certificate", None).await;
    let other = app
        .submit_ok(&theirs, &crate::helpers::certificate("Not Mine"))
        .await;
    let id = app
        .submit_ok(&mine, &crate::helpers::certificate("Mine Only"))
        .await;
    let mut buffer = String::new();
    let got = read_events(&mut stream, &mut buffer, Duration::from_secs(30), |item| {
        item.1 != "job.succeeded" || item.2["job_id"] != id.as_str()
    })
    .await;
    let jobs: HashSet<&str> = got.iter().filter_map(|g| g.2["job_id"].as_str()).collect();
    assert!(jobs.contains(id.as_str()), "{got:?}");
    assert!(!jobs.contains(other.as_str()), "another key's job: {got:?}");
    let types: Vec<&str> = got
        .iter()
        .filter(|g| g.2["job_id"] == id.as_str())
        .map(|g| g.1.as_str())
        .collect();
    assert_eq!(types, ["job.running", "job.succeeded"]);

    // The admin sees every key's; a job filter narrows to one.
    let mut stream = open(
        &app,
        &app.base,
        &app.admin,
        &format!("job={other}&after=0"),
        None,
    )
    .await;
    let mut buffer = String::new();
    let got = read_events(&mut stream, &mut buffer, Duration::from_secs(30), |item| {
        item.1 != "job.succeeded"
    })
    .await;
    assert!(
        got.iter().all(|g| g.2["job_id"] == other.as_str()),
        "{got:?}"
    );
    assert_eq!(got.last().unwrap().1, "job.succeeded");

    // Bad cursors and filters are 400s naming what was wrong.
    let response = app
        .client
        .get(app.url("/v1/events"))
        .bearer_auth(&mine)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "Last-Event-ID", "{body}");
    let (status, body) = error_of(app.get(&mine, "/v1/events?kind=spaceship").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "kind", "{body}");
    let response = app.client.get(app.url("/v1/events")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn an_idle_stream_gets_heartbeats() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("idle").await;
    let mut stream = open(&app, &app.base, &key, "", None).await;
    // Nothing happens; within the 15 s interval (and some slack) a comment line arrives,
    // which is what keeps proxies from closing an idle connection.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    let started = tokio::time::Instant::now();
    let mut seen = String::new();
    while !seen.lines().any(|l| l.starts_with(':')) {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("no heartbeat within 25 s: {other:?}, got {seen:?}"),
        }
    }
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "a heartbeat, not an event: {seen:?}"
    );
    assert!(!seen.contains("data:"), "{seen:?}");
    app.stop().await;
}

/// A stream narrowed to one job reads the log through that filter's index, and continues
/// after what each read covered, not after its last matching event: one whose job has no
/// events does not walk the whole log again on every wake. Its last message, when its
/// lifetime ends, is the `id` of the log it covered, so a client resuming with it starts
/// there too.
async fn a_narrow_stream_continues_after_the_log_it_covered(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[Roles::ALL], |c| {
        c.limits.max_event_stream_secs = 2;
    })
    .await;
    const SEEDED: u32 = 100_000;
    app.db.seed_events_for_test("owner", SEEDED).await.unwrap();
    app.db.maintain().await.unwrap();
    let (_, high) = app.db.event_seq_bounds().await.unwrap();
    assert!(high >= i64::from(SEEDED));

    // Each filter's read uses its index, also as the generic plan a pooled prepared
    // statement gets (on PostgreSQL after five executions; on SQLite always).
    let filter = |f: fn(&mut EventFilter)| {
        let mut filter = EventFilter::default();
        f(&mut filter);
        filter
    };
    for (filter, index) in [
        (filter(|f| f.job_id = Some("j".into())), "events_job_seq"),
        (
            filter(|f| f.batch_id = Some("b".into())),
            "events_batch_seq",
        ),
        (
            filter(|f| f.owner = Some("owner-3".into())),
            "events_owner_seq",
        ),
        (
            filter(|f| {
                f.owner = Some("owner-3".into());
                f.job_id = Some("j".into());
            }),
            "events_job_seq",
        ),
    ] {
        let plan = app.db.events_plan_for_test(&filter).await.unwrap();
        assert!(plan.contains(index), "{filter:?}: {plan}");
    }

    // One read of a job no event names covers the whole log at once.
    let nobody = EventFilter {
        job_id: Some(uuid::Uuid::new_v4().to_string()),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let read = app.db.events_after(0, &nobody, 500).await.unwrap();
    let took = started.elapsed();
    assert!(read.events.is_empty());
    assert_eq!(read.covered, high);
    println!("{backend:?}: a read for one job over {SEEDED} events took {took:?}");
    // A page cut by its limit covers up to its last event only.
    let everyone = app
        .db
        .events_after(0, &EventFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(everyone.events.len(), 10);
    assert_eq!(everyone.covered, everyone.events[9].seq);

    // Through the API: the stream for that job sends nothing, then, at the end of its
    // lifetime, the log's high-water mark as its last `id`.
    let job = nobody.job_id.unwrap();
    let mut stream = open(
        &app,
        &app.base,
        &app.admin,
        &format!("after=0&job={job}"),
        None,
    )
    .await;
    let mut text = String::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(15), stream.chunk()).await {
            Ok(Ok(Some(bytes))) => text.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) => break,
            other => panic!("the stream did not end: {other:?}, got {text:?}"),
        }
    }
    assert!(!text.contains("data:"), "{text}");
    let last_id = text
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .next_back()
        .map(|v| v.trim().parse::<i64>().unwrap());
    assert_eq!(last_id, Some(high), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn embedded_a_narrow_stream_continues_after_the_log_it_covered() {
    a_narrow_stream_continues_after_the_log_it_covered(Backend::Embedded).await;
}

#[tokio::test]
async fn production_a_narrow_stream_continues_after_the_log_it_covered() {
    a_narrow_stream_continues_after_the_log_it_covered(Backend::Production).await;
}
