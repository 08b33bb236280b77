//! Runs one apalis worker per queue and hands every received job id to our handler.
//!
//! apalis is only the delivery mechanism here. Its task always completes successfully once our
//! handler has returned: attempts, retries with backoff, timeouts and the final state are
//! recorded by the handler in the jobs table, never left to apalis (apalis-redis hard-codes 25
//! retries at `now + attempt` seconds and leaves timed-out tasks "Running" in its dead set).
//!
//! Delivery is at least once: a message can arrive twice (the rescuer re-pushed an id whose
//! message was only slow, a worker died before acknowledging and its task was re-queued as an
//! orphan). The handler's claim on the row (lease with fencing) makes the second one a no-op.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use apalis::prelude::{BoxDynError, WorkerBuilder, WorkerBuilderExt, WorkerContext, WorkerError};
use futures::future::BoxFuture;
use shared::domain::{JobId, QueueName};
use shared::queue::{ConsumerBackend, JobMessage, Queue};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Our job handler: called once per received message with its queue and job id; claims the
/// best ready job of that queue, runs it and records the outcome. It must not panic (a panic
/// is logged and the message is dropped; the row's lease then expires and the rescuer takes
/// over).
pub type Handler = Arc<dyn Fn(QueueName, JobId) -> BoxFuture<'static, ()> + Send + Sync>;

