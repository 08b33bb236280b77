//! Bulk issue: `POST /v1/certificates/batch` (a JSON array or a CSV upload), batch progress,
//! and a streamed ZIP of the finished PDFs. A batch is validated whole before anything is
//! written: either every row is accepted, as one job each in one transaction, or none is and
//! the answer lists every bad row.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::db::{BatchRow, ListCursor};
use shared::domain::{JobId, JobStatus, PdfStandard, Timestamp};
use utoipa::{IntoParams, ToSchema};

use crate::certificate_order::{self, BatchItem, too_many, validate};
use crate::error::{ApiError, ErrorBody, FieldError};
use crate::extract::{ApiBody, ApiQuery, Caller, Keyed, Mine, Owned};
use crate::paging::{Listing, PageQuery};
use crate::placement::{Placement, PriorityChoice};
use crate::state::AppState;
use crate::submit::{self, BatchOrder, BatchSubmitted, Idempotency, resolve_template};
use crate::waiting::{Awaited, WaitQuery, until_final};

pub use crate::certificate_order::MAX_ROWS;
/// Most row errors listed in one answer; the message gives the total.
const MAX_LISTED_ERRORS: usize = 200;

/// A batch as JSON. CSV uploads (`Content-Type: text/csv`) send the rows as CSV with a header
/// row of field names (`recipient_name`, `course_name`, `issued_on`, `issuer_name`,
/// `expires_on`, and the template's declared fields), and `template` / `is_public` as query
/// parameters.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Template name or id; default `classic`.
    pub template: Option<String>,
    /// List every certificate of the batch in the public registry.
    #[serde(default)]
    pub is_public: bool,
    /// The standards every PDF meets (default: the template's); see `PdfStandard`.
    #[schema(schema_with = crate::schemas::pdf_standard_or_null)]
    pub pdf_standard: Option<PdfStandard>,
    /// 1 to 10,000 rows.
    #[schema(min_items = 1, max_items = 10000)]
    pub rows: Vec<BatchItem>,
    /// Every row's priority: `low` or `bulk` (the default); `normal` or `high` with an admin
    /// key only (else 403 `priority_not_allowed`).
    pub priority: Option<PriorityChoice>,
    /// Start no row before this RFC 3339 instant (they are `scheduled` until then; at most a
    /// year ahead). Not with `delay_secs`.
    #[schema(format = DateTime, example = "2026-12-24T18:00:00Z")]
    pub run_at: Option<String>,
    /// Start no row before this many seconds from now (at most a year). Not with `run_at`.
    #[schema(maximum = 31622400, minimum = 0)]
    pub delay_secs: Option<u64>,
    /// Deliver `batch.completed` to this URL when the batch's last job ends, signed like a
    /// webhook with the key's callback secret (`GET /v1/webhooks/callback-secret`). Checked
    /// like a webhook's URL (422 `invalid_url`, `forbidden_target`).
    #[schema(example = "https://example.com/hooks/quire")]
    pub callback_url: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// For CSV uploads: the template name or id.
    pub template: Option<String>,
    /// For CSV uploads: list the certificates publicly.
    pub is_public: Option<bool>,
    /// For CSV uploads: the standards every PDF meets (default: the template's).
    #[param(schema_with = crate::schemas::pdf_standard)]
    pub pdf_standard: Option<PdfStandard>,
    /// For CSV uploads: every row's priority (`low` or `bulk`, the default; higher with an
    /// admin key).
    pub priority: Option<PriorityChoice>,
    /// For CSV uploads: start no row before this RFC 3339 instant.
    #[param(format = DateTime)]
    pub run_at: Option<String>,
    /// For CSV uploads: start no row before this many seconds from now (at most a year).
    #[param(maximum = 31622400, minimum = 0)]
    pub delay_secs: Option<u64>,
    /// Deliver `batch.completed` to this URL when the batch's last job ends, signed like a
    /// webhook with the key's callback secret (`GET /v1/webhooks/callback-secret`). Checked
    /// like a webhook's URL (422 `invalid_url`, `forbidden_target`).
    #[param(example = "https://example.com/hooks/quire")]
    pub callback_url: Option<String>,
}

