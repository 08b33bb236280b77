//! CPU-heavy request work (validating a large report or batch) runs on the blocking pool, so
//! one big request cannot hold a runtime thread that `/health` and every other request need.

use std::future::Future;

use crate::error::ApiError;

/// Runs `work` to completion on a blocking-pool thread. It may still await (image decodes,
/// which spawn their own blocking tasks); only its CPU time moves off the async executor.
pub(crate) async fn off_executor<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, ApiError> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(work))
        .await
        .map_err(|e| ApiError::Internal(format!("validation task failed: {e}")))
}
