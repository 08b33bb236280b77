//! `/v1/jobs`: status, listing, the produced file, cancellation. Answers come from the job row
//! (the system of record), never from queue internals.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse as _, Response};
use serde::{Deserialize, Serialize};
use shared::db::{CancelOutcome, JobFilter, JobRow, ListCursor, RetryOutcome};
use shared::domain::{JobId, JobKind, JobStatus, Timestamp};
use shared::jobs::FileResult;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, Caller, Keyed, Mine, Owned};
use crate::paging::{Listing, PageQuery};
use crate::state::AppState;
use crate::submit::{Retry, submit};
use crate::views::{JobErrorView, JobPage, JobView, bad_query, parse_id};
use crate::waiting::{Awaited, WaitQuery, until_final};

impl Owned for JobRow {
    async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<JobRow, ApiError> {
        state
            .db
            .get_job(parse_id(id)?, caller.owner_filter())
            .await?
            .ok_or(ApiError::NotFound("job"))
    }
}

/// A job's status; with `?wait=N`, as soon as it is finished (or after N seconds).
#[utoipa::path(get, path = "/v1/jobs/{id}", operation_id = "get_job", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id"), WaitQuery),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn get(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> Result<Response, ApiError> {
    let wait = q.duration(&state)?;
    let job_id = parse_id(&id)?;
    // A finished job is answered from memory (see `finished_jobs.rs`).
    if let Some(view) = state.finished.get(job_id, caller.owner_filter()) {
        return Ok(json_body(view.body.clone()));
    }
    let generation = state.finished.generation();
    let job = JobRow::find(&state, &caller, &id).await?;
    if wait.is_zero() || job.status.is_terminal() {
        let body = view_body(&JobView::from_row(&job, &state.base_url))?;
        state.finished.store(generation, &job, &body);
        return Ok(json_body(body));
    }
    let id = job.id;
    let read = || {
        let (state, caller) = (state.clone(), caller.clone());
        async move {
            let job = JobRow::find(&state, &caller, &id.to_string()).await?;
            let done = job.status.is_terminal();
            Ok((job, done))
        }
    };
    let job = until_final(&state, &caller.key_id, wait, Awaited::Job(id), read).await?;
    Ok(Json(JobView::from_row(&job, &state.base_url)).into_response())
}

/// A job's view as the JSON body `Json` would write.
fn view_body(view: &JobView) -> Result<axum::body::Bytes, ApiError> {
    serde_json::to_vec(view)
        .map(Into::into)
        .map_err(|e| ApiError::Internal(format!("serializing a job view: {e}")))
}

fn json_body(body: axum::body::Bytes) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// One status change of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntryView {
    /// The status the job entered.
    #[schema(schema_with = shared::job_view::job_status_schema)]
    pub status: String,
    /// The attempt it belongs to (0 before the first).
    pub attempt: i64,
    pub at: String,
    /// The worker that ran the attempt (on `running` and the attempt's end).
    pub worker: Option<String>,
    /// Why the attempt ended so (on `failed`, `dead` and `cancelled`).
    pub error: Option<JobErrorView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobHistory {
    pub id: String,
    /// Oldest first. Kept as long as the event log (`webhooks.events_retention_hours`).
    pub history: Vec<HistoryEntryView>,
}

