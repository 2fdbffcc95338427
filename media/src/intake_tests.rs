use std::time::{Duration, Instant};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A PNG of exactly 70 bytes whose IHDR claims `w`×`h` (signature, IHDR, a tiny IDAT, IEND).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&13u32.to_be_bytes());
    b.extend_from_slice(b"IHDR");
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 2, 0, 0, 0]);
    b.extend_from_slice(&[0, 0, 0, 0]); // CRC (never reached)
    b.extend_from_slice(&13u32.to_be_bytes());
    b.extend_from_slice(b"IDAT");
    b.extend_from_slice(&[0x78, 0x9c, 0x63, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(b"IEND");
    b.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
    b
}

/// A WebP (VP8X) header claiming `w`×`h`, optionally animated.
fn webp_claiming(w: u32, h: u32, animated: bool) -> Vec<u8> {
    let mut b = b"RIFF".to_vec();
    b.extend_from_slice(&30u32.to_le_bytes());
    b.extend_from_slice(b"WEBPVP8X");
    b.extend_from_slice(&10u32.to_le_bytes());
    b.push(if animated { 0x02 } else { 0 });
    b.extend_from_slice(&[0, 0, 0]);
    b.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    b.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    b
}

fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut out), format)?;
    Ok(out)
}

#[test]
fn a_70_byte_png_claiming_60000_squared_is_refused_fast_before_decoding() {
    let bomb = png_claiming(60_000, 60_000);
    assert_eq!(bomb.len(), 70);
    let limits = IntakeLimits::default();
    // `check` works on the borrowed slice only (header.rs allocates nothing); `process` calls
    // it before any decoder exists. Best of 5 so a busy machine does not make this flaky.
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let refused = process(&bomb, &limits);
        best = best.min(start.elapsed());
        assert!(
            matches!(
                refused,
                Err(IntakeError::TooLarge {
                    width: 60_000,
                    height: 60_000,
                    ..
                })
            ),
            "{refused:?}"
        );
    }
    assert!(best < Duration::from_millis(1), "took {best:?}");
}

#[test]
fn each_side_is_checked_on_its_own_never_as_a_tuple() {
    let limits = IntakeLimits::default();
    for (w, h) in [
        (4_000, 99_999),
        (99_999, 10),
        (8_193, 1),
        (1, 8_193),
        (8_000, 8_000),
    ] {
        let refused = check(&png_claiming(w, h), &limits);
        assert!(
            matches!(refused, Err(IntakeError::TooLarge { .. })),
            "{w}×{h}: {refused:?}"
        );
        let refused = check(&webp_claiming(w, h, false), &limits);
        assert!(
            matches!(refused, Err(IntakeError::TooLarge { .. })),
            "webp {w}×{h}: {refused:?}"
        );
    }
    // within budget passes the header check
    assert!(check(&png_claiming(8_192, 4_000), &limits).is_ok());
}

#[test]
fn html_svg_pdf_and_gif_are_refused_whatever_they_are_called() {
    let limits = IntakeLimits::default();
    let files: [&[u8]; 6] = [
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>",
        b"<svg onload=\"alert(1)\"/>",
        b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
    ];
    for bytes in files {
        assert_eq!(
            process(bytes, &limits).err(),
            Some(IntakeError::UnsupportedType)
        );
    }
    assert_eq!(process(b"", &limits).err(), Some(IntakeError::Empty));
}

#[test]
fn animated_images_and_oversized_files_are_refused() {
    let limits = IntakeLimits::default();
    assert_eq!(
        check(&webp_claiming(100, 100, true), &limits).err(),
        Some(IntakeError::Animated)
    );
    // an APNG: acTL before IDAT
    let mut apng = png_claiming(10, 10);
    let actl: Vec<u8> = [
        &8u32.to_be_bytes()[..],
        b"acTL",
        &[0, 0, 0, 2, 0, 0, 0, 0],
        &[0, 0, 0, 0],
    ]
    .concat();
    apng.splice(33..33, actl);
    assert_eq!(check(&apng, &limits).err(), Some(IntakeError::Animated));
    let small = IntakeLimits {
        max_bytes: 50,
        ..limits
    };
    assert_eq!(
        check(&png_claiming(10, 10), &small).err(),
        Some(IntakeError::TooManyBytes { max: 50 })
    );
}

