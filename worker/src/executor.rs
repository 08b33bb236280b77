//! Runs one queue message: claim the row, run the handler under a timeout with a heartbeating
//! lease, record the outcome with writes fenced by the lease token, and schedule the retry.
//! Whatever happens (error, timeout, panic), the row ends in a true state; apalis is always
//! told the message succeeded, because retries are ours.
//!
//! Each attempt has a `CancellationToken`, cancelled when a cancel request for its job
//! arrives ([`Executor::cancel`], from the process's cancel subscription) or when the
//! heartbeat finds `cancel_requested_at` set (a missed signal). The handler notices it at its
//! next safe point and the attempt is recorded `cancelled`.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use shared::db::{Claimed, DbError, FailOutcome, Lease};
use shared::domain::{JobId, JobStatus, QueueName, Timestamp};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::jobs::{self, JobContext, JobError};
use crate::retry::backoff;

/// How long a claim keeps being retried while the database is unreachable before the
/// message is dropped (the row stays waiting; the rescuer pushes it again).
const CLAIM_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Executor {
    pub ctx: JobContext,
    /// This process's unique worker name, recorded on claimed rows.
    pub worker_name: String,
    /// Attempts running in this process, to cancel on request and release on shutdown.
    running: Arc<Mutex<HashMap<JobId, Running>>>,
}

/// One attempt running in this process.
struct Running {
    lease_token: String,
    cancel: CancellationToken,
}

impl Executor {
    pub fn new(ctx: JobContext, worker_name: String) -> Self {
        Self {
            ctx,
            worker_name,
            running: Arc::default(),
        }
    }

    /// One message of `queue`, naming job `id`: runs the best ready job of the queue (see
    /// `Db::claim_next`), which is `id` unless a job of higher priority, or of an owner
    /// whose turn it is, is waiting too (its own message will then take another).
    pub async fn execute(&self, queue: QueueName, id: JobId) {
        let Some(claimed) = self.claim(Some(queue), id).await else {
            return;
        };
        let job = &claimed.job;
        use tracing::field::Empty;
        let span = tracing::info_span!(
            "job",
            job_id = %job.id,
            kind = %job.kind,
            attempt = job.attempt,
            template = Empty,
            outcome = Empty,
            error_code = Empty,
            otel.name = Empty,
            otel.kind = Empty,
            otel.status_code = Empty,
        );
        if shared::telemetry::enabled() {
            span.record("otel.name", format!("job {}", job.kind));
            span.record("otel.kind", "consumer");
        }
        // Every attempt is a child of the request (or job, or tick) that created the job, so
        // retries share its trace.
        shared::telemetry::continue_trace(&span, job.trace_parent.as_deref());
        let cancel = self.register(&claimed);
        let (id, token) = (job.id, claimed.lease_token.clone());
        self.run_claimed(claimed, cancel).instrument(span).await;
        // With a per-key cap, messages that found only capped keys' jobs were spent: this
        // slot of the key is free now, so wake a worker for its next one.
        if self.ctx.config.queues.get(queue).max_running_per_key > 0
            && let Err(e) = self.ctx.queue.push(queue, id, None).await
        {
            tracing::warn!(queue = %queue, error = %e, "wake-up after a capped job not pushed; the rescuer will");
        }
        let mut running = self.lock_running();
        // Only our own entry: after a lost lease this process may run a newer attempt.
        if running.get(&id).is_some_and(|r| r.lease_token == token) {
            running.remove(&id);
        }
    }

    fn register(&self, claimed: &Claimed) -> CancellationToken {
        let cancel = CancellationToken::new();
        let running = Running {
            lease_token: claimed.lease_token.clone(),
            cancel: cancel.clone(),
        };
        self.lock_running().insert(claimed.job.id, running);
        cancel
    }

