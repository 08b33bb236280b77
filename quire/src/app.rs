//! Composes the roles into a running application: connects the database and queue once and
//! starts the requested roles on one shutdown token. Tests start it on port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use shared::config::{Config, Secret};
use shared::db::Db;
use shared::queue::Queue;
use shared::storage::Storage;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Which roles this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub api: bool,
    pub worker: bool,
    pub scheduler: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        api: true,
        worker: true,
        scheduler: true,
    };
    pub const API: Roles = Roles {
        api: true,
        worker: false,
        scheduler: false,
    };
    pub const WORKER: Roles = Roles {
        api: false,
        worker: true,
        scheduler: false,
    };
    pub const SCHEDULER: Roles = Roles {
        api: false,
        worker: false,
        scheduler: true,
    };

    /// The `role` label of this process's metrics.
    pub fn label(&self) -> &'static str {
        match (self.api, self.worker, self.scheduler) {
            (true, true, true) => "run",
            (true, false, false) => "api",
            (false, true, false) => "worker",
            (false, false, true) => "scheduler",
            _ => "mixed",
        }
    }
}

pub struct App {
    /// Where the API listens (its real port when bound to port 0).
    pub addr: Option<SocketAddr>,
    /// Where the process answers `/health`, `/ready` and `/metrics` on its own port
    /// (`health_bind`).
    pub health_addr: Option<SocketAddr>,
    pub db: Db,
    pub queue: Queue,
    /// Where this process's files live (data directory or object storage).
    pub storage: Storage,
    /// The admin key created on first start of an empty database, if this start created it.
    pub first_admin_key: Option<Secret<String>>,
    shutdown: CancellationToken,
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
}

pub async fn connect(config: &Config) -> anyhow::Result<(Db, Queue)> {
    let db = Db::connect(&config.db_settings())
        .await
        .context("connecting to the database")?;
    let queue = match &config.redis_url {
        Some(url) => Queue::redis_with(url.expose(), &config.redis_namespace, &config.redis).await,
        None => {
            tokio::fs::create_dir_all(&config.data_dir)
                .await
                .with_context(|| format!("creating {}", config.data_dir.display()))?;
            Queue::sqlite(&config.data_dir.join("queue.db")).await
        }
    }
    .context("connecting to the queue")?;
    Ok((db, queue))
}

