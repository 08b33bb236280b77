//! Reading PDFs back as a person would see them: page 1 rasterised by poppler's `pdftoppm`
//! (installed by `deploy/test-services.sh`, package poppler-utils) and its QR codes decoded;
//! and the verification QR code's whole path: `shared::verification::qr_svg` served in the QR
//! image slot, drawn by a typst template, exported to PDF, read back.

use std::process::Command;

use shared::verification::{qr_svg, verify_url};
use worker::render::{Engine, ImageSlot, RenderInput, Template};

/// Every QR code on page 1 of `pdf`, decoded, in no particular order. Panics when `pdftoppm`
/// is missing or fails: a test that reads QR codes must not pass without reading them.
pub fn qr_codes_in_pdf(pdf: &[u8]) -> Vec<String> {
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

/// A one-page PDF (200 x 200 pt) showing `qr_svg`'s squares as filled rectangles, 4 pt per
/// module: the SVG path is `Mx y` + a unit square per dark module.
fn pdf_with_qr(svg: &str) -> Vec<u8> {
    let path = svg.split("d=\"").nth(1).expect("the SVG has a path");
    let path = &path[..path.find('"').expect("the path ends")];
    // Flip SVG's downward y axis into PDF's upward one.
    let mut content = String::from("q 4 0 0 -4 20 180 cm 0 g\n");
    for square in path.split('M').skip(1) {
        let (x, rest) = square.split_once(' ').expect("Mx y");
        let y: String = rest.chars().take_while(char::is_ascii_digit).collect();
        content.push_str(&format!("{x} {y} 1 1 re\n"));
    }
    content.push_str("f Q\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>".to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        table.push_str(&format!("{offset:010} 00000 n \n"));
    }
    table.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.extend_from_slice(table.as_bytes());
    pdf
}

#[test]
fn a_verification_qr_code_reads_back_from_a_pdf() {
    let url = shared::verification::verify_url("https://example.test", "ABCD-EFGH-JKMN");
    let pdf = pdf_with_qr(&shared::verification::qr_svg(&url));
    assert_eq!(qr_codes_in_pdf(&pdf), vec![url]);
}

#[test]
fn a_pdf_without_qr_codes_has_none() {
    assert!(qr_codes_in_pdf(&pdf_with_qr("<path d=\"\"/>")).is_empty());
}

/// A page rendered in-process by the worker's engine, with `qr` in the QR image slot.
fn render_with_qr(main_typ: &str, qr: Option<String>) -> Vec<u8> {
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
    let pdf = render_with_qr(
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
    let pdf = render_with_qr(
        r#"#set page(width: 4cm, height: 4cm, margin: 0.5cm)
#image("/qr.svg", width: 1.5cm)
"#,
        Some(qr_svg(&url)),
    );
    assert_eq!(qr_codes_in_pdf(&pdf), vec![url]);
}

#[test]
fn a_page_without_a_qr_code_has_none() {
    let pdf = render_with_qr("#set page(width: 4cm, height: 4cm)\nNo code here.\n", None);
    assert!(qr_codes_in_pdf(&pdf).is_empty());
}
