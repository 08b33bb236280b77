//! `certificate`: renders one certificate PDF with the template version the job pinned, with
//! its QR code, and stores it atomically.

use shared::db::Claimed;
use shared::jobs::{CertificatePayload, FileResult};
use shared::verification::{qr_svg, verify_url};

use shared::sandbox::{Output, SandboxError, SandboxRequest, SandboxResponse};

use super::{JobContext, JobError};
use crate::render::{ImageSlot, RenderInput, Rendered};
use crate::templates::LoadedTemplate;

pub async fn run(ctx: &JobContext, claimed: &Claimed) -> Result<serde_json::Value, JobError> {
    let job = &claimed.job;
    let payload: CertificatePayload = serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::permanent("invalid_payload", format!("unreadable payload: {e}")))?;
    let (template_id, version) = match (&payload.template_id, payload.template_version) {
        (Some(id), Some(version)) => (id.clone(), version),
        // Rows from before templates were versioned: the template's current version.
        _ => {
            let found = ctx
                .db
                .find_template(&payload.template)
                .await
                .map_err(|e| JobError::retryable("database", e.to_string()))?
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
        ..RenderInput::default()
    };
    let read = |name: String| async move {
        ctx.storage.read_input(job.id, &name).await.map_err(|e| {
            JobError::permanent(
                "missing_input",
                format!("the job's {name} cannot be read: {e}"),
            )
        })
    };
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

    let rendered = if payload.sandboxed {
        sandboxed(ctx, &template, input).await?
    } else {
        let engine = ctx.engine.clone();
        // typst is CPU-bound and synchronous: keep it off the async executor.
        tokio::task::spawn_blocking(move || engine.render(&template.compiled, &input))
            .await
            .map_err(|e| {
                JobError::retryable("render_panicked", format!("the renderer crashed: {e}"))
            })?
            .map_err(|e| JobError::permanent("render_failed", e.to_string()))?
    };
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

/// Renders an uploaded template in the bounded sandbox: a template that loops or allocates
/// without end is killed there, instead of holding one of this worker's threads forever (a
/// blocking render cannot be cancelled). The same data and images as an in-process render.
pub(super) async fn sandboxed(
    ctx: &JobContext,
    template: &LoadedTemplate,
    input: RenderInput,
) -> Result<Rendered, JobError> {
    let request = SandboxRequest {
        files: template.content.files(),
        data: input.data,
        images: input
            .images
            .into_iter()
            .map(|(slot, bytes)| (slot.name().to_owned(), bytes))
            .collect(),
        field_images: input.field_images,
        output: Output::Pdf,
        pdfa: input.pdfa,
    };
    let limits = ctx.config.sandbox_limits();
    match shared::sandbox::render_bounded(&limits, &request).await {
        Ok(SandboxResponse::Ok { bytes, pages, .. }) => Ok(Rendered { pdf: bytes, pages }),
        Ok(SandboxResponse::CompileError { diagnostics }) => {
            let messages: Vec<String> = diagnostics
                .iter()
                .map(|d| match (&d.path, d.line, d.column) {
                    (Some(p), Some(l), Some(c)) => format!("{p}:{l}:{c}: {}", d.message),
                    _ => d.message.clone(),
                })
                .collect();
            Err(JobError::permanent(
                "render_failed",
                format!("template failed to compile: {}", messages.join("; ")),
            ))
        }
        Ok(SandboxResponse::Failed { message }) => {
            Err(JobError::permanent("render_failed", message))
        }
        // The same template with the same data would do the same again.
        Err(e @ (SandboxError::Timeout(_) | SandboxError::Crashed { .. })) => {
            Err(JobError::permanent("render_failed", e.to_string()))
        }
        Err(e) => Err(JobError::retryable("sandbox_unavailable", e.to_string())),
    }
}
