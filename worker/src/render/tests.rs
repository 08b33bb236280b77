use std::io::Cursor;
use std::sync::LazyLock;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::{Value, json};
use time::macros::datetime;

use super::*;

/// Loading the fonts takes a moment; share one engine like the worker does.
static ENGINE: LazyLock<Engine> = LazyLock::new(|| Engine::new().expect("engine loads"));

const ACCENTED: &str = "Zoë Ångström-Núñez";

fn data(name: &str, has_photo: bool) -> Value {
    json!({
        "recipient_name": name,
        "course_name": "Advanced Typesetting with Typst",
        "issued_on": "21 November 2026",
        "issuer_name": "Quire Academy",
        "verification_code": "QX-7F3A-91C2",
        "has_photo": has_photo,
        "fields": { "Grade": "Distinction", "Hours": "12" },
    })
}

fn input(data: Value) -> RenderInput {
    RenderInput {
        data,
        timestamp: Some(datetime!(2026-11-21 10:30 UTC)),
        ..RenderInput::default()
    }
}

/// A small gradient JPEG, like a downscaled upload.
fn jpeg() -> Vec<u8> {
    let image = image::RgbImage::from_fn(96, 120, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 2) as u8, 160])
    });
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode jpeg");
    out.into_inner()
}

/// The built-in templates, compiled once.
static BUILTINS: LazyLock<BTreeMap<String, Template>> = LazyLock::new(|| {
    builtin_templates()
        .expect("built-in templates load")
        .into_iter()
        .map(|t| {
            let template = Template::compile(t.content.files()).expect("compiles");
            (t.name, template)
        })
        .collect()
});

fn builtin(name: &str) -> &'static Template {
    BUILTINS
        .get(name)
        .unwrap_or_else(|| panic!("no built-in template {name}"))
}

/// Renders a built-in template with the shared engine, asserting it is clean.
fn render_builtin(name: &str, input: &RenderInput) -> Rendered {
    let (rendered, warnings) = ENGINE
        .render_with_warnings(builtin(name), input)
        .unwrap_or_else(|err| panic!("render failed: {err}"));
    assert!(warnings.is_empty(), "typst warnings: {warnings:?}");
    rendered
}

fn render_classic(input: &RenderInput) -> Rendered {
    render_builtin("classic", input)
}

fn text_of(pdf: &[u8]) -> String {
    pdf_extract::extract_text_from_mem(pdf).expect("extract text")
}

/// Number of image XObjects in the PDF (lopdf, re-exported by pdf-extract).
fn image_count(pdf: &[u8]) -> usize {
    let document = pdf_extract::Document::load_mem(pdf).expect("parse pdf");
    document
        .objects
        .values()
        .filter_map(|object| match object {
            pdf_extract::Object::Stream(stream) => Some(&stream.dict),
            _ => None,
        })
        .filter(|dict| {
            dict.get(b"Subtype")
                .and_then(|subtype| subtype.as_name())
                .is_ok_and(|name| name == b"Image")
        })
        .count()
}

fn assert_one_page_pdf(rendered: &Rendered) {
    assert!(rendered.pdf.starts_with(b"%PDF-"), "not a PDF");
    assert_eq!(rendered.pages, 1);
    let document = pdf_extract::Document::load_mem(&rendered.pdf).expect("parse pdf");
    assert_eq!(document.get_pages().len(), 1, "PDF page count");
}

#[test]
fn render_engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Engine>();
}

#[test]
fn render_lists_builtin_templates() {
    let names: Vec<String> = builtin_templates()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(names.contains(&"classic".to_owned()), "{names:?}");
}

#[test]
fn render_classic_accented_name_without_photo() {
    let rendered = render_classic(&input(data(ACCENTED, false)));
    assert_one_page_pdf(&rendered);
    assert_eq!(image_count(&rendered.pdf), 0);

    let text = text_of(&rendered.pdf);
    assert!(text.contains(ACCENTED), "name missing from text: {text:?}");
    assert!(text.contains("Certificate of Completion"), "{text:?}");
    assert!(text.contains("Advanced Typesetting with Typst"), "{text:?}");
    assert!(text.contains("21 November 2026"), "{text:?}");
    assert!(text.contains("Quire Academy"), "{text:?}");
    assert!(text.contains("QX-7F3A-91C2"), "{text:?}");
    assert!(text.contains("Distinction"), "{text:?}");
}

