//! When a failed attempt runs again: exponential backoff with jitter, so a burst of failures
//! (an SMTP server down) does not come back as a synchronised burst of retries.

use std::time::Duration;

use rand::Rng;
use shared::config::Retry;

/// Delay before attempt `attempt + 1`, given that `attempt` (1-based) just failed:
/// a random time between half and all of `min(base * 2^(attempt-1), max)`.
pub fn backoff(policy: &Retry, attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 32) as u32 - 1;
    let ceiling_ms = policy
        .base_ms
        .saturating_mul(1u64 << exp.min(30))
        .min(policy.max_secs.saturating_mul(1000));
    let ms = rand::rng().random_range(ceiling_ms / 2..=ceiling_ms.max(1));
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_the_cap() {
        let policy = Retry {
            base_ms: 1000,
            max_secs: 10,
        };
        for _ in 0..100 {
            let first = backoff(&policy, 1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_millis(1000));
            let third = backoff(&policy, 3);
            assert!(third >= Duration::from_millis(2000) && third <= Duration::from_millis(4000));
            assert!(backoff(&policy, 30) <= Duration::from_secs(10));
        }
    }
}
