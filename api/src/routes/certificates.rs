//! `/v1/certificates`: issue (validate against the template's declared fields, store images,
//! insert the job with its registry row, push its id), the registries, and revocation.

use std::collections::BTreeMap;

use crate::cache::CachedTemplate;
use crate::images::{CheckedImage, ImageLimits};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shared::db::{
    CertificateCursor, CertificateFilter, CertificateRow, CertificateSort, CertificateStatus,
    EmailCharge, InsertOutcome, NewCertificate, NewJob, OverQuota, RevokeOutcome, SortKey,
};
use shared::domain::{BoundedText, JobId, JobKind, Timestamp};
use shared::jobs::CertificatePayload;
use shared::templates::{FieldSpec, FieldType, TemplateKind};
use time::Date;
use time::macros::format_description;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody, FieldError};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::routes::emails;
use crate::routes::jobs::{JobView, SubmittedView, bad_query};

/// The template used when a submission names none.
pub const DEFAULT_TEMPLATE: &str = "classic";

/// A certificate to issue.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// Template name or id; default `classic`. The job pins the template's current version.
    /// One that does not exist or that the key may not use is a 422 `unknown_template`.
    #[schema(example = "classic")]
    pub template: Option<String>,
    /// At most `limits.max_name_chars` (default 200) characters.
    #[schema(example = "Zoë Ångström", max_length = 200)]
    pub recipient_name: String,
    /// At most `limits.max_name_chars` (default 200) characters.
    #[schema(example = "Rust for Backend Engineers", max_length = 200)]
    pub course_name: String,
    /// `YYYY-MM-DD`; default today (UTC).
    #[schema(example = "2026-11-21", format = Date)]
    pub issued_on: Option<String>,
    /// At most `limits.max_name_chars` (default 200) characters.
    #[schema(max_length = 200)]
    pub issuer_name: Option<String>,
    /// `YYYY-MM-DD`, not before `issued_on` (else 422): after this day verification answers
    /// `expired`.
    #[schema(format = Date)]
    pub expires_on: Option<String>,
    /// List it in the public registry (`GET /v1/certificates/public`).
    #[serde(default)]
    pub is_public: bool,
    /// Base64 JPEG, PNG or WebP (a `data:` URL prefix is accepted); one that does not decode
    /// within the image limits is a 422.
    #[schema(content_encoding = "base64")]
    pub photo: Option<String>,
    /// Base64 JPEG, PNG or WebP; shown by templates with a signature line.
    #[schema(content_encoding = "base64")]
    pub signature: Option<String>,
    /// The template's declared fields (`GET /v1/templates/{id}` lists them): text, date
    /// (`YYYY-MM-DD`), number, or image (base64).
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// Email someone when the certificate is issued (and, with `on_failure`, when it fails).
    pub notify: Option<shared::jobs::Notify>,
}

/// A validated order: everything checked, nothing left to fail on bad input.
pub(crate) struct CertificateOrder {
    pub payload: CertificatePayload,
    pub certificate: NewCertificate,
    /// Input files to store under the job's directory: (name, bytes).
    pub inputs: Vec<(String, Vec<u8>)>,
}

type Text = BoundedText<10_000>;

/// Collects every problem with a submission, so the client fixes them in one round.
#[derive(Default)]
pub(crate) struct Problems(pub Vec<FieldError>);

