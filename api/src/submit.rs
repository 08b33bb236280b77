//! The submission pipeline every submitting route goes through. Before validation: the
//! request (`JsonSubmission`: caller, body, `Idempotency-Key`), the template a submission
//! names (`resolve_template_of`); during it, images checked off the executor
//! (`images::check`). Then the one entry point, [`submit`], with an [`Order`]: one job
//! ([`Submission`]: certificates, reports, emails, schedule runs), a batch in one transaction
//! ([`BatchOrder`]), or a finished job again ([`Retry`]). The orders share their steps: the
//! job row built by `new_job`, input files stored by `store_inputs`, the push or the
//! withdrawal by `push_or_withdraw`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::db::{
    BatchRow, DbError, EmailCharge, InsertOutcome, NewCertificate, NewJob, RetryOutcome,
};
use shared::domain::{JobId, JobKind, QueueName};
use shared::jobs::JobPayload;
use shared::templates::TemplateKind;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};

use crate::cache::CachedTemplate;
use crate::certificate_order::CertificateOrder;
use crate::email_limits::quota_exceeded;
use crate::error::ApiError;
use crate::extract::{ApiJson, Caller};
use crate::placement::Placement;
use crate::state::AppState;
use crate::views::{JobView, SubmittedView};

/// The template used when a submission names none.
pub const DEFAULT_TEMPLATE: &str = "classic";
/// The report template used when a submission names none.
pub const DEFAULT_REPORT_TEMPLATE: &str = "sat";

/// The template a submission names, if the caller may use it.
pub(crate) async fn resolve_template(
    state: &AppState,
    caller: &Caller,
    name: Option<&str>,
) -> Result<std::sync::Arc<CachedTemplate>, ApiError> {
    resolve_template_of(state, caller, name, TemplateKind::Certificate).await
}

/// The template of `kind` a submission names (default: `classic` or `sat`), if the caller may
/// use it.
pub(crate) async fn resolve_template_of(
    state: &AppState,
    caller: &Caller,
    name: Option<&str>,
    kind: TemplateKind,
) -> Result<std::sync::Arc<CachedTemplate>, ApiError> {
    let default = match kind {
        TemplateKind::Certificate => DEFAULT_TEMPLATE,
        TemplateKind::Report => DEFAULT_REPORT_TEMPLATE,
    };
    let name = name.unwrap_or(default).trim();
    let unknown = || {
        ApiError::invalid_with_code(
            "unknown_template",
            "template",
            format!(
                "unknown template `{}`; GET /v1/templates lists the available ones",
                name.chars().take(64).collect::<String>()
            ),
        )
    };
    let template = state.templates.get(name, true).await?.ok_or_else(unknown)?;
    if !caller.may_read(&template.record) || template.record.kind != kind {
        return Err(unknown());
    }
    Ok(template)
}

/// The `Idempotency-Key` of a request and the hash of what it asked: the same key with the
/// same request within the window answers the original; with another request, `409`.
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

impl Idempotency {
    /// For a JSON submission: the hash of its raw body. `header`: the `Idempotency-Key`.
    fn of_body(header: Option<&HeaderValue>, body: &[u8]) -> Result<Option<Self>, ApiError> {
        Ok(idempotency_key(header)?.map(|key| Idempotency {
            key,
            request_hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)),
        }))
    }

    /// For a request whose meaning is in several parts (a batch: content type, query and
    /// body): the hash of all of them, each length-prefixed so no two splits collide.
    pub(crate) fn of_parts(headers: &HeaderMap, parts: &[&[u8]]) -> Result<Option<Self>, ApiError> {
        let Some(key) = idempotency_key(headers.get(IDEMPOTENCY_KEY))? else {
            return Ok(None);
        };
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        for part in parts {
            sha2::Digest::update(&mut hasher, (part.len() as u64).to_le_bytes());
            sha2::Digest::update(&mut hasher, part);
        }
        Ok(Some(Idempotency {
            key,
            request_hash: hex::encode(sha2::Digest::finalize(hasher)),
        }))
    }
}

