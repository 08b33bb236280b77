//! The overview page, signing in and out, and the live event stream pages listen to.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use minijinja::context;
use serde::Serialize;
use shared::db::Throughput;
use shared::domain::{JobKind, Timestamp};

use super::session::{self, Action, Operator};
use super::{DashError, back, live_after, page};
use crate::error::ApiError;
use crate::extract::{ApiQuery, Keyed};
use crate::routes::events::EventQuery;
use crate::state::AppState;
use crate::views::{JobView, WorkerView};

const HOUR_MS: i64 = 3_600_000;

/// One kind's row of the overview's table.
#[derive(Debug, Default, Serialize)]
struct KindCounts {
    kind: &'static str,
    scheduled: i64,
    queued: i64,
    running: i64,
    failed: i64,
    succeeded_day: i64,
    dead_day: i64,
    cancelled_day: i64,
}

/// One bar of a throughput chart (SVG coordinates, computed here so the template only
/// draws).
#[derive(Debug, Serialize)]
struct Bar {
    x: f64,
    width: f64,
    ok_y: f64,
    ok_height: f64,
    dead_y: f64,
    dead_height: f64,
    title: String,
}

#[derive(Debug, Serialize)]
struct Chart {
    bars: Vec<Bar>,
    succeeded: i64,
    dead: i64,
    peak: i64,
}

const CHART_WIDTH: f64 = 600.0;
const CHART_HEIGHT: f64 = 100.0;

/// The start of the first of `buckets` buckets of `bucket_ms` whose last holds `now`.
fn first_bucket(now: i64, bucket_ms: i64, buckets: i64) -> i64 {
    (now / bucket_ms - buckets + 1) * bucket_ms
}

fn chart(t: &Throughput, first: i64, bucket_ms: i64, buckets: i64, label: &str) -> Chart {
    let peak = t
        .buckets
        .values()
        .map(|(ok, dead)| ok + dead)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = CHART_WIDTH / buckets as f64;
    let scale = CHART_HEIGHT / peak as f64;
    let bars = (0..buckets)
        .map(|i| {
            let start = first + i * bucket_ms;
            let (ok, dead) = t.buckets.get(&start).copied().unwrap_or_default();
            let ok_height = ok as f64 * scale;
            let dead_height = dead as f64 * scale;
            Bar {
                x: i as f64 * width,
                width: (width - 1.0).max(1.0),
                ok_y: CHART_HEIGHT - ok_height,
                ok_height,
                dead_y: CHART_HEIGHT - ok_height - dead_height,
                dead_height,
                title: format!(
                    "{} {label}: {ok} succeeded, {dead} dead",
                    Timestamp::from_millis(start).to_rfc3339()
                ),
            }
        })
        .collect();
    let (succeeded, dead) = t
        .buckets
        .iter()
        .filter(|(at, _)| **at >= first)
        .fold((0, 0), |(a, b), (_, (ok, d))| (a + ok, b + d));
    Chart {
        bars,
        succeeded,
        dead,
        peak,
    }
}

pub async fn overview(op: Operator, State(state): State<AppState>) -> Result<Response, DashError> {
    let live = live_after(&state, "/dashboard/events").await?;
    let owner = op.caller.owner_filter().map(str::to_owned);
    let owner = owner.as_deref();
    let now = Timestamp::now().millis();
    // Charts: the last 60 minutes and 24 hours, the current one last.
    let hour_ago = Timestamp::from_millis(first_bucket(now, 60_000, 60));
    let day_ago = Timestamp::from_millis(first_bucket(now, HOUR_MS, 24));
    let db = &state.db;
    let (unfinished, finished, per_minute, per_hour, latencies, failures) = tokio::try_join!(
        db.unfinished_counts(owner),
        db.finished_counts(owner, Timestamp::from_millis(now - 24 * HOUR_MS)),
        db.throughput(owner, hour_ago, 60_000),
        db.throughput(owner, day_ago, HOUR_MS),
        db.latencies(owner, 1000),
        db.recent_failures(owner, 10),
    )?;
    let mut kinds: Vec<KindCounts> = JobKind::ALL
        .iter()
        .map(|k| KindCounts {
            kind: k.as_str(),
            ..Default::default()
        })
        .collect();
    for (kind, status, n) in unfinished.iter().chain(finished.iter()) {
        let Some(row) = kinds.iter_mut().find(|k| k.kind == kind) else {
            continue;
        };
        match status.as_str() {
            "scheduled" => row.scheduled = *n,
            "queued" => row.queued = *n,
            "running" => row.running = *n,
            "failed" => row.failed = *n,
            "succeeded" => row.succeeded_day = *n,
            "dead" => row.dead_day = *n,
            "cancelled" => row.cancelled_day = *n,
            _ => {}
        }
    }
    // Workers and schedules are the operator's (admin) view of the system.
    let (workers, schedules) = if op.caller.is_admin {
        let workers: Vec<WorkerView> = db
            .list_workers()
            .await?
            .into_iter()
            .map(WorkerView::from)
            .collect();
        let keyed = Keyed {
            state: state.clone(),
            caller: op.caller.clone(),
        };
        let schedules = crate::routes::schedules::list(keyed).await?.0.schedules;
        (Some(workers), Some(schedules))
    } else {
        (None, None)
    };
    let cache = op
        .caller
        .is_admin
        .then(|| crate::routes::system::cache_stats_view(&state));
    let failures: Vec<JobView> = failures
        .iter()
        .map(|j| JobView::from_row(j, &state.base_url))
        .collect();
    Ok(page(
        "overview.html",
        Some(&op),
        "overview",
        context! {
            kinds,
            hour => chart(&per_minute, hour_ago.millis(), 60_000, 60, "minute"),
            day => chart(&per_hour, day_ago.millis(), HOUR_MS, 24, "hour"),
            latencies => context! {
                sample => latencies.sample,
                wait_p50 => latencies.wait_p50, wait_p95 => latencies.wait_p95,
                run_p50 => latencies.run_p50, run_p95 => latencies.run_p95,
            },
            workers, schedules, failures, cache,
            live,
        },
    ))
}

