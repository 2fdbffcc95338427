//! The intake figure of `scripts/bench media` without the server: a photo-like 12 MP JPEG
//! (4000×3000, EXIF orientation 6) through `media::intake::process` in this one thread.
//! `taskset -c 0 target/release/examples/intake_timing [runs]` pins it to one core.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let jpeg = media::demo::photo_jpeg(4000, 3000, Some(6), 1);
    println!("photo: {} bytes", jpeg.len());
    let limits = media::IntakeLimits::default();
    media::intake::process(&jpeg, &limits)?; // warm-up
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let out = media::intake::process(&jpeg, &limits)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if (out.width, out.height) != (3000, 4000) {
            return Err(format!("unexpected {}×{}", out.width, out.height).into());
        }
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "intake p50 {:.1} ms, p95 {:.1} ms, min {:.1}, max {:.1} ({runs} runs)",
        at(0.5),
        at(0.95),
        ms[0],
        ms[ms.len() - 1]
    );
    Ok(())
}
