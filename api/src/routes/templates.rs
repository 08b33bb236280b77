//! `/v1/templates`: templates managed over the API. Admins write; any key lists and reads the
//! public ones. Every change is a new version; jobs pin the version they were submitted with.
//! A template is untrusted code: creating, changing and previewing one renders
//! it in a separate, time- and memory-limited process, never in this one.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cache::CachedTemplate;
use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shared::db::{CreateOutcome, DeleteOutcome, NewTemplate, TemplateChange};
use shared::domain::{CalendarDate, PdfStandard};
use shared::jobs::CertificatePayload;
use shared::sandbox::{Output, SandboxError, SandboxRequest, SandboxResponse};
use shared::templates::{
    FieldSpec, FieldType, MAX_FIELDS, TemplateContent, TemplateKind, TemplateRecord,
    valid_asset_path, valid_name,
};
use utoipa::{IntoParams, ToSchema};

use crate::certificate_order::{CertificateRequest, PreviewRequest};
use crate::state::AppState;

/// The issue date sample renders and previews show when the caller gives none.
const SAMPLE_DATE: CalendarDate = CalendarDate::new(time::macros::date!(2026 - 11 - 21));
use crate::error::{ApiError, ErrorBody, TemplateDiagnostic};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller, Keyed};
use crate::problems::Problems;

/// Largest `main.typ`, in characters (what a JSON Schema `maxLength` can say).
const MAX_SOURCE_CHARS: usize = 256 * 1024;
/// Most assets, and their total decoded size.
pub const MAX_ASSETS: usize = 20;
const MAX_ASSET_TOTAL: usize = 4 * 1024 * 1024;

/// A template as clients see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateView {
    pub id: String,
    pub name: String,
    #[schema(schema_with = crate::schemas::template_kind)]
    pub kind: String,
    pub description: String,
    pub is_public: bool,
    /// Shipped with quire and seeded on start.
    pub builtin: bool,
    /// The current version; each change adds one.
    pub version: i64,
    pub fields: Vec<FieldView>,
    /// The standards its documents meet unless a submission asks for others.
    #[schema(schema_with = crate::schemas::pdf_standard_or_null)]
    pub pdf_standard: Option<PdfStandard>,
    /// `main.typ` (in single-template reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Asset paths and sizes in bytes (in single-template reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets: Option<BTreeMap<String, usize>>,
    pub created_at: String,
    pub updated_at: String,
}

/// A declared input field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldView {
    pub name: String,
    /// `text`, `date`, `number` or `image`.
    #[serde(rename = "type")]
    pub field_type: String,
    pub required: bool,
    pub max_length: Option<u32>,
}

impl From<&FieldSpec> for FieldView {
    fn from(f: &FieldSpec) -> Self {
        FieldView {
            name: f.name.clone(),
            field_type: serde_json::to_value(f.field_type)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            required: f.required,
            max_length: f.max_length,
        }
    }
}