impl Problems {
    pub(crate) fn add(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError::new(field, code, message));
    }

    /// One line of text, as the OpenAPI document describes it: at most `max` characters as
    /// sent, none a control character, at least one visible; stored trimmed.
    pub(crate) fn text(&mut self, field: &str, raw: &str, max: usize) -> Option<String> {
        let got = raw.chars().count();
        if got > max {
            self.add(
                field,
                "too_long",
                format!("`{field}` must be at most {max} characters (got {got})"),
            );
            return None;
        }
        match Text::parse(raw) {
            Err(e) => {
                let code = if raw.trim().is_empty() {
                    "missing_field"
                } else {
                    "invalid_field"
                };
                self.add(field, code, format!("`{field}` {e}"));
                None
            }
            Ok(text) => Some(text.into_inner()),
        }
    }

    /// `YYYY-MM-DD` exactly (the document's `format: date`).
    pub(crate) fn date(&mut self, field: &str, raw: &str) -> Option<Date> {
        match Date::parse(raw, format_description!("[year]-[month]-[day]")) {
            Ok(d) => Some(d),
            Err(_) => {
                self.add(
                    field,
                    "invalid_date",
                    format!("`{field}` must be a date as YYYY-MM-DD, e.g. 2026-11-21"),
                );
                None
            }
        }
    }

    pub(crate) fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(self.0))
        }
    }
}

fn image_limits(state: &AppState) -> ImageLimits {
    let limits = &state.config.limits;
    ImageLimits {
        max_bytes: limits.max_image_bytes,
        max_pixels: limits.max_image_pixels,
        max_side: limits.max_image_side,
    }
}

/// Decodes and checks one base64 image on the blocking pool (it fully decodes the pixels).
pub(crate) async fn image(
    state: &AppState,
    b64: String,
) -> Result<CheckedImage, (&'static str, String)> {
    let limits = image_limits(state);
    let _turn = state
        .decodes
        .acquire()
        .await
        .map_err(|e| ("internal", e.to_string()))?;
    tokio::task::spawn_blocking(move || crate::images::decode_base64_image(&b64, &limits))
        .await
        .map_err(|e| ("internal", e.to_string()))?
        .map_err(|e| (e.code(), e.to_string()))
}

/// The template a submission names, if the caller may use it.
pub(crate) async fn resolve_template(
    state: &AppState,
    caller: &Caller,
    name: Option<&str>,
) -> Result<std::sync::Arc<CachedTemplate>, ApiError> {
    resolve_template_of(state, caller, name, TemplateKind::Certificate).await
}

/// The template of `kind` a submission names (default: `classic` or `sat`), if the caller may
/// use it.
pub(crate) async fn resolve_template_of(
    state: &AppState,
    caller: &Caller,
    name: Option<&str>,
    kind: TemplateKind,
) -> Result<std::sync::Arc<CachedTemplate>, ApiError> {
    let default = match kind {
        TemplateKind::Certificate => DEFAULT_TEMPLATE,
        TemplateKind::Report => crate::routes::reports::DEFAULT_REPORT_TEMPLATE,
    };
    let name = name.unwrap_or(default).trim();
    let unknown = || {
        ApiError::invalid_with_code(
            "unknown_template",
            "template",
            format!(
                "unknown template `{}`; GET /v1/templates lists the available ones",
                name.chars().take(64).collect::<String>()
            ),
        )
    };
    let template = state.templates.get(name, true).await?.ok_or_else(unknown)?;
    if !caller.may_read(&template.record) || template.record.kind != kind {
        return Err(unknown());
    }
    Ok(template)
}