impl Idempotency {
    /// The batch submitted earlier with this key, when the request is the same; `409
    /// idempotency_conflict` when it differs.
    pub(crate) async fn earlier_batch(
        &self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<Option<BatchRow>, ApiError> {
        let window = std::time::Duration::from_secs(state.config.idempotency_window_secs);
        let earlier = state
            .db
            .batch_by_idempotency_key(&caller.key_id, &self.key, window)
            .await?;
        match earlier {
            Some((_, hash)) if hash != self.request_hash => Err(key_conflict()),
            earlier => Ok(earlier.map(|(batch, _)| batch)),
        }
    }
}

/// The same `Idempotency-Key` with another request.
fn key_conflict() -> ApiError {
    ApiError::Conflict {
        code: "idempotency_conflict",
        message: "this Idempotency-Key was used with a different request body".into(),
    }
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The `Idempotency-Key` header, if any: 1 to 255 visible ASCII characters.
fn idempotency_key(header: Option<&HeaderValue>) -> Result<Option<String>, ApiError> {
    let Some(value) = header else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_graphic()));
    key.map(|k| Some(k.to_owned()))
        .ok_or_else(|| ApiError::BadRequest {
            code: "invalid_header",
            message: "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            field: Some("Idempotency-Key".into()),
        })
}

/// What every JSON submission starts from, in the order a client meets the errors: the caller
/// (`401`), the JSON body (`415`, `413`, `400`), then the `Idempotency-Key` (`400`), hashed
/// with the raw body.
pub struct JsonSubmission<T> {
    pub caller: Caller,
    pub idempotency: Option<Idempotency>,
    pub body: T,
}

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for JsonSubmission<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let caller = Caller::from_request_parts(&mut parts, state).await?;
        // Only the key is kept (a cheap clone), checked once the body has been read.
        let key = parts.headers.get(IDEMPOTENCY_KEY).cloned();
        let json = ApiJson::<T>::from_request(Request::from_parts(parts, body), state).await?;
        Ok(JsonSubmission {
            caller,
            idempotency: Idempotency::of_body(key.as_ref(), &json.raw)?,
            body: json.value,
        })
    }
}

/// The `Idempotency-Key` header of a single-job submission, for the routes' `params(...)`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// Same key and body return the original job; 1 to 255 visible ASCII characters
    #[param(rename = "Idempotency-Key", pattern = "^[!-~]{1,255}$")]
    #[allow(dead_code)] // read by Idempotency::of_body; here only for the document
    idempotency_key: Option<String>,
}

/// One validated job, as a route hands it to [`submit`].
pub(crate) struct Submission<'a, P> {
    /// What the worker's handler receives; checked, nothing left to fail on bad input.
    pub payload: &'a P,
    /// Files stored under the job before its row exists: (name, bytes).
    pub inputs: Vec<(String, Vec<u8>)>,
    /// A certificate's registry row, inserted in the job's transaction.
    pub certificate: Option<&'a NewCertificate>,
    /// Email recipients charged to the key's quotas in the job's transaction.
    pub charge: Option<&'a EmailCharge>,
    /// Its priority and start instant as the client asked; `None`: the kind's default
    /// (schedule runs: `system`).
    pub placement: Option<Placement>,
    /// Where to deliver the job's end, already checked (`callbacks::check_target`).
    pub callback_url: Option<String>,
}

impl<'a, P> Submission<'a, P> {
    /// A job that is only its payload: no input files, registry row or email charge.
    pub(crate) fn of(payload: &'a P) -> Self {
        Submission {
            payload,
            inputs: Vec::new(),
            certificate: None,
            charge: None,
            placement: None,
            callback_url: None,
        }
    }
}

/// A submission's answer: `202` with `Location` and the job, or `200` with the original job
/// for a repeated request.
pub struct Accepted {
    pub id: JobId,
    response: Response,
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        self.response
    }
}

/// What can be submitted: each kind of order places itself with the shared steps below.
pub(crate) trait Order {
    /// What the route turns into its answer.
    type Answer;

    async fn place(
        self,
        state: &AppState,
        caller: &Caller,
        idempotency: Option<Idempotency>,
    ) -> Result<Self::Answer, ApiError>;
}

/// The one entry point of every submission: a single job, a batch or a retry, by `caller`
/// (the system's caller for a schedule run on request), honouring the `Idempotency-Key`.
pub(crate) async fn submit<O: Order>(
    state: &AppState,
    caller: &Caller,
    idempotency: Option<Idempotency>,
    order: O,
) -> Result<O::Answer, ApiError> {
    let answer = order.place(state, caller, idempotency).await?;
    // Only dashboards listen; without them a submission publishes nothing extra.
    if state.config.dashboard.enabled {
        state
            .events
            .announce_submitted(&state.queue, &caller.key_id);
    }
    Ok(answer)
}

