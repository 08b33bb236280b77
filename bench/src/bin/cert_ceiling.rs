//! `cert_ceiling --jobs N [--threads T] [--sign IDENTITY]`: the render ceiling of certificates
//! on this machine.
//! Renders N certificates in this process with the worker's own renderer (`worker::render`,
//! the built-in `classic` template, the benchmark's photo, a fresh QR code and data per job,
//! exactly what `jobs::certificate` hands the engine) on T threads (default: every core), and
//! prints one JSON line: `{"jobs":N,"threads":T,"wall_s":S,"renders_per_s":R,
//! "render_p50_ms":..,"render_p99_ms":..,"pdf_bytes":B,"peak_rss_mib":M,"signed":false}`.
//! With `--sign`, each PDF is also signed (PAdES B-B, `worker::signing`, as a worker with
//! `signing.identity_file` does) inside the timed part: the cost of signing and the bytes it
//! adds, against a run without.
//!
//! No database, queue or file is involved: this is what the full system's end-to-end rate is
//! measured against (`bench/run.sh` prints the ratio).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use base64::Engine as _;
use bench::stats::Latencies;
use clap::Parser;
use shared::domain::CalendarDate;
use shared::jobs::CertificatePayload;
use shared::verification::{qr_svg, verify_url};
use worker::render::{Engine, ImageSlot, RenderInput, Template, builtin_templates};

const BASE_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(
    name = "cert_ceiling",
    about = "Renders N certificates in-process on every core and prints one JSON line."
)]
struct Args {
    /// Certificates to render (after one warm-up render per thread).
    #[arg(long, default_value_t = 2000)]
    jobs: usize,
    /// Render threads; default the number of cores.
    #[arg(long)]
    threads: Option<usize>,
    /// Sign each PDF with this identity (PEM: certificate chain and PKCS#8 key).
    #[arg(long, value_name = "IDENTITY")]
    sign: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    bench::exit_with_line("cert_ceiling", run(&Args::parse()))
}

fn run(args: &Args) -> anyhow::Result<String> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let engine = Arc::new(Engine::new().context("loading the fonts")?);
    let classic = builtin_templates()?
        .into_iter()
        .find(|t| t.name == "classic")
        .context("no built-in classic template")?;
    let template = Arc::new(Template::compile(classic.content.files())?);
    let photo = base64::engine::general_purpose::STANDARD
        .decode(bench::photo::generate()?.base64)
        .context("decoding the benchmark photo")?;
    let photo = Arc::new(photo);
    let signer = match &args.sign {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
            Some(Arc::new(
                worker::signing::Signer::from_pem(&pem).map_err(anyhow::Error::msg)?,
            ))
        }
        None => None,
    };

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (engine, template, photo, next, signer) = (
                engine.clone(),
                template.clone(),
                photo.clone(),
                next.clone(),
                signer.clone(),
            );
            let jobs = args.jobs;
            std::thread::spawn(move || -> anyhow::Result<(Latencies, usize)> {
                // Warm-up, not counted: the first render of a thread pays for typst's caches.
                engine.render(&template, &input(usize::MAX - t, &photo))?;
                let mut latencies = Latencies::new();
                let mut bytes = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs {
                        return Ok((latencies, bytes));
                    }
                    let one = Instant::now();
                    let rendered = engine.render(&template, &input(i, &photo))?;
                    let pdf = match &signer {
                        Some(signer) => {
                            let now = time::OffsetDateTime::now_utc();
                            signer.sign_pdf(&rendered.pdf, now, None)?.0
                        }
                        None => rendered.pdf,
                    };
                    latencies.record(one.elapsed());
                    bytes = pdf.len();
                }
            })
        })
        .collect();
    let mut latencies = Latencies::new();
    let mut pdf_bytes = 0;
    for worker in workers {
        let (l, bytes) = worker
            .join()
            .map_err(|_| anyhow::anyhow!("a render thread panicked"))??;
        latencies.merge(&l);
        pdf_bytes = pdf_bytes.max(bytes);
    }
    let wall = started.elapsed().as_secs_f64();
    let summary = latencies.summary().context("no renders")?;
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let memory = bench::rss::parse_status(std::process::id(), &status)?;
    let round = |x: f64| (x * 10.0).round() / 10.0;
    Ok(serde_json::to_string(&Line {
        jobs: args.jobs,
        threads,
        wall_s: (wall * 1000.0).round() / 1000.0,
        renders_per_s: round(args.jobs as f64 / wall),
        render_p50_ms: round(summary.p50_ms),
        render_p99_ms: round(summary.p99_ms),
        pdf_bytes,
        peak_rss_mib: round(memory.peak_mb),
        signed: signer.is_some(),
    })?)
}

/// The JSON line, in this key order.
#[derive(Debug, serde::Serialize)]
struct Line {
    jobs: usize,
    threads: usize,
    wall_s: f64,
    renders_per_s: f64,
    render_p50_ms: f64,
    render_p99_ms: f64,
    pdf_bytes: usize,
    peak_rss_mib: f64,
    signed: bool,
}

/// Certificate `i`'s input as the worker builds it: the payload's template data, the photo
/// and the QR code of its own verification URL.
fn input(i: usize, photo: &[u8]) -> RenderInput {
    let code = format!("BNCH-{:04}-{:04}", (i / 10_000) % 10_000, i % 10_000);
    let payload = CertificatePayload {
        template: "classic".into(),
        template_id: None,
        template_version: None,
        recipient_name: format!("Recipient {i}"),
        course_name: "Benchmarking Document Pipelines".into(),
        issued_on: CalendarDate::today(),
        issuer_name: Some("Quire Academy".into()),
        expires_on: None,
        verification_code: code.clone(),
        has_photo: true,
        has_signature: false,
        fields: serde_json::Map::new(),
        image_fields: Vec::new(),
        notify: None,
        pdf_standard: None,
    };
    RenderInput {
        data: payload.template_data(BASE_URL),
        images: vec![
            (ImageSlot::Photo, photo.to_vec()),
            (
                ImageSlot::Qr,
                qr_svg(&verify_url(BASE_URL, &code)).into_bytes(),
            ),
        ],
        ..RenderInput::default()
    }
}
