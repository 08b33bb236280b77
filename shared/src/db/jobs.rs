//! Job rows: insert (idempotent), read, list (keyset), cancel, and the worker's conditional
//! writes. Every write a worker makes after claiming is fenced by the lease token it was
//! given, so a stale worker can never overwrite a newer attempt.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::idempotency::{KeyHolder, holder_of, release_expired};
use super::pool::{Db, DbError, placeholders};
use crate::domain::{JobId, JobKind, JobStatus, Priority, QueueName, Timestamp};

/// Columns every read returns, in `JobRow::from_row` order.
pub(super) const COLUMNS: &str = "id, kind, queue, owner_id, status, attempt, max_attempts, run_at, payload, \
     result, error_code, error_message, progress, lease_token, created_at, started_at, finished_at, \
     cancel_requested_at, trace_parent, priority, batch_id, workflow_id";

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: JobId,
    pub kind: JobKind,
    pub queue: QueueName,
    pub owner_id: String,
    pub status: JobStatus,
    pub attempt: i64,
    pub max_attempts: i64,
    pub run_at: Timestamp,
    pub payload: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub progress: Option<String>,
    pub lease_token: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// When a client asked to cancel the job while it was running (the worker stops at its
    /// next safe point); kept after the job ends, so a too-late request stays visible.
    pub cancel_requested_at: Option<Timestamp>,
    /// The W3C `traceparent` of what created the job (telemetry.rs), when traces were on.
    pub trace_parent: Option<String>,
    pub priority: Priority,
    /// The batch it belongs to, if any.
    pub batch_id: Option<String>,
    /// The workflow it is a step of, if any.
    pub workflow_id: Option<String>,
}

