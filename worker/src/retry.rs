//! When a failed attempt runs again: exponential backoff with jitter, so a burst of failures
//! (an SMTP server down) does not come back as a synchronised burst of retries.

use std::time::Duration;

use rand::Rng;
use shared::config::Retry;

/// Delay before attempt `attempt + 1`, given that `attempt` (1-based) just failed:
/// a random time between half and all of `min(base * 2^(attempt-1), max)`.
pub fn backoff(policy: &Retry, attempt: i64) -> Duration {
    let ceiling_ms = ceiling_ms(policy, attempt);
    let ms = rand::rng().random_range(ceiling_ms / 2..=ceiling_ms.max(1));
    Duration::from_millis(ms)
}

/// The longest delay after attempt `attempt` failed: `min(base * 2^(attempt-1), max)`.
fn ceiling_ms(policy: &Retry, attempt: i64) -> u64 {
    let exp = attempt.clamp(1, 32) as u32 - 1;
    policy
        .base_ms
        .saturating_mul(1u64 << exp.min(30))
        .min(policy.max_secs.saturating_mul(1000))
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

    #[test]
    fn a_delivery_is_retried_for_more_than_a_day_by_default() {
        // Whatever the jitter draws (at least half of each delay), the default attempts of
        // a webhook delivery span more than 24 hours.
        let config = shared::config::Config::default();
        let policy = &config.webhooks.retry;
        let shortest: u64 = (1..i64::from(config.queues.webhooks.max_attempts))
            .map(|attempt| ceiling_ms(policy, attempt) / 2)
            .sum();
        assert!(shortest >= 24 * 3_600_000, "{} h", shortest / 3_600_000);
        for attempt in 1..25 {
            let d = backoff(policy, attempt);
            assert!(d <= Duration::from_secs(policy.max_secs), "{d:?}");
        }
    }
}
