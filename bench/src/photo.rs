//! A realistic portrait photo, generated once: smooth gradients with sensor-like noise, so
//! the JPEG neither collapses to a few KB nor balloons (about 40 KB at 400x500).

use base64::Engine as _;
use image::codecs::jpeg::JpegEncoder;
use image::{ImageBuffer, Rgb};

pub const WIDTH: u32 = 400;
pub const HEIGHT: u32 = 500;

/// A deterministic xorshift generator: the same photo on every run.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Roughly uniform in -amplitude..=amplitude.
    fn sample(&mut self, amplitude: i32) -> i32 {
        let span = u64::try_from(2 * amplitude + 1).unwrap_or(1);
        i32::try_from(self.next() % span).unwrap_or(0) - amplitude
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to 0..=255 first
fn channel(value: f32) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}

/// The JPEG bytes of a `WIDTH`x`HEIGHT` photo at `quality`, with noise of `noise` levels.
pub fn jpeg(quality: u8, noise: i32) -> anyhow::Result<Vec<u8>> {
    let mut rng = Noise(0x9E37_79B9_7F4A_7C15);
    let (w, h) = (WIDTH as f32, HEIGHT as f32);
    let img = ImageBuffer::from_fn(WIDTH, HEIGHT, |x, y| {
        let (fx, fy) = (x as f32 / w, y as f32 / h);
        // Background: a diagonal gradient; a lighter ellipse as the "face".
        let (dx, dy) = ((fx - 0.5) / 0.28, (fy - 0.42) / 0.3);
        let face = (1.0 - (dx * dx + dy * dy)).clamp(0.0, 1.0);
        let base = [
            60.0 + 120.0 * fx + 110.0 * face,
            80.0 + 60.0 * fy + 80.0 * face,
            140.0 - 70.0 * fx + 50.0 * face,
        ];
        let grain = rng.sample(noise) as f32;
        Rgb(base.map(|c| channel(c + grain + rng.sample(noise / 2) as f32)))
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(&img)?;
    Ok(out)
}

/// The photo as the API takes it: base64, and its decoded size.
pub struct Photo {
    pub base64: String,
    pub bytes: usize,
}

/// A photo of 30 to 60 KB: the first quality setting whose output falls in that range.
pub fn generate() -> anyhow::Result<Photo> {
    let mut last = Vec::new();
    for (quality, noise) in [(80, 10), (75, 8), (85, 12), (70, 6), (90, 14), (92, 18)] {
        last = jpeg(quality, noise)?;
        if (30_000..=60_000).contains(&last.len()) {
            break;
        }
    }
    Ok(Photo {
        bytes: last.len(),
        base64: base64::engine::general_purpose::STANDARD.encode(&last),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_is_a_jpeg_of_realistic_size() {
        let photo = generate().unwrap();
        assert!(
            (30_000..=60_000).contains(&photo.bytes),
            "{} bytes",
            photo.bytes
        );
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&photo.base64)
            .unwrap();
        assert_eq!(&raw[..3], &[0xFF, 0xD8, 0xFF]);
        let decoded = image::load_from_memory(&raw).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (WIDTH, HEIGHT));
    }
}