impl JobRow {
    pub(super) fn from_row(row: &AnyRow) -> Result<JobRow, DbError> {
        let corrupt =
            |what: &str, e: &dyn std::fmt::Display| DbError::Corrupt(format!("{what}: {e}"));
        let text = |name: &str| {
            row.try_get::<String, _>(name)
                .map_err(|e| corrupt(name, &e))
        };
        let opt_text = |name: &str| {
            row.try_get::<Option<String>, _>(name)
                .map_err(|e| corrupt(name, &e))
        };
        let int = |name: &str| row.try_get::<i64, _>(name).map_err(|e| corrupt(name, &e));
        let opt_int = |name: &str| {
            row.try_get::<Option<i64>, _>(name)
                .map_err(|e| corrupt(name, &e))
        };
        let json = |s: String| serde_json::from_str(&s).map_err(|e| corrupt("json", &e));
        Ok(JobRow {
            id: text("id")?.parse().map_err(|e| corrupt("id", &e))?,
            kind: text("kind")?
                .parse()
                .map_err(|e: String| corrupt("kind", &e))?,
            queue: text("queue")?
                .parse()
                .map_err(|e: String| corrupt("queue", &e))?,
            owner_id: text("owner_id")?,
            status: text("status")?
                .parse()
                .map_err(|e: String| corrupt("status", &e))?,
            attempt: int("attempt")?,
            max_attempts: int("max_attempts")?,
            run_at: Timestamp::from_millis(int("run_at")?),
            payload: json(text("payload")?)?,
            result: opt_text("result")?.map(json).transpose()?,
            error_code: opt_text("error_code")?,
            error_message: opt_text("error_message")?,
            progress: opt_text("progress")?,
            lease_token: opt_text("lease_token")?,
            created_at: Timestamp::from_millis(int("created_at")?),
            started_at: opt_int("started_at")?.map(Timestamp::from_millis),
            finished_at: opt_int("finished_at")?.map(Timestamp::from_millis),
            cancel_requested_at: opt_int("cancel_requested_at")?.map(Timestamp::from_millis),
            trace_parent: opt_text("trace_parent")?,
            priority: Priority::from_level(int("priority")?),
            batch_id: opt_text("batch_id")?,
            workflow_id: opt_text("workflow_id")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    pub kind: JobKind,
    pub owner_id: String,
    pub max_attempts: u32,
    pub run_at: Timestamp,
    pub payload: serde_json::Value,
    /// With `request_hash`: a second insert with the same key returns the first job.
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    /// How long the key is remembered; `None` is forever (schedule ticks). An older job
    /// holding the key gives it up, and the insert makes a new job.
    pub idempotency_window: Option<std::time::Duration>,
    /// The batch it belongs to, if any.
    pub batch_id: Option<String>,
    /// The creator's trace context, so the job's attempts continue its trace.
    pub trace_parent: Option<String>,
    /// Maintenance jobs run at `System`, everything else at `Normal` unless the caller says
    /// otherwise (batch rows `Bulk`, notifications `Notification`, a client's choice).
    pub priority: Priority,
    /// The owner's weight among owners of the same priority (1 to 100; see `vtime_sql`).
    pub weight: u32,
    /// Where to deliver the job's end (`job.succeeded`, `job.dead`, `job.cancelled`), signed
    /// with the owner's callback secret.
    pub callback_url: Option<String>,
}

impl NewJob {
    /// The one constructor of a job row: `payload`'s kind, runnable now, no idempotency key,
    /// in no batch. Callers change what differs (a tick's key and instant, a submission's
    /// `Idempotency-Key`, a batch's id). It continues the current span's trace, if any.
    pub fn of<P: crate::jobs::JobPayload>(
        owner_id: impl Into<String>,
        max_attempts: u32,
        payload: &P,
    ) -> NewJob {
        NewJob {
            id: JobId::new(),
            kind: P::KIND,
            owner_id: owner_id.into(),
            max_attempts,
            run_at: Timestamp::now(),
            // Payloads are plain structs whose maps have string keys: serializing cannot fail.
            payload: serde_json::to_value(payload).expect("a job payload serializes"),
            idempotency_key: None,
            request_hash: None,
            idempotency_window: None,
            batch_id: None,
            trace_parent: crate::telemetry::current_traceparent(),
            priority: match P::KIND {
                JobKind::Maintenance => Priority::System,
                _ => Priority::Normal,
            },
            weight: 1,
            callback_url: None,
        }
    }

    /// Virtual time between two of this owner's jobs: a weight of 2 spaces them half as
    /// far, so the owner gets twice the turns.
    pub(super) fn fair_step(&self) -> i64 {
        FAIR_STEP / i64::from(self.weight.clamp(1, MAX_WEIGHT))
    }

    /// `scheduled` when it may not run before a later instant, else `queued`.
    pub fn initial_status(&self, now: i64) -> JobStatus {
        if self.run_at.millis() > now {
            JobStatus::Scheduled
        } else {
            JobStatus::Queued
        }
    }

    /// A `probe` maintenance job owned by `owner_id` (see [`crate::jobs::Probe`]): for the
    /// fault tests, which insert it directly; the API has no way to submit one.
    #[cfg(any(test, feature = "test-support"))]
    pub fn probe(owner_id: &str, probe: crate::jobs::Probe, max_attempts: u32) -> NewJob {
        let payload = crate::jobs::MaintenancePayload {
            task: crate::jobs::MaintenanceTask::Probe,
            schedule: None,
            probe: Some(probe),
            tags: Vec::new(),
        };
        NewJob::of(owner_id, max_attempts, &payload)
    }
}

#[derive(Debug)]
pub enum InsertOutcome {
    Inserted(JobRow),
    /// Same owner, same idempotency key, same request: the original job.
    Existing(JobRow),
    /// Same owner and key but a different request.
    KeyConflict,
}

#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    /// `None` lists every owner's jobs (admin).
    pub owner_id: Option<String>,
    pub status: Option<JobStatus>,
    pub kind: Option<JobKind>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    pub batch_id: Option<String>,
    /// A job id, or text in the payload or the last error message (case-insensitive).
    pub search: Option<String>,
    /// Oldest first (and the cursor moves forward) rather than newest first.
    pub oldest_first: bool,
}

pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

impl JobFilter {
    /// The conditions (`1 = 1 AND …`) with their placeholders, and how many it used.
    fn where_sql(&self) -> (String, usize) {
        let mut sql = String::from("1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if self.owner_id.is_some() {
            sql += &format!(" AND owner_id = {}", next());
        }
        if self.status.is_some() {
            sql += &format!(" AND status = {}", next());
        }
        if self.kind.is_some() {
            sql += &format!(" AND kind = {}", next());
        }
        if self.since.is_some() {
            sql += &format!(" AND created_at >= {}", next());
        }
        if self.until.is_some() {
            sql += &format!(" AND created_at < {}", next());
        }
        if self.batch_id.is_some() {
            sql += &format!(" AND batch_id = {}", next());
        }
        match self.search.as_deref().map(Search::of) {
            Some(Search::Id(_)) => sql += &format!(" AND id = {}", next()),
            Some(Search::Text(_)) => {
                let p = next();
                sql += &format!(
                    " AND (LOWER(payload) LIKE {p} ESCAPE '\\' \
                     OR LOWER(COALESCE(error_message, '')) LIKE {p} ESCAPE '\\')"
                );
            }
            None => {}
        }
        (sql, n)
    }

    /// Binds the values of [`JobFilter::where_sql`]'s placeholders, in order.
    fn bind<'q>(&self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        if let Some(owner) = &self.owner_id {
            query = query.bind(owner.clone());
        }
        if let Some(status) = self.status {
            query = query.bind(status.as_str());
        }
        if let Some(kind) = self.kind {
            query = query.bind(kind.as_str());
        }
        if let Some(since) = self.since {
            query = query.bind(since.millis());
        }
        if let Some(until) = self.until {
            query = query.bind(until.millis());
        }
        if let Some(batch) = &self.batch_id {
            query = query.bind(batch.clone());
        }
        match self.search.as_deref().map(Search::of) {
            Some(Search::Id(id)) => query.bind(id.to_string()),
            Some(Search::Text(pattern)) => query.bind(pattern),
            None => query,
        }
    }
}

/// What a listing's `search` looks for: one job by id, or a `LIKE` pattern (lower case, its
/// own `%`, `_` and `\` escaped) matched against the payload and the last error.
enum Search {
    Id(JobId),
    Text(String),
}

impl Search {
    fn of(text: &str) -> Search {
        let text = text.trim();
        if let Ok(id) = text.parse::<JobId>() {
            return Search::Id(id);
        }
        let mut pattern = String::with_capacity(text.len() + 2);
        pattern.push('%');
        for c in text.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        Search::Text(pattern)
    }
}

/// Position after the last row of a page: listings are newest first, by (created_at, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub created_at: i64,
    pub id: String,
}

impl ListCursor {
    /// The cursor's syntax, which the OpenAPI document states: the milliseconds (1 to 18
    /// digits), `_`, the id in its hyphenated form. [`ListCursor::decode`] takes exactly
    /// these, so a client can tell a cursor from anything else without asking.
    pub const PATTERN: &'static str = concat!(
        "^[0-9]{1,18}_",
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    );

    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at, self.id)
    }

    pub fn decode(s: &str) -> Option<ListCursor> {
        let (at, id) = s.split_once('_')?;
        Some(ListCursor {
            created_at: cursor_millis(at)?,
            id: cursor_id(id)?.to_string(),
        })
    }
}

