//! What the maintenance tasks need: finding and deleting expired jobs in small batches,
//! recording health-check results (migration 0004), statistics upkeep, and job counts.

use sqlx::{AssertSqlSafe, Executor as _, Row};

use super::jobs::NewJob;
use super::pool::DatabaseBackend;
use super::pool::{Db, DbError, placeholders, values};
use super::purges::insert_purge_in;
use crate::cdn::Purging;
use crate::domain::{JobId, JobKind, JobStatus, Timestamp};

/// A finished job past its retention: what deleting its files needs.
#[derive(Debug, Clone)]
pub struct ExpiredJob {
    pub id: JobId,
    pub owner_id: String,
    /// Attempts made: each may have left a file.
    pub attempt: i64,
}

impl ExpiredJob {
    /// From a row whose id and attempts columns are named `id` and `attempts`.
    fn from_row(row: &sqlx::any::AnyRow, id: &str, attempts: &str) -> Result<Self, DbError> {
        let job_id: String = row.try_get(id)?;
        Ok(ExpiredJob {
            id: job_id
                .parse()
                .map_err(|_| DbError::Corrupt(format!("job id {job_id}")))?,
            owner_id: row.try_get("owner_id")?,
            attempt: row.try_get(attempts)?,
        })
    }
}

/// One kind's backlog (see [`Db::backlog`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub kind: JobKind,
    pub waiting: i64,
    pub running: i64,
    /// Waiting for their `run_at` (`scheduled`), not runnable yet.
    pub scheduled: i64,
    pub oldest_run_at: Option<Timestamp>,
}

/// One check's latest result.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub duration_ms: i64,
    pub checked_at: Timestamp,
}

impl Db {
    /// The oldest jobs of `kind` that finished in `status` before `before`, at most `limit`
    /// (index `jobs_cleanup`).
    pub async fn expired_jobs(
        &self,
        kind: JobKind,
        status: JobStatus,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<ExpiredJob>, DbError> {
        let rows = sqlx::query(
            "SELECT id, owner_id, attempt FROM jobs \
             WHERE kind = $1 AND status = $2 AND finished_at IS NOT NULL AND finished_at < $3 \
             ORDER BY finished_at LIMIT $4",
        )
        .bind(kind.as_str())
        .bind(status.as_str())
        .bind(before.millis())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| ExpiredJob::from_row(row, "id", "attempt"))
            .collect()
    }

    /// Per kind: jobs waiting (`queued`, or `failed` until their retry), running,
    /// scheduled, and the earliest `run_at` of the waiting ones, for the backlog gauges. Each
    /// part reads a partial index (`jobs_waiting_run_at`, `jobs_running_lease`,
    /// `jobs_scheduled_run_at`): the cost follows the backlog, never the table (finished
    /// jobs are not read).
    pub async fn backlog(&self) -> Result<Vec<Backlog>, DbError> {
        let rows = sqlx::query(
            "SELECT kind, 1 AS waiting, COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs \
             WHERE status IN ('queued', 'failed') GROUP BY kind \
             UNION ALL \
             SELECT kind, 0 AS waiting, COUNT(*) AS n, NULL AS oldest FROM jobs \
             WHERE status = 'running' GROUP BY kind \
             UNION ALL \
             SELECT kind, 2 AS waiting, COUNT(*) AS n, NULL AS oldest FROM jobs \
             WHERE status = 'scheduled' GROUP BY kind",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<Backlog> = JobKind::ALL
            .into_iter()
            .map(|kind| Backlog {
                kind,
                waiting: 0,
                running: 0,
                scheduled: 0,
                oldest_run_at: None,
            })
            .collect();
        for row in &rows {
            let kind: String = row.try_get("kind")?;
            let Some(entry) = out.iter_mut().find(|b| b.kind.as_str() == kind) else {
                continue;
            };
            let n: i64 = row.try_get("n")?;
            match row.try_get::<i64, _>("waiting")? {
                1 => {
                    entry.waiting = n;
                    entry.oldest_run_at = row
                        .try_get::<Option<i64>, _>("oldest")?
                        .map(Timestamp::from_millis);
                }
                2 => entry.scheduled = n,
                _ => entry.running = n,
            }
        }
        Ok(out)
    }

    /// How long taking a connection from the pool takes now (the connection is given back
    /// at once): a sample of what every query waits before it runs.
    pub async fn time_acquire(&self) -> Result<std::time::Duration, DbError> {
        let started = std::time::Instant::now();
        drop(self.pool().acquire().await?);
        Ok(started.elapsed())
    }

    /// The pool now: open connections, idle ones, the most it may open.
    pub fn pool_stats(&self) -> (u32, usize, u32) {
        let pool = self.pool();
        (
            pool.size(),
            pool.num_idle(),
            pool.options().get_max_connections(),
        )
    }

    /// Files of deleted jobs not yet removed (a cleanup stopped between deleting the rows and
    /// their files), oldest first, at most `limit`.
    pub async fn pending_file_deletions(&self, limit: u32) -> Result<Vec<ExpiredJob>, DbError> {
        let rows = sqlx::query(
            "SELECT job_id, owner_id, attempts FROM file_deletions ORDER BY created_at LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| ExpiredJob::from_row(row, "job_id", "attempts"))
            .collect()
    }

    /// These jobs' files are gone: forget them.
    pub async fn forget_file_deletions(&self, ids: &[JobId]) -> Result<(), DbError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM file_deletions WHERE job_id IN ({})",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in ids {
            query = query.bind(id.to_string());
        }
        query.execute(self.pool()).await?;
        Ok(())
    }

