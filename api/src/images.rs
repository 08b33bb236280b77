//! Uploaded images (photos, signatures): from the base64 string of a JSON body to bytes that
//! are safe to store and to render.
//!
//! [`decode_base64_image`] is the one entry point. It bounds the size before and after decoding
//! the base64, sniffs the format from the bytes (JPEG, PNG and WebP only), rejects oversized
//! dimensions from the header before any pixel is decoded (decompression bombs), then checks
//! that the file is whole, so that a truncated file is refused at submission rather than
//! failing the job later. A JPEG is checked by walking its segments to the end-of-image marker
//! (the photo a certificate carries: its pixels are decoded once, by the worker's renderer,
//! not twice); PNG and WebP are decoded completely, and PNGs without transparency are
//! re-encoded as JPEG: typst re-encodes PNGs during PDF export, ~15x slower and bigger than a
//! JPEG that it embeds as is.

use std::io::Cursor;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use image::{DynamicImage, ImageDecoder, ImageEncoder};
use serde::{Deserialize, Serialize};

/// JPEG quality of PNGs converted to JPEG: visually lossless for photos and signatures.
const JPEG_QUALITY: u8 = 90;

/// What an uploaded image may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest decoded file, in bytes (before any conversion).
    pub max_bytes: usize,
    /// Most pixels (width × height).
    pub max_pixels: u64,
    /// Longest side, in pixels.
    pub max_side: u32,
}

impl From<&shared::config::Limits> for ImageLimits {
    fn from(limits: &shared::config::Limits) -> Self {
        ImageLimits {
            max_bytes: limits.max_image_bytes,
            max_pixels: limits.max_image_pixels,
            max_side: limits.max_image_side,
        }
    }
}

/// The formats accepted, all of which typst renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }
}

/// An image that decoded completely within the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedImage {
    /// The bytes to store and render: the upload itself, or a JPEG if `converted`.
    pub bytes: Vec<u8>,
    /// The format of `bytes`.
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// An opaque PNG re-encoded as JPEG.
    pub converted: bool,
}

/// Why an upload was refused. `Display` is a sentence about "the image" without the field
/// name (the API puts the field beside it); [`ImageError::code`] is the stable machine code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("The image is not valid base64: {reason}.")]
    InvalidBase64 { reason: String },
    #[error("The image is {got} bytes; the limit is {max} bytes.")]
    TooLarge { got: usize, max: usize },
    #[error("The image is {width}x{height} pixels; {limit}.", limit = .limit.describe(*.width, *.height))]
    Dimensions {
        width: u32,
        height: u32,
        limit: DimensionLimit,
    },
    #[error("The image {detail}; only JPEG, PNG and WebP images are accepted.")]
    Unsupported { detail: String },
    #[error("The image is damaged or incomplete: {reason}.")]
    Corrupt { reason: String },
}

/// Which dimension limit an image broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimensionLimit {
    /// A side of 0 pixels.
    Empty,
    /// A side longer than this.
    Side(u32),
    /// More pixels than this.
    Pixels(u64),
}

impl DimensionLimit {
    fn describe(self, width: u32, height: u32) -> String {
        match self {
            DimensionLimit::Empty => "both sides must be at least 1 pixel".into(),
            DimensionLimit::Side(max) => format!("neither side may be longer than {max} pixels"),
            DimensionLimit::Pixels(max) => format!(
                "that is {} pixels in all and the limit is {max}",
                u64::from(width) * u64::from(height)
            ),
        }
    }
}

impl ImageError {
    /// Stable machine code for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::InvalidBase64 { .. } => "invalid_base64",
            ImageError::TooLarge { .. } => "image_too_large",
            ImageError::Dimensions { .. } => "image_dimensions",
            ImageError::Unsupported { .. } => "unsupported_image",
            ImageError::Corrupt { .. } => "corrupt_image",
        }
    }
}

