//! `merge_parts --parts N`: the workflow `merge` step's cost. Renders R distinct one-page
//! certificates with the built-in `classic` template (as the worker does), then merges N
//! parts (the R PDFs in turn) with `worker::merge::Merger` into a temporary file, a part at a
//! time as the worker's merge reads them, and prints one JSON line:
//! `{"parts":N,"distinct":R,"pages":P,"merge_ms":T,"merged_mib":S,"peak_rss_mib":M,
//! "rss_before_mib":B}`. `merge_ms` is the merge alone; `peak_rss_mib` the process's peak
//! resident memory (`VmHWM`) at the end, `rss_before_mib` its resident memory before the
//! merge (the renderer's fonts and the R parts), so the merge's own share is the difference.

use std::io::BufWriter;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use shared::domain::CalendarDate;
use shared::jobs::CertificatePayload;
use shared::verification::{qr_svg, verify_url};
use worker::merge::Merger;
use worker::render::{Engine, ImageSlot, RenderInput, Template, builtin_templates};

const BASE_URL: &str = "https://quire.example";

#[derive(Debug, Parser)]
#[command(
    name = "merge_parts",
    about = "Merges N one-page certificates into one PDF and prints one JSON line."
)]
struct Args {
    /// Parts to merge.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    parts: u64,
    /// Distinct certificates rendered (the parts cycle through them).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    distinct: u64,
}

fn main() -> ExitCode {
    bench::exit_with_line("merge_parts", run(&Args::parse()))
}

fn run(args: &Args) -> anyhow::Result<String> {
    let engine = Engine::new().context("loading the fonts")?;
    let classic = builtin_templates()?
        .into_iter()
        .find(|t| t.name == "classic")
        .context("no built-in classic template")?;
    let template = Template::compile(classic.content.files())?;
    let mut pdfs = Vec::new();
    for i in 0..args.distinct as usize {
        pdfs.push(engine.render(&template, &input(i))?.pdf);
    }
    let rss_before = bench::rss::sample(std::process::id())?.rss_mb;
    let path = std::env::temp_dir().join(format!("merge_parts-{}.pdf", std::process::id()));
    let started = Instant::now();
    let mut merger = Merger::new(BufWriter::new(std::fs::File::create(&path)?))?;
    for n in 0..args.parts as usize {
        let pdf = &pdfs[n % pdfs.len()];
        merger.add(&format!("Recipient {n}"), pdf)?;
    }
    let (merged, _) = merger.finish()?;
    let merge_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _ = std::fs::remove_file(&path);
    let peak = bench::rss::sample(std::process::id())?.peak_mb;
    Ok(serde_json::json!({
        "parts": args.parts,
        "distinct": args.distinct,
        "pages": merged.pages,
        "merge_ms": merge_ms.round(),
        "merged_mib": (merged.bytes as f64 / 1048576.0 * 10.0).round() / 10.0,
        "peak_rss_mib": (peak * 10.0).round() / 10.0,
        "rss_before_mib": (rss_before * 10.0).round() / 10.0,
    })
    .to_string())
}

fn input(i: usize) -> RenderInput {
    let code = format!("MRGE-{:04}-{:04}", (i / 10_000) % 10_000, i % 10_000);
    let payload = CertificatePayload {
        template: "classic".into(),
        template_id: None,
        template_version: None,
        recipient_name: format!("Recipient {i}"),
        course_name: "Merging Document Pipelines".into(),
        issued_on: CalendarDate::today(),
        issuer_name: Some("Quire Academy".into()),
        expires_on: None,
        verification_code: code.clone(),
        has_photo: false,
        has_signature: false,
        fields: serde_json::Map::new(),
        image_fields: Vec::new(),
        notify: None,
        pdf_standard: None,
    };
    RenderInput {
        data: payload.template_data(BASE_URL),
        images: vec![(
            ImageSlot::Qr,
            qr_svg(&verify_url(BASE_URL, &code)).into_bytes(),
        )],
        ..RenderInput::default()
    }
}
