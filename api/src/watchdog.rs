//! Proof that this process still makes progress, for `/health`. A process whose blocking pool
//! is wedged (every thread waiting for work that can no longer be scheduled) or whose runtime
//! threads are all blocked still accepts connections and would answer a liveness probe that
//! checks nothing, so its supervisor would never restart it. The watchdog runs a no-op on the
//! blocking pool from a runtime task every `PERIOD`; `/health` fails once none has completed
//! for `health.stall_after_secs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often a probe runs.
const PERIOD: Duration = Duration::from_millis(500);

/// The last proof of progress; cheap to clone. The probing task ends when the last clone is
/// dropped.
#[derive(Clone)]
pub struct Watchdog {
    inner: Arc<Inner>,
    stall_after: Duration,
}

struct Inner {
    started: Instant,
    /// Milliseconds after `started` at which the last probe completed.
    last_progress_ms: AtomicU64,
}

impl Watchdog {
    /// Starts probing on the current runtime.
    pub fn start(stall_after: Duration) -> Self {
        let inner = Arc::new(Inner {
            started: Instant::now(),
            last_progress_ms: AtomicU64::new(0),
        });
        tokio::spawn(probe(Arc::downgrade(&inner)));
        Self { inner, stall_after }
    }

    /// How long since the blocking pool and the runtime last proved they run work, when that is
    /// longer than `health.stall_after_secs` (else `None`: healthy).
    pub fn stalled_for(&self) -> Option<Duration> {
        let since = self.since_progress();
        (since > self.stall_after).then_some(since)
    }

    fn since_progress(&self) -> Duration {
        let last = Duration::from_millis(self.inner.last_progress_ms.load(Ordering::Relaxed));
        self.inner.started.elapsed().saturating_sub(last)
    }
}

async fn probe(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(PERIOD).await;
        // A probe that cannot be scheduled is left behind (it holds nothing) and the next
        // period tries again; only completions move the mark.
        let ran = tokio::time::timeout(PERIOD * 4, tokio::task::spawn_blocking(|| ())).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if matches!(ran, Ok(Ok(()))) {
            let now = inner.started.elapsed().as_millis() as u64;
            inner.last_progress_ms.store(now, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime whose only blocking thread is taken for good: the watchdog says so.
    #[test]
    fn a_wedged_blocking_pool_is_reported() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let dog = Watchdog::start(Duration::from_millis(1500));
            tokio::time::sleep(PERIOD * 3).await;
            assert_eq!(dog.stalled_for(), None, "a healthy pool is not stalled");
            let (_release, wait) = std::sync::mpsc::channel::<()>();
            tokio::task::spawn_blocking(move || {
                let _ = wait.recv();
            });
            let started = Instant::now();
            while dog.stalled_for().is_none() {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "the wedge was never reported"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
}
