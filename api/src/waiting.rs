//! Long-polling: `GET /v1/jobs/{id}?wait=N` and `GET /v1/batches/{id}?wait=N` answer as
//! soon as the job (every job of the batch) is finished, or after N seconds with the state
//! then. No polling loop: each API process subscribes once to the `finished` topic
//! (`Queue::subscribe_finished`: Redis pub/sub across processes, in-process on SQLite) and
//! wakes the requests waiting for that job or batch, found by its id ([`Waiters`]): a job's
//! end costs the same whatever else is waiting. A message lost on the way costs a waiter one
//! slow re-read ([`RECHECK`]), never its answer. Each waiting request holds a place under
//! the long-poll caps (`long_lived.rs`).
//!
//! `EventFeed` does the same for `GET /v1/events` streams: the scheduler's event pump
//! publishes the highest event number it gave, and each stream reads the log past its own
//! cursor when that moves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use shared::domain::JobId;
use tokio::sync::watch;
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

/// `?wait=`: seconds to wait for the end state (0, the default, answers at once).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Answer as soon as it is finished, or after this many seconds with its state then
    /// (at most 60, and less than `limits.request_timeout_secs`).
    #[param(minimum = 0, maximum = 60)]
    pub wait: Option<u64>,
}

/// What a request waits for: one job's end, or any job of a batch ending.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Awaited {
    Job(JobId),
    Batch(String),
}

/// This process's waiting requests by what they wait for. Each awaited job or batch has one
/// wake-up counter, shared by its waiters and dropped with the last of them; a finished job
/// moves its own counter and its batch's, and no other waiter hears of it.
#[derive(Clone, Default)]
pub struct Waiters(Arc<Mutex<HashMap<Awaited, Waited>>>);

struct Waited {
    wake: watch::Sender<u64>,
    waiters: usize,
}

/// One request's registration: its wake-ups until it is dropped.
pub struct Waiting {
    waiters: Waiters,
    awaited: Awaited,
    wake: watch::Receiver<u64>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut map = self.waiters.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = map.get_mut(&self.awaited) {
            entry.waiters -= 1;
            if entry.waiters == 0 {
                map.remove(&self.awaited);
            }
        }
    }
}

impl Waiting {
    /// Until `awaited` is named by a finished job (a wake since the last call counts).
    async fn woken(&mut self) {
        // The sender lives as long as any registration: never closed here.
        let _ = self.wake.changed().await;
    }
}

impl Waiters {
    /// Relays the `finished` topic to waiters until `stop`.
    pub async fn listen(&self, queue: shared::queue::Queue, stop: CancellationToken) {
        let waiters = self.clone();
        let on_finished = move |job: JobId, batch: Option<&str>| waiters.finished(job, batch);
        queue.subscribe_finished(on_finished, |_| {}, stop).await;
    }

    /// Registers a request waiting for `awaited`; wake-ups from now on count.
    pub fn register(&self, awaited: Awaited) -> Waiting {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(awaited.clone()).or_insert_with(|| Waited {
            wake: watch::Sender::new(0),
            waiters: 0,
        });
        entry.waiters += 1;
        let mut wake = entry.wake.subscribe();
        wake.mark_unchanged();
        Waiting {
            waiters: self.clone(),
            awaited,
            wake,
        }
    }

    /// Job `job` (of `batch`) finished: wakes the requests waiting for it or its batch.
    pub fn finished(&self, job: JobId, batch: Option<&str>) {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let wake = |awaited: &Awaited| {
            if let Some(entry) = map.get(awaited) {
                entry.wake.send_modify(|n| *n = n.wrapping_add(1));
            }
        };
        wake(&Awaited::Job(job));
        if let Some(batch) = batch {
            wake(&Awaited::Batch(batch.to_owned()));
        }
    }

    /// Jobs and batches waited for now.
    pub fn awaited(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// This process's wake-ups of event streams (`GET /v1/events`): the highest event number
/// published and the end of the process's serving. (How many streams may be open is
/// `long_lived.rs`'s.)
#[derive(Clone)]
pub struct EventFeed {
    latest: tokio::sync::watch::Sender<i64>,
    closed: CancellationToken,
    /// Owners that just submitted jobs, from any API process: a submission changes no
    /// status, so it makes no event, yet the dashboard's counts should move at once.
    submitted: tokio::sync::broadcast::Sender<String>,
}

/// The topic submissions are announced on (the owner's key id; no row behind it).
const SUBMITTED_TOPIC: &str = "submitted";

impl Default for EventFeed {
    fn default() -> Self {
        Self {
            latest: tokio::sync::watch::Sender::new(0),
            closed: CancellationToken::new(),
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
/// passed; reads again when a job `awaited` names finishes (for a batch at most every
/// [`BATCH_READ_EVERY`]). While it waits the request holds one of `key_id`'s long-poll
/// places (`429 too_many_long_polls` when it has none left).
pub(crate) async fn until_final<T, F, Fut>(
    state: &AppState,
    key_id: &str,
    wait: Duration,
    awaited: Awaited,
    mut read: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(T, bool), ApiError>>,
{
    let min_gap = matches!(awaited, Awaited::Batch(_)).then_some(BATCH_READ_EVERY);
    // Registered before the first read, so a finish between the two is not missed.
    let mut waiting = state.waiters.register(awaited);
    let (value, done) = read().await?;
    if done || wait.is_zero() {
        return Ok(value);
    }
    let _slot = state.long_lived.long_polls.acquire(key_id)?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut last_read = tokio::time::Instant::now();
    loop {
        let recheck = tokio::time::sleep_until((last_read + RECHECK).min(deadline));
        tokio::select! {
            () = waiting.woken() => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(w: &Waiting) -> bool {
        w.wake.has_changed().unwrap()
    }

    #[test]
    fn a_finished_job_wakes_only_its_own_waiters() {
        let waiters = Waiters::default();
        let (a, b) = (JobId::new(), JobId::new());
        let on_a = waiters.register(Awaited::Job(a));
        let also_on_a = waiters.register(Awaited::Job(a));
        let on_b = waiters.register(Awaited::Job(b));
        let on_batch = waiters.register(Awaited::Batch("batch-1".into()));
        let on_other_batch = waiters.register(Awaited::Batch("batch-2".into()));
        assert_eq!(waiters.awaited(), 4);
        waiters.finished(a, Some("batch-1"));
        assert!(changed(&on_a) && changed(&also_on_a) && changed(&on_batch));
        assert!(!changed(&on_b) && !changed(&on_other_batch));
        // A job nobody waits for touches nothing.
        waiters.finished(JobId::new(), None);
        assert!(!changed(&on_b));
        drop((on_a, also_on_a, on_b, on_batch, on_other_batch));
        assert_eq!(waiters.awaited(), 0, "the last waiter removes its entry");
    }

    #[tokio::test]
    async fn a_finish_before_the_wait_is_not_missed() {
        let waiters = Waiters::default();
        let a = JobId::new();
        let mut waiting = waiters.register(Awaited::Job(a));
        waiters.finished(a, None);
        tokio::time::timeout(Duration::from_secs(1), waiting.woken())
            .await
            .expect("woken by the earlier finish");
    }
}
