//! `report`: renders one SAT report with the template version the job pinned. Its content is
//! the job's `report.json` input (written by the API); images and signatures are its other
//! inputs. Progress is recorded as `validating`, `rendering` and `writing`.

use shared::db::Claimed;
use shared::reports::{CONTENT_INPUT, ReportContent, ReportPayload, image_input, signoff_input};

use super::context::JobContext;
use super::pdf;
use crate::error::JobError;
use crate::render::RenderInput;

pub async fn run(
    ctx: &JobContext,
    claimed: &Claimed,
    payload: ReportPayload,
) -> Result<serde_json::Value, JobError> {
    let job = &claimed.job;
    tracing::Span::current().record("template", payload.template.as_str());
    let progress = |stage: &'static str| async move {
        // Progress is informative: failing to record it never fails the job.
        if let Err(e) = ctx
            .db
            .set_progress(job.id, &claimed.lease_token, stage)
            .await
        {
            tracing::warn!(stage, error = %e, "could not record progress");
        }
    };
    progress("validating").await;
    let read = |name: String| pdf::read_input(ctx, job, name);
    let content: ReportContent = serde_json::from_slice(&read(CONTENT_INPUT.into()).await?)
        .map_err(|e| JobError::permanent("invalid_payload", format!("unreadable report: {e}")))?;
    let template = ctx
        .templates
        .get(&payload.template_id, payload.template_version)
        .await?;
    let mut input = RenderInput {
        data: content.template_data(),
        standard: payload.standard(),
        ..RenderInput::default()
    };
    for i in 0..content.images.len() {
        let name = image_input(i);
        input.field_images.insert(name.clone(), read(name).await?);
    }
    for (i, signoff) in content.signoffs.iter().enumerate() {
        if signoff.has_signature {
            let name = signoff_input(i);
            input.field_images.insert(name.clone(), read(name).await?);
        }
    }
    drop(content);

    progress("rendering").await;
    // The reports queue's own concurrency bounds how many render at once (and so memory).
    let standard = input.standard;
    let rendered = pdf::render(ctx, job, template, input).await?;
    progress("writing").await;
    pdf::store(ctx, job, rendered, standard).await
}
