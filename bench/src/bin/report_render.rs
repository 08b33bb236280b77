//! `report_render --pages N [--pdfa]`: renders one SAT report of about N pages in this process
//! with the built-in `sat` template (`worker::render`, as the worker does) and prints one JSON
//! line: `{"pages_target":N,"pages":P,"rows":R,"render_ms":T,"peak_rss_mib":M,"pdfa":false,
//! "pdf_bytes":B}`.
//!
//! The report is the sample report (`shared::reports::sample`: equipment, punch list, a text
//! section, a photo and a signed sign-off) with test sections of up to 250 rows each (one row
//! in seven fails, some are n.a.); the row count is calibrated so the PDF has about N pages.
//! `render_ms` is the render alone (layout and PDF export), not loading the fonts or parsing
//! the template; `peak_rss_mib` is the process's peak resident memory (`VmHWM`) at the end.
//! Nothing is written to disk.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use serde_json::Value;
use shared::reports::{Outcome, ResultRow, TestSection};
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
    bench::exit_with_line("report_render", run(&Args::parse()))
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
        standard: args.pdfa.then_some(shared::domain::PdfStandard::A2B),
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

/// A report with `rows` result rows in all, built as the API builds one and turned into the
/// template's data by the same code the worker runs (`ReportContent::template_data`): the
/// sample report's cover, lists and sign-off, with its sections replaced.
fn report(rows: usize) -> Value {
    let mut report = shared::reports::sample();
    report.sections.clear();
    let mut left = rows;
    while left > 0 || report.sections.is_empty() {
        let number = report.sections.len() + 1;
        let count = left.min(ROWS_PER_SECTION);
        left -= count;
        let rows = (1..=count)
            .map(|row| {
                let result = if row % 7 == 3 {
                    Outcome::Fail
                } else if row % 5 == 4 {
                    Outcome::Na
                } else {
                    Outcome::Pass
                };
                ResultRow {
                    item: format!("{number}.{row}"),
                    description: format!(
                        "Check input {row} of panel {number} responds to the test signal"
                    ),
                    expected: "Status changes within 2 s".into(),
                    actual: if result == Outcome::Fail {
                        "No change after 10 s"
                    } else {
                        "Changed in 1.2 s"
                    }
                    .into(),
                    result,
                    remarks: if row % 4 == 0 {
                        ""
                    } else {
                        "Witnessed by client"
                    }
                    .into(),
                }
            })
            .collect();
        report.sections.push(TestSection {
            title: format!("Test group {number}"),
            body: shared::reports::parse_blocks("Tests run with the plant isolated."),
            rows,
        });
    }
    report.template_data()
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