#[test]
fn render_classic_with_photo() {
    let mut with_photo = input(data(ACCENTED, true));
    with_photo.images.push((ImageSlot::Photo, jpeg()));
    let rendered = render_classic(&with_photo);
    assert_one_page_pdf(&rendered);
    assert_eq!(image_count(&rendered.pdf), 1, "the photo is embedded once");
    assert!(text_of(&rendered.pdf).contains(ACCENTED));
}

#[test]
fn render_classic_with_every_image_slot() {
    let mut full = input(data("Ada Lovelace", true));
    full.data["has_signature"] = json!(true);
    full.data["has_logo"] = json!(true);
    for slot in [ImageSlot::Photo, ImageSlot::Signature, ImageSlot::Logo] {
        full.images.push((slot, jpeg()));
    }
    let rendered = render_classic(&full);
    assert_one_page_pdf(&rendered);
    assert!(image_count(&rendered.pdf) >= 1);
}

#[test]
fn render_missing_photo_is_a_located_compile_error() {
    let before = EVICTIONS.load(Ordering::Relaxed);
    let err = ENGINE
        .render(builtin("classic"), &input(data(ACCENTED, true)))
        .expect_err("has_photo without a photo must fail");
    let RenderError::Compile(diagnostics) = &err else {
        panic!("expected a compile error, got {err:?}");
    };
    let first = &diagnostics[0];
    assert!(first.message.contains("not found"), "{first}");
    assert!(first.message.contains("/photo"), "{first}");
    assert_eq!(first.path.as_deref(), Some("/main.typ"));
    assert!(first.line.is_some() && first.column.is_some(), "{first}");
    assert!(
        EVICTIONS.load(Ordering::Relaxed) > before,
        "evicts on error"
    );
}

#[test]
fn render_hostile_name_is_text_not_markup() {
    let hostile = r#"Bob #read("/data.json") ]"#;
    let rendered = render_classic(&input(data(hostile, false)));
    assert_one_page_pdf(&rendered);
    let text = text_of(&rendered.pdf);
    assert!(text.contains(hostile), "hostile name not literal: {text:?}");
    // Had the call run, the JSON's keys would be on the page.
    assert!(!text.contains("recipient_name"), "{text:?}");
}

#[test]
fn render_very_long_values_stay_on_one_page() {
    let long_name = "Maximiliana Wolfeschlegelsteinhausenbergerdorff ".repeat(5);
    let long_name = &long_name[..200];
    let mut long = data(long_name, false);
    long["course_name"] = json!("Very Long Course Title ".repeat(20));
    long["issuer_name"] = json!("Department of Extremely Verbose Naming ".repeat(5));
    let rendered = render_classic(&input(long));
    assert_one_page_pdf(&rendered);
}

#[test]
fn render_line_breaks_and_huge_values_stay_on_one_page() {
    let many_lines = "Line\n".repeat(60);
    let huge = "x".repeat(5000);
    let hostile = json!({
        "recipient_name": format!("Ann\n\n\n{many_lines}Lee"),
        "course_name": many_lines,
        "issued_on": huge,
        "issuer_name": "Issuer\r\n".repeat(40),
        "verification_code": huge,
        "has_photo": false,
        "fields": { "Note": "a\nb\n".repeat(50), "Huge": huge },
    });
    let rendered = render_classic(&input(hostile));
    assert_one_page_pdf(&rendered);
    // Line breaks collapse to spaces rather than adding lines.
    assert!(text_of(&rendered.pdf).contains("Ann Line Line"));
}

