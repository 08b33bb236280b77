//! The OpenAPI 3.1 document, generated from the handlers and types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::extract::Caller;
use crate::routes::{
    batches, certificates, emails, health, jobs, reports, schedules, system, templates, verify,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "quire", description = "Document generation jobs: submit, poll, download."),
    paths(
        certificates::submit, certificates::list, certificates::list_public, certificates::get,
        certificates::revoke,
        batches::submit, batches::get, batches::archive,
        reports::submit, emails::submit,
        verify::verify,
        templates::list, templates::get, templates::create, templates::update, templates::delete,
        templates::preview,
        system::status, system::cache_stats, system::cache_health,
        schedules::list, schedules::run, schedules::pause, schedules::resume,
        jobs::get, jobs::list, jobs::file, jobs::signed_file, jobs::cancel, jobs::retry,
        health::health, health::ready,
        openapi_json,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

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

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "system",
    responses((status = 200, description = "OpenAPI 3.1 document")),
    security(("api_key" = [])))]
pub async fn openapi_json(_caller: Caller) -> Result<Json<utoipa::openapi::OpenApi>, ApiError> {
    Ok(Json(ApiDoc::openapi()))
}
