//! SAT reports through the API on both deployments: the PDF's pages, table of contents,
//! running header, computed summary and sign-offs; PDF/A; progress; and every bad input.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, b64, error_of, jpeg_photo, pdf_text};

/// A report with `sections` sections of `rows` rows each: every 7th row fails and every 5th
/// (not failing) is n.a.
pub fn report(sections: usize, rows: usize) -> Value {
    let sections: Vec<Value> = (0..sections)
        .map(|s| {
            let rows: Vec<Value> = (0..rows)
                .map(|r| {
                    let result = if r % 7 == 3 {
                        "fail"
                    } else if r % 5 == 4 {
                        "n/a"
                    } else {
                        "pass"
                    };
                    json!({"item": format!("{}.{}", s + 1, r + 1),
                           "description": format!("Check interlock {r} of panel {s}"),
                           "expected": "Trips within 200 ms", "actual": "180 ms",
                           "result": result, "remarks": ""})
                })
                .collect();
            json!({"title": format!("Functional group {}", s + 1),
                   "body": "Tests run with the plant **offline**.", "rows": rows})
        })
        .collect();
    json!({
        "document_number": "SAT-2026-0042",
        "revision": "B",
        "project": "North Plant Expansion",
        "client": "Acme Water Ltd",
        "site": "North Plant, Basin 3",
        "system": "Filtration PLC and SCADA",
        "issued_on": "2026-11-21",
        "test_start": "2026-11-17",
        "test_end": "2026-11-19",
        "scope": "This report covers the SAT of the filtration system.\n\n- PLC logic\n- SCADA screens",
        "equipment": [{"name": "Multimeter", "model": "Fluke 87V", "serial": "12345678", "calibration_due": "2027-03-01"}],
        "sections": sections,
        "punch_list": [{"item": "P-1", "description": "Label cabinet doors", "severity": "low", "owner": "J. Smith", "due": "2026-12-01"}],
        "text_sections": [{"title": "Observations", "body": "No deviations beyond the punch list."}],
        "images": [{"image": b64(&jpeg_photo()), "caption": "Panel wiring"}],
        "signoffs": [
            {"name": "Alex Engineer", "role": "Commissioning engineer", "company": "Acme", "date": "2026-11-19", "signature": b64(&jpeg_photo())},
            {"name": "Kim Client", "role": "Client representative", "company": "Acme Water", "date": "2026-11-20"}
        ]
    })
}

/// (pass, fail, n.a.) of `report(_, rows)`'s sections, each.
fn counts(rows: usize) -> (usize, usize, usize) {
    let fail = (0..rows).filter(|r| r % 7 == 3).count();
    let na = (0..rows).filter(|r| r % 7 != 3 && r % 5 == 4).count();
    (rows - fail - na, fail, na)
}

/// The text of each page.
fn pages(pdf: &[u8]) -> Vec<String> {
    pdf_extract::extract_text_from_mem_by_pages(pdf).expect("the PDF parses")
}

