//! The OpenAPI 3.1 document, generated from the handlers and types.
//!
//! Why 3.1 and not 3.2 (whose `itemSchema` describes each event of a `text/event-stream`):
//! utoipa 5 writes 3.1 only, openapi-python-client refuses any other version, and the
//! Swagger UI served at `/docs` (5.17) renders only 3.0 and 3.1; openapi-spec-validator
//! refuses `itemSchema` in a 3.1 document. So the event stream is described the way 3.1
//! tools read one (schemathesis among them): its `schema` is one event (`StreamEvent`:
//! `id`, `event`, `data`), exactly what 3.2 would give as `itemSchema`.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::State;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{
    batches, certificates, credentials, emails, events, health, jobs, reports, schedules, system,
    templates, verify, webhooks, workflows,
};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "quire", description = "Document generation jobs: submit, poll, download."),
    paths(
        certificates::submit, certificates::list, certificates::list_public, certificates::get,
        certificates::revoke,
        batches::submit, batches::list, batches::get, batches::archive,
        reports::submit, emails::submit,
        verify::verify, credentials::credential, credentials::status_list,
        credentials::did_document,
        templates::list, templates::get, templates::create, templates::update, templates::delete,
        templates::preview,
        system::status, system::cache_stats, system::cache_health, system::cache_clear,
        schedules::list, schedules::run, schedules::pause, schedules::resume,
        jobs::get, jobs::list, jobs::file, jobs::signed_file, jobs::cancel, jobs::retry,
        jobs::history,
        events::stream,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::test, webhooks::deliveries, webhooks::retry, webhooks::callback_secret,
        workflows::submit, workflows::list, workflows::get, workflows::cancel,
        health::health, health::ready, health::metrics,
        openapi_json,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth, &KeyRequired, &CommonResponses, &LineText, &NamedEnums),
)]
pub struct ApiDoc;

/// Adds the enums of [`schemas::named_enums`](crate::schemas::named_enums) as components,
/// which parameters and properties reference by name.
struct NamedEnums;

impl Modify for NamedEnums {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, description, mut schema) in crate::schemas::named_enums() {
            schema.description = Some(description.to_owned());
            components.schemas.insert(name.to_owned(), schema.into());
        }
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every operation needs an API key but these: health, metrics (their own optional token),
/// the document itself, public verification, the public registry and signed download links
/// (the link is the credential).
const PUBLIC: &[&str] = &[
    "/health",
    "/ready",
    "/metrics",
    "/v1/openapi.json",
    "/v1/verify/{code}",
    "/v1/verify/{code}/credential",
    "/v1/credentials/status/{list}",
    "/.well-known/did.json",
    "/v1/certificates/public",
    "/v1/files/{id}",
];

/// Marks every operation outside [`PUBLIC`] as needing the `api_key` bearer scheme, so the
/// rule is written once instead of on each handler.
struct KeyRequired;

impl Modify for KeyRequired {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityRequirement;
        for (path, item) in openapi.paths.paths.iter_mut() {
            if PUBLIC.contains(&path.as_str()) {
                continue;
            }
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                op.security = Some(vec![SecurityRequirement::new(
                    "api_key",
                    Vec::<String>::new(),
                )]);
            }
        }
    }
}

/// The answers every operation of a kind can give, added here rather than repeated on each
/// handler: 400 (a body, query or path that cannot be read), 401 (keyed operations), 413 and
/// 415 (JSON bodies), 429 with `Retry-After` (rate limits on keyed and public operations, the
/// quotas of submissions), 503 with `Retry-After` (anything that reads the database or
/// queue), and the few that only some operations give (409 built-in templates, 503 sandbox
/// busy). Every error answer has the one body, `ErrorBody`.
struct CommonResponses;

/// Operations whose answers need nothing else: they read neither the database nor the queue.
const STATIC: &[&str] = &["/health", "/metrics", "/v1/openapi.json"];

/// The operations that submit jobs (`POST`): counted against the waiting-jobs quota.
const SUBMISSIONS: &[&str] = &[
    "/v1/certificates",
    "/v1/certificates/batch",
    "/v1/reports",
    "/v1/emails",
];

/// Other operations that put jobs back to wait (`POST`): counted against the quota too.
const REQUEUES: &[&str] = &["/v1/jobs/{id}/retry"];

