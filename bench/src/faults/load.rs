//! Certificate submissions over HTTP, recorded one by one (what the API answered, when), so a
//! scenario can tell exactly which jobs it was promised.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// What one `POST /v1/certificates` got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 202: the job's id.
    Accepted(String),
    /// 503; whether it carried `Retry-After`.
    Unavailable { retry_after: bool },
    /// Any other status, or no answer (`HTTP 500`, `timeout`, `transport`).
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Sent {
    /// The submission's serial number (its recipient is `Fault Test <n>`).
    pub n: usize,
    /// When the request was sent and answered, since the load started.
    pub sent: Duration,
    pub answered: Duration,
    pub answer: Answer,
}

#[derive(Clone)]
pub struct Submitter {
    client: reqwest::Client,
    url: String,
    auth: String,
}

impl Submitter {
    pub fn new(base: &str, key: &str) -> anyhow::Result<Submitter> {
        Ok(Submitter {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            url: format!("{base}/v1/certificates"),
            auth: format!("Bearer {key}"),
        })
    }

    pub async fn submit(&self, n: usize) -> Answer {
        let body = json!({
            "template": "classic",
            "recipient_name": recipient(n),
            "course_name": "Delivery Guarantees",
            "issuer_name": "Quire Fault Tests",
            "issued_on": "2026-11-21",
        });
        let response = match self
            .client
            .post(&self.url)
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .json(&body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Answer::Other("timeout".into()),
            Err(_) => return Answer::Other("transport".into()),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .contains_key(reqwest::header::RETRY_AFTER);
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        match status.as_u16() {
            202 => match body["id"].as_str() {
                Some(id) => Answer::Accepted(id.to_owned()),
                None => Answer::Other("202 without an id".into()),
            },
            503 => Answer::Unavailable { retry_after },
            other => Answer::Other(format!("HTTP {other}")),
        }
    }
}

pub fn recipient(n: usize) -> String {
    format!("Fault Test {n}")
}

/// Submissions running in the background: `total` of them (or until stopped), from
/// `clients` concurrent clients, each pausing `pause` after every answer.
pub struct Load {
    sent: Arc<Mutex<Vec<Sent>>>,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    tasks: tokio::task::JoinSet<()>,
}

impl Load {
    pub fn start(
        submitter: Submitter,
        total: Option<usize>,
        clients: usize,
        pause: Duration,
    ) -> Load {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (submitter, sent, stop, accepted, next) = (
                submitter.clone(),
                sent.clone(),
                stop.clone(),
                accepted.clone(),
                next.clone(),
            );
            tasks.spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if total.is_some_and(|t| n >= t) {
                        return;
                    }
                    let at = start.elapsed();
                    let answer = submitter.submit(n).await;
                    if matches!(answer, Answer::Accepted(_)) {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    sent.lock().await.push(Sent {
                        n,
                        sent: at,
                        answered: start.elapsed(),
                        answer,
                    });
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
            });
        }
        Load {
            sent,
            stop,
            accepted,
            tasks,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn is_done(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Reaps finished clients; true when all are done.
    pub fn poll_done(&mut self) -> bool {
        while let Some(r) = self.tasks.try_join_next() {
            if let Err(e) = r
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        self.is_done()
    }

    /// Stops after the requests in flight; every answer.
    pub async fn stop(mut self) -> Vec<Sent> {
        self.stop.store(true, Ordering::SeqCst);
        self.finish().await
    }

    /// Waits for every client to end (a `total` load), every answer in submission order.
    pub async fn finish(&mut self) -> Vec<Sent> {
        while let Some(r) = self.tasks.join_next().await {
            if let Err(e) = r
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        let mut sent = std::mem::take(&mut *self.sent.lock().await);
        sent.sort_by_key(|s| s.n);
        sent
    }
}

/// Counts of the answers.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub accepted: Vec<String>,
    pub unavailable: usize,
    pub unavailable_without_retry_after: usize,
    pub other: Vec<String>,
}

pub fn tally(sent: &[Sent]) -> Tally {
    let mut t = Tally::default();
    for s in sent {
        match &s.answer {
            Answer::Accepted(id) => t.accepted.push(id.clone()),
            Answer::Unavailable { retry_after } => {
                t.unavailable += 1;
                if !retry_after {
                    t.unavailable_without_retry_after += 1;
                }
            }
            Answer::Other(what) => t.other.push(what.clone()),
        }
    }
    t
}
