use std::io::Cursor;
use std::sync::LazyLock;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::{Value, json};
use time::macros::datetime;
use typst::text::FontInfo;

use super::*;

#[path = "../../tests/support/pdf.rs"]
mod pdf;
use pdf::image_count;

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
        "fields": { "grade": "Distinction", "hours": 12 },
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
    let template = probe(r#"#datetime.today().display() / #datetime.today(offset: -11).display()"#);
    let rendered = ENGINE.render(&template, &input(json!({}))).unwrap();
    let text = text_of(&rendered.pdf);
    assert!(text.contains("2026-11-21 / 2026-11-20"), "{text:?}");
}

#[test]
fn render_image_slots_are_reserved_paths() {
    for slot in ImageSlot::ALL {
        assert!(shared::templates::is_reserved_path(slot.path()), "{slot:?}");
    }
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

// ---------------------------------------------------------------------------
// The three built-in templates (classic, modern, signature) with the bundled
// Noto fonts.

const TEMPLATES: [&str; 3] = ["classic", "modern", "signature"];

/// Latin with accents, Greek, Cyrillic, Arabic, Chinese and Japanese.
const MULTI_SCRIPT: [&str; 6] = [
    ACCENTED,
    "Αλέξανδρος Παπαδόπουλος",
    "Анна Каренина",
    "محمد عبد الله",
    "王小明",
    "山田 太郎",
];

/// A small valid SVG standing in for the QR code the worker generates.
const QR_SVG: &[u8] = br#"<svg xmlns="http://www.w3.org/2000/svg" width="29" height="29" viewBox="0 0 29 29"><path d="M4 4h7v7H4zM18 4h7v7h-7zM4 18h7v7H4zM13 13h3v3h-3zM18 18h2v2h-2zM22 22h3v3h-3z"/></svg>"#;

/// Every key of the data contract, as the worker fills it.
fn contract_data(name: &str) -> Value {
    json!({
        "recipient_name": name,
        "course_name": "Advanced Typesetting with Typst",
        "issued_on": "21 November 2026",
        "issuer_name": "Quire Academy",
        "expires_on": "21 November 2029",
        "verification_code": "QX-7F3A-91C2",
        "verify_url": "https://certs.example.org/v/QX-7F3A-91C2",
        "has_photo": false,
        "has_signature": false,
        "has_qr": true,
        "fields": {},
    })
}

/// A job with the QR code at /qr.svg and nothing else.
fn contract_input(name: &str) -> RenderInput {
    let mut job = input(contract_data(name));
    job.images.push((ImageSlot::Qr, QR_SVG.to_vec()));
    job
}

/// Text without any whitespace: pdf-extract turns the gaps of letter-spaced,
/// shrunk or CJK text into spaces of its own choosing.
fn squashed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn is_arabic(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, '\u{0600}'..='\u{06FF}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}'))
}

/// An Arabic string compared by words, each as its sorted letters.
///
/// pdf-extract returns glyphs in the order they are drawn, left to right, so
/// a right-to-left run comes out in visual order: "محمد عبد الله" as
/// "للها دبع دمحم". A ligature glyph maps back to its letters in logical
/// order (Noto Naskh Arabic draws "لله" of "الله" as one glyph), so reversing
/// the extracted line gives the words in the right order but not always
/// their letters ("اهلل"). Comparing each word's letters as a multiset checks
/// that every word is there, in order, with every letter.
fn arabic_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|word| {
            let mut letters: Vec<char> = word.chars().collect();
            letters.sort_unstable();
            letters.into_iter().collect()
        })
        .collect()
}

/// Whether the extracted `text` shows `name` (see [`squashed`] and
/// [`arabic_words`] for what pdf-extract does to it).
fn shows_name(text: &str, name: &str) -> bool {
    if !is_arabic(name) {
        return squashed(text).contains(&squashed(name));
    }
    let wanted = arabic_words(name);
    text.lines().any(|line| {
        let mut words = arabic_words(line);
        words.reverse();
        words.windows(wanted.len()).any(|window| window == wanted)
    })
}