#[test]
fn a_header_that_lies_about_its_size_or_is_cut_short_is_refused() -> TestResult {
    let limits = IntakeLimits::default();
    let png = encode(&image::RgbImage::new(20, 10), image::ImageFormat::Png)?;
    let mut lying = png.clone();
    lying[16..20].copy_from_slice(&4_000u32.to_be_bytes());
    assert!(process(&lying, &limits).is_err());
    assert!(process(&png[..40], &limits).is_err());
    let jpeg = encode(&image::RgbImage::new(20, 10), image::ImageFormat::Jpeg)?;
    assert!(process(&jpeg[..jpeg.len() / 2], &limits).is_err());
    assert_eq!(
        check(&jpeg[..4], &limits).err(),
        Some(IntakeError::Malformed)
    );
    Ok(())
}

/// A TIFF/EXIF block: Make "RougeCam", Orientation 6, a GPS IFD with GPSLatitudeRef "N".
fn exif_app1() -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value);
    };
    entry(&mut t, 0x010F, 2, 9, 50u32.to_le_bytes()); // Make → offset 50
    entry(&mut t, 0x0112, 3, 1, [6, 0, 0, 0]); // Orientation = 6 (rotate 90° clockwise)
    entry(&mut t, 0x8825, 4, 1, 60u32.to_le_bytes()); // GPS IFD at 60
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(b"RougeCam\0\0");
    t.extend_from_slice(&1u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
    t.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((t.len() + 8) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&t);
    app1
}

#[test]
fn a_photo_with_gps_make_and_orientation_6_comes_out_upright_without_exif() -> TestResult {
    // 600×300 as stored: left half red, right half blue. Orientation 6 means the camera was
    // turned: shown upright it is 300×600 with red on top.
    let stored = image::RgbImage::from_fn(600, 300, |x, _| {
        if x < 300 {
            image::Rgb([220, 20, 20])
        } else {
            image::Rgb([20, 20, 220])
        }
    });
    let plain = encode(&stored, image::ImageFormat::Jpeg)?;
    let app1 = exif_app1();
    let photo: Vec<u8> = [&plain[..2], &app1[..], &plain[2..]].concat();
    assert!(
        photo.windows(8).any(|w| w == b"RougeCam"),
        "fixture carries the camera make"
    );
    // the fixture really says orientation 6 to a decoder
    let mut probe =
        ImageReader::with_format(Cursor::new(&photo), ImageFormat::Jpeg).into_decoder()?;
    assert_eq!(probe.orientation()?, image::metadata::Orientation::Rotate90);

    let out = process(&photo, &IntakeLimits::default())?;
    assert_eq!((out.width, out.height), (300, 600));
    assert_eq!(out.source, SourceFormat::Jpeg);
    assert_eq!(out.variants.len(), 3);
    let labels: Vec<u32> = out.variants.iter().map(|v| v.label).collect();
    assert_eq!(labels, WIDTHS);
    for v in &out.variants {
        for needle in [
            &b"Exif"[..],
            b"RougeCam",
            b"http://ns.adobe.com/xap",
            b"II*\0",
            b"MM\0*",
        ] {
            assert!(
                !v.bytes.windows(needle.len()).any(|w| w == needle),
                "{} has {needle:?}",
                v.label
            );
        }
        let mut dec =
            ImageReader::with_format(Cursor::new(&v.bytes), ImageFormat::Jpeg).into_decoder()?;
        assert_eq!(dec.exif_metadata()?, None, "variant {}", v.label);
        let img = DynamicImage::from_decoder(dec)?.into_rgb8();
        assert_eq!((img.width(), img.height()), (v.width, v.height));
        assert!(v.height == v.width * 2, "upright: {}×{}", v.width, v.height);
        let top = img.get_pixel(v.width / 2, v.height / 8).0;
        let bottom = img.get_pixel(v.width / 2, v.height * 7 / 8).0;
        assert!(top[0] > 150 && top[2] < 100, "red on top: {top:?}");
        assert!(bottom[2] > 150 && bottom[0] < 100, "blue below: {bottom:?}");
    }
    // 300 px wide: never upscaled; 256 is a real downscale
    assert_eq!(out.variants[0].width, 300);
    assert_eq!((out.variants[2].width, out.variants[2].height), (256, 512));
    Ok(())
}

