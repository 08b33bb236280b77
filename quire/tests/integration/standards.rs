//! Declared PDF standards (`pdf_standard`): every built-in template and kind meets the ones
//! asked for, read back from the file by pypdf (`deploy/pdf-conformance.py`), not by typst;
//! a template's default applies to its jobs; a template that cannot meet its declared
//! standard is refused at upload with typst's diagnostics, and a job that cannot ends `dead`.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, b64, certificate, error_of, jpeg_photo};
use crate::reports::report;

/// What pypdf reads from `pdf`, on a blocking thread: the test's one thread also runs the
/// app.
pub(crate) async fn conformance(pdf: &[u8]) -> Value {
    let pdf = pdf.to_vec();
    tokio::task::spawn_blocking(move || conformance_now(&pdf))
        .await
        .unwrap()
}

fn conformance_now(pdf: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/pdf-conformance.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&path)
        .output()
        .expect("python3 runs deploy/pdf-conformance.py (deploy/test-services.sh installs pypdf)");
    assert!(
        out.status.success(),
        "pdf-conformance.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Asserts that the file declares and carries what `standard` asks for.
async fn assert_meets(pdf: &[u8], standard: &str, what: &str) {
    let c = conformance(pdf).await;
    let archival = standard.split('+').find(|s| s.starts_with("a-"));
    let ua = standard.split('+').any(|s| s == "ua-1");
    match archival {
        Some(a) => {
            let (part, level) = a[2..].split_at(1);
            assert_eq!(c["pdfa_part"], part, "{what} {standard}: {c}");
            assert_eq!(
                c["pdfa_conformance"].as_str().map(str::to_ascii_lowercase),
                Some(level.to_owned()),
                "{what} {standard}: {c}"
            );
            assert_eq!(c["output_intent"], true, "{what} {standard}: {c}");
            for font in c["fonts"].as_array().unwrap() {
                assert_eq!(font["embedded"], true, "{what} {standard}: {font}");
            }
        }
        None => assert_eq!(c["pdfa_part"], Value::Null, "{what} {standard}: {c}"),
    }
    let tagged = ua || archival.is_some_and(|a| a.ends_with('a'));
    if tagged {
        assert_eq!(c["tagged"], true, "{what} {standard}: {c}");
        assert_eq!(c["struct_tree"], true, "{what} {standard}: {c}");
        assert_eq!(c["lang"], "en", "{what} {standard}: {c}");
        assert_eq!(c["figures_without_alt"], 0, "{what} {standard}: {c}");
    }
    if ua {
        assert_eq!(c["pdfua_part"], "1", "{what} {standard}: {c}");
        assert!(
            !c["title"].as_str().unwrap_or("").is_empty(),
            "{what} {standard}: {c}"
        );
        assert_eq!(c["display_doc_title"], true, "{what} {standard}: {c}");
    } else {
        assert_eq!(c["pdfua_part"], Value::Null, "{what} {standard}: {c}");
    }
}

#[tokio::test]
async fn every_builtin_template_meets_the_standard_asked_for() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("standards").await;
    let photo = b64(&jpeg_photo());
    let mut jobs = Vec::new();
    for template in ["classic", "modern", "signature"] {
        for standard in ["a-2b", "ua-1", "a-2a+ua-1", "a-3u"] {
            let mut body = certificate("Zoë Ångström");
            body["template"] = json!(template);
            body["pdf_standard"] = json!(standard);
            body["photo"] = json!(photo);
            body["signature"] = json!(photo);
            jobs.push((
                format!("certificate {template}"),
                standard,
                app.submit_ok(&key, &body).await,
            ));
        }
    }
    for standard in ["a-2b", "ua-1", "a-3a+ua-1"] {
        let mut body = report(2, 12);
        body["pdf_standard"] = json!(standard);
        let id = app.post_ok(&key, "/v1/reports", &body).await;
        jobs.push(("report sat".into(), standard, id));
    }
    // A batch: every row meets the batch's standard.
    let batch = json!({"template": "modern", "pdf_standard": "a-2a", "rows": [
        {"recipient_name": "Row One", "course_name": "Accessible Documents"},
        {"recipient_name": "Row Two", "course_name": "Accessible Documents"},
    ]});
    let response = app.post(&key, "/v1/certificates/batch", &batch).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let page: Value = app
        .get(&key, "/v1/jobs?kind=certificate&limit=100")
        .await
        .json()
        .await
        .unwrap();
    let known: Vec<String> = jobs.iter().map(|(_, _, id)| id.clone()).collect();
    for job in page["jobs"].as_array().unwrap() {
        let id = job["id"].as_str().unwrap().to_owned();
        if !known.contains(&id) {
            jobs.push(("batch row".into(), "a-2a", id));
        }
    }
    assert_eq!(jobs.len(), 12 + 3 + 2);

    for (what, standard, id) in &jobs {
        let pdf = app.pdf_of(&key, id).await;
        // The job records what it was rendered to meet.
        let job = app.job(&key, id).await;
        assert_eq!(job["result"]["pdf_standard"], *standard, "{what}: {job}");
        assert_meets(&pdf, standard, what).await;
    }

    // Without one: no identification, and the result says nothing.
    let id = app.submit_ok(&key, &certificate("Plain Holder")).await;
    let pdf = app.pdf_of(&key, &id).await;
    assert_eq!(conformance(&pdf).await["pdfa_part"], Value::Null);
    assert_eq!(app.job(&key, &id).await["result"].get("pdf_standard"), None);

    // `pdfa: true` on a report is PDF/A-2b, as before.
    let mut body = report(1, 4);
    body["pdfa"] = json!(true);
    let id = app.post_ok(&key, "/v1/reports", &body).await;
    assert_meets(&app.pdf_of(&key, &id).await, "a-2b", "report with pdfa").await;

    // An unknown standard is a 422 naming the field.
    let mut body = certificate("Bad Standard");
    body["pdf_standard"] = json!("pdf/x-4");
    let (status, error) = error_of(app.submit(&key, &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(
        error.to_string().contains("pdf_standard"),
        "names the field: {error}"
    );
    app.stop().await;
}

/// A template's own source: a heading, and an image whose alternative text is `alt` (none
/// when `None`).
fn source(alt: Option<&str>) -> String {
    let alt = alt.map(|a| format!(", alt: \"{a}\"")).unwrap_or_default();
    format!(
        "#set document(title: \"Attendance\")\n#set text(lang: \"en\")\n\
         #let d = json(\"/data.json\")\n= Attendance\n#d.recipient_name\n\
         #image(\"/photo\", width: 2cm{alt})\n"
    )
}

#[tokio::test]
async fn templates_declare_a_standard_checked_at_upload_and_applied_to_their_jobs() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("holder").await;

    // Declaring PDF/UA-1 with an image without alternative text: refused, with typst's
    // reason and where it is.
    let refused = app
        .post(
            &app.admin,
            "/v1/templates",
            &json!({"name": "no-alt", "is_public": true, "source": source(None), "pdf_standard": "ua-1"}),
        )
        .await;
    let (status, error) = error_of(refused).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "template_nonconforming", "{error}");
    let diagnostics = error["diagnostics"].as_array().unwrap();
    assert!(
        diagnostics.iter().any(|d| {
            d["message"].as_str().unwrap().contains("alt")
                && d["path"] == "/main.typ"
                && d["line"] == 6
        }),
        "{error}"
    );
    // The same source without a declared standard is accepted (typst's defaults).
    let plain = app
        .post(
            &app.admin,
            "/v1/templates",
            &json!({"name": "no-alt", "is_public": true, "source": source(None)}),
        )
        .await;
    assert_eq!(plain.status(), StatusCode::CREATED);

    // With the text, PDF/UA-1 as the template's default: its jobs meet it without asking.
    let created = app
        .post(
            &app.admin,
            "/v1/templates",
            &json!({"name": "with-alt", "is_public": true,
                    "source": source(Some("Photo of the attendee")), "pdf_standard": "a-2a+ua-1"}),
        )
        .await;
    let created_status = created.status();
    let view: Value = created.json().await.unwrap();
    assert_eq!(created_status, StatusCode::CREATED, "{view}");
    assert_eq!(view["pdf_standard"], "a-2a+ua-1");
    let mut body = certificate("Default Standard");
    body["template"] = json!("with-alt");
    body["photo"] = json!(b64(&jpeg_photo()));
    let id = app.submit_ok(&key, &body).await;
    let pdf = app.pdf_of(&key, &id).await;
    assert_eq!(
        app.job(&key, &id).await["result"]["pdf_standard"],
        "a-2a+ua-1"
    );
    assert_meets(&pdf, "a-2a+ua-1", "uploaded template's default").await;

    // A job that asks what its template cannot meet ends dead, saying why.
    let mut body = certificate("Cannot Conform");
    body["template"] = json!("no-alt");
    body["photo"] = json!(b64(&jpeg_photo()));
    body["pdf_standard"] = json!("ua-1");
    let id = app.submit_ok(&key, &body).await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["error"]["code"], "nonconforming", "{job}");
    assert!(
        job["error"]["message"].as_str().unwrap().contains("ua-1"),
        "{job}"
    );

    // A built-in's declared standard is part of what it ships.
    let (status, error) = error_of(
        app.client
            .put(app.url("/v1/templates/classic"))
            .bearer_auth(&app.admin)
            .json(&json!({"pdf_standard": "a-2b"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("builtin_template"))
    );
    app.stop().await;
}
