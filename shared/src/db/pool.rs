//! The connection pool (`Db`), how it is set up (`DbSettings`, `DatabaseBackend`) and what
//! its calls fail with (`DbError`); the SQL itself is in the sibling modules.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Connection, Executor};

use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseBackend {
    Sqlite,
    Postgres,
}

/// What a pool needs of the configuration (`Config::db_settings`).
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: Secret<String>,
    pub backend: DatabaseBackend,
    pub max_connections: u32,
    /// Created first: the directory of the embedded default database file.
    pub create_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached: callers answer 503 and retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // Protocol: the connection broke mid-conversation (e.g. dropped during start-up).
            sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => DbError::Unavailable(e.to_string()),
            // PostgreSQL shutting down or refusing connections (class 08 / 57P0x).
            sqlx::Error::Database(ref d)
                if d.code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
            {
                DbError::Unavailable(e.to_string())
            }
            // A statement cancelled by `statement_timeout` (57014): the database is too busy
            // for this query now.
            sqlx::Error::Database(ref d) if d.code().is_some_and(|c| c == "57014") => {
                DbError::Unavailable(e.to_string())
            }
            // SQLite busy/locked beyond busy_timeout.
            sqlx::Error::Database(ref d) if d.code().is_some_and(|c| c == "5" || c == "6") => {
                DbError::Unavailable(e.to_string())
            }
            other => DbError::Other(other.to_string()),
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    /// Claims and heartbeats: on PostgreSQL a pool of its own whose commits do not wait for
    /// the disk (`synchronous_commit = off`), connected on first use (only workers claim).
    /// A claim lost in a database crash leaves its job waiting, as if never claimed: its
    /// event goes with it, and a later fenced write of that attempt finds no lease. Everything
    /// a client is told (submissions, ends, revocations) still commits durably.
    claims: AnyPool,
    backend: DatabaseBackend,
    /// For connections outside the pool (PostgreSQL's listeners, `wakeups.rs`).
    url: Option<Secret<String>>,
    /// Seals the secrets stored in the database (`with_sealer`); without one, secrets can be
    /// read only where they are still plaintext and written not at all.
    sealer: Option<std::sync::Arc<crate::sealing::Sealer>>,
}

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