/// A job's attempts: every status it went through, with the worker that ran each attempt
/// and each failure's error.
#[utoipa::path(get, path = "/v1/jobs/{id}/history", operation_id = "get_job_history", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses((status = 200, body = JobHistory), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn history(
    Mine {
        state, row: job, ..
    }: Mine<JobRow>,
) -> Result<Json<JobHistory>, ApiError> {
    let entries = state.db.job_history(job.id).await?;
    Ok(Json(JobHistory {
        id: job.id.to_string(),
        history: entries
            .into_iter()
            .map(|e| HistoryEntryView {
                error: e.error_code.map(|code| JobErrorView {
                    code,
                    message: e.error_message.unwrap_or_default(),
                }),
                status: e.status,
                attempt: e.attempt,
                at: e.at.to_rfc3339(),
                worker: e.worker,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this status.
    #[param(schema_with = crate::schemas::job_status)]
    pub status: Option<String>,
    /// Only jobs of this kind.
    #[param(schema_with = crate::schemas::job_kind)]
    pub kind: Option<String>,
    /// Only jobs created at or after this time (RFC 3339, e.g. `2026-12-06T10:00:00Z`).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Only jobs created before this time (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Only the jobs of this batch.
    #[param(max_length = 64)]
    pub batch: Option<String>,
    /// A job id, or text found in the job's data (a recipient's name or address, a report's
    /// title) or in its last error message; at most 200 characters.
    #[param(max_length = 200)]
    pub search: Option<String>,
}

/// An RFC 3339 time from the query, or a 400 naming `field`.
fn query_time(field: &str, text: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    text.map(|t| {
        Timestamp::parse_rfc3339(t).ok_or_else(|| {
            bad_query(
                field,
                format!("`{field}` must be an RFC 3339 time such as 2026-12-06T10:00:00Z"),
            )
        })
    })
    .transpose()
}

/// The caller's jobs (every job for admin keys), newest first.
#[utoipa::path(get, path = "/v1/jobs", operation_id = "list_jobs", tag = "jobs", params(ListQuery, PageQuery),
    responses((status = 200, body = JobPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list(
    Listing {
        state,
        caller,
        filter: q,
        page,
    }: Listing<ListQuery>,
) -> Result<Json<JobPage>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(|s| s.parse::<JobStatus>().map_err(|e| bad_query("status", e)))
        .transpose()?;
    let kind = q
        .kind
        .as_deref()
        .map(|s| s.parse::<JobKind>().map_err(|e| bad_query("kind", e)))
        .transpose()?;
    let since = query_time("since", q.since.as_deref())?;
    let until = query_time("until", q.until.as_deref())?;
    if q.batch.as_ref().is_some_and(|b| b.chars().count() > 64) {
        return Err(bad_query("batch", "`batch` is at most 64 characters"));
    }
    if q.search.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(bad_query("search", "`search` is at most 200 characters"));
    }
    let page = page.checked(ListCursor::decode)?;
    let filter = JobFilter {
        owner_id: caller.owner_filter().map(str::to_owned),
        status,
        kind,
        since,
        until,
        batch_id: q.batch,
        search: q.search.filter(|t| !t.trim().is_empty()),
        oldest_first: false,
    };
    let mut rows = state
        .db
        .list_jobs(&filter, page.after.as_ref(), page.fetch())
        .await?;
    let next_cursor = page.next_cursor(&mut rows, |last| {
        ListCursor {
            created_at: last.created_at.millis(),
            id: last.id.to_string(),
        }
        .encode()
    });
    Ok(Json(JobPage {
        jobs: rows
            .iter()
            .map(|j| JobView::from_row(j, &state.base_url))
            .collect(),
        next_cursor,
    }))
}

/// The PDF a job produced (a workflow's `archive` step: its ZIP), streamed. `ETag` is its sha256 (`If-None-Match` answers 304);
/// one `Range` answers 206 (`If-Range` honoured); `HEAD` gives the headers alone. With
/// `s3.presign_downloads_secs` set, the answer is a 302 to a short-lived presigned URL.
#[utoipa::path(get, path = "/v1/jobs/{id}/file", operation_id = "download_job_file", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses(
        (status = 200, description = "The PDF (a workflow archive: the ZIP)", content(("application/pdf"), ("application/zip"))),
        (status = 206, description = "The requested byte range of the file", content(("application/pdf"), ("application/zip"))),
        (status = 302, description = "Redirect to a presigned object storage URL (when configured)"),
        (status = 304, description = "Not modified"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The job has not succeeded (yet)", body = ErrorBody),
        (status = 416, description = "The range lies outside the file"),
        (status = 503, description = "File storage unavailable", body = ErrorBody)))]
pub async fn file(
    Mine {
        state, row: job, ..
    }: Mine<JobRow>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve_file(&state, &job, &method, &headers).await
}

/// A signed download link's query: what emails carry instead of too-big attachments.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedLink {
    /// Unix seconds after which the link stops working.
    pub expires: i64,
    /// HMAC-SHA256 of the job id and `expires`, hex.
    pub sig: String,
}

/// A job's PDF through a signed link from an email (no API key: the signature is the
/// permission). An invalid or expired link is 404, like an unknown job.
#[utoipa::path(get, path = "/v1/files/{id}", operation_id = "download_signed_file", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id"), SignedLink),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf"),
        (status = 206, description = "The requested byte range of the PDF", content_type = "application/pdf"),
        (status = 302, description = "Redirect to a presigned object storage URL (when configured)"),
        (status = 304, description = "Not modified"),
        (status = 404, description = "Unknown job, bad signature or expired link", body = ErrorBody),
        (status = 416, description = "The range lies outside the file"),
        (status = 503, description = "File storage unavailable", body = ErrorBody)))]
pub async fn signed_file(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    link: Result<ApiQuery<SignedLink>, ApiError>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = ApiError::NotFound("no such file, or the link expired");
    // A link without its `expires` or `sig` (or with one unreadable) is as wrong as a bad one.
    let Ok(ApiQuery(link)) = link else {
        return Err(not_found);
    };
    let Ok(job_id) = id.parse::<JobId>() else {
        return Err(not_found);
    };
    if !state.links().await?.verify(job_id, link.expires, &link.sig) {
        return Err(not_found);
    }
    let job = state.db.get_job(job_id, None).await?.ok_or(not_found)?;
    // A link outlives neither a revoked certificate nor its owner's revoked key.
    if !state.db.link_is_live(job.id, &job.owner_id).await? {
        return Err(ApiError::NotFound("no such file, or the link expired"));
    }
    serve_file(&state, &job, &method, &headers).await
}

