//! `certificate`: renders one certificate PDF with the template version the job pinned, with
//! its QR code, and stores it atomically.

use shared::db::Claimed;
use shared::jobs::CertificatePayload;
use shared::verification::{qr_svg, verify_url};

use super::context::JobContext;
use super::pdf;
use crate::error::JobError;
use crate::render::{ImageSlot, RenderInput};

pub async fn run(
    ctx: &JobContext,
    claimed: &Claimed,
    payload: CertificatePayload,
) -> Result<serde_json::Value, JobError> {
    let job = &claimed.job;
    tracing::Span::current().record("template", payload.template.as_str());
    let (template_id, version) = match (&payload.template_id, payload.template_version) {
        (Some(id), Some(version)) => (id.clone(), version),
        // Rows from before templates were versioned: the template's current version.
        _ => {
            let found = ctx
                .db
                .find_template(&payload.template)
                .await?
                .ok_or_else(|| {
                    JobError::permanent(
                        "unknown_template",
                        format!("unknown template `{}`", payload.template),
                    )
                })?;
            (found.id, found.version)
        }
    };
    let template = ctx.templates.get(&template_id, version).await?;

    let mut input = RenderInput {
        data: payload.template_data(&ctx.config.public_base_url()),
        standard: payload.pdf_standard,
        ..RenderInput::default()
    };
    let read = |name: String| pdf::read_input(ctx, job, name);
    if payload.has_photo {
        input
            .images
            .push((ImageSlot::Photo, read("photo".into()).await?));
    }
    if payload.has_signature {
        input
            .images
            .push((ImageSlot::Signature, read("signature".into()).await?));
    }
    for name in &payload.image_fields {
        let bytes = read(format!("field-{name}")).await?;
        input.field_images.insert(name.clone(), bytes);
    }
    let url = verify_url(&ctx.config.public_base_url(), &payload.verification_code);
    input
        .images
        .push((ImageSlot::Qr, qr_svg(&url).into_bytes()));

    let rendered = pdf::render(ctx, job, template, input).await?;
    pdf::store(ctx, job, rendered, payload.pdf_standard).await
}
