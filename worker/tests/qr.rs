//! The verification QR code survives the whole path: `shared::verification::qr_svg` served in
//! the QR image slot, drawn by a typst template, exported to PDF, rasterised by poppler's
//! `pdftoppm` (poppler-utils, installed by deploy/test-services.sh) and decoded by rqrr.

use std::process::Command;

use shared::verification::{qr_svg, verify_url};
use worker::render::{Engine, ImageSlot, RenderInput, Template};

/// Every QR code on page 1 of `pdf`, decoded, in no particular order. Panics when `pdftoppm`
/// is missing or fails: a test that reads QR codes must not pass without reading them.
///
/// A copy of quire/tests/integration/pdf.rs's: test code stays out of release builds, and the
/// two test trees cannot share a module.
fn qr_codes_in_pdf(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("in.pdf");
    std::fs::write(&input, pdf).expect("write the PDF");
    let prefix = dir.path().join("page");
    let output = Command::new("pdftoppm")
        .args(["-r", "200", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&input)
        .arg(&prefix)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `pdftoppm` ({e}): install poppler-utils (deploy/test-services.sh does)"
            )
        });
    assert!(
        output.status.success(),
        "pdftoppm failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let png = std::fs::read(prefix.with_extension("png")).expect("pdftoppm wrote page.png");
    let page = image::load_from_memory(&png)
        .expect("pdftoppm's PNG decodes")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        page.width() as usize,
        page.height() as usize,
        |x, y| page.get_pixel(x as u32, y as u32).0[0],
    );
    prepared
        .detect_grids()
        .iter()
        .filter_map(|grid| match grid.decode() {
            Ok((_, text)) => Some(text),
            Err(e) => {
                eprintln!("a QR code was found on the page but does not decode: {e}");
                None
            }
        })
        .collect()
}

fn render(main_typ: &str, qr: Option<String>) -> Vec<u8> {
    let engine = Engine::new().expect("engine");
    let template =
        Template::compile(vec![("/main.typ".into(), main_typ.as_bytes().to_vec())]).unwrap();
    let input = RenderInput {
        images: qr
            .map(|svg| vec![(ImageSlot::Qr, svg.into_bytes())])
            .unwrap_or_default(),
        ..RenderInput::default()
    };
    engine.render(&template, &input).expect("render").pdf
}

#[test]
fn the_qr_code_in_a_rendered_pdf_decodes_to_the_verify_url() {
    let url = verify_url("https://example.test/", "ABCD-EFGH-JKMN");
    let pdf = render(
        r#"#set page(width: 8cm, height: 6cm, margin: 1cm)
Scan to verify:
#align(right, image("/qr.svg", width: 2.5cm))
"#,
        Some(qr_svg(&url)),
    );
    assert_eq!(qr_codes_in_pdf(&pdf), vec![url]);
}

#[test]
fn a_small_qr_code_still_decodes() {
    // 1.5 cm across: a module of a version-3 code is ~0.4 mm, ~3 pixels at 200 dpi.
    let url = verify_url("https://certificates.example.org", "23456789ABCD");
    let pdf = render(
        r#"#set page(width: 4cm, height: 4cm, margin: 0.5cm)
#image("/qr.svg", width: 1.5cm)
"#,
        Some(qr_svg(&url)),
    );
    assert_eq!(qr_codes_in_pdf(&pdf), vec![url]);
}

#[test]
fn a_page_without_a_qr_code_has_none() {
    let pdf = render("#set page(width: 4cm, height: 4cm)\nNo code here.\n", None);
    assert!(qr_codes_in_pdf(&pdf).is_empty());
}