    /// Deletes these jobs if they are still `status` (a job retried meanwhile is kept), with
    /// their registry entries and email records, in one short transaction that also records
    /// their files as to be removed (`file_deletions`). Returns the ids deleted: only their
    /// files may go; [`Db::forget_file_deletions`] once they have. Retention's delete
    /// (cleanup); a person's is [`Db::delete_jobs_by`]. With `purging`, the purge of the
    /// deleted certificates' verifications (and the registry, if one was listed) is inserted
    /// in the same transaction and returned, to be pushed.
    pub async fn delete_jobs(
        &self,
        ids: &[JobId],
        status: JobStatus,
        purging: Option<Purging>,
    ) -> Result<(Vec<JobId>, Option<NewJob>), DbError> {
        self.delete_jobs_as(None, ids, status, purging).await
    }

    /// [`Db::delete_jobs`] on a person's request (`actor`, the key that asked): a
    /// certificate's registry row stays, with its job's end kept in it, so the certificate
    /// still verifies as it did (a revoked one `revoked`) and can still be revoked; and each
    /// deletion is recorded in `audit_log` in the same transaction. Its purge (with
    /// `purging`) names only the registry: a kept certificate verifies as before, but leaves
    /// the listings with its job.
    pub async fn delete_jobs_by(
        &self,
        actor: &str,
        ids: &[JobId],
        status: JobStatus,
        purging: Option<Purging>,
    ) -> Result<(Vec<JobId>, Option<NewJob>), DbError> {
        self.delete_jobs_as(Some(actor), ids, status, purging).await
    }