/// The fonts a PDF embeds, by PostScript name without the subset tag
/// ("ABCDEF+NotoSerif-Bold" -> "NotoSerif-Bold").
fn fonts_of(pdf: &[u8]) -> Vec<String> {
    let document = pdf_extract::Document::load_mem(pdf).expect("parse pdf");
    let mut fonts: Vec<String> = document
        .objects
        .values()
        .filter_map(|object| object.as_dict().ok())
        .filter(|dict| {
            dict.get(b"Type")
                .and_then(|kind| kind.as_name())
                .is_ok_and(|kind| kind == b"Font")
        })
        .filter_map(|dict| dict.get(b"BaseFont").and_then(|name| name.as_name()).ok())
        .map(|name| {
            let name = String::from_utf8_lossy(name);
            match name.split_once('+') {
                Some((_, base)) => base.to_owned(),
                None => name.into_owned(),
            }
        })
        .collect();
    fonts.sort();
    fonts.dedup();
    fonts
}

/// The bundled family (as a PostScript name prefix) each template uses for a
/// script: Latin, Greek and Cyrillic; Arabic; CJK.
fn expected_font(template: &str, name: &str) -> &'static str {
    let cjk = name
        .chars()
        .any(|c| matches!(c, '\u{3040}'..='\u{30FF}' | '\u{4E00}'..='\u{9FFF}'));
    match (template, is_arabic(name), cjk) {
        (_, _, true) => "NotoSansCJKsc-",
        ("modern", true, _) => "NotoSansArabic-",
        (_, true, _) => "NotoNaskhArabic-",
        ("modern", _, _) => "NotoSans-",
        _ => "NotoSerif-",
    }
}

#[test]
fn render_builtin_templates_are_three_certificates_and_the_sat_report() {
    let all = builtin_templates().expect("built-in templates load");
    let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["classic", "modern", "sat", "signature"],
        "sorted by name"
    );
    let (builtins, reports): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|t| t.kind == TemplateKind::Certificate);
    let names: Vec<&str> = builtins.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, TEMPLATES);
    // The report: described, no declared fields (its data is the report contract),
    // the manifest kept out of the files typst sees.
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].kind, TemplateKind::Report);
    assert!(!reports[0].description.is_empty());
    assert!(reports[0].content.fields.is_empty());
    assert!(!reports[0].content.assets.contains_key("/template.json"));
    for template in &builtins {
        assert!(!template.description.is_empty(), "{}", template.name);
        assert!(!template.content.fields.is_empty(), "{}", template.name);
        for field in &template.content.fields {
            assert_eq!(field.problem(), None, "{}", template.name);
            assert!(
                !field.required,
                "{}: {} is optional",
                template.name, field.name
            );
        }
        // The manifest is metadata: typst never sees it.
        assert!(
            !template.content.assets.contains_key("/template.json"),
            "{}",
            template.name
        );
    }
    let signature = builtins.iter().find(|t| t.name == "signature").unwrap();
    assert!(signature.content.assets.contains_key("/logo.svg"));
}

#[test]
fn render_builtin_templates_stay_on_one_page_for_any_name_length() {
    let long_latin = "Maximiliana Wolfeschlegelsteinhausenbergerdorff ".repeat(7);
    let long_latin: String = long_latin.chars().take(300).collect();
    let long_cjk: String = "王小明山田太郎李华张伟".chars().cycle().take(200).collect();
    assert_eq!(long_latin.chars().count(), 300);
    assert_eq!(long_cjk.chars().count(), 200);
    for template in TEMPLATES {
        for name in ["Ada Lovelace", long_latin.as_str(), long_cjk.as_str()] {
            let rendered = render_builtin(template, &contract_input(name));
            assert_one_page_pdf(&rendered);
            let text = text_of(&rendered.pdf);
            assert!(
                shows_name(&text, name),
                "{template}: {} chars missing from {text:?}",
                name.chars().count()
            );
        }
    }
}

#[test]
fn render_builtin_templates_set_every_script_in_a_bundled_noto_font() {
    for template in TEMPLATES {
        for name in MULTI_SCRIPT {
            let rendered = render_builtin(template, &contract_input(name));
            assert_one_page_pdf(&rendered);
            let fonts = fonts_of(&rendered.pdf);
            let wanted = expected_font(template, name);
            assert!(
                fonts.iter().any(|font| font.starts_with(wanted)),
                "{template} {name}: no {wanted}* font in {fonts:?}"
            );
            // Only the bundled Noto fonts and the monospace font of the
            // verification code: no fallback to typst's own fonts (that is
            // how Arabic turned monospace and CJK turned into boxes).
            for font in &fonts {
                assert!(
                    font.starts_with("Noto") || font.starts_with("DejaVuSansMono"),
                    "{template} {name}: unexpected font {font} in {fonts:?}"
                );
            }
            let text = text_of(&rendered.pdf);
            assert!(
                shows_name(&text, name),
                "{template}: {name} missing from {text:?}"
            );
        }
    }
}

