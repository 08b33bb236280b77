//! Jobs: the filtered list, one job's page (payload, attempts, result, actions) and the
//! failed and dead jobs grouped by error with bulk retry and discard.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use minijinja::context;
use serde::{Deserialize, Serialize};
use shared::db::{FailureGroup, JobFilter, JobRow, ListCursor};
use shared::domain::{JobKind, JobStatus, Timestamp};

use super::session::{Action, Operator};
use super::{DashError, back, live_after, page};
use crate::error::ApiError;
use crate::extract::{Mine, Owned};
use crate::views::{JobView, bad_query};

const PAGE: u32 = 50;
/// Counting stops here: "10,000+" costs the same on a table of millions.
const COUNT_CAP: i64 = 10_000;
/// Most jobs one bulk action touches.
pub const BULK_MAX: u32 = 1_000;

/// The list's filters, as the page's form sends them (empty fields are "any").
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ListForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    /// A key id (admins only; others always see their own).
    #[serde(default)]
    key: String,
    /// `1h`, `24h`, `7d`, `30d` or empty.
    #[serde(default)]
    range: String,
    #[serde(default)]
    batch: String,
    #[serde(default)]
    search: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    cursor: String,
}

fn filter_of(op: &Operator, form: &ListForm) -> Result<JobFilter, ApiError> {
    let kind = (!form.kind.is_empty())
        .then(|| {
            form.kind
                .parse::<JobKind>()
                .map_err(|e| bad_query("kind", e))
        })
        .transpose()?;
    let status = (!form.status.is_empty())
        .then(|| {
            form.status
                .parse::<JobStatus>()
                .map_err(|e| bad_query("status", e))
        })
        .transpose()?;
    let range_ms = match form.range.as_str() {
        "" => None,
        "1h" => Some(3_600_000),
        "24h" => Some(86_400_000),
        "7d" => Some(7 * 86_400_000),
        "30d" => Some(30 * 86_400_000),
        _ => return Err(bad_query("range", "`range` is 1h, 24h, 7d or 30d")),
    };
    let owner_id = match op.caller.owner_filter() {
        Some(own) => Some(own.to_owned()),
        None => (!form.key.is_empty()).then(|| form.key.clone()),
    };
    if form.search.chars().count() > 200 {
        return Err(bad_query("search", "`search` is at most 200 characters"));
    }
    Ok(JobFilter {
        owner_id,
        status,
        kind,
        since: range_ms.map(|ms| Timestamp::now().plus_millis(-ms)),
        until: None,
        batch_id: (!form.batch.is_empty()).then(|| form.batch.trim().to_owned()),
        search: (!form.search.trim().is_empty()).then(|| form.search.clone()),
        oldest_first: form.sort == "oldest",
    })
}

pub async fn list(
    op: Operator,
    State(state): State<crate::state::AppState>,
    Query(form): Query<ListForm>,
) -> Result<Response, DashError> {
    let filter = filter_of(&op, &form)?;
    let live = match &filter.batch_id {
        Some(b) => {
            live_after(
                &state,
                &format!("/dashboard/events?batch={}", urlencoding(b)),
            )
            .await?
        }
        None => live_after(&state, "/dashboard/events").await?,
    };
    let cursor = (!form.cursor.is_empty())
        .then(|| ListCursor::decode(&form.cursor).ok_or_else(|| bad_query("cursor", "bad cursor")))
        .transpose()?;
    let (mut rows, count) = tokio::try_join!(
        state.db.list_jobs(&filter, cursor.as_ref(), PAGE + 1),
        state.db.count_jobs_capped(&filter, COUNT_CAP),
    )?;
    let next = (rows.len() > PAGE as usize).then(|| {
        rows.truncate(PAGE as usize);
        let last = rows.last().expect("a full page");
        ListCursor {
            created_at: last.created_at.millis(),
            id: last.id.to_string(),
        }
        .encode()
    });
    let jobs: Vec<JobView> = rows
        .iter()
        .map(|j| JobView::from_row(j, &state.base_url))
        .collect();
    let next_url = next.map(|c| {
        let mut query: Vec<(&str, &str)> = vec![
            ("kind", &form.kind),
            ("status", &form.status),
            ("key", &form.key),
            ("range", &form.range),
            ("batch", &form.batch),
            ("search", &form.search),
            ("sort", &form.sort),
        ];
        query.retain(|(_, v)| !v.is_empty());
        query.push(("cursor", &c));
        format!(
            "/dashboard/jobs?{}",
            serde_urlencoded::to_string(&query).expect("a query encodes")
        )
    });
    Ok(page(
        "jobs.html",
        Some(&op),
        "jobs",
        context! {
            jobs, form, next_url, live,
            count => if count > COUNT_CAP { format!("{COUNT_CAP}+") } else { count.to_string() },
            kinds => JobKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            statuses => JobStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        },
    ))
}