/// Public operations rate-limited per client address (`rate_limit.rs`).
const RATE_LIMITED_PUBLIC: &[&str] = &[
    "/v1/verify/{code}",
    "/v1/verify/{code}/credential",
    "/v1/credentials/status/{list}",
    "/.well-known/did.json",
    "/v1/certificates/public",
];

/// Operations that hold a place under a per-key cap while open (`long_lived.rs`): what
/// their 429 may also say.
const LONG_LIVED: &[(&str, &str, &str)] = &[
    (
        "get",
        "/v1/events",
        "`too_many_streams`: the key has `limits.max_event_streams_per_key` streams open on \
         this server",
    ),
    (
        "get",
        "/v1/jobs/{id}",
        "`too_many_long_polls` (with `wait`): the key has `limits.max_long_polls_per_key` \
         requests waiting on this server",
    ),
    (
        "get",
        "/v1/batches/{id}",
        "`too_many_long_polls` (with `wait`): the key has `limits.max_long_polls_per_key` \
         requests waiting on this server",
    ),
    (
        "get",
        "/v1/batches/{id}/archive",
        "`too_many_archives`: the key is downloading `limits.max_archive_downloads_per_key` \
         archives from this server",
    ),
];

/// (method, path, status, description) beyond the common ones.
const EXTRA: &[(&str, &str, &str, &str)] = &[(
    "put",
    "/v1/templates/{id}",
    "409",
    "`builtin_template`: built-in templates cannot be changed",
)];

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::PathItem;
        for (path, item) in openapi.paths.paths.iter_mut() {
            let PathItem {
                get,
                put,
                post,
                delete,
                patch,
                ..
            } = item;
            let methods = [
                ("get", get),
                ("put", put),
                ("post", post),
                ("delete", delete),
                ("patch", patch),
            ];
            for (method, op) in methods {
                let Some(op) = op.as_mut() else { continue };
                let keyed = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let has_body = op.request_body.is_some();
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error_response(description, None).into());
                };
                if has_params || has_body {
                    add(
                        "400",
                        "The request cannot be read: malformed JSON, or a query, path or header \
                         parameter that is not of its type (`field` names it)",
                    );
                }
                if keyed {
                    add(
                        "401",
                        "Missing, unknown or revoked API key (`Authorization: Bearer <key>`)",
                    );
                }
                if has_body {
                    add("413", "The body is larger than `limits.max_body_bytes`");
                    add("415", "The body is not `application/json`");
                }
                for (m, p, status, description) in EXTRA {
                    if *m == method && p == path {
                        responses.insert(
                            (*status).to_owned(),
                            error_response(description, Some("Seconds to wait before retrying"))
                                .into(),
                        );
                    }
                }
                let submission = method == "post" && SUBMISSIONS.contains(&path.as_str());
                let requeue = method == "post" && REQUEUES.contains(&path.as_str());
                let by_address = RATE_LIMITED_PUBLIC.contains(&path.as_str());
                if keyed || by_address {
                    let description = match (keyed, submission) {
                        (true, false) if requeue => {
                            "`rate_limited`: more requests than the key's rate limit; \
                             `too_many_waiting_jobs`: the job's owner has as many jobs waiting \
                             or running as its quota (`quotas.max_waiting_jobs`), nothing done"
                        }
                        (false, _) => {
                            "`rate_limited`: more requests from this client address than \
                             `rate_limit.public_per_address` per window"
                        }
                        (true, false) => {
                            "`rate_limited`: more requests than the key's rate limit \
                             (`rate_limit.per_key` per window, or the key's own)"
                        }
                        (true, true) => {
                            "`rate_limited`: more requests than the key's rate limit; \
                             `too_many_waiting_jobs`: the key's jobs waiting or running would \
                             exceed its quota (`quotas.max_waiting_jobs`), nothing accepted; \
                             `quota_exceeded`: an email this submission sends is over the \
                             key's email quota"
                        }
                    };
                    let capped = LONG_LIVED
                        .iter()
                        .find(|(m, p, _)| *m == method && p == path)
                        .map(|(_, _, also)| format!("{description}; {also}"));
                    let description = capped.as_deref().unwrap_or(description);
                    responses.insert(
                        "429".to_owned(),
                        error_response(description, Some("Seconds to wait before retrying")).into(),
                    );
                }
                if !STATIC.contains(&path.as_str()) && path != "/ready" {
                    // Always with `Retry-After`, whether a dependency is down or the render
                    // sandbox is busy.
                    let description = if path.starts_with("/v1/templates")
                        && matches!(method, "post" | "put")
                    {
                        "The database or queue is unavailable, or every render sandbox is busy; \
                         retry after `Retry-After` seconds"
                    } else {
                        "The database or queue is unavailable; retry after `Retry-After` seconds"
                    };
                    responses.insert(
                        "503".to_owned(),
                        error_response(description, Some("Seconds to wait before retrying")).into(),
                    );
                }
            }
        }
    }
}

