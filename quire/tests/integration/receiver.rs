//! A webhook receiver on loopback for the webhook tests and the SSE client: a real HTTP
//! server that records every delivery and answers as scripted; signatures are checked with
//! the reference implementation (the `standardwebhooks` package), never with quire's code.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub at: Instant,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            retry_after: None,
        }
    }
}

#[derive(Default)]
struct Inner {
    got: Mutex<Vec<Delivery>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    /// The first request waits this long before its answer (then it is taken).
    hold: Mutex<Option<Duration>>,
    arrived: Notify,
}

pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    /// Listens on 127.0.0.1 (a free port); answers 200 unless scripted otherwise.
    pub async fn start() -> Receiver {
        let inner = Arc::new(Inner::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let state = inner.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let (response, hold) = receive(&state, &headers, body);
                    if let Some(hold) = hold {
                        tokio::time::sleep(hold).await;
                    }
                    response
                }
            }),
        );
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, inner, server }
    }

    /// The next requests get these answers, in order; then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.script.lock().unwrap().extend(replies);
    }

    /// The next request is answered only after `hold` (a slow endpoint).
    pub fn hold_first(&self, hold: Duration) {
        *self.inner.hold.lock().unwrap() = Some(hold);
    }

    /// Every request not scripted gets this answer (`None`: 200).
    pub fn set_default(&self, reply: Option<Reply>) {
        *self.inner.default.lock().unwrap() = reply;
    }

    pub fn received(&self) -> Vec<Delivery> {
        self.inner.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (panics after `within`); all of them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let arrived = self.inner.arrived.notified();
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::timeout_at(deadline, arrived).await.is_ok(),
                "{} of {n} deliveries within {within:?}",
                got.len()
            );
        }
    }
}

fn receive(
    state: &Inner,
    headers: &HeaderMap,
    body: String,
) -> (axum::response::Response, Option<Duration>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let reply = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| state.default.lock().unwrap().clone())
        .unwrap_or(Reply::status(200));
    state.got.lock().unwrap().push(Delivery {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
        at: Instant::now(),
    });
    state.arrived.notify_waiters();
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap(),
        "receiver says hello",
    )
        .into_response();
    if let Some(after) = reply.retry_after {
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    (response, state.hold.lock().unwrap().take())
}

/// Verifies every delivery's signature with `secret` using the Standard Webhooks reference
/// implementation (PyPI `standardwebhooks`, installed by `deploy/test-services.sh`). Returns
/// whether all verified; the script's complaint is printed.
pub fn verified_by_reference(secret: &str, deliveries: &[Delivery]) -> bool {
    let items: Vec<Value> = deliveries
        .iter()
        .map(|d| {
            serde_json::json!({
                "body": d.body,
                "headers": {
                    "webhook-id": d.id,
                    "webhook-timestamp": d.timestamp,
                    "webhook-signature": d.signature,
                },
            })
        })
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(&items).unwrap()).unwrap();
    let script = "import json, sys\n\
                  from standardwebhooks import Webhook\n\
                  wh = Webhook(sys.argv[1])\n\
                  for item in json.load(open(sys.argv[2])):\n    \
                      wh.verify(item['body'], item['headers'])\n\
                  print('ok')\n";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(secret)
        .arg(file.path())
        .output()
        .expect("python3 runs (deploy/test-services.sh installs it with standardwebhooks)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "the standardwebhooks package is missing: run deploy/test-services.sh\n{stderr}"
    );
    if !out.status.success() {
        eprintln!("reference verification failed: {stderr}");
    }
    out.status.success()
}

/// Reads server-sent events from a streaming response: (id, event, data) triples, until
/// `want` returns false or `within` passes.
pub async fn read_events(
    response: &mut reqwest::Response,
    buffer: &mut String,
    within: Duration,
    mut want: impl FnMut(&(Option<i64>, String, Value)) -> bool,
) -> Vec<(Option<i64>, String, Value)> {
    let deadline = tokio::time::Instant::now() + within;
    let mut out = Vec::new();
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, "message".to_owned(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if data.is_empty() {
                continue; // a heartbeat comment
            }
            let item = (id, event, serde_json::from_str(&data).unwrap());
            let more = want(&item);
            out.push(item);
            if !more {
                return out;
            }
        }
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(bytes))) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
            // The stream ended (the server stopped) or the time is up.
            _ => return out,
        }
    }
}
