//! The job queue. Every message is only a job id ([`JobMessage`]): the row in SQL is the system
//! of record and holds everything else, so the queue is a wake-up list, not a store.
//!
//! Two backends behind one type, [`Queue`]:
//! - **Redis** (production) through apalis-redis 1.0, namespaced so that several deployments
//!   (or parallel tests) can share one Redis;
//! - **SQLite** (embedded default) through apalis-sqlite 1.0, in a file of its own
//!   (`DATA_DIR/queue.db`), never the application database: apalis-sqlite creates a table
//!   `Jobs` (SQLite names are case-insensitive, so it *is* our `jobs` table) and records its
//!   migrations in sqlx's default `_sqlx_migrations` table, where our own migrator would see
//!   them as unknown versions and refuse to run. [`Queue::sqlite`] refuses such a file.
//!
//! Facts about apalis 1.0.0 that shape this module (verified in its source):
//! - apalis-redis puts *every* push in the scheduled sorted set (`run_at` is forced to at least
//!   "now"), so its "available" pub/sub notification is never sent for pushes, and a task becomes
//!   visible only when a worker runs `fetch_next`, which happens on a heartbeat or a poll tick.
//!   We therefore publish our own wake-up message after each push (`{ns}:{queue}:wake`) and
//!   consumers subscribe to it; a slow idle poll remains as a safety net and to promote
//!   delayed tasks. SQLite consumers in the same process are woken directly after the commit
//!   (consumers in other processes sharing the file rely on the 250 ms idle poll).
//! - apalis-redis's fetch moves *all* due scheduled tasks to the active list with one Lua
//!   `unpack`, which fails past ~8,000 ("too many results to unpack") on every fetch after, so
//!   the consumers die and restart for ever. Every push therefore moves its due tasks itself in
//!   chunks of 1,000 ([`Queue::promote_due`]), and consumers do the same before they start.
//! - apalis's `PollWith` lets a wake-up be consumed while a fetch is already in flight; if that
//!   fetch ran before the push it comes back empty and the wake-up is lost until the idle poll.
//!   Each consumer's backend connection (Redis) or one-connection pool (SQLite) therefore
//!   re-raises a wake-up that arrived while one of its operations was in flight.
//! - A task that cannot be decoded into the worker's argument type kills the apalis worker
//!   (`DurableBackend` turns the codec error into a backend error): consumers decode into
//!   `serde_json::Value` and parse [`JobMessage`] themselves.
//! - `run_at` has a resolution of one second on both backends (`TaskBuilder::run_after`
//!   truncates); delays are rounded *up* here so a task never runs early.
//! - A task id that already exists is silently skipped by the Redis push script (`HSETNX`) and
//!   is a primary-key violation in SQLite, and apalis keeps finished tasks until they are
//!   vacuumed. Our retry flow pushes the same job again while its previous message is still in
//!   flight, so the apalis task id cannot be the job id: each push gets a fresh ULID (SQLite
//!   requires task ids to be ULIDs) and the job id travels in the message.
//! - apalis never deletes finished tasks on its own and its Redis `vacuum` also deletes tasks
//!   scheduled for retry; [`Queue::purge_completed`] removes only completed ones.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis::prelude::{PollSnapshot, PollStrategy, PollWith, Task, TaskBuilder, TaskId};
use apalis_redis::RedisStorage;
use apalis_sqlite::SqliteStorage;
use futures::task::AtomicWaker;
use futures::{FutureExt, StreamExt};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis_conn::RedisConn;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::domain::{JobId, QueueName};

mod events;
mod expiring;
mod limits;
mod redis_backend;
mod redis_conn;
mod sqlite_backend;
mod wake;

pub use expiring::{Expiring, Group};
pub use limits::{RateDecision, RatePolicy, gcra};
use redis_backend::*;
use sqlite_backend::*;
use wake::{Signal, Signals};
pub use wake::{SignalConn, WakeStrategy};

