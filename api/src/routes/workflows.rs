//! `/v1/workflows`: a DAG of steps submitted at once (`workflow_order` checks it whole),
//! written in one transaction with every step an ordinary job, its roots pushed; the graph
//! with each step's state and output; the caller's workflows; cancel. A step becomes ready in
//! the database, in the transaction that ends its last parent (migration 0018's triggers).

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::db::{ListCursor, NewWorkflow, StepJob, WorkflowFilter, WorkflowInsert, WorkflowRow};
use shared::domain::{JobId, JobStatus, QueueName, Timestamp};
use shared::job_view::JobView;
use utoipa::{IntoParams, ToSchema};

use crate::email_limits::quota_exceeded;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiBody, ApiQuery, Caller, Keyed, Mine, Owned};
use crate::paging::{Listing, PageQuery};
use crate::state::AppState;
use crate::submit::{Idempotency, push_or_withdraw, store_inputs};
use crate::views::bad_query;
use crate::waiting::{Awaited, WaitQuery, until_final};
use crate::workflow_order::{self, WorkflowRequest};

/// A workflow: its steps with their state, and its progress.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowView {
    pub id: String,
    pub name: Option<String>,
    /// `running`, `completed` (every step ended and none failed that a child did not
    /// tolerate), `failed` (at once when one did; retrying that step runs it again) or
    /// `cancelled`.
    #[schema(schema_with = crate::schemas::workflow_status)]
    pub status: String,
    /// Jobs in the workflow (a batch step is one per row).
    pub total: i64,
    /// Jobs that ended (succeeded, dead or cancelled).
    pub finished: i64,
    /// finished / total, 0 to 1.
    pub progress: f64,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The named steps in the order submitted; absent in listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
    /// "`to` runs after `from`", by step name; absent in listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edges: Option<Vec<EdgeView>>,
    pub links: WorkflowLinks,
}

/// One named step.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepView {
    pub name: String,
    /// `certificate`, `report`, `email`, `batch`, `merge` or `archive`.
    pub kind: String,
    pub after: Vec<String>,
    /// `cancel` or `continue`.
    pub on_parent_failure: String,
    /// Its job's status; for a batch step: `waiting`, `queued` or `running` while any row is,
    /// then `succeeded` when every row did, else `dead` or `cancelled`.
    #[schema(schema_with = crate::schemas::job_status)]
    pub status: String,
    /// Its jobs (a batch step: one per row).
    pub jobs: i64,
    /// Its jobs per status.
    #[schema(value_type = Object)]
    pub counts: BTreeMap<String, i64>,
    /// The step's job, when it is one job (not a batch): its state, error and output.
    pub job: Option<JobView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EdgeView {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub cancel: String,
}

/// A page of workflows, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowPage {
    pub workflows: Vec<WorkflowView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `GET /v1/workflows` filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkflowQuery {
    /// `running`, `completed`, `failed` or `cancelled`.
    #[param(schema_with = crate::schemas::workflow_status)]
    pub status: Option<String>,
    /// Created at or after this RFC 3339 instant.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Created before this RFC 3339 instant.
    #[param(format = DateTime)]
    pub until: Option<String>,
}

impl Owned for WorkflowRow {
    async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<WorkflowRow, ApiError> {
        id.parse::<JobId>()
            .map_err(|_| ApiError::NotFound("workflow"))?;
        state
            .db
            .get_workflow(id, caller.owner_filter())
            .await?
            .ok_or(ApiError::NotFound("workflow"))
    }
}

