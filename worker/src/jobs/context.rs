//! What a handler runs with: `JobContext` (the database, queue, storage, engine, templates,
//! sandbox and mailer of this worker) and the attempt's cancellation (`safe_point`).

use std::sync::Arc;

use shared::config::Config;
use shared::db::Db;
use shared::links::LinkSigner;
use shared::queue::Queue;
use shared::storage::Storage;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::delivery::Deliverer;
use crate::email::Mailer;
use crate::error::JobError;
use crate::render::Engine;
use crate::templates::CompiledTemplates;

/// What handlers may use.
#[derive(Clone)]
pub struct JobContext {
    pub config: Arc<Config>,
    pub db: Db,
    pub queue: Queue,
    pub storage: Storage,
    pub engine: Arc<Engine>,
    pub templates: CompiledTemplates,
    /// Bounds the render children of this process (uploaded templates).
    pub sandbox: shared::sandbox::SandboxPool,
    /// Bounds the in-process renders running at once to the cores: a queue's jobs in flight
    /// may be more (their database, queue and file round trips overlap other jobs' renders),
    /// while typst's working memory stays that of one render a core.
    pub render_slots: Arc<tokio::sync::Semaphore>,
    /// SMTP (pooled) or `.eml` files under `DATA_DIR/mail`.
    pub mailer: Mailer,
    /// Webhook deliveries' HTTP client (pooled; targets checked at connect).
    pub deliverer: Deliverer,
    /// CDN purges' HTTP client; `None` when `cdn.purge_url` is unset.
    pub purger: Option<crate::cdn::Purger>,
    /// Signs download links in emails; its key is read from the database on first use.
    links: Arc<OnceCell<LinkSigner>>,
    /// Signs every rendered PDF (PAdES) when `signing.identity_file` is set.
    pub signer: Option<Arc<crate::signing::Signer>>,
    /// Asks `signing.timestamp_url` for time-stamps (B-T); `None` when it is unset.
    pub timestamps: Option<crate::signing::Timestamper>,
}

impl JobContext {
    /// Everything handlers need, from the configuration. Call inside a Tokio runtime (the SMTP
    /// pool starts a task); nothing connects yet.
    pub fn new(
        config: Arc<Config>,
        db: Db,
        queue: Queue,
        engine: Arc<Engine>,
        storage: Storage,
    ) -> anyhow::Result<JobContext> {
        let signer = match &config.signing.identity_file {
            Some(path) => {
                let signer = std::fs::read(path)
                    .map_err(|e| e.to_string())
                    .and_then(|pem| crate::signing::Signer::from_pem(&pem))
                    .map_err(|e| {
                        anyhow::anyhow!("signing.identity_file {}: {e}", path.display())
                    })?;
                let level = match config.signing.timestamp_url {
                    Some(_) => "B-T",
                    None => "B-B",
                };
                tracing::info!(signer = signer.subject(), level, "PDFs are signed (PAdES)");
                Some(Arc::new(signer))
            }
            None => None,
        };
        let timestamps = match &config.signing.timestamp_url {
            Some(url) => Some(crate::signing::Timestamper::new(
                url,
                std::time::Duration::from_secs(config.signing.timestamp_timeout_secs),
            )?),
            None => None,
        };
        Ok(JobContext {
            signer,
            timestamps,
            mailer: Mailer::from_config(&config, storage.clone())?,
            deliverer: Deliverer::from_config(&config)?,
            purger: crate::cdn::Purger::from_config(&config)?,
            storage,
            templates: CompiledTemplates::new(db.clone()),
            sandbox: shared::sandbox::SandboxPool::new(config.sandbox_limits()),
            render_slots: Arc::new(tokio::sync::Semaphore::new(shared::config::cores())),
            config,
            db,
            queue,
            engine,
            links: Arc::default(),
        })
    }

    /// The download-link signer (loads its key once).
    pub async fn links(&self) -> Result<&LinkSigner, JobError> {
        self.links
            .get_or_try_init(|| LinkSigner::load(&self.db))
            .await
            .map_err(JobError::from)
    }
}

tokio::task_local! {
    /// The running attempt's cancellation, set by the executor.
    static CANCEL: CancellationToken;
    /// The inputs the running attempt read: removed by exact name once the job succeeds, so
    /// object storage needs no listing per job.
    static INPUTS_READ: std::sync::Mutex<Vec<String>>;
}

/// Runs `attempt` with `cancel` as what [`safe_point`] checks; also returns the names of
/// the inputs it read.
pub async fn with_cancellation<F: std::future::Future>(
    cancel: CancellationToken,
    attempt: F,
) -> (F::Output, Vec<String>) {
    let recording = async {
        let output = attempt.await;
        let read = INPUTS_READ.with(|names| std::mem::take(&mut *lock(names)));
        (output, read)
    };
    CANCEL
        .scope(cancel, INPUTS_READ.scope(Default::default(), recording))
        .await
}

/// Notes that the running attempt read input `name` (nothing outside an attempt).
pub fn note_input_read(name: &str) {
    let _ = INPUTS_READ.try_with(|names| lock(names).push(name.to_owned()));
}

fn lock(names: &std::sync::Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    names.lock().unwrap_or_else(|e| e.into_inner())
}

/// A place where the attempt may stop: `Err(cancelled)` once cancelling was asked. Outside an
/// attempt (tests calling a handler directly) it never stops.
pub fn safe_point() -> Result<(), JobError> {
    match CANCEL.try_with(CancellationToken::is_cancelled) {
        Ok(true) => Err(JobError::cancelled()),
        _ => Ok(()),
    }
}