/// How often a worker tells the backend it is alive.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// Heartbeats a worker may miss before another worker of the same queue re-queues its tasks
/// (apalis-redis's `Config::default()` says 10 despite its docs saying 2: always set it).
pub const MISSED_HEARTBEATS: usize = 3;
/// Idle poll when no wake-up arrives: promotes delayed tasks and covers lost notifications.
const REDIS_IDLE_POLL: Duration = Duration::from_millis(500);
/// SQLite wake-ups reach only consumers in the pushing process; others rely on this poll.
const SQLITE_IDLE_POLL: Duration = Duration::from_millis(250);
/// Per-command timeout on the Redis connection (redis-rs defaults to 500 ms, which a busy
/// server can exceed; a failed heartbeat or fetch kills the apalis worker).
const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Upper bound for opening a queue (connect, migrate).
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for one push: callers answer 503 rather than hang.
const PUSH_TIMEOUT: Duration = Duration::from_secs(3);
/// Upper bound for the readiness probe.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// Tasks per Redis push script call.
const PUSH_CHUNK: usize = 500;
/// Completed tasks removed per purge step.
const PURGE_CHUNK: usize = 1000;
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Events kept for a slow in-process subscriber before it misses some (SQLite deployment).
const LOCAL_EVENTS: usize = 256;
/// The topic of cancel requests for running jobs; each message is one job id.
const CANCEL_TOPIC: &str = "cancel";
/// The topic of jobs that reached an end state; each message is `<job id>[ <batch id>]`.
const FINISHED_TOPIC: &str = "finished";

/// The message on every queue: only the job id; the row in SQL holds everything else.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct JobMessage {
    pub job_id: JobId,
}

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The backend cannot be reached right now (connection refused or dropped, timeout, busy):
    /// callers answer 503 and the rescuer re-pushes later.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// Anything else (bad configuration, unexpected reply).
    #[error("queue error: {0}")]
    Other(String),
}

/// Handle on the job queue, cheap to clone, shared by the API, the scheduler and the workers.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    signals: Signals,
    /// Events published through this handle, for its own subscribers: how events travel when
    /// there is no Redis (SQLite: every role in one process).
    local: tokio::sync::broadcast::Sender<LocalEvent>,
    /// Rate-limit buckets when there is no Redis (one process), and the clock they read.
    buckets: limits::LocalBuckets,
    started: std::time::Instant,
}

#[derive(Clone, Debug)]
struct LocalEvent {
    topic: String,
    message: String,
}

impl Inner {
    fn new(backend: Backend) -> Inner {
        Inner {
            backend,
            signals: Signals::default(),
            local: tokio::sync::broadcast::Sender::new(LOCAL_EVENTS),
            buckets: limits::local_buckets(),
            started: std::time::Instant::now(),
        }
    }
}

enum Backend {
    Redis(Box<RedisBackend>),
    Sqlite(Box<SqliteBackend>),
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.backend {
            Backend::Redis(r) => f
                .debug_struct("Queue")
                .field("backend", &r.topology)
                .field("url", &r.redacted_url)
                .field("namespace", &r.namespace)
                .finish(),
            Backend::Sqlite(_) => f.debug_struct("Queue").field("backend", &"sqlite").finish(),
        }
    }
}

impl Queue {
    /// Production: one Redis server at `url`. `namespace` prefixes every key and queue name
    /// (`"{namespace}:{queue}"`); tests use a random one so parallel tests never see each
    /// other's jobs.
    pub async fn redis(url: &str, namespace: &str) -> Result<Queue, QueueError> {
        Self::redis_with(url, namespace, &crate::config::RedisSettings::default()).await
    }

