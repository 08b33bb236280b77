//! Bounded renders: one template compiled in a child process with a wall-clock timeout and an
//! address-space limit (`typst::compile` cannot be cancelled and its loops are not capped, so
//! templates uploaded by users are rendered in a process we can kill).
//!
//! The parent calls [`render_bounded`], which runs `<program> __render-sandbox --memory-bytes N`
//! (the `quire` binary itself by default), writes one [`SandboxRequest`] as JSON to the child's
//! stdin, closes it, and reads one [`SandboxResponse`] as JSON from its stdout. Bytes travel as
//! base64 strings. The child (`worker::render::serve_stdio`) limits its own address space and
//! CPU time before it reads anything; the parent enforces the wall-clock timeout and kills the
//! child when it passes. No typst here: `shared` only speaks the protocol.
//!
//! Compile errors are a normal response ([`SandboxResponse::CompileError`]); a child that runs
//! out of time is [`SandboxError::Timeout`], one that runs out of memory (the allocation fails
//! and the process aborts) or otherwise dies is [`SandboxError::Crashed`]. Nothing here logs,
//! and the `Debug` output of requests and responses shows sizes, never the data.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// The hidden subcommand of the `quire` binary that serves one request.
pub const SANDBOX_SUBCOMMAND: &str = "__render-sandbox";

/// How much of the child's stderr is kept for [`SandboxError::Crashed`].
const STDERR_TAIL_BYTES: usize = 4096;

/// What the child is asked to render.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxRequest {
    /// The template's files as (virtual path, bytes), the entry point at `/main.typ`.
    #[serde(with = "b64_pairs")]
    pub files: Vec<(String, Vec<u8>)>,
    /// Served to the template as `/data.json`; never interpreted as markup.
    pub data: serde_json::Value,
    /// Images by slot name: `photo`, `signature`, `logo` or `qr`.
    #[serde(with = "b64_pairs")]
    pub images: Vec<(String, Vec<u8>)>,
    /// Image fields, served at `/fields/<name>`.
    #[serde(default, with = "b64_map")]
    pub field_images: BTreeMap<String, Vec<u8>>,
    pub output: Output,
    /// The standards the PDF must meet (ignored for [`Output::Png`]).
    #[serde(default)]
    pub pdf_standard: Option<crate::domain::PdfStandard>,
}

impl fmt::Debug for SandboxRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sizes only: the data and images are the users'.
        let paths: Vec<&str> = self.files.iter().map(|(p, _)| p.as_str()).collect();
        let slots: Vec<&str> = self.images.iter().map(|(s, _)| s.as_str()).collect();
        f.debug_struct("SandboxRequest")
            .field("files", &paths)
            .field("images", &slots)
            .field("field_images", &self.field_images.len())
            .field("output", &self.output)
            .field("pdf_standard", &self.pdf_standard)
            .finish_non_exhaustive()
    }
}

/// Pixels per typographic point of [`Output::Png`]: 144 dpi, an A4 page 1191 × 1684 pixels.
pub const PNG_PIXELS_PER_PT: f32 = 2.0;

/// What the child produces. The document date (`today()`, the PDF creation date) is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Output {
    /// The whole document as PDF.
    Pdf,
    /// Page 1 as PNG, at [`PNG_PIXELS_PER_PT`].
    Png,
}

/// The child's answer. Compile errors are an answer, not a failure of the sandbox.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SandboxResponse {
    /// The PDF or PNG, the document's page count and typst's warnings.
    Ok {
        #[serde(with = "b64")]
        bytes: Vec<u8>,
        pages: usize,
        warnings: Vec<SandboxDiagnostic>,
    },
    /// The template does not compile; the errors are located where typst could.
    CompileError { diagnostics: Vec<SandboxDiagnostic> },
    /// The document does not meet the requested `pdf_standard`: typst's reasons (missing
    /// alternative text, language, heading order, ...), located where typst could.
    Nonconforming {
        standard: crate::domain::PdfStandard,
        diagnostics: Vec<SandboxDiagnostic>,
    },
    /// Anything else the child could answer: an invalid template (bad paths, no `/main.typ`),
    /// an invalid request (unknown image slot), an export error.
    Failed { message: String },
}