/// The milliseconds of a cursor: 1 to 18 ASCII digits (no sign), as [`ListCursor::PATTERN`]
/// says.
pub fn cursor_millis(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The id of a cursor: a UUID in its hyphenated form only (36 characters), as
/// [`ListCursor::PATTERN`] says.
pub fn cursor_id(text: &str) -> Option<JobId> {
    if text.len() != 36 {
        return None;
    }
    text.parse().ok()
}

#[derive(Debug)]
pub enum CancelOutcome {
    /// It was waiting: cancelled at once.
    Cancelled(Box<JobRow>),
    /// It is running: the request is recorded (`cancel_requested_at`); the worker holding it
    /// stops at its next safe point once signalled.
    Requested(Box<JobRow>),
    NotFound,
    /// The job is finished; carries its current status.
    NotCancellable(JobStatus),
}

#[derive(Debug)]
pub enum RetryOutcome {
    Requeued(Box<JobRow>),
    NotFound,
    /// Only `dead` and `failed` jobs can be retried; carries the current status.
    NotRetryable(JobStatus),
}

/// A job a worker has claimed for one attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub job: JobRow,
    pub lease_token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Recorded as `failed`; a message must be pushed for `run_at`.
    WillRetry,
    /// Recorded as `dead`: no attempts left or a permanent error.
    Dead,
    /// Recorded as `cancelled` instead of `failed`: cancelling was asked while it ran, so
    /// it must not run again.
    Cancelled,
    /// The lease was lost (rescued, cancelled): this attempt's result is discarded.
    Stale,
}

/// What a heartbeat learnt about the attempt it extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Extended; nobody asked to cancel.
    Held,
    /// Extended, but cancelling was asked: stop at the next safe point.
    CancelRequested,
    /// No longer ours (rescued, released): this attempt's result will be discarded.
    Lost,
}

/// A job waiting in the database whose queue message should exist.
#[derive(Debug, Clone)]
pub struct WaitingJob {
    pub id: JobId,
    pub queue: QueueName,
    pub run_at: Timestamp,
}

