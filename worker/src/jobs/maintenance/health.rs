//! `health`: checks the database, the queue, mail delivery, file storage and free disk space
//! under `DATA_DIR`, and records each result (`health_checks`) for `/ready` and `/v1/status`. A
//! failing check is a result, not a failed job: the job fails only if it cannot record.

use std::time::Duration;

use shared::db::HealthCheck;
use shared::domain::Timestamp;

use crate::error::JobError;
use crate::jobs::context::JobContext;

/// Longest any one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(ctx: &JobContext) -> Result<serde_json::Value, JobError> {
    let (database, queue, mail, storage, disk) = tokio::join!(
        timed("database", async {
            ctx.db
                .check()
                .await
                .map(|()| "answers".to_owned())
                .map_err(|e| e.to_string())
        }),
        timed("queue", async {
            ctx.queue
                .check()
                .await
                .map(|()| format!("{} answers", ctx.queue.backend_name()))
                .map_err(|e| e.to_string())
        }),
        timed("mail", ctx.mailer.check(CHECK_TIMEOUT)),
        timed("storage", ctx.storage.check()),
        timed("disk", disk(ctx)),
    );
    let checks = [database, queue, mail, storage, disk];
    ctx.db.record_health(&checks).await?;
    let failing: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    if !failing.is_empty() {
        tracing::warn!(failing = ?failing, "health checks failing");
    }
    Ok(serde_json::json!({
        "ok": failing.is_empty(),
        "checks": checks.iter().map(|c| serde_json::json!({
            "name": c.name, "ok": c.ok, "detail": c.detail, "duration_ms": c.duration_ms,
        })).collect::<Vec<_>>(),
    }))
}

async fn timed(
    name: &str,
    check: impl std::future::Future<Output = Result<String, String>>,
) -> HealthCheck {
    let started = tokio::time::Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())));
    let (ok, detail) = match outcome {
        Ok(detail) => (true, detail),
        Err(detail) => (false, detail),
    };
    HealthCheck {
        name: name.to_owned(),
        ok,
        detail,
        duration_ms: started.elapsed().as_millis() as i64,
        checked_at: Timestamp::now(),
    }
}

/// Free space on the file system holding `DATA_DIR`, against `health.min_free_disk_mb`.
async fn disk(ctx: &JobContext) -> Result<String, String> {
    let dir = ctx.config.data_dir.clone();
    let want = ctx.config.health.min_free_disk_mb;
    let free = tokio::task::spawn_blocking(move || fs4::available_space(&dir))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot read free space: {e}"))?;
    let free_mb = free / (1024 * 1024);
    let detail = format!("{free_mb} MiB free under DATA_DIR (want at least {want} MiB)");
    if free_mb >= want {
        Ok(detail)
    } else {
        Err(detail)
    }
}