    /// Attempts running in this process now.
    pub fn running_count(&self) -> usize {
        self.lock_running().len()
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Running>> {
        // A poisoned map is still a valid map: the panic happened elsewhere.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A cancel request for `id` arrived: if this process runs it, its attempt stops at the
    /// next safe point. Requests go to every worker; the others ignore it.
    pub fn cancel(&self, id: JobId) {
        if let Some(running) = self.lock_running().get(&id) {
            tracing::info!(job_id = %id, "cancel requested; stopping at the next safe point");
            running.cancel.cancel();
        }
    }

    /// Shutdown ran out of grace: give every attempt still running back to the queue, so
    /// another worker takes it at once instead of after its lease expires. Their late results,
    /// if any, are rejected by the fencing token. Returns how many were released.
    pub async fn release_running(&self) -> usize {
        let running: Vec<(JobId, Running)> = self.lock_running().drain().collect();
        let mut released = 0;
        for (id, running) in running {
            match self.ctx.db.release_job(id, &running.lease_token).await {
                Ok(Some(queue)) => {
                    released += 1;
                    if let Err(e) = self.ctx.queue.push(queue, id, None).await {
                        tracing::warn!(job_id = %id, error = %e, "released job not pushed; the rescuer will");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(job_id = %id, error = %e, "could not release; its lease will expire")
                }
            }
        }
        released
    }

    /// Claims `id` and registers it as running without running it: for tests of release.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn claim_for_test(&self, id: JobId) -> Option<Claimed> {
        let claimed = self.claim(None, id).await?;
        self.register(&claimed);
        Some(claimed)
    }

    /// Claims the best ready job of `queue` (with `None`: job `id` itself), retrying while
    /// the database is down. `None`: nothing to run (a duplicate message, a cancelled job, or
    /// a message that arrived early and was re-pushed).
    async fn claim(&self, queue: Option<QueueName>, id: JobId) -> Option<Claimed> {
        let lease_ms = self.ctx.config.rescue.lease_secs as i64 * 1000;
        let started = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(100);
        loop {
            let fair = self.ctx.config.queues.order == shared::config::ClaimOrder::Fair;
            let claim = match queue.filter(|_| fair) {
                Some(queue) => {
                    let per_key = self.ctx.config.queues.get(queue).max_running_per_key;
                    self.ctx
                        .db
                        .claim_next(queue, &self.worker_name, lease_ms, per_key)
                        .await
                }
                None => self.ctx.db.claim_job(id, &self.worker_name, lease_ms).await,
            };
            match claim {
                Ok(Some(claimed)) => {
                    // Waited: from when it became runnable (submission, or its retry time).
                    let waited = Timestamp::now().millis() - claimed.job.run_at.millis();
                    shared::metrics::job_started(
                        claimed.job.kind,
                        Duration::from_millis(waited.max(0) as u64),
                    );
                    return Some(claimed);
                }
                Ok(None) => {
                    self.requeue_if_early(id).await;
                    return None;
                }
                Err(e) if started.elapsed() < CLAIM_PATIENCE => {
                    tracing::warn!(job_id = %id, error = %e, "claim failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(job_id = %id, error = %e, "claim failed; leaving the job to the rescuer");
                    return None;
                }
            }
        }
    }

    /// A message that arrives before its job's `run_at` (clock skew, a duplicate of a retry
    /// message) is put back with the remaining delay rather than run early.
    async fn requeue_if_early(&self, id: JobId) {
        let Ok(Some(job)) = self.ctx.db.get_job(id, None).await else {
            return;
        };
        let now = Timestamp::now();
        if matches!(job.status, JobStatus::Queued | JobStatus::Failed) && job.run_at > now {
            let delay = Duration::from_millis((job.run_at.millis() - now.millis()) as u64);
            if let Err(e) = self.ctx.queue.push(job.queue, id, Some(delay)).await {
                tracing::warn!(job_id = %id, error = %e, "could not re-push an early message; the rescuer will");
            }
        }
    }

    async fn run_claimed(&self, claimed: Claimed, cancel: CancellationToken) {
        let job = &claimed.job;
        let settings = self.ctx.config.queues.get(job.queue);
        let heartbeat = self.spawn_heartbeat(&claimed, cancel.clone());
        let started = tokio::time::Instant::now();
        let work = jobs::with_cancellation(
            cancel,
            AssertUnwindSafe(jobs::dispatch(&self.ctx, &claimed)).catch_unwind(),
        );
        let (outcome, inputs_read) = match tokio::time::timeout(settings.timeout(), work).await {
            Ok((Ok(result), read)) => (result, read),
            Ok((Err(panic), _)) => (
                Err(JobError::retryable("panicked", panic_message(&panic))),
                Vec::new(),
            ),
            Err(_) => (
                Err(JobError::retryable(
                    "timeout",
                    format!("the attempt ran longer than {} s", settings.timeout_secs),
                )),
                Vec::new(),
            ),
        };
        heartbeat.abort();
        let ran = started.elapsed();
        if let Err(e) = self.record(&claimed, outcome, ran, &inputs_read).await {
            // The lease will expire and the rescuer will run the job again.
            tracing::error!(error = %e, "could not record the outcome");
        }
    }

    /// Extends the lease while the job runs, so only a dead or hung worker loses it, and
    /// cancels the attempt when the row says cancelling was asked (the signal was missed).
    fn spawn_heartbeat(
        &self,
        claimed: &Claimed,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let db = self.ctx.db.clone();
        let id = claimed.job.id;
        let token = claimed.lease_token.clone();
        let lease_ms = self.ctx.config.rescue.lease_secs as i64 * 1000;
        let every = Duration::from_millis((lease_ms / 3) as u64);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match db.extend_lease(id, &token, lease_ms).await {
                    Ok(Lease::Held) => {}
                    // Keep heartbeating: the lease must last until `cancelled` is recorded.
                    Ok(Lease::CancelRequested) => {
                        if !cancel.is_cancelled() {
                            tracing::info!(job_id = %id, "cancel request found by the heartbeat");
                            cancel.cancel();
                        }
                    }
                    Ok(Lease::Lost) => {
                        tracing::warn!(job_id = %id, "lease lost; this attempt's result will be discarded");
                        return;
                    }
                    Err(e) => tracing::warn!(job_id = %id, error = %e, "heartbeat failed"),
                }
            }
        })
    }

