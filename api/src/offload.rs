//! CPU-heavy request checks (image decodes, the validation of reports and batches) run on the
//! blocking pool, so one big request cannot hold a runtime thread that `/health` and every
//! other request need.
//!
//! The work handed over is a plain closure: it never awaits, so a blocking thread never waits
//! for more blocking-pool work (that is how 600 concurrent reports once took all 512 blocking
//! threads for good: each waited on a decode that could no longer be scheduled). Turns are
//! taken *before* any thread is used, on an async semaphore of `limits.max_concurrent_decodes`
//! slots, so checks never hold more blocking threads than that and `tokio::fs`, DNS and
//! renders keep theirs. A key holds at most `limits.max_checks_per_key` checks (running or
//! waiting) and the process lets at most `limits.max_waiting_checks` wait; beyond either the
//! request is refused at once (429 / 503) instead of queueing without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The bounded pool of CPU-heavy checks; cheap to clone.
#[derive(Clone)]
pub struct CheckPool {
    inner: Arc<Inner>,
}

struct Inner {
    slots: Arc<Semaphore>,
    max_per_key: usize,
    max_waiting: usize,
    /// Checks per key, running or waiting for a slot.
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    per_key: HashMap<String, usize>,
    waiting: usize,
}

impl CheckPool {
    pub fn new(slots: usize, max_per_key: usize, max_waiting: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                slots: Arc::new(Semaphore::new(slots.max(1))),
                max_per_key: max_per_key.max(1),
                max_waiting,
                held: Mutex::default(),
            }),
        }
    }

    /// Runs `work` on a blocking-pool thread once a slot is free, charged to `owner` (an API
    /// key id). The slot and the key's charge are held by the work itself, so a request that
    /// gives up (deadline, client gone) does not free them before its check has ended.
    pub async fn run<T: Send + 'static>(
        &self,
        owner: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let charge = self.charge(owner)?;
        let waiting = Waiting::enter(&self.inner)?;
        let slot = self
            .inner
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::Internal(format!("check pool closed: {e}")))?;
        drop(waiting);
        tokio::task::spawn_blocking(move || {
            let _held = (slot, charge);
            work()
        })
        .await
        .map_err(|e| ApiError::Internal(format!("a request check failed: {e}")))
    }

    /// Checks running or waiting for `owner` now (for tests and the dashboard).
    pub fn held_by(&self, owner: &str) -> usize {
        let held = self.inner.held.lock().expect("check pool lock");
        held.per_key.get(owner).copied().unwrap_or(0)
    }

    fn charge(&self, owner: &str) -> Result<Charge, ApiError> {
        let mut held = self.inner.held.lock().expect("check pool lock");
        let count = held.per_key.entry(owner.to_owned()).or_default();
        if *count >= self.inner.max_per_key {
            return Err(ApiError::TooMany {
                code: "too_many_checks",
                message: format!(
                    "this key already has {} large requests (images, reports, batches) being \
                     checked; send the next when one has been answered \
                     (setting limits.max_checks_per_key)",
                    self.inner.max_per_key
                ),
                retry_after_secs: 1,
            });
        }
        *count += 1;
        Ok(Charge {
            inner: self.inner.clone(),
            owner: owner.to_owned(),
        })
    }
}

/// One check charged to a key; uncharged when dropped.
struct Charge {
    inner: Arc<Inner>,
    owner: String,
}

impl Drop for Charge {
    fn drop(&mut self) {
        let mut held = self.inner.held.lock().expect("check pool lock");
        if let Some(count) = held.per_key.get_mut(&self.owner) {
            *count -= 1;
            if *count == 0 {
                held.per_key.remove(&self.owner);
            }
        }
    }
}

/// A check waiting for a slot; counted against `max_waiting` until it has one.
struct Waiting<'a>(&'a Inner);

impl<'a> Waiting<'a> {
    fn enter(inner: &'a Inner) -> Result<Self, ApiError> {
        let mut held = inner.held.lock().expect("check pool lock");
        if inner.slots.available_permits() == 0 && held.waiting >= inner.max_waiting {
            return Err(ApiError::Busy {
                message: format!(
                    "{} large requests are already waiting to be checked; try again shortly \
                     (setting limits.max_waiting_checks)",
                    held.waiting
                ),
                retry_after_secs: 1,
            });
        }
        held.waiting += 1;
        Ok(Self(inner))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.held.lock().expect("check pool lock").waiting -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The wedge of issue 33, in miniature: with 2 blocking threads, 50 checks that each
    /// decode (here: sleep) on the blocking pool all finish, and the pool still runs other
    /// blocking work (what `tokio::fs` and DNS need) meanwhile.
    #[test]
    fn checks_never_take_every_blocking_thread() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let pool = CheckPool::new(1, 100, 100);
            let mut checks = tokio::task::JoinSet::new();
            for i in 0..50 {
                let pool = pool.clone();
                checks.spawn(async move {
                    pool.run(&format!("key{}", i % 5), move || {
                        std::thread::sleep(Duration::from_millis(1));
                        i
                    })
                    .await
                });
            }
            let other =
                tokio::time::timeout(Duration::from_secs(5), tokio::task::spawn_blocking(|| "fs"))
                    .await;
            assert_eq!(other.expect("blocking pool starved").unwrap(), "fs");
            let all = tokio::time::timeout(Duration::from_secs(10), checks.join_all())
                .await
                .expect("checks wedged");
            assert_eq!(all.iter().filter(|r| r.is_ok()).count(), 50);
        });
    }

    #[tokio::test]
    async fn a_key_over_its_cap_is_refused_at_once() {
        let pool = CheckPool::new(1, 2, 100);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let blocker = {
            let (pool, wait) = (pool.clone(), wait.clone());
            tokio::spawn(async move {
                pool.run("a", move || wait.lock().unwrap().recv().unwrap())
                    .await
            })
        };
        while pool.held_by("a") == 0 {
            tokio::task::yield_now().await;
        }
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run("a", || ()).await })
        };
        while pool.held_by("a") < 2 {
            tokio::task::yield_now().await;
        }
        let refused = pool.run("a", || ()).await.unwrap_err();
        assert!(
            matches!(
                refused,
                ApiError::TooMany {
                    code: "too_many_checks",
                    ..
                }
            ),
            "{refused:?}"
        );
        // Another key is not refused: it waits its turn behind the running check.
        let other = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run("b", || 7).await })
        };
        release.send(()).unwrap();
        release.send(()).ok();
        blocker.await.unwrap().unwrap();
        queued.await.unwrap().unwrap();
        assert_eq!(other.await.unwrap().unwrap(), 7);
        assert_eq!(pool.held_by("a"), 0);
    }

    #[tokio::test]
    async fn the_process_refuses_checks_beyond_its_waiting_room() {
        let pool = CheckPool::new(1, 100, 1);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run("a", move || wait.recv().unwrap()).await })
        };
        while pool.held_by("a") == 0 {
            tokio::task::yield_now().await;
        }
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run("b", || ()).await })
        };
        while pool.held_by("b") == 0 {
            tokio::task::yield_now().await;
        }
        let refused = pool.run("c", || ()).await.unwrap_err();
        assert!(matches!(refused, ApiError::Busy { .. }), "{refused:?}");
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        queued.await.unwrap().unwrap();
    }
}
