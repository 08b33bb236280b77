//! Workflows: a DAG of steps submitted at once, each step an ordinary job row (`workflow_id`
//! set) that starts `waiting` unless it has no parents. What makes a step ready is not here:
//! the `jobs_workflow_step` triggers (migration 0018) do it in the transaction that ends the
//! step's last parent, whichever statement ends it (a completion, a failure, the rescuer, a
//! cancel), and keep the workflow's status. Here: the insert (one transaction), the reads,
//! the cancel, and the two questions a worker asks (which children are ready now, what are
//! my parents' outputs).

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::certificates::{NewCertificate, insert_certificates};
use super::email::{EmailCharge, OverQuota, charge_in};
use super::idempotency::{KeyHolder, holder_of, release_expired};
use super::jobs::{COLUMNS, JobRow, NewJob, WaitingJob, fair_base};
use super::pool::{DatabaseBackend, Db, DbError, values};
use crate::domain::{JobId, JobKind, JobStatus, Priority, QueueName, Timestamp};

/// A workflow's status: `running` until every step ended; `completed` when they all did and
/// none failed that a child did not tolerate; `failed` at once when one did (a retry of it
/// makes it `running` again); `cancelled` on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkflowStatus {
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl WorkflowStatus {
    pub const ALL: [WorkflowStatus; 4] = [
        WorkflowStatus::Running,
        WorkflowStatus::Completed,
        WorkflowStatus::Failed,
        WorkflowStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Running => "running",
            WorkflowStatus::Completed => "completed",
            WorkflowStatus::Failed => "failed",
            WorkflowStatus::Cancelled => "cancelled",
        }
    }

    /// No step will change it any more (a manual retry of a failed step still can).
    pub fn is_final(self) -> bool {
        self != WorkflowStatus::Running
    }
}

impl std::str::FromStr for WorkflowStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WorkflowStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown workflow status `{s}`"))
    }
}

/// What a parent that ended `dead` or `cancelled` does to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentFailure {
    /// The step is `cancelled` (`parent_failed`) and the workflow fails.
    #[default]
    Cancel,
    /// The step runs once every parent ended, with the outputs that exist.
    Continue,
}

impl ParentFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            ParentFailure::Cancel => "cancel",
            ParentFailure::Continue => "continue",
        }
    }
}

/// A `workflows` row.
#[derive(Debug, Clone)]
pub struct WorkflowRow {
    pub id: String,
    pub owner_id: String,
    pub name: Option<String>,
    pub status: WorkflowStatus,
    /// Jobs in the workflow (a batch step is one per row).
    pub steps_total: i64,
    /// Jobs not ended yet.
    pub steps_left: i64,
    /// The named steps as submitted (see [`NewWorkflow::graph`]).
    pub graph: serde_json::Value,
    pub callback_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

const WORKFLOW_COLUMNS: &str = "id, owner_id, name, status, steps_total, steps_left, graph, \
     callback_url, created_at, updated_at, finished_at";

fn workflow_row(row: &AnyRow) -> Result<WorkflowRow, DbError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| DbError::Corrupt(format!("{what}: {e}"));
    let status: String = row.try_get("status")?;
    let graph: String = row.try_get("graph")?;
    let finished: Option<i64> = row.try_get("finished_at")?;
    Ok(WorkflowRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        status: status.parse().map_err(|e: String| corrupt("status", &e))?,
        steps_total: row.try_get("steps_total")?,
        steps_left: row.try_get("steps_left")?,
        graph: serde_json::from_str(&graph).map_err(|e| corrupt("graph", &e))?,
        callback_url: row.try_get("callback_url")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        finished_at: finished.map(Timestamp::from_millis),
    })
}

/// A workflow to insert.
#[derive(Debug, Clone)]
pub struct NewWorkflow {
    pub id: String,
    pub owner_id: String,
    pub name: Option<String>,
    /// The named steps as submitted, for the answer to draw (no job rows are read for it).
    pub graph: serde_json::Value,
    pub callback_url: Option<String>,
    /// The request's `Idempotency-Key` and the hash of its body, with the key's window.
    pub idempotency: Option<(String, String, std::time::Duration)>,
}

