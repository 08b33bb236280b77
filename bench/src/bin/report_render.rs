//! `report_render --pages N [--pdfa]`: renders one SAT report of about N pages in this process
//! with the built-in `sat` template (`worker::render`, as the worker does) and prints one JSON
//! line: `{"pages_target":N,"pages":P,"rows":R,"render_ms":T,"peak_rss_mib":M,"pdfa":false,
//! "pdf_bytes":B}`.
//!
//! The report has test sections of up to 250 rows each (one row in seven fails, some are n.a.),
//! a photo and two sign-offs; the row count is calibrated so the PDF has about N pages.
//! `render_ms` is the render alone (layout and PDF export), not loading the fonts or parsing
//! the template; `peak_rss_mib` is the process's peak resident memory (`VmHWM`) at the end.
//! Nothing is written to disk.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use serde_json::{Value, json};
use worker::render::{Engine, RenderInput, Template, builtin_templates};

/// Result rows per page of the results tables (two-line descriptions, A4), measured.
const ROWS_PER_PAGE: usize = 30;
/// Pages that are not results tables: cover, contents, summary with scope and equipment,
/// punch list with text sections, images and sign-off.
const FIXED_PAGES: usize = 4;
const ROWS_PER_SECTION: usize = 250;

#[derive(Debug, Parser)]
#[command(
    name = "report_render",
    about = "Renders one SAT report of about N pages in-process and prints one JSON line."
)]
struct Args {
    /// Target page count.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pages: u64,
    /// Export as PDF/A-2b.
    #[arg(long)]
    pdfa: bool,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("report_render: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<String> {
    let target = usize::try_from(args.pages).context("--pages")?;
    let rows = target.saturating_sub(FIXED_PAGES) * ROWS_PER_PAGE;

    let engine = Engine::new().context("loading the fonts")?;
    let sat = builtin_templates()?
        .into_iter()
        .find(|t| t.name == "sat")
        .context("no built-in sat template")?;
    let template = Template::compile(sat.content.files())?;
    let input = RenderInput {
        data: report(rows),
        field_images: images()?,
        pdfa: args.pdfa,
        ..RenderInput::default()
    };

    let started = Instant::now();
    let rendered = engine.render(&template, &input)?;
    let render_ms = started.elapsed().as_secs_f64() * 1000.0;

    let pid = std::process::id();
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let memory = bench::rss::parse_status(pid, &status)?;
    let line = Line {
        pages_target: target,
        pages: rendered.pages,
        rows,
        render_ms: (render_ms * 10.0).round() / 10.0,
        peak_rss_mib: (memory.peak_mb * 10.0).round() / 10.0,
        pdfa: args.pdfa,
        pdf_bytes: rendered.pdf.len(),
    };
    Ok(serde_json::to_string(&line)?)
}

/// The JSON line, in this key order.
#[derive(Debug, serde::Serialize)]
struct Line {
    pages_target: usize,
    pages: usize,
    rows: usize,
    render_ms: f64,
    peak_rss_mib: f64,
    pdfa: bool,
    pdf_bytes: usize,
}

fn span(text: &str, strong: bool) -> Value {
    json!({ "text": text, "strong": strong, "emph": false })
}

fn paragraph(text: &str) -> Value {
    json!({ "type": "paragraph", "spans": [span(text, false)] })
}

/// Report data (the `sat` template's contract) with `rows` result rows in all.
fn report(rows: usize) -> Value {
    let mut sections = Vec::new();
    let (mut pass, mut fail, mut na) = (0, 0, 0);
    let mut left = rows;
    let mut number = 0;
    while left > 0 || number == 0 {
        number += 1;
        let count = left.min(ROWS_PER_SECTION);
        left -= count;
        let (mut p, mut f, mut n) = (0, 0, 0);
        let rows: Vec<Value> = (1..=count)
            .map(|row| {
                let result = if row % 7 == 3 {
                    f += 1;
                    "fail"
                } else if row % 5 == 4 {
                    n += 1;
                    "na"
                } else {
                    p += 1;
                    "pass"
                };
                json!({
                    "item": format!("{number}.{row}"),
                    "description": format!("Check input {row} of panel {number} responds to the test signal"),
                    "expected": "Status changes within 2 s",
                    "actual": if result == "fail" { "No change after 10 s" } else { "Changed in 1.2 s" },
                    "result": result,
                    "remarks": if row % 4 == 0 { "" } else { "Witnessed by client" },
                })
            })
            .collect();
        pass += p;
        fail += f;
        na += n;
        sections.push(json!({
            "number": number,
            "title": format!("Test group {number}"),
            "body": [paragraph("Tests run with the plant isolated.")],
            "rows": rows,
            "counts": { "pass": p, "fail": f, "na": n, "total": count },
        }));
    }
    json!({
        "title": "Site Acceptance Test Report",
        "document_number": "SAT-2026-0042",
        "revision": "B",
        "project": "North Plant Expansion",
        "client": "Acme Water Ltd",
        "site": "North Plant, Basin 3",
        "system": "Filtration PLC and SCADA",
        "dates": { "issued": "21 November 2026", "test_start": "17 November 2026", "test_end": "19 November 2026" },
        "scope": [
            paragraph("This report covers the acceptance of the filtration control system."),
            { "type": "bullets", "items": [[span("PLC hardware and ", false), span("all I/O", true)]] },
        ],
        "equipment": [
            { "name": "Multimeter", "model": "Fluke 87V", "serial": "12345", "calibration_due": "1 March 2027" },
        ],
        "sections": sections,
        "summary": {
            "pass": pass, "fail": fail, "na": na, "total": pass + fail + na,
            "verdict": if fail == 0 { "pass" } else { "fail" },
        },
        "punch_list": [
            { "item": "P-1", "description": "Replace faulty level transmitter LT-301", "severity": "high", "owner": "J. Smith", "due": "1 December 2026" },
        ],
        "text_sections": [
            { "title": "Observations", "body": [paragraph("The plant ran stably for the whole test period.")] },
        ],
        "images": [ { "path": "/fields/image-1", "caption": "Panel wiring" } ],
        "signoffs": [
            { "name": "A. Engineer", "role": "Commissioning engineer", "company": "Acme Controls", "date": "19 November 2026", "signature": "/fields/signoff-1" },
            { "name": "B. Client", "role": "Client representative", "company": "Acme Water Ltd", "date": "19 November 2026", "signature": null },
        ],
    })
}

/// A 640×480 photo and a signature, as JPEGs.
fn images() -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let jpeg = |image: image::RgbImage| -> anyhow::Result<Vec<u8>> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Jpeg)?;
        Ok(out.into_inner())
    };
    let photo = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8, (y / 2) as u8, 150])
    });
    let signature = image::RgbImage::from_fn(360, 100, |x, y| {
        let wave = 50.0 + (x as f32 / 20.0).sin() * 25.0;
        if (y as f32 - wave).abs() < 3.0 {
            image::Rgb([20, 30, 110])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    Ok(BTreeMap::from([
        ("image-1".to_owned(), jpeg(photo)?),
        ("signoff-1".to_owned(), jpeg(signature)?),
    ]))
}
