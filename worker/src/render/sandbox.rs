//! The child side of a bounded render (`quire __render-sandbox`, see `shared::sandbox`): limit
//! this process's address space and CPU time, read one request from stdin, render it, write
//! one response to stdout, exit.
//!
//! The parent enforces the wall-clock timeout; the limits here stop what the parent cannot see
//! coming. `RLIMIT_AS` counts every mapping, not only the heap: the binary itself, the fonts,
//! a stack and a malloc arena per thread (typst exports PDFs on rayon threads). A request that
//! needs more fails an allocation and the process aborts, which the parent reports as a crash.
//! Measured with the `classic` certificate (2 cores, dev build with optimised dependencies): the
//! PDF renders from ~100 MiB, the PNG from ~113 MiB; each extra rayon thread (one per core)
//! adds ~2 MiB of stack, so 32 threads need ~160 MiB. The default of 1 GiB (`sandbox.memory_mb`)
//! leaves room for many-page documents and many cores. Spawn + render of that certificate takes
//! ~20-30 ms (the process starts in ~4 ms; the rest is a cold typst: no memoized layout).

use std::io::{Read, Write};

use anyhow::Context as _;
use shared::sandbox::{
    Output, PNG_PIXELS_PER_PT, SandboxDiagnostic, SandboxRequest, SandboxResponse,
};

use super::{Diagnostic, Engine, ImageSlot, RenderError, RenderInput, Template};

/// CPU seconds (all threads together) before the kernel stops the child: a backstop for a
/// child whose parent died without killing it. The parent's timeout (at most 120 s of wall
/// time, at ~1.1 cores per render) always comes first.
const CPU_BACKSTOP_SECS: u64 = 180;

/// `RLIMIT_NPROC` of the child: tasks (processes and threads) of the service's user.
const MAX_USER_TASKS: u64 = 4096;

/// Serves one request on stdin/stdout. Compile errors are a normal response: this returns an
/// error (and the process exits non-zero) only when it cannot limit itself or use its pipes.
/// Writes nothing but the response to stdout.
pub fn serve_stdio(memory_bytes: u64) -> anyhow::Result<()> {
    limit_self(memory_bytes)?;
    let mut raw = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut raw)
        .context("reading the request")?;
    let response = match serde_json::from_slice::<SandboxRequest>(&raw) {
        Ok(request) => {
            drop(raw);
            handle(request)
        }
        // Position only: serde's messages can quote the data.
        Err(err) => SandboxResponse::Failed {
            message: format!(
                "malformed request at line {} column {}",
                err.line(),
                err.column()
            ),
        },
    };
    let out = serde_json::to_vec(&response).context("encoding the response")?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out).context("writing the response")?;
    stdout.flush().context("writing the response")?;
    Ok(())
}

#[cfg(unix)]
fn limit_self(memory_bytes: u64) -> anyhow::Result<()> {
    use rlimit::Resource;
    anyhow::ensure!(memory_bytes > 0, "--memory-bytes must be more than 0");
    // Soft and hard: the template cannot raise them again.
    Resource::AS
        .set(memory_bytes, memory_bytes)
        .context("limiting the address space")?;
    Resource::CPU
        .set(CPU_BACKSTOP_SECS, CPU_BACKSTOP_SECS + 5)
        .context("limiting CPU time")?;
    // A template that runs out of memory aborts: no core file of it on the host's disk.
    Resource::CORE.set(0, 0).context("disabling core dumps")?;
    // The child writes only to its pipes: any regular file it tried to grow would fail.
    Resource::FSIZE.set(0, 0).context("limiting file sizes")?;
    // No fork bombs. The limit counts every task of this user (the service's own threads
    // too; root is exempt), so it is generous rather than tight, and never raised.
    let (soft, hard) = Resource::NPROC.get().context("reading the process limit")?;
    let nproc = MAX_USER_TASKS.min(soft).min(hard);
    Resource::NPROC
        .set(nproc, nproc)
        .context("limiting processes")?;
    Ok(())
}

#[cfg(not(unix))]
fn limit_self(_memory_bytes: u64) -> anyhow::Result<()> {
    anyhow::bail!("bounded renders need resource limits, which only Unix systems have here")
}

/// Renders one request; every outcome is a response.
pub(crate) fn handle(request: SandboxRequest) -> SandboxResponse {
    match render(request) {
        Ok(response) => response,
        Err(RenderError::Compile(diagnostics)) => SandboxResponse::CompileError {
            diagnostics: diagnostics.into_iter().map(convert).collect(),
        },
        Err(RenderError::Nonconforming {
            standard,
            diagnostics,
        }) => SandboxResponse::Nonconforming {
            standard,
            diagnostics: diagnostics.into_iter().map(convert).collect(),
        },
        Err(err) => SandboxResponse::Failed {
            message: err.to_string(),
        },
    }
}