    async fn delete_jobs_as(
        &self,
        actor: Option<&str>,
        ids: &[JobId],
        status: JobStatus,
        purging: Option<Purging>,
    ) -> Result<(Vec<JobId>, Option<NewJob>), DbError> {
        if ids.is_empty() {
            return Ok((Vec::new(), None));
        }
        let mut tx = self.pool().begin().await?;
        // One text per batch length: not worth a cached prepared statement per connection.
        let sql = format!(
            "DELETE FROM jobs WHERE status = $1 AND id IN ({}) \
             RETURNING id, batch_id, workflow_id, owner_id, attempt, kind, result, finished_at",
            placeholders(2, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .bind(status.as_str());
        for id in ids {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&mut *tx).await?;
        let mut deleted = Vec::with_capacity(rows.len());
        let mut batches = Vec::new();
        let mut workflows = Vec::new();
        let mut steps = Vec::new();
        let mut files = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            files.push((
                id.clone(),
                row.try_get::<String, _>("owner_id")?,
                row.try_get::<i64, _>("attempt")?,
            ));
            if let Some(batch) = row.try_get::<Option<String>, _>("batch_id")? {
                batches.push(batch);
            }
            if let Some(workflow) = row.try_get::<Option<String>, _>("workflow_id")? {
                workflows.push(workflow);
                steps.push(id.clone());
            }
            deleted.push(id);
        }
        let mut stale = Vec::new();
        // Only a rendered certificate verifies or is listed: a dead or cancelled one's
        // answers (404, absent) stay as they were.
        if purging.is_some() && status == JobStatus::Succeeded {
            for (code, public) in deleted_certificates(&mut tx, &rows).await? {
                match actor {
                    // Kept: its verification stands, only the listings change.
                    Some(_) if public => stale.push(crate::cdn::REGISTRY.to_owned()),
                    Some(_) => {}
                    None => stale.extend(crate::cdn::certificate_tags(&code, public)),
                }
            }
        }
        let purge = insert_purge_in(&mut tx, purging, stale).await?;
        if let Some(actor) = actor {
            keep_certificates(&mut tx, &rows, status).await?;
            audit_deletions(&mut tx, actor, &rows, status).await?;
        }
        if !deleted.is_empty() {
            let in_list = placeholders(1, deleted.len());
            // A person's delete keeps the registry rows (see `delete_jobs_by`).
            let tables: &[&str] = match actor {
                Some(_) => &["email_sends"],
                None => &["certificates", "email_sends"],
            };
            for table in tables {
                let sql = format!("DELETE FROM {table} WHERE job_id IN ({in_list})");
                let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
                for id in &deleted {
                    query = query.bind(id.clone());
                }
                query.execute(&mut *tx).await?;
            }
            let sql = format!(
                "INSERT INTO file_deletions (job_id, owner_id, attempts, created_at) VALUES {}",
                values(files.len(), 4, "")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            let now = Timestamp::now().millis();
            for (id, owner, attempts) in files {
                query = query.bind(id).bind(owner).bind(attempts).bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        batches.sort();
        batches.dedup();
        if !batches.is_empty() {
            // A batch goes with its last job.
            let in_list = placeholders(1, batches.len());
            let sql = format!(
                "DELETE FROM batches WHERE id IN ({in_list}) \
                 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id)"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for batch in &batches {
                query = query.bind(batch.clone());
            }
            query.execute(&mut *tx).await?;
        }
        delete_workflow_rows(&mut tx, &steps, workflows).await?;
        tx.commit().await?;
        let deleted = deleted
            .into_iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| DbError::Corrupt(format!("job id {id}")))
            })
            .collect::<Result<_, _>>()?;
        Ok((deleted, purge))
    }

    /// The latest entries of `audit_log`, newest first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, DbError> {
        let rows = sqlx::query(
            "SELECT at, actor, action, subject, owner_id, detail FROM audit_log \
             ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: Timestamp::from_millis(row.try_get("at")?),
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    subject: row.try_get("subject")?,
                    owner_id: row.try_get("owner_id")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }

    /// Replaces the recorded result of each check, in one statement.
    pub async fn record_health(&self, checks: &[HealthCheck]) -> Result<(), DbError> {
        if checks.is_empty() {
            return Ok(());
        }
        let values = (0..checks.len())
            .map(|i| {
                let b = i * 5;
                format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO health_checks (name, ok, detail, duration_ms, checked_at) VALUES {values} \
             ON CONFLICT (name) DO UPDATE SET ok = excluded.ok, detail = excluded.detail, \
             duration_ms = excluded.duration_ms, checked_at = excluded.checked_at"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for c in checks {
            query = query
                .bind(c.name.clone())
                .bind(i64::from(c.ok))
                .bind(c.detail.clone())
                .bind(c.duration_ms)
                .bind(c.checked_at.millis());
        }
        query.execute(self.pool()).await?;
        Ok(())
    }

    /// The latest recorded result of every check, by name.
    pub async fn health_checks(&self) -> Result<Vec<HealthCheck>, DbError> {
        let rows = sqlx::query(
            "SELECT name, ok, detail, duration_ms, checked_at FROM health_checks ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HealthCheck {
                    name: row.try_get("name")?,
                    ok: row.try_get::<i64, _>("ok")? != 0,
                    detail: row.try_get("detail")?,
                    duration_ms: row.try_get("duration_ms")?,
                    checked_at: Timestamp::from_millis(row.try_get("checked_at")?),
                })
            })
            .collect()
    }

    /// Refreshes the planner's statistics: `ANALYZE` (PostgreSQL) or `PRAGMA optimize`
    /// (SQLite, which analyzes only the tables that need it). Returns what ran.
    pub async fn maintain(&self) -> Result<&'static str, DbError> {
        let statement = match self.backend() {
            DatabaseBackend::Postgres => "ANALYZE",
            DatabaseBackend::Sqlite => "PRAGMA optimize",
        };
        self.pool().execute(statement).await?;
        Ok(statement)
    }

    /// Moves a finished job's `finished_at` into the past: for tests of retention.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn backdate_finished_for_test(
        &self,
        id: JobId,
        finished_at: Timestamp,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET finished_at = $1 WHERE id = $2")
            .bind(finished_at.millis())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Rows left of workflow `id`: its own, its steps' and their edges'. For tests of
    /// retention.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn count_workflow_rows_for_test(&self, id: &str) -> Result<i64, DbError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM workflows WHERE id = $1) \
                  + (SELECT COUNT(*) FROM workflow_steps WHERE workflow_id = $1) \
                  + (SELECT COUNT(*) FROM workflow_edges e \
                     WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.child_id) \
                       AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.parent_id))",
        )
        .bind(id.to_owned())
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// Jobs per second of tick time of `schedule`: (`schedule:<name>:<second in ms>`, jobs
    /// whose tick falls in that second). For tests and the fault suite: with one tick per
    /// second, two jobs in one second would mean two schedulers disagreed on the instant.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn tick_counts_for_test(
        &self,
        schedule: &str,
    ) -> Result<Vec<(String, i64)>, DbError> {
        let rows = sqlx::query(
            "SELECT run_at / 1000 AS second, COUNT(*) AS n FROM jobs \
             WHERE owner_id = $1 AND idempotency_key LIKE $2 \
             GROUP BY run_at / 1000 ORDER BY run_at / 1000",
        )
        .bind(super::templates::SYSTEM_OWNER)
        .bind(format!("schedule:{schedule}:%"))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let second: i64 = row.try_get("second")?;
                Ok((
                    format!("schedule:{schedule}:{}", second * 1000),
                    row.try_get("n")?,
                ))
            })
            .collect()
    }

    /// Jobs per queue and status, in one query: for `/v1/status`.
    pub async fn job_counts(&self) -> Result<Vec<(String, String, i64)>, DbError> {
        let rows = sqlx::query(
            "SELECT queue, status, COUNT(*) AS n FROM jobs GROUP BY queue, status ORDER BY queue, status",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("queue")?,
                    row.try_get("status")?,
                    row.try_get("n")?,
                ))
            })
            .collect()
    }
}

