//! Rate limits shared by every API process: GCRA (the generic cell rate algorithm, a token
//! bucket kept as one timestamp per bucket, the "theoretical arrival time"). On Redis the
//! timestamp lives under `{ns}:ratelimit:{bucket}` and one Lua script reads and moves it
//! atomically with the server's clock, so limits hold across API processes; on SQLite (one
//! process) it lives in an in-process cache. Both run the same arithmetic ([`gcra`]).
//! Written here rather than with `governor`: governor keeps its state in process memory and
//! one quota per limiter, while these buckets must live in Redis and each key may have its
//! own quota.

use super::*;

/// A quota: `requests` per `window` (a burst of up to `requests`, refilled evenly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub requests: u32,
    pub window: Duration,
}

impl RatePolicy {
    /// Milliseconds between two requests at the sustained rate (at least 1).
    fn interval_ms(&self) -> i64 {
        (self.window.as_millis() as i64 / i64::from(self.requests.max(1))).max(1)
    }

    fn window_ms(&self) -> i64 {
        self.window.as_millis() as i64
    }
}

/// What one request got from its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// When refused: seconds until one request is allowed again (at least 1).
    pub retry_after_secs: u64,
}

/// One GCRA step at `now_ms` for a bucket whose theoretical arrival time is `tat_ms`,
/// taking `cost` requests at once (a dashboard bulk action counts each job): the decision
/// and the bucket's new time (unchanged when refused). A cost above the quota never passes.
pub fn gcra(
    tat_ms: Option<i64>,
    now_ms: i64,
    policy: RatePolicy,
    cost: u32,
) -> (RateDecision, i64) {
    let tat = tat_ms.unwrap_or(now_ms).max(now_ms);
    let new_tat = tat + policy.interval_ms() * i64::from(cost.max(1));
    let allow_at = new_tat - policy.window_ms();
    if now_ms < allow_at {
        let decision = RateDecision::of(policy, false, tat - now_ms, allow_at - now_ms);
        return (decision, tat);
    }
    (RateDecision::of(policy, true, new_tat - now_ms, 0), new_tat)
}

impl RateDecision {
    /// The decision from what a GCRA step found (here or in Redis): whether the request
    /// passes, how far the bucket's time is ahead of now after it (`ahead_ms`), and, when
    /// refused, how long until one passes (`retry_ms`).
    fn of(policy: RatePolicy, allowed: bool, ahead_ms: i64, retry_ms: i64) -> RateDecision {
        if !allowed {
            return RateDecision {
                allowed,
                remaining: 0,
                reset_secs: secs_up(ahead_ms),
                retry_after_secs: secs_up(retry_ms).max(1),
            };
        }
        RateDecision {
            allowed,
            remaining: ((policy.window_ms() - ahead_ms) / policy.interval_ms()).max(0) as u32,
            reset_secs: secs_up(ahead_ms),
            retry_after_secs: 0,
        }
    }
}

fn secs_up(ms: i64) -> u64 {
    (ms.max(0) as u64).div_ceil(1000)
}

/// The same step as [`gcra`], in Redis (hashed once per process): KEYS[1] the bucket,
/// ARGV[1] the interval and ARGV[2] the window in ms, ARGV[3] the cost. Returns {allowed,
/// tat - now, allow_at - now} in ms.
static GCRA: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(GCRA_LUA));