    /// Production: Redis as `settings` say (one server, Sentinel or Cluster; see
    /// `redis_conn`), `url` giving the scheme, credentials and database.
    pub async fn redis_with(
        url: &str,
        namespace: &str,
        settings: &crate::config::RedisSettings,
    ) -> Result<Queue, QueueError> {
        if namespace.is_empty()
            || !namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            return Err(QueueError::Other(format!(
                "invalid queue namespace `{namespace}`: use letters, digits, `-`, `_`, `.`, `:`"
            )));
        }
        let redacted_url = redact_url(url);
        let mut secrets: Vec<String> = url_password(url).into_iter().collect();
        let info = redis_conn::parse_url(url).map_err(|e| {
            QueueError::Other(scrub(
                format!("invalid Redis URL {redacted_url}: {e}"),
                &secrets,
            ))
        })?;
        if let Some(p) = info.redis_settings().password() {
            secrets.push(p.to_owned());
        }
        if let Some(p) = &settings.sentinel_password {
            secrets.push(p.expose().clone());
        }
        secrets.retain(|s| !s.is_empty());
        let connected =
            match tokio::time::timeout(OPEN_TIMEOUT, redis_conn::connect(&info, settings)).await {
                Err(_) => {
                    return Err(QueueError::Unavailable(format!(
                        "timed out connecting to Redis at {redacted_url}"
                    )));
                }
                Ok(Err(e)) => {
                    return Err(redis_error(
                        &e,
                        &format!("connecting to Redis at {redacted_url}"),
                        &secrets,
                    ));
                }
                Ok(Ok(connected)) => connected,
            };
        Ok(Queue {
            inner: Arc::new(Inner::new(Backend::Redis(Box::new(RedisBackend {
                conn: connected.conn,
                connector: connected.connector,
                topology: connected.topology,
                cluster: settings.cluster,
                namespace: namespace.to_owned(),
                redacted_url,
                secrets,
            })))),
        })
    }

    /// Embedded default: apalis-sqlite in the SQLite file at `path` (created if missing, WAL,
    /// 5 s busy timeout). The file must be the queue's own (e.g. `DATA_DIR/queue.db`): a file
    /// that already holds our application tables or migrations is refused (see module docs).
    pub async fn sqlite(path: &Path) -> Result<Queue, QueueError> {
        match tokio::time::timeout(OPEN_TIMEOUT, open_sqlite(path)).await {
            Ok(result) => result,
            Err(_) => Err(QueueError::Unavailable(format!(
                "timed out opening the queue database {}",
                path.display()
            ))),
        }
    }

    /// Push one id; `delay` = run no earlier than now + delay (retries with backoff).
    /// The delay has a resolution of one second and is rounded up.
    pub async fn push(
        &self,
        queue: QueueName,
        job_id: JobId,
        delay: Option<Duration>,
    ) -> Result<(), QueueError> {
        let run_at = delay.filter(|d| !d.is_zero()).map(run_at_after);
        let task = build_task(job_id, run_at)?;
        self.push_tasks(queue, vec![task]).await
    }

    /// Pushes a job that a change inserted in its own transaction (a CDN purge), once that
    /// committed. A failed push is only logged: the row waits `queued` and the rescuer
    /// pushes it.
    pub async fn push_inserted(&self, job: Option<&crate::db::NewJob>) {
        let Some(job) = job else { return };
        crate::metrics::jobs_submitted(job.kind, 1);
        if let Err(e) = self.push(job.kind.queue(), job.id, None).await {
            tracing::warn!(job_id = %job.id, error = %e, "job not pushed; the rescuer will");
        }
    }

    /// Push many ids at once (bulk submissions, the rescuer). One round trip per 500 ids on
    /// Redis, one transaction on SQLite. On error some ids may already have been pushed;
    /// pushing them again is harmless (the worker's claim on the row de-duplicates).
    pub async fn push_many(&self, queue: QueueName, job_ids: &[JobId]) -> Result<(), QueueError> {
        if job_ids.is_empty() {
            return Ok(());
        }
        let tasks = job_ids
            .iter()
            .map(|id| build_task(*id, None))
            .collect::<Result<Vec<_>, _>>()?;
        match &self.inner.backend {
            Backend::Redis(_) => {
                let mut tasks = tasks;
                while !tasks.is_empty() {
                    let rest = tasks.split_off(tasks.len().min(PUSH_CHUNK));
                    self.push_tasks(queue, tasks).await?;
                    tasks = rest;
                }
                Ok(())
            }
            Backend::Sqlite(_) => self.push_tasks(queue, tasks).await,
        }
    }

    /// Cheap liveness check for `/ready` (`PING` on Redis, `SELECT 1` on SQLite), 1 s timeout.
    pub async fn check(&self) -> Result<(), QueueError> {
        match &self.inner.backend {
            Backend::Redis(r) => {
                let mut conn = r.conn.clone();
                let cmd = redis::cmd("PING");
                let ping = cmd.query_async::<String>(&mut conn);
                match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
                    Err(_) => Err(QueueError::Unavailable("Redis PING timed out".into())),
                    Ok(Err(e)) => Err(redis_error(&e, "Redis PING", &r.secrets)),
                    Ok(Ok(_)) => Ok(()),
                }
            }
            Backend::Sqlite(s) => {
                let select = sqlx::query("SELECT 1").execute(&s.pool);
                match tokio::time::timeout(CHECK_TIMEOUT, select).await {
                    Err(_) => Err(QueueError::Unavailable(
                        "queue database check timed out".into(),
                    )),
                    Ok(Err(e)) => Err(sqlx_error(&e, "queue database check")),
                    Ok(Ok(_)) => Ok(()),
                }
            }
        }
    }

    /// Moves due tasks from apalis-redis's scheduled set to its active list in bounded
    /// chunks (see `push_tasks`). Consumers call it before they start: retries that fell due
    /// together while no worker ran could otherwise be too many for apalis's own fetch.
    pub async fn promote_due(&self, queue: QueueName) -> Result<(), QueueError> {
        match &self.inner.backend {
            Backend::Redis(r) => r.promote_due(queue).await,
            Backend::Sqlite(_) => Ok(()),
        }
    }

    /// `"redis"` or `"sqlite"`.
    pub fn backend_name(&self) -> &'static str {
        match &self.inner.backend {
            Backend::Redis(_) => "redis",
            Backend::Sqlite(_) => "sqlite",
        }
    }

    /// Deletes the apalis records of tasks that completed (apalis keeps them forever), and on
    /// SQLite the rows of workers gone for a day. Returns the number of tasks removed.
    /// Consumers call this periodically; it never touches pending, scheduled or running tasks.
    pub async fn purge_completed(&self, queue: QueueName) -> Result<u64, QueueError> {
        match &self.inner.backend {
            Backend::Redis(r) => {
                let config = r.apalis_config(queue);
                let script = redis::Script::new(PURGE_DONE_LUA);
                let mut total = 0u64;
                loop {
                    let mut conn = r.conn.clone();
                    let removed: u64 = script
                        .key(config.done_jobs_set())
                        .key(config.job_data_hash())
                        .key(config.job_meta_hash())
                        .arg(PURGE_CHUNK)
                        .invoke_async(&mut conn)
                        .await
                        .map_err(|e| redis_error(&e, "purging completed tasks", &r.secrets))?;
                    total += removed;
                    if removed < PURGE_CHUNK as u64 {
                        return Ok(total);
                    }
                }
            }
            Backend::Sqlite(s) => {
                let done = sqlx::query("DELETE FROM Jobs WHERE job_type = ?1 AND status = 'Done'")
                    .bind(queue.as_str())
                    .execute(&s.pool)
                    .await
                    .map_err(|e| sqlx_error(&e, "purging completed tasks"))?;
                sqlx::query(
                    "DELETE FROM Workers WHERE worker_type = ?1 \
                     AND last_seen < strftime('%s', 'now') - 86400 \
                     AND NOT EXISTS (SELECT 1 FROM Jobs WHERE Jobs.lock_by = Workers.id)",
                )
                .bind(queue.as_str())
                .execute(&s.pool)
                .await
                .map_err(|e| sqlx_error(&e, "purging old workers"))?;
                Ok(done.rows_affected())
            }
        }
    }

    /// The apalis backend a consumer of `queue` runs on, already configured: one task per fetch,
    /// explicit heartbeat, no apalis-side locking, woken by pushes and by a slow idle poll.
    /// Meant for `worker::consumer`; nothing else should need apalis types.
    pub fn consumer_backend(&self, queue: QueueName) -> ConsumerBackend {
        let signal = self.inner.signals.subscribe(queue);
        match &self.inner.backend {
            Backend::Redis(r) => {
                let conn = SignalConn {
                    inner: r.conn.clone(),
                    signal: signal.clone(),
                };
                let storage = RedisStorage::new(conn).with_config(r.apalis_config(queue));
                ConsumerBackend::Redis(PollWith::new(
                    storage,
                    WakeStrategy::new(signal, REDIS_IDLE_POLL),
                ))
            }
            Backend::Sqlite(s) => {
                let config = apalis_sqlite::Config::default()
                    .queue(queue.as_str())
                    .batch_size(1)
                    .heartbeat_interval(HEARTBEAT_INTERVAL)
                    .missed_heartbeats(MISSED_HEARTBEATS)
                    .lock_tasks(false)
                    .persist_results(true);
                let storage = SqliteStorage::new(&s.consumer_pool(&signal)).with_config(config);
                ConsumerBackend::Sqlite(PollWith::new(
                    storage,
                    WakeStrategy::new(signal, SQLITE_IDLE_POLL),
                ))
            }
        }
    }

    async fn push_tasks(
        &self,
        queue: QueueName,
        tasks: Vec<Task<Vec<u8>>>,
    ) -> Result<(), QueueError> {
        match &self.inner.backend {
            Backend::Redis(r) => {
                let config = r.apalis_config(queue);
                let mut conn = r.conn.clone();
                let pushed = tokio::time::timeout(
                    PUSH_TIMEOUT,
                    apalis_redis::queries::push_tasks(&mut conn, &config, &tasks),
                )
                .await
                .map_err(|_| QueueError::Unavailable("Redis push timed out".into()))?
                .map_err(|e| apalis_redis_error(&e, "pushing to Redis", &r.secrets))?;
                let (enqueued, scheduled) = pushed;
                // The script skips a task id already stored. Ids are fresh per push, so one
                // is stored already only if this same push ran before: the connection sent
                // it again after losing the reply (a cluster or Sentinel failover), and the
                // first run, atomic, stored it whole.
                let stored = (enqueued + scheduled) as usize;
                if stored != tasks.len() {
                    tracing::info!(
                        queue = %queue,
                        new = stored,
                        pushed = tasks.len(),
                        "tasks stored already by an earlier run of the same push"
                    );
                }
                // apalis-redis stores every push in its scheduled set (even "now"), and its
                // fetch moves all due tasks in one Lua `unpack`, which fails past ~8,000 and
                // then kills every consumer of the queue for good. Move due tasks here, in
                // bounded chunks, so the scheduled set never holds that many due ones.
                r.promote_due(queue).await?;
                // apalis-redis sends no notification for pushes: wake consumers ourselves. The
                // tasks are stored already, so a failure here only delays their pickup until
                // the next idle poll; it must not make the caller push them again.
                let mut cmd = redis::cmd("PUBLISH");
                cmd.arg(r.wake_channel(queue)).arg(1);
                let publish = cmd.query_async::<i64>(&mut conn);
                match tokio::time::timeout(PUSH_TIMEOUT, publish).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(
                        error = %scrub(e.to_string(), &r.secrets),
                        queue = %queue,
                        "wake-up publish failed; consumers will find the job on their next poll"
                    ),
                    Err(_) => tracing::warn!(queue = %queue, "wake-up publish timed out"),
                }
                Ok(())
            }
            Backend::Sqlite(s) => {
                let insert = async {
                    let mut tx = s.pool.begin().await?;
                    apalis_sqlite::queries::push_tasks(&mut *tx, queue.as_str(), &tasks)
                        .await
                        .map_err(|e| match e {
                            apalis_sqlite::Error::Database(e) => e,
                            other => sqlx::Error::Protocol(other.to_string()),
                        })?;
                    tx.commit().await
                };
                tokio::time::timeout(PUSH_TIMEOUT, insert)
                    .await
                    .map_err(|_| QueueError::Unavailable("queue database push timed out".into()))?
                    .map_err(|e| sqlx_error(&e, "pushing to the queue database"))?;
                self.inner.signals.notify(queue);
                Ok(())
            }
        }
    }
}