async fn a_report_renders_with_toc_header_summary_and_signoffs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("engineer").await;
    let id = app.post_ok(&key, "/v1/reports", &report(3, 40)).await;
    let pdf = app.pdf_of(&key, &id).await;
    let job = app.job(&key, &id).await;
    assert_eq!(job["kind"], "report");
    assert!(
        job["progress"].is_null(),
        "progress is cleared on success: {job}"
    );

    let pages = pages(&pdf);
    assert!((5..=12).contains(&pages.len()), "{} pages", pages.len());
    let all = pdf_text(&pdf);
    for expected in [
        "Contents",
        "Summary",
        "Functional group 1",
        "Functional group 3",
        "Punch list",
        "Observations",
        "Panel wiring",
        "Sign-off",
        "Alex Engineer",
        "Kim Client",
        "Fluke 87V",
    ] {
        assert!(all.contains(expected), "`{expected}` missing");
    }
    // The running header on every page after the cover, and "Page X of Y".
    let total = pages.len();
    for (i, text) in pages.iter().enumerate().skip(1) {
        assert!(text.contains("SAT-2026-0042"), "page {}: no header", i + 1);
        assert!(
            text.contains(&format!("Page {} of {total}", i + 1)),
            "page {}: no footer",
            i + 1
        );
    }
    // The summary counts, computed from the rows.
    let (pass, fail, na) = counts(40);
    let summary = pages
        .iter()
        .find(|p| {
            p.contains("Summary") && p.contains("Functional group 2") && !p.contains("Contents")
        })
        .expect("a summary page");
    let numbers =
        |text: &str| -> Vec<String> { text.split_whitespace().map(str::to_owned).collect() };
    let words = numbers(summary);
    let at = words
        .iter()
        .position(|w| w == "2")
        .expect("section 2's row");
    let row: Vec<&String> = words[at..].iter().take(8).collect();
    for n in [pass, fail, na, 40] {
        assert!(
            row.iter().any(|w| **w == n.to_string()),
            "{n} not in section row {row:?}"
        );
    }
    for n in [pass * 3, fail * 3, na * 3, 120] {
        assert!(
            words.contains(&n.to_string()),
            "total {n} missing in {summary}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_report_renders_with_toc_header_summary_and_signoffs_embedded() {
    a_report_renders_with_toc_header_summary_and_signoffs(Backend::Embedded).await;
}

#[tokio::test]
async fn a_report_renders_with_toc_header_summary_and_signoffs_production() {
    a_report_renders_with_toc_header_summary_and_signoffs(Backend::Production).await;
}

#[tokio::test]
async fn a_5000_row_report_renders_and_reports_progress() {
    let app = TestApp::spawn(Backend::Production).await;
    let key = app.new_key("big").await;
    let mut body = report(10, 500);
    body["pdfa"] = json!(true);
    let id = app.post_ok(&key, "/v1/reports", &body).await;
    // Progress is visible while it runs.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
    let job = loop {
        let job = app.job(&key, &id).await;
        if let Some(p) = job["progress"].as_str()
            && seen.last().map(String::as_str) != Some(p)
        {
            seen.push(p.to_owned());
        }
        if ["succeeded", "dead"].contains(&job["status"].as_str().unwrap()) {
            break job;
        }
        assert!(tokio::time::Instant::now() < deadline, "{job}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(
        seen.contains(&"rendering".to_owned()),
        "progress seen: {seen:?}"
    );
    let pdf = app.pdf_of(&key, &id).await;
    let pages = job["result"]["pages"].as_u64().unwrap();
    assert!((60..=200).contains(&pages), "{pages} pages");
    // PDF/A-2b: the identification is in the XMP metadata.
    let raw = String::from_utf8_lossy(&pdf);
    assert!(raw.contains("pdfaid:part") && raw.contains("pdfaid:conformance"));
    app.stop().await;
}

#[tokio::test]
async fn bad_reports_are_422_with_every_path() {
    let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::API], |c| {
        c.limits.max_report_rows = 100;
        c.limits.max_report_sections = 5;
        c.limits.max_report_images = 3;
        c.limits.max_report_image_bytes = 1_000;
    })
    .await;
    let key = app.new_key("careless").await;

    let mut body = report(4, 20);
    body["sections"][3]["rows"][12]["result"] = json!("maybe");
    body["sections"][0]["rows"][1]["description"] = json!("");
    body["equipment"][0]["calibration_due"] = json!("next year");
    body["punch_list"][0]["severity"] = json!("urgent");
    body["images"][0]["image"] = json!(b64(b"not an image"));
    body["signoffs"][1]["date"] = json!("2026-13-01");
    body["document_number"] = json!("");
    let (status, error) = error_of(app.post(&key, "/v1/reports", &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let fields: Vec<(&str, &str)> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    for expected in [
        ("sections[3].rows[12].result", "invalid_value"),
        ("sections[0].rows[1].description", "missing_field"),
        ("equipment[0].calibration_due", "invalid_date"),
        ("punch_list[0].severity", "invalid_value"),
        ("images[0].image", "unsupported_image"),
        ("signoffs[1].date", "invalid_date"),
        ("document_number", "missing_field"),
        ("images", "too_large"),
    ] {
        assert!(fields.contains(&expected), "{expected:?} not in {fields:?}");
    }

    // Over the row limit.
    let (status, error) = error_of(app.post(&key, "/v1/reports", &report(2, 51)).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["errors"][0]["code"], "too_many", "{error}");

    // Too many sections; too many images (signatures count).
    let (status, error) = error_of(app.post(&key, "/v1/reports", &report(6, 1)).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["errors"][0]["field"], "sections", "{error}");
    assert_eq!(error["errors"][0]["code"], "too_many", "{error}");
    let mut body = report(1, 1);
    body["images"] = json!([
        {"image": b64(&jpeg_photo())}, {"image": b64(&jpeg_photo())}, {"image": b64(&jpeg_photo())}
    ]);
    let (status, error) = error_of(app.post(&key, "/v1/reports", &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["errors"][0]["field"], "images", "{error}");
    assert_eq!(error["errors"][0]["code"], "too_many", "{error}");

    // A certificate template is not a report template.
    let mut body = report(1, 1);
    body["template"] = json!("classic");
    let (status, error) = error_of(app.post(&key, "/v1/reports", &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["code"], "unknown_template", "{error}");

    // Unknown fields and wrong types name their path.
    let mut body = report(1, 1);
    body["sections"][0]["rows"][0]["colour"] = json!("red");
    let (status, error) = error_of(app.post(&key, "/v1/reports", &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error.to_string().contains("sections[0].rows[0]"), "{error}");
    assert_eq!(app.count_jobs(&key).await, 0, "nothing was queued");
    app.stop().await;
}

#[tokio::test]
async fn an_uploaded_report_template_renders_reports_in_the_sandbox() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let admin = app.admin.clone();
    let source = r#"#let d = json("/data.json")
#set page(header: [Custom header #d.document_number])
= Custom report for #d.client
#for s in d.sections [
  == #s.title: #s.counts.pass passed, #s.counts.fail failed
]
#for (i, f) in d.images.enumerate() [ #image(f.path, width: 2cm) #f.caption ]
"#;
    let created = app
        .post(
            &admin,
            "/v1/templates",
            &json!({"name": "custom-sat", "kind": "report", "is_public": true, "source": source}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["kind"], "report", "{created}");

    let key = app.new_key("engineer").await;
    let mut body = report(2, 10);
    body["template"] = json!("custom-sat");
    let id = app.post_ok(&key, "/v1/reports", &body).await;
    let text = pdf_text(&app.pdf_of(&key, &id).await);
    assert!(text.contains("Custom report for Acme Water Ltd"), "{text}");
    assert!(text.contains("Custom header SAT-2026-0042"), "{text}");
    let (pass, fail, _) = counts(10);
    assert!(
        text.contains(&format!("Functional group 2: {pass} passed, {fail} failed")),
        "{text}"
    );

    // A report template is not a certificate template, and a broken one is refused.
    let mut cert = crate::helpers::certificate("Wrong Kind");
    cert["template"] = json!("custom-sat");
    let (status, error) = error_of(app.submit(&key, &cert).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["code"], "unknown_template", "{error}");
    let (status, error) = error_of(
        app.post(
            &admin,
            "/v1/templates",
            &json!({"name": "broken-sat", "kind": "report",
                    "source": "#let d = json(\"/data.json\")\n#d.no_such_member"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["code"], "template_error", "{error}");
    app.stop().await;
}