    async fn record(
        &self,
        claimed: &Claimed,
        outcome: Result<serde_json::Value, JobError>,
        ran: Duration,
        inputs_read: &[String],
    ) -> Result<(), DbError> {
        use shared::metrics::{Outcome, stale_result_rejected};
        let job = &claimed.job;
        let token = &claimed.lease_token;
        if let Err(err) = &outcome {
            tracing::Span::current().record("error_code", err.code);
        }
        match outcome {
            Ok(result) => {
                let notification = shared::notify::on_success(&self.ctx.config, job, &result);
                if self
                    .ctx
                    .db
                    .complete_job(job.id, token, &result, notification.as_ref())
                    .await?
                {
                    tracing::info!("job succeeded");
                    finished(job.kind, Outcome::Succeeded, ran);
                    self.push_ready_steps(job).await;
                    self.tell_waiters(job).await;
                    // A job that succeeded read every input it had: those, by name.
                    let _ = self
                        .ctx
                        .storage
                        .remove_inputs_read(job.id, inputs_read)
                        .await;
                    self.push_follow_up(notification).await;
                } else {
                    tracing::warn!("lease lost before completion; result discarded");
                    stale_result_rejected();
                }
            }
            Err(err) if err.is_cancellation() => {
                if self
                    .ctx
                    .db
                    .cancel_attempt(job.id, token, &err.message)
                    .await?
                {
                    tracing::info!("job cancelled");
                    finished(job.kind, Outcome::Cancelled, ran);
                    self.push_ready_steps(job).await;
                    self.tell_waiters(job).await;
                    let _ = self.ctx.storage.remove_inputs(job.id).await;
                } else {
                    tracing::warn!("lease lost before the cancel was recorded; discarded");
                    stale_result_rejected();
                }
            }
            Err(err) => {
                let retry_at = err.will_retry(job).then(|| {
                    // Deliveries keep their own, longer schedule (more than a day).
                    let policy = match job.kind {
                        shared::domain::JobKind::Webhook => &self.ctx.config.webhooks.retry,
                        _ => &self.ctx.config.retry,
                    };
                    let delay = backoff(policy, job.attempt)
                        .max(err.retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
                    (
                        Timestamp::now().plus_millis(delay.as_millis() as i64),
                        delay,
                    )
                });
                let notification = retry_at
                    .is_none()
                    .then(|| shared::notify::on_dead(&self.ctx.config, job, err.code, &err.message))
                    .flatten();
                let fenced = self
                    .ctx
                    .db
                    .fail_job(
                        job.id,
                        token,
                        err.code,
                        &err.message,
                        retry_at.map(|r| r.0),
                        notification.as_ref(),
                    )
                    .await?;
                match (fenced, retry_at) {
                    (FailOutcome::WillRetry, Some((_, delay))) => {
                        finished(job.kind, Outcome::Failed, ran);
                        tracing::warn!(code = err.code, error = %err.message, retry_in_ms = delay.as_millis() as u64, "attempt failed; will retry");
                        if let Err(e) = self.ctx.queue.push(job.queue, job.id, Some(delay)).await {
                            tracing::warn!(error = %e, "retry push failed; the rescuer will push it");
                        }
                    }
                    (FailOutcome::Dead, _) | (FailOutcome::WillRetry, None) => {
                        tracing::error!(code = err.code, error = %err.message, "job is dead");
                        finished(job.kind, Outcome::Dead, ran);
                        self.push_ready_steps(job).await;
                        self.tell_waiters(job).await;
                        self.push_follow_up(notification).await;
                    }
                    (FailOutcome::Cancelled, _) => {
                        tracing::info!(code = err.code, error = %err.message, "attempt failed after a cancel request; job cancelled, not retried");
                        finished(job.kind, Outcome::Cancelled, ran);
                        self.push_ready_steps(job).await;
                        self.tell_waiters(job).await;
                        let _ = self.ctx.storage.remove_inputs(job.id).await;
                    }
                    (FailOutcome::Stale, _) => {
                        tracing::warn!(code = err.code, error = %err.message, "lease lost before the failure was recorded; discarded");
                        stale_result_rejected();
                    }
                }
            }
        }
        Ok(())
    }
}

impl Executor {
    /// Wakes clients waiting on the job or its batch (`?wait=`; they read the row) and the
    /// scheduler's event pump.
    async fn tell_waiters(&self, job: &shared::db::JobRow) {
        // Nobody waits on a delivery, and its end makes no event for the pump to number.
        if job.kind == shared::domain::JobKind::Webhook {
            return;
        }
        if let Err(e) = self
            .ctx
            .queue
            // A workflow's waiters wait on its id as a batch's do.
            .publish_finished(
                job.id,
                job.batch_id.as_deref().or(job.workflow_id.as_deref()),
            )
            .await
        {
            tracing::debug!(error = %e, "finished event not published; waiters re-read soon");
        }
    }