impl Db {
    pub async fn insert_job(&self, job: &NewJob) -> Result<InsertOutcome, DbError> {
        let mut tx = self.pool().begin().await?;
        let outcome = insert_job_in(&mut tx, job).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Removes a job that was never acknowledged to anyone (its queue push failed).
    pub async fn delete_unacknowledged_job(&self, id: JobId) -> Result<(), DbError> {
        sqlx::query(
            "DELETE FROM jobs WHERE id = $1 AND status IN ('queued', 'scheduled') AND attempt = 0",
        )
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One job, if it exists and (when `owner_id` is given) belongs to that owner.
    pub async fn get_job(
        &self,
        id: JobId,
        owner_id: Option<&str>,
    ) -> Result<Option<JobRow>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE id = $1 AND ($2 IS NULL OR owner_id = $2)"
        )))
        .bind(id.to_string())
        .bind(owner_id.map(str::to_owned))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(JobRow::from_row).transpose()
    }

    /// One page, newest first, after `cursor`; a single indexed query.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        cursor: Option<&ListCursor>,
        limit: u32,
    ) -> Result<Vec<JobRow>, DbError> {
        let (mut sql, mut n) = filter.where_sql();
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let (before, order) = if filter.oldest_first {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        if cursor.is_some() {
            let (a, b) = (next(), next());
            sql += &format!(
                " AND (created_at {before} {a} OR (created_at = {a} AND id {before} {b}))"
            );
        }
        sql += &format!(" ORDER BY created_at {order}, id {order} LIMIT {}", next());
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE {sql}");
        // As in `count_jobs_capped`: each filter planned with its own values.
        let mut query = filter.bind(sqlx::query(AssertSqlSafe(sql)).persistent(false));
        if let Some(c) = cursor {
            query = query.bind(c.created_at).bind(c.id.clone());
        }
        let rows = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        rows.iter().map(JobRow::from_row).collect()
    }

    /// The notification emails `job` made (`notify`), through the owner's idempotency keys
    /// (an index lookup): their ids and statuses.
    pub async fn notification_emails(
        &self,
        owner_id: &str,
        job: JobId,
    ) -> Result<Vec<(String, String)>, DbError> {
        let [succeeded, dead] = crate::notify::notification_keys(job);
        let rows = sqlx::query(
            "SELECT id, status FROM jobs WHERE owner_id = $1 AND idempotency_key IN ($2, $3) \
             ORDER BY created_at",
        )
        .bind(owner_id.to_owned())
        .bind(succeeded)
        .bind(dead)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("status")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// How many jobs `filter` lets through, counting no further than `cap` + 1: an answer
    /// above `cap` means "more than `cap`", at a bounded cost on any table size.
    pub async fn count_jobs_capped(&self, filter: &JobFilter, cap: i64) -> Result<i64, DbError> {
        let (sql, n) = filter.where_sql();
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM jobs WHERE {sql} LIMIT ${}) capped",
            n + 1
        );
        // Planned with this request's values every time (not a cached generic plan, which
        // cannot tell a day's jobs from all of them and scans the table).
        let row = filter
            .bind(sqlx::query(AssertSqlSafe(sql)).persistent(false))
            .bind(cap + 1)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Cancels a job: one no worker holds (`scheduled`, `waiting` for its workflow parents,
    /// `queued`, or `failed` and waiting for a retry)
    /// at once; a `running` one by recording the request (the first request's time is kept),
    /// for the worker to act on. One statement, so a job that changes state meanwhile is
    /// judged by the state it is in when the update runs.
    pub async fn cancel_job(
        &self,
        id: JobId,
        owner_id: Option<&str>,
    ) -> Result<CancelOutcome, DbError> {
        let now = Timestamp::now().millis();
        // The right-hand sides read the row's values from before the update.
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET \
               status = CASE WHEN status = 'running' THEN status ELSE 'cancelled' END, \
               finished_at = CASE WHEN status = 'running' THEN finished_at ELSE $3 END, \
               cancel_requested_at = CASE WHEN status = 'running' \
                 THEN COALESCE(cancel_requested_at, $3) ELSE cancel_requested_at END, \
               updated_at = $3 \
             WHERE id = $1 AND ($2 IS NULL OR owner_id = $2) \
               AND status IN ('scheduled', 'waiting', 'queued', 'failed', 'running') \
             RETURNING {COLUMNS}"
        )))
        .bind(id.to_string())
        .bind(owner_id.map(str::to_owned))
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        if let Some(row) = row {
            let job = Box::new(JobRow::from_row(&row)?);
            return Ok(if job.status == JobStatus::Running {
                CancelOutcome::Requested(job)
            } else {
                CancelOutcome::Cancelled(job)
            });
        }
        Ok(match self.get_job(id, owner_id).await? {
            None => CancelOutcome::NotFound,
            Some(job) => CancelOutcome::NotCancellable(job.status),
        })
    }

    /// Puts a `dead` or `failed` job back in the queue now, with `extra_attempts` more
    /// attempts than it has used. The last error is cleared; the attempt count is kept. It
    /// gets a fresh virtual time, as if submitted now: a job asked for again takes its turn
    /// behind the owner's other jobs, not the place it had when it first ran (an automatic
    /// retry keeps that place; a manual one is a new request).
    pub async fn retry_job(
        &self,
        id: JobId,
        owner_id: Option<&str>,
        extra_attempts: u32,
    ) -> Result<RetryOutcome, DbError> {
        let now = Timestamp::now().millis();
        let vtime = vtime_sql(
            "jobs.owner_id",
            "jobs.queue",
            "jobs.priority",
            "$3",
            &owner_step_sql("jobs.owner_id", "$5"),
        );
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'queued', run_at = $3, max_attempts = attempt + $4, \
             error_code = NULL, error_message = NULL, finished_at = NULL, pushed_at = $3, \
             updated_at = $3, cancel_requested_at = NULL, vtime = {vtime} \
             WHERE id = $1 AND ($2 IS NULL OR owner_id = $2) AND status IN ('dead', 'failed') \
             RETURNING {COLUMNS}"
        )))
        .bind(id.to_string())
        .bind(owner_id.map(str::to_owned))
        .bind(now)
        .bind(i64::from(extra_attempts))
        .bind(FAIR_STEP)
        .fetch_optional(self.pool())
        .await?;
        if let Some(row) = row {
            return Ok(RetryOutcome::Requeued(Box::new(JobRow::from_row(&row)?)));
        }
        Ok(match self.get_job(id, owner_id).await? {
            None => RetryOutcome::NotFound,
            Some(job) => RetryOutcome::NotRetryable(job.status),
        })
    }

    /// Takes a waiting job for one attempt: `running`, attempt + 1, a fresh lease. `None` when
    /// the job is not waiting (already taken, finished, cancelled, or unknown): the message
    /// that led here was a duplicate and is dropped.
    pub async fn claim_job(
        &self,
        id: JobId,
        worker: &str,
        lease_ms: i64,
    ) -> Result<Option<Claimed>, DbError> {
        let now = Timestamp::now().millis();
        let token = uuid::Uuid::new_v4().to_string();
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'running', attempt = attempt + 1, lease_token = $2, \
             lease_expires_at = $3, worker = $4, started_at = $5, updated_at = $5, \
             progress = NULL \
             WHERE id = $1 AND status IN ('queued', 'failed') AND run_at <= $5 \
             RETURNING {COLUMNS}"
        )))
        .bind(id.to_string())
        .bind(token.clone())
        .bind(now + lease_ms)
        .bind(worker.to_owned())
        .bind(now)
        .fetch_optional(self.claims())
        .await?;
        row.map(|row| {
            Ok(Claimed {
                job: JobRow::from_row(&row)?,
                lease_token: token,
            })
        })
        .transpose()
    }

    /// Takes the best ready job of `queue` for one attempt: the highest priority, then the
    /// lowest virtual time (owners take turns, see `vtime_sql`), then the oldest id. A
    /// message is a wake-up, not an assignment: whichever job it names, the worker runs the
    /// one that should run next, so priority and fairness hold on every queue backend and
    /// after any re-push. `None` when no job is ready. With `per_key` > 0, an owner with
    /// that many jobs of the queue running gets none more until one ends (on PostgreSQL the
    /// queue's claims then take turns on an advisory lock, so the cap holds across workers).
    pub async fn claim_next(
        &self,
        queue: QueueName,
        worker: &str,
        lease_ms: i64,
        per_key: u32,
    ) -> Result<Option<Claimed>, DbError> {
        // On PostgreSQL a claim can come back empty while a job is ready: its subquery's
        // candidate was taken by a concurrent claim that committed meanwhile, and `LIMIT 1
        // FOR UPDATE` then drops it rather than look further. This message would be spent
        // with a job left waiting for the rescuer, so look again while one is ready.
        let capped = capped_sql(per_key);
        for _ in 0..CLAIM_ROUNDS {
            if let Some(claimed) = self
                .claim_next_once(queue, worker, lease_ms, per_key, &capped)
                .await?
            {
                return Ok(Some(claimed));
            }
            if !self.has_ready_job(queue, &capped).await? {
                break;
            }
        }
        Ok(None)
    }

    /// Whether `queue` has a job a claim could take now (`capped`: see `capped_sql`).
    async fn has_ready_job(&self, queue: QueueName, capped: &str) -> Result<bool, DbError> {
        let ready: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT 1 FROM jobs WHERE queue = $1 AND status IN ('queued', 'failed') \
             AND run_at <= $2{capped} LIMIT 1"
        )))
        .bind(queue.as_str())
        .bind(Timestamp::now().millis())
        .fetch_optional(self.pool())
        .await?;
        Ok(ready.is_some())
    }

    async fn claim_next_once(
        &self,
        queue: QueueName,
        worker: &str,
        lease_ms: i64,
        per_key: u32,
        capped: &str,
    ) -> Result<Option<Claimed>, DbError> {
        let token = uuid::Uuid::new_v4().to_string();
        // PostgreSQL: concurrent claimers skip each other's candidate instead of queueing on
        // it. SQLite runs one writer at a time, so the subquery's pick is still waiting when
        // the update applies.
        let postgres = self.backend() == super::pool::DatabaseBackend::Postgres;
        let lock = if postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        // SQLite: the clock is read by the statement as it runs, after its wait for the
        // write lock (a time bound before the wait could precede the end of the attempt
        // whose write held the lock; PostgreSQL reads it after its own lock, below).
        let started = if postgres {
            "$5"
        } else {
            "MAX($5, CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER))"
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempt = attempt + 1, lease_token = $2, \
             lease_expires_at = $3, worker = $4, started_at = {started}, updated_at = $5, \
             progress = NULL \
             WHERE id = (SELECT id FROM jobs WHERE queue = $1 \
                           AND status IN ('queued', 'failed') AND run_at <= $5{capped} \
                         ORDER BY priority DESC, vtime, id LIMIT 1 {lock}) \
               AND status IN ('queued', 'failed') \
             RETURNING {COLUMNS}"
        );
        // The time is read when the claim is made, after any wait for the lock below: a
        // `started_at` from before the wait would put this attempt's start before the end of
        // the one that held the lock.
        let update = |now: i64| {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(queue.as_str())
                .bind(token.clone())
                .bind(now + lease_ms)
                .bind(worker.to_owned())
                .bind(now)
        };
        let row = if postgres && per_key > 0 {
            // Two claims counting an owner's running jobs at once would both see room.
            let mut tx = self.claims().begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(CLAIM_LOCK + queue_index(queue))
                .execute(&mut *tx)
                .await?;
            let row = update(Timestamp::now().millis())
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        } else {
            update(Timestamp::now().millis())
                .fetch_optional(self.claims())
                .await?
        };
        row.map(|row| {
            Ok(Claimed {
                job: JobRow::from_row(&row)?,
                lease_token: token,
            })
        })
        .transpose()
    }

    /// Scheduled jobs whose `run_at` has come become `queued`, each with the virtual time
    /// it would get if it were submitted now (so it waits its turn among its owner's jobs,
    /// not ahead of everyone's). Returns them, for the caller to push. At most `limit`.
    ///
    /// The statement reads one snapshot, so the base (`vtime_sql`) is the same for every row
    /// of an owner it promotes: the rows are numbered per (owner, queue, priority), as a batch
    /// numbers its rows, and spaced by the owner's step. Otherwise one owner's thousand due
    /// jobs would share one virtual time and run as a block ahead of every other key.
    pub async fn promote_scheduled(&self, limit: u32) -> Result<Vec<WaitingJob>, DbError> {
        let now = Timestamp::now().millis();
        let base = vtime_sql("d.owner_id", "d.queue", "d.priority", "$1", "0");
        let step = owner_step_sql("d.owner_id", "$3");
        let rows = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'queued', vtime = due.base + due.n * due.step, \
             pushed_at = $1, updated_at = $1 \
             FROM (SELECT d.id AS due_id, {base} AS base, {step} AS step, \
                     ROW_NUMBER() OVER (PARTITION BY d.owner_id, d.queue, d.priority \
                                        ORDER BY d.run_at, d.id) AS n \
                   FROM (SELECT id, owner_id, queue, priority, run_at FROM jobs \
                         WHERE status = 'scheduled' AND run_at <= $1 \
                         ORDER BY run_at, id LIMIT $2) AS d) AS due \
             WHERE jobs.id = due.due_id AND jobs.status = 'scheduled' \
             RETURNING id, queue, run_at"
        )))
        .bind(now)
        .bind(i64::from(limit))
        .bind(FAIR_STEP)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(waiting_from_row).collect()
    }

    /// When the earliest `scheduled` job falls due, if there is one (the promoter sleeps
    /// until then).
    pub async fn next_scheduled_at(&self) -> Result<Option<Timestamp>, DbError> {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT MIN(run_at) FROM jobs WHERE status = 'scheduled'")
                .fetch_one(self.pool())
                .await?;
        Ok(at.map(Timestamp::from_millis))
    }

    /// Extends a running attempt's lease, and tells whether cancelling was asked: the
    /// heartbeat is how a worker learns of a request whose signal it missed.
    pub async fn extend_lease(
        &self,
        id: JobId,
        token: &str,
        lease_ms: i64,
    ) -> Result<Lease, DbError> {
        let now = Timestamp::now().millis();
        let row = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $3, updated_at = $4 \
             WHERE id = $1 AND lease_token = $2 AND status = 'running' \
             RETURNING cancel_requested_at",
        )
        .bind(id.to_string())
        .bind(token.to_owned())
        .bind(now + lease_ms)
        .bind(now)
        .fetch_optional(self.claims())
        .await?;
        let Some(row) = row else {
            return Ok(Lease::Lost);
        };
        let requested: Option<i64> = row.try_get("cancel_requested_at")?;
        Ok(if requested.is_some() {
            Lease::CancelRequested
        } else {
            Lease::Held
        })
    }

    /// Gives a running attempt back (graceful shutdown ran out of time): `queued` again at
    /// once, the attempt not counted. Returns its queue to push it to, or `None` when the
    /// lease is no longer ours or cancelling was asked (then it ends `cancelled` instead:
    /// a job with a cancel request never runs again).
    pub async fn release_job(&self, id: JobId, token: &str) -> Result<Option<QueueName>, DbError> {
        let now = Timestamp::now().millis();
        let row = sqlx::query(
            "UPDATE jobs SET \
               status = CASE WHEN cancel_requested_at IS NULL THEN 'queued' ELSE 'cancelled' END, \
               attempt = CASE WHEN cancel_requested_at IS NULL THEN attempt - 1 ELSE attempt END, \
               finished_at = CASE WHEN cancel_requested_at IS NULL THEN NULL ELSE $3 END, \
               error_code = CASE WHEN cancel_requested_at IS NULL THEN error_code \
                 ELSE 'cancelled' END, \
               error_message = CASE WHEN cancel_requested_at IS NULL THEN error_message \
                 ELSE 'cancelled as requested (the worker was shutting down)' END, \
               lease_token = NULL, lease_expires_at = NULL, worker = NULL, run_at = $3, \
               pushed_at = $3, updated_at = $3 \
             WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING queue, status",
        )
        .bind(id.to_string())
        .bind(token.to_owned())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let status: String = row.try_get("status")?;
        if status != "queued" {
            return Ok(None);
        }
        let queue: String = row.try_get("queue")?;
        queue.parse().map(Some).map_err(DbError::Corrupt)
    }

    /// Records progress of a running attempt (e.g. `rendering`).
    pub async fn set_progress(
        &self,
        id: JobId,
        token: &str,
        progress: &str,
    ) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE jobs SET progress = $3 WHERE id = $1 AND lease_token = $2 AND status = 'running'",
        )
        .bind(id.to_string())
        .bind(token.to_owned())
        .bind(progress.to_owned())
        .execute(self.claims())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records success; false when the lease was lost and the result must be discarded.
    /// `follow_up` (a notification email) is inserted in the same transaction, so it exists
    /// exactly when the success does; the caller pushes it (or the rescuer does).
    pub async fn complete_job(
        &self,
        id: JobId,
        token: &str,
        result: &serde_json::Value,
        follow_up: Option<&NewJob>,
    ) -> Result<bool, DbError> {
        let now = Timestamp::now().millis();
        let update = sqlx::query(
            "UPDATE jobs SET status = 'succeeded', result = $3, finished_at = $4, updated_at = $4, \
             lease_token = NULL, lease_expires_at = NULL, error_code = NULL, error_message = NULL, \
             progress = NULL \
             WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING status",
        )
        .bind(id.to_string())
        .bind(token.to_owned())
        .bind(result.to_string())
        .bind(now);
        Ok(self.fenced_update(update, follow_up).await?.is_some())
    }

    /// Records that a running attempt stopped at a safe point because cancelling was asked:
    /// `cancelled` with the error code `cancelled`, fenced like every write of the attempt.
    /// False when the lease was lost.
    pub async fn cancel_attempt(
        &self,
        id: JobId,
        token: &str,
        message: &str,
    ) -> Result<bool, DbError> {
        let now = Timestamp::now().millis();
        let done = sqlx::query(
            "UPDATE jobs SET status = 'cancelled', error_code = 'cancelled', error_message = $3, \
             finished_at = $4, updated_at = $4, lease_token = NULL, lease_expires_at = NULL, \
             progress = NULL \
             WHERE id = $1 AND lease_token = $2 AND status = 'running'",
        )
        .bind(id.to_string())
        .bind(token.to_owned())
        .bind(message.to_owned())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Runs a fenced update of one job (`... RETURNING status`); when it applied and there
    /// is a `follow_up`, inserts that job in the same transaction. Without one, no
    /// transaction: this is every job's completion path. The status written, or `None` when
    /// the lease was no longer ours.
    async fn fenced_update(
        &self,
        update: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
        follow_up: Option<&NewJob>,
    ) -> Result<Option<String>, DbError> {
        let Some(job) = follow_up else {
            let row = update.fetch_optional(self.pool()).await?;
            return Ok(row.map(|r| r.try_get("status")).transpose()?);
        };
        let mut tx = self.pool().begin().await?;
        let Some(row) = update.fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let status: String = row.try_get("status")?;
        insert_job_in(&mut tx, job).await?;
        tx.commit().await?;
        Ok(Some(status))
    }

    /// Records a failed attempt: `failed` with a new run time when `retry_at` is given,
    /// otherwise `dead`. The error is kept either way. `if_dead` (a failure notification) is
    /// inserted in the same transaction when the job ends `dead`. A job that would be
    /// retried but whose cancelling was asked meanwhile ends `cancelled` instead.
    pub async fn fail_job(
        &self,
        id: JobId,
        token: &str,
        code: &str,
        message: &str,
        retry_at: Option<Timestamp>,
        if_dead: Option<&NewJob>,
    ) -> Result<FailOutcome, DbError> {
        let now = Timestamp::now().millis();
        let (status, dead) = match retry_at {
            Some(_) => ("failed", false),
            None => ("dead", true),
        };
        let update = sqlx::query(
            "UPDATE jobs SET \
               status = CASE WHEN $3 = 'failed' AND cancel_requested_at IS NOT NULL \
                 THEN 'cancelled' ELSE $3 END, \
               error_code = $4, error_message = $5, \
               run_at = COALESCE($6, run_at), pushed_at = $7, updated_at = $7, \
               finished_at = CASE WHEN $3 = 'failed' AND cancel_requested_at IS NULL \
                 THEN NULL ELSE $7 END, \
               lease_token = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING status",
        )
        .bind(id.to_string())
        .bind(token.to_owned())
        .bind(status)
        .bind(code.to_owned())
        .bind(message.to_owned())
        .bind(retry_at.map(|t| t.millis()))
        .bind(now);
        let follow_up = if_dead.filter(|_| dead);
        Ok(
            match self.fenced_update(update, follow_up).await?.as_deref() {
                None => FailOutcome::Stale,
                Some("failed") => FailOutcome::WillRetry,
                Some("cancelled") => FailOutcome::Cancelled,
                Some(_) => FailOutcome::Dead,
            },
        )
    }

    /// Waiting jobs due since before `stale_before` whose message was last pushed before it:
    /// their message may be lost. The rescuer pushes them again (a duplicate is harmless:
    /// only one claim can succeed).
    pub async fn stale_waiting_jobs(
        &self,
        stale_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<WaitingJob>, DbError> {
        let rows = sqlx::query(
            "SELECT id, queue, run_at FROM jobs WHERE status IN ('queued', 'failed') \
             AND run_at <= $1 AND (pushed_at IS NULL OR pushed_at <= $1) \
             ORDER BY run_at LIMIT $2",
        )
        .bind(stale_before.millis())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(waiting_from_row).collect()
    }

    /// Running jobs whose lease expired (their worker died or hung): the attempt counts, and
    /// the job becomes `failed` (to retry now) or `dead` when no attempts are left, or
    /// `cancelled` when cancelling was asked. Returns those to retry, and the ids of those
    /// now dead (cancelled ones are neither: nothing more happens to them).
    pub async fn expire_leases(
        &self,
        limit: u32,
    ) -> Result<(Vec<WaitingJob>, Vec<JobId>), DbError> {
        let now = Timestamp::now().millis();
        let rows = sqlx::query(
            "UPDATE jobs SET \
               status = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' \
                 WHEN attempt >= max_attempts THEN 'dead' ELSE 'failed' END, \
               finished_at = CASE WHEN cancel_requested_at IS NULL AND attempt < max_attempts \
                 THEN NULL ELSE $1 END, \
               error_code = 'lease_expired', \
               error_message = 'the worker running this attempt stopped answering', \
               lease_token = NULL, lease_expires_at = NULL, run_at = $1, pushed_at = $1, \
               updated_at = $1 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_expires_at < $1 \
                          LIMIT $2) AND status = 'running' \
             RETURNING id, queue, run_at, status",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut retry = Vec::new();
        let mut dead = Vec::new();
        for row in &rows {
            let status: String = row.try_get("status").map_err(DbError::from)?;
            let job = waiting_from_row(row)?;
            match status.as_str() {
                "failed" => retry.push(job),
                "dead" => dead.push(job.id),
                _ => {}
            }
        }
        Ok((retry, dead))
    }

    /// These jobs, in one query (any owner; missing ids are skipped).
    pub async fn jobs_by_ids(&self, ids: &[JobId]) -> Result<Vec<JobRow>, DbError> {
        jobs_by_ids_in(self.pool(), ids).await
    }

    /// Notes that these jobs' messages were just pushed.
    pub async fn mark_pushed(&self, ids: &[JobId]) -> Result<(), DbError> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = Timestamp::now().millis();
        let sql = format!(
            "UPDATE jobs SET pushed_at = $1 WHERE id IN ({})",
            placeholders(2, ids.len())
        );
        // One text per list length: not worth a cached prepared statement on every connection.
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false).bind(now);
        for id in ids {
            query = query.bind(id.to_string());
        }
        query.execute(self.pool()).await?;
        Ok(())
    }
}