pub async fn sign_in_form(State(state): State<AppState>) -> Response {
    sign_in_page(&state, None)
}

fn sign_in_page(state: &AppState, problem: Option<&str>) -> Response {
    let token = session::random_token();
    let mut response = page(
        "sign_in.html",
        None,
        "",
        context! { sign_in_token => token.clone(), problem },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(state, session::SIGN_IN_COOKIE, &token, Some(600)),
    );
    response
}

#[derive(serde::Deserialize)]
pub struct SignInForm {
    key: String,
    csrf: String,
}

/// Signing in: limited per client address like the public endpoints (the form's token
/// stops cross-site posts, not a client guessing keys), then the key looked up.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    axum::Form(form): axum::Form<SignInForm>,
) -> Result<Response, DashError> {
    crate::rate_limit::charge_address(&state, &headers, &extensions).await?;
    let expected = session::cookie(&headers, session::SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !session::same(&form.csrf, &expected) {
        return Err(DashError::Csrf);
    }
    match session::sign_in(&state, &form.key).await {
        Ok((cookie, max_age)) => {
            let mut response = back("/dashboard");
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                session::set_cookie(&state, session::COOKIE, &cookie, Some(max_age)),
            );
            h.append(
                header::SET_COOKIE,
                session::set_cookie(&state, session::SIGN_IN_COOKIE, "", None),
            );
            Ok(response)
        }
        Err(ApiError::Unauthorized(_)) => {
            let mut response = sign_in_page(&state, Some("That key is unknown or revoked."));
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    action: Action,
) -> Result<Response, DashError> {
    session::sign_out(&state, &action.operator).await?;
    let mut response = back("/dashboard/sign-in");
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&state, session::COOKIE, "", None),
    );
    Ok(response)
}

/// The caller's events (admins: all) as server-sent events, for pages that refresh live,
/// and a `submitted` event (no id: nothing to resume) when the caller's key (admins: any)
/// submits jobs.
pub async fn events(
    op: Operator,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EventQuery>,
    headers: HeaderMap,
) -> Result<Response, DashError> {
    let closed = state.events.closed();
    let owner = op.caller.owner_filter().map(str::to_owned);
    let submissions = state.events.submissions();
    // Both halves end with the stream's lifetime (the page's `EventSource` reconnects).
    let ends = tokio::time::sleep(crate::routes::events::lifetime(&state));
    let logged = crate::routes::events::open(state, op.caller, q, headers).await?;
    let submitted = futures::stream::unfold(submissions, move |mut rx| {
        let owner = owner.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(by) if owner.as_deref().is_none_or(|o| o == by) => break,
                    Ok(_) => continue,
                    // Missed some: say so once, as one.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
            let event = SseEvent::default().event("submitted").data("{}");
            Some((Ok::<_, std::convert::Infallible>(event), rx))
        }
    })
    .take_until(closed.cancelled_owned())
    .take_until(ends);
    let merged = futures::stream::select(logged, submitted);
    Ok(Sse::new(merged)
        .keep_alive(KeepAlive::new().interval(crate::routes::events::HEARTBEAT))
        .into_response())
}