fn urlencoding(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).expect("encodes")[1..].to_owned()
}

/// A payload as the page shows it: images and long encoded data as their size, secrets
/// hidden, never their contents.
fn redacted(value: &serde_json::Value, name: &str) -> serde_json::Value {
    use serde_json::Value as J;
    let secret = ["secret", "password", "token", "authorization"]
        .iter()
        .any(|s| name.to_ascii_lowercase().contains(s));
    match value {
        J::String(_) if secret => J::String("(hidden)".into()),
        J::String(s)
            if s.len() > 200
                && s.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
                }) =>
        {
            J::String(format!("({} bytes of encoded data)", s.len() * 3 / 4))
        }
        J::Object(map) => J::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redacted(v, k)))
                .collect(),
        ),
        J::Array(items) => J::Array(items.iter().map(|v| redacted(v, name)).collect()),
        other => other.clone(),
    }
}

/// One row the caller may see, or the API's 404.
async fn find(state: &crate::state::AppState, op: &Operator, id: &str) -> Result<JobRow, ApiError> {
    JobRow::find(state, &op.caller, id).await
}

pub async fn show(
    op: Operator,
    State(state): State<crate::state::AppState>,
    Path(id): Path<String>,
) -> Result<Response, DashError> {
    let id = crate::views::parse_id(&id)?;
    let live = live_after(&state, &format!("/dashboard/events?job={id}")).await?;
    let job = find(&state, &op, &id.to_string()).await?;
    let history = state.db.job_history(job.id).await?;
    let emails: Vec<_> = state
        .db
        .notification_emails(&job.owner_id, job.id)
        .await?
        .into_iter()
        .map(|(id, status)| context! { id, status })
        .collect();
    // An attempt's end shows how long it ran: from its `running` entry.
    let mut started: std::collections::HashMap<i64, i64> = Default::default();
    let history: Vec<_> = history
        .iter()
        .map(|e| {
            let duration_ms = if e.status == "running" {
                started.insert(e.attempt, e.at.millis());
                None
            } else {
                started.get(&e.attempt).map(|s| e.at.millis() - s)
            };
            context! {
                status => e.status, attempt => e.attempt, at => e.at.to_rfc3339(),
                worker => e.worker, error_code => e.error_code, error_message => e.error_message,
                duration_ms,
            }
        })
        .collect();
    let payload =
        serde_json::to_string_pretty(&redacted(&job.payload, "")).expect("a payload serializes");
    let trace_id = job
        .trace_parent
        .as_deref()
        .and_then(|t| t.split('-').nth(1))
        .map(str::to_owned);
    let view = JobView::from_row(&job, &state.base_url);
    let has_file = job.status == JobStatus::Succeeded
        && job.result.as_ref().is_some_and(|r| r.get("file").is_some());
    Ok(page(
        "job.html",
        Some(&op),
        "jobs",
        context! {
            job => view, payload, history, trace_id, has_file, live, emails,
            batch_id => job.batch_id,
            owner_id => job.owner_id,
            retryable => matches!(job.status, JobStatus::Dead | JobStatus::Failed),
            cancellable => !job.status.is_terminal(),
            deletable => job.status.is_terminal(),
        },
    ))
}