    /// A workflow step ended: the children its end made ready (in the same transaction, by
    /// the database's trigger) are pushed now. A push that fails is the rescuer's, as for any
    /// waiting job; a duplicate is harmless.
    async fn push_ready_steps(&self, job: &shared::db::JobRow) {
        if job.workflow_id.is_none() {
            return;
        }
        let ready = match self.ctx.db.ready_children(job.id).await {
            Ok(ready) => ready,
            Err(e) => {
                tracing::warn!(error = %e, "ready steps not read; the rescuer will push them");
                return;
            }
        };
        for queue in QueueName::ALL {
            let ids: Vec<JobId> = ready
                .iter()
                .filter(|j| j.queue == queue)
                .map(|j| j.id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            if let Err(e) = self.ctx.queue.push_many(queue, &ids).await {
                tracing::warn!(error = %e, "ready steps not pushed; the rescuer will push them");
            }
        }
    }

    /// Pushes a notification inserted with the outcome. If the push fails the row waits as
    /// `queued` and the rescuer pushes it.
    async fn push_follow_up(&self, job: Option<shared::db::NewJob>) {
        let Some(job) = job else { return };
        shared::metrics::jobs_submitted(job.kind, 1);
        if let Err(e) = self.ctx.queue.push(job.kind.queue(), job.id, None).await {
            tracing::warn!(job_id = %job.id, error = %e, "notification not pushed; the rescuer will");
        }
    }
}

/// The longest `Retry-After` honoured: beyond it the endpoint's word is not taken.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Counts the attempt's end (metrics) and says it on the attempt's span (traces).
fn finished(kind: shared::domain::JobKind, outcome: shared::metrics::Outcome, ran: Duration) {
    use shared::metrics::Outcome;
    let span = tracing::Span::current();
    span.record("outcome", outcome.as_str());
    if matches!(outcome, Outcome::Failed | Outcome::Dead) {
        span.record("otel.status_code", "ERROR");
    }
    shared::metrics::job_finished(kind, outcome, ran);
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("the handler panicked: {detail}")
}
