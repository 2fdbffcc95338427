//! Intake: bytes in, fixed-width JPEG derivatives out, or a refusal with its reason.
//!
//! Order of checks (each cheaper than the next, nothing stored on refusal):
//! byte cap → magic bytes → header dimensions against the pixel budget (each side on its own,
//! then the area; never a tuple comparison) → animation → decode under `image::Limits` →
//! EXIF orientation applied → flattened to RGB → re-encoded. Re-encoding writes pixels only, so
//! EXIF, XMP, GPS and ICC comments of the upload never reach a stored variant.

use std::io::Cursor;
use std::sync::Arc;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use tokio::sync::Semaphore;

use crate::header::{self, HeaderError, Sniffed};

/// Widths of the derivatives built at upload, largest first. A smaller original is kept at its
/// own width (never upscaled) under each label.
pub const WIDTHS: [u32; 3] = [1080, 512, 256];

/// JPEG quality of every derivative.
pub const JPEG_QUALITY: u8 = 85;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntakeLimits {
    pub max_bytes: usize,
    /// each side checked on its own
    pub max_side: u32,
    pub max_pixels: u64,
    /// what the decoder may allocate (`image::Limits::max_alloc`)
    pub max_alloc: u64,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_side: 8192,
            max_pixels: 40_000_000,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Jpeg,
    Png,
    WebP,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::WebP => "image/webp",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IntakeError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than {max} bytes")]
    TooManyBytes { max: usize },
    #[error("only JPEG, PNG and WebP images are accepted")]
    UnsupportedType,
    #[error("animated images are not accepted")]
    Animated,
    #[error("the image header is damaged")]
    Malformed,
    #[error("the image is {width}×{height}; at most {max_side} px a side and {max_pixels} pixels")]
    TooLarge {
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    #[error("the image could not be decoded")]
    Undecodable(String),
    #[error("image processing failed")]
    Internal(String),
}

/// One re-encoded derivative.
#[derive(Debug, Clone)]
pub struct Variant {
    /// the fixed width it was built for (one of [`WIDTHS`])
    pub label: u32,
    pub width: u32,
    pub height: u32,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Processed {
    pub source: SourceFormat,
    /// upright dimensions of the source (after EXIF orientation)
    pub width: u32,
    pub height: u32,
    pub variants: Vec<Variant>,
}

/// Checks size, type, dimensions and animation without decoding. Allocation-free.
pub fn check(bytes: &[u8], limits: &IntakeLimits) -> Result<header::Header, IntakeError> {
    if bytes.is_empty() {
        return Err(IntakeError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(IntakeError::TooManyBytes {
            max: limits.max_bytes,
        });
    }
    let head = header::read_header(bytes).map_err(|e| match e {
        HeaderError::Unsupported => IntakeError::UnsupportedType,
        HeaderError::Malformed => IntakeError::Malformed,
    })?;
    let (w, h) = (head.width, head.height);
    if w == 0 || h == 0 {
        return Err(IntakeError::Malformed);
    }
    let too_large = w > limits.max_side
        || h > limits.max_side
        || u64::from(w) * u64::from(h) > limits.max_pixels;
    if too_large {
        return Err(IntakeError::TooLarge {
            width: w,
            height: h,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
        });
    }
    if head.animated {
        return Err(IntakeError::Animated);
    }
    Ok(head)
}

/// The whole intake, synchronously (CPU-bound: call through [`Processor`] from async code).
pub fn process(bytes: &[u8], limits: &IntakeLimits) -> Result<Processed, IntakeError> {
    let head = check(bytes, limits)?;
    let (format, source) = match head.format {
        Sniffed::Jpeg => (ImageFormat::Jpeg, SourceFormat::Jpeg),
        Sniffed::Png => (ImageFormat::Png, SourceFormat::Png),
        Sniffed::WebP => (ImageFormat::WebP, SourceFormat::WebP),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    decode_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decode_limits);
    let undecodable = |e: image::ImageError| IntakeError::Undecodable(e.to_string());
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    // The decoder's own dimensions must agree with the header we checked.
    let (dw, dh) = decoder.dimensions();
    if (dw, dh) != (head.width, head.height) {
        return Err(IntakeError::Malformed);
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let img = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    let rgb = flatten(img);
    // Upright size; the picture itself is turned after the first (much smaller) resize.
    let turns = swaps_axes(orientation);
    let (width, height) = if turns { (dh, dw) } else { (dw, dh) };
    let variants = derivatives(rgb, orientation)?;
    Ok(Processed {
        source,
        width,
        height,
        variants,
    })
}

/// Transparent pixels over white (a JPEG has no alpha).
fn flatten(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u32::from(p[3]);
        let over = |c: u8| ((u32::from(c) * a + 255 * (255 - a)) / 255) as u8;
        image::Rgb([over(p[0]), over(p[1]), over(p[2])])
    })
}

/// Whether an EXIF orientation turns the picture a quarter (width and height trade places).
fn swaps_axes(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// `label` wide (never upscaled), the height in proportion.
fn fit(w: u32, h: u32, label: u32) -> (u32, u32) {
    if w <= label {
        return (w, h);
    }
    let nh = ((u64::from(h) * u64::from(label) + u64::from(w) / 2) / u64::from(w)).max(1);
    (label, u32::try_from(nh).unwrap_or(u32::MAX))
}

/// The largest derivative, upright: the stored picture is shrunk first (an integer box average
/// while it stays well above the target, then the triangle filter to the exact size) and only
/// then turned upright, so the full-size picture is never copied, rotated or filtered in
/// floating point (a 12 MP photo: ~4× less work than resizing it whole with the triangle).
fn first_derivative(stored: RgbImage, orientation: Orientation, label: u32) -> RgbImage {
    let (w, h) = stored.dimensions();
    let turns = swaps_axes(orientation);
    let (uw, uh) = if turns { (h, w) } else { (w, h) };
    let (tw, th) = fit(uw, uh, label);
    let (sw, sh) = if turns { (th, tw) } else { (tw, th) };
    let scaled = if (sw, sh) == (w, h) {
        stored
    } else {
        // Box-average by k while the result stays ≥ 1.25× the target: the triangle filter
        // then finishes a ratio below 2.5, where it keeps its sharpness.
        let k = (f64::from(w) / f64::from(sw) / 1.25).floor().max(1.0) as u32;
        let reduced = if k >= 2 {
            box_reduce(&stored, k)
        } else {
            stored
        };
        image::imageops::resize(&reduced, sw, sh, FilterType::Triangle)
    };
    let mut img = DynamicImage::ImageRgb8(scaled);
    img.apply_orientation(orientation);
    img.into_rgb8()
}

/// Averages each k×k block into one pixel (integer arithmetic, one pass over the source).
/// The last `w % k` columns and `h % k` rows are dropped (under k px of an image thousands wide).
fn box_reduce(src: &RgbImage, k: u32) -> RgbImage {
    let (w, h) = src.dimensions();
    let (ow, oh) = ((w / k).max(1), (h / k).max(1));
    let k = k as usize;
    let stride = w as usize * 3;
    let raw = src.as_raw();
    let area = (k * k) as u32;
    let mut out = Vec::with_capacity(ow as usize * oh as usize * 3);
    let mut acc = vec![0u32; ow as usize * 3];
    for oy in 0..oh as usize {
        acc.fill(0);
        for dy in 0..k {
            let start = (oy * k + dy) * stride;
            let Some(row) = raw.get(start..start + stride) else {
                break;
            };
            for (sum, block) in acc.chunks_exact_mut(3).zip(row.chunks_exact(3 * k)) {
                for px in block.chunks_exact(3) {
                    sum[0] += u32::from(px[0]);
                    sum[1] += u32::from(px[1]);
                    sum[2] += u32::from(px[2]);
                }
            }
        }
        out.extend(acc.iter().map(|&s| ((s + area / 2) / area) as u8));
    }
    RgbImage::from_raw(ow, oh, out).unwrap_or_else(|| RgbImage::new(ow, oh))
}

fn derivatives(full: RgbImage, orientation: Orientation) -> Result<Vec<Variant>, IntakeError> {
    let mut out = Vec::with_capacity(WIDTHS.len());
    // The largest from the stored picture; each smaller width is resized from the previous
    // derivative (cheaper, same quality with a triangle filter at these ratios).
    let mut source: Option<RgbImage> = None;
    let mut full = Some(full);
    for label in WIDTHS {
        let scaled = match (source.take(), full.take()) {
            (Some(from), _) => {
                let (w, h) = from.dimensions();
                let (nw, nh) = fit(w, h, label);
                if (nw, nh) == (w, h) {
                    from
                } else {
                    image::imageops::resize(&from, nw, nh, FilterType::Triangle)
                }
            }
            (None, Some(stored)) => first_derivative(stored, orientation, label),
            (None, None) => return Err(IntakeError::Internal("no picture".into())),
        };
        let mut bytes = Vec::new();
        JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
            .encode_image(&scaled)
            .map_err(|e| IntakeError::Internal(e.to_string()))?;
        out.push(Variant {
            label,
            width: scaled.width(),
            height: scaled.height(),
            mime: "image/jpeg",
            bytes,
        });
        source = Some(scaled);
    }
    Ok(out)
}

/// Runs intake on the blocking pool, at most `parallelism` images at a time, so uploads queue
/// among themselves instead of taking every blocking thread from the API.
#[derive(Clone)]
pub struct Processor {
    permits: Arc<Semaphore>,
    limits: IntakeLimits,
}

impl Processor {
    pub fn new(limits: IntakeLimits, parallelism: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(parallelism.max(1))),
            limits,
        }
    }

    /// One image at a time per core but one: a core stays free for the API's requests while
    /// uploads queue among themselves (on 2 cores, one image at a time; on 1 core, one).
    pub fn beside_requests(limits: IntakeLimits) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Self::new(limits, cores.saturating_sub(1).max(1))
    }

    pub fn limits(&self) -> &IntakeLimits {
        &self.limits
    }

    pub async fn process(&self, bytes: bytes::Bytes) -> Result<Processed, IntakeError> {
        // The cheap checks run inline: a bomb never waits for (or takes) a pool slot.
        check(&bytes, &self.limits)?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| IntakeError::Internal(e.to_string()))?;
        let limits = self.limits;
        tokio::task::spawn_blocking(move || process(&bytes, &limits))
            .await
            .map_err(|e| IntakeError::Internal(e.to_string()))?
    }
}

#[cfg(test)]
#[path = "intake_tests.rs"]
mod tests;