impl fmt::Debug for SandboxResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok {
                bytes,
                pages,
                warnings,
            } => f
                .debug_struct("Ok")
                .field("bytes", &bytes.len())
                .field("pages", pages)
                .field("warnings", warnings)
                .finish(),
            Self::CompileError { diagnostics } => f
                .debug_struct("CompileError")
                .field("diagnostics", diagnostics)
                .finish(),
            Self::Nonconforming {
                standard,
                diagnostics,
            } => f
                .debug_struct("Nonconforming")
                .field("standard", standard)
                .field("diagnostics", diagnostics)
                .finish(),
            Self::Failed { message } => f.debug_struct("Failed").field("message", message).finish(),
        }
    }
}

/// One typst error or warning, located where possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxDiagnostic {
    pub message: String,
    /// Virtual path of the file, e.g. `/main.typ` or `/data.json`.
    pub path: Option<String>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub hints: Vec<String>,
}

/// How a bounded render runs; see `Config::sandbox_limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxLimits {
    /// The `quire` binary (it serves `__render-sandbox`).
    pub program: PathBuf,
    /// Wall-clock time from spawn to the child's exit, enforced by the parent.
    pub timeout: Duration,
    /// The child's address-space limit (`RLIMIT_AS`), which counts every mapping: the binary,
    /// thread stacks, allocator arenas, not only the heap.
    pub memory_bytes: u64,
    /// Most children of one [`SandboxPool`] running at once.
    pub max_children: usize,
    /// Largest answer read from the child; a bigger one is [`SandboxError::OutputTooLarge`].
    pub max_output_bytes: usize,
}

/// Bounds how many children run at once in this process: the API asks with
/// [`SandboxPool::try_render`] (and answers 503 when all are busy, so a flood of previews
/// cannot start hundreds of 1 GiB children), the worker with [`SandboxPool::render`] (its jobs
/// wait their turn). Cloning shares the slots.
#[derive(Clone)]
pub struct SandboxPool {
    limits: SandboxLimits,
    slots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl SandboxPool {
    pub fn new(limits: SandboxLimits) -> Self {
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_children.max(1)));
        Self { limits, slots }
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// Renders when a child slot is free, waiting for one otherwise.
    pub async fn render(&self, request: &SandboxRequest) -> Result<SandboxResponse, SandboxError> {
        let _slot = self.slots.acquire().await.map_err(|_| SandboxError::Busy)?;
        render_bounded(&self.limits, request).await
    }