#[test]
fn render_bundled_fonts_cover_the_test_names() {
    // The PDF checks above show which font was picked, not that it had every
    // glyph (typst draws a missing one as a box without a warning): check
    // the bundled files' coverage directly.
    let fonts: Vec<FontInfo> = FONTS
        .files()
        .filter(|file| is_font(&file.path().to_string_lossy()))
        .flat_map(|file| FontInfo::iter(file.contents()).collect::<Vec<_>>())
        .collect();
    let samples = [
        (&["Noto Serif", "Noto Sans"][..], &MULTI_SCRIPT[..3]),
        (
            &["Noto Naskh Arabic", "Noto Sans Arabic"][..],
            &MULTI_SCRIPT[3..4],
        ),
        (
            &["Noto Sans CJK SC"][..],
            // Names, kana, CJK punctuation and common Chinese and Japanese
            // name characters.
            &[
                MULTI_SCRIPT[4],
                MULTI_SCRIPT[5],
                "王小明山田太郎李华张伟",
                "あいうえおアイウエオヴー。、「」・々",
                "婷琪昊晗梓涵欣怡浩宇轩佐藤鈴木渡辺翔凜琉瑠遥陽斗広駅桜",
            ][..],
        ),
    ];
    for (families, texts) in samples {
        for family in families {
            let faces: Vec<&FontInfo> = fonts
                .iter()
                .filter(|info| info.family.eq_ignore_ascii_case(family))
                .collect();
            assert!(faces.len() >= 2, "{family}: regular and bold bundled");
            for face in faces {
                for c in texts.iter().flat_map(|text| text.chars()) {
                    assert!(
                        c.is_whitespace() || face.coverage.contains(c as u32),
                        "{family} {:?} lacks {c:?}",
                        face.variant
                    );
                }
            }
        }
    }
}

#[test]
fn render_builtin_templates_show_the_data_contract() {
    for template in TEMPLATES {
        let text = text_of(&render_builtin(template, &contract_input(ACCENTED)).pdf);
        for shown in [
            "Advanced Typesetting with Typst",
            "21 November 2026",
            "21 November 2029",
            "QX-7F3A-91C2",
            "https://certs.example.org/v/QX-7F3A-91C2",
        ] {
            assert!(
                squashed(&text).contains(&squashed(shown)),
                "{template}: {shown:?} missing from {text:?}"
            );
        }

        // Nulls and no QR code: nothing to verify at, no expiry, no issuer.
        let mut bare = input(contract_data(ACCENTED));
        bare.data["has_qr"] = json!(false);
        bare.data["verify_url"] = Value::Null;
        bare.data["expires_on"] = Value::Null;
        bare.data["issuer_name"] = Value::Null;
        let rendered = render_builtin(template, &bare);
        assert_one_page_pdf(&rendered);
        let text = text_of(&rendered.pdf);
        assert!(shows_name(&text, ACCENTED), "{template}: {text:?}");
        assert!(!text.contains("2029"), "{template}: {text:?}");
        assert!(!text.contains("https://"), "{template}: {text:?}");
    }
}