impl App {
    /// Starts `roles`. With `migrate`, applies migrations first, and on an empty database
    /// creates the first admin key (returned in `first_admin_key`).
    pub async fn start(mut config: Config, roles: Roles, migrate: bool) -> anyhow::Result<App> {
        let listener = match roles.api {
            true => Some(
                tokio::net::TcpListener::bind(config.bind)
                    .await
                    .with_context(|| format!("binding {}", config.bind))?,
            ),
            false => None,
        };
        if let Some(listener) = &listener
            && config.public_base_url.is_none()
        {
            // Port 0 (tests): links and QR codes must name the real port.
            config.public_base_url = Some(format!("http://{}", listener.local_addr()?));
        }
        let config = Arc::new(config);
        if config.metrics.enabled {
            shared::metrics::install(
                roles.label(),
                option_env!("BUILD_GIT_REVISION").unwrap_or("unknown"),
            );
        }
        // The key that seals stored secrets first: a PostgreSQL deployment without one is
        // refused before anything is touched.
        let sealer = config.sealer()?;
        let (db, queue) = connect(&config).await?;
        let db = db.with_sealer(sealer);
        // A wrong bucket or key stops start-up with one line naming the setting.
        let storage = Storage::connect(&config).await?;
        if migrate {
            db.migrate().await?;
        } else {
            db.ensure_migrated().await?;
        }
        // Secrets stored in the clear (before they were sealed) or under the previous key
        // are sealed under the current one (conditional updates: any number of processes).
        let sealed = db
            .seal_stored_secrets()
            .await
            .context("sealing stored secrets")?;
        if sealed > 0 {
            tracing::info!(
                secrets = sealed,
                "sealed stored secrets under the current key"
            );
        }
        // Every role makes sure the shipped templates are in the store (idempotent).
        db.seed_builtin_templates(&worker::render::builtin_templates()?)
            .await
            .context("seeding the built-in templates")?;
        let first_admin_key = if migrate && db.count_keys().await? == 0 {
            Some(db.create_key("admin", true).await?.secret)
        } else {
            None
        };
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut addr = None;
        let mut health_addr = None;
        // The API's caches, when this process serves the API: its health port reports them.
        let mut caches = None;
        // True while this process's queue consumers run: `/ready` reports it.
        let consuming = roles.worker.then(|| Arc::new(AtomicBool::new(false)));
        if let Some(listener) = listener {
            let local = listener.local_addr()?;
            addr = Some(local);
            let state =
                api::AppState::new(config.clone(), db.clone(), queue.clone(), storage.clone())
                    .with_consuming(consuming.clone());
            caches = Some(state.caches.clone());
            let token = shutdown.clone();
            tasks.spawn(async move {
                (
                    "api",
                    api::serve(listener, state, token).await.map_err(Into::into),
                )
            });
            tracing::info!(%local, "api listening");
        }
        // Also beside the API: Prometheus scrapes here, not on the public port.
        if let Some(bind) = config.health_bind {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding health_bind {bind}"))?;
            let local = listener.local_addr()?;
            health_addr = Some(local);
            let readiness = api::state::Readiness {
                db: db.clone(),
                queue: queue.clone(),
                storage: storage.clone(),
                consuming: consuming.clone(),
                health_stale_after_secs: config.health.stale_after_secs,
                header_read_timeout_secs: config.limits.header_read_timeout_secs,
                write_timeout_secs: config.limits.write_timeout_secs,
                metrics_token: config.metrics.token.clone(),
                watchdog: api::watchdog::Watchdog::start(std::time::Duration::from_secs(
                    config.health.stall_after_secs,
                )),
                metrics_open: true,
                caches: caches.clone(),
            };
            let token = shutdown.clone();
            tasks.spawn(async move {
                let served = api::serve_health(listener, readiness, token).await;
                ("health", served.map_err(Into::into))
            });
            tracing::info!(%local, "health endpoints listening");
        }
        if config.metrics.enabled {
            let (db, token) = (db.clone(), shutdown.clone());
            // The backlog from the API and scheduler (workers report their pool only).
            let backlog = roles.api || roles.scheduler;
            tasks.spawn(async move {
                let every = std::time::Duration::from_secs(5);
                shared::metrics::sample(db, backlog, every, token).await;
                ("metrics", Ok(()))
            });
        }
        if let Some(consuming) = consuming {
            let (config, db, queue, storage, token) = (
                config.clone(),
                db.clone(),
                queue.clone(),
                storage.clone(),
                shutdown.clone(),
            );
            tasks.spawn(async move {
                let ran = worker::run(config, db, queue, storage, consuming, token).await;
                ("worker", ran)
            });
        }
        if roles.scheduler {
            let (config, db, queue, token) =
                (config.clone(), db.clone(), queue.clone(), shutdown.clone());
            tasks.spawn(
                async move { ("scheduler", scheduler::run(config, db, queue, token).await) },
            );
        }
        Ok(App {
            addr,
            health_addr,
            db,
            queue,
            storage,
            first_admin_key,
            shutdown,
            tasks,
        })
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until a role stops or `shutdown` is cancelled; then stops the rest. An error from
    /// any role is returned (the process exits non-zero so its supervisor restarts it).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut result = Ok(());
        while let Some(joined) = self.tasks.join_next().await {
            let (role, outcome) = joined.context("a role panicked")?;
            if let Err(e) = outcome {
                tracing::error!(role, error = %format!("{e:#}"), "role failed; shutting down");
                if result.is_ok() {
                    result = Err(e.context(format!("{role} failed")));
                }
            } else if !self.shutdown.is_cancelled() {
                tracing::warn!(role, "role stopped; shutting down");
            }
            self.shutdown.cancel();
        }
        self.db.close().await;
        result
    }

    /// Stops every role and waits for them.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}