/// The job's PDF, shown inline (the page previews it in a frame).
pub async fn file(
    op: Operator,
    State(state): State<crate::state::AppState>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, DashError> {
    let job = find(&state, &op, &id).await?;
    let mine = Mine {
        state,
        caller: op.caller,
        row: job,
    };
    let mut response = crate::routes::jobs::file(mine, method, headers).await?;
    if let Some(disposition) = response.headers().get(header::CONTENT_DISPOSITION).cloned() {
        let inline =
            disposition
                .to_str()
                .unwrap_or("attachment")
                .replacen("attachment", "inline", 1);
        if let Ok(v) = HeaderValue::from_str(&inline) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

/// What an action did, for the page it returns to.
enum Done {
    Retried,
    Cancelled,
    Deleted,
}

/// Retry, cancel or delete one job.
async fn act_on(
    state: &crate::state::AppState,
    op: &Operator,
    job: JobRow,
    action: &str,
) -> Result<Done, ApiError> {
    let mine = Mine {
        state: state.clone(),
        caller: op.caller.clone(),
        row: job,
    };
    match action {
        "retry" => crate::routes::jobs::retry(mine)
            .await
            .map(|_| Done::Retried),
        "cancel" => {
            let keyed = crate::extract::Keyed {
                state: mine.state,
                caller: mine.caller,
            };
            crate::routes::jobs::cancel(keyed, crate::extract::ApiPath(mine.row.id.to_string()))
                .await
                .map(|_| Done::Cancelled)
        }
        "delete" => {
            let job = mine.row;
            if !job.status.is_terminal() {
                return Err(ApiError::Conflict {
                    code: "not_finished",
                    message: format!("the job is {}; cancel it before deleting it", job.status),
                });
            }
            // Recorded (who, what); a certificate stays verifiable.
            let (_, purge) = state
                .db
                .delete_jobs_by(
                    &op.caller.key_id,
                    &[job.id],
                    job.status,
                    state.config.purging(),
                )
                .await?;
            state.finished.changed(&[job.id]);
            state.queue.push_inserted(purge.as_ref()).await;
            tracing::info!(job_id = %job.id, by = %op.caller.key_id, "job deleted from the dashboard");
            Ok(Done::Deleted)
        }
        _ => Err(ApiError::NotFound("action")),
    }
}

pub async fn act(
    State(state): State<crate::state::AppState>,
    Path((id, action_name)): Path<(String, String)>,
    action: Action,
) -> Result<Response, DashError> {
    let op = &action.operator;
    let job = find(&state, op, &id).await?;
    let id = job.id;
    Ok(match act_on(&state, op, job, &action_name).await? {
        Done::Deleted => back("/dashboard/jobs"),
        Done::Retried | Done::Cancelled => back(&format!("/dashboard/jobs/{id}")),
    })
}

#[derive(Debug, Serialize)]
struct GroupView {
    kind: String,
    status: String,
    error_code: String,
    error_message: String,
    jobs: i64,
    last_at: String,
    /// The group's identity, sent back by its "all matching" buttons.
    token: String,
}

fn group_token(g: &FailureGroup) -> String {
    serde_json::to_string(&(&g.kind, &g.status, &g.error_code, &g.error_message))
        .expect("strings serialize")
}

pub async fn failures(
    op: Operator,
    State(state): State<crate::state::AppState>,
) -> Result<Response, DashError> {
    let owner = op.caller.owner_filter().map(str::to_owned);
    let groups = state.db.failure_groups(owner.as_deref(), 50).await?;
    let recent = state.db.recent_failures(owner.as_deref(), 200).await?;
    let groups: Vec<GroupView> = groups
        .iter()
        .map(|g| GroupView {
            kind: g.kind.clone(),
            status: g.status.clone(),
            error_code: g.error_code.clone(),
            error_message: g.error_message.clone(),
            jobs: g.jobs,
            last_at: g.last_at.to_rfc3339(),
            token: group_token(g),
        })
        .collect();
    let jobs: Vec<JobView> = recent
        .iter()
        .map(|j| JobView::from_row(j, &state.base_url))
        .collect();
    Ok(page(
        "failures.html",
        Some(&op),
        "failures",
        context! { groups, jobs, bulk_max => bulk_most(&state, &op) },
    ))
}

/// Most jobs one bulk action of `op` touches: [`BULK_MAX`], or fewer when the key's rate
/// limit allows fewer requests per window.
fn bulk_most(state: &crate::state::AppState, op: &Operator) -> u32 {
    crate::rate_limit::key_quota(state, &op.caller).map_or(BULK_MAX, |q| q.min(BULK_MAX))
}

/// Bulk retry or discard: of the jobs ticked (`id`), or of every job of one failure group
/// (`group`, after a confirmation page that says how many). Each job counts as one request
/// of the key's rate limit, so one action touches at most [`BULK_MAX`] jobs and at most the
/// key's quota per window (a group beyond it is done in several rounds).
pub async fn bulk(
    State(state): State<crate::state::AppState>,
    action: Action,
) -> Result<Response, DashError> {
    let op = &action.operator;
    let verb = action.get("do").unwrap_or_default().to_owned();
    if !matches!(verb.as_str(), "retry" | "discard") {
        return Err(DashError::Api(bad_query("do", "`do` is retry or discard")));
    }
    let owner = op.caller.owner_filter().map(str::to_owned);
    let most = bulk_most(&state, op);
    let ids: Vec<String> = match action.get("group") {
        Some(token) => {
            let (kind, status, error_code, error_message): (String, String, String, String) =
                serde_json::from_str(token).map_err(|_| bad_query("group", "bad group"))?;
            let group = FailureGroup {
                kind,
                status,
                error_code,
                error_message,
                jobs: 0,
                last_at: Timestamp::from_millis(0),
            };
            let ids = state
                .db
                .failure_group_ids(owner.as_deref(), &group, most)
                .await?;
            if action.get("confirmed") != Some("yes") {
                return Ok(page(
                    "confirm.html",
                    Some(op),
                    "failures",
                    context! { verb, count => ids.len(), token, group => context! {
                        kind => group.kind, status => group.status,
                        error_code => group.error_code, error_message => group.error_message,
                    } },
                ));
            }
            ids
        }
        None => action.all("id").iter().map(|s| (*s).to_owned()).collect(),
    };
    if ids.len() > BULK_MAX as usize {
        return Err(DashError::Api(bad_query(
            "id",
            format!("at most {BULK_MAX} jobs at once"),
        )));
    }
    if ids.len() > most as usize {
        return Err(DashError::Api(ApiError::TooMany {
            code: "rate_limited",
            message: format!(
                "{} jobs selected; this key's rate limit lets one action touch at most {most}: select fewer",
                ids.len()
            ),
            retry_after_secs: state.config.rate_limit.window_secs,
        }));
    }
    // The request itself was one; each further job is another.
    let jobs = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    if jobs > 1 {
        crate::rate_limit::charge_key(&state, &op.caller, jobs - 1).await?;
    }
    let mut done = 0usize;
    let mut discard = Vec::new();
    for id in &ids {
        // Each job as its own action: one the caller may not see is skipped, not an error
        // for the rest; one that changed meanwhile (retried elsewhere) likewise.
        let Ok(job) = find(&state, op, id).await else {
            continue;
        };
        match verb.as_str() {
            "retry" => {
                if act_on(&state, op, job, "retry").await.is_ok() {
                    done += 1;
                }
            }
            // Discarding a dead job deletes it; one still to be retried is cancelled.
            _ if job.status == JobStatus::Dead => discard.push(job.id),
            _ => {
                if act_on(&state, op, job, "cancel").await.is_ok() {
                    done += 1;
                }
            }
        }
    }
    if !discard.is_empty() {
        let (deleted, purge) = state
            .db
            .delete_jobs_by(
                &op.caller.key_id,
                &discard,
                JobStatus::Dead,
                state.config.purging(),
            )
            .await?;
        state.finished.changed(&discard);
        state.queue.push_inserted(purge.as_ref()).await;
        tracing::info!(jobs = deleted.len(), by = %op.caller.key_id, "dead jobs discarded from the dashboard");
        done += deleted.len();
    }
    Ok(back(&format!("/dashboard/failures?done={done}&did={verb}")))
}
