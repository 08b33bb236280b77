//! The worker: consumes job ids from the queues and runs them. Rendering happens here, on the
//! blocking pool; the rows it writes are the only record of what happened.

pub mod cdn;
pub mod consumer;
pub mod delivery;
pub mod email;
pub mod error;
pub mod executor;
pub mod jobs;
pub mod merge;
pub mod presence;
pub mod render;
pub mod retry;
pub mod signing;
pub mod templates;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::FutureExt;
use shared::config::Config;
use shared::db::Db;
use shared::domain::QueueName;
use shared::queue::Queue;
use tokio_util::sync::CancellationToken;

use crate::executor::Executor;
use crate::jobs::JobContext;
use crate::render::Engine;

/// Runs every queue's consumers until `shutdown` is cancelled. Returns an error if the
/// consumers die, so the process exits non-zero and its supervisor restarts it.
/// `consuming` is true while the queue consumers run: what readiness reports for a worker.
pub async fn run(
    config: Arc<Config>,
    db: Db,
    queue: Queue,
    storage: shared::storage::Storage,
    consuming: Arc<AtomicBool>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Fonts and templates load once per process; the first render is then warm.
    let engine = Arc::new(tokio::task::spawn_blocking(Engine::new).await??);
    let name = consumer::instance_name("quire");
    tracing::info!(worker = %name, "worker starting");
    let executor = Executor::new(
        JobContext::new(
            config.clone(),
            db.clone(),
            queue.clone(),
            engine,
            storage.clone(),
        )?,
        name.clone(),
    );
    // Cancel requests reach running attempts until this function returns: through the
    // shutdown grace period too, while attempts may still be running.
    let listening = CancellationToken::new();
    let _stop_listening = listening.clone().drop_guard();
    tokio::spawn(listen_for_cancels(
        queue.clone(),
        executor.clone(),
        listening,
    ));
    let handling = executor.clone();
    let handler: consumer::Handler = Arc::new(move |queue, id| {
        let executor = handling.clone();
        async move { executor.execute(queue, id).await }.boxed()
    });
    let queues: Vec<_> = QueueName::ALL
        .into_iter()
        .map(|q| (q, config.queues.get(q).concurrency))
        .collect();
    // The registry row lives until the drain below is over.
    let announcing = CancellationToken::new();
    let _stop_announcing = announcing.clone().drop_guard();
    let presence = tokio::spawn(presence::announce(
        db,
        name.clone(),
        queues.clone(),
        executor.clone(),
        announcing.clone(),
    ));
    let consume = consume(queue, queues, handler, consuming.clone(), shutdown.clone());
    tokio::pin!(consume);
    tokio::select! {
        result = &mut consume => return result,
        _ = shutdown.cancelled() => {}
    }
    // Shutdown: the consumers take no new jobs; running ones get the grace period to finish.
    consuming.store(false, Ordering::SeqCst);
    shared::metrics::worker_consuming(false);
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let drained = match tokio::time::timeout(grace, consume).await {
        Ok(result) => result,
        Err(_) => {
            let released = executor.release_running().await;
            tracing::warn!(
                released,
                "grace period over; released running jobs to other workers"
            );
            Ok(())
        }
    };
    // Finished jobs' inputs whose removal was gathered for later go now, not to the sweep.
    if tokio::time::timeout(Duration::from_secs(5), storage.flush_deletes())
        .await
        .is_err()
    {
        tracing::warn!("inputs of finished jobs not all removed; the cleanup's sweep will");
    }
    announcing.cancel();
    let _ = presence.await;
    drained
}

/// Hands every cancel request to the executor, which stops the attempt if it runs here. A
/// request missed while the subscription is down is found by that attempt's next heartbeat.
async fn listen_for_cancels(queue: Queue, executor: Executor, stop: CancellationToken) {
    let on_cancel = |id| executor.cancel(id);
    let on_state = |up: bool| {
        if up {
            tracing::debug!("listening for cancel requests");
        } else {
            tracing::warn!(
                "cancel requests not received until resubscribed; heartbeats will find them"
            );
        }
    };
    queue.subscribe_cancels(on_cancel, on_state, stop).await;
}

/// Runs the consumers until shutdown. apalis stops a consumer for good when its backend fails
/// (a Redis restart or timeout): restart them, backing off while the backend is still away,
/// so a worker resumes by itself when the service returns. Jobs are not lost meanwhile: they
/// wait in the table.
async fn consume(
    queue: Queue,
    queues: Vec<(QueueName, usize)>,
    handler: consumer::Handler,
    consuming: Arc<AtomicBool>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut backoff = RESTART_MIN;
    loop {
        let started = tokio::time::Instant::now();
        // Due tasks that piled up while nobody consumed (retries after an outage) are moved
        // in bounded chunks first: apalis-redis's own fetch fails on too many at once.
        for (q, _) in &queues {
            if let Err(e) = queue.promote_due(*q).await {
                tracing::warn!(queue = %q, error = %e, "could not move due tasks before consuming");
            }
        }
        consuming.store(true, Ordering::SeqCst);
        shared::metrics::worker_consuming(true);
        let outcome = consumer::run(
            queue.clone(),
            queues.clone(),
            handler.clone(),
            "quire",
            shutdown.clone(),
        )
        .await;
        consuming.store(false, Ordering::SeqCst);
        shared::metrics::worker_consuming(false);
        match outcome {
            Err(_) if !shutdown.is_cancelled() => {
                // The queue backend failed under the consumers: an error, then a reconnect.
                shared::metrics::queue_error();
                shared::metrics::queue_reconnect();
            }
            _ => {}
        }
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) if shutdown.is_cancelled() => return Err(e),
            Err(e) => {
                if started.elapsed() > RESTART_MAX * 2 {
                    backoff = RESTART_MIN;
                }
                tracing::error!(error = %format!("{e:#}"), retry_in_ms = backoff.as_millis() as u64, "queue consumers died; restarting");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(RESTART_MAX);
            }
        }
    }
}

const RESTART_MIN: Duration = Duration::from_millis(250);
const RESTART_MAX: Duration = Duration::from_secs(10);