#[test]
fn render_builtin_templates_show_their_declared_fields() {
    let certificates = builtin_templates()
        .unwrap()
        .into_iter()
        .filter(|t| t.kind == TemplateKind::Certificate);
    for builtin in certificates {
        let mut job = contract_input(ACCENTED);
        let mut expected = Vec::new();
        for field in &builtin.content.fields {
            let value = match field.field_type {
                shared::templates::FieldType::Number => json!(37.5),
                _ => json!(format!("Value of {}", field.name)),
            };
            job.data["fields"][&field.name] = value.clone();
            expected.push(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
        }
        let text = text_of(&render_builtin(&builtin.name, &job).pdf);
        // Some templates set labels in capitals: compare case-insensitively.
        let haystack = squashed(&text).to_lowercase();
        for value in expected {
            assert!(
                haystack.contains(&squashed(&value).to_lowercase()),
                "{}: {value:?} missing from {text:?}",
                builtin.name
            );
        }
    }
}

#[test]
fn render_builtin_templates_show_the_qr_code_only_when_asked() {
    for template in TEMPLATES {
        // With has_qr and an SVG at /qr.svg (already in every test above).
        assert_one_page_pdf(&render_builtin(template, &contract_input("Ada Lovelace")));

        // Without has_qr, no SVG is needed.
        let mut no_qr = input(contract_data("Ada Lovelace"));
        no_qr.data["has_qr"] = json!(false);
        assert_one_page_pdf(&render_builtin(template, &no_qr));

        // has_qr without the SVG fails on the QR path: the template reads it.
        no_qr.data["has_qr"] = json!(true);
        let err = ENGINE
            .render(builtin(template), &no_qr)
            .expect_err("has_qr without /qr.svg");
        assert!(err.to_string().contains("/qr.svg"), "{template}: {err}");
    }
}

#[test]
fn render_signature_template_shows_the_signature_image() {
    let unsigned = render_builtin("signature", &contract_input("Ada Lovelace"));
    let mut signed = contract_input("Ada Lovelace");
    signed.data["has_signature"] = json!(true);
    signed.images.push((ImageSlot::Signature, jpeg()));
    let signed = render_builtin("signature", &signed);
    assert_one_page_pdf(&signed);
    // The emblem and the QR code are vector graphics, not images.
    assert_eq!(image_count(&unsigned.pdf), 0);
    assert_eq!(image_count(&signed.pdf), 1, "the signature is embedded");

    // With a photo too, both are there (different bytes: the PDF writer
    // embeds identical images once).
    let ink = image::RgbImage::from_fn(150, 40, |x, _| image::Rgb([20, 30, 90 + (x % 60) as u8]));
    let mut signature = Cursor::new(Vec::new());
    ink.write_to(&mut signature, image::ImageFormat::Jpeg)
        .expect("encode jpeg");
    let mut both = contract_input("Ada Lovelace");
    both.data["has_signature"] = json!(true);
    both.data["has_photo"] = json!(true);
    both.images
        .push((ImageSlot::Signature, signature.into_inner()));
    both.images.push((ImageSlot::Photo, jpeg()));
    assert_eq!(image_count(&render_builtin("signature", &both).pdf), 2);
}

#[test]
fn render_signature_template_draws_its_own_logo() {
    let content = builtin_templates()
        .unwrap()
        .into_iter()
        .find(|t| t.name == "signature")
        .unwrap()
        .content;
    let page_content = |pdf: &[u8]| {
        let document = pdf_extract::Document::load_mem(pdf).expect("parse pdf");
        let page = *document.get_pages().get(&1).expect("one page");
        document.get_page_content(page).expect("page content").len()
    };
    let job = contract_input("Ada Lovelace");
    let with_logo = render_builtin("signature", &job);

    // The same template with a blank logo draws less: the emblem is on the page.
    let mut blank = content.clone();
    blank.assets.insert(
        "/logo.svg".to_owned(),
        br#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"/>"#.to_vec(),
    );
    let blank = Template::compile(blank.files()).unwrap();
    let without_logo = ENGINE.render(&blank, &job).unwrap();
    assert!(
        page_content(&with_logo.pdf) > page_content(&without_logo.pdf) + 500,
        "the logo's paths are drawn"
    );

    // Without the file it fails, pointing at the logo.
    let mut missing = content;
    missing.assets.remove("/logo.svg");
    let missing = Template::compile(missing.files()).unwrap();
    let err = ENGINE.render(&missing, &job).expect_err("no logo");
    assert!(err.to_string().contains("/logo.svg"), "{err}");
}

#[test]
fn only_the_exact_shipped_files_count_as_shipped() {
    let templates = builtin_templates().unwrap();
    assert!(templates.iter().all(|t| is_shipped(&t.content)));
    let classic = templates
        .iter()
        .find(|t| t.name == "classic")
        .unwrap()
        .content
        .clone();
    // Field declarations are not code: the same files stay trusted.
    let mut fields = classic.clone();
    fields.fields.clear();
    assert!(is_shipped(&fields));
    let mut source = classic.clone();
    source.source.push_str("\n#for i in range(10) {}\n");
    assert!(!is_shipped(&source));
    let mut asset = classic.clone();
    asset
        .assets
        .insert("/extra.typ".into(), b"#let x = 1".to_vec());
    assert!(!is_shipped(&asset));
    // One template's source with another's assets is no shipped template either.
    if let Some(other) = templates.iter().find(|t| !t.content.assets.is_empty()) {
        let mut mixed = classic;
        mixed.assets = other.content.assets.clone();
        assert!(!is_shipped(&mixed) || mixed.files() == other.content.files());
    }
}

#[test]
fn every_standard_the_api_accepts_is_one_typst_takes() {
    for standard in PdfStandard::all() {
        if let Err(e) = pdf_standards(Some(standard)) {
            panic!("{standard}: {e}");
        }
    }
}