/// How often finished apalis tasks are deleted from the backend (apalis never does it).
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Runs one apalis worker per queue with the given concurrency until `shutdown` is cancelled,
/// then lets the jobs in progress finish and returns `Ok(())`.
///
/// Returns `Err` as soon as a consumer dies unexpectedly (apalis stops a worker for good when
/// a heartbeat, fetch or acknowledgement fails, e.g. a Redis timeout or restart); the other
/// consumers are then stopped gracefully first, so the process can exit non-zero and be
/// restarted by its supervisor (or call `run` again).
///
/// Worker names are `{prefix}-{hostname}-{pid}-{random}-{queue}`, unique per call, because
/// apalis refuses to register a name whose previous holder was seen within the orphan
/// threshold, and re-queues a dead worker's tasks only from another live worker.
pub async fn run(
    queue: Queue,
    queues: Vec<(QueueName, usize)>,
    handler: Handler,
    worker_name_prefix: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if queues.is_empty() {
        bail!("no queues to consume");
    }
    for (i, (name, concurrency)) in queues.iter().enumerate() {
        if *concurrency == 0 {
            bail!("queue `{name}`: concurrency must be at least 1");
        }
        if queues[..i].iter().any(|(other, _)| other == name) {
            bail!("queue `{name}` listed twice");
        }
    }

    let instance = instance_name(worker_name_prefix);
    let stop = shutdown.child_token();
    let names: Vec<QueueName> = queues.iter().map(|(q, _)| *q).collect();

    let mut helpers = JoinSet::new();
    {
        let queue = queue.clone();
        let names = names.clone();
        helpers.spawn(async move { queue.listen_for_pushes(names).await });
    }
    {
        let queue = queue.clone();
        let names = names.clone();
        helpers.spawn(async move { purge_loop(queue, names).await });
    }

    let mut workers = JoinSet::new();
    for (name, concurrency) in queues {
        let worker_name = format!("{instance}-{name}");
        tracing::info!(
            worker = %worker_name,
            queue = %name,
            concurrency,
            backend = queue.backend_name(),
            "starting queue consumer"
        );
        let backend = queue.consumer_backend(name);
        let handler = handler.clone();
        let stop = stop.clone();
        workers.spawn(async move {
            let result = run_worker(backend, name, worker_name, concurrency, handler, stop).await;
            (name, result)
        });
    }

    let mut failure: Option<anyhow::Error> = None;
    while let Some(joined) = workers.join_next().await {
        let outcome = match joined {
            Ok((name, Ok(()))) if stop.is_cancelled() => {
                tracing::info!(queue = %name, "queue consumer stopped");
                Ok(())
            }
            Ok((name, Ok(()))) => Err(anyhow!("consumer of queue `{name}` stopped on its own")),
            Ok((name, Err(e))) => Err(e.context(format!("consumer of queue `{name}` died"))),
            Err(e) => Err(anyhow!("a queue consumer panicked: {e}")),
        };
        if let Err(e) = outcome {
            tracing::error!(error = %format!("{e:#}"), "queue consumer failed; stopping the others");
            if failure.is_none() {
                failure = Some(e);
            }
            stop.cancel();
        }
    }
    helpers.shutdown().await;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn run_worker(
    backend: ConsumerBackend,
    queue: QueueName,
    name: String,
    concurrency: usize,
    handler: Handler,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let service = move |message: serde_json::Value| {
        let handler = handler.clone();
        async move {
            deliver(&handler, queue, message).await;
            Ok::<(), BoxDynError>(())
        }
    };
    let stopper = move |ctx: WorkerContext| {
        let stop = stop.clone();
        async move {
            stop.cancelled().await;
            request_stop(&ctx).await
        }
    };
    let result = match backend {
        ConsumerBackend::Redis(backend) => {
            WorkerBuilder::new(name.as_str())
                .backend(backend)
                .concurrency(concurrency)
                .build(service)
                .run_with_ctx(stopper)
                .await
        }
        ConsumerBackend::Sqlite(backend) => {
            WorkerBuilder::new(name.as_str())
                .backend(backend)
                .concurrency(concurrency)
                .build(service)
                .run_with_ctx(stopper)
                .await
        }
    };
    result.with_context(|| format!("apalis worker `{name}`"))
}

/// Asks the worker to stop taking tasks and to finish the ones in progress. apalis refuses
/// while the worker has not been polled for the first time yet, so retry until it has.
async fn request_stop(ctx: &WorkerContext) -> Result<(), WorkerError> {
    loop {
        match ctx.stop() {
            Ok(()) => return Ok(()),
            Err(_) if ctx.is_pending() => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => return Err(e),
        }
    }
}

/// Hands one message to the handler, on its own task so that a panic is contained and the
/// handler never runs on the worker's polling task.
async fn deliver(handler: &Handler, queue: QueueName, message: serde_json::Value) {
    let job_id = match serde_json::from_value::<JobMessage>(message) {
        Ok(m) => m.job_id,
        Err(e) => {
            // Failing the task would make apalis retry it 25 times; the message can never
            // become valid, so it is acknowledged and dropped.
            tracing::error!(error = %e, "dropping a malformed queue message");
            return;
        }
    };
    if let Err(e) = tokio::spawn(handler(queue, job_id)).await {
        tracing::error!(job_id = %job_id, error = %e, "job handler panicked");
    }
}

async fn purge_loop(queue: Queue, names: Vec<QueueName>) {
    // Not at start: nothing is urgent then, and tests count what they purge themselves.
    let first = tokio::time::Instant::now() + PURGE_EVERY;
    let mut tick = tokio::time::interval_at(first, PURGE_EVERY);
    loop {
        tick.tick().await;
        for name in &names {
            match queue.purge_completed(*name).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::debug!(queue = %name, removed = n, "purged completed queue tasks")
                }
                Err(e) => {
                    tracing::warn!(queue = %name, error = %e, "purging completed queue tasks failed")
                }
            }
        }
    }
}

/// `{prefix}-{hostname}-{pid}-{random}`: unique per process start (and per call).
pub fn instance_name(prefix: &str) -> String {
    let host = hostname();
    format!(
        "{prefix}-{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

pub(crate) fn hostname() -> String {
    let raw = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "unknown-host".into()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_are_unique_and_tidy() {
        let a = instance_name("worker");
        let b = instance_name("worker");
        assert_ne!(a, b);
        assert!(a.starts_with("worker-"));
        assert!(a.contains(&format!("-{}-", std::process::id())));
        assert!(!a.contains(char::is_whitespace));
    }
}
