//! The worker: consumes job ids from the queues and runs them. Rendering happens here, on the
//! blocking pool; the rows it writes are the only record of what happened.

pub mod consumer;
pub mod executor;
pub mod jobs;
pub mod render;
pub mod retry;

use std::sync::Arc;

use futures::FutureExt;
use shared::config::Config;
use shared::db::Db;
use shared::domain::QueueName;
use shared::queue::Queue;
use shared::storage::Storage;
use tokio_util::sync::CancellationToken;

use crate::executor::Executor;
use crate::jobs::JobContext;
use crate::render::Engine;

/// Runs every queue's consumers until `shutdown` is cancelled. Returns an error if the
/// consumers die, so the process exits non-zero and its supervisor restarts it.
pub async fn run(
    config: Arc<Config>,
    db: Db,
    queue: Queue,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Fonts and templates load once per process; the first render is then warm.
    let engine = Arc::new(tokio::task::spawn_blocking(Engine::new).await??);
    let name = worker_name();
    tracing::info!(worker = %name, "worker starting");
    let executor = Executor {
        ctx: JobContext {
            storage: Storage::new(&config.data_dir),
            config: config.clone(),
            db,
            queue: queue.clone(),
            engine,
        },
        worker_name: name.clone(),
    };
    let handler: consumer::Handler = Arc::new(move |id| {
        let executor = executor.clone();
        async move { executor.execute(id).await }.boxed()
    });
    let queues = QueueName::ALL
        .into_iter()
        .map(|q| (q, config.queues.get(q).concurrency))
        .collect();
    consumer::run(queue, queues, handler, &name, shutdown).await
}

/// Unique per process start (DESIGN.md 3: a fixed name cannot restart within apalis's
/// orphan threshold): host, pid and a random suffix.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let suffix: u32 = rand::random();
    format!("{host}-{}-{suffix:08x}", std::process::id())
}
