//! The event log and the pump that fills it. Triggers write each job status change and
//! certificate revocation into `event_outbox` in the transaction of the change; the pump,
//! one at a time, moves committed outbox rows into `events`, giving each its `seq` as it is
//! written (once: no second write to number it), marks batches whose last job finished (a
//! `batch.completed` event), and creates the webhook deliveries each event calls for, all in
//! one transaction. So every committed transition gets exactly one `seq` and exactly one
//! delivery per subscribed endpoint, whatever crashes where.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::certificates::{bind_job, insert_jobs_sql};
use super::jobs::{JobRow, NewJob, fair_base, jobs_by_ids_in};
use super::pool::{DatabaseBackend, Db, DbError, placeholders, values};
use super::webhooks::delivery_job;
use crate::domain::{JobId, JobStatus, Priority, QueueName, Timestamp};
use crate::job_view::JobView;

/// An event as readers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub event_type: String,
    pub owner_id: String,
    pub job_id: Option<String>,
    pub batch_id: Option<String>,
    /// The workflow of a `workflow.*` event.
    pub workflow_id: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub attempt: Option<i64>,
    pub at: Timestamp,
    callback_url: Option<String>,
}

/// One status change of a job (see [`Db::job_history`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub status: String,
    pub attempt: i64,
    pub at: Timestamp,
    /// The worker that ran the attempt (on `running` and the attempt's end).
    pub worker: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

const EVENT_COLUMNS: &str =
    "seq, type, owner_id, job_id, batch_id, workflow_id, kind, status, attempt, at, callback_url";

/// The columns an event keeps when it moves from the outbox into `events`.
const MOVED: &str = "type, owner_id, job_id, batch_id, workflow_id, kind, status, attempt, \
                     callback_url, at, \
                     worker, error_code, error_message";

impl Event {
    fn from_row(row: &AnyRow) -> Result<Event, DbError> {
        let corrupt = |e: sqlx::Error| DbError::Corrupt(format!("event: {e}"));
        Ok(Event {
            seq: row.try_get("seq").map_err(corrupt)?,
            event_type: row.try_get("type").map_err(corrupt)?,
            owner_id: row.try_get("owner_id").map_err(corrupt)?,
            job_id: row.try_get("job_id").map_err(corrupt)?,
            batch_id: row.try_get("batch_id").map_err(corrupt)?,
            workflow_id: row.try_get("workflow_id").map_err(corrupt)?,
            kind: row.try_get("kind").map_err(corrupt)?,
            status: row.try_get("status").map_err(corrupt)?,
            attempt: row.try_get("attempt").map_err(corrupt)?,
            at: Timestamp::from_millis(row.try_get("at").map_err(corrupt)?),
            callback_url: row.try_get("callback_url").map_err(corrupt)?,
        })
    }

    /// A job's event into a final status (a batch's `completed` is not a job status).
    fn ends_a_job(&self) -> bool {
        self.job_id.is_some()
            && self
                .status
                .as_deref()
                .and_then(|s| s.parse::<JobStatus>().ok())
                .is_some_and(|s| s.is_terminal())
    }
}

/// Which events a reader wants (`GET /v1/events`): its own (admins: `owner` None), maybe
/// only one job's, one batch's or one kind's.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub owner: Option<String>,
    pub job_id: Option<String>,
    pub batch_id: Option<String>,
    /// Only this workflow's events: its steps' transitions and `workflow.completed` / `workflow.failed`.
    pub workflow_id: Option<String>,
    pub kind: Option<String>,
}

/// What one read of the log found (see [`Db::events_after`]).
#[derive(Debug, Clone, Default)]
pub struct EventRead {
    pub events: Vec<Event>,
    /// The read covered the log up to this `seq`: the next read starts after it.
    pub covered: i64,
}