#[test]
fn png_with_alpha_and_webp_become_jpeg_variants() -> TestResult {
    let rgba = image::RgbaImage::from_fn(2000, 1000, |x, _| {
        image::Rgba([0, 0, 0, if x < 1000 { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(rgba).write_to(&mut Cursor::new(&mut png), ImageFormat::Png)?;
    let out = process(&png, &IntakeLimits::default())?;
    assert_eq!(out.source, SourceFormat::Png);
    let sizes: Vec<(u32, u32)> = out.variants.iter().map(|v| (v.width, v.height)).collect();
    assert_eq!(sizes, [(1080, 540), (512, 256), (256, 128)]);
    assert!(
        out.variants
            .iter()
            .all(|v| v.bytes.starts_with(&[0xFF, 0xD8, 0xFF]))
    );
    let first = image::load_from_memory(&out.variants[2].bytes)?.into_rgb8();
    assert!(
        first.get_pixel(10, 64).0[0] > 240,
        "transparent became white"
    );
    let webp = encode(
        &image::RgbImage::from_pixel(40, 30, image::Rgb([1, 2, 3])),
        ImageFormat::WebP,
    )?;
    let out = process(&webp, &IntakeLimits::default())?;
    assert_eq!(
        (out.source, out.width, out.height),
        (SourceFormat::WebP, 40, 30)
    );
    Ok(())
}

#[tokio::test]
async fn the_pool_refuses_bombs_without_a_slot_and_processes_in_parallel() -> TestResult {
    let pool = Processor::new(IntakeLimits::default(), 1);
    assert_eq!(pool.parallelism(), 1);
    // the only image thread is busy until `release` is sent: a bomb is still refused at once
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let busy = tokio::spawn({
        let pool = pool.clone();
        async move { pool.run(move || wait.recv().is_ok()).await }
    });
    let bomb = bytes::Bytes::from(png_claiming(60_000, 60_000));
    let refused = tokio::time::timeout(Duration::from_secs(1), pool.process(bomb)).await?;
    assert!(matches!(refused, Err(IntakeError::TooLarge { .. })));
    release.send(())?;
    assert!(busy.await??);
    let png = bytes::Bytes::from(encode(&image::RgbImage::new(64, 64), ImageFormat::Png)?);
    let (a, b) = tokio::join!(pool.process(png.clone()), pool.process(png));
    assert_eq!(a?.variants.len(), 3);
    assert_eq!(b?.width, 64);
    Ok(())
}

/// 4,400×2,400 as stored: left half red, right half blue, a green band along the top, a soft
/// gradient across; with `app1` spliced in after SOI.
fn large_jpeg(app1: Option<&[u8]>, grey: bool) -> Result<Vec<u8>, image::ImageError> {
    let stored = image::RgbImage::from_fn(4400, 2400, |x, y| {
        let shade = (x / 40 + y / 40) as u8 % 16;
        let px = if y < 400 {
            [20, 200, 20]
        } else if x < 2200 {
            [220, 20, 20]
        } else {
            [20, 20, 220]
        };
        image::Rgb(px.map(|c: u8| c.saturating_add(shade)))
    });
    let plain = if grey {
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(stored)
            .into_luma8()
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)?;
        out
    } else {
        encode(&stored, ImageFormat::Jpeg)?
    };
    Ok(match app1 {
        Some(app1) => [&plain[..2], app1, &plain[2..]].concat(),
        None => plain,
    })
}

#[test]
fn a_large_jpeg_is_decoded_scaled_and_comes_out_exact_upright_and_clean() -> TestResult {
    let limits = IntakeLimits::default();
    let app1 = exif_app1();
    let photo = large_jpeg(Some(&app1), false)?;
    let head = check(&photo, &limits)?;
    // orientation 6: upright 2,400×4,400, the 1080 derivative is 1,980×1,080 as stored, so the
    // IDCT runs at 1/2 (2,200×1,200), never at full size
    let Some((decoded, orientation)) = jpeg_scaled(&photo, &head, &limits)? else {
        return Err("the scaled path was not taken".into());
    };
    assert_eq!(orientation, Orientation::Rotate90);
    assert_eq!(decoded.dimensions(), (2200, 1200));

    let out = process(&photo, &limits)?;
    assert_eq!((out.width, out.height), (2400, 4400));
    let sizes: Vec<(u32, u32)> = out.variants.iter().map(|v| (v.width, v.height)).collect();
    assert_eq!(sizes, [(1080, 1980), (512, 939), (256, 470)]);
    for v in &out.variants {
        for needle in [&b"Exif"[..], b"RougeCam", b"II*\0", b"MM\0*"] {
            assert!(
                !v.bytes.windows(needle.len()).any(|w| w == needle),
                "{} has {needle:?}",
                v.label
            );
        }
        let img = image::load_from_memory_with_format(&v.bytes, ImageFormat::Jpeg)?.into_rgb8();
        assert_eq!(img.dimensions(), (v.width, v.height));
        // turned a quarter clockwise: red on top, blue below, the green band on the right
        let (w, h) = (v.width, v.height);
        let top = img.get_pixel(w / 3, h / 4).0;
        let bottom = img.get_pixel(w / 3, h * 3 / 4).0;
        let right = img.get_pixel(w - 1 - w / 20, h / 2).0;
        assert!(top[0] > 150 && top[2] < 100, "{w}: red on top: {top:?}");
        assert!(
            bottom[2] > 150 && bottom[0] < 100,
            "{w}: blue below: {bottom:?}"
        );
        assert!(
            right[1] > 150 && right[0] < 100,
            "{w}: green right: {right:?}"
        );
    }

    // The same picture through the full-size decoder: the same sizes, nearly the same pixels.
    let (full, o) = decode_full(&photo, &head, &limits)?;
    assert_eq!(o, Orientation::Rotate90);
    let reference = derivatives(full, o, stored_target(4400, 2400, o, WIDTHS[0]))?;
    let a = image::load_from_memory(&out.variants[0].bytes)?.into_rgb8();
    let b = image::load_from_memory(&reference[0].bytes)?.into_rgb8();
    assert_eq!(a.dimensions(), b.dimensions());
    let diff: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    let mean = diff as f64 / a.as_raw().len() as f64;
    assert!(mean < 3.0, "mean difference {mean:.2} per channel");
    Ok(())
}

#[test]
fn without_a_turn_a_large_jpeg_decodes_at_a_quarter_and_grey_ones_too() -> TestResult {
    let limits = IntakeLimits::default();
    for grey in [false, true] {
        let photo = large_jpeg(None, grey)?;
        let head = check(&photo, &limits)?;
        // 1080×589 from 4,400×2,400: a quarter (1,100×600) still covers it
        let Some((decoded, orientation)) = jpeg_scaled(&photo, &head, &limits)? else {
            return Err("the scaled path was not taken".into());
        };
        assert_eq!(orientation, Orientation::NoTransforms);
        assert_eq!(decoded.dimensions(), (1100, 600));
        let out = process(&photo, &limits)?;
        let sizes: Vec<(u32, u32)> = out.variants.iter().map(|v| (v.width, v.height)).collect();
        assert_eq!(sizes, [(1080, 589), (512, 279), (256, 140)]);
        let img = image::load_from_memory(&out.variants[0].bytes)?.into_rgb8();
        let left = img.get_pixel(270, 400).0;
        let band = img.get_pixel(540, 20).0;
        if grey {
            assert!(left[0].abs_diff(left[2]) < 8, "grey stays grey: {left:?}");
        } else {
            assert!(left[0] > 150 && left[2] < 100, "red on the left: {left:?}");
            assert!(band[1] > 150, "green band on top: {band:?}");
        }
    }
    // small pictures are not scaled (nothing to gain): the full decoder takes them
    let small = encode(&image::RgbImage::new(2000, 1500), ImageFormat::Jpeg)?;
    assert!(jpeg_scaled(&small, &check(&small, &limits)?, &limits)?.is_none());
    Ok(())
}

#[test]
fn a_large_jpeg_cut_short_is_refused_on_the_scaled_path_without_a_panic() -> TestResult {
    let limits = IntakeLimits::default();
    let mut photo = large_jpeg(None, false)?;
    let frame = header::jpeg_frame(&photo).map_err(|e| format!("{e:?}"))?;
    assert!(frame.dct_scalable());
    // cut the scan short: a decode error, never a panic
    photo.truncate(photo.len() / 3);
    assert!(matches!(
        process(&photo, &limits),
        Err(IntakeError::Undecodable(_))
    ));
    Ok(())
}