fn waiting_from_row(row: &AnyRow) -> Result<WaitingJob, DbError> {
    let id: String = row.try_get("id").map_err(DbError::from)?;
    let queue: String = row.try_get("queue").map_err(DbError::from)?;
    let run_at: i64 = row.try_get("run_at").map_err(DbError::from)?;
    Ok(WaitingJob {
        id: id
            .parse()
            .map_err(|e| DbError::Corrupt(format!("id: {e}")))?,
        queue: queue.parse().map_err(DbError::Corrupt)?,
        run_at: Timestamp::from_millis(run_at),
    })
}

/// [`Db::jobs_by_ids`] on any executor (a transaction's connection, or the pool).
pub(super) async fn jobs_by_ids_in<'c, E>(
    executor: E,
    ids: &[JobId],
) -> Result<Vec<JobRow>, DbError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE id IN ({})",
        placeholders(1, ids.len())
    );
    // One text per list length: not worth a cached prepared statement on every connection.
    let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for id in ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(executor).await?;
    rows.iter().map(JobRow::from_row).collect()
}

/// Inserts a job inside the caller's transaction, so rows that belong with it (a certificate,
/// a batch) commit or roll back together.
pub(super) async fn insert_job_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job: &NewJob,
) -> Result<InsertOutcome, DbError> {
    let now = Timestamp::now().millis();
    if let (Some(key), Some(window)) = (&job.idempotency_key, job.idempotency_window) {
        release_expired(&mut **tx, KeyHolder::Jobs, &job.owner_id, key, window).await?;
    }
    let payload = job.payload.to_string();
    let vtime = vtime_sql("$4", "$3", "$13", "$10", "$15");
    let insert = format!(
        "INSERT INTO jobs (id, kind, queue, owner_id, status, attempt, max_attempts, run_at, \
         payload, idempotency_key, request_hash, batch_id, trace_parent, pushed_at, created_at, \
         updated_at, priority, vtime, callback_url) \
         VALUES ($1, $2, $3, $4, $14, 0, $5, $6, $7, $8, $9, $11, $12, $10, $10, $10, $13, {vtime}, \
         $16) \
         {} RETURNING {COLUMNS}",
        if job.idempotency_key.is_some() {
            "ON CONFLICT (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
        } else {
            ""
        }
    );
    let row = sqlx::query(AssertSqlSafe(insert))
        .bind(job.id.to_string())
        .bind(job.kind.as_str())
        .bind(job.kind.queue().as_str())
        .bind(&job.owner_id)
        .bind(i64::from(job.max_attempts))
        .bind(job.run_at.millis())
        .bind(payload)
        .bind(job.idempotency_key.clone())
        .bind(job.request_hash.clone())
        .bind(now)
        .bind(job.batch_id.clone())
        .bind(job.trace_parent.clone())
        .bind(job.priority.level())
        .bind(job.initial_status(now).as_str())
        .bind(job.fair_step())
        .bind(job.callback_url.clone())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = row {
        return Ok(InsertOutcome::Inserted(JobRow::from_row(&row)?));
    }
    // The key was used before by this owner.
    let key = job.idempotency_key.as_deref().unwrap_or_default();
    // The holder was withdrawn meanwhile (its push failed): the client may simply retry.
    let gone = || DbError::Unavailable("a concurrent request holds this key".into());
    let (id, hash) = holder_of(&mut **tx, KeyHolder::Jobs, &job.owner_id, key)
        .await?
        .ok_or_else(gone)?;
    if Some(&hash) != job.request_hash.as_ref() {
        return Ok(InsertOutcome::KeyConflict);
    }
    let existing = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM jobs WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(gone)?;
    Ok(InsertOutcome::Existing(JobRow::from_row(&existing)?))
}

