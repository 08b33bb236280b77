//! The SQLite backend (apalis-sqlite) in a file of its own: opening it, refusing a file that
//! holds our application tables, and the consumers' one-connection pools.

use super::*;

pub(super) struct SqliteBackend {
    pub(super) pool: SqlitePool,
    pub(super) options: SqliteConnectOptions,
}

impl SqliteBackend {
    /// The consumer's own pool: one connection, so that every apalis operation (fetch,
    /// acknowledgement, heartbeat) is bracketed by `before_acquire` / `after_release`. An
    /// operation that overlapped a wake-up re-raises it when it ends, exactly like
    /// [`SignalConn`] on Redis: without this a push committed while an (empty) fetch was in
    /// flight could wait for the idle poll (observed: 250 ms).
    pub(super) fn consumer_pool(&self, signal: &Arc<Signal>) -> SqlitePool {
        let started = Arc::new(AtomicU64::new(0));
        let (on_acquire, acquired_at) = (signal.clone(), started.clone());
        let (on_release, released_from) = (signal.clone(), started);
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(30))
            .before_acquire(move |_, _| {
                acquired_at.store(on_acquire.generation(), Ordering::SeqCst);
                futures::future::ready(Ok(true)).boxed()
            })
            .after_release(move |_, _| {
                if on_release.generation() != released_from.load(Ordering::SeqCst) {
                    on_release.redeliver();
                }
                futures::future::ready(Ok(true)).boxed()
            })
            .connect_lazy_with(self.options.clone())
    }
}

pub(super) async fn open_sqlite(path: &Path) -> Result<Queue, QueueError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| QueueError::Other(format!("creating directory {}: {e}", dir.display())))?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options.clone())
        .await
        .map_err(|e| sqlx_error(&e, &format!("opening {}", path.display())))?;
    let migrator = SqliteStorage::<()>::migrations();
    ensure_queue_file(&pool, path, &migrator).await?;
    migrator.run(&pool).await.map_err(|e| {
        QueueError::Other(format!(
            "migrating the queue database {}: {e}",
            path.display()
        ))
    })?;
    Ok(Queue {
        inner: Arc::new(Inner::new(Backend::Sqlite(Box::new(SqliteBackend {
            pool,
            options,
        })))),
    })
}

/// Refuses a file that holds anything but apalis-sqlite's own tables (see module docs).
pub(super) async fn ensure_queue_file(
    pool: &SqlitePool,
    path: &Path,
    migrator: &sqlx::migrate::Migrator,
) -> Result<(), QueueError> {
    let refuse = |why: String| {
        QueueError::Other(format!(
            "{} cannot hold the apalis-sqlite queue: {why}; give the queue a file of its own \
             (e.g. DATA_DIR/queue.db)",
            path.display()
        ))
    };
    let jobs_sql: Option<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND lower(name) = 'jobs'",
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| sqlx_error(&e, "inspecting the queue database"))?;
    if let Some(sql) = jobs_sql
        && !sql.contains("job_type")
    {
        return Err(refuse(
            "it already has an application `jobs` table, the same table as apalis's `Jobs` \
             because SQLite names are case-insensitive"
                .into(),
        ));
    }
    let has_migrations: i64 = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| sqlx_error(&e, "inspecting the queue database"))?;
    if has_migrations != 0 {
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(pool)
            .await
            .map_err(|e| sqlx_error(&e, "inspecting the queue database"))?;
        let known: HashSet<i64> = migrator.iter().map(|m| m.version).collect();
        if let Some(v) = applied.iter().find(|v| !known.contains(v)) {
            return Err(refuse(format!(
                "its `_sqlx_migrations` table records migration {v}, which is not apalis's"
            )));
        }
    }
    Ok(())
}

pub(super) fn sqlx_error(e: &sqlx::Error, what: &str) -> QueueError {
    let message = format!("{what}: {e}");
    let transient = match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => {
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with or without extended codes.
            db.code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6))
        }
        _ => false,
    };
    if transient {
        QueueError::Unavailable(message)
    } else {
        QueueError::Other(message)
    }
}