/// One job: its row built, its inputs stored, the row inserted (with its registry row and
/// email charge, in one transaction, honouring the `Idempotency-Key`), its id pushed or
/// everything withdrawn; `202` with `Location`, or `200` with the original job for a
/// repeated request.
impl<P: JobPayload> Order for Submission<'_, P> {
    type Answer = Accepted;

    async fn place(
        self,
        state: &AppState,
        caller: &Caller,
        idempotency: Option<Idempotency>,
    ) -> Result<Accepted, ApiError> {
        crate::quotas::admit(state, caller, 1).await?;
        let mut new = new_job(state, caller, self.payload, idempotency);
        if let Some(placement) = &self.placement {
            placement.apply(&mut new);
        }
        new.callback_url = self.callback_url;
        let id = new.id;
        store_inputs(state, id, self.inputs).await?;
        let inserted = match self.certificate {
            Some(certificate) => {
                state
                    .db
                    .insert_certificate_job(&new, certificate, self.charge)
                    .await
            }
            None => state.db.insert_job_charged(&new, self.charge).await,
        };
        let outcome = match inserted {
            Ok(Err(over)) => {
                let _ = state.storage.remove_inputs(id).await;
                return Err(quota_exceeded(&over));
            }
            Ok(Ok(outcome)) => Ok(outcome),
            Err(e) => Err(e),
        };
        enqueue(state, id, outcome).await
    }
}

/// What a [`BatchOrder`] did.
pub(crate) enum BatchSubmitted {
    /// Written and pushed: the jobs' ids, in row order.
    Accepted(Vec<JobId>),
    /// The same request with the same `Idempotency-Key` got in first (at the same moment).
    Earlier(BatchRow),
}

/// A whole batch in one transaction: the batch row (holding the `Idempotency-Key`), then its
/// jobs built and written a chunk at a time, each row turned into its job by `job` (rows are
/// checked again here rather than kept from the first pass, so only one chunk of jobs is in
/// memory), their inputs stored; then every id pushed, or everything withdrawn. Inputs stored
/// for a batch that does not commit are removed, so no file outlives a refused batch and no
/// row points at a missing file.
pub(crate) struct BatchOrder<'a, R, J> {
    pub batch: &'a BatchRow,
    pub rows: &'a [R],
    pub job: J,
    /// Every row's priority (default `bulk`) and start instant.
    pub placement: Placement,
}

impl<R, J, F> Order for BatchOrder<'_, R, J>
where
    J: Fn(&R) -> F,
    F: Future<Output = Result<CertificateOrder, ApiError>>,
{
    type Answer = BatchSubmitted;

    async fn place(
        self,
        state: &AppState,
        caller: &Caller,
        idempotency: Option<Idempotency>,
    ) -> Result<BatchSubmitted, ApiError> {
        let BatchOrder {
            batch,
            rows,
            job,
            placement,
        } = self;
        crate::quotas::admit(state, caller, rows.len() as u64).await?;
        let key = idempotency
            .as_ref()
            .map(|i| (i.key.as_str(), i.request_hash.as_str()));
        let mut writer = match state.db.begin_batch(batch, key).await {
            Ok(writer) => writer,
            Err(e) => {
                // The same request at the same moment: the other one inserted the key first.
                if let Some(i) = &idempotency
                    && let Some(earlier) = i.earlier_batch(state, caller).await?
                {
                    return Ok(BatchSubmitted::Earlier(earlier));
                }
                return Err(e.into());
            }
        };
        let mut ids: Vec<JobId> = Vec::with_capacity(rows.len());
        let mut with_inputs: Vec<JobId> = Vec::new();
        let written = async {
            for chunk in rows.chunks(writer.chunk_rows()) {
                let mut jobs = Vec::with_capacity(chunk.len());
                for row in chunk {
                    let checked = job(row).await?;
                    let mut new = new_job(state, caller, &checked.payload, None);
                    new.batch_id = Some(batch.id.clone());
                    placement.apply(&mut new);
                    if !checked.inputs.is_empty() {
                        with_inputs.push(new.id);
                        store_inputs(state, new.id, checked.inputs).await?;
                    }
                    ids.push(new.id);
                    jobs.push((new, checked.certificate));
                }
                writer.insert(&jobs).await?;
            }
            writer.commit().await?;
            Ok::<_, ApiError>(())
        }
        .await;
        if let Err(e) = written {
            for id in with_inputs {
                let _ = state.storage.remove_inputs(id).await;
            }
            return Err(e);
        }
        if placement.run_at.is_some() {
            shared::metrics::jobs_submitted(JobKind::Certificate, ids.len() as u64);
            return Ok(BatchSubmitted::Accepted(ids));
        }
        push_or_withdraw(state, JobKind::Certificate.queue(), &ids, || {
            state.db.delete_unacknowledged_batch(&batch.id)
        })
        .await?;
        Ok(BatchSubmitted::Accepted(ids))
    }
}