/// Submit a workflow: steps that run after the steps they name, every one an ordinary job.
#[utoipa::path(post, path = "/v1/workflows", operation_id = "submit_workflow", tag = "workflows",
    request_body = WorkflowRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body within the window: the original workflow (200); another body: 409; 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")),
    responses((status = 202, description = "Accepted: its first steps are queued", body = WorkflowView),
        (status = 200, description = "Same Idempotency-Key and body as before: the original workflow", body = WorkflowView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "A `priority` above the default, or free-text email, with a key that is not an admin's", body = ErrorBody),
        (status = 409, description = "Idempotency-Key used with another body", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Invalid steps, each with its path: `cycle`, `unknown_step`, `output_not_available`, `too_many_steps`, `too_deep`, `too_many_parts`, or a step's own fields", body = ErrorBody),
        (status = 429, description = "The key's waiting jobs or email quota would be exceeded", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn submit(
    Keyed { state, caller }: Keyed,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    // Hashing and parsing up to `limits.max_body_bytes` of JSON is CPU work: in the check
    // pool, as a batch's.
    let (idempotency, req) = state
        .checks
        .run(&caller.key_id, move || {
            let idempotency = Idempotency::of_parts(&headers, &[&body[..]])?;
            let req: WorkflowRequest = crate::extract::parse_json(&body)?;
            Ok::<_, ApiError>((idempotency, req))
        })
        .await??;
    let order = workflow_order::check(&state, &caller, req).await?;
    crate::quotas::admit(&state, &caller, order.steps.len() as u64).await?;
    let workflow = NewWorkflow {
        id: JobId::new().to_string(),
        owner_id: caller.key_id.clone(),
        name: order.name.clone(),
        graph: order.graph.clone(),
        callback_url: None,
        idempotency: idempotency.map(|i| {
            (
                i.key,
                i.request_hash,
                std::time::Duration::from_secs(state.config.idempotency_window_secs),
            )
        }),
    };
    let with_inputs: Vec<JobId> = order.inputs.iter().map(|(id, _)| *id).collect();
    let remove_inputs = || async {
        for id in &with_inputs {
            let _ = state.storage.remove_inputs(*id).await;
        }
    };
    for (id, files) in order.inputs {
        if let Err(e) = store_inputs(&state, id, files).await {
            remove_inputs().await;
            return Err(e);
        }
    }
    let inserted = state
        .db
        .insert_workflow(&workflow, &order.steps, order.charge.as_ref())
        .await;
    let roots = match inserted {
        Ok(WorkflowInsert::Inserted(roots)) => roots,
        Ok(WorkflowInsert::Existing(earlier)) => {
            remove_inputs().await;
            return Ok((StatusCode::OK, Json(view(&state, &earlier, true).await?)).into_response());
        }
        Ok(WorkflowInsert::KeyConflict) => {
            remove_inputs().await;
            return Err(ApiError::Conflict {
                code: "idempotency_conflict",
                message: "this Idempotency-Key was used with a different request body".into(),
            });
        }
        Ok(WorkflowInsert::OverQuota(over)) => {
            remove_inputs().await;
            return Err(quota_exceeded(&over));
        }
        Err(e) => {
            remove_inputs().await;
            return Err(e.into());
        }
    };
    for queue in QueueName::ALL {
        let ids: Vec<JobId> = roots
            .iter()
            .filter(|r| r.queue == queue)
            .map(|r| r.id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let id = workflow.id.clone();
        push_or_withdraw(&state, queue, &ids, || async {
            state.db.delete_unacknowledged_workflow(&id).await?;
            remove_inputs().await;
            Ok(())
        })
        .await?;
    }
    tracing::info!(workflow_id = %workflow.id, jobs = order.steps.len(), "workflow accepted");
    let row = state
        .db
        .get_workflow(&workflow.id, None)
        .await?
        .ok_or(ApiError::NotFound("workflow"))?;
    let view = view(&state, &row, true).await?;
    let location = view.links.self_.clone();
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// A workflow's steps, edges, each step's state and output; with `?wait=N`, as soon as it is
/// no longer `running` (or after N seconds).
#[utoipa::path(get, path = "/v1/workflows/{id}", operation_id = "get_workflow", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id"), WaitQuery),
    responses((status = 200, body = WorkflowView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, description = "Too many long-polls for this key (`too_many_long_polls`)", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn get(
    Mine {
        state,
        caller,
        row: workflow,
    }: Mine<WorkflowRow>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> Result<Json<WorkflowView>, ApiError> {
    let wait = q.duration(&state)?;
    if wait.is_zero() {
        return Ok(Json(view(&state, &workflow, true).await?));
    }
    let awaited = Awaited::Batch(workflow.id.clone());
    let read = || {
        let (state, id) = (state.clone(), workflow.id.clone());
        async move {
            let row = state
                .db
                .get_workflow(&id, None)
                .await?
                .ok_or(ApiError::NotFound("workflow"))?;
            let done = row.status.is_final();
            Ok((view(&state, &row, done).await?, done))
        }
    };
    let mut answer = until_final(&state, &caller.key_id, wait, awaited, read).await?;
    if answer.steps.is_none() {
        // Still running at the deadline: the steps are read once, for the answer.
        let row = state
            .db
            .get_workflow(&workflow.id, None)
            .await?
            .ok_or(ApiError::NotFound("workflow"))?;
        answer = view(&state, &row, true).await?;
    }
    Ok(Json(answer))
}

/// The caller's workflows (every key's for an admin), newest first.
#[utoipa::path(get, path = "/v1/workflows", operation_id = "list_workflows", tag = "workflows",
    params(WorkflowQuery, PageQuery),
    responses((status = 200, body = WorkflowPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list(
    Listing {
        state,
        caller,
        filter: q,
        page,
    }: Listing<WorkflowQuery>,
) -> Result<Json<WorkflowPage>, ApiError> {
    let page = page.checked(ListCursor::decode)?;
    let instant = |field: &str, raw: &Option<String>| {
        raw.as_deref()
            .map(|s| {
                Timestamp::parse_rfc3339(s).ok_or_else(|| {
                    bad_query(field, format!("`{field}` must be an RFC 3339 instant"))
                })
            })
            .transpose()
    };
    let filter = WorkflowFilter {
        owner_id: caller.owner_filter().map(str::to_owned),
        status: q
            .status
            .as_deref()
            .map(|s| s.parse().map_err(|e: String| bad_query("status", e)))
            .transpose()?,
        since: instant("since", &q.since)?,
        until: instant("until", &q.until)?,
    };
    let mut rows = state
        .db
        .list_workflows(&filter, page.after.as_ref(), page.fetch())
        .await?;
    let next_cursor = page.next_cursor(&mut rows, |last| {
        ListCursor {
            created_at: last.created_at.millis(),
            id: last.id.clone(),
        }
        .encode()
    });
    let mut workflows = Vec::with_capacity(rows.len());
    for row in &rows {
        workflows.push(view(&state, row, false).await?);
    }
    Ok(Json(WorkflowPage {
        workflows,
        next_cursor,
    }))
}

/// Cancel a workflow: its unfinished steps are cancelled (running ones at their next safe
/// point); steps that ended stay as they are.
#[utoipa::path(post, path = "/v1/workflows/{id}/cancel", operation_id = "cancel_workflow", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id")),
    responses((status = 200, description = "Cancelled", body = WorkflowView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Already completed or cancelled (`not_cancellable`)", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn cancel(
    Mine {
        state,
        caller,
        row: workflow,
    }: Mine<WorkflowRow>,
) -> Result<Json<WorkflowView>, ApiError> {
    let Some((row, cancelled, running)) = state
        .db
        .cancel_workflow(&workflow.id, caller.owner_filter())
        .await?
    else {
        return Err(ApiError::NotFound("workflow"));
    };
    if !cancelled {
        return Err(ApiError::Conflict {
            code: "not_cancellable",
            message: format!("the workflow is already {}", row.status.as_str()),
        });
    }
    for id in running {
        if let Err(e) = state.queue.publish_cancel(id).await {
            // The request is in the row: the worker's next heartbeat finds it.
            tracing::warn!(job_id = %id, error = %e, "cancel signal not sent; the heartbeat will see the request");
        }
    }
    Ok(Json(view(&state, &row, true).await?))
}

/// The answer for `row`; with `steps`, each named step's state read from its jobs.
async fn view(state: &AppState, row: &WorkflowRow, steps: bool) -> Result<WorkflowView, ApiError> {
    let finished = row.steps_total - row.steps_left;
    let mut out = WorkflowView {
        id: row.id.clone(),
        name: row.name.clone(),
        status: row.status.as_str().to_owned(),
        total: row.steps_total,
        finished,
        progress: if row.steps_total > 0 {
            finished as f64 / row.steps_total as f64
        } else {
            1.0
        },
        created_at: row.created_at.to_rfc3339(),
        finished_at: row.finished_at.map(|t| t.to_rfc3339()),
        steps: None,
        edges: None,
        links: WorkflowLinks {
            self_: shared::urls::workflow(&state.base_url, &row.id),
            cancel: format!(
                "{}/cancel",
                shared::urls::workflow(&state.base_url, &row.id)
            ),
        },
    };
    if steps {
        let jobs = state.db.workflow_jobs(&row.id).await?;
        let (steps, edges) = steps_of(state, &row.graph, &jobs);
        out.steps = Some(steps);
        out.edges = Some(edges);
    }
    Ok(out)
}

/// The graph as submitted, each step with its jobs' states.
fn steps_of(
    state: &AppState,
    graph: &serde_json::Value,
    jobs: &[StepJob],
) -> (Vec<StepView>, Vec<EdgeView>) {
    let mut by_step: BTreeMap<&str, Vec<&StepJob>> = BTreeMap::new();
    for job in jobs {
        by_step.entry(job.name.as_str()).or_default().push(job);
    }
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let mut steps = Vec::new();
    let mut edges = Vec::new();
    let declared = graph
        .get("steps")
        .and_then(|s| s.as_array())
        .cloned()
        .unwrap_or_default();
    for step in &declared {
        let name = text(step, "name");
        let after: Vec<String> = step
            .get("after")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for parent in &after {
            edges.push(EdgeView {
                from: parent.clone(),
                to: name.clone(),
            });
        }
        let mine = by_step.get(name.as_str()).cloned().unwrap_or_default();
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for job in &mine {
            *counts
                .entry(job.job.status.as_str().to_owned())
                .or_default() += 1;
        }
        let kind = text(step, "kind");
        let job = (kind != "batch")
            .then(|| mine.first())
            .flatten()
            .map(|j| JobView::from_row(&j.job, &state.base_url));
        steps.push(StepView {
            status: step_status(&mine).as_str().to_owned(),
            name,
            kind,
            after,
            on_parent_failure: text(step, "on_parent_failure"),
            jobs: mine.len() as i64,
            counts,
            job,
        });
    }
    (steps, edges)
}

/// One status for a step's jobs (see [`StepView::status`]).
fn step_status(jobs: &[&StepJob]) -> JobStatus {
    let any = |s: JobStatus| jobs.iter().any(|j| j.job.status == s);
    if any(JobStatus::Running) {
        JobStatus::Running
    } else if any(JobStatus::Queued) || any(JobStatus::Failed) {
        JobStatus::Queued
    } else if any(JobStatus::Waiting) || any(JobStatus::Scheduled) {
        JobStatus::Waiting
    } else if any(JobStatus::Dead) {
        JobStatus::Dead
    } else if any(JobStatus::Cancelled) {
        JobStatus::Cancelled
    } else {
        JobStatus::Succeeded
    }
}
