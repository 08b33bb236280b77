//! The Redis backend (apalis-redis): key names, the push and promote scripts' callers, and
//! error messages with passwords scrubbed.

use super::*;

pub(super) struct RedisBackend {
    pub(super) conn: RedisConn,
    /// Opens the pub/sub connections.
    pub(super) connector: redis_conn::Connector,
    /// `"redis"`, `"redis-sentinel"` or `"redis-cluster"`, for messages.
    pub(super) topology: &'static str,
    /// Keys are hash-tagged so that each script's keys share one cluster slot.
    pub(super) cluster: bool,
    pub(super) namespace: String,
    /// The URL with its password replaced, for messages.
    pub(super) redacted_url: String,
    /// Password spellings to scrub from any error text.
    pub(super) secrets: Vec<String>,
}

impl RedisBackend {
    /// The apalis queue name, which prefixes every key of the queue. In a cluster it is a
    /// hash tag (`{ns:queue}`): apalis's scripts and ours touch several keys of one queue
    /// at once, which must share a slot; queues spread over the cluster's masters.
    pub(super) fn queue_name(&self, queue: QueueName) -> String {
        if self.cluster {
            format!("{{{}:{}}}", self.namespace, queue.as_str())
        } else {
            format!("{}:{}", self.namespace, queue.as_str())
        }
    }

    /// The key of an expiring record or group (`{ns}:{key}`). In a cluster every one shares
    /// the hash tag `{ns}`: a group's script reads and deletes its members, so the records
    /// and their groups must share a slot (they are few and small).
    pub(super) fn record_key(&self, key: &str) -> String {
        if self.cluster {
            format!("{{{}}}:{key}", self.namespace)
        } else {
            format!("{}:{key}", self.namespace)
        }
    }

    /// One subscription's life: subscribe to `channels`, call `subscribed` once it is in
    /// place, hand every message to `deliver`, ping every `ping_every` so a dead connection is
    /// noticed; returns an error when the connection is lost.
    pub(super) async fn relay(
        &self,
        what: &str,
        channels: &[&String],
        ping_every: Duration,
        subscribed: impl FnOnce(),
        deliver: impl Fn(&redis::Msg),
    ) -> Result<(), QueueError> {
        let opening = format!("subscribing to {what}");
        let timed_out = || QueueError::Unavailable(format!("{opening}: timed out"));
        let pubsub = tokio::time::timeout(OPEN_TIMEOUT, self.connector.pubsub())
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| redis_error(&e, &opening, &self.secrets))?;
        let (mut sink, mut stream) = pubsub.split();
        for channel in channels {
            tokio::time::timeout(OPEN_TIMEOUT, sink.subscribe(channel.as_str()))
                .await
                .map_err(|_| timed_out())?
                .map_err(|e| redis_error(&e, &opening, &self.secrets))?;
        }
        subscribed();
        let mut ping = tokio::time::interval(ping_every);
        ping.tick().await;
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => deliver(&msg),
                    None => return Err(QueueError::Unavailable(format!("{what} connection closed"))),
                },
                _ = ping.tick() => {
                    match tokio::time::timeout(REDIS_CONNECT_TIMEOUT, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(redis_error(&e, &format!("pinging the {what} connection"), &self.secrets)),
                        Err(_) => return Err(QueueError::Unavailable(format!("{what} connection ping timed out"))),
                    }
                }
            }
        }
    }

    pub(super) async fn promote_due(&self, queue: QueueName) -> Result<(), QueueError> {
        let config = self.apalis_config(queue);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        // Every push runs it: the script is hashed once per process, not per call.
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(PROMOTE_DUE_LUA));
        let script = &*SCRIPT;
        let mut conn = self.conn.clone();
        loop {
            let moved: i64 = tokio::time::timeout(
                PUSH_TIMEOUT,
                script
                    .key(config.scheduled_jobs_set())
                    .key(config.active_jobs_list())
                    .key(config.signal_list())
                    .arg(now)
                    .arg(PROMOTE_CHUNK)
                    .invoke_async(&mut conn),
            )
            .await
            .map_err(|_| QueueError::Unavailable("Redis promotion timed out".into()))?
            .map_err(|e| redis_error(&e, "moving due tasks to the active list", &self.secrets))?;
            if (moved as usize) < PROMOTE_CHUNK {
                return Ok(());
            }
        }
    }

    pub(super) fn event_channel(&self, topic: &str) -> String {
        format!("{}:events:{topic}", self.namespace)
    }

    pub(super) fn wake_channel(&self, queue: QueueName) -> String {
        format!("{}:wake", self.queue_name(queue))
    }

    pub(super) fn apalis_config(&self, queue: QueueName) -> apalis_redis::Config {
        apalis_redis::Config::default()
            .queue(self.queue_name(queue))
            // One task per fetch: a busy worker never hoards tasks another worker could run.
            .batch_size(1)
            .heartbeat_interval(HEARTBEAT_INTERVAL)
            .missed_heartbeats(MISSED_HEARTBEATS)
            // Ownership is the worker's inflight set already; the extra "lock" round trip per
            // task only sets a status we never read (and does an O(queue length) LREM).
            .lock_tasks(false)
            // Required: without the completion event a task stays in the worker's inflight set
            // and is re-queued as an orphan when the worker goes away.
            .persist_results(true)
            .emit_events(false)
    }
}

/// Whether `e` says the connection no longer works (rather than the command failing): the
/// one test behind a transient error and behind asking the sentinels again.
pub(super) fn connection_lost(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
}

pub(super) fn redis_error(e: &redis::RedisError, what: &str, secrets: &[String]) -> QueueError {
    let message = scrub(format!("{what}: {e}"), secrets);
    let transient = connection_lost(e)
        // No master right now: the sentinels see it down (a failover under way), or no
        // node of a cluster answers.
        || matches!(
            e.kind(),
            redis::ErrorKind::MasterNameNotFoundBySentinel
                | redis::ErrorKind::NoValidReplicasFoundBySentinel
                | redis::ErrorKind::ClusterConnectionNotFound
        )
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::BusyLoading
                    | redis::ServerErrorKind::TryAgain
                    | redis::ServerErrorKind::ClusterDown
                    | redis::ServerErrorKind::MasterDown
                    | redis::ServerErrorKind::ReadOnly
            )
        );
    if transient {
        QueueError::Unavailable(message)
    } else {
        QueueError::Other(message)
    }
}

pub(super) fn apalis_redis_error(
    e: &apalis_redis::Error,
    what: &str,
    secrets: &[String],
) -> QueueError {
    match e {
        apalis_redis::Error::Database(e) => redis_error(e, what, secrets),
        other => QueueError::Other(scrub(format!("{what}: {other}"), secrets)),
    }
}

/// The password part of a URL's user info, as written (possibly percent-encoded).
pub(super) fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    Some(password.to_owned())
}

/// The URL with any password replaced by `***`.
pub(super) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL we can take apart: show nothing of it rather than risk a secret.
        return "<unparsable URL>".into();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let userinfo = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => userinfo.to_owned(),
    };
    format!("{scheme}://{userinfo}@{host}{tail}")
}

pub(super) fn scrub(mut message: String, secrets: &[String]) -> String {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        message = message.replace(s.as_str(), "***");
    }
    message
}