fn render(request: SandboxRequest) -> Result<SandboxResponse, RenderError> {
    let mut images = Vec::with_capacity(request.images.len());
    for (name, bytes) in request.images {
        images.push((slot(&name)?, bytes));
    }
    let input = RenderInput {
        data: request.data,
        images,
        field_images: request.field_images,
        timestamp: None,
        standard: request.pdf_standard,
    };
    let template = Template::compile(request.files)?;
    let engine = Engine::new()?;
    let (bytes, pages, warnings) = match request.output {
        Output::Pdf => {
            let (rendered, warnings) = engine.render_with_warnings(&template, &input)?;
            (rendered.pdf, rendered.pages, warnings)
        }
        Output::Png => {
            let (rendered, warnings) =
                engine.render_png_with_warnings(&template, &input, PNG_PIXELS_PER_PT)?;
            (rendered.png, rendered.pages, warnings)
        }
    };
    Ok(SandboxResponse::Ok {
        bytes,
        pages,
        warnings: warnings.into_iter().map(convert).collect(),
    })
}

fn slot(name: &str) -> Result<ImageSlot, RenderError> {
    ImageSlot::from_name(name).ok_or_else(|| {
        RenderError::Input(format!(
            "unknown image slot {name:?} (photo, signature, logo, qr)"
        ))
    })
}

fn convert(diagnostic: Diagnostic) -> SandboxDiagnostic {
    SandboxDiagnostic {
        message: diagnostic.message,
        path: diagnostic.path,
        line: diagnostic.line,
        column: diagnostic.column,
        hints: diagnostic.hints,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    // `serve_stdio` limits the calling process, so it is tested through the `quire` binary
    // (quire/tests/integration/sandbox.rs); these call the part behind the pipes.

    fn request(source: &str, output: Output) -> SandboxRequest {
        SandboxRequest {
            files: vec![("/main.typ".into(), source.as_bytes().to_vec())],
            data: json!({ "name": "Ada Lovelace" }),
            images: vec![],
            field_images: BTreeMap::new(),
            output,
            pdf_standard: None,
        }
    }

    #[test]
    fn sandbox_renders_pdf_and_png() {
        let source = "#set page(width: 100pt, height: 50pt)\n#json(\"/data.json\").at(\"name\")";
        let SandboxResponse::Ok { bytes, pages, .. } = handle(request(source, Output::Pdf)) else {
            panic!("no PDF");
        };
        assert!(bytes.starts_with(b"%PDF"));
        assert_eq!(pages, 1);
        let SandboxResponse::Ok { bytes, .. } = handle(request(source, Output::Png)) else {
            panic!("no PNG");
        };
        assert!(bytes.starts_with(b"\x89PNG"));
    }

    #[test]
    fn sandbox_exports_pdfa_when_asked() {
        let source = "#set page(width: 100pt, height: 50pt)\n#json(\"/data.json\").at(\"name\")";
        let has_pdfa_id = |request: SandboxRequest| {
            let SandboxResponse::Ok { bytes, .. } = handle(request) else {
                panic!("no PDF");
            };
            String::from_utf8_lossy(&bytes).contains("pdfaid:part")
        };
        assert!(!has_pdfa_id(request(source, Output::Pdf)));
        let mut archival = request(source, Output::Pdf);
        archival.pdf_standard = Some(shared::domain::PdfStandard::A2B);
        assert!(has_pdfa_id(archival));
    }

    #[test]
    fn sandbox_answers_compile_errors_located() {
        let response = handle(request("Hello\n#let x = ", Output::Pdf));
        let SandboxResponse::CompileError { diagnostics } = response else {
            panic!("{response:?}");
        };
        assert_eq!(diagnostics[0].path.as_deref(), Some("/main.typ"));
        assert_eq!(diagnostics[0].line, Some(2));
        assert!(diagnostics[0].column.is_some());
    }

    #[test]
    fn sandbox_answers_other_failures() {
        let mut bad_slot = request("Hi", Output::Pdf);
        bad_slot.images.push(("avatar".into(), vec![1]));
        let response = handle(bad_slot);
        assert!(
            matches!(&response, SandboxResponse::Failed { message } if message.contains("avatar")),
            "{response:?}"
        );
        let mut no_main = request("Hi", Output::Pdf);
        no_main.files[0].0 = "/other.typ".into();
        let response = handle(no_main);
        assert!(
            matches!(&response, SandboxResponse::Failed { message } if message.contains("main.typ")),
            "{response:?}"
        );
    }
}