/// The advisory lock of a queue's capped claims (plus the queue's index): "quire" in ASCII.
const CLAIM_LOCK: i64 = 0x7175_6972_6500;

fn queue_index(queue: QueueName) -> i64 {
    QueueName::ALL.iter().position(|q| *q == queue).unwrap_or(0) as i64
}

/// The claim's condition for a per-key cap: not an owner with `per_key` jobs of the queue
/// ($1) running. Empty without a cap. The number is the configuration's, never a client's.
fn capped_sql(per_key: u32) -> String {
    if per_key == 0 {
        return String::new();
    }
    format!(
        " AND owner_id NOT IN (SELECT owner_id FROM jobs WHERE queue = $1 \
          AND status = 'running' GROUP BY owner_id HAVING COUNT(*) >= {per_key})"
    )
}

/// Claims `claim_next` tries while jobs are ready but each try lost its candidate to a
/// concurrent claim: enough for the claims in flight of a few workers, and bounded.
const CLAIM_ROUNDS: usize = 8;

/// Virtual time between two jobs of one owner of weight 1 (start-time fair queueing).
pub(super) const FAIR_STEP: i64 = 1000;
/// The largest weight an owner may have (its step is then `FAIR_STEP / MAX_WEIGHT`).
pub const MAX_WEIGHT: u32 = 100;

