//! Requests that stay open: event streams, long-polls and batch archives are capped per key
//! under the per-process caps (`429` with the kind's code and `Retry-After`), event streams
//! end after their lifetime, and a client that stops reading is dropped after the write
//! timeout, giving its place back. Each answer is checked as a client sees it.

use std::net::SocketAddr;
use std::time::Duration;

use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::helpers::{Backend, TestApp, error_of};

/// A GET sent over a socket with a small receive buffer that reads the answer's status line
/// (`200`: the request holds its place) and then nothing more: a client that stopped
/// reading. Kept open as long as the returned socket lives.
async fn stalled_get(app: &TestApp, key: &str, path: &str) -> tokio::net::TcpStream {
    let addr: SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut status = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut status))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    assert_eq!(
        &status,
        b"HTTP/1.1 200",
        "{}",
        String::from_utf8_lossy(&status)
    );
    stream
}

/// A 429 of a per-key cap: its code, and `Retry-After`.
async fn assert_capped(response: reqwest::Response, code: &str) {
    assert!(
        response.headers().contains_key("retry-after"),
        "{:?}",
        response.headers()
    );
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], code, "{body}");
}

/// A key may keep `limits.max_event_streams_per_key` streams open; another key is not
/// held back; streams end after `limits.max_event_stream_secs` and give their places back.
#[tokio::test]
async fn event_streams_are_capped_per_key_and_end_after_their_lifetime() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        c.limits.max_event_streams_per_key = 2;
        c.limits.max_event_stream_secs = 3;
    })
    .await;
    let greedy = app.new_key("greedy").await;
    let other = app.new_key("other").await;
    let started = Instant::now();
    let mut first = app.get(&greedy, "/v1/events").await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = app.get(&greedy, "/v1/events").await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_capped(app.get(&greedy, "/v1/events").await, "too_many_streams").await;
    let theirs = app.get(&other, "/v1/events").await;
    assert_eq!(theirs.status(), StatusCode::OK, "another key's stream");
    drop(theirs);

    // The streams end by themselves (a client resumes with `Last-Event-ID`).
    loop {
        match tokio::time::timeout(Duration::from_secs(15), first.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => break,
            other => panic!("the stream did not end: {other:?}"),
        }
    }
    let lived = started.elapsed();
    assert!(
        lived >= Duration::from_secs(2) && lived < Duration::from_secs(10),
        "{lived:?}"
    );
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = app.get(&greedy, "/v1/events").await;
        if again.status() == StatusCode::OK {
            break;
        }
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "the places never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

