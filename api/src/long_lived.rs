//! Caps on requests that stay open: event streams, long-polls (`?wait=`) and batch archive
//! downloads. Each kind has a cap per API process (a semaphore: beyond it `503`, the process
//! is full) and, under it, a cap per key counted in this process (beyond it `429` with the
//! kind's code and `Retry-After`), so one key cannot take every slot of a process and leave
//! other keys' streams and operators' live pages answering 503. A slot is held as long as its
//! request is open (a stream's body, an archive's writer) and given back when it is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shared::config::Limits;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// What a refused client is told to wait before trying again, in seconds.
const RETRY_AFTER_SECS: u64 = 5;

/// One kind of long-lived request and its two caps.
#[derive(Clone)]
pub struct Cap {
    /// `too_many_streams`, `too_many_long_polls`, `too_many_archives`.
    code: &'static str,
    /// What is counted, for messages: "event streams".
    what: &'static str,
    process: Arc<Semaphore>,
    per_key: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// A held place under a [`Cap`]: given back when dropped.
pub struct Slot {
    _process: OwnedSemaphorePermit,
    key: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl Cap {
    fn new(code: &'static str, what: &'static str, process: usize, per_key: usize) -> Cap {
        Cap {
            code,
            what,
            process: Arc::new(Semaphore::new(process)),
            per_key,
            open: Arc::default(),
        }
    }

    /// A place for one more request of key `key_id`: `429` (this cap's code) when the key
    /// has `per_key` open here already, `503` when the process is full.
    pub fn acquire(&self, key_id: &str) -> Result<Slot, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let held = open.get(key_id).copied().unwrap_or(0);
        if held >= self.per_key {
            return Err(ApiError::TooMany {
                code: self.code,
                message: format!(
                    "this key has {held} {} open on this server, the most it may; close one or retry after {RETRY_AFTER_SECS} s",
                    self.what
                ),
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        let permit = self
            .process
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Unavailable(self.what))?;
        *open.entry(key_id.to_owned()).or_default() += 1;
        Ok(Slot {
            _process: permit,
            key: key_id.to_owned(),
            open: self.open.clone(),
        })
    }

    /// Requests of key `key_id` holding a place now.
    pub fn held_by(&self, key_id: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(key_id).copied().unwrap_or(0)
    }
}

/// This process's caps, from `limits.*`.
#[derive(Clone)]
pub struct LongLived {
    pub streams: Cap,
    pub long_polls: Cap,
    pub archives: Cap,
}

impl LongLived {
    pub fn new(limits: &Limits) -> LongLived {
        LongLived {
            streams: Cap::new(
                "too_many_streams",
                "event streams",
                limits.max_event_streams,
                limits.max_event_streams_per_key,
            ),
            long_polls: Cap::new(
                "too_many_long_polls",
                "long-polls",
                limits.max_long_polls,
                limits.max_long_polls_per_key,
            ),
            archives: Cap::new(
                "too_many_archives",
                "archive downloads",
                limits.max_archive_downloads,
                limits.max_archive_downloads_per_key,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[test]
    fn a_key_is_capped_under_the_process() {
        let cap = Cap::new("too_many_streams", "event streams", 3, 2);
        let a1 = cap.acquire("a").unwrap();
        let _a2 = cap.acquire("a").unwrap();
        let refused = cap.acquire("a").err().unwrap();
        let response = refused.into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "5");
        // Another key still gets the process's last place; then the process is full.
        let _b1 = cap.acquire("b").unwrap();
        let full = cap.acquire("b").err().unwrap().into_response();
        assert_eq!(full.status(), 503);
        // A closed request gives its place back, to its key and to the process.
        drop(a1);
        assert_eq!(cap.held_by("a"), 1);
        let _b2 = cap.acquire("b").unwrap();
        assert_eq!(cap.held_by("b"), 2);
    }

    #[test]
    fn counts_are_forgotten_at_zero() {
        let cap = Cap::new("too_many_archives", "archive downloads", 10, 1);
        drop(cap.acquire("a").unwrap());
        assert!(cap.open.lock().unwrap().is_empty());
    }
}
