//! The one API error type and its JSON body:
//! `{"error": {"status": 422, "code": "invalid_field", "message": "...", "field": "recipient_name"}}`.
//! `code` is stable (clients match on it); `message` is for people; `field` names the input at
//! fault when there is one. Internal errors are logged once, here, and never shown.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::db::DbError;
use shared::queue::QueueError;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read at all (bad JSON, bad query string).
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// 422: well-formed but invalid input.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// 422 with several problems at once: every bad field of a submission, every bad row
    /// of a batch, or typst's diagnostics for a template. `message` sums them up.
    #[error("{message}")]
    InvalidMany {
        code: &'static str,
        message: String,
        errors: Vec<FieldError>,
        diagnostics: Vec<TemplateDiagnostic>,
    },
    #[error("missing or invalid API key")]
    Unauthorized(&'static str),
    #[error("forbidden")]
    Forbidden(&'static str),
    /// 403 with its own code: something only admin keys may use (`admin_only_template`).
    #[error("{message}")]
    AdminOnly { code: &'static str, message: String },
    /// 429: the key's email quota is used up; `Retry-After` says when enough frees up.
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        retry_after_secs: u64,
    },
    /// 429 with its own code: too many requests (`rate_limited`) or too many jobs waiting
    /// (`too_many_waiting_jobs`); `Retry-After` says when to try again.
    #[error("{message}")]
    TooMany {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    #[error("not found")]
    NotFound(&'static str),
    /// 405: the path exists, the method does not; the router adds the `Allow` header.
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body too large")]
    PayloadTooLarge { limit: usize },
    /// 413 with its own code: a request over a count limit (`too_many_rows`).
    #[error("{message}")]
    TooLarge {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 503: a dependency is down; the client should retry.
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    /// 503: this process has as much of this kind of work waiting as it accepts (`busy`);
    /// `Retry-After` says when to try again.
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    /// 503: the request ran past `limits.request_timeout_secs` and was stopped.
    #[error("request timed out")]
    Timeout { secs: u64 },
    /// 500: logged with its cause; the client sees only that it happened.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status code, repeated for convenience.
    pub status: u16,
    /// Stable machine-readable code, e.g. `invalid_field`, `not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The input at fault (JSON path such as `photo` or `fields.grade`), when there is one.
    pub field: Option<String>,
    /// Every problem, when there are several (batch rows, template fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// typst's errors, located, when a template does not compile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<TemplateDiagnostic>>,
}

/// One bad input among several.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// 1-based data row of a batch (CSV: the header is row 0), when the input is a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    /// JSON path of the input, e.g. `fields.grade`.
    pub field: String,
    #[schema(value_type = String)]
    pub code: &'static str,
    pub message: String,
}

/// One typst error in a template, located.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateDiagnostic {
    pub message: String,
    /// Virtual path, e.g. `/main.typ`.
    pub path: Option<String>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub hints: Vec<String>,
}

impl From<shared::sandbox::SandboxDiagnostic> for TemplateDiagnostic {
    fn from(d: shared::sandbox::SandboxDiagnostic) -> Self {
        Self {
            message: d.message,
            path: d.path,
            line: d.line,
            column: d.column,
            hints: d.hints,
        }
    }
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            row: None,
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Most problems one 422 lists: a huge invalid request must not get a huge answer. The
/// message still counts them all.
pub const MAX_LISTED_PROBLEMS: usize = 100;

impl ApiError {
    /// A file storage failure while `doing` something: a file a row names is missing (a
    /// fault of ours: 500), or the store did not answer (503 with `Retry-After`: nothing was
    /// accepted, the client may try again).
    pub fn storage(doing: &str, e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            return ApiError::Internal(format!("{doing}: {e}"));
        }
        tracing::warn!(error = %e, "{doing}: file storage failed");
        ApiError::Unavailable("storage")
    }

    /// 422 listing the problems (at most [`MAX_LISTED_PROBLEMS`]); the message names the first
    /// and counts the rest.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        let total = errors.len();
        Self::fields_of(errors, total)
    }

    /// 422 listing `errors`, the first of `total` problems found (the rest were not kept).
    pub fn fields_of(mut errors: Vec<FieldError>, total: usize) -> Self {
        let total = total.max(errors.len());
        let message = match errors.as_slice() {
            [] => "invalid input".to_owned(),
            [one] if total == 1 => one.message.clone(),
            [first, ..] if total > MAX_LISTED_PROBLEMS => format!(
                "{} (and {} more problems; the first {MAX_LISTED_PROBLEMS} are listed)",
                first.message,
                total - 1
            ),
            [first, ..] => format!("{} (and {} more problems)", first.message, total - 1),
        };
        let code = match errors.as_slice() {
            [one] if total == 1 => one.code,
            _ => "invalid_fields",
        };
        errors.truncate(MAX_LISTED_PROBLEMS);
        ApiError::InvalidMany {
            code,
            message,
            errors,
            diagnostics: Vec::new(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            code: "invalid_field",
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn invalid_with_code(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Invalid {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Option<String>) {
        match self {
            ApiError::BadRequest {
                code,
                message,
                field,
            } => (
                StatusCode::BAD_REQUEST,
                code,
                message.clone(),
                field.clone(),
            ),
            ApiError::Invalid {
                code,
                message,
                field,
            } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                message.clone(),
                field.clone(),
            ),
            ApiError::InvalidMany {
                code,
                message,
                errors,
                ..
            } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                message.clone(),
                errors.first().map(|e| e.field.clone()),
            ),
            ApiError::Unauthorized(msg) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                (*msg).into(),
                None,
            ),
            ApiError::Forbidden(msg) => (StatusCode::FORBIDDEN, "forbidden", (*msg).into(), None),
            ApiError::AdminOnly { code, message } => {
                (StatusCode::FORBIDDEN, code, message.clone(), None)
            }
            ApiError::QuotaExceeded { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
                message.clone(),
                None,
            ),
            ApiError::TooMany { code, message, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, code, message.clone(), None)
            }
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
                None,
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this method is not allowed on this path; the Allow header lists those that are"
                    .into(),
                None,
            ),
            ApiError::Conflict { code, message } => {
                (StatusCode::CONFLICT, code, message.clone(), None)
            }
            ApiError::PayloadTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body is larger than the limit of {limit} bytes"),
                None,
            ),
            ApiError::TooLarge {
                code,
                message,
                field,
            } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                code,
                message.clone(),
                field.clone(),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected Content-Type: application/json".into(),
                None,
            ),
            ApiError::Unavailable(what) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("the {what} is unavailable; retry later"),
                None,
            ),
            ApiError::Busy { message, .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                message.clone(),
                None,
            ),
            ApiError::Timeout { secs } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("the request took longer than {secs} s and was stopped; retry later"),
                None,
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; it has been logged".into(),
                None,
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, field) = self.parts();
        match &self {
            ApiError::Internal(cause) => tracing::error!(%cause, "request failed"),
            ApiError::Unavailable(what) => tracing::warn!(what, "dependency unavailable"),
            _ => {}
        }
        let retry_after = match &self {
            ApiError::QuotaExceeded {
                retry_after_secs, ..
            }
            | ApiError::TooMany {
                retry_after_secs, ..
            }
            | ApiError::Busy {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let (errors, diagnostics) = match self {
            ApiError::InvalidMany {
                errors,
                diagnostics,
                ..
            } => {
                // Bounded whoever built them (batches, typst's diagnostics).
                let (mut errors, mut diagnostics) = (errors, diagnostics);
                errors.truncate(MAX_LISTED_PROBLEMS);
                diagnostics.truncate(MAX_LISTED_PROBLEMS);
                (
                    (!errors.is_empty()).then_some(errors),
                    (!diagnostics.is_empty()).then_some(diagnostics),
                )
            }
            _ => (None, None),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                status: status.as_u16(),
                code: code.to_owned(),
                message,
                field,
                errors,
                diagnostics,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(_) => ApiError::Unavailable("database"),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Unavailable(_) => ApiError::Unavailable("queue"),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