    /// Renders if a child slot is free now; [`SandboxError::Busy`] otherwise.
    pub async fn try_render(
        &self,
        request: &SandboxRequest,
    ) -> Result<SandboxResponse, SandboxError> {
        let _slot = self.slots.try_acquire().map_err(|_| SandboxError::Busy)?;
        render_bounded(&self.limits, request).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The child could not be started (the program is missing or not executable). A server
    /// fault, not the template's.
    #[error("cannot start the render sandbox: {0}")]
    Spawn(#[source] std::io::Error),
    /// The render did not finish in time; the child was killed. The template's fault.
    #[error("the template took longer than {} to render", seconds(.0))]
    Timeout(Duration),
    /// The child was killed by a signal or exited non-zero: out of memory (the allocation
    /// fails and the process aborts), the CPU backstop, or a panic. The template's fault as
    /// far as anyone can tell. `stderr_tail` (the end of the child's stderr) is for operators'
    /// logs; it is not part of the message.
    #[error("the template ran out of memory or crashed while rendering ({status})")]
    Crashed {
        status: ExitStatus,
        stderr_tail: String,
    },
    /// Every child slot of the pool is taken; try again shortly. Not the template's fault.
    #[error("every render sandbox is busy; try again shortly")]
    Busy,
    /// The child's answer was larger than the limit (a document of absurd size). The
    /// template's fault; the child was killed.
    #[error("the rendered document is larger than {} MiB", .0 / (1024 * 1024))]
    OutputTooLarge(usize),
    /// The child exited cleanly but its answer could not be read, or the pipes failed. A
    /// server fault.
    #[error("the render sandbox answered badly: {0}")]
    Protocol(String),
}

impl SandboxError {
    /// True when the template is to blame (an API answers 422); false for server faults (500).
    pub fn is_template_fault(&self) -> bool {
        matches!(
            self,
            Self::Timeout(_) | Self::Crashed { .. } | Self::OutputTooLarge(_)
        )
    }
}

/// "10 s", "1.5 s".
fn seconds(duration: &Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// Renders `request` in a child process bounded by `limits`. When the timeout passes the child
/// is killed and waited for (no zombie); if this future is dropped instead, the child is killed
/// and tokio reaps it in the background.
pub async fn render_bounded(
    limits: &SandboxLimits,
    request: &SandboxRequest,
) -> Result<SandboxResponse, SandboxError> {
    let input = serde_json::to_vec(request)
        .map_err(|e| SandboxError::Protocol(format!("cannot encode the request: {e}")))?;
    // Relative paths the child might open resolve here, not in the service's directory.
    let workdir = tempfile::Builder::new()
        .prefix("quire-sandbox-")
        .tempdir()
        .map_err(SandboxError::Spawn)?;
    let mut child = Command::new(&limits.program)
        .arg(SANDBOX_SUBCOMMAND)
        .arg("--memory-bytes")
        .arg(limits.memory_bytes.to_string())
        // The child needs no settings, and should hold no secrets (database URLs) or paths
        // (DATA_DIR) either; it starts in an empty directory of its own (below).
        .env_clear()
        .current_dir(workdir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(SandboxError::Spawn)?;
    let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(SandboxError::Protocol(
            "the child's pipes are missing".into(),
        ));
    };

    let exchange = async {
        let write = async move {
            let written = stdin.write_all(&input).await;
            // Dropping stdin closes it: the child reads to end of input.
            drop(stdin);
            written
        };
        let max = limits.max_output_bytes;
        let read = async {
            let mut out = Vec::new();
            let read = (&mut stdout)
                .take(max as u64 + 1)
                .read_to_end(&mut out)
                .await;
            if out.len() > max {
                // Stop the child now: it would block on the full pipe until the timeout.
                let _ = child.start_kill();
            }
            read.map(|_| out)
        };
        let (written, output, stderr_tail) = tokio::join!(write, read, tail(stderr));
        let status = child.wait().await;
        (written, output, stderr_tail, status)
    };
    let finished = tokio::time::timeout(limits.timeout, exchange).await;
    let Ok((written, output, stderr_tail, status)) = finished else {
        // SIGKILL, then wait: the child is reaped, not left a zombie.
        let _ = child.kill().await;
        return Err(SandboxError::Timeout(limits.timeout));
    };

    if matches!(&output, Ok(out) if out.len() > limits.max_output_bytes) {
        return Err(SandboxError::OutputTooLarge(limits.max_output_bytes));
    }
    let status =
        status.map_err(|e| SandboxError::Protocol(format!("waiting for the child: {e}")))?;
    if !status.success() {
        // A write error here is the child dying early (broken pipe); its status says why.
        return Err(SandboxError::Crashed {
            status,
            stderr_tail,
        });
    }
    written.map_err(|e| SandboxError::Protocol(format!("writing the request: {e}")))?;
    let output = output.map_err(|e| SandboxError::Protocol(format!("reading the answer: {e}")))?;
    serde_json::from_slice(&output).map_err(|e| {
        // Position only: serde's messages can quote the payload.
        SandboxError::Protocol(format!(
            "malformed answer at line {} column {}",
            e.line(),
            e.column()
        ))
    })
}

/// Reads `reader` to its end, keeping the last [`STDERR_TAIL_BYTES`].
async fn tail(mut reader: impl AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&chunk[..n]);
                if kept.len() > 2 * STDERR_TAIL_BYTES {
                    kept.drain(..kept.len() - STDERR_TAIL_BYTES);
                }
            }
        }
    }
    let start = kept.len().saturating_sub(STDERR_TAIL_BYTES);
    String::from_utf8_lossy(&kept[start..]).trim().to_owned()
}

