//! What changed, for the API's caches: the tags that committed changes touched, from the
//! database itself (migration 0021), so no code path can forget to invalidate.
//!
//! On PostgreSQL, triggers `NOTIFY quire_cache` with each tag; notifications arrive once, at
//! commit, never for a rollback. A listening connection that breaks misses what was sent
//! meanwhile: [`Invalidation::Missed`] tells the caches to drop everything once listening
//! again. On SQLite, triggers append the tags to `cache_invalidations`, read here after the
//! last row seen (one writer at a time: ids grow in commit order) every [`SQLITE_POLL`].
//!
//! Fences (PostgreSQL): a process that made a change sends `fence:<nonce>` after it
//! committed ([`Db::cache_fence`]); every listener that receives it has applied the change
//! (notifications arrive in commit order) and answers `ack:<nonce>` ([`Db::cache_ack`]).
//! Once every listener has answered, no process can serve what the change replaced.

use std::time::{Duration, Instant};

use sqlx::Row;

use super::DbError;
use super::pool::{DatabaseBackend, Db};
use crate::domain::Timestamp;

/// The channel the cache triggers notify on PostgreSQL.
pub const CACHE_CHANNEL: &str = "quire_cache";
/// The `application_name` of every listening connection: how a fence counts its listeners.
const LISTENER_NAME: &str = "quire-cache-listener";
/// How often SQLite's log is read: a change made by another process (the CLI) is seen within
/// this.
pub const SQLITE_POLL: Duration = Duration::from_millis(50);
/// How long SQLite's log keeps a row: far longer than any reader lags.
const SQLITE_KEEP: Duration = Duration::from_secs(600);
/// Most rows read at once.
const SQLITE_BATCH: i64 = 1_000;

/// What [`Invalidations::next`] saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalidation {
    /// Committed changes touched these tags.
    Tags(Vec<String>),
    /// Listening again after a break or at the start: whatever changed meanwhile is unknown.
    Missed,
    /// The database cannot be reached: nothing cached can be trusted until [`Missed`].
    ///
    /// [`Missed`]: Invalidation::Missed
    Down,
}

/// The stream of committed changes' tags.
pub struct Invalidations {
    db: Db,
    source: Source,
}

enum Source {
    Postgres(Option<sqlx::postgres::PgListener>),
    Sqlite {
        last: Option<i64>,
        pruned: Instant,
        /// The last read failed: the next that works says `Missed`.
        failed: bool,
    },
}

impl Db {
    /// The changes' tags, from now on. The first [`Invalidations::next`] says
    /// [`Invalidation::Missed`] (or `Down`) when listening starts.
    pub fn cache_invalidations(&self) -> Invalidations {
        let source = match self.backend() {
            DatabaseBackend::Postgres => Source::Postgres(None),
            DatabaseBackend::Sqlite => Source::Sqlite {
                last: None,
                pruned: Instant::now(),
                failed: false,
            },
        };
        Invalidations {
            db: self.clone(),
            source,
        }
    }
}

impl Db {
    /// Sends `fence:<nonce>` after a committed change (PostgreSQL only) and says how many
    /// listeners there are to answer it.
    pub async fn cache_fence(&self, nonce: &str) -> Result<i64, DbError> {
        let listeners: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND application_name = $1) \
                    + 0 * length(pg_notify($2, $3)::text)",
        )
        .bind(LISTENER_NAME)
        .bind(CACHE_CHANNEL)
        .bind(format!("fence:{nonce}"))
        .fetch_one(self.pool())
        .await
        .map_err(|e| DbError::from(e).redacted())?;
        Ok(listeners)
    }

    /// Answers a fence: every change committed before it has been applied here.
    pub async fn cache_ack(&self, nonce: &str) -> Result<(), DbError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CACHE_CHANNEL)
            .bind(format!("ack:{nonce}"))
            .execute(self.pool())
            .await
            .map_err(|e| DbError::from(e).redacted())?;
        Ok(())
    }
}