/// Writes a job's input files under its directory; on failure none is left.
pub(crate) async fn store_inputs(
    state: &AppState,
    id: JobId,
    inputs: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<(), ApiError> {
    for (name, bytes) in inputs {
        let bytes = axum::body::Bytes::from(bytes);
        if let Err(e) = state.storage.write_input(id, &name, bytes).await {
            let _ = state.storage.remove_inputs(id).await;
            return Err(ApiError::storage(&format!("storing input {name}"), e));
        }
    }
    Ok(())
}

/// A submitted job's row: the queue's attempts, runnable now, with its idempotency key (a
/// batch's rows have none of their own: the batch has it). The one place the API builds one.
pub(crate) fn new_job<P: JobPayload>(
    state: &AppState,
    caller: &Caller,
    payload: &P,
    idempotency: Option<Idempotency>,
) -> NewJob {
    let max_attempts = state.config.queues.get(P::KIND.queue()).max_attempts;
    let mut job = NewJob::of(&caller.key_id, max_attempts, payload);
    job.weight = caller
        .service
        .weight
        .map_or(1, |w| u32::try_from(w).unwrap_or(u32::MAX));
    if let Some(i) = idempotency {
        job.idempotency_key = Some(i.key);
        job.request_hash = Some(i.request_hash);
        job.idempotency_window = Some(std::time::Duration::from_secs(
            state.config.idempotency_window_secs,
        ));
    }
    job
}

/// Pushes a freshly inserted job's id. If the push fails the rows are removed again, so a
/// client told 503 never finds a job it was not told about; a row whose push succeeded but
/// whose message is later lost is re-pushed by the rescuer.
async fn enqueue(
    state: &AppState,
    id: JobId,
    inserted: Result<InsertOutcome, shared::db::DbError>,
) -> Result<Accepted, ApiError> {
    let job = match inserted {
        Ok(InsertOutcome::Inserted(job)) => job,
        Ok(InsertOutcome::Existing(job)) => {
            let _ = state.storage.remove_inputs(id).await;
            return Ok(submitted(state, &job, StatusCode::OK));
        }
        Ok(InsertOutcome::KeyConflict) => {
            let _ = state.storage.remove_inputs(id).await;
            return Err(key_conflict());
        }
        Err(e) => {
            let _ = state.storage.remove_inputs(id).await;
            return Err(e.into());
        }
    };
    // A scheduled job has no message until the promoter queues it at its time.
    if job.status == shared::domain::JobStatus::Scheduled {
        shared::metrics::jobs_submitted(job.kind, 1);
        return Ok(submitted(state, &job, StatusCode::ACCEPTED));
    }
    push_or_withdraw(state, job.queue, &[id], || async {
        state.db.delete_unacknowledged_job(id).await?;
        let _ = state.storage.remove_inputs(id).await;
        Ok(())
    })
    .await?;
    Ok(submitted(state, &job, StatusCode::ACCEPTED))
}

/// Pushes the ids of jobs just inserted. If the push fails, `withdraw` removes them (rows and
/// files), so a client told 503 never finds jobs it was not told about; if even that fails the
/// rows stay waiting and the rescuer pushes them. A push that succeeded but whose message is
/// later lost is re-pushed by the rescuer too.
pub(crate) async fn push_or_withdraw<W, F>(
    state: &AppState,
    queue: QueueName,
    ids: &[JobId],
    withdraw: W,
) -> Result<(), ApiError>
where
    W: FnOnce() -> F,
    F: Future<Output = Result<(), DbError>>,
{
    let pushed = match ids {
        [id] => state.queue.push(queue, *id, None).await,
        _ => state.queue.push_many(queue, ids).await,
    };
    if let Err(e) = pushed {
        tracing::warn!(jobs = ids.len(), first = ?ids.first(), error = %e, "queue push failed; withdrawing");
        if let Err(db) = withdraw().await {
            tracing::warn!(jobs = ids.len(), first = ?ids.first(), error = %db, "could not withdraw; the rescuer will run them");
        }
        return Err(e.into());
    }
    shared::metrics::jobs_submitted(JobKind::of_queue(queue), ids.len() as u64);
    Ok(())
}

fn submitted(state: &AppState, job: &shared::db::JobRow, status: StatusCode) -> Accepted {
    let view = SubmittedView::new(&JobView::from_row(job, &state.base_url));
    let location = view.links.self_.clone();
    Accepted {
        id: job.id,
        response: (status, [(header::LOCATION, location)], Json(view)).into_response(),
    }
}

/// A `dead` or `failed` job queued again with its queue's `max_attempts` more attempts, and
/// its id pushed. A `dead` job waits again, so it counts against its owner's waiting-jobs
/// quota like a submission (`429 too_many_waiting_jobs`; a `failed` one is counted already,
/// a webhook delivery never is), and it takes a fresh turn (`Db::retry_job`). Nothing is
/// withdrawn if the push fails: the job existed before this request, its row says `queued`,
/// and the rescuer pushes it. No `Idempotency-Key`: a retry of a job already queued again is
/// a `409`.
pub(crate) struct Retry<'a>(pub &'a shared::db::JobRow);