/// An error answer: `ErrorBody` as JSON, with `Retry-After` when `retry_after` describes it.
fn error_response(
    description: &str,
    retry_after: Option<&str>,
) -> utoipa::openapi::response::Response {
    use utoipa::openapi::schema::{Ref, Type};
    use utoipa::openapi::{ContentBuilder, HeaderBuilder, ObjectBuilder, ResponseBuilder};
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if let Some(header) = retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some(header))
                .build(),
        );
    }
    response.build()
}

/// A bounded string of a request body without a pattern or format of its own is one line of
/// text, checked as `Problems::text` checks it: at least one visible character and no control
/// character (no line break). The pattern spells out Rust's `char::is_control` and
/// `char::is_whitespace` instead of `\s` or `\p{..}`, whose meanings differ between regex
/// dialects (ECMA's `\s` takes U+FEFF, Python's does not).
struct LineText;

/// See [`LineText`].
pub const LINE_PATTERN: &str = concat!(
    "^[^\\x00-\\x1f\\x7f-\\x9f]*",
    "[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]",
    "[^\\x00-\\x1f\\x7f-\\x9f]*$"
);

impl Modify for LineText {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            for schema in components.schemas.values_mut() {
                add_line_pattern(schema);
            }
        }
    }
}

fn add_line_pattern(schema: &mut utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType, Type};
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            let is_string = match &object.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(types) => types.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if is_string
                && object.max_length.is_some()
                && object.pattern.is_none()
                && object.format.is_none()
                && object.enum_values.is_none()
            {
                object.pattern = Some(LINE_PATTERN.to_owned());
            }
            for property in object.properties.values_mut() {
                add_line_pattern(property);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                add_line_pattern(items);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(add_line_pattern),
        Schema::AllOf(all) => all.items.iter_mut().for_each(add_line_pattern),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(add_line_pattern),
        _ => {}
    }
}

/// This document, with the limits this process enforces. No key needed: it holds no secrets,
/// and clients are generated from it.
#[utoipa::path(get, path = "/v1/openapi.json", operation_id = "get_openapi_document", tag = "system",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(document(&state.config.limits))
}

/// The document a process with these limits serves (also what `quire openapi` prints, and
/// what the checked-in clients are generated from).
pub fn document(limits: &shared::config::Limits) -> serde_json::Value {
    static DOC: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);
    let mut doc = DOC.clone();
    with_limits(&mut doc, limits);
    let mut json = serde_json::to_value(&doc).expect("the document serializes");
    state_rules(&mut json);
    json
}

/// The listings' `cursor` parameters: the syntax of the cursors each one gives, so an empty
/// or malformed cursor is refused by the document as it is by the listing (`400
/// invalid_query`). Every operation with a `cursor` is here (a test checks).
const CURSORS: &[(&str, &str)] = &[
    ("/v1/jobs", shared::db::ListCursor::PATTERN),
    ("/v1/batches", shared::db::ListCursor::PATTERN),
    ("/v1/workflows", shared::db::ListCursor::PATTERN),
    (
        "/v1/webhooks/{id}/deliveries",
        shared::db::ListCursor::PATTERN,
    ),
    ("/v1/certificates", certificates::CURSOR_PATTERN),
    ("/v1/certificates/public", certificates::CURSOR_PATTERN),
];

/// Padded base64 as the API decodes it (`base64`'s standard engine): groups of four, and a
/// last group whose unused bits are zero.
const BASE64_PATTERN: &str = concat!(
    "^(?:[A-Za-z0-9+/]{4})*",
    "(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$"
);