/// Bytes as one base64 string.
mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        STANDARD.decode(text.as_bytes()).map_err(D::Error::custom)
    }

    /// Wraps bytes for use inside other containers.
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Bytes(#[serde(with = "self")] pub Vec<u8>);

    /// The borrowed form of [`Bytes`], for serializing without a copy.
    #[derive(serde::Serialize)]
    pub struct BytesRef<'a>(#[serde(with = "self")] pub &'a [u8]);
}

/// `Vec<(String, Vec<u8>)>` as a list of `[name, base64]` pairs.
mod b64_pairs {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::b64::{Bytes, BytesRef};

    pub fn serialize<S: Serializer>(
        pairs: &[(String, Vec<u8>)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(pairs.iter().map(|(name, bytes)| (name, BytesRef(bytes))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(String, Vec<u8>)>, D::Error> {
        let pairs = Vec::<(String, Bytes)>::deserialize(deserializer)?;
        Ok(pairs
            .into_iter()
            .map(|(name, bytes)| (name, bytes.0))
            .collect())
    }
}

/// `BTreeMap<String, Vec<u8>>` as an object of base64 strings.
mod b64_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::b64::{Bytes, BytesRef};

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(map.iter().map(|(name, bytes)| (name, BytesRef(bytes))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Vec<u8>>, D::Error> {
        let map = BTreeMap::<String, Bytes>::deserialize(deserializer)?;
        Ok(map
            .into_iter()
            .map(|(name, bytes)| (name, bytes.0))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SandboxRequest {
        SandboxRequest {
            files: vec![("/main.typ".into(), b"= Hi".to_vec())],
            data: serde_json::json!({ "name": "Zoë" }),
            images: vec![("photo".into(), vec![0, 1, 2, 255])],
            field_images: BTreeMap::from([("badge".into(), vec![9; 10])]),
            output: Output::Png,
            pdf_standard: None,
        }
    }

    #[test]
    fn requests_and_responses_round_trip_with_bytes_as_base64() {
        let wire = serde_json::to_string(&request()).unwrap();
        assert!(wire.contains(r#"["photo","AAEC/w=="]"#), "{wire}");
        assert!(wire.contains(r#""output":"png""#), "{wire}");
        let back: SandboxRequest = serde_json::from_str(&wire).unwrap();
        assert_eq!(back.files, request().files);
        assert_eq!(back.images, request().images);
        assert_eq!(back.field_images, request().field_images);
        assert_eq!(back.output, request().output);

        let response = SandboxResponse::Ok {
            bytes: b"%PDF".to_vec(),
            pages: 1,
            warnings: vec![SandboxDiagnostic {
                message: "unused".into(),
                path: Some("/main.typ".into()),
                line: Some(1),
                column: Some(2),
                hints: vec![],
            }],
        };
        let wire = serde_json::to_string(&response).unwrap();
        assert!(wire.contains(r#""status":"ok""#), "{wire}");
        assert_eq!(
            serde_json::from_str::<SandboxResponse>(&wire).unwrap(),
            response
        );
    }

    #[test]
    fn debug_output_shows_no_data() {
        let text = format!("{:?}", request());
        assert!(!text.contains("Zoë"), "{text}");
        let response = SandboxResponse::Ok {
            bytes: vec![7; 1000],
            pages: 1,
            warnings: vec![],
        };
        assert!(format!("{response:?}").contains("bytes: 1000"));
    }

    #[test]
    fn errors_read_as_answers() {
        assert_eq!(
            SandboxError::Timeout(Duration::from_secs(10)).to_string(),
            "the template took longer than 10 s to render"
        );
        assert_eq!(
            SandboxError::Timeout(Duration::from_millis(1500)).to_string(),
            "the template took longer than 1.5 s to render"
        );
        assert!(SandboxError::Timeout(Duration::from_secs(1)).is_template_fault());
        let spawn = SandboxError::Spawn(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!spawn.is_template_fault());
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error() {
        let limits = SandboxLimits {
            program: PathBuf::from("/nonexistent/quire"),
            timeout: Duration::from_secs(1),
            memory_bytes: 1 << 30,
            max_children: 1,
            max_output_bytes: 1 << 20,
        };
        let err = render_bounded(&limits, &request()).await.unwrap_err();
        assert!(matches!(err, SandboxError::Spawn(_)), "{err}");
    }
}