/// The read of [`Db::events_after`] for `filter`, with only the conditions it sets, so each
/// one can use its index (`events_owner_seq`, `events_job_seq`, `events_batch_seq`); a
/// condition written `($n IS NULL OR col = $n)` keeps a generic plan (SQLite's always,
/// PostgreSQL's after a few executions) off them, and a reader filtered on one job would walk
/// the whole log. No upper bound on `seq`: PostgreSQL's generic plan would take the range
/// for a narrow one and walk `events_seq` filtering on the owner. Parameters: `$1` after,
/// then the values returned, then the limit. At most 16 texts, so each stays a prepared
/// statement.
fn events_query(filter: &EventFilter) -> (String, Vec<&str>) {
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1");
    let mut values = Vec::new();
    for (column, value) in [
        ("owner_id", &filter.owner),
        ("job_id", &filter.job_id),
        ("batch_id", &filter.batch_id),
        ("workflow_id", &filter.workflow_id),
        ("kind", &filter.kind),
    ] {
        if let Some(value) = value {
            values.push(value.as_str());
            sql.push_str(&format!(" AND {column} = ${}", values.len() + 1));
        }
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT ${}", values.len() + 2));
    (sql, values)
}

/// What one pump round did.
#[derive(Debug, Default)]
pub struct Pumped {
    /// Events numbered (readable now).
    pub numbered: usize,
    /// The highest `seq` given.
    pub high_seq: i64,
    /// Delivery jobs created, to push.
    pub deliveries: Vec<JobId>,
}

/// What a pump round needs of the configuration.
#[derive(Debug, Clone)]
pub struct PumpSettings {
    pub public_base_url: String,
    /// Attempts of a delivery (`queues.webhooks.max_attempts`).
    pub max_attempts: u32,
    /// Most events numbered per round.
    pub limit: u32,
}

/// The advisory lock one pump at a time holds: "quire" + 1.
const PUMP_LOCK: i64 = 0x7175_6972_6501;

/// A delivery decided in a pump round.
struct NewDelivery {
    job: NewJob,
    webhook_id: Option<String>,
    url: String,
    event: usize,
}

impl Db {
    /// One pump round (see the module): numbers up to `limit` committed events, records
    /// completed batches, and creates the deliveries of the numbered events.
    pub async fn pump_events(&self, settings: &PumpSettings) -> Result<Pumped, DbError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool().begin().await?;
        // Committed rows of the outbox move into `events`, each given its `seq`, in one
        // statement: an event is written to `events` once, whole.
        let rows = match self.backend() {
            DatabaseBackend::Postgres => {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PUMP_LOCK)
                    .execute(&mut *tx)
                    .await?;
                // Numbers drawn row by row in id order (the sorted subquery is not flattened),
                // so one job's events keep the order of its transitions.
                sqlx::query(AssertSqlSafe(format!(
                    "WITH moved AS (DELETE FROM event_outbox WHERE id IN \
                       (SELECT id FROM event_outbox ORDER BY id LIMIT $1) RETURNING *) \
                     INSERT INTO events (seq, {MOVED}) \
                     SELECT nextval('event_seq'), {MOVED} FROM \
                       (SELECT * FROM moved ORDER BY id) todo \
                     RETURNING {EVENT_COLUMNS}"
                )))
                .bind(i64::from(settings.limit))
                .fetch_all(&mut *tx)
                .await?
            }
            // One writer at a time: an outbox id is already in commit order, and becomes the
            // event's `seq` (the outbox's AUTOINCREMENT never reuses one).
            DatabaseBackend::Sqlite => {
                let last: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(id) FROM (SELECT id FROM event_outbox ORDER BY id LIMIT $1)",
                )
                .bind(i64::from(settings.limit))
                .fetch_one(&mut *tx)
                .await?;
                let Some(last) = last else {
                    return Ok(Pumped::default());
                };
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO events (seq, {MOVED}) \
                     SELECT id, {MOVED} FROM event_outbox WHERE id <= $1 ORDER BY id \
                     RETURNING {EVENT_COLUMNS}"
                )))
                .bind(last)
                .fetch_all(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM event_outbox WHERE id <= $1")
                    .bind(last)
                    .execute(&mut *tx)
                    .await?;
                rows
            }
        };
        let mut events = rows
            .iter()
            .map(Event::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        events.sort_by_key(|e| e.seq);
        if events.is_empty() {
            return Ok(Pumped::default());
        }
        complete_batches(&mut tx, &events, now).await?;
        let deliveries = plan_deliveries(&mut tx, &events, settings).await?;
        let ids = write_deliveries(&mut tx, &events, deliveries, settings, now).await?;
        tx.commit().await?;
        Ok(Pumped {
            numbered: events.len(),
            high_seq: events.last().map_or(0, |e| e.seq),
            deliveries: ids,
        })
    }

    /// Numbered events after `after` that `filter` lets through, oldest first, at most
    /// `limit`, and how far the read covered the log: the highest `seq` below which nothing
    /// more can match. A reader continues after `covered`, not after its last event, so a
    /// filter that matches nothing (a job id no event names) is not walked again from the
    /// same place on every wake.
    ///
    /// `covered` is the log's highest number when the read began, or the last event's when
    /// that is higher, or only the last event's when `limit` cut the read short: numbers are
    /// given one pump at a time, in commit order, so none can later appear below a number
    /// already given.
    pub async fn events_after(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: u32,
    ) -> Result<EventRead, DbError> {
        let high: i64 =
            sqlx::query("SELECT COALESCE(MAX(seq), 0) AS high FROM events WHERE seq IS NOT NULL")
                .fetch_one(self.pool())
                .await?
                .try_get("high")?;
        if high <= after {
            return Ok(EventRead {
                events: Vec::new(),
                covered: after,
            });
        }
        let (sql, values) = events_query(filter);
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(after);
        for value in values {
            query = query.bind(value.to_owned());
        }
        let rows = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        let events = rows
            .iter()
            .map(Event::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let covered = match events.last() {
            Some(last) if events.len() >= limit as usize => last.seq,
            Some(last) => last.seq.max(high),
            None => high,
        };
        Ok(EventRead { events, covered })
    }

    /// The plan the database chooses for a read with `filter`, one line per step
    /// (`EXPLAIN QUERY PLAN` on SQLite; on PostgreSQL `EXPLAIN` of the statement prepared
    /// with a generic plan, as a pooled connection runs it after a few executions): for tests
    /// that the reads stay on the indexes.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn events_plan_for_test(&self, filter: &EventFilter) -> Result<String, DbError> {
        let (sql, values) = events_query(filter);
        let mut conn = self.pool().acquire().await?;
        let lines: Vec<String> = match self.backend() {
            DatabaseBackend::Sqlite => {
                let mut query =
                    sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"))).bind(0_i64);
                for value in values {
                    query = query.bind(value.to_owned());
                }
                query
                    .bind(500_i64)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>("detail"))
                    .collect::<Result<_, _>>()?
            }
            DatabaseBackend::Postgres => {
                // Parameters typed as the columns are, so the plan is the one the pool's
                // prepared statement gets; a generic plan knows none of their values.
                let mut types = vec!["bigint"];
                types.extend(values.iter().map(|_| "text"));
                types.push("bigint");
                let args: Vec<String> = (0..types.len())
                    .map(|i| match i {
                        0 => "0".to_owned(),
                        i if i == types.len() - 1 => "500".to_owned(),
                        i => format!("'{}'", values[i - 1].replace('\'', "''")),
                    })
                    .collect();
                sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
                    .execute(&mut *conn)
                    .await?;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "PREPARE events_plan ({}) AS {sql}",
                    types.join(", ")
                )))
                .execute(&mut *conn)
                .await?;
                let plan = sqlx::query(AssertSqlSafe(format!(
                    "EXPLAIN EXECUTE events_plan ({})",
                    args.join(", ")
                )))
                .fetch_all(&mut *conn)
                .await;
                sqlx::raw_sql("DEALLOCATE events_plan; RESET plan_cache_mode")
                    .execute(&mut *conn)
                    .await?;
                plan?
                    .iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(lines.join("\n"))
    }

    /// Writes `n` numbered events of 1,000 owners (`{owner}-0` to `{owner}-999`), each for a
    /// job of its own: a log as long as a busy week's, for tests and benchmarks of the readers. Numbered as the pump numbers
    /// (under its lock on PostgreSQL), so readers' guarantees hold meanwhile.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn seed_events_for_test(&self, owner: &str, n: u32) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        let at = Timestamp::now().millis();
        match self.backend() {
            DatabaseBackend::Postgres => {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PUMP_LOCK)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO events (seq, type, owner_id, job_id, kind, status, attempt, at) \
                     SELECT nextval('event_seq'), 'job.succeeded', $1 || '-' || (i % 1000), \
                            md5(random()::text || i), 'certificate', 'succeeded', 1, $2 \
                     FROM generate_series(1, $3) AS i",
                )
                .bind(owner.to_owned())
                .bind(at)
                .bind(i64::from(n))
                .execute(&mut *tx)
                .await?;
            }
            // One writer: ids continue from the highest, and `seq` is the id.
            DatabaseBackend::Sqlite => {
                sqlx::query(
                    "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < $3) \
                     INSERT INTO events (type, owner_id, job_id, kind, status, attempt, at) \
                     SELECT 'job.succeeded', $1 || '-' || (n % 1000), lower(hex(randomblob(16))), \
                            'certificate', 'succeeded', 1, $2 FROM i",
                )
                .bind(owner.to_owned())
                .bind(at)
                .bind(i64::from(n))
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE events SET seq = id WHERE seq IS NULL AND owner_id LIKE $1")
                    .bind(format!("{owner}-%"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A job's status changes, oldest first: each attempt's start (with its worker) and
    /// end (with its error). Kept as long as events are (`webhooks.events_retention_hours`).
    pub async fn job_history(&self, job_id: JobId) -> Result<Vec<HistoryEntry>, DbError> {
        let rows = sqlx::query(
            // Events still in the outbox come after every numbered one (ids offset by 2^62).
            "SELECT status, attempt, at, worker, error_code, error_message, seq AS ord \
             FROM events WHERE job_id = $1 AND type LIKE 'job.%' \
             UNION ALL \
             SELECT status, attempt, at, worker, error_code, error_message, \
                    id + 4611686018427387904 AS ord \
             FROM event_outbox WHERE job_id = $1 AND type LIKE 'job.%' \
             ORDER BY at, ord",
        )
        .bind(job_id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryEntry {
                    status: r.try_get("status")?,
                    attempt: r.try_get::<Option<i64>, _>("attempt")?.unwrap_or(0),
                    at: Timestamp::from_millis(r.try_get("at")?),
                    worker: r.try_get("worker")?,
                    error_code: r.try_get("error_code")?,
                    error_message: r.try_get("error_message")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The highest `seq` given so far (0 when none): where a reader without `Last-Event-ID`
    /// starts, and the lowest still kept (what a reconnect can replay from).
    pub async fn event_seq_bounds(&self) -> Result<(i64, i64), DbError> {
        let row = sqlx::query(
            "SELECT COALESCE(MIN(seq), 0) AS low, COALESCE(MAX(seq), 0) AS high FROM events",
        )
        .fetch_one(self.pool())
        .await?;
        Ok((
            row.try_get("low").map_err(DbError::from)?,
            row.try_get("high").map_err(DbError::from)?,
        ))
    }

    /// Removes events older than `before` (those still in the outbox have not been delivered
    /// yet and are not touched) and deliveries created before `deliveries_before`. Returns the
    /// rows removed.
    pub async fn delete_old_events(
        &self,
        before: Timestamp,
        deliveries_before: Timestamp,
    ) -> Result<u64, DbError> {
        let events = sqlx::query("DELETE FROM events WHERE at < $1")
            .bind(before.millis())
            .execute(self.pool())
            .await?;
        let deliveries = sqlx::query("DELETE FROM webhook_deliveries WHERE created_at < $1")
            .bind(deliveries_before.millis())
            .execute(self.pool())
            .await?;
        Ok(events.rows_affected() + deliveries.rows_affected())
    }
}

/// Batches whose last job these events finished get `completed_at` and a `batch.completed`
/// event (numbered by the next round). The conditional update makes it once per batch.
async fn complete_batches(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    events: &[Event],
    now: i64,
) -> Result<(), DbError> {
    let batches: BTreeSet<&str> = events
        .iter()
        .filter(|e| e.ends_a_job())
        .filter_map(|e| e.batch_id.as_deref())
        .collect();
    if batches.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE batches SET completed_at = $1 WHERE id IN ({}) AND completed_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id \
         AND jobs.status IN ('scheduled', 'queued', 'running', 'failed')) \
         RETURNING id, owner_id, callback_url",
        placeholders(2, batches.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false).bind(now);
    for b in &batches {
        query = query.bind(b.to_string());
    }
    let done = query.fetch_all(&mut **tx).await?;
    if done.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO event_outbox (owner_id, batch_id, callback_url, type, kind, status, at) \
         VALUES {}",
        values(
            done.len(),
            3,
            &format!(", 'batch.completed', 'certificate', 'completed', {now}")
        )
    );
    let mut insert = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for row in &done {
        insert = insert
            .bind(row.try_get::<String, _>("owner_id")?)
            .bind(row.try_get::<String, _>("id")?)
            .bind(row.try_get::<Option<String>, _>("callback_url")?);
    }
    insert.execute(&mut **tx).await?;
    Ok(())
}

/// The deliveries these events call for: one per enabled endpoint of the event's owner that
/// subscribed to its type, and one to the job's (batch's) `callback_url` for its end.
async fn plan_deliveries(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    events: &[Event],
    settings: &PumpSettings,
) -> Result<Vec<NewDelivery>, DbError> {
    let owners: BTreeSet<&str> = events
        .iter()
        .filter(|e| crate::webhooks::SUBSCRIBABLE.contains(&e.event_type.as_str()))
        .map(|e| e.owner_id.as_str())
        .collect();
    let mut hooks: HashMap<String, Vec<(String, String, Vec<String>)>> = HashMap::new();
    if !owners.is_empty() {
        let sql = format!(
            "SELECT id, owner_id, url, events FROM webhooks \
             WHERE disabled_at IS NULL AND owner_id IN ({})",
            placeholders(1, owners.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for o in &owners {
            query = query.bind(o.to_string());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let owner: String = row.try_get("owner_id").map_err(DbError::from)?;
            let types: String = row.try_get("events").map_err(DbError::from)?;
            let types: Vec<String> = serde_json::from_str(&types)
                .map_err(|e| DbError::Corrupt(format!("webhook events: {e}")))?;
            hooks.entry(owner).or_default().push((
                row.try_get("id").map_err(DbError::from)?,
                row.try_get("url").map_err(DbError::from)?,
                types,
            ));
        }
    }
    let mut out = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let delivery = |webhook_id: Option<String>, url: String| NewDelivery {
            job: delivery_job(&event.owner_id, settings.max_attempts),
            webhook_id,
            url,
            event: i,
        };
        for (id, url, types) in hooks.get(&event.owner_id).into_iter().flatten() {
            if crate::webhooks::subscribed(types, &event.event_type) {
                out.push(delivery(Some(id.clone()), url.clone()));
            }
        }
        if let Some(url) = &event.callback_url {
            out.push(delivery(None, url.clone()));
        }
    }
    Ok(out)
}

/// Inserts the delivery jobs and their log rows (multi-row statements), each with its body:
/// the event and the job (batch, certificate) as the API shows it now.
async fn write_deliveries(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    events: &[Event],
    deliveries: Vec<NewDelivery>,
    settings: &PumpSettings,
    now: i64,
) -> Result<Vec<JobId>, DbError> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: BTreeSet<usize> = deliveries.iter().map(|d| d.event).collect();
    let data = event_data(tx, events, &wanted, &settings.public_base_url).await?;
    // Each owner's deliveries take turns with other owners' (vtime), like any job.
    let mut vtimes: BTreeMap<String, i64> = BTreeMap::new();
    for d in &deliveries {
        if !vtimes.contains_key(&d.job.owner_id) {
            let base = fair_base(
                tx,
                &d.job.owner_id,
                QueueName::Webhooks,
                Priority::Notification,
                now,
            )
            .await?;
            vtimes.insert(d.job.owner_id.clone(), base);
        }
    }
    const CHUNK: usize = 200;
    for chunk in deliveries.chunks(CHUNK) {
        let sql = insert_jobs_sql(chunk.len(), now);
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for d in chunk {
            let vtime = vtimes
                .get_mut(&d.job.owner_id)
                .expect("every owner has a base");
            *vtime += d.job.fair_step();
            query = bind_job(query, &d.job, now).bind(*vtime);
        }
        query.execute(&mut **tx).await?;

        let sql = format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, owner_id, url, event_seq, \
             event_type, body, created_at) VALUES {}",
            values(chunk.len(), 8, "")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for d in chunk {
            let event = &events[d.event];
            let body = crate::webhooks::event_body(
                &event.event_type,
                event.at,
                data.get(&d.event)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
            );
            query = query
                .bind(d.job.id.to_string())
                .bind(d.webhook_id.clone())
                .bind(d.job.owner_id.clone())
                .bind(d.url.clone())
                .bind(event.seq)
                .bind(event.event_type.clone())
                .bind(body)
                .bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(deliveries.iter().map(|d| d.job.id).collect())
}

/// What each wanted event's delivery carries as `data`: the job as `GET /v1/jobs/{id}`
/// shows it; a batch's counts per status and its link; a workflow's status and progress; a
/// revoked certificate's code and reason with its job. Four queries at most, however many
/// events.
async fn event_data(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    events: &[Event],
    wanted: &BTreeSet<usize>,
    base: &str,
) -> Result<HashMap<usize, serde_json::Value>, DbError> {
    let job_ids: Vec<JobId> = wanted
        .iter()
        .filter_map(|i| events[*i].job_id.as_deref()?.parse().ok())
        .collect::<BTreeSet<JobId>>()
        .into_iter()
        .collect();
    let jobs: HashMap<String, JobRow> = jobs_by_ids_in(&mut **tx, &job_ids)
        .await?
        .into_iter()
        .map(|job| (job.id.to_string(), job))
        .collect();
    let revoked: BTreeSet<&str> = wanted
        .iter()
        .filter(|i| events[**i].event_type == "certificate.revoked")
        .filter_map(|i| events[*i].job_id.as_deref())
        .collect();
    let mut certificates: HashMap<String, serde_json::Value> = HashMap::new();
    if !revoked.is_empty() {
        let sql = format!(
            "SELECT job_id, verification_code, revoked_at, revoked_reason FROM certificates \
             WHERE job_id IN ({})",
            placeholders(1, revoked.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in &revoked {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let job_id: String = row.try_get("job_id").map_err(DbError::from)?;
            let code: String = row.try_get("verification_code").map_err(DbError::from)?;
            let at: Option<i64> = row.try_get("revoked_at").map_err(DbError::from)?;
            let reason: Option<String> = row.try_get("revoked_reason").map_err(DbError::from)?;
            certificates.insert(
                job_id,
                serde_json::json!({
                    "verification_code": code,
                    "verify_url": crate::urls::verify(base, &code),
                    "revoked_at": at.map(|t| Timestamp::from_millis(t).to_rfc3339()),
                    "reason": reason,
                }),
            );
        }
    }
    let batch_ids: BTreeSet<&str> = wanted
        .iter()
        .filter(|i| events[**i].event_type == "batch.completed")
        .filter_map(|i| events[*i].batch_id.as_deref())
        .collect();
    let mut batches: HashMap<String, serde_json::Map<String, serde_json::Value>> = HashMap::new();
    if !batch_ids.is_empty() {
        let sql = format!(
            "SELECT batch_id, status, COUNT(*) AS n FROM jobs WHERE batch_id IN ({}) \
             GROUP BY batch_id, status",
            placeholders(1, batch_ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in &batch_ids {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let batch: String = row.try_get("batch_id").map_err(DbError::from)?;
            let status: String = row.try_get("status").map_err(DbError::from)?;
            let n: i64 = row.try_get("n").map_err(DbError::from)?;
            batches.entry(batch).or_default().insert(status, n.into());
        }
    }
    let workflow_ids: BTreeSet<&str> = wanted
        .iter()
        .filter(|i| events[**i].event_type.starts_with("workflow."))
        .filter_map(|i| events[*i].workflow_id.as_deref())
        .collect();
    let mut workflows: HashMap<String, serde_json::Value> = HashMap::new();
    if !workflow_ids.is_empty() {
        let sql = format!(
            "SELECT id, name, status, steps_total, steps_left, finished_at FROM workflows \
             WHERE id IN ({})",
            placeholders(1, workflow_ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in &workflow_ids {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let id: String = row.try_get("id").map_err(DbError::from)?;
            let total: i64 = row.try_get("steps_total").map_err(DbError::from)?;
            let left: i64 = row.try_get("steps_left").map_err(DbError::from)?;
            let finished: Option<i64> = row.try_get("finished_at").map_err(DbError::from)?;
            workflows.insert(
                id.clone(),
                serde_json::json!({
                    "id": id,
                    "name": row.try_get::<Option<String>, _>("name").map_err(DbError::from)?,
                    "status": row.try_get::<String, _>("status").map_err(DbError::from)?,
                    "total": total,
                    "finished": total - left,
                    "finished_at": finished.map(|t| Timestamp::from_millis(t).to_rfc3339()),
                    "links": { "self": crate::urls::workflow(base, &id) },
                }),
            );
        }
    }
    let mut out = HashMap::new();
    for i in wanted {
        let event = &events[*i];
        let job = || {
            event
                .job_id
                .as_ref()
                .and_then(|id| jobs.get(id))
                .map(|row| {
                    serde_json::to_value(JobView::from_row(row, base)).expect("a view serializes")
                })
        };
        let value = match event.event_type.as_str() {
            "batch.completed" => {
                let id = event.batch_id.clone().unwrap_or_default();
                let counts = batches.get(&id).cloned().unwrap_or_default();
                let total: i64 = counts.values().filter_map(|v| v.as_i64()).sum();
                serde_json::json!({
                    "id": id,
                    "total": total,
                    "counts": counts,
                    "links": { "self": crate::urls::batch(base, &id) },
                })
            }
            t if t.starts_with("workflow.") => event
                .workflow_id
                .as_ref()
                .and_then(|id| workflows.get(id))
                .cloned()
                .unwrap_or(serde_json::Value::Null),
            "certificate.revoked" => {
                let mut cert = event
                    .job_id
                    .as_ref()
                    .and_then(|id| certificates.get(id))
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({}));
                cert["job"] = job().unwrap_or(serde_json::Value::Null);
                cert
            }
            _ => job().unwrap_or(serde_json::Value::Null),
        };
        out.insert(*i, value);
    }
    Ok(out)
}