/// Turns an uploaded base64 image into bytes that are safe to store and render.
///
/// Accepts an optional `data:image/...;base64,` prefix, padded or unpadded standard base64,
/// and line breaks inside the base64 (as `base64` tools wrap it). The format is sniffed from the
/// bytes; a `data:` URL's declared type is ignored.
///
/// **CPU-bound** (a full decode, and a JPEG encode for opaque PNGs: tens of milliseconds for a
/// large photo) and allocates up to about `max_pixels × 8` bytes: call it on the blocking pool
/// (`tokio::task::spawn_blocking`), never on the async executor.
pub fn decode_base64_image(b64: &str, limits: &ImageLimits) -> Result<CheckedImage, ImageError> {
    let data = strip_data_url(b64.trim())?;
    let cleaned;
    let data = if data.bytes().any(|b| b.is_ascii_whitespace()) {
        cleaned = data
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>();
        cleaned.as_str()
    } else {
        data
    };

    // Cheap bound before decoding: the decoded length follows from the base64 length.
    let padding = data.bytes().rev().take(2).filter(|&b| b == b'=').count();
    let decoded_len = (data.len() - padding) / 4 * 3 + (data.len() - padding) % 4 * 3 / 4;
    if decoded_len > limits.max_bytes {
        return Err(ImageError::TooLarge {
            got: decoded_len,
            max: limits.max_bytes,
        });
    }
    let bytes = BASE64
        .decode(data.as_bytes())
        .map_err(|e| ImageError::InvalidBase64 {
            reason: sentence_part(&e.to_string()),
        })?;
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooLarge {
            got: bytes.len(),
            max: limits.max_bytes,
        });
    }
    check_image(bytes, limits)
}

/// Standard alphabet; padding optional (some clients strip it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn strip_data_url(s: &str) -> Result<&str, ImageError> {
    let Some(rest) = s.strip_prefix("data:") else {
        return Ok(s);
    };
    let Some((meta, data)) = rest.split_once(',') else {
        return Err(ImageError::InvalidBase64 {
            reason: "a data: URL needs a comma before its data".into(),
        });
    };
    if !meta.to_ascii_lowercase().ends_with(";base64") {
        return Err(ImageError::InvalidBase64 {
            reason: "a data: URL must be `data:image/...;base64,` followed by base64".into(),
        });
    }
    Ok(data)
}

/// Sniff, bound the dimensions from the header, decode fully, convert opaque PNGs.
fn check_image(bytes: Vec<u8>, limits: &ImageLimits) -> Result<CheckedImage, ImageError> {
    let (format, image_format) = match image::guess_format(&bytes) {
        Ok(image::ImageFormat::Jpeg) => (ImageFormat::Jpeg, image::ImageFormat::Jpeg),
        Ok(image::ImageFormat::Png) => (ImageFormat::Png, image::ImageFormat::Png),
        Ok(image::ImageFormat::WebP) => (ImageFormat::Webp, image::ImageFormat::WebP),
        Ok(other) => {
            let name = other.extensions_str().first().copied().unwrap_or("other");
            return Err(ImageError::Unsupported {
                detail: format!("is a {} file", name.to_ascii_uppercase()),
            });
        }
        Err(_) if bytes.is_empty() => {
            return Err(ImageError::Corrupt {
                reason: "it is empty".into(),
            });
        }
        Err(_) => {
            return Err(ImageError::Unsupported {
                detail: "is not in a recognised image format".into(),
            });
        }
    };

    // The decoder reads the header only; dimensions are checked before any pixel is decoded.
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes.as_slice()), image_format);
    let mut decode_limits = image::Limits::default();
    // The largest pixel these formats decode to is 16-bit RGBA (8 bytes); some slack for
    // decoders' working buffers.
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(16 << 20));
    reader.limits(decode_limits.clone());
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    decoder.set_limits(decode_limits).map_err(decode_error)?;

    if format == ImageFormat::Jpeg {
        // Whole from start to end-of-image marker is what a submission can check cheaply (the
        // header was parsed above). Decoding the pixels here would double the work of the
        // render, which decodes them anyway; and zune-jpeg fills a truncated scan with grey
        // rather than failing, so a decode would not find more than this walk does.
        jpeg_structure(&bytes).map_err(|reason| ImageError::Corrupt {
            reason: reason.into(),
        })?;
        drop(decoder);
        return Ok(CheckedImage {
            bytes,
            format,
            width,
            height,
            converted: false,
        });
    }

    let icc_profile = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;

    if format == ImageFormat::Png && is_opaque(&image) {
        let bytes = encode_jpeg(&image, icc_profile)?;
        return Ok(CheckedImage {
            bytes,
            format: ImageFormat::Jpeg,
            width,
            height,
            converted: true,
        });
    }
    Ok(CheckedImage {
        bytes,
        format,
        width,
        height,
        converted: false,
    })
}

