//! PDF inspection shared by the worker's render tests (`src/render/tests.rs`) and
//! `tests/integration/report_render.rs`, included in each with `#[path]`.

/// Number of image XObjects in the PDF (lopdf, re-exported by pdf-extract).
pub fn image_count(pdf: &[u8]) -> usize {
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
