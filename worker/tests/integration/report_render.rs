//! The built-in `sat` report template rendered through the public `worker::render` API: a
//! generated report (N sections × M rows, with failures, n.a. rows, formatted text, an image
//! and sign-offs) checked page by page in the text pdf-extract reads back.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::LazyLock;
use std::time::Instant;

use crate::pdf::image_count;
use serde_json::{Value, json};
use shared::domain::PdfStandard;
use time::macros::datetime;
use worker::render::{Engine, RenderError, RenderInput, Rendered, Template, builtin_templates};

static ENGINE: LazyLock<Engine> = LazyLock::new(|| Engine::new().expect("engine loads"));

static SAT: LazyLock<Template> = LazyLock::new(|| {
    let builtin = builtin_templates()
        .expect("built-in templates load")
        .into_iter()
        .find(|t| t.name == "sat")
        .expect("the sat template is built in");
    assert_eq!(builtin.kind, shared::templates::TemplateKind::Report);
    Template::compile(builtin.content.files()).expect("sat compiles")
});

const DOC_NUMBER: &str = "SAT-2026-0042";
const HEADER: &str = "SAT-2026-0042 · Rev. B";

// ---------------------------------------------------------------------------
// Data generator

/// Test step `row` (1-based) of a section: every 7th fails, every 5th (not failing) is n.a.
fn result_of(row: usize) -> &'static str {
    if row % 7 == 3 {
        "fail"
    } else if row % 5 == 4 {
        "na"
    } else {
        "pass"
    }
}

fn span(text: &str, strong: bool, emph: bool) -> Value {
    json!({ "text": text, "strong": strong, "emph": emph })
}

