//! A certificate request in its three shapes (a single submission, a batch row, a preview's
//! optional values) and its validation into a `CertificateOrder`: the core fields, the
//! template's declared fields, images decoded. Used by single submissions, batches and
//! template previews. Validation is synchronous: a request with images is checked inside
//! `offload::CheckPool` (see [`needs_pool`]), never on the async executor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::db::NewCertificate;
use shared::domain::{CalendarDate, PdfStandard};
use shared::jobs::CertificatePayload;
use shared::templates::{FieldSpec, FieldType, MAX_FIELDS};
use utoipa::ToSchema;

use crate::cache::CachedTemplate;
use crate::error::ApiError;
use crate::images::{self, ImageLimits};
use crate::problems::Problems;
use crate::state::AppState;
use shared::config::Limits;

/// A certificate's template fields as sent: at most as many as a template may declare
/// (`MAX_FIELDS`), each a string, number, boolean or null, refused while the body is read.
pub type Fields =
    crate::limited::LimitedObject<{ shared::templates::MAX_FIELDS }, crate::limited::Scalar>;

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
    /// The standards the PDF meets (default: the template's, if it declares one); the job's
    /// `result.pdf_standard` records it. A document that cannot meet it ends `dead` with
    /// `nonconforming` and typst's reasons.
    #[schema(schema_with = crate::schemas::pdf_standard_or_null)]
    pub pdf_standard: Option<PdfStandard>,
    /// Base64 JPEG, PNG or WebP (a `data:` URL prefix is accepted); one that does not decode
    /// within the image limits is a 422.
    #[schema(content_encoding = "base64")]
    pub photo: Option<String>,
    /// Base64 JPEG, PNG or WebP; shown by templates with a signature line.
    #[schema(content_encoding = "base64")]
    pub signature: Option<String>,
    /// The template's declared fields (`GET /v1/templates/{id}` lists them): text, date
    /// (`YYYY-MM-DD`), number, or image (base64).
    #[schema(schema_with = crate::schemas::certificate_fields)]
    pub fields: Option<Fields>,
    /// Email someone when the certificate is issued (and, with `on_failure`, when it fails).
    pub notify: Option<shared::jobs::Notify>,
    /// `low`, `bulk` or `normal` (the default); `high` with an admin key only (else 403
    /// `priority_not_allowed`). A worker takes the highest-priority ready job first.
    pub priority: Option<crate::placement::PriorityChoice>,
    /// Start no earlier than this RFC 3339 instant: the job is `scheduled` until then (and
    /// can be cancelled meanwhile). An instant already past means now; at most a year ahead
    /// (else 422 `too_far_ahead`). Not with `delay_secs`.
    #[schema(format = DateTime, example = "2026-12-24T18:00:00Z")]
    pub run_at: Option<String>,
    /// Start no earlier than this many seconds from now (at most a year). Not with `run_at`.
    #[schema(maximum = 31622400, minimum = 0)]
    pub delay_secs: Option<u64>,
    /// Deliver this job's end (`job.succeeded`, `job.dead` or `job.cancelled`) to this URL
    /// too, signed like a webhook with the key's callback secret
    /// (`GET /v1/webhooks/callback-secret`). Checked like a webhook's URL (422
    /// `invalid_url`, `forbidden_target`).
    #[schema(example = "https://example.com/hooks/quire")]
    pub callback_url: Option<String>,
}

impl CertificateRequest {
    /// Its priority and start instant, checked for `caller`.
    pub(crate) fn placement(
        &self,
        caller: &crate::auth::Caller,
    ) -> Result<crate::placement::Placement, ApiError> {
        crate::placement::Placement::single(
            caller,
            self.priority,
            self.run_at.as_deref(),
            self.delay_secs,
        )
    }
}

/// One certificate of a batch: a submission without photo or signature. Image fields the
/// template declares are base64 values in `fields`, stored per job like a single submission's.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    /// At most `limits.max_name_chars` (default 200) characters.
    #[schema(max_length = 200)]
    pub recipient_name: String,
    #[schema(max_length = 200)]
    pub course_name: String,
    #[schema(format = Date)]
    pub issued_on: Option<String>,
    #[schema(max_length = 200)]
    pub issuer_name: Option<String>,
    /// Not before `issued_on` (else 422).
    #[schema(format = Date)]
    pub expires_on: Option<String>,
    #[schema(schema_with = crate::schemas::certificate_fields)]
    pub fields: Option<Fields>,
}