/// A template asset's path as `shared::templates::valid_asset_path` takes it: `/` and
/// segments of `A-Z a-z 0-9 . - _`, none `.` or `..`.
const ASSET_PATH_PATTERN: &str = concat!(
    "^(?:/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*",
    "|\\.[A-Za-z0-9_-][A-Za-z0-9._-]*",
    "|\\.\\.[A-Za-z0-9._-]+))+$"
);

/// The rules the request validation enforces that utoipa's annotations cannot write but JSON
/// Schema can: written into the document here, so it is exactly as strict as the validation
/// (schemathesis's contract test checks both directions).
fn state_rules(doc: &mut serde_json::Value) {
    use serde_json::json;
    let schemas = &mut doc["components"]["schemas"];
    // `Placement::check`: `run_at` or `delay_secs`, not both (422 `conflicting_fields`).
    for schema in [
        "CertificateRequest",
        "BatchRequest",
        "ReportRequest",
        "EmailRequest",
    ] {
        schemas[schema]["not"] = json!({
            "required": ["run_at", "delay_secs"],
            "properties": {"run_at": {"type": "string"}, "delay_secs": {"type": "integer"}},
        });
        schemas[schema]["description"] = json!(format!(
            "{} `run_at` and `delay_secs` exclude each other.",
            schemas[schema]["description"].as_str().unwrap_or_default()
        ));
    }
    // `overlap_secs` only with `rotate_secret: true` (422 `conflicting_fields`).
    schemas["UpdateWebhook"]["not"] = json!({
        "required": ["overlap_secs"],
        "properties": {"overlap_secs": {"type": "integer"}},
        "not": {"required": ["rotate_secret"], "properties": {"rotate_secret": {"const": true}}},
    });
    // `max_length` on text fields only (`FieldSpec::problem`).
    schemas["FieldSpec"]["not"] = json!({
        "required": ["type", "max_length"],
        "properties": {"type": {"not": {"const": "text"}}, "max_length": {"type": "integer"}},
    });
    // A template's assets: paths that are not reserved for job data, base64 values
    // (`decode_assets`). Their total size is checked after decoding (422 `too_large`).
    let mut reserved: Vec<&str> = vec![shared::templates::MAIN_PATH, shared::templates::DATA_PATH];
    reserved.extend(shared::templates::IMAGE_PATHS);
    let assets = json!({
        "maxProperties": templates::MAX_ASSETS,
        "propertyNames": {
            "maxLength": 128,
            "pattern": ASSET_PATH_PATTERN,
            "not": {"anyOf": [
                {"enum": reserved},
                {"pattern": format!("^{}", shared::templates::FIELDS_DIR)},
            ]},
        },
        "additionalProperties": {"type": "string", "pattern": BASE64_PATTERN},
    });
    for schema in ["TemplateRequest", "TemplateUpdate"] {
        let property = &mut schemas[schema]["properties"]["assets"];
        for (key, value) in assets.as_object().expect("an object") {
            property[key] = value.clone();
        }
    }
    stream_events(schemas);
    for (path, pattern) in CURSORS {
        let Some(parameters) = doc["paths"][*path]["get"]["parameters"].as_array_mut() else {
            continue;
        };
        for parameter in parameters.iter_mut().filter(|p| p["name"] == "cursor") {
            parameter["schema"]["pattern"] = json!(pattern);
        }
    }
    doc["paths"]["/v1/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"] =
        json!({"$ref": "#/components/schemas/StreamEvent"});
    // An optional parameter is absent, never null: utoipa writes `Option<T>` as nullable, and
    // a header or query string would then be offered the text `null`.
    let operations = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let parameters = operation
            .get_mut("parameters")
            .and_then(|p| p.as_array_mut())
            .into_iter()
            .flatten();
        for parameter in parameters {
            let Some(schema) = parameter.get_mut("schema") else {
                continue;
            };
            if let Some(types) = schema.get_mut("type").and_then(|t| t.as_array_mut()) {
                types.retain(|t| t != "null");
                if let [single] = types.as_slice() {
                    schema["type"] = single.clone();
                }
            }
        }
        // Files, sent or answered, are bytes: generators then give them a file or blob type.
        let mut bodies: Vec<&mut serde_json::Value> = Vec::new();
        let object = operation.as_object_mut().into_iter().flatten();
        for (key, value) in object {
            match key.as_str() {
                "requestBody" => bodies.push(value),
                "responses" => {
                    bodies.extend(value.as_object_mut().into_iter().flatten().map(|r| r.1))
                }
                _ => {}
            }
        }
        for body in bodies {
            let content = body.get_mut("content").and_then(|c| c.as_object_mut());
            for (media_type, media) in content.into_iter().flatten() {
                if BINARY_MEDIA_TYPES.contains(&media_type.as_str()) {
                    media["schema"] = json!({"type": "string", "format": "binary"});
                }
            }
        }
    }
}