/// Checks a submission against the core rules and the template's declared fields. Images
/// are decoded here too: a corrupt image is a 422 now, not a failed job later.
pub(crate) async fn validate(
    state: &AppState,
    template: &CachedTemplate,
    req: CertificateRequest,
) -> Result<CertificateOrder, ApiError> {
    let max = state.config.limits.max_name_chars;
    let mut p = Problems::default();
    let recipient_name = p.text("recipient_name", &req.recipient_name, max);
    let course_name = p.text("course_name", &req.course_name, max);
    let issuer_name = req
        .issuer_name
        .as_deref()
        .and_then(|n| p.text("issuer_name", n, max));
    let issued_on = match req.issued_on.as_deref() {
        None => Some(time::OffsetDateTime::now_utc().date()),
        Some(raw) => p.date("issued_on", raw),
    };
    let expires_on = req
        .expires_on
        .as_deref()
        .and_then(|raw| p.date("expires_on", raw));
    if let (Some(from), Some(until)) = (issued_on, expires_on)
        && until < from
    {
        p.add(
            "expires_on",
            "invalid_date",
            "`expires_on` must not be before `issued_on`",
        );
    }
    let mut inputs = Vec::new();
    for (field, b64) in [("photo", &req.photo), ("signature", &req.signature)] {
        if let Some(b64) = b64 {
            match image(state, b64.clone()).await {
                Ok(img) => inputs.push((field.to_owned(), img.bytes)),
                Err((code, message)) => p.add(field, code, format!("`{field}`: {message}")),
            }
        }
    }
    let (fields, image_fields) = check_fields(
        state,
        &template.content.fields,
        req.fields.unwrap_or_default(),
        &mut p,
    )
    .await;
    for (name, bytes) in image_fields.iter() {
        inputs.push((format!("field-{name}"), bytes.clone()));
    }
    p.into_result()?;
    let (Some(recipient_name), Some(course_name), Some(issued_on)) =
        (recipient_name, course_name, issued_on)
    else {
        return Err(ApiError::Internal(
            "validation passed without values".into(),
        ));
    };
    let record = &template.record;
    let payload = CertificatePayload {
        template: record.name.clone(),
        template_id: Some(record.id.clone()),
        template_version: Some(record.version),
        recipient_name,
        course_name,
        issued_on: issued_on.to_string(),
        issuer_name,
        expires_on: expires_on.map(|d| d.to_string()),
        verification_code: shared::verification::verification_code(),
        has_photo: req.photo.is_some(),
        has_signature: req.signature.is_some(),
        fields,
        image_fields: image_fields.keys().cloned().collect(),
        notify: req.notify.clone(),
    };
    let certificate = NewCertificate {
        template_id: record.id.clone(),
        template_version: record.version,
        template_name: record.name.clone(),
        verification_code: payload.verification_code.clone(),
        recipient_name: payload.recipient_name.clone(),
        course_name: payload.course_name.clone(),
        issuer_name: payload.issuer_name.clone(),
        issued_on: payload.issued_on.clone(),
        expires_on: payload.expires_on.clone(),
        is_public: req.is_public,
    };
    Ok(CertificateOrder {
        payload,
        certificate,
        inputs,
    })
}