fn check_dimensions(width: u32, height: u32, limits: &ImageLimits) -> Result<(), ImageError> {
    let limit = if width == 0 || height == 0 {
        DimensionLimit::Empty
    } else if width > limits.max_side || height > limits.max_side {
        DimensionLimit::Side(limits.max_side)
    } else if u64::from(width) * u64::from(height) > limits.max_pixels {
        DimensionLimit::Pixels(limits.max_pixels)
    } else {
        return Ok(());
    };
    Err(ImageError::Dimensions {
        width,
        height,
        limit,
    })
}

fn decode_error(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Unsupported(e) => ImageError::Unsupported {
            detail: format!(
                "uses a feature that is not supported ({})",
                sentence_part(&e.to_string())
            ),
        },
        image::ImageError::Limits(e) => ImageError::Corrupt {
            reason: format!(
                "decoding it would exceed the memory allowed ({})",
                sentence_part(&e.to_string())
            ),
        },
        // "Format error decoding Png: <what>": the format is known, keep the what.
        e => {
            let reason =
                std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string());
            ImageError::Corrupt {
                reason: sentence_part(&reason),
            }
        }
    }
}

/// An error message as part of a sentence: no trailing full stop, at most 200 characters.
fn sentence_part(s: &str) -> String {
    let s = s.trim().trim_end_matches('.');
    match s.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// Whether every pixel is fully opaque (no alpha channel, or alpha at its maximum everywhere).
fn is_opaque(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageLumaA8(i) => i.pixels().all(|p| p.0[1] == u8::MAX),
        DynamicImage::ImageRgba8(i) => i.pixels().all(|p| p.0[3] == u8::MAX),
        DynamicImage::ImageLumaA16(i) => i.pixels().all(|p| p.0[1] == u16::MAX),
        DynamicImage::ImageRgba16(i) => i.pixels().all(|p| p.0[3] == u16::MAX),
        DynamicImage::ImageRgba32F(i) => i.pixels().all(|p| p.0[3] >= 1.0),
        other => !other.color().has_alpha(),
    }
}

/// Re-encodes an opaque image as JPEG: grey stays grey (smaller), anything else is RGB. The
/// ICC profile, if any, is carried over (its colour space matches: PNG ties it to the colour type).
fn encode_jpeg(image: &DynamicImage, icc_profile: Option<Vec<u8>>) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    if let Some(icc) = icc_profile {
        // Only fails for encoders without ICC support; the JPEG encoder has it.
        let _ = encoder.set_icc_profile(icc);
    }
    let grey = matches!(
        image.color(),
        image::ColorType::L8
            | image::ColorType::La8
            | image::ColorType::L16
            | image::ColorType::La16
    );
    let result = if grey {
        let luma = image.to_luma8();
        encoder.write_image(
            luma.as_raw(),
            luma.width(),
            luma.height(),
            image::ExtendedColorType::L8,
        )
    } else {
        let rgb = image.to_rgb8();
        encoder.write_image(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
    };
    result.map_err(|e| ImageError::Corrupt {
        reason: format!(
            "it could not be converted to JPEG ({})",
            sentence_part(&e.to_string())
        ),
    })?;
    Ok(out)
}

