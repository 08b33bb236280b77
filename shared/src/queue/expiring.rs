//! Short-lived records kept in Redis with an expiry (dashboard sessions), under
//! `{ns}:{key}`: they are shared by every API process and vanish on their own. Only the Redis
//! deployment has them; the embedded one keeps such records in its database. A record may
//! belong to a group (a key's sessions), a sorted set `{ns}:{group}` of its members by
//! creation time, which holds at most a given number: a new member ends the oldest.

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

/// A group of records (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    /// Its key, under the namespace (e.g. `sessions:<key id>`).
    pub name: &'a str,
    /// When the record being added was created: the oldest are ended first.
    pub created_ms: i64,
    /// Most records the group keeps.
    pub max: u32,
    /// The group expires this long after its last write (the records' longest life).
    pub ttl: Duration,
}

/// See the module docs.
pub struct Expiring<'a> {
    redis: &'a RedisBackend,
}

impl Expiring<'_> {
    fn key(&self, key: &str) -> String {
        self.redis.record_key(key)
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

    /// Stores `value` under `key` for `ttl` as the newest member of `group`, then ends the
    /// group's oldest members beyond its `max` (their records are deleted) and forgets
    /// members whose records expired. One script, so API processes signing in the same key
    /// at once cannot leave more than `max`. Returns how many records it ended.
    pub async fn put_in_group(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        group: &Group<'_>,
    ) -> Result<u64, QueueError> {
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(PUT_IN_GROUP_LUA));
        let mut invocation = SCRIPT.key(self.key(key));
        invocation
            .key(self.key(group.name))
            .arg(value)
            .arg(ttl.as_millis().max(1) as u64)
            .arg(group.created_ms)
            .arg(group.max.max(1))
            .arg(group.ttl.as_millis().max(1) as u64);
        let mut conn = self.redis.conn.clone();
        tokio::time::timeout(PUSH_TIMEOUT, invocation.invoke_async::<u64>(&mut conn))
            .await
            .map_err(|_| QueueError::Unavailable("Redis timed out storing a session".into()))?
            .map_err(|e| redis_error(&e, "storing a session", &self.redis.secrets))
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

/// KEYS[1] the record, KEYS[2] its group; ARGV: value, ttl ms, created ms, max, group ttl ms.
/// Members are the records' full key names. The group's members are walked once per write:
/// at most `max` live ones plus those expired since the last write.
const PUT_IN_GROUP_LUA: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', member) == 0 then redis.call('ZREM', KEYS[2], member) end
end
local ended = 0
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
    redis.call('DEL', member)
    redis.call('ZREM', KEYS[2], member)
    ended = ended + 1
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return ended
";