/// One job of a workflow: its row (kind, payload, priority), its registry row for a
/// certificate, and where it sits in the graph.
#[derive(Debug, Clone)]
pub struct NewStep {
    pub job: NewJob,
    pub certificate: Option<NewCertificate>,
    /// The named step it belongs to (a batch step's rows all carry its name).
    pub name: String,
    /// The parents' job ids, in the order the step sees their outputs (a merge's order).
    pub parents: Vec<JobId>,
    pub on_parent_failure: ParentFailure,
    /// Its own failure fails no workflow: it has children and all of them continue.
    pub tolerated: bool,
}

/// What inserting a workflow did.
#[derive(Debug)]
pub enum WorkflowInsert {
    /// Written: the jobs that have no parents, to push now.
    Inserted(Vec<WaitingJob>),
    /// The same `Idempotency-Key` and request as an earlier workflow: that one.
    Existing(Box<WorkflowRow>),
    /// The same key with another request.
    KeyConflict,
    /// Its emails do not fit the key's email quota: nothing was written.
    OverQuota(OverQuota),
}

/// One job of a workflow as its answer shows it.
#[derive(Debug, Clone)]
pub struct StepJob {
    pub name: String,
    pub position: i64,
    pub parents_left: i64,
    pub job: JobRow,
}

/// A parent's end, as its child (a merge, an archive, an email) sees it.
#[derive(Debug, Clone)]
pub struct ParentOutput {
    pub job_id: JobId,
    pub step: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub result: Option<serde_json::Value>,
    /// Its payload (a certificate's recipient names its part of a merge).
    pub payload: Option<serde_json::Value>,
}

/// A page of workflows, filtered.
#[derive(Debug, Default, Clone)]
pub struct WorkflowFilter {
    /// `None` lists every owner's (admin).
    pub owner_id: Option<String>,
    pub status: Option<WorkflowStatus>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
}

/// Rows per multi-row statement: as batches have it (PostgreSQL few large statements, SQLite
/// small ones); a job row binds 12 parameters.
fn chunk_rows(backend: DatabaseBackend) -> usize {
    match backend {
        DatabaseBackend::Postgres => 4000,
        DatabaseBackend::Sqlite => 40,
    }
}