/// Walks a JPEG's segments from SOI to EOI: a file cut short never reaches EOI. Segments with a
/// length (APPn with an EXIF thumbnail and its own EOI, tables, frame headers) are skipped whole;
/// entropy-coded data ends at the first marker that is neither a stuffed `FF 00` nor a restart.
/// Bytes after EOI (camera trailers, motion photos) are allowed.
fn jpeg_structure(bytes: &[u8]) -> Result<(), &'static str> {
    const CUT: &str = "the JPEG data ends before its end-of-image marker";
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err("the JPEG does not start with a start-of-image marker");
    }
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of FF fill bytes.
        if bytes.get(i) != Some(&0xFF) {
            return Err(if i >= bytes.len() {
                CUT
            } else {
                "a JPEG segment does not start with a marker"
            });
        }
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = bytes.get(i) else {
            return Err(CUT);
        };
        i += 1;
        match marker {
            0xD9 => return Ok(()),
            // Stand-alone markers: TEM, RSTn (outside a scan, tolerated).
            0x01 | 0xD0..=0xD7 => continue,
            0x00 | 0xD8 => return Err("a JPEG segment has an invalid marker"),
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (bytes.get(i), bytes.get(i + 1)) else {
            return Err(CUT);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 2 {
            return Err("a JPEG segment has an invalid length");
        }
        i += len;
        if i > bytes.len() {
            return Err(CUT);
        }
        if marker == 0xDA {
            // Start of scan: skip entropy-coded data up to the next real marker.
            loop {
                match bytes.get(i..i + 2) {
                    None => return Err(CUT),
                    Some([0xFF, 0x00 | 0xD0..=0xD7 | 0xFF]) => i += 1,
                    Some([0xFF, _]) => break,
                    Some(_) => i += 1,
                }
            }
        }
    }
}

