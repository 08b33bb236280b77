//! What the kinds that produce a PDF share: read the job's inputs, render (in-process on the
//! blocking pool, or in the bounded sandbox for uploaded templates) and store the PDF
//! atomically as the attempt's file. Both steps begin at a safe point: a cancelled attempt
//! stops before rendering, or after rendering and before its file exists.

use std::sync::Arc;

use tracing::Instrument;

use shared::db::JobRow;
use shared::domain::PdfStandard;
use shared::jobs::FileResult;
use shared::sandbox::{Output, SandboxError, SandboxRequest, SandboxResponse};

use super::context::JobContext;
use crate::error::JobError;
use crate::render::{RenderError, RenderInput, Rendered};
use crate::templates::LoadedTemplate;

/// One of the job's input files (stored by the API). Missing is permanent: it will not
/// appear; a store that does not answer is retried (with the job's backoff).
#[tracing::instrument(name = "load_input", skip_all, fields(input = %name))]
pub async fn read_input(ctx: &JobContext, job: &JobRow, name: String) -> Result<Vec<u8>, JobError> {
    match ctx.storage.read_input(job.id, &name).await {
        Ok(bytes) => {
            super::context::note_input_read(&name);
            Ok(Vec::from(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(JobError::permanent(
            "missing_input",
            format!("the job's {name} cannot be read: {e}"),
        )),
        Err(e) => Err(JobError::retryable(
            "storage_failed",
            format!("reading the job's {name} failed: {e}"),
        )),
    }
}

/// Renders `input` with `template`: in-process, off the async executor (typst is CPU-bound and
/// synchronous), when its files are a shipped template's; in the bounded sandbox otherwise.
/// What is rendered decides, never a flag in the job.
pub async fn render(
    ctx: &JobContext,
    job: &JobRow,
    template: Arc<LoadedTemplate>,
    input: RenderInput,
) -> Result<Rendered, JobError> {
    let span = tracing::info_span!(
        "render",
        sandboxed = template.compiled.is_none(),
        pages = tracing::field::Empty,
        pdf_bytes = tracing::field::Empty,
    );
    async {
        let started = std::time::Instant::now();
        let rendered = render_now(ctx, template, input).await?;
        shared::metrics::rendered(job.kind, started.elapsed(), rendered.pdf.len());
        let span = tracing::Span::current();
        span.record("pages", rendered.pages);
        span.record("pdf_bytes", rendered.pdf.len());
        Ok(rendered)
    }
    .instrument(span)
    .await
}

async fn render_now(
    ctx: &JobContext,
    template: Arc<LoadedTemplate>,
    input: RenderInput,
) -> Result<Rendered, JobError> {
    super::context::safe_point()?;
    if template.compiled.is_none() {
        return self::sandboxed(ctx, &template, input).await;
    }
    let engine = ctx.engine.clone();
    // Never closed: the semaphore lives as long as the context.
    let slot = ctx.render_slots.clone().acquire_owned().await;
    // Cancelling may have been asked while the job waited for its slot.
    super::context::safe_point()?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let compiled = template.compiled.as_ref().expect("checked above");
        engine.render(compiled, &input)
    })
    .await
    .map_err(|e| JobError::retryable("render_panicked", format!("the renderer crashed: {e}")))?
    .map_err(|e| match e {
        RenderError::Nonconforming { .. } => JobError::permanent("nonconforming", e.to_string()),
        e => JobError::permanent("render_failed", e.to_string()),
    })
}

/// Writes the PDF as this attempt's file; the result the job row records.
#[tracing::instrument(name = "store", skip_all, fields(pdf_bytes = rendered.pdf.len()))]
pub async fn store(
    ctx: &JobContext,
    job: &JobRow,
    rendered: Rendered,
    pdf_standard: Option<PdfStandard>,
) -> Result<serde_json::Value, JobError> {
    super::context::safe_point()?;
    let (pdf, signature) = match &ctx.signer {
        Some(signer) => {
            let signer = signer.clone();
            let pdf = rendered.pdf;
            let timestamps = ctx.timestamps.clone();
            let runtime = tokio::runtime::Handle::current();
            // Hashing and the private-key operation are CPU work: off the executor. The
            // time-stamp request (B-T) is awaited from that blocking thread.
            let (signed, info) = tokio::task::spawn_blocking(move || {
                let ask = timestamps
                    .as_ref()
                    .map(|tsa| move |request| runtime.block_on(tsa.stamp(request)));
                let ask = ask.as_ref().map(|f| f as &crate::signing::Authority<'_>);
                signer.sign_pdf(&pdf, time::OffsetDateTime::now_utc(), ask)
            })
            .await
            .map_err(|e| JobError::retryable("sign_panicked", format!("signing crashed: {e}")))?
            .map_err(|e| match e {
                crate::signing::SignError::Timestamp(_) => {
                    JobError::retryable("timestamp_failed", e.to_string())
                }
                crate::signing::SignError::Failed(_) => {
                    JobError::permanent("sign_failed", e.to_string())
                }
            })?;
            (signed, Some(info))
        }
        None => (rendered.pdf, None),
    };
    let stored = ctx
        .storage
        .write_output(&job.owner_id, job.id, job.attempt, pdf.into())
        .await
        .map_err(|e| {
            JobError::retryable("storage_failed", format!("writing the PDF failed: {e}"))
        })?;
    let result = FileResult {
        file: stored.relative,
        bytes: stored.bytes,
        sha256: stored.sha256,
        pages: rendered.pages as u32,
        pdf_standard,
        signature,
    };
    serde_json::to_value(result).map_err(|e| JobError::permanent("internal", e.to_string()))
}

/// Renders an uploaded template in the bounded sandbox: a template that loops or allocates
/// without end is killed there, instead of holding one of this worker's threads forever (a
/// blocking render cannot be cancelled). The same data and images as an in-process render.
async fn sandboxed(
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
        pdf_standard: input.standard,
    };
    // Waits for a free child: the pool bounds how many run in this process.
    match ctx.sandbox.render(&request).await {
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
        Ok(SandboxResponse::Nonconforming {
            standard,
            diagnostics,
        }) => {
            let reasons: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
            Err(JobError::permanent(
                "nonconforming",
                format!(
                    "the document does not meet {standard}: {}",
                    reasons.join("; ")
                ),
            ))
        }
        Ok(SandboxResponse::Failed { message }) => {
            Err(JobError::permanent("render_failed", message))
        }
        // The same template with the same data would do the same again.
        Err(
            e @ (SandboxError::Timeout(_)
            | SandboxError::Crashed { .. }
            | SandboxError::OutputTooLarge(_)),
        ) => Err(JobError::permanent("render_failed", e.to_string())),
        Err(e) => Err(JobError::retryable("sandbox_unavailable", e.to_string())),
    }
}
