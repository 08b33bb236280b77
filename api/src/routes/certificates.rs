//! `POST /v1/certificates`: validate, store the photo, insert the job row, push its id.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand::Rng;
use serde::Deserialize;
use shared::db::{InsertOutcome, NewJob};
use shared::domain::{BoundedText, JobId, JobKind, Timestamp};
use shared::jobs::CertificatePayload;
use time::Date;
use time::macros::format_description;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, Caller};
use crate::routes::jobs::{JobView, SubmittedView};

/// The templates shipped in `templates/certificates/`.
pub const BUILTIN_TEMPLATES: &[&str] = &["classic"];

/// Longest template-specific field value and most fields, to keep payloads small.
const MAX_FIELDS: usize = 50;
const MAX_FIELD_NAME: usize = 64;

/// A certificate to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// Template name; default `classic`.
    #[schema(example = "classic")]
    pub template: Option<String>,
    #[schema(example = "Zoë Ångström")]
    pub recipient_name: String,
    #[schema(example = "Rust for Backend Engineers")]
    pub course_name: String,
    /// `YYYY-MM-DD`; default today (UTC).
    #[schema(example = "2026-11-21")]
    pub issued_on: Option<String>,
    pub issuer_name: Option<String>,
    /// Base64 JPEG or PNG, at most `limits.max_image_bytes` decoded.
    pub photo: Option<String>,
    /// Template-specific fields: string, number or boolean values.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A validated order: everything checked, nothing left to fail on bad input.
struct CertificateOrder {
    payload: CertificatePayload,
    photo: Option<Vec<u8>>,
}

type Name = BoundedText<10_000>;

fn name(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let text = Name::parse(raw).map_err(|e| ApiError::invalid(field, format!("`{field}` {e}")))?;
    let got = text.as_str().chars().count();
    if got > max {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must be at most {max} characters (got {got})"),
        ));
    }
    Ok(text.into_inner())
}

fn validate(req: CertificateRequest, state: &AppState) -> Result<CertificateOrder, ApiError> {
    let limits = &state.config.limits;
    let template = req.template.unwrap_or_else(|| "classic".to_owned());
    if !BUILTIN_TEMPLATES.contains(&template.as_str()) {
        return Err(ApiError::invalid_with_code(
            "unknown_template",
            "template",
            format!(
                "unknown template `{}`; available: {}",
                template.chars().take(64).collect::<String>(),
                BUILTIN_TEMPLATES.join(", ")
            ),
        ));
    }
    let recipient_name = name("recipient_name", &req.recipient_name, limits.max_name_chars)?;
    let course_name = name("course_name", &req.course_name, limits.max_name_chars)?;
    let issuer_name = req
        .issuer_name
        .as_deref()
        .map(|n| name("issuer_name", n, limits.max_name_chars))
        .transpose()?;
    let issued_on = match req.issued_on.as_deref() {
        None => time::OffsetDateTime::now_utc().date(),
        Some(raw) => {
            Date::parse(raw.trim(), format_description!("[year]-[month]-[day]")).map_err(|_| {
                ApiError::invalid(
                    "issued_on",
                    "`issued_on` must be a date as YYYY-MM-DD, e.g. 2026-11-21",
                )
            })?
        }
    };
    let fields = req.fields.unwrap_or_default();
    if fields.len() > MAX_FIELDS {
        return Err(ApiError::invalid(
            "fields",
            format!("at most {MAX_FIELDS} fields"),
        ));
    }
    for (key, value) in &fields {
        let path = format!("fields.{key}");
        if key.is_empty()
            || key.len() > MAX_FIELD_NAME
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ApiError::invalid(
                "fields",
                format!("field names must be 1 to {MAX_FIELD_NAME} letters, digits or '_'"),
            ));
        }
        match value {
            serde_json::Value::String(s) => {
                name(&path, s, limits.max_name_chars)?;
            }
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {}
            _ => {
                return Err(ApiError::invalid(
                    path,
                    "values must be strings, numbers or booleans",
                ));
            }
        }
    }
    let photo = req
        .photo
        .as_deref()
        .map(|b64| decode_image("photo", b64, limits.max_image_bytes))
        .transpose()?;
    Ok(CertificateOrder {
        payload: CertificatePayload {
            template,
            recipient_name,
            course_name,
            issued_on: issued_on.to_string(),
            issuer_name,
            verification_code: verification_code(),
            has_photo: photo.is_some(),
            fields,
        },
        photo,
    })
}

