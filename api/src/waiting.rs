//! Long-polling: `GET /v1/jobs/{id}?wait=N` and `GET /v1/batches/{id}?wait=N` answer as
//! soon as the job (every job of the batch) is finished, or after N seconds with the state
//! then. No polling loop: each API process subscribes once to the `finished` topic
//! (`Queue::subscribe_finished`: Redis pub/sub across processes, in-process on SQLite) and
//! fans it out to its waiting requests, which read the row when their job or batch is named.
//! A message lost on the way costs a waiter one slow re-read ([`RECHECK`]), never its answer.
//!
//! `EventFeed` does the same for `GET /v1/events` streams: the scheduler's event pump
//! publishes the highest event number it gave, and each stream reads the log past its own
//! cursor when that moves.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use shared::domain::JobId;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::state::AppState;

/// The longest `wait` a request may ask for.
pub const MAX_WAIT_SECS: u64 = 60;
/// A waiter reads again this often even without a message (one lost on the way).
const RECHECK: Duration = Duration::from_secs(5);
/// A batch waiter reads its batch at most this often, however fast its jobs finish.
const BATCH_READ_EVERY: Duration = Duration::from_millis(250);
/// Messages kept for a slow waiter; one that falls behind simply reads again.
const BACKLOG: usize = 1024;

/// `?wait=`: seconds to wait for the end state (0, the default, answers at once).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Answer as soon as it is finished, or after this many seconds with its state then
    /// (at most 60, and less than `limits.request_timeout_secs`).
    #[param(minimum = 0, maximum = 60)]
    pub wait: Option<u64>,
}

/// A job that reached an end state: its id and batch.
#[derive(Debug, Clone)]
pub struct Finished {
    pub job: JobId,
    pub batch: Option<String>,
}

/// This process's fan-out of finished events to waiting requests.
#[derive(Clone)]
pub struct Waiters(broadcast::Sender<Arc<Finished>>);

impl Default for Waiters {
    fn default() -> Self {
        Self(broadcast::Sender::new(BACKLOG))
    }
}

impl Waiters {
    /// Relays the `finished` topic to waiters until `stop`.
    pub async fn listen(&self, queue: shared::queue::Queue, stop: CancellationToken) {
        let sender = self.0.clone();
        let on_finished = move |job: JobId, batch: Option<&str>| {
            // No waiter is not an error.
            let _ = sender.send(Arc::new(Finished {
                job,
                batch: batch.map(str::to_owned),
            }));
        };
        queue.subscribe_finished(on_finished, |_| {}, stop).await;
    }
}

/// This process's wake-ups of event streams (`GET /v1/events`): the highest event number
/// published, the streams open (bounded), and the end of the process's serving.
#[derive(Clone)]
pub struct EventFeed {
    latest: tokio::sync::watch::Sender<i64>,
    closed: CancellationToken,
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Owners that just submitted jobs, from any API process: a submission changes no
    /// status, so it makes no event, yet the dashboard's counts should move at once.
    submitted: tokio::sync::broadcast::Sender<String>,
}

/// The topic submissions are announced on (the owner's key id; no row behind it).
const SUBMITTED_TOPIC: &str = "submitted";

/// Event streams one API process keeps open at once; more answer 503.
pub const MAX_EVENT_STREAMS: usize = 1024;

impl Default for EventFeed {
    fn default() -> Self {
        Self {
            latest: tokio::sync::watch::Sender::new(0),
            closed: CancellationToken::new(),
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_EVENT_STREAMS)),
            submitted: tokio::sync::broadcast::Sender::new(256),
        }
    }
}

impl EventFeed {
    /// Relays the events topic to streams until `stop`; then ends every stream.
    pub async fn listen(&self, queue: shared::queue::Queue, stop: CancellationToken) {
        let latest = self.latest.clone();
        let on_seq = move |seq: i64| {
            latest.send_if_modified(|v| {
                let newer = seq > *v;
                *v = (*v).max(seq);
                newer
            });
        };
        queue.subscribe_events(on_seq, |_| {}, stop).await;
        self.closed.cancel();
    }

