//! Intake: bytes in, fixed-width JPEG derivatives out, or a refusal with its reason.
//!
//! Order of checks (each cheaper than the next, nothing stored on refusal):
//! byte cap → magic bytes → header dimensions against the pixel budget (each side on its own,
//! then the area; never a tuple comparison) → animation → decode under limits (a JPEG at
//! least twice the largest derivative is decoded at 1/2, 1/4 or 1/8 scale in the IDCT) →
//! EXIF orientation applied → flattened to RGB → re-encoded. Re-encoding writes pixels only, so
//! EXIF, XMP, GPS and ICC comments of the upload never reach a stored variant.

use std::io::Cursor;
use std::sync::Arc;

use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use sha2::{Digest, Sha256};

use crate::header::{self, HeaderError, Sniffed};
use crate::pool::IdlePool;

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
    /// SHA-256 of `bytes`, computed on the image thread (PUBLIC keys are content addresses)
    pub sha256: [u8; 32],
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
    let source = match head.format {
        Sniffed::Jpeg => SourceFormat::Jpeg,
        Sniffed::Png => SourceFormat::Png,
        Sniffed::WebP => SourceFormat::WebP,
    };
    let scaled = match head.format {
        Sniffed::Jpeg => jpeg_scaled(bytes, &head, limits)?,
        Sniffed::Png | Sniffed::WebP => None,
    };
    let (stored, orientation) = match scaled {
        Some(decoded) => decoded,
        None => decode_full(bytes, &head, limits)?,
    };
    let (width, height) = if swaps_axes(orientation) {
        (head.height, head.width)
    } else {
        (head.width, head.height)
    };
    let target = stored_target(head.width, head.height, orientation, WIDTHS[0]);
    let variants = derivatives(stored, orientation, target)?;
    Ok(Processed {
        source,
        width,
        height,
        variants,
    })
}

fn undecodable(e: impl std::fmt::Display) -> IntakeError {
    IntakeError::Undecodable(e.to_string())
}