impl Invalidations {
    /// The next tags, or a change of state. Waits for them; on an error it waits a second
    /// before saying [`Invalidation::Down`], so a caller may loop on it.
    pub async fn next(&mut self) -> Invalidation {
        match &mut self.source {
            Source::Postgres(listener) => next_postgres(&self.db, listener).await,
            Source::Sqlite {
                last,
                pruned,
                failed,
            } => next_sqlite(&self.db, last, pruned, failed).await,
        }
    }
}

async fn next_postgres(db: &Db, listener: &mut Option<sqlx::postgres::PgListener>) -> Invalidation {
    let Some(connected) = listener.as_mut() else {
        let Some(url) = db.url() else {
            // A pool given without its URL (tests): nothing can be listened to.
            std::future::pending::<()>().await;
            unreachable!();
        };
        let listening = async {
            let options: sqlx::postgres::PgConnectOptions = url.expose().parse()?;
            // One connection, kept: the listener reconnects itself.
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .max_lifetime(None)
                .idle_timeout(None)
                .connect_with(options.application_name(LISTENER_NAME))
                .await?;
            let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
            l.ignore_pool_close_event(true);
            l.listen(CACHE_CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        return match tokio::time::timeout(Duration::from_secs(3), listening).await {
            Ok(Ok(l)) => {
                *listener = Some(l);
                Invalidation::Missed
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %DbError::from(e).redacted(), "cannot listen for cache invalidations");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Invalidation::Down
            }
            Err(_) => {
                tracing::warn!("listening for cache invalidations timed out");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Invalidation::Down
            }
        };
    };
    match connected.try_recv().await {
        Ok(Some(first)) => {
            let mut tags = vec![first.payload().to_owned()];
            // Whatever else has arrived already comes in the same batch.
            while let Some(more) = connected.next_buffered() {
                tags.push(more.payload().to_owned());
            }
            Invalidation::Tags(tags)
        }
        Ok(None) | Err(_) => {
            // The connection broke: notifications sent meanwhile are lost. Listen afresh.
            *listener = None;
            Invalidation::Down
        }
    }
}

async fn next_sqlite(
    db: &Db,
    last: &mut Option<i64>,
    pruned: &mut Instant,
    failed: &mut bool,
) -> Invalidation {
    let Some(after) = *last else {
        let max: Result<Option<i64>, _> =
            sqlx::query_scalar("SELECT MAX(id) FROM cache_invalidations")
                .fetch_one(db.pool())
                .await;
        return match max {
            Ok(max) => {
                *last = Some(max.unwrap_or(0));
                Invalidation::Missed
            }
            Err(e) => {
                tracing::warn!(error = %DbError::from(e).redacted(), "cannot read cache invalidations");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Invalidation::Down
            }
        };
    };
    loop {
        tokio::time::sleep(SQLITE_POLL).await;
        if pruned.elapsed() > SQLITE_KEEP / 10 {
            *pruned = Instant::now();
            let before = Timestamp::now().millis() - SQLITE_KEEP.as_millis() as i64;
            let _ = sqlx::query("DELETE FROM cache_invalidations WHERE at < $1")
                .bind(before)
                .execute(db.pool())
                .await;
        }
        let rows = sqlx::query(
            "SELECT id, tag FROM cache_invalidations WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(SQLITE_BATCH)
        .fetch_all(db.pool())
        .await;
        if rows.is_ok() && std::mem::take(failed) {
            // Rows written while reads failed are still in the log, but the caches dropped
            // everything when told `Down`: they may start keeping entries again.
            return Invalidation::Missed;
        }
        match rows {
            Ok(rows) if rows.is_empty() => continue,
            Ok(rows) => {
                let mut tags = Vec::with_capacity(rows.len());
                for row in &rows {
                    *last = Some(row.get::<i64, _>(0));
                    tags.push(row.get::<String, _>(1));
                }
                return Invalidation::Tags(tags);
            }
            Err(e) => {
                tracing::warn!(error = %DbError::from(e).redacted(), "cannot read cache invalidations");
                *failed = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
                return Invalidation::Down;
            }
        }
    }
}