/// A batch and its progress.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchView {
    pub id: String,
    pub template: String,
    pub template_version: i64,
    pub total: i64,
    /// Jobs per status: `scheduled`, `queued`, `running`, `succeeded`, `failed`, `dead`,
    /// `cancelled`.
    #[schema(value_type = Object)]
    pub counts: std::collections::BTreeMap<String, i64>,
    /// Jobs that reached an end state (succeeded, dead or cancelled).
    pub finished: i64,
    /// finished / total, 0 to 1.
    pub progress: f64,
    /// Every job finished: the archive is ready.
    pub complete: bool,
    pub created_at: String,
    pub links: BatchLinks,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchLinks {
    #[serde(rename = "self")]
    pub self_: String,
    /// A ZIP of the finished PDFs, once `complete`.
    pub archive: String,
    /// The batch's certificates in the registry.
    pub certificates: String,
}

/// A batch request as sent, in either form.
struct Parsed {
    template: Option<String>,
    is_public: bool,
    pdf_standard: Option<PdfStandard>,
    rows: Vec<BatchItem>,
    priority: Option<PriorityChoice>,
    run_at: Option<String>,
    delay_secs: Option<u64>,
    callback_url: Option<String>,
}

/// Same key, same request (content type, query and body): the original batch.
fn batch_idempotency(
    headers: &HeaderMap,
    q: &BatchQuery,
    body: &[u8],
) -> Result<Option<Idempotency>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let query = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        q.template, q.is_public, q.priority, q.run_at, q.delay_secs, q.callback_url
    );
    Idempotency::of_parts(headers, &[content_type, query.as_bytes(), body])
}

/// The rows and options of a CSV (options in the query) or JSON batch.
fn parse_batch(headers: &HeaderMap, q: BatchQuery, body: &[u8]) -> Result<Parsed, ApiError> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "text/csv" => Ok(Parsed {
            template: q.template,
            is_public: q.is_public.unwrap_or(false),
            pdf_standard: q.pdf_standard,
            rows: certificate_order::parse_csv(body)?,
            priority: q.priority,
            run_at: q.run_at,
            delay_secs: q.delay_secs,
            callback_url: q.callback_url,
        }),
        "application/json" => {
            let req: BatchRequest = crate::extract::parse_json(body)?;
            Ok(Parsed {
                template: req.template,
                is_public: req.is_public,
                pdf_standard: req.pdf_standard,
                rows: req.rows,
                priority: req.priority,
                run_at: req.run_at,
                delay_secs: req.delay_secs,
                callback_url: req.callback_url,
            })
        }
        _ => Err(ApiError::BadRequest {
            code: "unsupported_media_type",
            message: "send application/json or text/csv".into(),
            field: None,
        }),
    }
}