fn view(record: &TemplateRecord, content: Option<&TemplateContent>, detail: bool) -> TemplateView {
    let ts = |ms| shared::domain::Timestamp::from_millis(ms).to_rfc3339();
    TemplateView {
        id: record.id.clone(),
        name: record.name.clone(),
        kind: record.kind.as_str().to_owned(),
        description: record.description.clone(),
        is_public: record.is_public,
        builtin: record.builtin,
        version: record.version,
        fields: content
            .map(|c| c.fields.iter().map(FieldView::from).collect())
            .unwrap_or_default(),
        pdf_standard: content.and_then(|c| c.pdf_standard),
        source: detail.then(|| content.map(|c| c.source.clone())).flatten(),
        assets: detail
            .then(|| content.map(|c| c.assets.iter().map(|(p, b)| (p.clone(), b.len())).collect()))
            .flatten(),
        created_at: ts(record.created_at),
        updated_at: ts(record.updated_at),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CacheQuery {
    /// `false` reads the database, skipping this process's cache, for this one read.
    pub use_cache: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateList {
    pub templates: Vec<TemplateView>,
}

/// Templates: the public ones, plus every other for admin keys.
#[utoipa::path(get, path = "/v1/templates", operation_id = "list_templates", tag = "templates", params(CacheQuery),
    responses((status = 200, body = TemplateList), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list(
    Keyed { state, caller }: Keyed,
    ApiQuery(q): ApiQuery<CacheQuery>,
) -> Result<Json<TemplateList>, ApiError> {
    let use_cache = q.use_cache.unwrap_or(true);
    let records: Vec<TemplateRecord> = if caller.is_admin {
        state.db.list_templates(false).await?
    } else {
        state.templates.public_list(use_cache).await?.to_vec()
    };
    let mut templates = Vec::with_capacity(records.len());
    for record in &records {
        let content = state
            .templates
            .get(&record.id, use_cache)
            .await?
            .map(|t| t.content.clone());
        templates.push(view(record, content.as_ref(), false));
    }
    Ok(Json(TemplateList { templates }))
}

/// A template the caller may read: public, or any for admins.
async fn readable(
    state: &AppState,
    caller: &Caller,
    id: &str,
    use_cache: bool,
) -> Result<Arc<CachedTemplate>, ApiError> {
    let template = state
        .templates
        .get(id.trim(), use_cache)
        .await?
        .ok_or(ApiError::NotFound("template"))?;
    if !caller.may_read(&template.record) {
        return Err(ApiError::NotFound("template"));
    }
    Ok(template)
}

/// One template by id or name, with its source, asset list and declared fields.
#[utoipa::path(get, path = "/v1/templates/{id}", operation_id = "get_template", tag = "templates",
    params(("id" = String, Path, description = "Template id or name"), CacheQuery),
    responses((status = 200, body = TemplateView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<CacheQuery>,
) -> Result<Json<TemplateView>, ApiError> {
    let t = readable(&state, &caller, &id, q.use_cache.unwrap_or(true)).await?;
    Ok(Json(view(&t.record, Some(&t.content), true)))
}

/// A new template.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// 1 to 64 of `a-z 0-9 - _`, starting with a letter or digit, and not a UUID; unique
    /// among live templates (else 409).
    #[schema(example = "course-completion", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    pub name: String,
    /// Any text (line breaks too), at most 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000, pattern = "^[\\s\\S]*$")]
    pub description: String,
    /// Whether non-admin keys may see and use it.
    #[serde(default)]
    pub is_public: bool,
    /// The typst source (`main.typ`), at most 262144 characters, not blank. Job data is at
    /// `/data.json`, images at `/photo`, `/signature`, `/qr.svg` and `/fields/<name>`. One that
    /// does not compile with sample data is a 422 with typst's `diagnostics`.
    #[schema(
        max_length = 262144,
        pattern = "[^\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub source: String,
    /// Other files by path (e.g. `/logo.svg`), base64; at most 20, 4 MiB in all (else 422).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub assets: BTreeMap<String, String>,
    /// Declared input fields, validated on every submission; names are unique (else 422).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub fields: Vec<FieldSpec>,
    /// `certificate` (default) or `report`: what it renders. A report template reads a
    /// report's data (see the built-in `sat`) and is checked with a sample report.
    #[serde(default)]
    #[schema(example = "certificate")]
    pub kind: Option<TemplateKind>,
    /// The standards its documents meet unless a submission asks for others. Checked now:
    /// one the template cannot meet with sample data is a 422 `template_nonconforming` with
    /// typst's `diagnostics` (missing alternative text, language, heading order, ...).
    #[schema(schema_with = crate::schemas::pdf_standard_or_null)]
    pub pdf_standard: Option<PdfStandard>,
}

/// A change; absent members keep their current value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateUpdate {
    /// Any text (line breaks too), at most 1000 characters.
    #[schema(max_length = 1000, pattern = "^[\\s\\S]*$")]
    pub description: Option<String>,
    pub is_public: Option<bool>,
    /// As on creation: at most 262144 characters, not blank, compiles.
    #[schema(
        max_length = 262144,
        pattern = "[^\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub source: Option<String>,
    /// As on creation: at most 20, base64.
    #[schema(value_type = Option<Object>)]
    pub assets: Option<BTreeMap<String, String>>,
    #[schema(max_items = 50)]
    pub fields: Option<Vec<FieldSpec>>,
    /// As on creation (checked again with the new version); not on a built-in template.
    #[schema(schema_with = crate::schemas::pdf_standard_or_null)]
    pub pdf_standard: Option<PdfStandard>,
}

fn check_source(p: &mut Problems, source: &str) {
    if source.trim().is_empty() {
        p.add("source", "missing_field", "`source` is empty");
    } else if source.chars().count() > MAX_SOURCE_CHARS {
        p.add(
            "source",
            "too_long",
            format!("`source` is longer than {MAX_SOURCE_CHARS} characters"),
        );
    }
}

fn decode_assets(p: &mut Problems, assets: &BTreeMap<String, String>) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if assets.len() > MAX_ASSETS {
        p.add("assets", "too_many", format!("at most {MAX_ASSETS} assets"));
        return out;
    }
    let mut total = 0;
    for (path, b64) in assets {
        let field = format!("assets.{}", path.chars().take(128).collect::<String>());
        if shared::templates::is_reserved_path(path) {
            p.add(
                &field,
                "invalid_field",
                "this path is reserved for job data (/data.json, /photo, /signature, /logo, /qr.svg, /fields/…)",
            );
            continue;
        }
        if !valid_asset_path(path) || path == shared::templates::MAIN_PATH {
            p.add(
                &field,
                "invalid_field",
                "asset paths look like `/logo.svg`: a `/` then letters, digits, `.`, `-`, `_`",
            );
            continue;
        }
        // As sent: the document's pattern for asset values is padded base64 without spaces.
        match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(bytes) => {
                total += bytes.len();
                out.insert(path.clone(), bytes);
            }
            Err(e) => p.add(
                &field,
                "invalid_base64",
                format!("`{field}` is not valid base64: {e}"),
            ),
        }
    }
    if total > MAX_ASSET_TOTAL {
        p.add(
            "assets",
            "too_large",
            format!("assets total {total} bytes; the limit is {MAX_ASSET_TOTAL}"),
        );
    }
    out
}

fn check_fields(p: &mut Problems, fields: &[FieldSpec]) {
    if fields.len() > MAX_FIELDS {
        p.add("fields", "too_many", format!("at most {MAX_FIELDS} fields"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, f) in fields.iter().enumerate() {
        let path = format!("fields[{i}]");
        if let Some(problem) = f.problem() {
            p.add(&path, "invalid_field", problem);
        } else if !seen.insert(f.name.as_str()) {
            p.add(
                &path,
                "duplicate_field",
                format!("field `{}` is declared twice", f.name),
            );
        }
    }
}

/// A small opaque JPEG to stand in for images in sample renders.
fn sample_image() -> Vec<u8> {
    static SAMPLE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let img = image::RgbImage::from_fn(64, 80, |x, y| {
            image::Rgb([(x * 3) as u8, (y * 3) as u8, 140])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        let _ = img.write_to(&mut out, image::ImageFormat::Jpeg);
        out.into_inner()
    });
    SAMPLE.clone()
}

/// The sandbox request for checking `content` (a template being created or changed) with
/// sample values, so a template is checked with every field present.
fn sample_request(
    state: &AppState,
    kind: TemplateKind,
    content: &TemplateContent,
    output: Output,
) -> SandboxRequest {
    if kind == TemplateKind::Report {
        return sample_report_request(content, output);
    }
    let mut fields = serde_json::Map::new();
    let mut field_images = BTreeMap::new();
    for spec in &content.fields {
        match spec.field_type {
            FieldType::Image => {
                field_images.insert(spec.name.clone(), sample_image());
            }
            FieldType::Text => {
                fields.insert(spec.name.clone(), format!("Sample {}", spec.name).into());
            }
            FieldType::Date => {
                fields.insert(spec.name.clone(), "21 November 2026".into());
            }
            FieldType::Number => {
                fields.insert(spec.name.clone(), 42.into());
            }
        }
    }
    let payload = CertificatePayload {
        template: String::new(),
        template_id: None,
        template_version: None,
        recipient_name: "Alexandra Wolfeschlegel-Ångström".into(),
        course_name: "Sample Course in Document Engineering".into(),
        issued_on: SAMPLE_DATE,
        issuer_name: Some("Quire Academy".into()),
        expires_on: None,
        verification_code: "PREV-IEW0-CODE".into(),
        has_photo: true,
        has_signature: true,
        fields,
        image_fields: field_images.keys().cloned().collect(),
        notify: None,
        pdf_standard: content.pdf_standard,
    };
    let base = state.config.public_base_url();
    let qr = shared::verification::qr_svg(&shared::verification::verify_url(
        &base,
        &payload.verification_code,
    ));
    SandboxRequest {
        files: content.files(),
        data: payload.template_data(&base),
        images: vec![
            ("photo".into(), sample_image()),
            ("signature".into(), sample_image()),
            ("qr".into(), qr.into_bytes()),
        ],
        field_images,
        output,
        pdf_standard: content.pdf_standard,
    }
}

/// The sandbox request of a certificate preview: the caller's values, checked exactly as a
/// submission's are (lengths, dates, declared fields, images), with sample values for the
/// rest.
/// A PNG of page 1 of version `version` of a template `caller` may read, with sample
/// values (the dashboard's previews).
pub(crate) async fn preview_version_png(
    state: &AppState,
    caller: &Caller,
    id: &str,
    version: Option<i64>,
) -> Result<Vec<u8>, ApiError> {
    let template = readable(state, caller, id, true).await?;
    let content = match version {
        Some(v) if v != template.record.version => {
            state
                .db
                .template_version(&template.record.id, v)
                .await?
                .ok_or(ApiError::NotFound("template version"))?
                .content
        }
        _ => template.content.clone(),
    };
    let at_version = CachedTemplate {
        record: template.record.clone(),
        content,
    };
    let request = match at_version.record.kind {
        TemplateKind::Certificate => {
            let empty = PreviewRequest::default().into_request();
            preview_request(state, &caller.key_id, &at_version, empty, Output::Png).await?
        }
        TemplateKind::Report => sample_report_request(&at_version.content, Output::Png),
    };
    Ok(render_checked(state, request).await?.0)
}

async fn preview_request(
    state: &AppState,
    owner: &str,
    template: &CachedTemplate,
    given: CertificateRequest,
    output: Output,
) -> Result<SandboxRequest, ApiError> {
    let sample_b64 = || base64::engine::general_purpose::STANDARD.encode(sample_image());
    let mut req = given;
    req.issued_on.get_or_insert_with(|| SAMPLE_DATE.to_string());
    req.issuer_name
        .get_or_insert_with(|| "Quire Academy".into());
    req.photo.get_or_insert_with(sample_b64);
    req.signature.get_or_insert_with(sample_b64);
    let fields = req.fields.get_or_insert_with(Default::default).as_map_mut();
    for spec in &template.content.fields {
        fields
            .entry(spec.name.clone())
            .or_insert_with(|| match spec.field_type {
                FieldType::Image => sample_b64().into(),
                FieldType::Text => {
                    let sample = format!("Sample {}", spec.name);
                    let max = spec.max_length.map_or(usize::MAX, |m| m as usize);
                    sample.chars().take(max.max(1)).collect::<String>().into()
                }
                FieldType::Date => "2026-11-21".into(),
                FieldType::Number => 42.into(),
            });
    }
    req.notify = None;
    let order = crate::certificate_order::check(state, owner, template, req).await?;
    let mut payload = order.payload;
    payload.verification_code = "PREV-IEW0-CODE".into();
    let base = state.config.public_base_url();
    let qr = shared::verification::qr_svg(&shared::verification::verify_url(
        &base,
        &payload.verification_code,
    ));
    let mut images = vec![("qr".to_owned(), qr.into_bytes())];
    let mut field_images = BTreeMap::new();
    for (name, bytes) in order.inputs {
        match name.strip_prefix("field-") {
            Some(field) => {
                field_images.insert(field.to_owned(), bytes);
            }
            None => images.push((name, bytes)),
        }
    }
    Ok(SandboxRequest {
        files: template.content.files(),
        data: payload.template_data(&base),
        images,
        field_images,
        output,
        pdf_standard: template.content.pdf_standard,
    })
}

/// A report template is checked and previewed with a sample report (two sections, an image
/// and a signature).
fn sample_report_request(content: &TemplateContent, output: Output) -> SandboxRequest {
    let sample = shared::reports::sample();
    let mut field_images = BTreeMap::new();
    field_images.insert(shared::reports::image_input(0), sample_image());
    field_images.insert(shared::reports::signoff_input(0), sample_image());
    SandboxRequest {
        files: content.files(),
        data: sample.template_data(),
        images: Vec::new(),
        field_images,
        output,
        pdf_standard: content.pdf_standard,
    }
}

/// Renders in the sandbox; compile errors become a 422 listing typst's diagnostics.
async fn render_checked(
    state: &AppState,
    request: SandboxRequest,
) -> Result<(Vec<u8>, usize), ApiError> {
    // Refused, not queued, when every child is busy: a request holds no connection for long.
    match state.sandbox.try_render(&request).await {
        Ok(SandboxResponse::Ok { bytes, pages, .. }) => Ok((bytes, pages)),
        Ok(SandboxResponse::CompileError { diagnostics }) => {
            let first = diagnostics
                .first()
                .map(|d| d.message.clone())
                .unwrap_or_else(|| "the template does not compile".into());
            Err(ApiError::InvalidMany {
                code: "template_error",
                message: format!("the template does not compile: {first}"),
                errors: Vec::new(),
                diagnostics: diagnostics
                    .into_iter()
                    .map(TemplateDiagnostic::from)
                    .collect(),
            })
        }
        Ok(SandboxResponse::Nonconforming {
            standard,
            diagnostics,
        }) => {
            let first = diagnostics
                .first()
                .map(|d| d.message.clone())
                .unwrap_or_default();
            Err(ApiError::InvalidMany {
                code: "template_nonconforming",
                message: format!("the template does not meet {standard}: {first}"),
                errors: Vec::new(),
                diagnostics: diagnostics
                    .into_iter()
                    .map(TemplateDiagnostic::from)
                    .collect(),
            })
        }
        Ok(SandboxResponse::Failed { message }) => Err(ApiError::Invalid {
            code: "template_error",
            message: format!("the template cannot be rendered: {message}"),
            field: Some("source".into()),
        }),
        Err(SandboxError::Timeout(limit)) => Err(ApiError::Invalid {
            code: "template_timeout",
            message: format!(
                "the template took longer than {} ms to render",
                limit.as_millis()
            ),
            field: Some("source".into()),
        }),
        Err(SandboxError::Crashed { .. }) => Err(ApiError::Invalid {
            code: "template_crashed",
            message: "the template ran out of memory or crashed while rendering".into(),
            field: Some("source".into()),
        }),
        Err(SandboxError::OutputTooLarge(_)) => Err(ApiError::Invalid {
            code: "template_too_large",
            message: "the rendered document is larger than the sandbox's output limit".into(),
            field: Some("source".into()),
        }),
        Err(SandboxError::Busy) => Err(ApiError::Unavailable("render sandbox")),
        Err(e) => Err(ApiError::Internal(format!("render sandbox: {e}"))),
    }
}

/// Create a template (admin). Its source is compiled with sample data first.
#[utoipa::path(post, path = "/v1/templates", operation_id = "create_template", tag = "templates", request_body = TemplateRequest,
    responses((status = 201, body = TemplateView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, description = "Invalid, or does not compile (see `diagnostics`)", body = ErrorBody)))]
pub async fn create(
    Keyed { state, caller }: Keyed,
    body: ApiJson<TemplateRequest>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let req = body.value;
    let mut p = Problems::default();
    if !valid_name(&req.name) || req.name.parse::<uuid::Uuid>().is_ok() {
        p.add(
            "name",
            "invalid_field",
            "`name` must be 1 to 64 of a-z, 0-9, `-`, `_`, starting with a letter or digit",
        );
    }
    if req.description.chars().count() > 1000 {
        p.add(
            "description",
            "too_long",
            "`description` is at most 1000 characters",
        );
    }
    check_source(&mut p, &req.source);
    let assets = decode_assets(&mut p, &req.assets);
    check_fields(&mut p, &req.fields);
    p.into_result()?;
    let content = TemplateContent {
        source: req.source,
        assets,
        fields: req.fields,
        pdf_standard: req.pdf_standard,
    };
    let kind = req.kind.unwrap_or(TemplateKind::Certificate);
    render_checked(&state, sample_request(&state, kind, &content, Output::Pdf)).await?;
    let new = NewTemplate {
        name: req.name,
        kind,
        description: req.description,
        is_public: req.is_public,
        owner_id: caller.key_id.clone(),
        content: content.clone(),
    };
    let record = match state.db.create_template(&new).await? {
        CreateOutcome::Created(r) => r,
        CreateOutcome::NameTaken => {
            return Err(ApiError::Conflict {
                code: "name_taken",
                message: format!("a template named `{}` exists", new.name),
            });
        }
    };
    // Every API process hears of the new name before the answer (see `cache`).
    state.templates.changed(&record).await;
    let location = shared::urls::template(&state.base_url, &record.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view(&record, Some(&content), true)),
    )
        .into_response())
}