/// What a person did, as `audit_log` records it.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// The key that acted.
    pub actor: String,
    /// `job.deleted`.
    pub action: String,
    /// The job's id.
    pub subject: String,
    /// Whose it was.
    pub owner_id: Option<String>,
    pub detail: Option<String>,
}

/// The verification code and `is_public` of each deleted job's certificate (read before the
/// registry rows go).
async fn deleted_certificates(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &[sqlx::any::AnyRow],
) -> Result<Vec<(String, bool)>, DbError> {
    let mut ids = Vec::new();
    for row in rows {
        if row.try_get::<String, _>("kind")? == crate::domain::JobKind::Certificate.as_str() {
            ids.push(row.try_get::<String, _>("id")?);
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT verification_code, is_public FROM certificates WHERE job_id IN ({})",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for id in ids {
        query = query.bind(id);
    }
    query
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<String, _>("verification_code")?,
                row.try_get::<i64, _>("is_public")? != 0,
            ))
        })
        .collect()
}

/// Keeps the end of each deleted certificate job in its registry row (`kept_*`), read when
/// the job row is gone.
async fn keep_certificates(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &[sqlx::any::AnyRow],
    status: JobStatus,
) -> Result<(), DbError> {
    for row in rows {
        if row.try_get::<String, _>("kind")? != crate::domain::JobKind::Certificate.as_str() {
            continue;
        }
        sqlx::query(
            "UPDATE certificates SET kept_status = $2, kept_result = $3, kept_finished_at = $4 \
             WHERE job_id = $1",
        )
        .bind(row.try_get::<String, _>("id")?)
        .bind(status.as_str())
        .bind(row.try_get::<Option<String>, _>("result")?)
        .bind(row.try_get::<Option<i64>, _>("finished_at")?)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// One `audit_log` row per deleted job: who (`actor`), what, whose.
async fn audit_deletions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &str,
    rows: &[sqlx::any::AnyRow],
    status: JobStatus,
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO audit_log (id, at, actor, subject, owner_id, detail, action) VALUES {}",
        values(rows.len(), 6, ", 'job.deleted'")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    let now = Timestamp::now().millis();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let detail = if kind == crate::domain::JobKind::Certificate.as_str() {
            format!("{kind} job, {status}; its certificate stays verifiable")
        } else {
            format!("{kind} job, {status}")
        };
        query = query
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(now)
            .bind(actor.to_owned())
            .bind(row.try_get::<String, _>("id")?)
            .bind(row.try_get::<String, _>("owner_id")?)
            .bind(detail);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// The workflow rows of deleted step jobs (`steps`): their step rows and edges, and each
/// workflow of `workflows` whose last job went with them, like a batch.
async fn delete_workflow_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    steps: &[String],
    mut workflows: Vec<String>,
) -> Result<(), DbError> {
    if steps.is_empty() {
        return Ok(());
    }
    let in_list = placeholders(1, steps.len());
    for (table, column) in [
        ("workflow_steps", "job_id"),
        ("workflow_edges", "parent_id"),
        ("workflow_edges", "child_id"),
    ] {
        let sql = format!("DELETE FROM {table} WHERE {column} IN ({in_list})");
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in steps {
            query = query.bind(id.clone());
        }
        query.execute(&mut **tx).await?;
    }
    workflows.sort();
    workflows.dedup();
    let sql = format!(
        "DELETE FROM workflows WHERE id IN ({}) \
         AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.workflow_id = workflows.id)",
        placeholders(1, workflows.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for workflow in workflows {
        query = query.bind(workflow);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}