/// Media types whose bodies are files: PDFs, page images, archives, CSV uploads.
const BINARY_MEDIA_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "application/zip",
    "text/csv",
];

/// The events of `GET /v1/events` as components: each event of the stream is a
/// `StreamEvent`, whose `data` is JSON (`contentSchema`).
fn stream_events(schemas: &mut serde_json::Value) {
    use serde_json::json;
    let statuses = shared::domain::JobStatus::ALL.map(|s| s.as_str()).join("|");
    schemas["StreamEvent"] = json!({
        "description": "One event of the `GET /v1/events` stream as `text/event-stream` carries it \
            (what OpenAPI 3.2 calls the stream's `itemSchema`): a job's transition, a revocation \
            or a finished batch, or once, first, a `gap` when events were missed.",
        "oneOf": [
            {"$ref": "#/components/schemas/JobStreamEvent"},
            {"$ref": "#/components/schemas/GapStreamEvent"},
        ],
    });
    schemas["JobStreamEvent"] = json!({
        "type": "object",
        "required": ["id", "event", "data"],
        "properties": {
            "id": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "The event's place in the log: resume after it with `Last-Event-ID`.",
            },
            "event": {
                "type": "string",
                "pattern": format!("^(?:job\\.(?:{statuses})|batch\\.completed|certificate\\.revoked)$"),
                "description": "`job.<status>`, `batch.completed` or `certificate.revoked`.",
            },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/EventView"},
            },
        },
    });
    schemas["GapStreamEvent"] = json!({
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": "gap"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/EventGap"},
            },
        },
    });
    schemas["EventGap"] = json!({
        "type": "object",
        "description": "Events before `oldest` are no longer kept: a client that resumed from \
            before it missed some.",
        "required": ["oldest", "message"],
        "properties": {
            "oldest": {"type": "integer", "format": "int64"},
            "message": {"type": "string"},
        },
    });
}

/// The annotations state the default limits; these are the configurable ones, set to what
/// this process enforces so that the document stays exact under any configuration.
pub fn with_limits(doc: &mut utoipa::openapi::OpenApi, limits: &shared::config::Limits) {
    let names = limits.max_name_chars;
    for (schema, property, limit) in [
        ("CertificateRequest", "recipient_name", names),
        ("CertificateRequest", "course_name", names),
        ("CertificateRequest", "issuer_name", names),
        ("PreviewRequest", "recipient_name", names),
        ("PreviewRequest", "course_name", names),
        ("PreviewRequest", "issuer_name", names),
        ("BatchItem", "recipient_name", names),
        ("BatchItem", "course_name", names),
        ("BatchItem", "issuer_name", names),
        ("ReportRequest", "sections", limits.max_report_sections),
        ("ReportRequest", "images", limits.max_report_images),
        ("SectionInput", "rows", limits.max_report_rows),
    ] {
        set_limit(doc, schema, property, limit);
    }
}

/// Sets a string property's `maxLength` or an array property's `maxItems`.
fn set_limit(doc: &mut utoipa::openapi::OpenApi, schema: &str, property: &str, limit: usize) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    let found = doc
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut(schema))
        .and_then(|s| match s {
            RefOr::T(Schema::Object(object)) => object.properties.get_mut(property),
            _ => None,
        });
    match found {
        Some(RefOr::T(Schema::Object(text))) => text.max_length = Some(limit),
        Some(RefOr::T(Schema::Array(list))) => list.max_items = Some(limit),
        // The annotations and this table disagree: a test reads every entry back.
        _ => tracing::error!(schema, property, "limit without its schema property"),
    }
}

/// Where the interactive reference is served (Swagger UI, its assets in the binary).
pub const REFERENCE_PATH: &str = "/docs";

/// The interactive reference page for `/v1/openapi.json`; no key needed.
pub fn reference_page<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    SwaggerUi::new(REFERENCE_PATH)
        .config(utoipa_swagger_ui::Config::from("/v1/openapi.json"))
        .into()
}