/// The live template an admin is about to change, read past the cache.
async fn for_admin(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Arc<CachedTemplate>, ApiError> {
    caller.require_admin()?;
    state
        .templates
        .get(id.trim(), false)
        .await?
        .ok_or(ApiError::NotFound("template"))
}

/// Change a template (admin): a new version; queued and issued certificates keep theirs.
#[utoipa::path(put, path = "/v1/templates/{id}", operation_id = "update_template", tag = "templates", request_body = TemplateUpdate,
    params(("id" = String, Path, description = "Template id or name")),
    responses((status = 200, body = TemplateView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "A built-in template's content cannot change", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, description = "Every render sandbox is busy; retry after `Retry-After`", body = ErrorBody)))]
pub async fn update(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
    body: ApiJson<TemplateUpdate>,
) -> Result<Json<TemplateView>, ApiError> {
    let current = for_admin(&state, &caller, &id).await?;
    let req = body.value;
    // A built-in's declared standard is part of what it ships (its digest), like its source.
    let changes_content = req.source.is_some()
        || req.assets.is_some()
        || req.fields.is_some()
        || req.pdf_standard.is_some();
    if current.record.builtin && changes_content {
        // The shipped sources are the only ones trusted to render in-process; changed
        // sources belong in a template of their own (which always renders sandboxed).
        return Err(ApiError::Conflict {
            code: "builtin_template",
            message: "the source, assets, fields and pdf_standard of a built-in template cannot \
                      be changed; \
                      create a template of your own from it"
                .into(),
        });
    }
    let mut p = Problems::default();
    if let Some(source) = &req.source {
        check_source(&mut p, source);
    }
    let assets = req.assets.as_ref().map(|a| decode_assets(&mut p, a));
    if let Some(fields) = &req.fields {
        check_fields(&mut p, fields);
    }
    if req
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1000)
    {
        p.add(
            "description",
            "too_long",
            "`description` is at most 1000 characters",
        );
    }
    p.into_result()?;
    let content = TemplateContent {
        source: req
            .source
            .clone()
            .unwrap_or_else(|| current.content.source.clone()),
        assets: assets
            .clone()
            .unwrap_or_else(|| current.content.assets.clone()),
        fields: req
            .fields
            .clone()
            .unwrap_or_else(|| current.content.fields.clone()),
        pdf_standard: req.pdf_standard.or(current.content.pdf_standard),
    };
    render_checked(
        &state,
        sample_request(&state, current.record.kind, &content, Output::Pdf),
    )
    .await?;
    let change = TemplateChange {
        description: req.description,
        is_public: req.is_public,
        source: req.source,
        assets,
        fields: req.fields,
        pdf_standard: req.pdf_standard,
    };
    let (record, purge) = state
        .db
        .update_template(
            &current.record.id,
            change,
            &caller.key_id,
            state.config.purging(),
        )
        .await?
        .ok_or(ApiError::NotFound("template"))?;
    state.templates.changed(&record).await;
    state.queue.push_inserted(purge.as_ref()).await;
    Ok(Json(view(&record, Some(&content), true)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    /// `hard` (no certificate used it) or `soft` (hidden; issued certificates keep it).
    pub deleted: String,
}

/// Delete a template (admin); soft when certificates reference it.
#[utoipa::path(delete, path = "/v1/templates/{id}", operation_id = "delete_template", tag = "templates",
    params(("id" = String, Path, description = "Template id or name")),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Deleted>, ApiError> {
    let current = for_admin(&state, &caller, &id).await?;
    if current.record.builtin {
        return Err(ApiError::Conflict {
            code: "builtin_template",
            message: "built-in templates are seeded on every start and cannot be deleted".into(),
        });
    }
    let (outcome, purge) = state
        .db
        .delete_template(&current.record.id, state.config.purging())
        .await?;
    if !matches!(outcome, DeleteOutcome::NotFound) {
        state.templates.changed(&current.record).await;
    }
    state.queue.push_inserted(purge.as_ref()).await;
    let deleted = match outcome {
        DeleteOutcome::Deleted => "hard",
        DeleteOutcome::SoftDeleted => "soft",
        DeleteOutcome::NotFound => return Err(ApiError::NotFound("template")),
    };
    Ok(Json(Deleted {
        id: current.record.id.clone(),
        deleted: deleted.into(),
    }))
}

/// Render a template now with the given values (a certificate submission's shape, all
/// optional; sample values fill the rest). Answers the PDF, or a PNG of page 1 when the
/// request says `Accept: image/png`. Bounded in time and memory.
#[utoipa::path(post, path = "/v1/templates/{id}/preview", operation_id = "preview_template", tag = "templates",
    request_body = PreviewRequest,
    params(("id" = String, Path, description = "Template id or name")),
    responses((status = 200, description = "The PDF, or with `Accept: image/png` a PNG of page 1",
            content(("application/pdf"), ("image/png"))), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, description = "Values the template's \
            fields refuse, a template that does not compile, or values sent to a report template \
            (`report_preview_values`: it previews with a sample report)", body = ErrorBody)))]
pub async fn preview(
    Keyed { state, caller }: Keyed,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: ApiJson<PreviewRequest>,
) -> Result<Response, ApiError> {
    let template = readable(&state, &caller, &id, true).await?;
    let png = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("image/png"));
    let output = if png { Output::Png } else { Output::Pdf };
    let request = match template.record.kind {
        TemplateKind::Certificate => {
            let given = body.value.into_request();
            preview_request(&state, &caller.key_id, &template, given, output).await?
        }
        // A report template previews with the sample report: certificate values sent to it
        // would be silently ignored, so they are refused.
        TemplateKind::Report if !body.value.is_empty() => {
            return Err(ApiError::Invalid {
                // Its own code: which kind a template is cannot be told from the request.
                code: "report_preview_values",
                message: "a report template previews with a sample report; send `{}`".into(),
                field: None,
            });
        }
        TemplateKind::Report => sample_report_request(&template.content, output),
    };
    let (bytes, _) = render_checked(&state, request).await?;
    let content_type = if png { "image/png" } else { "application/pdf" };
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}
