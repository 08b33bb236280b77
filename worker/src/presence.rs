//! This worker's row in the worker registry (`workers`): written at start, its heartbeat and
//! running count refreshed every [`WORKER_HEARTBEAT`], removed at a clean stop. Only operators read
//! it (`/v1/status`, the dashboard); a registry write that fails is logged and retried at the
//! next beat, never a reason to stop working.

use shared::db::{Db, WORKER_HEARTBEAT, WorkerRow};
use shared::domain::{QueueName, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::executor::Executor;

/// Keeps this worker's row until `stop`, then removes it.
pub async fn announce(
    db: Db,
    name: String,
    queues: Vec<(QueueName, usize)>,
    executor: Executor,
    stop: CancellationToken,
) {
    let now = Timestamp::now();
    let row = WorkerRow {
        name: name.clone(),
        host: crate::consumer::hostname(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        pid: i64::from(std::process::id()),
        queues: queues
            .iter()
            .map(|(q, n)| format!("{}:{n}", q.as_str()))
            .collect::<Vec<_>>()
            .join(","),
        started_at: now,
        heartbeat_at: now,
        running: 0,
    };
    let mut registered = false;
    let mut beat = tokio::time::interval(WORKER_HEARTBEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = beat.tick() => {}
            _ = stop.cancelled() => break,
        }
        let running = executor.running_count() as i64;
        let result = if registered {
            db.worker_heartbeat(&name, running).await
        } else {
            let row = WorkerRow {
                heartbeat_at: Timestamp::now(),
                running,
                ..row.clone()
            };
            db.register_worker(&row).await.map(|()| true)
        };
        match result {
            Ok(present) => registered = present,
            Err(e) => tracing::warn!(error = %e, "could not update the worker registry"),
        }
    }
    if let Err(e) = db.remove_worker(&name).await {
        tracing::warn!(error = %e, "could not remove this worker from the registry");
    }
}