#[test]
fn render_tolerates_missing_and_mistyped_fields() {
    let odd = json!({ "recipient_name": 42, "fields": [1, 2], "issuer_name": null });
    let rendered = render_classic(&input(odd));
    assert_one_page_pdf(&rendered);
    assert!(text_of(&rendered.pdf).contains("42"));

    // Not even an object: the template falls back to defaults.
    assert_one_page_pdf(&render_classic(&input(json!(["x"]))));
}

#[test]
fn render_200_certificates_evicts_every_time() {
    let before = EVICTIONS.load(Ordering::Relaxed);
    let photo = jpeg();
    // Warm up so the timing below is for warm renders.
    ENGINE
        .render(builtin("classic"), &input(data("Warm Up", false)))
        .unwrap();
    let start = Instant::now();
    for i in 0..200 {
        let mut job = input(data(&format!("Recipient Number {i}"), i % 2 == 0));
        if i % 2 == 0 {
            job.images.push((ImageSlot::Photo, photo.clone()));
        }
        let rendered = ENGINE.render(builtin("classic"), &job).unwrap();
        assert_eq!(rendered.pages, 1);
    }
    let per_render = start.elapsed() / 200;
    eprintln!("warm render (test build): {per_render:?} per certificate");
    // Other tests may render concurrently, hence >=.
    assert!(EVICTIONS.load(Ordering::Relaxed) - before >= 201);
}

/// A template given as source text, with one asset.
fn probe(main: &str) -> Template {
    Template::compile(vec![
        ("/main.typ".to_owned(), main.as_bytes().to_vec()),
        ("/assets/note.txt".to_owned(), b"template asset".to_vec()),
    ])
    .expect("probe template")
}

fn probe_error(main: &'static str) -> String {
    match ENGINE.render(&probe(main), &input(json!({}))) {
        Err(RenderError::Compile(diagnostics)) => diagnostics[0].message.clone(),
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn render_world_serves_only_template_files_data_and_images() {
    let template = probe(
        r#"#read("assets/note.txt") #read("/main.typ").len() #json("/data.json").at("k") #image("/fields/sig", width: 1cm)"#,
    );
    let mut job = input(json!({ "k": "from-data" }));
    job.images.push((ImageSlot::Logo, jpeg()));
    job.field_images.insert("sig".into(), jpeg());
    let text = text_of(&ENGINE.render(&template, &job).unwrap().pdf);
    assert!(text.contains("template asset"), "{text:?}");
    assert!(text.contains("from-data"), "{text:?}");

    for denied in [
        r#"#read("/etc/passwd")"#,
        r#"#read("../../../../etc/passwd")"#,
        r#"#read("/Cargo.toml")"#,
        r#"#image("/photo")"#,
        r#"#image("/fields/other")"#,
        r#"#import "/data.json": *"#,
        r#"#include "/data.json""#,
        r#"#import "@preview/example:0.1.0": *"#,
    ] {
        let message = probe_error(denied);
        eprintln!("{denied} -> {message}");
        assert!(
            message.contains("not found") || message.contains("escape the project root"),
            "{denied}: {message}"
        );
    }
}

#[test]
fn render_today_comes_from_the_timestamp() {
    let template =
        probe(r#"#datetime.today().display() / #datetime.today(offset: -11).display()"#);
    let rendered = ENGINE.render(&template, &input(json!({}))).unwrap();
    let text = text_of(&rendered.pdf);
    assert!(text.contains("2026-11-21 / 2026-11-20"), "{text:?}");
}

#[test]
fn render_rejects_templates_shadowing_job_paths() {
    for reserved in ["/photo", "/qr.svg", "/data.json", "/fields/sig"] {
        let err = Template::compile(vec![
            ("/main.typ".to_owned(), b"hi".to_vec()),
            (reserved.to_owned(), b"x".to_vec()),
        ])
        .expect_err("reserved path");
        assert!(matches!(err, RenderError::InvalidTemplate { .. }), "{err}");
    }
    let err = Template::compile(vec![("/other.typ".to_owned(), b"hi".to_vec())])
        .expect_err("no main.typ");
    assert!(err.to_string().contains("main.typ"), "{err}");
}
