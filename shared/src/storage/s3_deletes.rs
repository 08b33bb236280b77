//! Deletions by exact key, gathered into S3 `DeleteObjects` requests of up to 1,000 keys.
//!
//! Every certificate with a photo ends by removing its input: alone, that is one `DELETE`
//! of the four requests the certificate costs the object store. Gathered over a short
//! window, a busy worker's removals share one request. Nothing depends on a gathered
//! deletion happening: a process that dies with some pending leaves inputs of finished jobs
//! behind, and the cleanup's sweep of inputs nothing will read removes them.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use object_store::ObjectStore;
use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use tokio::sync::{mpsc, oneshot};

/// How long the first deletion waits for others to join its request.
const GATHER: Duration = Duration::from_millis(50);
/// The most keys one `DeleteObjects` request takes.
const PER_REQUEST: usize = 1_000;
/// Deletions waiting beyond this are done at once by their caller instead.
const PENDING: usize = 10_000;

enum Deletion {
    Key(ObjectPath),
    /// Answered once every key sent before it has been deleted (or failed).
    Flush(oneshot::Sender<()>),
}

/// The sending end, started on first use in the caller's runtime.
#[derive(Debug, Default)]
pub(super) struct GatheredDeletes {
    sender: OnceLock<mpsc::Sender<Deletion>>,
}

impl GatheredDeletes {
    /// Queues `path` for deletion; `Err(path)` when it cannot be queued (too many pending,
    /// or the task's runtime is gone), for the caller to delete it itself.
    pub(super) fn push(&self, store: &Arc<AmazonS3>, path: ObjectPath) -> Result<(), ObjectPath> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(PENDING);
            tokio::spawn(delete_gathered(store.clone(), receiver));
            sender
        });
        sender.try_send(Deletion::Key(path)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(Deletion::Key(p))
            | mpsc::error::TrySendError::Closed(Deletion::Key(p)) => p,
            _ => unreachable!("only keys are sent here"),
        })
    }

    /// Waits until every deletion queued so far is done: a worker's shutdown, so a clean
    /// stop leaves nothing for the sweep.
    pub(super) async fn flush(&self) {
        let Some(sender) = self.sender.get() else {
            return;
        };
        let (done, finished) = oneshot::channel();
        if sender.send(Deletion::Flush(done)).await.is_ok() {
            let _ = finished.await;
        }
    }
}

async fn delete_gathered(store: Arc<AmazonS3>, mut receiver: mpsc::Receiver<Deletion>) {
    while let Some(first) = receiver.recv().await {
        let mut keys = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        let window = tokio::time::sleep(GATHER);
        tokio::pin!(window);
        // Gather until the window closes, the request is full or someone waits on a flush.
        while let Some(deletion) = next.take() {
            match deletion {
                Deletion::Key(path) => keys.push(path),
                Deletion::Flush(done) => flushes.push(done),
            }
            if keys.len() >= PER_REQUEST || !flushes.is_empty() {
                break;
            }
            tokio::select! {
                more = receiver.recv() => next = more,
                _ = &mut window => {}
            }
        }
        if !keys.is_empty() {
            let paths = futures::stream::iter(keys.into_iter().map(Ok)).boxed();
            let failed = store
                .delete_stream(paths)
                .filter(|r| std::future::ready(r.is_err()))
                .count()
                .await;
            if failed > 0 {
                crate::metrics::storage_error("delete");
                tracing::warn!(
                    failed,
                    "could not delete inputs of finished jobs; the cleanup's sweep will"
                );
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
