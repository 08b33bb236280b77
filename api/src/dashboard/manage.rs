//! Batches, schedules, templates and keys: what an operator looks after besides jobs.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;
use shared::db::{BatchRow, JobFilter};
use shared::domain::{JobStatus, Timestamp};

use super::session::{Action, Operator};
use super::{DashError, back, live_after, page};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Keyed, Mine, Owned};
use crate::paging::{Listing, PageQuery};
use crate::routes::batches::BatchListQuery;
use crate::routes::templates::CacheQuery;
use crate::state::AppState;
use crate::views::JobView;
use crate::waiting::WaitQuery;

fn keyed(state: &AppState, op: &Operator) -> Keyed {
    Keyed {
        state: state.clone(),
        caller: op.caller.clone(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CursorForm {
    #[serde(default)]
    pub(super) cursor: Option<String>,
}

pub async fn batches(
    op: Operator,
    State(state): State<AppState>,
    Query(form): Query<CursorForm>,
) -> Result<Response, DashError> {
    let live = live_after(&state, "/dashboard/events").await?;
    let listing = Listing {
        state: state.clone(),
        caller: op.caller.clone(),
        filter: BatchListQuery {},
        page: PageQuery {
            limit: Some(50),
            cursor: form.cursor.filter(|c| !c.is_empty()),
        },
    };
    let page_of = crate::routes::batches::list(listing).await?.0;
    Ok(page(
        "batches.html",
        Some(&op),
        "batches",
        context! {
            batches => page_of.batches,
            next_url => page_of.next_cursor.map(|c| format!("/dashboard/batches?cursor={c}")),
            live,
        },
    ))
}

async fn find_batch(state: &AppState, op: &Operator, id: &str) -> Result<BatchRow, ApiError> {
    BatchRow::find(state, &op.caller, id).await
}

pub async fn batch(
    op: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, DashError> {
    let id = crate::views::parse_id(&id)?;
    let live = live_after(&state, &format!("/dashboard/events?batch={id}")).await?;
    let row = find_batch(&state, &op, &id.to_string()).await?;
    let mine = Mine {
        state: state.clone(),
        caller: op.caller.clone(),
        row: row.clone(),
    };
    let view = crate::routes::batches::get(mine, ApiQuery(WaitQuery { wait: None }))
        .await?
        .0;
    let failed = JobFilter {
        batch_id: Some(row.id.clone()),
        status: Some(JobStatus::Dead),
        ..JobFilter::default()
    };
    let failed: Vec<JobView> = state
        .db
        .list_jobs(&failed, None, 200)
        .await?
        .iter()
        .map(|j| JobView::from_row(j, &state.base_url))
        .collect();
    Ok(page(
        "batch.html",
        Some(&op),
        "batches",
        context! {
            batch => view, failed,
            live,
        },
    ))
}

pub async fn archive(
    op: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, DashError> {
    let row = find_batch(&state, &op, &id).await?;
    let mine = Mine {
        state,
        caller: op.caller,
        row,
    };
    Ok(crate::routes::batches::archive(mine).await?)
}

pub async fn schedules(op: Operator, State(state): State<AppState>) -> Result<Response, DashError> {
    let live = live_after(&state, "/dashboard/events?kind=maintenance").await?;
    let list = crate::routes::schedules::list(keyed(&state, &op)).await?.0;
    Ok(page(
        "schedules.html",
        Some(&op),
        "schedules",
        context! { schedules => list.schedules, live },
    ))
}

pub async fn schedule_action(
    State(state): State<AppState>,
    Path((name, what)): Path<(String, String)>,
    action: Action,
) -> Result<Response, DashError> {
    let k = keyed(&state, &action.operator);
    let name_path = ApiPath(name);
    match what.as_str() {
        "run" => drop(crate::routes::schedules::run(k, name_path).await?),
        "pause" => drop(crate::routes::schedules::pause(k, name_path).await?),
        "resume" => drop(crate::routes::schedules::resume(k, name_path).await?),
        _ => return Err(ApiError::NotFound("action").into()),
    }
    Ok(back("/dashboard/schedules"))
}

pub async fn templates(op: Operator, State(state): State<AppState>) -> Result<Response, DashError> {
    let list = crate::routes::templates::list(
        keyed(&state, &op),
        ApiQuery(CacheQuery { use_cache: None }),
    )
    .await?
    .0;
    Ok(page(
        "templates.html",
        Some(&op),
        "templates",
        context! { templates => list.templates },
    ))
}

pub async fn template(
    op: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, DashError> {
    let view = crate::routes::templates::get(
        keyed(&state, &op),
        ApiPath(id),
        ApiQuery(CacheQuery { use_cache: None }),
    )
    .await?
    .0;
    let versions: Vec<_> = state
        .db
        .template_versions(&view.id)
        .await?
        .into_iter()
        .map(|(version, digest, created_at, fields)| {
            context! {
                version, digest => digest.chars().take(12).collect::<String>(), fields,
                created_at => Timestamp::from_millis(created_at).to_rfc3339(),
            }
        })
        .collect();
    Ok(page(
        "template.html",
        Some(&op),
        "templates",
        context! { template => view, versions },
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    version: Option<i64>,
}

/// Page 1 of a template version with sample values, as PNG.
pub async fn preview(
    op: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(form): Query<VersionForm>,
) -> Result<Response, DashError> {
    let png = crate::routes::templates::preview_version_png(&state, &op.caller, &id, form.version)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        png,
    )
        .into_response())
}

pub async fn keys(op: Operator, State(state): State<AppState>) -> Result<Response, DashError> {
    op.caller.require_admin()?;
    keys_page(&state, &op, None).await
}

async fn keys_page(
    state: &AppState,
    op: &Operator,
    created: Option<(String, String)>,
) -> Result<Response, DashError> {
    let keys: Vec<_> = state
        .db
        .list_keys()
        .await?
        .into_iter()
        .map(|k| {
            context! {
                id => k.id, name => k.name, prefix => k.prefix, admin => k.is_admin,
                created_at => k.created_at.to_rfc3339(),
                revoked_at => k.revoked_at.map(|t| t.to_rfc3339()),
            }
        })
        .collect();
    Ok(page(
        "keys.html",
        Some(op),
        "keys",
        context! {
            keys,
            created => created.map(|(name, secret)| context! { name, secret }),
        },
    ))
}

/// Creates a key; the page shows it once.
pub async fn create_key(
    State(state): State<AppState>,
    action: Action,
) -> Result<Response, DashError> {
    let op = &action.operator;
    op.caller.require_admin()?;
    let name = action.get("name").unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::Invalid {
            code: "invalid_field",
            message: "a key's name is 1 to 100 characters".into(),
            field: Some("name".into()),
        }
        .into());
    }
    let admin = action.get("admin") == Some("on");
    let created = state.db.create_key(&name, admin).await?;
    let mut response = keys_page(&state, op, Some((name, created.secret.expose().clone()))).await?;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("a header"));
    Ok(response)
}

pub async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    action: Action,
) -> Result<Response, DashError> {
    action.operator.caller.require_admin()?;
    if !state.db.revoke_key(&id).await? {
        return Err(ApiError::NotFound("key").into());
    }
    // Refused by every API process at once; its dashboard sessions end on their next request.
    state.auth.revoked().await;
    Ok(back("/dashboard/keys"))
}
