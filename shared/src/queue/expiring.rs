//! Short-lived records kept in Redis with an expiry (dashboard sessions), under
//! `{ns}:{key}`: they are shared by every API process and vanish on their own. Only the Redis
//! deployment has them; the embedded one keeps such records in its database.

use super::*;

impl Queue {
    /// The Redis store for expiring records, when this deployment has Redis.
    pub fn expiring(&self) -> Option<Expiring<'_>> {
        match &self.inner.backend {
            Backend::Redis(r) => Some(Expiring { redis: r }),
            Backend::Sqlite(_) => None,
        }
    }
}

/// See the module docs.
pub struct Expiring<'a> {
    redis: &'a RedisBackend,
}

impl Expiring<'_> {
    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.redis.namespace)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: redis::Cmd,
        what: &str,
    ) -> Result<T, QueueError> {
        let mut conn = self.redis.conn.clone();
        tokio::time::timeout(PUSH_TIMEOUT, cmd.query_async::<T>(&mut conn))
            .await
            .map_err(|_| QueueError::Unavailable(format!("Redis timed out {what}")))?
            .map_err(|e| redis_error(&e, what, &self.redis.secrets))
    }

    /// Stores `value` under `key` for `ttl`.
    pub async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), QueueError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64);
        self.run::<()>(cmd, "storing a session").await
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, QueueError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        self.run(cmd, "reading a session").await
    }

    pub async fn delete(&self, key: &str) -> Result<(), QueueError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        self.run::<()>(cmd, "deleting a session").await
    }
}
