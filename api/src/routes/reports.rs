//! `POST /v1/reports`: a structured SAT report, checked field by field (every problem named
//! by its path, e.g. `sections[3].rows[12].result`), its images decoded, its content stored
//! as the job's `report.json` input, then queued on `reports`.

use axum::extract::State;
use shared::templates::TemplateKind;

use crate::email_limits::notify_charge;
use crate::error::ApiError;
use crate::report_order::{ReportRequest, validate};
use crate::state::AppState;
use crate::submit::{
    self, Accepted, IdempotencyKeyHeader, JsonSubmission, NotifyResponses, Submission,
    SubmissionResponses, resolve_template_of,
};
use crate::views::SubmittedView;

/// Submit a SAT report job.
#[utoipa::path(post, path = "/v1/reports", operation_id = "submit_report", tag = "reports",
    request_body = ReportRequest, params(IdempotencyKeyHeader),
    responses((status = 202, body = SubmittedView,
            description = "Accepted; poll the Location (its `progress` says validating, rendering or writing)"),
        SubmissionResponses, NotifyResponses))]
pub async fn submit(
    State(state): State<AppState>,
    JsonSubmission {
        caller,
        idempotency,
        body: req,
    }: JsonSubmission<ReportRequest>,
) -> Result<Accepted, ApiError> {
    let charge = notify_charge(&state, &caller, req.notify.as_ref())?;
    let placement = crate::placement::Placement::single(
        &caller,
        req.priority,
        req.run_at.as_deref(),
        req.delay_secs,
    )?;
    let kind = TemplateKind::Report;
    let callback_url = crate::callbacks::checked(&state, &caller, req.callback_url.clone()).await?;
    let template = resolve_template_of(&state, &caller, req.template.as_deref(), kind).await?;
    let standard = req.standard(&template);
    let notify = req.notify.clone();
    let text = req.text_bytes();
    let max_text = state.config.limits.max_report_text_bytes;
    if text > max_text {
        return Err(ApiError::Invalid {
            code: "too_long",
            message: format!(
                "a report may hold at most {max_text} bytes of text in all its fields \
                 (got {text}; setting limits.max_report_text_bytes)"
            ),
            field: None,
        });
    }
    let config = state.config.clone();
    let order = state
        .checks
        .run(&caller.key_id, move || validate(&config.limits, req))
        .await??;
    let (payload, inputs) = order.into_job(&template.record, standard, notify)?;
    let job = Submission {
        payload: &payload,
        inputs,
        certificate: None,
        charge: charge.as_ref(),
        placement: Some(placement),
        callback_url,
    };
    submit::submit(&state, &caller, idempotency, job).await
}