impl Db {
    /// Connects now: a database that is away is an error here.
    pub async fn connect(settings: &DbSettings) -> Result<Db, DbError> {
        install_default_drivers();
        if let Some(dir) = &settings.create_dir {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| DbError::Other(format!("cannot create data directory: {e}")))?;
        }
        let pool = Db::pool_options(settings)
            .connect(settings.url.expose())
            .await
            .map_err(|e| DbError::from(e).redacted())?;
        Ok(Db {
            claims: Db::claims_pool(settings, &pool)?,
            pool,
            backend: settings.backend,
            url: Some(settings.url.clone()),
            sealer: None,
        })
    }

    /// A pool that connects on first use, so a database that is away now is an error of the
    /// first statement, not of the start (the rescuer's own pool: its loop retries, and must
    /// not stop the scheduler).
    pub fn connect_lazy(settings: &DbSettings) -> Result<Db, DbError> {
        install_default_drivers();
        let pool = Db::pool_options(settings)
            .connect_lazy(settings.url.expose())
            .map_err(|e| DbError::from(e).redacted())?;
        Ok(Db {
            claims: Db::claims_pool(settings, &pool)?,
            pool,
            backend: settings.backend,
            url: Some(settings.url.clone()),
            sealer: None,
        })
    }

    /// This handle, sealing and opening stored secrets with `sealer` (`Config::sealer`).
    pub fn with_sealer(mut self, sealer: crate::sealing::Sealer) -> Db {
        self.sealer = Some(std::sync::Arc::new(sealer));
        self
    }

    /// This handle, sealing as `other` does (another pool of the same process).
    pub fn sealing_like(mut self, other: &Db) -> Db {
        self.sealer = other.sealer.clone();
        self
    }

    /// `plain` sealed for `context` (where it is stored).
    pub(super) fn seal(&self, plain: &str, context: &str) -> Result<String, DbError> {
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            DbError::Other("no key-encryption key: a secret cannot be stored".into())
        })?;
        Ok(sealer.seal(plain, context))
    }

    /// The secret a stored value holds (plaintext from before is read as it is).
    pub(super) fn open(&self, stored: &str, context: &str) -> Result<String, DbError> {
        match &self.sealer {
            Some(sealer) => sealer
                .open(stored, context)
                .map_err(|e| DbError::Corrupt(e.to_string())),
            None if !stored.starts_with("enc:") => Ok(stored.to_owned()),
            None => Err(DbError::Other(format!(
                "no key-encryption key: the secret of {context} cannot be read"
            ))),
        }
    }

    pub(super) fn sealer(&self) -> Option<&crate::sealing::Sealer> {
        self.sealer.as_deref()
    }

    /// The claims' pool (see `Db::claims`): the main pool itself on SQLite.
    fn claims_pool(settings: &DbSettings, pool: &AnyPool) -> Result<AnyPool, DbError> {
        if settings.backend != DatabaseBackend::Postgres {
            return Ok(pool.clone());
        }
        let url = settings.url.expose();
        let separator = if url.contains('?') { '&' } else { '?' };
        let claims = DbSettings {
            url: Secret::new(format!("{url}{separator}options[synchronous_commit]=off")),
            max_connections: settings.max_connections.clamp(1, 4),
            ..settings.clone()
        };
        Db::pool_options(&claims)
            .connect_lazy(claims.url.expose())
            .map_err(|e| DbError::from(e).redacted())
    }

    fn pool_options(settings: &DbSettings) -> AnyPoolOptions {
        let backend = settings.backend;
        AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            // Short acquire timeout: when the database is down, requests answer 503 quickly.
            .acquire_timeout(Duration::from_secs(3))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == DatabaseBackend::Sqlite {
                        // WAL lets readers run beside the one writer; NORMAL is durable in WAL
                        // across process crashes; busy_timeout queues writers instead of failing;
                        // recursive triggers let a workflow step cancelled by its parent's end
                        // cancel its own children in turn (migration 0018).
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                             PRAGMA recursive_triggers = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            // A connection's socket buffers grow to its largest message (a 4,000-row batch
            // insert is megabytes) and stay there; each pooled connection would keep its own.
            // Give them back when the connection returns to the pool (a no-op when small).
            .after_release(|conn, _| {
                Box::pin(async move {
                    conn.shrink_buffers();
                    Ok(true)
                })
            })
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.backend
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        self.migrator()
            .run(&self.pool)
            .await
            .map_err(|e| DbError::Other(format!("migration failed: {e}")))
    }

    /// Fails unless every migration this build knows has been applied: the production roles
    /// do not migrate by themselves (`quire migrate` does, once, before a rollout).
    pub async fn ensure_migrated(&self) -> Result<(), DbError> {
        let migrator = self.migrator();
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        let pending = migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count();
        if pending > 0 {
            return Err(DbError::Other(format!(
                "{pending} migration(s) not applied; run `quire migrate` first"
            )));
        }
        Ok(())
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            DatabaseBackend::Postgres => &POSTGRES_MIGRATIONS,
            DatabaseBackend::Sqlite => &SQLITE_MIGRATIONS,
        }
    }

    /// For `/ready`: one round trip, bounded in time.
    pub async fn check(&self) -> Result<(), DbError> {
        match tokio::time::timeout(Duration::from_secs(2), self.pool.execute("SELECT 1")).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(DbError::Unavailable("timed out".into())),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.claims.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where claims and heartbeats go (see `Db::claims`).
    pub(crate) fn claims(&self) -> &AnyPool {
        &self.claims
    }

    pub(crate) fn url(&self) -> Option<&Secret<String>> {
        self.url.as_ref()
    }
}

/// `$first, $first+1, …` for `count` values: the list of an `IN (...)` whose length varies.
/// Statements built with it run with `persistent(false)` (see ARCHITECTURE, invariants).
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2, ..<constants>), ($k+1, ..)` for `rows` rows of `per_row` parameters, each
/// tuple ending with `constants` (SQL literals shared by every row).
pub(super) fn values(rows: usize, per_row: usize, constants: &str) -> String {
    let mut sql = String::with_capacity(rows * per_row * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for k in 1..=per_row {
            if k > 1 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * per_row + k));
        }
        sql.push_str(constants);
        sql.push(')');
    }
    sql
}

impl DbError {
    /// Connection errors can quote the URL; keep only the kind of failure.
    pub(crate) fn redacted(self) -> Self {
        let scrub = |m: String| {
            if m.contains("://") {
                "cannot connect (check DATABASE_URL)".to_owned()
            } else {
                m
            }
        };
        match self {
            DbError::Unavailable(m) => DbError::Unavailable(scrub(m)),
            DbError::Other(m) => DbError::Other(scrub(m)),
            c => c,
        }
    }
}