/// The virtual time of a job `owner` submits now to (`queue`, `priority`): one `step` after
/// the later of the owner's last ready job and the queue's head (its lowest ready virtual
/// time). So an owner with a long backlog has its jobs spaced out behind the head, and a
/// newcomer's job lands right behind the head, not behind the backlog: the claim's
/// `ORDER BY priority DESC, vtime` then alternates between owners. Jobs waiting for a retry
/// time are left out of both, so a job in backoff neither holds the head back nor pushes its
/// owner's next jobs away; but when nothing is ready, the head is the lowest job in backoff,
/// so jobs submitted to an otherwise idle queue line up behind a retry that comes due rather
/// than ahead of it (the clock never restarts below a waiting job). Arguments are SQL
/// expressions (placeholders or columns); `now` is in Unix milliseconds. The tables inside are aliased, so `jobs.<column>` arguments name
/// the row of an enclosing `UPDATE jobs`.
pub(super) fn vtime_sql(owner: &str, queue: &str, priority: &str, now: &str, step: &str) -> String {
    format!(
        "(COALESCE((SELECT MAX(v) FROM (\
           SELECT MAX(mine.vtime) AS v FROM jobs AS mine WHERE mine.owner_id = {owner} \
             AND mine.queue = {queue} AND mine.priority = {priority} \
             AND mine.status IN ('queued', 'failed') AND mine.run_at <= {now} \
           UNION ALL \
           SELECT COALESCE(\
             (SELECT MIN(head.vtime) FROM jobs AS head WHERE head.queue = {queue} \
               AND head.priority = {priority} AND head.status IN ('queued', 'failed') \
               AND head.run_at <= {now}), \
             (SELECT MIN(later.vtime) FROM jobs AS later WHERE later.queue = {queue} \
               AND later.priority = {priority} AND later.status IN ('queued', 'failed'))) AS v \
           ) AS fair), 0) + {step})"
    )
}

