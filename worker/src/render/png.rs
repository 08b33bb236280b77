//! PNG previews: page 1 of a document rasterised with typst-render.

use typst::utils::Scalar;
use typst_render::RenderOptions;

use super::{Diagnostic, Engine, EvictOnDrop, RenderError, RenderInput, Template};

/// Most pixels per point a preview may ask for (72 × 16 = 1152 dpi).
const MAX_PIXELS_PER_PT: f32 = 16.0;
/// Longest side of a preview, in pixels.
const MAX_SIDE: u64 = 16_384;
/// Most pixels of a preview: 4 bytes each while it is drawn.
const MAX_PIXELS: u64 = 40_000_000;

/// A rasterised page 1.
#[derive(Debug, Clone)]
pub(crate) struct RenderedPng {
    pub png: Vec<u8>,
    /// Pages of the whole document, though only the first is drawn.
    pub pages: usize,
}

impl Engine {
    /// Page 1 of the document as PNG, at `pixels_per_pt` pixels per typographic point (2.0 is
    /// 144 dpi; at most 16, and at most 40 million pixels). Synchronous and CPU-bound like
    /// [`Engine::render`], and evicts typst's cache the same way.
    pub fn render_png(
        &self,
        template: &Template,
        input: &RenderInput,
        pixels_per_pt: f32,
    ) -> Result<Vec<u8>, RenderError> {
        self.render_png_with_warnings(template, input, pixels_per_pt)
            .map(|(rendered, _)| rendered.png)
    }

    /// [`Self::render_png`], also returning the page count and typst's warnings.
    pub(crate) fn render_png_with_warnings(
        &self,
        template: &Template,
        input: &RenderInput,
        pixels_per_pt: f32,
    ) -> Result<(RenderedPng, Vec<Diagnostic>), RenderError> {
        if !(pixels_per_pt.is_finite() && pixels_per_pt > 0.0 && pixels_per_pt <= MAX_PIXELS_PER_PT)
        {
            return Err(RenderError::Input(format!(
                "pixels per point must be more than 0 and at most {MAX_PIXELS_PER_PT}"
            )));
        }
        let _evict = EvictOnDrop;
        let (document, warnings, _) = self.compile(template, input)?;
        let page = document
            .pages()
            .first()
            .ok_or_else(|| RenderError::Export("the document has no pages".into()))?;

        // typst-render allocates the whole canvas up front (and panics if it cannot): check
        // its size the way it computes it.
        let size = page.frame.size();
        let side = |pt: f64| (f64::from(pixels_per_pt) * pt).round().max(1.0) as u64;
        let (width, height) = (side(size.x.to_pt()), side(size.y.to_pt()));
        if width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS {
            return Err(RenderError::Input(format!(
                "page 1 would be {width}×{height} pixels at {pixels_per_pt} pixels per point; \
                 the limit is {MAX_SIDE} per side and {MAX_PIXELS} in all"
            )));
        }

        let options = RenderOptions {
            pixel_per_pt: Scalar::new(f64::from(pixels_per_pt)),
            render_bleed: false,
        };
        let png = typst_render::render(page, &options)
            .encode_png()
            .map_err(|err| RenderError::Export(format!("PNG encoding failed: {err}")))?;
        let rendered = RenderedPng {
            png,
            pages: document.pages().len(),
        };
        Ok((rendered, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(source: &str) -> Template {
        Template::compile(vec![("/main.typ".into(), source.as_bytes().to_vec())]).expect("template")
    }

    /// Width and height from the PNG header (IHDR follows the 8-byte signature).
    fn dimensions(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        (word(16), word(20))
    }

    #[test]
    fn png_is_page_one_at_the_asked_scale() {
        let engine = Engine::new().unwrap();
        let template = template(
            "#set page(width: 200pt, height: 100pt)\nHello\n#pagebreak()\n#set page(width: 50pt)\nTwo",
        );
        let (rendered, warnings) = engine
            .render_png_with_warnings(&template, &RenderInput::default(), 2.0)
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(rendered.pages, 2);
        assert_eq!(dimensions(&rendered.png), (400, 200));
        let png = engine
            .render_png(&template, &RenderInput::default(), 0.5)
            .unwrap();
        assert_eq!(dimensions(&png), (100, 50));
    }

    #[test]
    fn png_refuses_bad_or_huge_scales() {
        let engine = Engine::new().unwrap();
        let template = template("#set page(width: 2000pt, height: 2000pt)\nBig");
        for scale in [0.0, -1.0, f32::NAN, f32::INFINITY, 17.0] {
            let err = engine
                .render_png(&template, &RenderInput::default(), scale)
                .unwrap_err();
            assert!(matches!(err, RenderError::Input(_)), "{scale}: {err}");
        }
        let err = engine
            .render_png(&template, &RenderInput::default(), 16.0)
            .unwrap_err();
        assert!(err.to_string().contains("32000×32000"), "{err}");
    }

    #[test]
    fn png_reports_compile_errors() {
        let engine = Engine::new().unwrap();
        let err = engine
            .render_png(&template("#let x = "), &RenderInput::default(), 1.0)
            .unwrap_err();
        assert!(matches!(err, RenderError::Compile(_)), "{err}");
    }
}