const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - window
if now < allow_at then
  return {0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return {1, new_tat - now, 0}
";

/// The in-process buckets of the SQLite deployment.
pub(super) type LocalBuckets = moka::sync::Cache<String, Arc<Mutex<i64>>>;

pub(super) fn local_buckets() -> LocalBuckets {
    moka::sync::Cache::builder()
        .max_capacity(100_000)
        // A bucket idle this long is full again for any policy up to a minute's window.
        .time_to_idle(Duration::from_secs(120))
        .build()
}

impl Queue {
    /// Takes one request from `bucket` (e.g. `key:<id>`, `ip:<address>`) under `policy`.
    /// A Redis that does not answer lets the request through (logged): the limit protects
    /// the service, and refusing everything while Redis restarts would be an outage of its own.
    pub async fn take_token(&self, bucket: &str, policy: RatePolicy) -> RateDecision {
        self.take_tokens(bucket, policy, 1).await
    }

    /// Takes `cost` requests at once from `bucket` (all or none), like [`Queue::take_token`].
    pub async fn take_tokens(&self, bucket: &str, policy: RatePolicy, cost: u32) -> RateDecision {
        let cost = cost.max(1);
        match &self.inner.backend {
            Backend::Redis(r) => {
                let mut conn = r.conn.clone();
                let key = format!("{}:ratelimit:{bucket}", r.namespace);
                let mut invocation = GCRA.key(key);
                invocation
                    .arg(policy.interval_ms())
                    .arg(policy.window_ms())
                    .arg(cost);
                let call = invocation.invoke_async::<(i64, i64, i64)>(&mut conn);
                match tokio::time::timeout(CHECK_TIMEOUT, call).await {
                    Ok(Ok((allowed, ahead, retry))) => {
                        RateDecision::of(policy, allowed == 1, ahead, retry)
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %scrub(e.to_string(), &r.secrets), "rate limit check failed; letting the request through");
                        open(policy)
                    }
                    Err(_) => {
                        tracing::warn!("rate limit check timed out; letting the request through");
                        open(policy)
                    }
                }
            }
            Backend::Sqlite(_) => {
                let cell = self
                    .inner
                    .buckets
                    .get_with(bucket.to_owned(), || Arc::new(Mutex::new(i64::MIN)));
                let mut tat = cell.lock().unwrap_or_else(|e| e.into_inner());
                let now = self.inner.started.elapsed().as_millis() as i64;
                let current = (*tat != i64::MIN).then_some(*tat);
                let (decision, next) = gcra(current, now, policy, cost);
                *tat = next;
                decision
            }
        }
    }
}

/// What a request is told when its bucket could not be read.
fn open(policy: RatePolicy) -> RateDecision {
    RateDecision {
        allowed: true,
        remaining: policy.requests,
        reset_secs: 0,
        retry_after_secs: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_PER_SEC: RatePolicy = RatePolicy {
        requests: 10,
        window: Duration::from_secs(1),
    };

    #[test]
    fn a_burst_of_the_quota_then_the_sustained_rate() {
        let (mut tat, now) = (None, 1_000_000);
        for i in 0..10 {
            let (d, next) = gcra(tat, now, TEN_PER_SEC, 1);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 9 - i);
            tat = Some(next);
        }
        let (d, same) = gcra(tat, now, TEN_PER_SEC, 1);
        assert!(!d.allowed);
        assert_eq!(same, tat.unwrap(), "a refusal costs nothing");
        assert_eq!(d.retry_after_secs, 1);
        assert_eq!(d.remaining, 0);
        // One interval later, one more request.
        let (d, _) = gcra(tat, now + 100, TEN_PER_SEC, 1);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn a_cost_takes_that_many_requests_at_once() {
        let now = 1_000_000;
        let (d, tat) = gcra(None, now, TEN_PER_SEC, 7);
        assert!(d.allowed);
        assert_eq!(d.remaining, 3);
        // Four more do not fit in what is left; a refusal costs nothing.
        let (d, same) = gcra(Some(tat), now, TEN_PER_SEC, 4);
        assert!(!d.allowed);
        assert_eq!(same, tat);
        let (d, _) = gcra(Some(tat), now, TEN_PER_SEC, 3);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        // More than the quota never passes, even on a full bucket.
        let (d, _) = gcra(None, now, TEN_PER_SEC, 11);
        assert!(!d.allowed);
    }

    #[test]
    fn a_rested_bucket_is_full() {
        let (d, _) = gcra(Some(5_000), 60_000, TEN_PER_SEC, 1);
        assert!(d.allowed);
        assert_eq!(d.remaining, 9);
        assert_eq!(d.reset_secs, 1);
    }

    #[test]
    fn over_many_seconds_the_rate_is_kept() {
        // 50 requests per second offered for 10 s against 10/s: about 100 pass.
        let (mut tat, mut allowed) = (None, 0);
        for ms in (0..10_000).step_by(20) {
            let (d, next) = gcra(tat, ms, TEN_PER_SEC, 1);
            tat = Some(next);
            allowed += u32::from(d.allowed);
        }
        assert!((100..=110).contains(&allowed), "{allowed}");
    }
}
