//! The worker registry (`workers`): which worker processes run, where, and how busy they are,
//! for `GET /v1/status`, the dashboard and `quire status`. Each worker writes its own row;
//! nothing else depends on it (claims, leases and the rescuer use the jobs table alone).

use std::time::Duration;

use sqlx::Row;

use super::pool::{Db, DbError};
use crate::domain::Timestamp;

/// How often a worker refreshes its row; readers call a worker silent for three beats gone.
pub const WORKER_HEARTBEAT: Duration = Duration::from_secs(5);

/// Rows whose heartbeat is older than this are removed by any worker's heartbeat: a worker
/// that died an hour ago is no longer news.
const FORGET_AFTER_MS: i64 = 3_600_000;

/// One worker process as it registered itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    pub name: String,
    pub host: String,
    pub version: String,
    pub pid: i64,
    /// `queue:concurrency` pairs, comma-separated.
    pub queues: String,
    pub started_at: Timestamp,
    pub heartbeat_at: Timestamp,
    /// Attempts running at the last heartbeat.
    pub running: i64,
}

impl WorkerRow {
    /// Whether it beat within the last three heartbeats: `false` is a worker that stopped
    /// without saying so (killed, or its host is gone).
    pub fn alive(&self) -> bool {
        Timestamp::now().millis() - self.heartbeat_at.millis()
            <= 3 * WORKER_HEARTBEAT.as_millis() as i64
    }
}

impl Db {
    /// Writes (or rewrites) this worker's row.
    pub async fn register_worker(&self, w: &WorkerRow) -> Result<(), DbError> {
        sqlx::query("DELETE FROM workers WHERE name = $1")
            .bind(w.name.clone())
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO workers (name, host, version, pid, queues, started_at, heartbeat_at, \
             running) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(w.name.clone())
        .bind(w.host.clone())
        .bind(w.version.clone())
        .bind(w.pid)
        .bind(w.queues.clone())
        .bind(w.started_at.millis())
        .bind(w.heartbeat_at.millis())
        .bind(w.running)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Refreshes this worker's heartbeat and running count, and forgets workers silent for
    /// an hour. `false` when the row is gone (removed as stale after a long pause): the
    /// caller registers again.
    pub async fn worker_heartbeat(&self, name: &str, running: i64) -> Result<bool, DbError> {
        let now = Timestamp::now().millis();
        let updated =
            sqlx::query("UPDATE workers SET heartbeat_at = $2, running = $3 WHERE name = $1")
                .bind(name.to_owned())
                .bind(now)
                .bind(running)
                .execute(self.pool())
                .await?
                .rows_affected();
        sqlx::query("DELETE FROM workers WHERE heartbeat_at < $1")
            .bind(now - FORGET_AFTER_MS)
            .execute(self.pool())
            .await?;
        Ok(updated == 1)
    }

    /// Removes this worker's row: a clean stop.
    pub async fn remove_worker(&self, name: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM workers WHERE name = $1")
            .bind(name.to_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every registered worker, most recently started first.
    pub async fn list_workers(&self) -> Result<Vec<WorkerRow>, DbError> {
        let rows = sqlx::query(
            "SELECT name, host, version, pid, queues, started_at, heartbeat_at, running \
             FROM workers ORDER BY started_at DESC, name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WorkerRow {
                    name: r.try_get("name")?,
                    host: r.try_get("host")?,
                    version: r.try_get("version")?,
                    pid: r.try_get("pid")?,
                    queues: r.try_get("queues")?,
                    started_at: Timestamp::from_millis(r.try_get("started_at")?),
                    heartbeat_at: Timestamp::from_millis(r.try_get("heartbeat_at")?),
                    running: r.try_get("running")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }
}