impl BatchItem {
    /// The row as a single submission's request (without photo or signature).
    pub(crate) fn request(
        &self,
        is_public: bool,
        pdf_standard: Option<PdfStandard>,
    ) -> CertificateRequest {
        CertificateRequest {
            pdf_standard,
            recipient_name: self.recipient_name.clone(),
            course_name: self.course_name.clone(),
            issued_on: self.issued_on.clone(),
            issuer_name: self.issuer_name.clone(),
            expires_on: self.expires_on.clone(),
            is_public,
            fields: self.fields.clone(),
            ..CertificateRequest::default()
        }
    }
}

/// Preview values: like a certificate submission, every member optional (sample values fill
/// the rest), and checked by the same rules.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// At most `limits.max_name_chars` (default 200) characters.
    #[schema(max_length = 200)]
    pub recipient_name: Option<String>,
    /// At most `limits.max_name_chars` (default 200) characters.
    #[schema(max_length = 200)]
    pub course_name: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub issued_on: Option<String>,
    /// At most `limits.max_name_chars` (default 200) characters.
    #[schema(max_length = 200)]
    pub issuer_name: Option<String>,
    /// `YYYY-MM-DD`, not before `issued_on` (else 422).
    #[schema(format = Date)]
    pub expires_on: Option<String>,
    /// The template's declared fields, as in a submission.
    #[schema(schema_with = crate::schemas::certificate_fields)]
    pub fields: Option<Fields>,
}

impl PreviewRequest {
    pub(crate) fn is_empty(&self) -> bool {
        self.recipient_name.is_none()
            && self.course_name.is_none()
            && self.issued_on.is_none()
            && self.issuer_name.is_none()
            && self.expires_on.is_none()
            && self.fields.is_none()
    }

    pub(crate) fn into_request(self) -> CertificateRequest {
        CertificateRequest {
            // Absent means a sample value; a blank one sent is checked (and refused) as sent.
            recipient_name: self
                .recipient_name
                .unwrap_or_else(|| "Alexandra Wolfeschlegel-Ångström".into()),
            course_name: self
                .course_name
                .unwrap_or_else(|| "Sample Course in Document Engineering".into()),
            issued_on: self.issued_on,
            issuer_name: self.issuer_name,
            expires_on: self.expires_on,
            fields: self.fields,
            ..CertificateRequest::default()
        }
    }
}

/// A validated order: everything checked, nothing left to fail on bad input.
pub(crate) struct CertificateOrder {
    pub payload: CertificatePayload,
    pub certificate: NewCertificate,
    /// Input files to store under the job's directory: (name, bytes).
    pub inputs: Vec<(String, Vec<u8>)>,
}

/// Whether checking `req` decodes images (CPU-heavy: run it in the check pool). Without
/// images a check is bounded small work (names, dates, at most `MAX_FIELDS` fields).
pub(crate) fn needs_pool(template: &CachedTemplate, req: &CertificateRequest) -> bool {
    req.photo.is_some()
        || req.signature.is_some()
        || req.fields.as_ref().is_some_and(|given| {
            template
                .content
                .fields
                .iter()
                .any(|f| f.field_type == FieldType::Image && given.contains_key(&f.name))
        })
}

/// Checks `req` for `owner` (an API key id): in the caller's task when it carries no image,
/// else in the check pool (the key's turn, then a blocking thread).
pub(crate) async fn check(
    state: &AppState,
    owner: &str,
    template: &CachedTemplate,
    req: CertificateRequest,
) -> Result<CertificateOrder, ApiError> {
    if !needs_pool(template, &req) {
        return validate(&state.config.limits, template, req);
    }
    let (config, template) = (state.config.clone(), template.clone());
    state
        .checks
        .run(owner, move || validate(&config.limits, &template, req))
        .await?
}