/// Decodes and checks one base64 upload, as a submission's problem (code, message) when it
/// is refused. CPU-heavy (PNG and WebP pixels are decoded in full): call it only inside a
/// check of `offload::CheckPool`, never on the async executor.
pub(crate) fn check(
    limits: &ImageLimits,
    b64: &str,
) -> Result<CheckedImage, (&'static str, String)> {
    decode_base64_image(b64, limits).map_err(|e| (e.code(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Rgb, RgbImage, Rgba, RgbaImage};

    const LIMITS: ImageLimits = ImageLimits {
        max_bytes: 2 * 1024 * 1024,
        max_pixels: 40_000_000,
        max_side: 10_000,
    };

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// A photo-like gradient with some texture, so encoders do real work.
    fn photo(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) % 17;
            Rgb([
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x + y) % 256) as u8 ^ n as u8,
            ])
        })
    }

    fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        encode(
            &DynamicImage::ImageRgb8(photo(w, h)),
            image::ImageFormat::Jpeg,
        )
    }

    fn code(r: Result<CheckedImage, ImageError>) -> &'static str {
        r.unwrap_err().code()
    }

    #[test]
    fn jpeg_passes_through_unchanged() {
        let bytes = jpeg(64, 48);
        let img = decode_base64_image(&b64(&bytes), &LIMITS).unwrap();
        assert_eq!(img.format, ImageFormat::Jpeg);
        assert_eq!((img.width, img.height), (64, 48));
        assert!(!img.converted);
        assert_eq!(img.bytes, bytes);
    }

    #[test]
    fn webp_passes_through_unchanged() {
        let bytes = encode(
            &DynamicImage::ImageRgb8(photo(40, 30)),
            image::ImageFormat::WebP,
        );
        let img = decode_base64_image(&b64(&bytes), &LIMITS).unwrap();
        assert_eq!(img.format, ImageFormat::Webp);
        assert_eq!((img.width, img.height, img.converted), (40, 30, false));
        assert_eq!(img.bytes, bytes);
    }

    #[test]
    fn opaque_png_becomes_jpeg() {
        let bytes = encode(
            &DynamicImage::ImageRgb8(photo(300, 200)),
            image::ImageFormat::Png,
        );
        let img = decode_base64_image(&b64(&bytes), &LIMITS).unwrap();
        assert_eq!(img.format, ImageFormat::Jpeg);
        assert!(img.converted);
        assert_eq!((img.width, img.height), (300, 200));
        assert_eq!(
            image::guess_format(&img.bytes).unwrap(),
            image::ImageFormat::Jpeg
        );
        let back = image::load_from_memory(&img.bytes).unwrap();
        assert_eq!((back.width(), back.height()), (300, 200));
        assert!(
            img.bytes.len() < bytes.len(),
            "{} >= {}",
            img.bytes.len(),
            bytes.len()
        );
    }

    #[test]
    fn png_with_an_opaque_alpha_channel_becomes_jpeg() {
        let rgba = RgbaImage::from_pixel(20, 10, Rgba([10, 20, 30, 255]));
        let bytes = encode(&DynamicImage::ImageRgba8(rgba), image::ImageFormat::Png);
        let img = decode_base64_image(&b64(&bytes), &LIMITS).unwrap();
        assert_eq!((img.format, img.converted), (ImageFormat::Jpeg, true));
    }

    #[test]
    fn grey_png_becomes_grey_jpeg() {
        let grey = GrayImage::from_fn(32, 32, |x, y| image::Luma([(x * 8 + y) as u8]));
        let bytes = encode(&DynamicImage::ImageLuma8(grey), image::ImageFormat::Png);
        let img = decode_base64_image(&b64(&bytes), &LIMITS).unwrap();
        assert_eq!((img.format, img.converted), (ImageFormat::Jpeg, true));
        let back = image::load_from_memory(&img.bytes).unwrap();
        assert_eq!(back.color(), image::ColorType::L8);
    }

    #[test]
    fn png_with_transparency_stays_png() {
        let mut rgba = RgbaImage::from_pixel(20, 10, Rgba([0, 0, 0, 255]));
        rgba.put_pixel(3, 3, Rgba([0, 0, 0, 0]));
        let bytes = encode(&DynamicImage::ImageRgba8(rgba), image::ImageFormat::Png);
        let img = decode_base64_image(&b64(&bytes), &LIMITS).unwrap();
        assert_eq!(img.format, ImageFormat::Png);
        assert!(!img.converted);
        assert_eq!(img.bytes, bytes);
    }

    #[test]
    fn truncated_jpeg_is_corrupt() {
        let bytes = jpeg(200, 150);
        for cut in [
            bytes.len() - 2,
            bytes.len() * 2 / 3,
            bytes.len() / 3,
            100,
            3,
        ] {
            let r = decode_base64_image(&b64(&bytes[..cut]), &LIMITS);
            assert_eq!(code(r), "corrupt_image", "cut at {cut} of {}", bytes.len());
        }
    }

    #[test]
    fn jpeg_pixels_are_left_to_the_renderer() {
        // A whole JPEG whose scan data is noise: the segments are intact, so the submission
        // takes it as is (the renderer decodes the pixels, once); a cut one is still refused.
        let mut bytes = jpeg(64, 48);
        let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let len = usize::from(u16::from_be_bytes([bytes[sos + 2], bytes[sos + 3]]));
        let scan = sos + 2 + len..bytes.len() - 2;
        for (i, b) in bytes[scan].iter_mut().enumerate() {
            // Noise without 0xFF, so no marker appears inside the scan.
            *b = (i as u8).wrapping_mul(37) & 0x7F;
        }
        let img = decode_base64_image(&b64(&bytes), &LIMITS).unwrap();
        assert_eq!(
            (img.format, img.width, img.height),
            (ImageFormat::Jpeg, 64, 48)
        );
        assert_eq!(img.bytes, bytes);
        let cut = &bytes[..bytes.len() - 10];
        assert_eq!(
            code(decode_base64_image(&b64(cut), &LIMITS)),
            "corrupt_image"
        );
    }

    #[test]
    fn jpeg_with_trailing_bytes_is_accepted() {
        let mut bytes = jpeg(16, 16);
        bytes.extend_from_slice(b"camera trailer \xFF\x00\xFF");
        assert!(decode_base64_image(&b64(&bytes), &LIMITS).is_ok());
    }

    #[test]
    fn truncated_png_is_corrupt() {
        let bytes = encode(
            &DynamicImage::ImageRgb8(photo(100, 100)),
            image::ImageFormat::Png,
        );
        let r = decode_base64_image(&b64(&bytes[..bytes.len() / 2]), &LIMITS);
        assert_eq!(code(r), "corrupt_image");
    }

    #[test]
    fn gif_and_bmp_are_unsupported() {
        // A whole 1x1 GIF (the `image` crate's GIF encoder is not enabled here).
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        let e = decode_base64_image(&b64(gif), &LIMITS).unwrap_err();
        assert_eq!(e.code(), "unsupported_image");
        assert_eq!(
            e.to_string(),
            "The image is a GIF file; only JPEG, PNG and WebP images are accepted."
        );
        // BMP: the header is enough to sniff it.
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0; 52]);
        let e = decode_base64_image(&b64(&bmp), &LIMITS).unwrap_err();
        assert_eq!(e.code(), "unsupported_image");
        assert!(e.to_string().contains("BMP"), "{e}");
        let text = b"just some text, not an image";
        let e = decode_base64_image(&b64(text), &LIMITS).unwrap_err();
        assert_eq!(e.code(), "unsupported_image");
    }

    #[test]
    fn bad_base64_is_invalid_base64() {
        let e = decode_base64_image("not base64 at all!", &LIMITS).unwrap_err();
        assert_eq!(e.code(), "invalid_base64");
        assert!(
            e.to_string().starts_with("The image is not valid base64"),
            "{e}"
        );
        let e = decode_base64_image("data:image/png,abcd", &LIMITS).unwrap_err();
        assert_eq!(e.code(), "invalid_base64");
    }

    #[test]
    fn data_url_prefix_line_breaks_and_missing_padding_are_accepted() {
        let bytes = jpeg(10, 10);
        let encoded = b64(&bytes);
        let url = format!("data:image/jpeg;base64,{encoded}");
        assert_eq!(decode_base64_image(&url, &LIMITS).unwrap().bytes, bytes);
        // The declared type is ignored: the bytes decide.
        let url = format!("data:image/png;base64,{encoded}");
        assert_eq!(
            decode_base64_image(&url, &LIMITS).unwrap().format,
            ImageFormat::Jpeg
        );
        let wrapped: String = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(decode_base64_image(&wrapped, &LIMITS).unwrap().bytes, bytes);
        let unpadded = encoded.trim_end_matches('=');
        assert_eq!(decode_base64_image(unpadded, &LIMITS).unwrap().bytes, bytes);
    }

    #[test]
    fn too_many_bytes_is_refused_before_decoding() {
        let limits = ImageLimits {
            max_bytes: 1000,
            ..LIMITS
        };
        // Not even valid base64: the length alone decides, so nothing is decoded.
        let e = decode_base64_image(&"!".repeat(1400), &limits).unwrap_err();
        assert_eq!(
            e,
            ImageError::TooLarge {
                got: 1050,
                max: 1000
            }
        );
        assert_eq!(e.code(), "image_too_large");
        // Exactly at the limit is fine as far as size goes.
        let e = decode_base64_image(&b64(&[0u8; 1000]), &limits).unwrap_err();
        assert_eq!(e.code(), "unsupported_image");
        let e = decode_base64_image(&b64(&[0u8; 1001]), &limits).unwrap_err();
        assert_eq!(
            e,
            ImageError::TooLarge {
                got: 1001,
                max: 1000
            }
        );
        assert_eq!(
            e.to_string(),
            "The image is 1001 bytes; the limit is 1000 bytes."
        );
    }

    /// A PNG chunk: length, type, data, CRC.
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = 0xFFFF_FFFFu32;
        for &b in kind.iter().chain(data) {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        out.extend_from_slice(&(!crc).to_be_bytes());
        out
    }

    /// A PNG that claims `w`x`h` RGB pixels but whose image data is garbage: it can only get
    /// past the dimension check by being decoded, which would fail as corrupt.
    fn png_header_only(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &ihdr));
        png.extend(chunk(b"IDAT", b"not zlib data"));
        png.extend(chunk(b"IEND", b""));
        png
    }

    #[test]
    fn oversized_dimensions_are_refused_from_the_header() {
        let e = decode_base64_image(&b64(&png_header_only(20_000, 10)), &LIMITS).unwrap_err();
        assert_eq!(e.code(), "image_dimensions");
        assert_eq!(
            e.to_string(),
            "The image is 20000x10 pixels; neither side may be longer than 10000 pixels."
        );
        let e = decode_base64_image(&b64(&png_header_only(8_000, 8_000)), &LIMITS).unwrap_err();
        assert_eq!(e.code(), "image_dimensions");
        assert!(
            e.to_string()
                .contains("64000000 pixels in all and the limit is 40000000"),
            "{e}"
        );
        // Within the limits the same garbage is decoded, and found corrupt.
        let r = decode_base64_image(&b64(&png_header_only(100, 100)), &LIMITS);
        assert_eq!(code(r), "corrupt_image");
    }

    #[test]
    fn zero_sized_images_are_refused() {
        // Zero is invalid in PNG's IHDR and JPEG's frame header, and their decoders refuse it
        // while reading the header (corrupt); the dimension check refuses it for any decoder
        // that would not. Never accepted either way.
        let e = decode_base64_image(&b64(&png_header_only(0, 10)), &LIMITS).unwrap_err();
        assert!(
            matches!(e.code(), "image_dimensions" | "corrupt_image"),
            "{e}"
        );
        let mut jpeg = jpeg(16, 16);
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 7].copy_from_slice(&[0, 0]);
        let e = decode_base64_image(&b64(&jpeg), &LIMITS).unwrap_err();
        assert!(
            matches!(e.code(), "image_dimensions" | "corrupt_image"),
            "{e}"
        );
        let e = decode_base64_image("", &LIMITS).unwrap_err();
        assert_eq!(e.code(), "corrupt_image");
        assert_eq!(
            e.to_string(),
            "The image is damaged or incomplete: it is empty."
        );
    }

    #[test]
    fn dimension_check_covers_every_limit() {
        let limits = ImageLimits {
            max_bytes: 1,
            max_pixels: 100,
            max_side: 50,
        };
        let limit = |w, h| match check_dimensions(w, h, &limits) {
            Err(ImageError::Dimensions { limit, .. }) => Some(limit),
            _ => None,
        };
        assert_eq!(limit(0, 5), Some(DimensionLimit::Empty));
        assert_eq!(limit(5, 0), Some(DimensionLimit::Empty));
        assert_eq!(limit(51, 1), Some(DimensionLimit::Side(50)));
        assert_eq!(limit(1, 51), Some(DimensionLimit::Side(50)));
        assert_eq!(limit(11, 10), Some(DimensionLimit::Pixels(100)));
        assert_eq!(limit(10, 10), None);
    }
}