/// Issue up to 10,000 certificates at once, from JSON or CSV.
#[utoipa::path(post, path = "/v1/certificates/batch", operation_id = "submit_batch", tag = "certificates",
    request_body(description = "JSON, or CSV: a header row of field names (`recipient_name`, `course_name`, \
        `issued_on`, `issuer_name`, `expires_on`, and the template's declared fields) then one row per \
        certificate, with `template`, `is_public`, `pdf_standard`, `priority`, `run_at`, `delay_secs` and `callback_url` \
        as query parameters",
        content((BatchRequest = "application/json"),
            (String = "text/csv", example = "recipient_name,course_name\nAda Lovelace,Analytical Engines\n"))),
    params(BatchQuery, ("Idempotency-Key" = Option<String>, Header, description = "Same key and request within the window: the original batch (200); another request: 409; 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")),
    responses((status = 202, description = "Accepted: one job per row", body = BatchView),
        (status = 200, description = "Same Idempotency-Key and request as before: the original batch", body = BatchView),
        (status = 409, description = "Idempotency-Key used with a different request", body = ErrorBody),
        (status = 403, description = "`priority` above `bulk` with a key that is not an admin's (`priority_not_allowed`)", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, description = "The body is larger than `limits.max_body_bytes`, or has more than 10,000 rows (`too_many_rows`)", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "Bad rows, each with its row number and field", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn submit(
    Keyed { state, caller }: Keyed,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<BatchQuery>,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    // Hashing and parsing up to `limits.max_body_bytes` of CSV or JSON is CPU work: in the
    // check pool, like the rows' validation below.
    let checks = state.checks.clone();
    let (idempotency, parsed) = checks
        .run(&caller.key_id, move || {
            let idempotency = batch_idempotency(&headers, &q, &body)?;
            Ok::<_, ApiError>((idempotency, parse_batch(&headers, q, &body)))
        })
        .await??;
    if let Some(i) = &idempotency
        && let Some(earlier) = i.earlier_batch(&state, &caller).await?
    {
        return earlier_batch(&state, &earlier).await;
    }
    let Parsed {
        template,
        is_public,
        pdf_standard,
        rows,
        priority,
        run_at,
        delay_secs,
        callback_url,
    } = parsed?;
    let placement = batch_placement(&caller, priority, run_at, delay_secs)?;
    let callback_url = crate::callbacks::checked(&state, &caller, callback_url).await?;
    if rows.is_empty() {
        return Err(ApiError::Invalid {
            code: "empty_batch",
            message: "a batch needs at least one row".into(),
            field: Some("rows".into()),
        });
    }
    if rows.len() > MAX_ROWS {
        return Err(too_many());
    }
    let template = resolve_template(&state, &caller, template.as_deref()).await?;
    let started = std::time::Instant::now();

    let batch_id = JobId::new().to_string();
    let request = move |row: &BatchItem| row.request(is_public, pdf_standard);

    // Pass 1: every row checked, only the problems kept; on the blocking pool, as 10,000
    // rows are seconds of CPU.
    let (config, checked_template) = (state.config.clone(), template.clone());
    let checks = state.checks.clone();
    let (rows, errors, bad_rows) = checks
        .run(&caller.key_id, move || {
            let mut errors: Vec<FieldError> = Vec::new();
            let mut bad_rows = 0;
            for (i, row) in rows.iter().enumerate() {
                match validate(&config.limits, &checked_template, request(row)) {
                    Ok(_) => {}
                    Err(ApiError::InvalidMany {
                        errors: row_errors, ..
                    }) => {
                        bad_rows += 1;
                        for mut e in row_errors {
                            if errors.len() < MAX_LISTED_ERRORS {
                                e.row = Some(i + 1);
                                errors.push(e);
                            }
                        }
                    }
                    Err(other) => return Err(other),
                }
            }
            Ok((rows, errors, bad_rows))
        })
        .await??;
    if bad_rows > 0 {
        let first = errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        return Err(ApiError::InvalidMany {
            code: "invalid_rows",
            message: format!(
                "{bad_rows} row(s) are invalid; nothing was accepted (row {}: {first})",
                errors.first().and_then(|e| e.row).unwrap_or(0)
            ),
            errors,
            diagnostics: Vec::new(),
        });
    }
    let validated = started.elapsed();

    // Pass 2: the jobs, re-checked and written a chunk at a time (see `BatchOrder`).
    let batch = BatchRow {
        id: batch_id.clone(),
        owner_id: caller.key_id.clone(),
        template_id: template.record.id.clone(),
        template_version: template.record.version,
        total: rows.len() as i64,
        created_at: Timestamp::now().millis(),
        callback_url: callback_url.clone(),
    };
    // Each row's check owns what it reads, so its future borrows nothing from the row.
    let job = |row: &BatchItem| {
        let (state, template, req) = (state.clone(), template.clone(), request(row));
        let owner = caller.key_id.clone();
        async move { certificate_order::check(&state, &owner, &template, req).await }
    };
    let order = BatchOrder {
        batch: &batch,
        rows: &rows,
        job,
        placement,
    };
    let submitted = submit::submit(&state, &caller, idempotency, order).await?;
    let ids = match submitted {
        BatchSubmitted::Accepted(ids) => ids,
        BatchSubmitted::Earlier(earlier) => return earlier_batch(&state, &earlier).await,
    };
    drop(rows);
    tracing::info!(
        batch_id = %batch_id,
        rows = ids.len(),
        validate_ms = validated.as_millis() as u64,
        write_ms = (started.elapsed() - validated).as_millis() as u64,
        "batch accepted"
    );
    let view = batch_view(&state, &batch, &template.record.name).await?;
    let location = view.links.self_.clone();
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// A batch's priority (default `bulk`) and start instant, checked for `caller`.
fn batch_placement(
    caller: &crate::auth::Caller,
    priority: Option<PriorityChoice>,
    run_at: Option<String>,
    delay_secs: Option<u64>,
) -> Result<Placement, ApiError> {
    Placement::check(
        caller,
        shared::domain::Priority::Bulk,
        priority,
        run_at.as_deref(),
        delay_secs,
    )
}

/// `200` with a batch submitted earlier with the same `Idempotency-Key` and request.
async fn earlier_batch(state: &AppState, batch: &BatchRow) -> Result<Response, ApiError> {
    let template = template_name(state, batch).await?;
    let view = batch_view(state, batch, &template).await?;
    let location = view.links.self_.clone();
    Ok((StatusCode::OK, [(header::LOCATION, location)], Json(view)).into_response())
}

/// The name of the batch's template (its id if the template is gone).
async fn template_name(state: &AppState, batch: &BatchRow) -> Result<String, ApiError> {
    Ok(match state.templates.get(&batch.template_id, true).await? {
        Some(t) => t.record.name.clone(),
        None => batch.template_id.clone(),
    })
}

async fn batch_view(
    state: &AppState,
    batch: &BatchRow,
    template: &str,
) -> Result<BatchView, ApiError> {
    let counts = state.db.batch_counts(&batch.id).await?;
    Ok(view_of(state, batch, template, &counts))
}

fn view_of(
    state: &AppState,
    batch: &BatchRow,
    template: &str,
    counts: &[(JobStatus, i64)],
) -> BatchView {
    let finished: i64 = counts
        .iter()
        .filter(|(s, _)| {
            matches!(
                s,
                JobStatus::Succeeded | JobStatus::Dead | JobStatus::Cancelled
            )
        })
        .map(|(_, n)| n)
        .sum();
    BatchView {
        id: batch.id.clone(),
        template: template.to_owned(),
        template_version: batch.template_version,
        total: batch.total,
        counts: counts.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
        finished,
        progress: if batch.total == 0 {
            1.0
        } else {
            finished as f64 / batch.total as f64
        },
        complete: finished >= batch.total,
        created_at: Timestamp::from_millis(batch.created_at).to_rfc3339(),
        links: BatchLinks {
            self_: shared::urls::batch(&state.base_url, &batch.id),
            archive: shared::urls::batch_archive(&state.base_url, &batch.id),
            certificates: shared::urls::batch_certificates(&state.base_url, &batch.id),
        },
    }
}

/// A page of batches.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchPage {
    pub batches: Vec<BatchView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `GET /v1/batches` takes only paging.
#[derive(Debug, Deserialize)]
pub struct BatchListQuery {}

/// The caller's batches (every batch for admin keys), newest first, each with its progress.
#[utoipa::path(get, path = "/v1/batches", operation_id = "list_batches", tag = "certificates", params(PageQuery),
    responses((status = 200, body = BatchPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list(
    Listing {
        state,
        caller,
        page,
        ..
    }: Listing<BatchListQuery>,
) -> Result<Json<BatchPage>, ApiError> {
    let page = page.checked(ListCursor::decode)?;
    let mut rows = state
        .db
        .list_batches(caller.owner_filter(), page.after.as_ref(), page.fetch())
        .await?;
    let next_cursor = page.next_cursor(&mut rows, |last| {
        ListCursor {
            created_at: last.created_at,
            id: last.id.clone(),
        }
        .encode()
    });
    let ids: Vec<String> = rows.iter().map(|b| b.id.clone()).collect();
    let counts = state.db.batches_counts(&ids).await?;
    let mut batches = Vec::with_capacity(rows.len());
    for batch in &rows {
        let template = template_name(&state, batch).await?;
        let counts = counts.get(&batch.id).map(Vec::as_slice).unwrap_or_default();
        batches.push(view_of(&state, batch, &template, counts));
    }
    Ok(Json(BatchPage {
        batches,
        next_cursor,
    }))
}

impl Owned for BatchRow {
    async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<BatchRow, ApiError> {
        id.parse::<JobId>()
            .map_err(|_| ApiError::NotFound("batch"))?;
        state
            .db
            .get_batch(id, caller.owner_filter())
            .await?
            .ok_or(ApiError::NotFound("batch"))
    }
}

/// A batch's progress: jobs per status; with `?wait=N`, as soon as every job is finished
/// (or after N seconds).
#[utoipa::path(get, path = "/v1/batches/{id}", operation_id = "get_batch", tag = "certificates",
    params(("id" = uuid::Uuid, Path, description = "Batch id"), WaitQuery),
    responses((status = 200, body = BatchView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    Mine {
        state,
        caller,
        row: batch,
    }: Mine<BatchRow>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> Result<Json<BatchView>, ApiError> {
    let wait = q.duration(&state)?;
    let name = template_name(&state, &batch).await?;
    if wait.is_zero() {
        return Ok(Json(batch_view(&state, &batch, &name).await?));
    }
    let awaited = Awaited::Batch(batch.id.clone());
    let read = || {
        let (state, batch, name) = (state.clone(), batch.clone(), name.clone());
        async move {
            let view = batch_view(&state, &batch, &name).await?;
            let done = view.complete;
            Ok((view, done))
        }
    };
    Ok(Json(
        until_final(&state, &caller.key_id, wait, awaited, read).await?,
    ))
}

/// A ZIP of the batch's finished PDFs (and `manifest.csv`), streamed; once it is complete.
/// A key may download `limits.max_archive_downloads_per_key` archives at once from one
/// server (`429 too_many_archives`).
#[utoipa::path(get, path = "/v1/batches/{id}/archive", operation_id = "download_batch_archive", tag = "certificates",
    params(("id" = uuid::Uuid, Path, description = "Batch id")),
    responses((status = 200, description = "The ZIP", content_type = "application/zip"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not complete yet", body = ErrorBody)))]
pub async fn archive(
    Mine {
        state,
        caller,
        row: batch,
    }: Mine<BatchRow>,
) -> Result<Response, ApiError> {
    let view = batch_view(&state, &batch, "").await?;
    if !view.complete {
        return Err(ApiError::Conflict {
            code: "batch_incomplete",
            message: format!(
                "{} of {} certificates are finished; the archive is ready when all are",
                view.finished, view.total
            ),
        });
    }
    let slot = state.long_lived.archives.acquire(&caller.key_id)?;
    // The first page before answering: a database that is away is a 503, not a cut ZIP.
    let first = state
        .db
        .batch_files_page(&batch.id, None, FILES_PER_PAGE)
        .await?;
    let (db, storage, id) = (state.db.clone(), state.storage.clone(), batch.id.clone());
    // The ZIP is written into one end of a pipe while the client reads the other: memory
    // stays at one PDF and one page of the file list, whatever the batch size. PDFs are
    // compressed already: stored as is. The writer holds the key's archive place until the
    // ZIP is written or the client is gone (a client that stops reading is dropped by the
    // server's write timeout, and the pipe's writer then fails).
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        let _slot = slot;
        if let Err(e) = write_zip(writer, &db, &storage, &id, first).await {
            tracing::warn!(error = %e, "batch archive stream ended early");
        }
    });
    let stream = tokio_util::io::ReaderStream::new(reader);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"batch-{}.zip\"", batch.id),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Files listed per read while an archive is written.
const FILES_PER_PAGE: u32 = 500;

async fn write_zip(
    writer: tokio::io::DuplexStream,
    db: &shared::db::Db,
    storage: &shared::storage::Storage,
    batch: &str,
    first: Vec<shared::db::BatchFile>,
) -> anyhow::Result<()> {
    use async_zip::base::write::ZipFileWriter;
    use async_zip::{Compression, ZipEntryBuilder};

    let mut zip = ZipFileWriter::with_tokio(writer);
    let mut manifest = csv::Writer::from_writer(Vec::new());
    manifest.write_record(["file", "job_id", "recipient_name", "sha256"])?;
    let mut page = Some(first);
    let mut after = None;
    loop {
        let files = match page.take() {
            Some(first) => first,
            None => db.batch_files_page(batch, after, FILES_PER_PAGE).await?,
        };
        after = files.last().map(|f| f.job_id);
        for file in &files {
            let Some(path) = file.result.get("file").and_then(|f| f.as_str()) else {
                continue;
            };
            let bytes = storage.get(path).await?;
            let name = format!("{}.pdf", file.job_id);
            let sha = file
                .result
                .get("sha256")
                .and_then(|s| s.as_str())
                .unwrap_or("");
            manifest.write_record([
                name.as_str(),
                &file.job_id.to_string(),
                &shared::domain::spreadsheet_safe(&file.recipient_name),
                sha,
            ])?;
            zip.write_entry_whole(
                ZipEntryBuilder::new(name.into(), Compression::Stored),
                &bytes,
            )
            .await?;
        }
        if files.len() < FILES_PER_PAGE as usize {
            break;
        }
    }
    let manifest = manifest.into_inner()?;
    zip.write_entry_whole(
        ZipEntryBuilder::new("manifest.csv".to_owned().into(), Compression::Deflate),
        &manifest,
    )
    .await?;
    zip.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use shared::domain::spreadsheet_safe;

    #[test]
    fn manifest_cells_never_start_a_formula() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(spreadsheet_safe(formula), format!("'{formula}"));
        }
        assert_eq!(spreadsheet_safe("Zoë Ångström"), "Zoë Ångström");
        assert_eq!(spreadsheet_safe("a=b"), "a=b");
    }
}