impl Order for Retry<'_> {
    type Answer = RetryOutcome;

    async fn place(
        self,
        state: &AppState,
        caller: &Caller,
        _idempotency: Option<Idempotency>,
    ) -> Result<RetryOutcome, ApiError> {
        let job = self.0;
        if job.status == shared::domain::JobStatus::Dead && job.kind != JobKind::Webhook {
            // The owner's quota, also when an admin retries another key's job.
            if job.owner_id == caller.key_id {
                crate::quotas::admit(state, caller, 1).await?;
            } else if let Some(key) = state.db.get_key(&job.owner_id).await? {
                crate::quotas::admit(state, &Caller::of_key(key), 1).await?;
            }
        }
        let extra = state.config.queues.get(job.queue).max_attempts;
        let outcome = state
            .db
            .retry_job(job.id, caller.owner_filter(), extra)
            .await?;
        if let RetryOutcome::Requeued(job) = &outcome {
            // A dead or cancelled job's answer may be cached in any API process.
            state.finished.changed(&[job.id]);
            shared::metrics::job_retried(job.kind);
            if let Err(e) = state.queue.push(job.queue, job.id, None).await {
                tracing::warn!(job_id = %job.id, error = %e, "retry push failed; the rescuer will push it");
            }
        }
        Ok(outcome)
    }
}

/// The answers every submission can give besides its own `202`, `422` and `429` (and `403` for
/// emails): documented once, for the routes' `responses(...)`. The schemas are named, not
/// collected: `SubmittedView` and `ErrorBody` are in the document through the routes' own
/// `body = …` (a dangling name would fail the contract test).
pub struct SubmissionResponses;

impl utoipa::IntoResponses for SubmissionResponses {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let json = |description: &str, schema: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(schema)))
                        .build(),
                )
                .build()
        };
        ResponsesBuilder::new()
            .response(
                "200",
                json(
                    "Same Idempotency-Key and body as before: the original job",
                    "SubmittedView",
                ),
            )
            .response("400", json("", "ErrorBody"))
            .response("401", json("", "ErrorBody"))
            .response(
                "403",
                json(
                    "`priority` above the submission's default with a key that is not an \
                     admin's (`priority_not_allowed`)",
                    "ErrorBody",
                ),
            )
            .response("409", json("", "ErrorBody"))
            .response("413", json("", "ErrorBody"))
            .response("415", json("", "ErrorBody"))
            .response("503", json("", "ErrorBody"))
            .build()
            .into()
    }
}

/// The `422` and `429` of a generation job that may carry `notify` (certificates, reports).
pub struct NotifyResponses;

impl utoipa::IntoResponses for NotifyResponses {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let error = Some(Ref::from_schema_name("ErrorBody"));
        ResponsesBuilder::new()
            .response(
                "422",
                ResponseBuilder::new()
                    .description(
                        "Invalid fields, each with its path; `domain_not_allowed` for a \
                         `notify.email` outside the key's domains",
                    )
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(error.clone()).build(),
                    ),
            )
            .response(
                "429",
                ResponseBuilder::new()
                    .description(
                        "With `notify`: the key's hourly or daily email quota is used up \
                         (`quota_exceeded`); see `Retry-After`",
                    )
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(error).build(),
                    )
                    .header(
                        "Retry-After",
                        utoipa::openapi::HeaderBuilder::new()
                            .schema(
                                utoipa::openapi::ObjectBuilder::new()
                                    .schema_type(utoipa::openapi::schema::Type::Integer)
                                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                                        utoipa::openapi::KnownFormat::Int64,
                                    )))
                                    .minimum(Some(0)),
                            )
                            .description(Some("Seconds until enough of the quota frees up"))
                            .build(),
                    ),
            )
            .build()
            .into()
    }
}