/// The whole picture at full size through `image` (its decoders, under `image::Limits`).
fn decode_full(
    bytes: &[u8],
    head: &header::Header,
    limits: &IntakeLimits,
) -> Result<(RgbImage, Orientation), IntakeError> {
    let format = match head.format {
        Sniffed::Jpeg => ImageFormat::Jpeg,
        Sniffed::Png => ImageFormat::Png,
        Sniffed::WebP => ImageFormat::WebP,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    decode_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decode_limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    // The decoder's own dimensions must agree with the header we checked.
    if decoder.dimensions() != (head.width, head.height) {
        return Err(IntakeError::Malformed);
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let img = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    Ok((flatten(img), orientation))
}

/// `len` at `eighths`/8 scale, as a JPEG IDCT scales it (rounded up).
fn dct_scaled(len: u32, eighths: u32) -> u32 {
    (len * eighths).div_ceil(8)
}

/// The smallest IDCT scale (in eighths: 1, 2 or 4) at which a `w`×`h` JPEG still covers
/// `tw`×`th` on both axes; `None` when only the full size does.
fn dct_eighths(w: u32, h: u32, (tw, th): (u32, u32)) -> Option<u32> {
    [1, 2, 4]
        .into_iter()
        .find(|&e| dct_scaled(w, e) >= tw && dct_scaled(h, e) >= th)
}

fn exif_orientation(exif: Option<&[u8]>) -> Orientation {
    exif.and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms)
}

/// A JPEG at least twice the largest derivative, decoded at 1/2, 1/4 or 1/8 scale: the IDCT
/// computes only the low frequencies, so the full-size picture never exists (a 12 MP photo
/// for 1080 px: a quarter of the pixels, ~9 MB instead of 36 MB). `None` when the file is
/// not worth it or not suited (small, CMYK, 12-bit, lossless, arithmetic-coded, an EXIF
/// orientation found only after the frame header): the full decoder takes it.
fn jpeg_scaled(
    bytes: &[u8],
    head: &header::Header,
    limits: &IntakeLimits,
) -> Result<Option<(RgbImage, Orientation)>, IntakeError> {
    let frame = header::jpeg_frame(bytes).map_err(|_| IntakeError::Malformed)?;
    if !frame.dct_scalable() {
        return Ok(None);
    }
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.set_max_decoding_buffer_size(usize::try_from(limits.max_alloc).unwrap_or(usize::MAX));
    // Reads the markers up to the frame header (EXIF included); no pixel buffer yet.
    decoder.read_info().map_err(undecodable)?;
    let orientation = exif_orientation(decoder.exif_data());
    let target = stored_target(head.width, head.height, orientation, WIDTHS[0]);
    let Some(eighths) = dct_eighths(head.width, head.height, target) else {
        return Ok(None);
    };
    let (ew, eh) = (
        dct_scaled(head.width, eighths),
        dct_scaled(head.height, eighths),
    );
    let too_wide = |_| IntakeError::Malformed;
    let (ow, oh) = decoder
        .scale(
            u16::try_from(ew).map_err(too_wide)?,
            u16::try_from(eh).map_err(too_wide)?,
        )
        .map_err(undecodable)?;
    // The decoder's frame must be the one whose dimensions were checked.
    if (u32::from(ow), u32::from(oh)) != (ew, eh) {
        return Err(IntakeError::Malformed);
    }
    let pixels = decoder.decode().map_err(undecodable)?;
    if exif_orientation(decoder.exif_data()) != orientation {
        return Ok(None);
    }
    let area = ew as usize * eh as usize;
    let rgb = match usize::from(frame.components) {
        3 if pixels.len() == area * 3 => RgbImage::from_raw(ew, eh, pixels),
        1 if pixels.len() == area => {
            RgbImage::from_raw(ew, eh, pixels.iter().flat_map(|&v| [v, v, v]).collect())
        }
        _ => None,
    };
    let rgb = rgb.ok_or_else(|| IntakeError::Undecodable("unexpected pixel layout".into()))?;
    Ok(Some((rgb, orientation)))
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

/// The size of the largest derivative (`label` wide upright, never upscaled) in the stored
/// picture's orientation, from the source's stored dimensions.
fn stored_target(w: u32, h: u32, orientation: Orientation, label: u32) -> (u32, u32) {
    if swaps_axes(orientation) {
        let (tw, th) = fit(h, w, label);
        (th, tw)
    } else {
        fit(w, h, label)
    }
}

/// `img` resized to exactly `w`×`h` with a triangle (bilinear) filter whose support widens with
/// the reduction, so every source pixel counts: SIMD integer convolution (`fast_image_resize`).
fn resize(img: RgbImage, w: u32, h: u32) -> Result<RgbImage, IntakeError> {
    use fast_image_resize as fr;
    if img.dimensions() == (w, h) {
        return Ok(img);
    }
    let internal = |e: &dyn std::fmt::Display| IntakeError::Internal(e.to_string());
    let (sw, sh) = img.dimensions();
    let src = fr::images::Image::from_vec_u8(sw, sh, img.into_raw(), fr::PixelType::U8x3)
        .map_err(|e| internal(&e))?;
    let mut dst = fr::images::Image::new(w, h, fr::PixelType::U8x3);
    let options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| internal(&e))?;
    RgbImage::from_raw(w, h, dst.into_vec()).ok_or_else(|| internal(&"resized buffer"))
}

/// The largest derivative, upright: the stored (possibly DCT-scaled) picture is resized to
/// exactly `target` first and only then turned upright, so the big picture is never copied or
/// rotated.
fn first_derivative(
    stored: RgbImage,
    orientation: Orientation,
    (sw, sh): (u32, u32),
) -> Result<RgbImage, IntakeError> {
    let mut img = DynamicImage::ImageRgb8(resize(stored, sw, sh)?);
    img.apply_orientation(orientation);
    Ok(img.into_rgb8())
}

/// `stored`: the decoded picture (full size or DCT-scaled); `target`: the largest derivative's
/// exact size in the stored orientation.
fn derivatives(
    stored: RgbImage,
    orientation: Orientation,
    target: (u32, u32),
) -> Result<Vec<Variant>, IntakeError> {
    let mut out = Vec::with_capacity(WIDTHS.len());
    // The largest from the stored picture; each smaller width is resized from the previous
    // derivative (cheaper, same quality with a triangle filter at these ratios).
    let mut source: Option<RgbImage> = None;
    let mut full = Some(stored);
    for label in WIDTHS {
        let scaled = match (source.take(), full.take()) {
            (Some(from), _) => {
                let (w, h) = from.dimensions();
                let (nw, nh) = fit(w, h, label);
                resize(from, nw, nh)?
            }
            (None, Some(stored)) => first_derivative(stored, orientation, target)?,
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
            sha256: Sha256::digest(&bytes).into(),
            bytes,
        });
        source = Some(scaled);
    }
    Ok(out)
}

/// Runs intake on the image threads ([`crate::pool`]: their own, under `SCHED_IDLE` on Linux),
/// at most `parallelism` images at a time; further uploads queue among themselves.
#[derive(Clone)]
pub struct Processor {
    pool: Arc<IdlePool>,
    limits: IntakeLimits,
}

impl Processor {
    pub fn new(limits: IntakeLimits, parallelism: usize) -> Self {
        Self {
            pool: Arc::new(IdlePool::new(parallelism)),
            limits,
        }
    }

    /// One image at a time per core but one (on 1 or 2 cores, one), on threads that only get
    /// CPU time the API's requests leave.
    pub fn beside_requests(limits: IntakeLimits) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Self::new(limits, cores.saturating_sub(1).max(1))
    }

    pub fn limits(&self) -> &IntakeLimits {
        &self.limits
    }

    /// How many images are processed at once.
    pub fn parallelism(&self) -> usize {
        self.pool.threads()
    }

    pub async fn process(&self, bytes: bytes::Bytes) -> Result<Processed, IntakeError> {
        // The cheap checks run inline: a bomb never waits for (or takes) an image thread.
        check(&bytes, &self.limits)?;
        let limits = self.limits;
        self.pool
            .run(move || process(&bytes, &limits))
            .await
            .map_err(|e| IntakeError::Internal(e.to_string()))?
    }

    /// Runs other CPU-heavy work of an upload (hashing, sealing) on the image threads, off
    /// the async runtime's workers.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, IntakeError> {
        self.pool
            .run(work)
            .await
            .map_err(|e| IntakeError::Internal(e.to_string()))
    }
}

#[cfg(test)]
#[path = "intake_tests.rs"]
mod tests;