    /// Relays submission announcements from every API process until `stop`.
    pub async fn listen_submitted(&self, queue: shared::queue::Queue, stop: CancellationToken) {
        let submitted = self.submitted.clone();
        let on_message = move |owner: &str| {
            let _ = submitted.send(owner.to_owned());
        };
        queue
            .subscribe(SUBMITTED_TOPIC, on_message, |_| {}, stop)
            .await;
    }

    /// Tells every API process (this one through the same channel) that `owner` submitted
    /// jobs. Best effort, off the request's path: a lost announcement delays a dashboard's
    /// refresh to the jobs' next status change.
    pub fn announce_submitted(&self, queue: &shared::queue::Queue, owner: &str) {
        let (queue, owner) = (queue.clone(), owner.to_owned());
        tokio::spawn(async move {
            if let Err(e) = queue.publish(SUBMITTED_TOPIC, &owner).await {
                tracing::debug!(error = %e, "submission not announced");
            }
        });
    }

    /// Owners' submissions as they are announced.
    pub fn submissions(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.submitted.subscribe()
    }

    /// Wakes when a newer event number is published.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.latest.subscribe()
    }

    /// Cancelled when the process stops serving: streams end so the server can drain.
    pub fn closed(&self) -> CancellationToken {
        self.closed.clone()
    }
}

impl WaitQuery {
    /// The wait asked for, bounded by the request's own deadline.
    pub fn duration(&self, state: &AppState) -> Result<Duration, ApiError> {
        let asked = self.wait.unwrap_or(0);
        if asked > MAX_WAIT_SECS {
            return Err(ApiError::BadRequest {
                code: "invalid_query",
                message: format!("wait is 0 to {MAX_WAIT_SECS} seconds"),
                field: Some("wait".into()),
            });
        }
        let deadline = state.config.limits.request_timeout_secs.saturating_sub(1);
        Ok(Duration::from_secs(asked.min(deadline)))
    }
}

/// Reads with `read` (the value and whether it is final) until it is final or `wait` has
/// passed; reads again when a finished event `concerns` it.
pub(crate) async fn until_final<T, F, Fut>(
    state: &AppState,
    wait: Duration,
    concerns: impl Fn(&Finished) -> bool,
    min_gap: Option<Duration>,
    mut read: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(T, bool), ApiError>>,
{
    // Subscribed before the first read, so a finish between the two is not missed.
    let mut events = state.waiters.0.subscribe();
    let (value, done) = read().await?;
    if done || wait.is_zero() {
        return Ok(value);
    }
    let deadline = tokio::time::Instant::now() + wait;
    let mut last_read = tokio::time::Instant::now();
    loop {
        let recheck = tokio::time::sleep_until((last_read + RECHECK).min(deadline));
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) if !concerns(&event) => continue,
                // Fell behind or closed: read again to be sure.
                Ok(_) | Err(_) => {}
            },
            () = recheck => {}
        }
        if let Some(gap) = min_gap {
            tokio::time::sleep_until((last_read + gap).min(deadline)).await;
        }
        let (value, done) = read().await?;
        last_read = tokio::time::Instant::now();
        if done || last_read >= deadline {
            return Ok(value);
        }
    }
}

/// `until_final` for one job.
pub(crate) fn job_concerns(id: JobId) -> impl Fn(&Finished) -> bool {
    move |event| event.job == id
}

/// `until_final` for a batch: any of its jobs; reads at most every [`BATCH_READ_EVERY`].
pub(crate) fn batch_concerns(id: String) -> (impl Fn(&Finished) -> bool, Option<Duration>) {
    (
        move |event: &Finished| event.batch.as_deref() == Some(id.as_str()),
        Some(BATCH_READ_EVERY),
    )
}