/// The step of `owner` (an SQL expression) when the job's row carries no weight: `fair`
/// (FAIR_STEP's placeholder) divided by the weight of the owner's key (1 to [`MAX_WEIGHT`]),
/// as [`NewJob::fair_step`] has it; `fair` itself for an owner without a key (the system).
fn owner_step_sql(owner: &str, fair: &str) -> String {
    format!(
        "COALESCE((SELECT CASE WHEN k.fair_weight >= {MAX_WEIGHT} THEN {fair} / {MAX_WEIGHT} \
           WHEN k.fair_weight > 1 THEN {fair} / k.fair_weight ELSE {fair} END \
           FROM api_keys AS k WHERE k.id = {owner}), {fair})"
    )
}

/// The virtual time before the first of `owner`'s next jobs in (`queue`, `priority`): what
/// [`vtime_sql`] adds its step to, for a batch that numbers its rows itself.
pub(super) async fn fair_base(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: &str,
    queue: QueueName,
    priority: Priority,
    now: i64,
) -> Result<i64, DbError> {
    let sql = format!("SELECT {} AS base", vtime_sql("$1", "$2", "$3", "$4", "0"));
    let base: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(owner.to_owned())
        .bind(queue.as_str())
        .bind(priority.level())
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
    Ok(base)
}