/// The apalis backend for one consumer, as built by [`Queue::consumer_backend`].
pub enum ConsumerBackend {
    Redis(PollWith<RedisStorage<serde_json::Value, SignalConn>, WakeStrategy>),
    Sqlite(PollWith<SqliteStorage<serde_json::Value>, WakeStrategy>),
}

/// Due tasks moved per round trip: far below Lua's `unpack` limit (~8,000).
const PROMOTE_CHUNK: usize = 1000;

/// Moves up to ARGV[2] tasks due by ARGV[1] from the scheduled set (KEYS[1]) to the active
/// list (KEYS[2]) and signals consumers (KEYS[3]) as apalis-redis's fetch does; returns how
/// many moved.
const PROMOTE_DUE_LUA: &str = r#"
local ids = redis.call("zrangebyscore", KEYS[1], 0, ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
if #ids > 0 then
    redis.call("rpush", KEYS[2], unpack(ids))
    redis.call("zrem", KEYS[1], unpack(ids))
    redis.call("del", KEYS[3])
    redis.call("lpush", KEYS[3], 1)
end
return #ids
"#;

const PURGE_DONE_LUA: &str = r"
local ids = redis.call('SPOP', KEYS[1], ARGV[1])
for _, id in ipairs(ids) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('DEL', KEYS[3] .. ':' .. id)
end
return #ids
";

fn build_task(job_id: JobId, run_at: Option<u64>) -> Result<Task<Vec<u8>>, QueueError> {
    let args = serde_json::to_vec(&JobMessage { job_id })
        .map_err(|e| QueueError::Other(format!("encoding a queue message: {e}")))?;
    let mut builder = TaskBuilder::new(args).task_id(TaskId::from_ulid(ulid::Ulid::generate()));
    if let Some(at) = run_at {
        builder = builder.run_at_timestamp(at);
    }
    Ok(builder.build())
}

/// Unix time in whole seconds no earlier than now + `delay` (apalis compares whole seconds).
fn run_at_after(delay: Duration) -> u64 {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(delay);
    at.as_secs() + u64::from(at.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("redis://:hunter2@localhost:6379/0"),
            "redis://:***@localhost:6379/0"
        );
        assert_eq!(
            redact_url("rediss://user:p%40ss@host/1?protocol=resp3"),
            "rediss://user:***@host/1?protocol=resp3"
        );
        assert_eq!(redact_url("redis://host:6379"), "redis://host:6379");
        assert_eq!(
            url_password("redis://:hunter2@h").as_deref(),
            Some("hunter2")
        );
        assert_eq!(url_password("redis://user@h"), None);
        assert_eq!(
            scrub("auth hunter2 failed".into(), &["hunter2".into()]),
            "auth *** failed"
        );
    }

    #[test]
    fn delays_round_up_to_whole_seconds() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let at = run_at_after(Duration::from_millis(1500)) as f64;
        assert!(at >= now + 1.5, "{at} < {now} + 1.5");
        assert!(at < now + 2.6);
    }

    #[test]
    fn message_is_only_the_job_id() {
        let id = JobId::new();
        let json = serde_json::to_value(JobMessage { job_id: id }).unwrap();
        assert_eq!(json, serde_json::json!({ "job_id": id.to_string() }));
    }
}