impl Db {
    /// Inserts a workflow whole, in one transaction: its row, every step's job (roots
    /// `queued`, the others `waiting`), certificates' registry rows, steps and edges. `steps`
    /// are in submission order; a parent comes before its children. `charge` (every email
    /// step's recipients) is charged to the key's quotas in the same transaction. An `Idempotency-Key`
    /// seen before answers the earlier workflow (or a conflict) and writes nothing.
    pub async fn insert_workflow(
        &self,
        workflow: &NewWorkflow,
        steps: &[NewStep],
        charge: Option<&EmailCharge>,
    ) -> Result<WorkflowInsert, DbError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool().begin().await?;
        if let Some((key, hash, window)) = &workflow.idempotency {
            release_expired(
                &mut *tx,
                KeyHolder::Workflows,
                &workflow.owner_id,
                key,
                *window,
            )
            .await?;
            if let Some((id, earlier)) =
                holder_of(&mut *tx, KeyHolder::Workflows, &workflow.owner_id, key).await?
            {
                tx.rollback().await?;
                if &earlier != hash {
                    return Ok(WorkflowInsert::KeyConflict);
                }
                let row = self
                    .get_workflow(&id, Some(&workflow.owner_id))
                    .await?
                    .ok_or_else(|| {
                        DbError::Unavailable("a concurrent request holds this key".into())
                    })?;
                return Ok(WorkflowInsert::Existing(Box::new(row)));
            }
        }
        sqlx::query(
            "INSERT INTO workflows (id, owner_id, name, status, steps_total, steps_left, graph, \
             idempotency_key, request_hash, callback_url, created_at, updated_at) \
             VALUES ($1, $2, $3, 'running', $4, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(workflow.id.clone())
        .bind(workflow.owner_id.clone())
        .bind(workflow.name.clone())
        .bind(steps.len() as i64)
        .bind(workflow.graph.to_string())
        .bind(workflow.idempotency.as_ref().map(|i| i.0.clone()))
        .bind(workflow.idempotency.as_ref().map(|i| i.1.clone()))
        .bind(workflow.callback_url.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;

        let rows = chunk_rows(self.backend());
        // Each (queue, priority) numbers its jobs from its own base, as a batch does.
        let mut vtimes: HashMap<(QueueName, Priority), i64> = HashMap::new();
        let mut roots = Vec::new();
        for chunk in steps.chunks(rows) {
            let sql = format!(
                "INSERT INTO jobs (id, kind, queue, owner_id, max_attempts, run_at, payload, \
                 trace_parent, priority, status, vtime, workflow_id, attempt, pushed_at, \
                 created_at, updated_at) VALUES {}",
                values(chunk.len(), 12, &format!(", 0, {now}, {now}, {now}"))
            );
            // One-off text (the time is in it): not a cached prepared statement.
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for step in chunk {
                let job = &step.job;
                let queue = job.kind.queue();
                let vtime = match vtimes.get(&(queue, job.priority)) {
                    Some(v) => *v,
                    None => fair_base(&mut tx, &job.owner_id, queue, job.priority, now).await?,
                } + job.fair_step();
                vtimes.insert((queue, job.priority), vtime);
                let status = if step.parents.is_empty() {
                    roots.push(WaitingJob {
                        id: job.id,
                        queue,
                        run_at: Timestamp::from_millis(now),
                    });
                    JobStatus::Queued
                } else {
                    JobStatus::Waiting
                };
                query = query
                    .bind(job.id.to_string())
                    .bind(job.kind.as_str())
                    .bind(queue.as_str())
                    .bind(job.owner_id.clone())
                    .bind(i64::from(job.max_attempts))
                    .bind(now)
                    .bind(job.payload.to_string())
                    .bind(job.trace_parent.clone())
                    .bind(job.priority.level())
                    .bind(status.as_str())
                    .bind(vtime)
                    .bind(workflow.id.clone());
            }
            query.execute(&mut *tx).await?;
            let certificates: Vec<_> = chunk
                .iter()
                .filter_map(|s| s.certificate.as_ref().map(|c| (&s.job, c)))
                .collect();
            insert_certificates(&mut tx, &certificates, rows).await?;
        }

        for (chunk_no, chunk) in steps.chunks(rows).enumerate() {
            let sql = format!(
                "INSERT INTO workflow_steps (job_id, workflow_id, name, position, parents_left, \
                 on_parent_failure, tolerated) VALUES {}",
                values(chunk.len(), 7, "")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for (i, step) in chunk.iter().enumerate() {
                query = query
                    .bind(step.job.id.to_string())
                    .bind(workflow.id.clone())
                    .bind(step.name.clone())
                    .bind((chunk_no * rows + i) as i64)
                    .bind(step.parents.len() as i64)
                    .bind(step.on_parent_failure.as_str())
                    .bind(i64::from(step.tolerated));
            }
            query.execute(&mut *tx).await?;
        }

        let edges: Vec<(JobId, JobId, i64)> = steps
            .iter()
            .flat_map(|s| {
                s.parents
                    .iter()
                    .enumerate()
                    .map(move |(i, p)| (*p, s.job.id, i as i64))
            })
            .collect();
        // Three parameters an edge: the same rows per statement stay under both limits.
        for chunk in edges.chunks(rows * 4) {
            let sql = format!(
                "INSERT INTO workflow_edges (parent_id, child_id, position) VALUES {}",
                values(chunk.len(), 3, "")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for (parent, child, position) in chunk {
                query = query
                    .bind(parent.to_string())
                    .bind(child.to_string())
                    .bind(*position);
            }
            query.execute(&mut *tx).await?;
        }
        if let Some(charge) = charge
            && let Err(over) = charge_in(&mut tx, self.backend(), charge).await?
        {
            return Ok(WorkflowInsert::OverQuota(over));
        }
        tx.commit().await?;
        Ok(WorkflowInsert::Inserted(roots))
    }

    /// Removes a workflow no one was told about (its first push failed).
    pub async fn delete_unacknowledged_workflow(&self, id: &str) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        for sql in [
            "DELETE FROM workflow_edges WHERE child_id IN \
             (SELECT job_id FROM workflow_steps WHERE workflow_id = $1)",
            "DELETE FROM certificates WHERE job_id IN \
             (SELECT job_id FROM workflow_steps WHERE workflow_id = $1)",
            "DELETE FROM workflow_steps WHERE workflow_id = $1",
            "DELETE FROM jobs WHERE workflow_id = $1",
            "DELETE FROM workflows WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One workflow, if it exists and (when `owner_id` is given) is that owner's.
    pub async fn get_workflow(
        &self,
        id: &str,
        owner_id: Option<&str>,
    ) -> Result<Option<WorkflowRow>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = $1 \
             AND ($2 IS NULL OR owner_id = $2)"
        )))
        .bind(id.to_owned())
        .bind(owner_id.map(str::to_owned))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(workflow_row).transpose()
    }

