//! `certificate`: renders one certificate PDF with typst and stores it atomically.

use shared::db::Claimed;
use shared::jobs::{CertificatePayload, FileResult};
use time::Date;
use time::macros::format_description;

use super::{JobContext, JobError};
use crate::render::{ImageSlot, RenderError, RenderInput};

pub async fn run(ctx: &JobContext, claimed: &Claimed) -> Result<serde_json::Value, JobError> {
    let job = &claimed.job;
    let payload: CertificatePayload = serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::permanent("invalid_payload", format!("unreadable payload: {e}")))?;
    let mut images = Vec::new();
    if payload.has_photo {
        let photo = ctx.storage.read_input(job.id, "photo").await.map_err(|e| {
            JobError::permanent(
                "missing_input",
                format!("the job's photo cannot be read: {e}"),
            )
        })?;
        images.push((ImageSlot::Photo, photo));
    }
    let input = RenderInput {
        data: template_data(&payload),
        images,
        timestamp: None,
    };
    let engine = ctx.engine.clone();
    let template = payload.template.clone();
    // typst is CPU-bound and synchronous: keep it off the async executor.
    let rendered = tokio::task::spawn_blocking(move || engine.render(&template, &input))
        .await
        .map_err(|e| JobError::retryable("render_panicked", format!("the renderer crashed: {e}")))?
        .map_err(|e| match e {
            RenderError::UnknownTemplate(t) => {
                JobError::permanent("unknown_template", format!("unknown template `{t}`"))
            }
            other => JobError::permanent("render_failed", other.to_string()),
        })?;
    let stored = ctx
        .storage
        .write_output(&job.owner_id, job.id, job.attempt, &rendered.pdf)
        .await
        .map_err(|e| {
            JobError::retryable("storage_failed", format!("writing the PDF failed: {e}"))
        })?;
    let result = FileResult {
        file: stored.relative,
        bytes: stored.bytes,
        sha256: stored.sha256,
        pages: rendered.pages as u32,
    };
    serde_json::to_value(result).map_err(|e| JobError::permanent("internal", e.to_string()))
}

/// The data the template reads from `/data.json`: display-ready strings, never markup.
fn template_data(p: &CertificatePayload) -> serde_json::Value {
    serde_json::json!({
        "recipient_name": p.recipient_name,
        "course_name": p.course_name,
        "issued_on": display_date(&p.issued_on),
        "issuer_name": p.issuer_name,
        "verification_code": p.verification_code,
        "has_photo": p.has_photo,
        "fields": p.fields,
    })
}

/// `2026-11-21` -> `21 November 2026`; anything unparsable is shown as given.
fn display_date(iso: &str) -> String {
    Date::parse(iso, format_description!("[year]-[month]-[day]"))
        .ok()
        .and_then(|d| {
            d.format(format_description!(
                "[day padding:none] [month repr:long] [year]"
            ))
            .ok()
        })
        .unwrap_or_else(|| iso.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_like_dates() {
        assert_eq!(display_date("2026-11-21"), "21 November 2026");
        assert_eq!(display_date("2026-01-05"), "5 January 2026");
        assert_eq!(display_date("garbage"), "garbage");
    }
}