/// Checks a submission against the core rules and the template's declared fields. Images
/// are decoded here too: a corrupt image is a 422 now, not a failed job later.
pub(crate) fn validate(
    limits: &Limits,
    template: &CachedTemplate,
    req: CertificateRequest,
) -> Result<CertificateOrder, ApiError> {
    let max = limits.max_name_chars;
    let image_limits = ImageLimits::from(limits);
    let mut p = Problems::default();
    let recipient_name = p.text("recipient_name", &req.recipient_name, max);
    let course_name = p.text("course_name", &req.course_name, max);
    let issuer_name = req
        .issuer_name
        .as_deref()
        .and_then(|n| p.text("issuer_name", n, max));
    let issued_on = match req.issued_on.as_deref() {
        None => Some(CalendarDate::today()),
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
            // Its own code: an order between two fields, which a schema cannot state.
            "dates_out_of_order",
            "`expires_on` must not be before `issued_on`",
        );
    }
    let mut inputs = Vec::new();
    for (field, b64) in [("photo", &req.photo), ("signature", &req.signature)] {
        if let Some(b64) = b64 {
            match images::check(&image_limits, b64) {
                Ok(img) => inputs.push((field.to_owned(), img.bytes)),
                Err((code, message)) => p.add(field, code, format!("`{field}`: {message}")),
            }
        }
    }
    let (fields, image_fields) = check_fields(
        limits,
        &template.content.fields,
        req.fields.map(Fields::into_inner).unwrap_or_default(),
        &mut p,
    );
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
        issued_on,
        issuer_name,
        expires_on,
        verification_code: shared::verification::verification_code(),
        has_photo: req.photo.is_some(),
        has_signature: req.signature.is_some(),
        fields,
        image_fields: image_fields.keys().cloned().collect(),
        notify: req.notify.clone(),
        pdf_standard: req.pdf_standard.or(template.content.pdf_standard),
    };
    let certificate = NewCertificate {
        template_id: record.id.clone(),
        template_version: record.version,
        template_name: record.name.clone(),
        verification_code: payload.verification_code.clone(),
        recipient_name: payload.recipient_name.clone(),
        course_name: payload.course_name.clone(),
        issuer_name: payload.issuer_name.clone(),
        issued_on: payload.issued_on,
        expires_on: payload.expires_on,
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
fn check_fields(
    limits: &Limits,
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
    let max = limits.max_name_chars;
    let image_limits = ImageLimits::from(limits);
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
                        values.insert(spec.name.clone(), d.display().into());
                    }
                }
                _ => wrong(p, "a date string as YYYY-MM-DD"),
            },
            FieldType::Image => match value {
                serde_json::Value::String(s) => match images::check(&image_limits, s) {
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

/// Most rows in one batch.
pub const MAX_ROWS: usize = 10_000;

/// A batch body that cannot be read as rows.
pub(crate) fn bad_body(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "malformed_batch",
        message: message.into(),
        field: None,
    }
}

/// More rows than a batch may have.
pub(crate) fn too_many() -> ApiError {
    ApiError::TooLarge {
        code: "too_many_rows",
        message: format!("a batch has at most {MAX_ROWS} rows; split it: nothing was accepted"),
        field: Some("rows".into()),
    }
}

/// Reads a CSV upload into rows: known columns by name, any other column a template field.
pub(crate) fn parse_csv(body: &[u8]) -> Result<Vec<BatchItem>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| bad_body(format!("the CSV header row cannot be read: {e}")))?
        .clone();
    if headers.iter().any(str::is_empty) {
        return Err(bad_body("every CSV column needs a name in the header row"));
    }
    // The five named columns, and at most as many field columns as a template may declare.
    if headers.len() > 5 + MAX_FIELDS {
        return Err(bad_body(format!(
            "a CSV batch has at most {} columns: the certificate's five and at most {MAX_FIELDS} template fields",
            5 + MAX_FIELDS
        )));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        if rows.len() >= MAX_ROWS {
            return Err(too_many());
        }
        let record = record.map_err(|e| bad_body(format!("CSV row {}: {e}", i + 1)))?;
        let mut item = BatchItem::default();
        let mut fields = serde_json::Map::new();
        for (name, value) in headers.iter().zip(record.iter()) {
            let present = (!value.is_empty()).then(|| value.to_owned());
            match name {
                "recipient_name" => item.recipient_name = value.to_owned(),
                "course_name" => item.course_name = value.to_owned(),
                "issued_on" => item.issued_on = present,
                "issuer_name" => item.issuer_name = present,
                "expires_on" => item.expires_on = present,
                other => {
                    if let Some(v) = present {
                        fields.insert(other.to_owned(), v.into());
                    }
                }
            }
        }
        item.fields = (!fields.is_empty()).then(|| fields.into());
        rows.push(item);
    }
    Ok(rows)
}
