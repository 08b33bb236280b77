//! The operators' dashboard at `/dashboard`: server-rendered HTML (minijinja templates
//! compiled into the binary), a stylesheet and one small script served under content-hashed
//! names, no build step and nothing fetched from elsewhere. Every page reads without
//! JavaScript; with it, times show in the browser's zone and pages refresh themselves from the
//! event stream (`/dashboard/events`, the same log as `GET /v1/events`).
//!
//! Pages act through the same functions as the JSON API (`routes::*`), with the session's
//! key as the caller, so ownership, admin rules and every check are the API's own.

mod jobs;
mod manage;
mod overview;
pub mod session;
mod workflows;

use std::sync::LazyLock;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, Value, context};

use crate::error::ApiError;
use crate::state::AppState;
use session::Operator;

/// The dashboard's routes (mounted when `dashboard.enabled`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(overview::overview))
        .route("/dashboard/", get(|| async { Redirect::to("/dashboard") }))
        .route(
            "/dashboard/sign-in",
            get(overview::sign_in_form).post(overview::sign_in),
        )
        .route("/dashboard/sign-out", post(overview::sign_out))
        .route("/dashboard/events", get(overview::events))
        .route("/dashboard/jobs", get(jobs::list))
        .route("/dashboard/jobs/{id}", get(jobs::show))
        .route("/dashboard/jobs/{id}/file", get(jobs::file))
        .route("/dashboard/jobs/{id}/{action}", post(jobs::act))
        .route("/dashboard/failures", get(jobs::failures))
        .route("/dashboard/failures/bulk", post(jobs::bulk))
        .route("/dashboard/batches", get(manage::batches))
        .route("/dashboard/batches/{id}", get(manage::batch))
        .route("/dashboard/batches/{id}/archive", get(manage::archive))
        .route("/dashboard/workflows", get(workflows::list))
        .route("/dashboard/workflows/{id}", get(workflows::show))
        .route("/dashboard/schedules", get(manage::schedules))
        .route(
            "/dashboard/schedules/{name}/{action}",
            post(manage::schedule_action),
        )
        .route("/dashboard/templates", get(manage::templates))
        .route("/dashboard/templates/{id}", get(manage::template))
        .route(
            "/dashboard/templates/{id}/preview.png",
            get(manage::preview),
        )
        .route(
            "/dashboard/keys",
            get(manage::keys).post(manage::create_key),
        )
        .route("/dashboard/keys/{id}/revoke", post(manage::revoke_key))
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` names are escaped: job data shown on a page never becomes markup.
    for (name, source) in [
        (
            "base.html",
            include_str!("../../../templates/dashboard/base.html"),
        ),
        (
            "sign_in.html",
            include_str!("../../../templates/dashboard/sign_in.html"),
        ),
        (
            "overview.html",
            include_str!("../../../templates/dashboard/overview.html"),
        ),
        (
            "jobs.html",
            include_str!("../../../templates/dashboard/jobs.html"),
        ),
        (
            "job.html",
            include_str!("../../../templates/dashboard/job.html"),
        ),
        (
            "failures.html",
            include_str!("../../../templates/dashboard/failures.html"),
        ),
        (
            "confirm.html",
            include_str!("../../../templates/dashboard/confirm.html"),
        ),
        (
            "batches.html",
            include_str!("../../../templates/dashboard/batches.html"),
        ),
        (
            "batch.html",
            include_str!("../../../templates/dashboard/batch.html"),
        ),
        (
            "workflows.html",
            include_str!("../../../templates/dashboard/workflows.html"),
        ),
        (
            "workflow.html",
            include_str!("../../../templates/dashboard/workflow.html"),
        ),
        (
            "schedules.html",
            include_str!("../../../templates/dashboard/schedules.html"),
        ),
        (
            "templates.html",
            include_str!("../../../templates/dashboard/templates.html"),
        ),
        (
            "template.html",
            include_str!("../../../templates/dashboard/template.html"),
        ),
        (
            "keys.html",
            include_str!("../../../templates/dashboard/keys.html"),
        ),
        (
            "error.html",
            include_str!("../../../templates/dashboard/error.html"),
        ),
    ] {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("dashboard template {name}: {e}"));
    }
    env.add_function("asset", |name: &str| crate::routes::assets::url(name));
    env
});

/// Renders page `name` for `operator` with `ctx`; `active` names the navigation entry.
fn page(name: &str, operator: Option<&Operator>, active: &str, ctx: Value) -> Response {
    let base = context! {
        active,
        csrf => operator.map(|o| o.csrf.clone()),
        key_name => operator.map(|o| o.key_name.clone()),
        admin => operator.is_some_and(|o| o.caller.is_admin),
    };
    let rendered = TEMPLATES
        .get_template(name)
        .and_then(|t| t.render(context! { ..base, ..ctx }));
    match rendered {
        Ok(html) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            [(
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; frame-src 'self'; object-src 'self'; \
                 frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
            )],
            Html(html),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, template = name, "dashboard page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

/// What a dashboard request can end in besides its page: signed out (to the sign-in page),
/// a refused form, or an API error shown as a page with its status.
#[derive(Debug)]
pub enum DashError {
    SignIn,
    Csrf,
    Api(ApiError),
}

impl From<ApiError> for DashError {
    fn from(e: ApiError) -> Self {
        DashError::Api(e)
    }
}

impl From<shared::db::DbError> for DashError {
    fn from(e: shared::db::DbError) -> Self {
        DashError::Api(e.into())
    }
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        match self {
            DashError::SignIn => session::to_sign_in(),
            DashError::Csrf => error_page(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "This form's security token is missing or out of date. Go back, reload the page and try again.",
            ),
            DashError::Api(e) => {
                // The API's own message (its one error type); a server error's cause is
                // logged by the API's response, not shown.
                let message = e.to_string();
                let api = e.into_response();
                let status = api.status();
                let message = match status {
                    StatusCode::NOT_FOUND => "Not found, or not yours to see.".to_owned(),
                    s if s.is_server_error() => {
                        "The service could not answer; try again shortly.".to_owned()
                    }
                    _ => message,
                };
                let mut page = error_page(status, "error", &message);
                // A 429 or 503 says when to come back, on a page as in the API.
                if let Some(retry) = api.headers().get(header::RETRY_AFTER) {
                    page.headers_mut()
                        .insert(header::RETRY_AFTER, retry.clone());
                }
                page
            }
        }
    }
}

fn error_page(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = page(
        "error.html",
        None,
        "",
        context! { status => status.as_u16(), code, message },
    );
    *response.status_mut() = status;
    response
}

/// The event stream URL a page listens to for changes after it was read: `path` (with its
/// filters) resuming after the newest event numbered now. Taken before the page's own reads,
/// so a change between the read and the stream's start is replayed, not missed.
async fn live_after(state: &AppState, path: &str) -> Result<String, DashError> {
    let (_, newest) = state.db.event_seq_bounds().await?;
    let joiner = if path.contains('?') { '&' } else { '?' };
    Ok(format!("{path}{joiner}after={newest}"))
}

/// Back to `to` after an action (303: the browser follows with a GET).
fn back(to: &str) -> Response {
    Redirect::to(to).into_response()
}