    /// Every job of a workflow with its step, in submission order (a batch's rows in row
    /// order).
    pub async fn workflow_jobs(&self, id: &str) -> Result<Vec<StepJob>, DbError> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("j.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT s.name AS step_name, s.position AS step_position, \
             s.parents_left AS step_parents_left, {columns} \
             FROM workflow_steps s JOIN jobs j ON j.id = s.job_id \
             WHERE s.workflow_id = $1 ORDER BY s.position"
        )))
        .bind(id.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StepJob {
                    name: r.try_get("step_name")?,
                    position: r.try_get("step_position")?,
                    parents_left: r.try_get("step_parents_left")?,
                    job: JobRow::from_row(r)?,
                })
            })
            .collect()
    }

    /// One page of workflows, newest first, after `cursor` (created_at, id).
    pub async fn list_workflows(
        &self,
        filter: &WorkflowFilter,
        cursor: Option<&super::ListCursor>,
        limit: u32,
    ) -> Result<Vec<WorkflowRow>, DbError> {
        let mut sql = format!("SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if filter.owner_id.is_some() {
            sql += &format!(" AND owner_id = {}", next());
        }
        if filter.status.is_some() {
            sql += &format!(" AND status = {}", next());
        }
        if filter.since.is_some() {
            sql += &format!(" AND created_at >= {}", next());
        }
        if filter.until.is_some() {
            sql += &format!(" AND created_at < {}", next());
        }
        if cursor.is_some() {
            let (a, b) = (next(), next());
            sql += &format!(" AND (created_at < {a} OR (created_at = {a} AND id < {b}))");
        }
        sql += &format!(" ORDER BY created_at DESC, id DESC LIMIT {}", next());
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        if let Some(owner) = &filter.owner_id {
            query = query.bind(owner.clone());
        }
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(since) = filter.since {
            query = query.bind(since.millis());
        }
        if let Some(until) = filter.until {
            query = query.bind(until.millis());
        }
        if let Some(c) = cursor {
            query = query.bind(c.created_at).bind(c.id.clone());
        }
        let rows = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        rows.iter().map(workflow_row).collect()
    }

    /// Cancels a workflow that is `running` or `failed`: the workflow first (so the steps'
    /// ends do not fail it), then every unfinished step in one statement: those no worker
    /// holds at once, running ones by request (the caller signals them). Returns the
    /// workflow as it is now, whether this call cancelled it, and the ids of the running
    /// steps asked to stop; `None` when it is not the owner's or does not exist.
    pub async fn cancel_workflow(
        &self,
        id: &str,
        owner_id: Option<&str>,
    ) -> Result<Option<(WorkflowRow, bool, Vec<JobId>)>, DbError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE workflows SET status = 'cancelled', finished_at = $3, updated_at = $3 \
             WHERE id = $1 AND ($2 IS NULL OR owner_id = $2) AND status IN ('running', 'failed')",
        )
        .bind(id.to_owned())
        .bind(owner_id.map(str::to_owned))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut running = Vec::new();
        let cancelled = updated.rows_affected() == 1;
        if cancelled {
            let rows = sqlx::query(
                "UPDATE jobs SET \
                   status = CASE WHEN status = 'running' THEN status ELSE 'cancelled' END, \
                   error_code = CASE WHEN status = 'running' THEN error_code ELSE 'cancelled' END, \
                   error_message = CASE WHEN status = 'running' THEN error_message \
                     ELSE 'the workflow was cancelled' END, \
                   finished_at = CASE WHEN status = 'running' THEN finished_at ELSE $2 END, \
                   cancel_requested_at = CASE WHEN status = 'running' \
                     THEN COALESCE(cancel_requested_at, $2) ELSE cancel_requested_at END, \
                   updated_at = $2 \
                 WHERE workflow_id = $1 \
                   AND status IN ('waiting', 'scheduled', 'queued', 'failed', 'running') \
                 RETURNING id, status",
            )
            .bind(id.to_owned())
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let status: String = row.try_get("status")?;
                if status == "running" {
                    let job: String = row.try_get("id")?;
                    running.push(
                        job.parse()
                            .map_err(|e| DbError::Corrupt(format!("id: {e}")))?,
                    );
                }
            }
        }
        tx.commit().await?;
        Ok(self
            .get_workflow(id, owner_id)
            .await?
            .map(|row| (row, cancelled, running)))
    }

    /// The children of `parent` that its end made ready (`queued`), to push now. The
    /// trigger queued them in the transaction that ended the parent; a push lost here is the
    /// rescuer's, as for any waiting job.
    pub async fn ready_children(&self, parent: JobId) -> Result<Vec<WaitingJob>, DbError> {
        let rows = sqlx::query(
            "SELECT j.id, j.queue, j.run_at FROM workflow_edges e JOIN jobs j ON j.id = e.child_id \
             WHERE e.parent_id = $1 AND j.status = 'queued'",
        )
        .bind(parent.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let queue: String = r.try_get("queue")?;
                Ok(WaitingJob {
                    id: id
                        .parse()
                        .map_err(|e| DbError::Corrupt(format!("id: {e}")))?,
                    queue: queue.parse().map_err(DbError::Corrupt)?,
                    run_at: Timestamp::from_millis(r.try_get("run_at")?),
                })
            })
            .collect()
    }

    /// The parents of `child`, in its order (a merge's), with how each ended: exactly the
    /// outputs the step may use.
    pub async fn parent_outputs(&self, child: JobId) -> Result<Vec<ParentOutput>, DbError> {
        let rows = sqlx::query(
            "SELECT j.id, j.kind, j.status, j.result, j.payload, s.name FROM workflow_edges e \
             JOIN jobs j ON j.id = e.parent_id JOIN workflow_steps s ON s.job_id = e.parent_id \
             WHERE e.child_id = $1 ORDER BY e.position",
        )
        .bind(child.to_string())
        .fetch_all(self.pool())
        .await?;
        let corrupt =
            |what: &str, e: &dyn std::fmt::Display| DbError::Corrupt(format!("{what}: {e}"));
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let kind: String = r.try_get("kind")?;
                let status: String = r.try_get("status")?;
                let result: Option<String> = r.try_get("result")?;
                let payload: String = r.try_get("payload")?;
                Ok(ParentOutput {
                    job_id: id.parse().map_err(|e| corrupt("id", &e))?,
                    step: r.try_get("name")?,
                    kind: kind.parse().map_err(|e: String| corrupt("kind", &e))?,
                    status: status.parse().map_err(|e: String| corrupt("status", &e))?,
                    result: result
                        .map(|t| serde_json::from_str(&t))
                        .transpose()
                        .map_err(|e| corrupt("result", &e))?,
                    payload: serde_json::from_str(&payload).ok(),
                })
            })
            .collect()
    }
}