async fn serve_file(
    state: &AppState,
    job: &shared::db::JobRow,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let result = job
        .result
        .as_ref()
        .filter(|_| job.status == JobStatus::Succeeded)
        .and_then(|r| serde_json::from_value::<FileResult>(r.clone()).ok())
        .ok_or_else(|| ApiError::Conflict {
            code: "not_ready",
            message: if job.status == JobStatus::Succeeded {
                format!("a {} job produces no file", job.kind)
            } else {
                format!(
                    "the job is {}; its file exists once it has succeeded",
                    job.status
                )
            },
        })?;
    // A workflow's `archive` step ends with a ZIP; every other file is a PDF.
    let (content_type, extension) = if result.file.ends_with(".zip") {
        ("application/zip", "zip")
    } else {
        ("application/pdf", "pdf")
    };
    let object = crate::download::StoredObject {
        key: &result.file,
        bytes: result.bytes,
        sha256: &result.sha256,
        content_type,
        file_name: format!("{}.{extension}", job.id),
    };
    crate::download::serve(state, method, headers, object).await
}

/// Cancel a job. A waiting job (`queued`, or `failed` before its retry) is cancelled at once:
/// 200. A `running` job is asked to stop: 202, the job still `running` with
/// `cancel_requested: true`; the worker holding it is signalled, stops at its next safe point
/// (before rendering, before storing the file, before sending an email) and records
/// `cancelled` (error code `cancelled`). A job that finishes before reaching a safe point
/// ends as it would have. Asking again while the request is pending is another 202.
/// A `POST` action, not `DELETE`: the job and its history stay readable afterwards.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", operation_id = "cancel_job", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses((status = 200, description = "Cancelled", body = JobView),
        (status = 202, description = "Running: cancelling was asked; poll the job for `cancelled`", body = JobView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Already finished", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn cancel(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let id = parse_id(&id)?;
    match state.db.cancel_job(id, caller.owner_filter()).await? {
        CancelOutcome::Cancelled(job) => {
            shared::metrics::job_cancelled_waiting(job.kind);
            if let Err(e) = state
                .queue
                .publish_finished(
                    job.id,
                    job.batch_id.as_deref().or(job.workflow_id.as_deref()),
                )
                .await
            {
                tracing::debug!(error = %e, "finished event not published; waiters re-read soon");
            }
            let _ = state.storage.remove_inputs(id).await;
            if job.workflow_id.is_some() {
                push_ready_steps(&state, job.id).await;
            }
            Ok((
                StatusCode::OK,
                Json(JobView::from_row(&job, &state.base_url)),
            ))
        }
        CancelOutcome::Requested(job) => {
            if let Err(e) = state.queue.publish_cancel(id).await {
                // The request is in the row: the worker's next heartbeat finds it.
                tracing::warn!(job_id = %id, error = %e, "cancel signal not sent; the worker's heartbeat will see the request");
            }
            Ok((
                StatusCode::ACCEPTED,
                Json(JobView::from_row(&job, &state.base_url)),
            ))
        }
        CancelOutcome::NotFound => Err(ApiError::NotFound("job")),
        CancelOutcome::NotCancellable(status) => Err(ApiError::Conflict {
            code: "not_cancellable",
            message: format!("the job is already {status}"),
        }),
    }
}

/// A cancelled workflow step's children that continue regardless were made ready by its end
/// (in its transaction): pushed now. A push that fails is the rescuer's.
async fn push_ready_steps(state: &AppState, id: JobId) {
    let ready = match state.db.ready_children(id).await {
        Ok(ready) => ready,
        Err(e) => {
            tracing::warn!(job_id = %id, error = %e, "ready steps not read; the rescuer will push them");
            return;
        }
    };
    for step in ready {
        if let Err(e) = state.queue.push(step.queue, step.id, None).await {
            tracing::warn!(job_id = %step.id, error = %e, "ready step not pushed; the rescuer will");
        }
    }
}

/// Run a `dead` or `failed` job again now, with the queue's `max_attempts` more attempts.
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", operation_id = "retry_job", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses((status = 200, description = "Queued again", body = JobView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Not dead or failed", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn retry(
    Mine {
        state,
        caller,
        row: job,
    }: Mine<JobRow>,
) -> Result<Json<JobView>, ApiError> {
    match submit(&state, &caller, None, Retry(&job)).await? {
        RetryOutcome::Requeued(job) => Ok(Json(JobView::from_row(&job, &state.base_url))),
        RetryOutcome::NotFound => Err(ApiError::NotFound("job")),
        RetryOutcome::NotRetryable(status) => Err(ApiError::Conflict {
            code: "not_retryable",
            message: format!("the job is {status}; only dead or failed jobs can be retried"),
        }),
    }
}