/// A key may have `limits.max_long_polls_per_key` requests waiting (`?wait=`); one more at
/// the same time is refused at once, while an answer without `wait` is not, nor another
/// key's wait.
#[tokio::test]
async fn long_polls_are_capped_per_key() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        c.limits.max_long_polls_per_key = 2;
    })
    .await;
    let waiter = app.new_key("waiter").await;
    let other = app.new_key("other").await;
    // Running (or queued) for longer than anyone here waits.
    let slow = shared::jobs::Probe {
        sleep_ms: 15_000,
        outcome: shared::jobs::ProbeOutcome::Succeed,
    };
    let id = app.insert_probe(&waiter, slow.clone(), 1).await;
    let theirs = app.insert_probe(&other, slow, 1).await;
    // Three waits at once: two wait their 3 s, the third is refused at once.
    let url = app.url(&format!("/v1/jobs/{id}?wait=3"));
    let waits: Vec<_> = (0..3)
        .map(|_| {
            let request = app.client.get(&url).bearer_auth(&waiter).send();
            tokio::spawn(async move {
                let started = Instant::now();
                let response = request.await.unwrap();
                (response, started.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for wait in waits {
        answers.push(wait.await.unwrap());
    }
    answers.sort_by_key(|(r, _)| r.status());
    let statuses: Vec<u16> = answers.iter().map(|(r, _)| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 429]);
    let (refused, took) = answers.pop().unwrap();
    assert!(took < Duration::from_secs(2), "refused after {took:?}");
    assert_capped(refused, "too_many_long_polls").await;
    for (_, took) in &answers {
        assert!(*took >= Duration::from_secs(3), "{took:?}");
    }

    // While two wait again: an answer without `wait` takes no place, another key's wait
    // has its own.
    let holding: Vec<_> = (0..2)
        .map(|_| tokio::spawn(app.client.get(&url).bearer_auth(&waiter).send()))
        .collect();
    let now = app.get(&waiter, &format!("/v1/jobs/{id}")).await;
    assert_eq!(now.status(), StatusCode::OK, "no wait, no place taken");
    let other_wait = app.get(&other, &format!("/v1/jobs/{theirs}?wait=1")).await;
    assert_eq!(other_wait.status(), StatusCode::OK, "another key's wait");
    for wait in holding {
        assert_eq!(wait.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    for (key, job) in [(&waiter, &id), (&other, &theirs)] {
        let cancel = app
            .post(key, &format!("/v1/jobs/{job}/cancel"), &Value::Null)
            .await;
        assert!(cancel.status().is_success(), "{}", cancel.status());
    }
    app.stop().await;
}

/// A key may download `limits.max_archive_downloads_per_key` archives at once; a client
/// that stops reading one is dropped after `limits.write_timeout_secs` and its place comes
/// back. The archive's file list is read in pages.
#[tokio::test]
async fn archive_downloads_are_capped_per_key() {
    // Some megabytes of PDFs: more than the pipe, the server's and the socket's buffers.
    const ROWS: usize = 250;
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        c.limits.max_archive_downloads_per_key = 1;
        c.limits.write_timeout_secs = 2;
    })
    .await;
    let key = app.new_key("archivist").await;
    let rows: Vec<Value> = (0..ROWS)
        .map(|i| json!({ "recipient_name": format!("Archived {i}"), "course_name": "Caps" }))
        .collect();
    let response = app
        .post(&key, "/v1/certificates/batch", &json!({ "rows": rows }))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let batch: Value = response.json().await.unwrap();
    let id = batch["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let view = app
            .json_at(Some(&key), app.url(&format!("/v1/batches/{id}?wait=30")))
            .await;
        if view["complete"] == true {
            break view;
        }
        assert!(Instant::now() < deadline, "{view}");
    };
    assert_eq!(done["counts"]["succeeded"], ROWS, "{done}");

    // The file list in pages of 7: every file once, in order.
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = app.db.batch_files_page(&id, after, 7).await.unwrap();
        after = page.last().map(|f| f.job_id);
        listed.extend(page.iter().map(|f| f.job_id));
        if page.len() < 7 {
            break;
        }
    }
    assert_eq!(listed.len(), ROWS);
    assert!(listed.windows(2).all(|w| w[0] < w[1]));

    let path = format!("/v1/batches/{id}/archive");
    let stalled = stalled_get(&app, &key, &path).await;
    assert_capped(app.get(&key, &path).await, "too_many_archives").await;
    let refused_at = Instant::now();
    // The stalled client is dropped after the write timeout; its place comes back.
    let archive = loop {
        let again = app.get(&key, &path).await;
        if again.status() == StatusCode::OK {
            assert!(
                refused_at.elapsed() >= Duration::from_secs(1),
                "not stalled"
            );
            break again.bytes().await.unwrap();
        }
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            refused_at.elapsed() < Duration::from_secs(20),
            "the stalled download kept its place"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let zip = zip::ZipArchive::new(std::io::Cursor::new(archive.to_vec())).expect("a ZIP");
    assert_eq!(zip.len(), ROWS + 1, "the PDFs and the manifest");
    drop(stalled);
    app.stop().await;
}

/// A client that stops reading an event stream is dropped after `limits.write_timeout_secs`,
/// and the stream's place is given back.
#[tokio::test]
async fn a_stream_whose_client_stops_reading_is_dropped() {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.limits.max_event_streams_per_key = 1;
        c.limits.write_timeout_secs = 2;
    })
    .await;
    // Far more than any socket buffer holds.
    app.db.seed_events_for_test("busy", 100_000).await.unwrap();
    let stalled = stalled_get(&app, &app.admin, "/v1/events?after=0").await;
    assert_capped(app.get(&app.admin, "/v1/events").await, "too_many_streams").await;
    let refused_at = Instant::now();
    loop {
        let again = app.get(&app.admin, "/v1/events").await;
        if again.status() == StatusCode::OK {
            assert!(
                refused_at.elapsed() >= Duration::from_secs(1),
                "not stalled"
            );
            break;
        }
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            refused_at.elapsed() < Duration::from_secs(20),
            "the stalled stream kept its place"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(stalled);
    app.stop().await;
}