/// Decodes a base64 image (a `data:` URL prefix is accepted) and checks that it is a JPEG or
/// PNG whose header parses, within the byte limit.
pub fn decode_image(field: &str, b64: &str, max_bytes: usize) -> Result<Vec<u8>, ApiError> {
    let data = b64.trim();
    let data = match data.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map(|(_, d)| d).unwrap_or(""),
        None => data,
    };
    // Cheap bound before decoding: base64 is 4/3 the size of its bytes.
    if data.len() / 4 * 3 > max_bytes + 3 {
        return Err(ApiError::invalid_with_code(
            "image_too_large",
            field,
            format!("`{field}` is larger than the limit of {max_bytes} bytes"),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|e| {
            ApiError::invalid_with_code(
                "invalid_base64",
                field,
                format!("`{field}` is not valid base64: {e}"),
            )
        })?;
    if bytes.len() > max_bytes {
        return Err(ApiError::invalid_with_code(
            "image_too_large",
            field,
            format!("`{field}` is larger than the limit of {max_bytes} bytes"),
        ));
    }
    let kind = imagesize::image_type(&bytes).ok();
    if !matches!(
        kind,
        Some(imagesize::ImageType::Jpeg) | Some(imagesize::ImageType::Png)
    ) {
        return Err(ApiError::invalid_with_code(
            "unsupported_image",
            field,
            format!("`{field}` must be a JPEG or PNG image"),
        ));
    }
    let size = imagesize::blob_size(&bytes).map_err(|_| {
        ApiError::invalid_with_code(
            "unsupported_image",
            field,
            format!("`{field}` is a corrupt image"),
        )
    })?;
    if size.width == 0 || size.height == 0 || size.width > 10_000 || size.height > 10_000 {
        return Err(ApiError::invalid_with_code(
            "unsupported_image",
            field,
            format!("`{field}` must be between 1x1 and 10000x10000 pixels"),
        ));
    }
    Ok(bytes)
}

/// 12 characters from an alphabet without look-alikes: ~60 bits, unguessable.
fn verification_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    let chars: String = (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// Submit a certificate job.
#[utoipa::path(
    post,
    path = "/v1/certificates",
    tag = "certificates",
    request_body = CertificateRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body return the original job")),
    responses(
        (status = 202, description = "Accepted; poll the Location", body = SubmittedView),
        (status = 200, description = "Same Idempotency-Key and body as before: the original job", body = SubmittedView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
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
    let order = validate(body.value, &state)?;
    let idempotency_key = idempotency_key(&headers)?;
    let request_hash = idempotency_key
        .as_ref()
        .map(|_| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body.raw)));
    let kind = JobKind::Certificate;
    let queue = state.config.queues.get(kind.queue());
    let id = JobId::new();
    if let Some(photo) = &order.photo {
        state
            .storage
            .write_input(id, "photo", photo)
            .await
            .map_err(|e| ApiError::Internal(format!("storing photo: {e}")))?;
    }
    let new = NewJob {
        id,
        kind,
        owner_id: caller.key_id.clone(),
        max_attempts: queue.max_attempts,
        run_at: Timestamp::now(),
        payload: serde_json::to_value(&order.payload)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        idempotency_key,
        request_hash,
        idempotency_window: Some(std::time::Duration::from_secs(
            state.config.idempotency_window_secs,
        )),
    };
    enqueue(&state, new).await
}

/// The `Idempotency-Key` header, if any: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
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

/// Inserts the row, then pushes its id. If the push fails the row is removed again, so a
/// client told 503 never finds a job it was not told about; a row whose push succeeded but
/// whose message is later lost is re-pushed by the rescuer.
pub(crate) async fn enqueue(state: &AppState, new: NewJob) -> Result<Response, ApiError> {
    let id = new.id;
    let job = match state.db.insert_job(&new).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_codes_are_distinct_and_readable() {
        let a = verification_code();
        assert_eq!(a.len(), 14);
        assert_ne!(a, verification_code());
        assert!(!a.contains('O') && !a.contains('0') && !a.contains('I') && !a.contains('1'));
    }
}