fn paragraph(text: &str) -> Value {
    json!({ "type": "paragraph", "spans": [span(text, false, false)] })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Counts {
    pass: usize,
    fail: usize,
    na: usize,
}

impl Counts {
    fn total(self) -> usize {
        self.pass + self.fail + self.na
    }
    fn add(&mut self, result: &str) {
        match result {
            "pass" => self.pass += 1,
            "fail" => self.fail += 1,
            _ => self.na += 1,
        }
    }
    fn json(self) -> Value {
        json!({ "pass": self.pass, "fail": self.fail, "na": self.na, "total": self.total() })
    }
}

fn section_title(number: usize) -> String {
    const NAMES: [&str; 6] = [
        "Power-up tests",
        "Interlock checks",
        "Alarm handling",
        "SCADA communication",
        "Pump sequencing",
        "Failover behaviour",
    ];
    let name = NAMES[(number - 1) % NAMES.len()];
    if number > NAMES.len() {
        format!("{name} {number}")
    } else {
        name.to_owned()
    }
}

/// A report with `rows[i]` test steps in section i + 1, plus everything else in the contract.
/// Returns the data and the per-section counts.
fn report_data(rows: &[usize]) -> (Value, Vec<Counts>) {
    let mut sections = Vec::new();
    let mut all_counts = Vec::new();
    let mut summary = Counts::default();
    for (index, &count) in rows.iter().enumerate() {
        let number = index + 1;
        let mut counts = Counts::default();
        let rows: Vec<Value> = (1..=count)
            .map(|row| {
                let result = result_of(row);
                counts.add(result);
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
        summary.pass += counts.pass;
        summary.fail += counts.fail;
        summary.na += counts.na;
        all_counts.push(counts);
        sections.push(json!({
            "number": number,
            "title": section_title(number),
            "body": [paragraph(&format!("Tests of group {number}, run with the plant isolated."))],
            "rows": rows,
            "counts": counts.json(),
        }));
    }
    let mut summary_json = summary.json();
    summary_json["verdict"] = json!(if summary.fail == 0 { "pass" } else { "fail" });
    let data = json!({
        "title": "Site Acceptance Test Report",
        "document_number": DOC_NUMBER,
        "revision": "B",
        "project": "North Plant Expansion",
        "client": "Acme Water Ltd",
        "site": "North Plant, Basin 3",
        "system": "Filtration PLC and SCADA",
        "dates": { "issued": "21 November 2026", "test_start": "17 November 2026", "test_end": "19 November 2026" },
        "scope": [
            paragraph("This report covers the acceptance of the filtration control system."),
            {
                "type": "bullets",
                "items": [
                    [span("PLC hardware and ", false, false), span("all I/O", true, false)],
                    [span("SCADA screens and ", false, false), span("alarm lists", false, true)],
                ],
            },
        ],
        "equipment": [
            { "name": "Multimeter", "model": "Fluke 87V", "serial": "12345", "calibration_due": "1 March 2027" },
            { "name": "Loop calibrator", "model": "Fluke 709H", "serial": "98-7781", "calibration_due": "4 April 2027" },
        ],
        "sections": sections,
        "summary": summary_json,
        "punch_list": [
            { "item": "P-1", "description": "Replace faulty level transmitter LT-301", "severity": "high", "owner": "J. Smith", "due": "1 December 2026" },
            { "item": "P-2", "description": "Correct alarm text on screen 4", "severity": "low", "owner": "K. Osei", "due": null },
        ],
        "text_sections": [
            { "title": "Observations", "body": [paragraph("The plant ran stably for the whole test period.")] },
            { "title": "Recommendations", "body": [{ "type": "bullets", "items": [[span("Retest P-1 before handover", false, false)]] }] },
        ],
        "images": [ { "path": "/fields/image-1", "caption": "Panel wiring" } ],
        "signoffs": [
            { "name": "A. Engineer", "role": "Commissioning engineer", "company": "Acme Controls", "date": "19 November 2026", "signature": "/fields/signoff-1" },
            { "name": "Βασίλης Παπαδόπουλος", "role": "Client representative", "company": "Acme Water Ltd", "date": "19 November 2026", "signature": null },
        ],
    });
    (data, all_counts)
}

fn encode(image: image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode image");
    out.into_inner()
}

/// The report's images: a JPEG photo and a PNG signature.
fn images() -> BTreeMap<String, Vec<u8>> {
    let photo = image::RgbImage::from_fn(160, 120, |x, y| {
        image::Rgb([(x + 40) as u8, (y * 2) as u8, 150])
    });
    let signature = image::RgbImage::from_fn(180, 50, |x, y| {
        let ink = (y as i32 - 25 - ((x as f32 / 12.0).sin() * 12.0) as i32).abs() < 2;
        if ink {
            image::Rgb([20, 30, 110])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    BTreeMap::from([
        (
            "image-1".to_owned(),
            encode(photo, image::ImageFormat::Jpeg),
        ),
        (
            "signoff-1".to_owned(),
            encode(signature, image::ImageFormat::Png),
        ),
    ])
}

fn input(data: Value) -> RenderInput {
    RenderInput {
        data,
        field_images: images(),
        timestamp: Some(datetime!(2026-11-21 10:30 UTC)),
        ..RenderInput::default()
    }
}

/// Renders with the sat template, asserting it has no warnings.
fn render(input: &RenderInput) -> Rendered {
    let (rendered, warnings) = ENGINE
        .render_with_warnings(&SAT, input)
        .unwrap_or_else(|err| panic!("render failed: {err}"));
    assert!(warnings.is_empty(), "typst warnings: {warnings:?}");
    assert!(rendered.pdf.starts_with(b"%PDF-"));
    rendered
}

/// The text of each page, whitespace collapsed to single spaces.
fn pages_of(rendered: &Rendered) -> Vec<String> {
    let pages = pdf_extract::extract_text_from_mem_by_pages(&rendered.pdf).expect("extract text");
    assert_eq!(pages.len(), rendered.pages, "PDF page count");
    pages.iter().map(|page| collapsed(page)).collect()
}

fn collapsed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The pages (0-based) whose text contains `needle`.
fn pages_with(pages: &[String], needle: &str) -> Vec<usize> {
    (0..pages.len())
        .filter(|&i| pages[i].contains(needle))
        .collect()
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn report_small_has_cover_contents_headers_footers_and_summary() {
    let (data, counts) = report_data(&[12, 8, 15]);
    let rendered = render(&input(data.clone()));
    let pages = pages_of(&rendered);
    let n = pages.len();
    assert!((5..=10).contains(&n), "{n} pages");
    let all = pages.join("\n");

    // The cover: every identifying value, and no running header.
    for shown in [
        "Site Acceptance Test Report",
        DOC_NUMBER,
        "North Plant Expansion",
        "Acme Water Ltd",
        "North Plant, Basin 3",
        "Filtration PLC and SCADA",
        "21 November 2026",
        "17 November 2026",
        "19 November 2026",
    ] {
        assert!(
            pages[0].contains(shown),
            "cover lacks {shown:?}: {}",
            pages[0]
        );
    }
    assert!(!pages[0].contains(HEADER), "{}", pages[0]);

    // Contents on page 2, listing every heading.
    assert!(pages[1].contains("Contents"), "{}", pages[1]);
    let mut headings = vec![
        "Summary".to_owned(),
        "Scope".to_owned(),
        "Test equipment".to_owned(),
    ];
    headings.extend((1..=3).map(|number| format!("{number} {}", section_title(number))));
    headings.extend(
        [
            "Punch list",
            "Observations",
            "Recommendations",
            "Images",
            "Sign-off",
        ]
        .map(String::from),
    );
    for heading in &headings {
        assert!(
            pages[1].contains(heading.as_str()),
            "contents lack {heading:?}: {}",
            pages[1]
        );
        // And the heading itself is in the body, after the contents.
        assert!(
            pages[2..]
                .iter()
                .any(|page| page.contains(heading.as_str())),
            "{heading:?} missing from the body"
        );
    }

    // Running header after the cover; "Page X of N" on every page.
    for (index, page) in pages.iter().enumerate() {
        if index > 0 {
            assert!(
                page.contains(HEADER),
                "page {} lacks the header: {page}",
                index + 1
            );
        }
        let footer = format!("Page {} of {n}", index + 1);
        assert!(
            page.contains(&footer),
            "page {} lacks {footer:?}: {page}",
            index + 1
        );
    }

    // The summary table: one row per section with the counts the test computed, the total
    // row and the verdict.
    let summary_page = pages_with(&pages[2..], "Overall verdict")
        .first()
        .map(|&i| &pages[i + 2])
        .expect("a summary page");
    let mut total = Counts::default();
    for (index, c) in counts.iter().enumerate() {
        let row = format!(
            "{} {} {} {} {} {}",
            index + 1,
            section_title(index + 1),
            c.pass,
            c.fail,
            c.na,
            c.total()
        );
        assert!(
            summary_page.contains(&row),
            "{row:?} missing: {summary_page}"
        );
        total.pass += c.pass;
        total.fail += c.fail;
        total.na += c.na;
    }
    assert_eq!(data["summary"]["total"], json!(35));
    let row = format!(
        "Total {} {} {} {}",
        total.pass,
        total.fail,
        total.na,
        total.total()
    );
    assert!(
        summary_page.contains(&row),
        "{row:?} missing: {summary_page}"
    );
    assert!(total.fail > 0 && total.na > 0, "{total:?}");
    assert!(
        summary_page.contains("Overall verdict: FAIL"),
        "{summary_page}"
    );

    // Results, equipment, punch list, text, images and sign-offs.
    for shown in [
        "Item Description Expected Actual Result Remarks",
        "1.3 Check input 3 of panel 1",
        "PASS",
        "FAIL",
        "N/A",
        "Fluke 87V",
        "1 March 2027",
        "Item Description Severity Owner Due",
        "Replace faulty level transmitter LT-301",
        "High",
        "J. Smith",
        "The plant ran stably",
        "Retest P-1 before handover",
        "all I/O",
        "alarm lists",
        "Panel wiring",
        "A. Engineer",
        // Roles are set in capitals.
        "COMMISSIONING ENGINEER",
        "CLIENT REPRESENTATIVE",
        "Βασίλης Παπαδόπουλος",
    ] {
        assert!(all.contains(shown), "{shown:?} missing from the report");
    }
    // The photo and the one signature image are embedded.
    assert_eq!(image_count(&rendered.pdf), 2);
}

#[test]
fn report_results_table_breaks_across_pages_repeating_its_header() {
    let (data, _) = report_data(&[300]);
    let rendered = render(&input(data));
    let pages = pages_of(&rendered);
    let first = pages_with(&pages, "1.1 Check input 1 of panel 1 ");
    let last = pages_with(&pages, "1.300 Check input 300 of panel 1 ");
    assert_eq!(first.len(), 1, "row 1.1 on one page");
    assert_eq!(last.len(), 1, "row 1.300 on one page");
    let (first, last) = (first[0], last[0]);
    assert!(last >= first + 3, "300 rows span pages {first}..={last}");
    for (index, page) in pages.iter().enumerate().take(last + 1).skip(first) {
        assert!(
            page.contains("Item Description Expected Actual Result Remarks"),
            "page {} lacks the header row: {page}",
            index + 1
        );
    }
    // Every row is there, once.
    let all = pages.join("\n");
    for row in 1..=300 {
        let needle = format!(" 1.{row} Check input {row} of panel 1 ");
        assert_eq!(all.matches(&needle).count(), 1, "row {row}");
    }
}

#[test]
fn report_renders_with_empty_lists() {
    let (mut data, _) = report_data(&[5, 0]);
    for key in [
        "scope",
        "equipment",
        "punch_list",
        "text_sections",
        "images",
        "signoffs",
    ] {
        data[key] = json!([]);
    }
    data["dates"]["test_start"] = Value::Null;
    data["dates"]["test_end"] = Value::Null;
    let mut job = input(data);
    job.field_images.clear();
    let rendered = render(&job);
    let pages = pages_of(&rendered);
    let all = pages.join("\n");
    for shown in [
        "2 Interlock checks",
        "No test steps recorded in this section.",
        "No test equipment recorded.",
        "No open punch-list items.",
        "Sign-off",
    ] {
        assert!(all.contains(shown), "{shown:?} missing: {all}");
    }
    assert!(!pages[1].contains("Images"), "{}", pages[1]);
    assert!(!pages[1].contains("Observations"), "{}", pages[1]);
    assert_eq!(image_count(&rendered.pdf), 0);

    // A bare minimum: an empty object still renders (defaults everywhere).
    let bare = render(&input(json!({})));
    assert!(bare.pages >= 3);

    // A sign-off without a signature image and zero sections.
    let (mut data, _) = report_data(&[]);
    data["images"] = json!([]);
    let rendered = render(&input(data));
    let text = pages_of(&rendered).join("\n");
    assert!(text.contains("A. Engineer"), "{text}");
}

/// The PDF/A identification in the XMP metadata (`pdfaid:part`, `pdfaid:conformance`),
/// as element or attribute.
fn pdfa_id(pdf: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(pdf);
    let value = |key: &str| -> Option<String> {
        if let Some(at) = text.find(&format!("<pdfaid:{key}>")) {
            let rest = &text[at + key.len() + 9..];
            return Some(rest[..rest.find('<')?].to_owned());
        }
        let at = text.find(&format!("pdfaid:{key}=\""))?;
        let rest = &text[at + key.len() + 9..];
        Some(rest[..rest.find('"')?].to_owned())
    };
    Some((value("part")?, value("conformance")?))
}

#[test]
fn report_exports_pdfa_2b_on_request() {
    let (data, _) = report_data(&[20, 6]);
    let mut job = input(data);
    let plain = render(&job);
    assert_eq!(
        pdfa_id(&plain.pdf),
        None,
        "no PDF/A identification by default"
    );

    job.standard = Some(PdfStandard::A2B);
    let archival = render(&job);
    assert_eq!(
        pdfa_id(&archival.pdf),
        Some(("2".to_owned(), "B".to_owned())),
        "PDF/A-2b identification in the XMP metadata"
    );
    assert_eq!(archival.pages, plain.pages);
    let text = pages_of(&archival).join("\n");
    assert!(text.contains("Filtration PLC and SCADA"), "{text}");
    // The title is in the document metadata.
    let metadata = String::from_utf8_lossy(&archival.pdf);
    assert!(
        metadata.contains(DOC_NUMBER),
        "document title with the number"
    );
}

#[test]
fn report_pdfa_failure_names_what_does_not_conform() {
    // PDF/A forbids text drawn with a font's .notdef glyph: Hangul has no bundled font.
    let (mut data, _) = report_data(&[2]);
    data["client"] = json!("한국수자원공사");
    let mut job = input(data);
    job.standard = Some(PdfStandard::A2B);
    match ENGINE.render(&SAT, &job) {
        Err(e @ RenderError::Nonconforming { .. }) => {
            let message = e.to_string();
            println!("PDF/A export error: {message}");
            assert!(
                message.contains("a-2b") && message.contains("PDF/A"),
                "{message}"
            );
        }
        other => panic!("expected a nonconforming error, got {other:?}"),
    }
    // The same data without PDF/A renders (boxes for the missing glyphs).
    job.standard = None;
    ENGINE.render(&SAT, &job).expect("renders without PDF/A");
}

#[test]
fn report_with_5000_rows_renders() {
    let (data, _) = report_data(&[1000, 2500, 1500]);
    let job = input(data);
    let started = Instant::now();
    let rendered = render(&job);
    let elapsed = started.elapsed();
    println!(
        "5,000 rows: {} pages, {} KiB, {:.2} s",
        rendered.pages,
        rendered.pdf.len() / 1024,
        elapsed.as_secs_f64()
    );
    // ~30-45 rows a page, plus the cover, contents and the other sections.
    assert!(
        (100..=250).contains(&rendered.pages),
        "{} pages",
        rendered.pages
    );
    let pages = pdf_extract::extract_text_from_mem_by_pages(&rendered.pdf).expect("extract");
    let last = collapsed(pages.last().expect("pages"));
    assert!(
        last.contains(&format!("Page {n} of {n}", n = rendered.pages)),
        "{last}"
    );
}

#[test]
fn report_data_is_text_never_markup() {
    let hostile = [
        "#panic(\"x\")",
        "*bold*",
        "$x$",
        "_under_",
        "#read(\"/data.json\")",
        "= Heading",
        "<label> @ref",
        "]) #{",
    ];
    let (mut data, _) = report_data(&[3]);
    for (index, text) in hostile.iter().take(3).enumerate() {
        data["sections"][0]["rows"][index]["description"] = json!(text);
    }
    data["punch_list"][0]["description"] = json!(hostile.join(" | "));
    data["project"] = json!("#panic(\"project\")");
    data["sections"][0]["title"] = json!("*Not bold* $y$");
    data["scope"][0]["spans"][0]["text"] = json!("#eval(\"1+1\") `raw` \\ \\#");
    data["text_sections"][0]["title"] = json!("#strong[x]");
    let rendered = render(&input(data));
    let all = pages_of(&rendered).join("\n");
    for shown in [
        "1.1 #panic(\"x\")",
        "1.2 *bold*",
        "1.3 $x$",
        "#panic(\"project\")",
        "*Not bold* $y$",
        "#eval(\"1+1\") `raw` \\ \\#",
        "#strong[x]",
        "#panic(\"x\") | *bold* | $x$ | _under_ | #read(\"/data.json\") | = Heading | <label> @ref | ]) #{",
    ] {
        assert!(all.contains(shown), "{shown:?} not shown literally: {all}");
    }
}