/// Template-specific fields against their declarations: unknown, missing, wrong type, too
/// long. Returns the plain values and the decoded image fields.
async fn check_fields(
    state: &AppState,
    declared: &[FieldSpec],
    given: serde_json::Map<String, serde_json::Value>,
    p: &mut Problems,
) -> (
    serde_json::Map<String, serde_json::Value>,
    BTreeMap<String, Vec<u8>>,
) {
    let mut values = serde_json::Map::new();
    let mut images = BTreeMap::new();
    for name in given.keys() {
        if !declared.iter().any(|f| &f.name == name) {
            let known: Vec<&str> = declared.iter().map(|f| f.name.as_str()).collect();
            p.add(
                format!("fields.{}", name.chars().take(64).collect::<String>()),
                "unknown_field",
                format!(
                    "this template declares no field `{}`; it accepts: {}",
                    name.chars().take(64).collect::<String>(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
    }
    let max = state.config.limits.max_name_chars;
    for spec in declared {
        let path = format!("fields.{}", spec.name);
        let value = match given.get(&spec.name) {
            None | Some(serde_json::Value::Null) => {
                if spec.required {
                    p.add(&path, "missing_field", format!("`{path}` is required"));
                }
                continue;
            }
            Some(v) => v,
        };
        let wrong = |p: &mut Problems, expected: &str| {
            p.add(
                &path,
                "invalid_type",
                format!("`{path}` must be {expected}"),
            )
        };
        match spec.field_type {
            FieldType::Text => match value {
                serde_json::Value::String(s) => {
                    let limit = spec.max_length.map_or(max, |m| m as usize);
                    if let Some(text) = p.text(&path, s, limit) {
                        values.insert(spec.name.clone(), text.into());
                    }
                }
                serde_json::Value::Number(n) => {
                    values.insert(spec.name.clone(), n.to_string().into());
                }
                _ => wrong(p, "a string"),
            },
            FieldType::Number => match value {
                serde_json::Value::Number(_) => {
                    values.insert(spec.name.clone(), value.clone());
                }
                serde_json::Value::String(s)
                    if s.trim().parse::<f64>().is_ok_and(f64::is_finite) =>
                {
                    values.insert(spec.name.clone(), s.trim().into());
                }
                _ => wrong(p, "a number"),
            },
            FieldType::Date => match value {
                serde_json::Value::String(s) => {
                    if let Some(d) = p.date(&path, s) {
                        values.insert(
                            spec.name.clone(),
                            shared::jobs::display_date(&d.to_string()).into(),
                        );
                    }
                }
                _ => wrong(p, "a date string as YYYY-MM-DD"),
            },
            FieldType::Image => match value {
                serde_json::Value::String(s) => match image(state, s.clone()).await {
                    Ok(img) => {
                        images.insert(spec.name.clone(), img.bytes);
                    }
                    Err((code, message)) => p.add(&path, code, format!("`{path}`: {message}")),
                },
                _ => wrong(p, "a base64 image string"),
            },
        }
    }
    (values, images)
}

/// Submit a certificate job.
#[utoipa::path(
    post,
    path = "/v1/certificates",
    tag = "certificates",
    request_body = CertificateRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body return the original job; 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")),
    responses(
        (status = 202, description = "Accepted; poll the Location", body = SubmittedView),
        (status = 200, description = "Same Idempotency-Key and body as before: the original job", body = SubmittedView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Invalid fields, each with its path; `domain_not_allowed` for a `notify.email` outside the key's domains", body = ErrorBody),
        (status = 429, description = "With `notify`: the key's hourly or daily email quota is used up (`quota_exceeded`); see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until enough of the quota frees up"))),
        (status = 503, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: ApiJson<CertificateRequest>,
) -> Result<Response, ApiError> {
    let idempotency_key = idempotency_key(&headers)?;
    let charge = notify_charge(&state, &caller, body.value.notify.as_ref())?;
    let template = resolve_template(&state, &caller, body.value.template.as_deref()).await?;
    let order = validate(&state, &template, body.value).await?;
    let id = JobId::new();
    store_inputs(&state, id, order.inputs).await?;
    let new = new_job(
        &state,
        &caller,
        JobKind::Certificate,
        id,
        &order.payload,
        idempotency_key,
        &body.raw,
    )?;
    let inserted = state
        .db
        .insert_certificate_job(&new, &order.certificate, charge.as_ref())
        .await;
    enqueue_charged(&state, id, inserted).await
}

/// Writes a submission's input files under the job's directory; on failure none is left.
pub(crate) async fn store_inputs(
    state: &AppState,
    id: JobId,
    inputs: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<(), ApiError> {
    for (name, bytes) in inputs {
        if let Err(e) = state.storage.write_input(id, &name, &bytes).await {
            let _ = state.storage.remove_inputs(id).await;
            return Err(ApiError::Internal(format!("storing {name}: {e}")));
        }
    }
    Ok(())
}

/// A submission's job row: the queue's attempts, runnable now, and the `Idempotency-Key`
/// with a hash of the raw body (the same key with another body is a conflict).
pub(crate) fn new_job(
    state: &AppState,
    caller: &Caller,
    kind: JobKind,
    id: JobId,
    payload: &impl Serialize,
    idempotency_key: Option<String>,
    raw_body: &[u8],
) -> Result<NewJob, ApiError> {
    let request_hash = idempotency_key
        .as_ref()
        .map(|_| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw_body)));
    Ok(NewJob {
        id,
        kind,
        owner_id: caller.key_id.clone(),
        max_attempts: state.config.queues.get(kind.queue()).max_attempts,
        run_at: Timestamp::now(),
        payload: serde_json::to_value(payload).map_err(|e| ApiError::Internal(e.to_string()))?,
        idempotency_key,
        request_hash,
        idempotency_window: Some(std::time::Duration::from_secs(
            state.config.idempotency_window_secs,
        )),
        batch_id: None,
    })
}

/// The `Idempotency-Key` header, if any: 1 to 255 visible ASCII characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_graphic()));
    key.map(|k| Some(k.to_owned()))
        .ok_or_else(|| ApiError::BadRequest {
            code: "invalid_header",
            message: "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            field: Some("Idempotency-Key".into()),
        })
}

/// [`enqueue`] for an insert charged to the key's email quotas: a 429 when it did not fit.
pub(crate) async fn enqueue_charged(
    state: &AppState,
    id: JobId,
    inserted: Result<Result<InsertOutcome, OverQuota>, shared::db::DbError>,
) -> Result<Response, ApiError> {
    match inserted {
        Ok(Err(over)) => {
            let _ = state.storage.remove_inputs(id).await;
            Err(emails::quota_exceeded(&over))
        }
        Ok(Ok(outcome)) => enqueue(state, id, Ok(outcome)).await,
        Err(e) => enqueue(state, id, Err(e)).await,
    }
}

/// A `notify` email of a certificate or report submission: its address must be in the key's
/// domains, and it is charged one recipient (a job sends one notification: `succeeded` or
/// `dead`). `None` without `notify`.
pub(crate) fn notify_charge(
    state: &AppState,
    caller: &Caller,
    notify: Option<&shared::jobs::Notify>,
) -> Result<Option<EmailCharge>, ApiError> {
    let Some(notify) = notify else {
        return Ok(None);
    };
    let mut p = Problems::default();
    emails::check_domain(caller, &mut p, "notify.email", &notify.email);
    let charge = emails::email_charge(state, caller, 1, &mut p);
    p.into_result()?;
    Ok(Some(charge))
}

/// Pushes a freshly inserted job's id. If the push fails the rows are removed again, so a
/// client told 503 never finds a job it was not told about; a row whose push succeeded but
/// whose message is later lost is re-pushed by the rescuer.
pub(crate) async fn enqueue(
    state: &AppState,
    id: JobId,
    inserted: Result<InsertOutcome, shared::db::DbError>,
) -> Result<Response, ApiError> {
    let job = match inserted {
        Ok(InsertOutcome::Inserted(job)) => job,
        Ok(InsertOutcome::Existing(job)) => {
            let _ = state.storage.remove_inputs(id).await;
            return Ok(submitted(state, &job, StatusCode::OK));
        }
        Ok(InsertOutcome::KeyConflict) => {
            let _ = state.storage.remove_inputs(id).await;
            return Err(ApiError::Conflict {
                code: "idempotency_conflict",
                message: "this Idempotency-Key was used with a different request body".into(),
            });
        }
        Err(e) => {
            let _ = state.storage.remove_inputs(id).await;
            return Err(e.into());
        }
    };
    if let Err(e) = state.queue.push(job.queue, id, None).await {
        tracing::warn!(job_id = %id, error = %e, "queue push failed; withdrawing the job");
        if let Err(db) = state.db.delete_unacknowledged_job(id).await {
            // The row stays `queued`; the rescuer will push it. Still a 503 for the client.
            tracing::warn!(job_id = %id, error = %db, "could not withdraw the job; the rescuer will run it");
        } else {
            let _ = state.storage.remove_inputs(id).await;
        }
        return Err(e.into());
    }
    Ok(submitted(state, &job, StatusCode::ACCEPTED))
}

fn submitted(state: &AppState, job: &shared::db::JobRow, status: StatusCode) -> Response {
    let view = SubmittedView::new(&JobView::from_row(job, &state.base_url));
    let location = view.links.self_.clone();
    (status, [(header::LOCATION, location)], Json(view)).into_response()
}

/// A certificate in a registry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateView {
    /// The job that renders it.
    pub id: String,
    /// `pending`, `valid`, `expired`, `revoked`, `failed` or `cancelled`.
    pub status: String,
    pub recipient_name: String,
    pub course_name: String,
    pub issuer_name: Option<String>,
    pub issued_on: String,
    pub expires_on: Option<String>,
    pub template: String,
    pub template_version: i64,
    pub verification_code: String,
    pub verify_url: String,
    pub is_public: bool,
    pub revoked_at: Option<String>,
    pub revocation_reason: Option<String>,
    /// sha256 of the issued PDF.
    pub sha256: Option<String>,
    pub batch_id: Option<String>,
    pub created_at: String,
    /// The PDF (owner or admin; absent in the public registry).
    pub file: Option<String>,
}

pub(crate) fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

impl CertificateView {
    pub(crate) fn from_row(row: &CertificateRow, base_url: &str, public: bool) -> Self {
        let status = row.status(&today());
        CertificateView {
            id: row.job_id.clone(),
            status: status.as_str().to_owned(),
            recipient_name: row.recipient_name.clone(),
            course_name: row.course_name.clone(),
            issuer_name: row.issuer_name.clone(),
            issued_on: row.issued_on.clone(),
            expires_on: row.expires_on.clone(),
            template: row.template_name.clone(),
            template_version: row.template_version,
            verification_code: row.verification_code.clone(),
            verify_url: shared::verification::verify_url(base_url, &row.verification_code),
            is_public: row.is_public,
            revoked_at: row
                .revoked_at
                .map(|t| Timestamp::from_millis(t).to_rfc3339()),
            revocation_reason: row.revoked_reason.clone(),
            sha256: row.sha256().map(str::to_owned),
            batch_id: if public { None } else { row.batch_id.clone() },
            created_at: Timestamp::from_millis(row.created_at).to_rfc3339(),
            file: (!public && row.file().is_some())
                .then(|| format!("{base_url}/v1/jobs/{}/file", row.job_id)),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistryQuery {
    /// Template name or id.
    pub template: Option<String>,
    /// `pending`, `valid`, `expired`, `revoked`, `failed` or `cancelled`.
    #[param(schema_with = crate::openapi::certificate_status)]
    pub status: Option<String>,
    /// Case-insensitive part of the recipient's name.
    #[param(max_length = 200)]
    pub recipient: Option<String>,
    /// Issued on or after, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub issued_from: Option<String>,
    /// Issued on or before, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub issued_to: Option<String>,
    /// Batch id: only this batch's certificates.
    pub batch: Option<String>,
    /// `-created_at` (default), `created_at`, `-issued_on` or `issued_on`.
    #[param(schema_with = crate::openapi::certificate_sort)]
    pub sort: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page; any other text is a 400 `invalid_query`.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificatePage {
    pub certificates: Vec<CertificateView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Cursor text: base64url of `{"s": sort, "k": key, "id": job id}`.
fn encode_cursor(cursor: &CertificateCursor, sort: CertificateSort) -> String {
    let key = match &cursor.key {
        SortKey::Int(i) => serde_json::json!(i),
        SortKey::Text(t) => serde_json::json!(t),
    };
    let json = serde_json::json!({ "s": sort.name(), "k": key, "id": cursor.job_id });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
}

fn decode_cursor(raw: &str, sort: CertificateSort) -> Option<CertificateCursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    if json.get("s")?.as_str()? != sort.name() {
        return None;
    }
    let id = json.get("id")?.as_str()?;
    id.parse::<JobId>().ok()?;
    // The key's type must be the sort's: a text key on a numeric sort (or the other way)
    // would reach the database as a comparison of mismatched types.
    let by_time = matches!(
        sort,
        CertificateSort::CreatedDesc | CertificateSort::CreatedAsc
    );
    let key = match json.get("k")? {
        serde_json::Value::Number(n) if by_time => SortKey::Int(n.as_i64()?),
        serde_json::Value::String(s) if !by_time => {
            Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
            SortKey::Text(s.clone())
        }
        _ => return None,
    };
    Some(CertificateCursor {
        key,
        job_id: id.to_owned(),
    })
}

async fn registry(
    state: &AppState,
    mut filter: CertificateFilter,
    q: RegistryQuery,
    public: bool,
) -> Result<Json<CertificatePage>, ApiError> {
    let date = |field: &str, raw: &Option<String>| -> Result<Option<String>, ApiError> {
        raw.as_deref()
            .map(|s| {
                Date::parse(s, format_description!("[year]-[month]-[day]"))
                    .map(|d| d.to_string())
                    .map_err(|_| bad_query(field, format!("`{field}` must be YYYY-MM-DD")))
            })
            .transpose()
    };
    filter.issued_from = date("issued_from", &q.issued_from)?;
    filter.issued_to = date("issued_to", &q.issued_to)?;
    filter.status = q
        .status
        .as_deref()
        .map(|s| {
            s.parse::<CertificateStatus>()
                .map_err(|e| bad_query("status", format!("`status` {e}")))
        })
        .transpose()?;
    if let Some(r) = q.recipient.as_deref() {
        // As sent, like the document's `maxLength`.
        if r.chars().count() > 200 {
            return Err(bad_query(
                "recipient",
                "`recipient` is at most 200 characters",
            ));
        }
        if !r.trim().is_empty() {
            filter.recipient = Some(r.trim().to_owned());
        }
    }
    if !public {
        filter.batch_id = q.batch.as_deref().map(|b| b.trim().to_owned());
    }
    if let Some(t) = q.template.as_deref() {
        // An unknown template matches nothing rather than failing: names can be deleted.
        filter.template_id = Some(match state.templates.get(t.trim(), true).await? {
            Some(found) => found.record.id.clone(),
            None => t.trim().to_owned(),
        });
    }
    let sort = match q.sort.as_deref() {
        None => CertificateSort::default(),
        Some(s) => CertificateSort::parse(s).ok_or_else(|| {
            bad_query(
                "sort",
                format!(
                    "`sort` must be one of {}",
                    CertificateSort::NAMES.join(", ")
                ),
            )
        })?,
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(bad_query("limit", "`limit` must be 1 to 200"));
    }
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| {
            decode_cursor(c, sort)
                .ok_or_else(|| bad_query("cursor", "`cursor` is not one this listing gave"))
        })
        .transpose()?;
    // One extra row says whether there is a next page.
    let mut rows = state
        .db
        .list_certificates(&filter, sort, cursor.as_ref(), limit + 1, &today())
        .await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|last| encode_cursor(&CertificateCursor::after(last, sort), sort))
    } else {
        None
    };
    Ok(Json(CertificatePage {
        certificates: rows
            .iter()
            .map(|r| CertificateView::from_row(r, &state.base_url, public))
            .collect(),
        next_cursor,
    }))
}

/// The caller's certificates (every owner's for admin keys).
#[utoipa::path(get, path = "/v1/certificates", tag = "certificates", params(RegistryQuery),
    responses((status = 200, body = CertificatePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RegistryQuery>,
) -> Result<Json<CertificatePage>, ApiError> {
    let filter = CertificateFilter {
        owner_id: caller.owner_filter().map(str::to_owned),
        ..CertificateFilter::default()
    };
    registry(&state, filter, q, false).await
}

/// Certificates issued with `is_public: true` and rendered; no key needed.
#[utoipa::path(get, path = "/v1/certificates/public", tag = "certificates", params(RegistryQuery),
    responses((status = 200, body = CertificatePage), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list_public(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RegistryQuery>,
) -> Result<Json<CertificatePage>, ApiError> {
    let filter = CertificateFilter {
        public_only: true,
        ..CertificateFilter::default()
    };
    registry(&state, filter, q, true).await
}

/// One certificate (owner or admin).
#[utoipa::path(get, path = "/v1/certificates/{id}", tag = "certificates",
    params(("id" = uuid::Uuid, Path, description = "The certificate's job id")),
    responses((status = 200, body = CertificateView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CertificateView>, ApiError> {
    let id = crate::routes::jobs::parse_id(&id).map_err(|_| ApiError::NotFound("certificate"))?;
    Ok(Json(view_of(&state, &caller, &id.to_string()).await?))
}

/// The caller's certificate (any, for admins) as a view; another owner's is not found.
async fn view_of(state: &AppState, caller: &Caller, id: &str) -> Result<CertificateView, ApiError> {
    let row = state
        .db
        .get_certificate(id, caller.owner_filter())
        .await?
        .ok_or(ApiError::NotFound("certificate"))?;
    Ok(CertificateView::from_row(&row, &state.base_url, false))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Shown to anyone who verifies the certificate.
    #[schema(example = "Issued in error", max_length = 500)]
    pub reason: String,
}

/// Revoke a certificate (owner or admin). Verification then answers `revoked` with the reason.
#[utoipa::path(post, path = "/v1/certificates/{id}/revoke", tag = "certificates",
    request_body = RevokeRequest,
    params(("id" = uuid::Uuid, Path, description = "The certificate's job id")),
    responses((status = 200, body = CertificateView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: ApiJson<RevokeRequest>,
) -> Result<Json<CertificateView>, ApiError> {
    let id = crate::routes::jobs::parse_id(&id).map_err(|_| ApiError::NotFound("certificate"))?;
    let mut p = Problems::default();
    let reason = p.text("reason", &body.value.reason, 500);
    p.into_result()?;
    let reason = reason.unwrap_or_default();
    let id = id.to_string();
    match state
        .db
        .revoke_certificate(&id, caller.owner_filter(), &reason)
        .await?
    {
        RevokeOutcome::NotFound => Err(ApiError::NotFound("certificate")),
        RevokeOutcome::AlreadyRevoked => Err(ApiError::Conflict {
            code: "already_revoked",
            message: "this certificate is already revoked".into(),
        }),
        RevokeOutcome::Revoked => Ok(Json(view_of(&state, &caller, &id).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bind_to_their_sort() {
        let id = JobId::new().to_string();
        let cursor = CertificateCursor {
            key: SortKey::Text("2026-11-21".into()),
            job_id: id.clone(),
        };
        let text = encode_cursor(&cursor, CertificateSort::IssuedDesc);
        assert_eq!(
            decode_cursor(&text, CertificateSort::IssuedDesc),
            Some(cursor)
        );
        assert_eq!(decode_cursor(&text, CertificateSort::CreatedDesc), None);
        assert_eq!(decode_cursor("garbage", CertificateSort::CreatedDesc), None);
    }

    #[test]
    fn crafted_cursors_with_the_wrong_key_type_are_refused() {
        let id = JobId::new().to_string();
        let craft = |sort: &str, key: serde_json::Value| {
            let json = serde_json::json!({ "s": sort, "k": key, "id": id });
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
        };
        let issued = CertificateSort::IssuedDesc;
        let created = CertificateSort::CreatedDesc;
        assert_eq!(decode_cursor(&craft(issued.name(), 5.into()), issued), None);
        assert_eq!(
            decode_cursor(&craft(issued.name(), "x' OR 1=1".into()), issued),
            None
        );
        assert_eq!(
            decode_cursor(&craft(created.name(), "2026-11-21".into()), created),
            None
        );
        assert!(decode_cursor(&craft(created.name(), 5.into()), created).is_some());
    }
}
