//! Demo pictures made from pixels (no shipped artwork, so no licence question): a diagonal
//! gradient in a colour of the caller's choosing with one capital letter or digit drawn from a
//! 5×7 bitmap font. Encoded as PNG so they enter through the normal intake like an upload.

use image::{ImageFormat, Rgb, RgbImage};

/// 5×7 glyphs, one byte per row, the low five bits left to right.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        // anything else: a filled diamond
        _ => [0x04, 0x0E, 0x1F, 0x1F, 0x1F, 0x0E, 0x04],
    }
}

/// A `size`×`size` PNG: a gradient from `colour` to white with `initial` drawn in white.
pub fn product_picture(initial: char, colour: [u8; 3], size: u32) -> Vec<u8> {
    let size = size.clamp(64, 2048);
    let cell = size / 10; // the glyph is 5×7 cells, centred
    let (left, top) = ((size - 5 * cell) / 2, (size - 7 * cell) / 2);
    let rows = glyph(initial);
    let img = RgbImage::from_fn(size, size, |x, y| {
        let in_glyph = x >= left && y >= top && {
            let (gx, gy) = ((x - left) / cell, (y - top) / cell);
            gx < 5 && gy < 7 && rows[gy as usize] & (0x10 >> gx) != 0
        };
        if in_glyph {
            return Rgb([255, 255, 255]);
        }
        // 0 at the top-left corner, 255 at the bottom-right
        let t = (x + y) * 255 / (2 * size);
        let mix = |c: u8| {
            let c = u32::from(c);
            u8::try_from(c + (255 - c) * t / 255 / 2).unwrap_or(255)
        };
        Rgb([mix(colour[0]), mix(colour[1]), mix(colour[2])])
    });
    let mut out = Vec::new();
    // Encoding an in-memory RGB image to PNG cannot fail.
    let _ = img.write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png);
    out
}

/// A photo-like `width`×`height` JPEG (quality 90) for benchmarks: smooth light falling across
/// the frame, a few soft shapes, fine texture and sensor-like noise, so it decodes and compresses
/// like a camera picture rather than a flat test card. With `orientation`, an APP1 Exif block
/// carries that EXIF orientation (1–8) and a camera make, as a phone writes it.
pub fn photo_jpeg(width: u32, height: u32, orientation: Option<u16>, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut noise = move || {
        // xorshift64: cheap, deterministic, good enough for grain
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 56) as i32 - 128
    };
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let phase = (seed % 97) as f32 / 97.0 * std::f32::consts::TAU;
    let mut img = RgbImage::new(width.max(1), height.max(1));
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (u, v) = (x as f32 / w, y as f32 / h);
        let light = 0.55 + 0.35 * (1.0 - ((u - 0.3).powi(2) + (v - 0.35).powi(2)).sqrt());
        let blob = (-((u - 0.65).powi(2) + (v - 0.6).powi(2)) * 18.0).exp();
        let texture = ((u * 90.0 + phase).sin() * (v * 70.0).cos()) * 10.0;
        let grain = noise() / 16;
        let base = [
            200.0 * light + 40.0 * blob,
            150.0 * light + 10.0 * blob,
            140.0 * light - 30.0 * blob,
        ];
        let c = |b: f32| (b + texture) as i32 + grain;
        *px = Rgb([c(base[0]), c(base[1]), c(base[2])].map(|c| c.clamp(0, 255) as u8));
    }
    let mut plain = Vec::new();
    // Encoding an in-memory RGB image to JPEG cannot fail.
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90).encode_image(&img);
    match orientation {
        Some(o) if plain.len() > 2 => {
            let app1 = exif_app1(o);
            [&plain[..2], &app1[..], &plain[2..]].concat()
        }
        _ => plain,
    }
}

/// A little-endian TIFF/EXIF APP1 segment: Make "RougeCam", Orientation `orientation`.
fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&2u16.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value);
    };
    entry(&mut t, 0x010F, 2, 9, 38u32.to_le_bytes()); // Make → offset 38
    let o = orientation.to_le_bytes();
    entry(&mut t, 0x0112, 3, 1, [o[0], o[1], 0, 0]);
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(b"RougeCam\0");
    let mut app1 = vec![0xFF, 0xE1];
    let len = u16::try_from(t.len() + 8).unwrap_or(u16::MAX);
    app1.extend_from_slice(&len.to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&t);
    app1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demo_picture_passes_intake_and_shows_its_letter() {
        let png = product_picture('R', [200, 40, 80], 640);
        let processed = crate::intake::process(&png, &crate::IntakeLimits::default()).unwrap();
        assert_eq!((processed.width, processed.height), (640, 640));
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        // the top-left cell of the R is white, the corner is the colour
        assert_eq!(
            img.get_pixel(640 / 2 - 5 * 64 / 2 + 1, (640 - 7 * 64) / 2 + 1),
            &Rgb([255, 255, 255])
        );
        assert_eq!(img.get_pixel(0, 0), &Rgb([200, 40, 80]));
    }

    #[test]
    fn a_bench_photo_says_its_orientation_and_comes_out_upright() {
        let jpeg = photo_jpeg(400, 300, Some(6), 7);
        let mut probe =
            image::ImageReader::with_format(std::io::Cursor::new(&jpeg), image::ImageFormat::Jpeg)
                .into_decoder()
                .unwrap();
        use image::ImageDecoder as _;
        assert_eq!(
            probe.orientation().unwrap(),
            image::metadata::Orientation::Rotate90
        );
        let processed = crate::intake::process(&jpeg, &crate::IntakeLimits::default()).unwrap();
        assert_eq!((processed.width, processed.height), (300, 400));
        for v in &processed.variants {
            assert!(!v.bytes.windows(8).any(|w| w == b"RougeCam"));
        }
    }
}
