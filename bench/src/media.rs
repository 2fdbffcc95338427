//! `scripts/bench media`: image intake and share posters.
//!
//! 1. **Intake on one core**: a photo-like 12 MP JPEG (4,000×3,000, EXIF orientation 6, made
//!    here) through `media::intake::process` — the same function the server's upload path runs
//!    on its blocking pool — in one thread of a child process pinned to CPU 0 with `taskset -c 0`
//!    (so the figure is one core's, whatever the machine has). Three derivatives each time.
//! 2. **Uploads beside the API**: consumer `products(first: 20)`, idle and while 4 staff
//!    uploads of 12 MP JPEGs run back to back over the multipart endpoint (same server, same
//!    client); p99 compared. First at a fixed offered rate (an open loop at a share of the idle
//!    closed-loop throughput; shown: its idle p99 is set by the client's timer wake-ups and
//!    varied ×3 from run to run), then in the saturating closed loop (every connection sends
//!    again at once) in rounds, idle then beside the uploads, each pooled over the rounds so
//!    both see the same drift of a shared machine: the aim (p99 ≤ 1.1 × idle). The idle rounds
//!    1, 3, … against 2, 4, … are printed as the control: what two idle measurements differ by.
//! 3. **Posters**: `sharePoster(PRODUCT, id)` for distinct products one at a time (each one drawn:
//!    code from the fake WeChat, render, PNG, stored), then the same again (cached).
//!
//! The release server runs on the production backend (bench PostgreSQL and Redis) with its media
//! folder in a temporary directory; its peak RSS is printed at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::env::{Server, fresh_database, graphql, http_client, login_member};
use crate::load;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Intake runs of the 12 MP JPEG on one core.
    #[arg(long, default_value_t = 15)]
    intake_runs: usize,
    /// Connections reading products while uploads run.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Seconds of the first idle closed loop (it sets the open loop's rate) and of each open
    /// loop phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rounds of the closed loop (each: idle, then beside the uploads).
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Seconds of each idle and each busy segment of a round.
    #[arg(long, default_value_t = 8)]
    segment_seconds: u64,
    /// Upload a 400×300 JPEG padded to the 12 MP file's size instead: the same bodies through
    /// the same request path with almost no image work (separates the two costs).
    #[arg(long)]
    body_only: bool,
    /// Concurrent uploads.
    #[arg(long, default_value_t = 4)]
    uploads: usize,
    /// The open loop's rate as a share of the idle closed-loop throughput.
    /// (0.5 proved too high on 2 cores: the open-loop client and server saturate before it.)
    #[arg(long, default_value_t = 0.25)]
    open_share: f64,
    /// Distinct posters drawn (each also read again, cached).
    #[arg(long, default_value_t = 40)]
    posters: usize,
}

/// The hidden child: intake timings on the CPU it was pinned to.
#[derive(clap::Args, Debug)]
pub struct IntakeArgs {
    #[arg(long, default_value_t = 15)]
    runs: usize,
}

const UPLOAD: &str = "mutation($file: Upload!) { uploadMedia(file: $file, purpose: PRODUCT_IMAGE) { id width height variants { width } } }";
const PRODUCTS: &str = "query($after: String) { products(first: 20, after: $after) {
  edges { node { id name skus { id priceFen available } } } pageInfo { hasNextPage endCursor } } }";
const POSTER: &str =
    "mutation($id: ID!) { sharePoster(kind: PRODUCT, targetId: $id) { url width height } }";
const STAFF_LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }";

/// The photo every figure uses: 4,000×3,000, orientation 6 (upright 3,000×4,000).
fn photo(seed: u64) -> Vec<u8> {
    media::demo::photo_jpeg(4000, 3000, Some(6), seed)
}

/// A 400×300 JPEG with zeros after its end marker up to `len` bytes (decoders stop at the
/// marker).
fn padded_small_photo(seed: u64, len: usize) -> Vec<u8> {
    let mut file = media::demo::photo_jpeg(400, 300, Some(6), seed);
    file.resize(len, 0);
    file
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `rouge-bench media-intake`: runs in the pinned child; prints one `INTAKE <ms>` line per run.
pub fn intake_child(args: IntakeArgs) -> anyhow::Result<()> {
    let jpeg = photo(1);
    let limits = media::IntakeLimits::default();
    // One warm-up (page faults, allocator), not counted.
    media::intake::process(&jpeg, &limits).map_err(|e| anyhow::anyhow!("intake: {e}"))?;
    for _ in 0..args.runs {
        let t = Instant::now();
        let out =
            media::intake::process(&jpeg, &limits).map_err(|e| anyhow::anyhow!("intake: {e}"))?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(
            (out.width, out.height) == (3000, 4000) && out.variants.len() == 3,
            "unexpected intake result {}×{}",
            out.width,
            out.height
        );
        println!("INTAKE {ms:.3}");
    }
    Ok(())
}

/// Intake p50/p95 on one core, from the pinned child.
async fn intake_on_one_core(runs: usize) -> anyhow::Result<(f64, f64)> {
    let jpeg = photo(1);
    println!(
        "== intake: 12 MP JPEG (4000×3000, {:.1} MB, EXIF orientation 6) → 1080/512/256 JPEG q{}, \
         media::intake::process in one thread pinned to CPU 0 (taskset -c 0), {runs} runs",
        jpeg.len() as f64 / 1e6,
        media::intake::JPEG_QUALITY
    );
    let me = std::env::current_exe()?;
    let out = tokio::process::Command::new("taskset")
        .arg("-c")
        .arg("0")
        .arg(me)
        .args(["media-intake", "--runs", &runs.to_string()])
        .output()
        .await
        .context("run taskset (util-linux)")?;
    anyhow::ensure!(
        out.status.success(),
        "intake child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ms: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("INTAKE ")?.trim().parse().ok())
        .collect();
    ms.sort_by(f64::total_cmp);
    let (p50, p95) = (quantile(&ms, 0.5), quantile(&ms, 0.95));
    println!(
        "intake on one core: p50={p50:.1}ms p95={p95:.1}ms min={:.1}ms max={:.1}ms (aim p50 <= 300 ms)",
        ms.first().copied().unwrap_or(f64::NAN),
        ms.last().copied().unwrap_or(f64::NAN)
    );
    Ok((p50, p95))
}

/// A GraphQL multipart request with one file, as the staff app sends it.
fn multipart(file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "rougebenchboundary9d1f3a";
    let operations = json!({ "query": UPLOAD, "variables": { "file": null } }).to_string();
    let mut body = Vec::with_capacity(file.len() + 1024);
    for (name, value) in [
        ("operations", operations.as_str()),
        ("map", r#"{"0":["variables.file"]}"#),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    http: &reqwest::Client,
    endpoint: &str,
    token: &str,
    body: &(String, Vec<u8>),
) -> Result<(), String> {
    let resp = http
        .post(endpoint)
        .header("content-type", &body.0)
        .header("x-rouge-client", "rouge-bench")
        .bearer_auth(token)
        .body(body.1.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let value: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() || value.get("errors").is_some_and(|e| !e.is_null()) {
        return Err(format!("{status}: {value}").chars().take(300).collect());
    }
    if value["data"]["uploadMedia"]["variants"]
        .as_array()
        .map(Vec::len)
        != Some(3)
    {
        return Err(format!("no variants: {value}"));
    }
    Ok(())
}

/// The products load at `connections`, for `seconds`.
async fn products_load(
    label: &str,
    http: &reqwest::Client,
    endpoint: &Arc<String>,
    cursors: &Arc<Vec<Option<String>>>,
    connections: usize,
    seconds: u64,
) -> load::Report {
    let report = load::run(label, connections, Duration::from_secs(seconds), {
        let (http, endpoint, cursors) = (http.clone(), endpoint.clone(), cursors.clone());
        move |c, n| crate::catalog::request(http.clone(), endpoint.clone(), cursors.clone(), c, n)
    })
    .await;
    report.print();
    report
}

/// The products load at a fixed rate (open loop), for `args.seconds`, after a short warm-up at
/// the same rate (connections opened).
async fn products_at_rate(
    label: &str,
    rate: f64,
    http: &reqwest::Client,
    endpoint: &Arc<String>,
    cursors: &Arc<Vec<Option<String>>>,
    args: &Args,
) -> load::Report {
    let request = {
        let (http, endpoint, cursors) = (http.clone(), endpoint.clone(), cursors.clone());
        move |c, n| crate::catalog::request(http.clone(), endpoint.clone(), cursors.clone(), c, n)
    };
    let _ = load::run_rate(
        "warm-up",
        rate,
        args.connections,
        Duration::from_secs(2),
        request.clone(),
    )
    .await;
    let report = load::run_rate(
        &format!("{label} @{rate:.0}/s"),
        rate,
        args.connections,
        Duration::from_secs(args.seconds),
        request,
    )
    .await;
    report.print();
    report
}

/// Staff uploads running back to back on `n` tasks until stopped.
struct Uploads {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Uploads {
    fn start(
        n: usize,
        http: &reqwest::Client,
        staff: &str,
        token: &str,
        bodies: &Arc<Vec<(String, Vec<u8>)>>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let tasks = (0..n)
            .map(|i| {
                let (http, staff, token, bodies) = (
                    http.clone(),
                    staff.to_owned(),
                    token.to_owned(),
                    bodies.clone(),
                );
                let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        match upload(&http, &staff, &token, &bodies[i % bodies.len()]).await {
                            Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                            Err(e) => {
                                if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                                    eprintln!("upload failed: {e}");
                                }
                                0
                            }
                        };
                    }
                })
            })
            .collect();
        Self {
            stop,
            done,
            failed,
            started: Instant::now(),
            tasks,
        }
    }

    /// (done, failed, seconds) since the start.
    fn so_far(&self) -> (u64, u64, f64) {
        (
            self.done.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.started.elapsed().as_secs_f64(),
        )
    }

    /// Stops after the uploads in flight and returns the totals.
    async fn stop(self) -> (u64, u64, f64) {
        let at = self.so_far();
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        at
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    println!("== media ({})", crate::truth::commit_label());
    let (intake_p50, intake_p95) = intake_on_one_core(args.intake_runs).await?;

    let media_dir = std::env::temp_dir().join(format!(
        "rouge-bench-media-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&media_dir)?;
    let outcome = serve_and_measure(&args, &media_dir, intake_p50, intake_p95).await;
    let _ = std::fs::remove_dir_all(&media_dir);
    outcome
}

async fn serve_and_measure(
    args: &Args,
    media_dir: &std::path::Path,
    intake_p50: f64,
    intake_p95: f64,
) -> anyhow::Result<()> {
    let (url, db) = fresh_database("bench_media").await?;
    crate::catalog::seed(&db, 1000, 3).await?;
    db.close().await?;
    let dir = media_dir.display().to_string();
    let server = Server::start(&url, &[("ROUGE_MEDIA__DIR", dir.as_str())]).await?;
    let consumer = Arc::new(format!("{}/graphql/consumer", server.base_url));
    let staff = format!("{}/graphql/staff", server.base_url);
    let http = http_client(args.connections + args.uploads + 2)?;

    // Staff token (the demo HQ account, seeded on the first start with the fake WeChat).
    let login = graphql(
        &http,
        &staff,
        None,
        &json!({ "query": STAFF_LOGIN, "variables": { "u": "hq-demo", "p": domain::seed::DEMO_PASSWORD } }),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .context("staff token")?
        .to_owned();

    // -- uploads beside products(first: 20)
    let (cursors, _) = crate::catalog::cursors(&http, &consumer).await?;
    let cursors = Arc::new(cursors);
    let bodies: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
        (0..args.uploads)
            .map(|i| {
                let seed = 100 + i as u64;
                let full = photo(seed);
                if args.body_only {
                    multipart(&padded_small_photo(seed, full.len()))
                } else {
                    multipart(&full)
                }
            })
            .collect(),
    );
    // One upload first: the path works, and its time alone on the server.
    let t = Instant::now();
    upload(&http, &staff, &token, &bodies[0])
        .await
        .map_err(anyhow::Error::msg)?;
    println!(
        "one 12 MP upload alone (server on both cores, multipart → intake → 3 variants stored): {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let _ = products_load("warm-up", &http, &consumer, &cursors, args.connections, 3).await;
    let idle = products_load(
        "products idle",
        &http,
        &consumer,
        &cursors,
        args.connections,
        args.seconds,
    )
    .await;
    let rate = (idle.per_second() * args.open_share).round().max(1.0);
    let open_idle = products_at_rate("products idle", rate, &http, &consumer, &cursors, args).await;
    let uploads = Uploads::start(args.uploads, &http, &staff, &token, &bodies);
    let open_busy = products_at_rate(
        &format!("products + {} uploads", args.uploads),
        rate,
        &http,
        &consumer,
        &cursors,
        args,
    )
    .await;
    let (open_done, open_failed, open_secs) = uploads.stop().await;
    let ratio = open_busy.p99_ms() / open_idle.p99_ms();
    println!(
        "open loop at {rate:.0} req/s ({:.0}% of idle throughput): products p99 idle {:.2} ms, under {} uploads {:.2} ms: ratio {ratio:.3}; uploads {open_done} done ({:.2}/s), {open_failed} failed",
        args.open_share * 100.0,
        open_idle.p99_ms(),
        args.uploads,
        open_busy.p99_ms(),
        open_done as f64 / open_secs,
    );
    let closed = alternate(args, &http, &consumer, &cursors, &staff, &token, &bodies).await;
    let closed_ratio = closed.busy.p99_ms() / closed.idle.p99_ms();
    let control_ratio = closed.idle_even.p99_ms() / closed.idle_odd.p99_ms();
    println!(
        "closed loop at {} connections, {} rounds of {} s idle then {} s beside {} uploads: products p99 idle {:.2} ms, beside uploads {:.2} ms: ratio {closed_ratio:.3} (aim <= 1.10); uploads {} done ({:.2}/s), {} failed",
        args.connections,
        args.rounds,
        args.segment_seconds,
        args.segment_seconds,
        args.uploads,
        closed.idle.p99_ms(),
        closed.busy.p99_ms(),
        closed.done,
        closed.done as f64 / closed.busy.elapsed.as_secs_f64().max(0.001),
        closed.failed,
    );
    println!(
        "control, no uploads: products p99 of the idle rounds 1, 3, … {:.2} ms against 2, 4, … {:.2} ms: ratio {control_ratio:.3} (what two idle measurements differ by here)",
        closed.idle_odd.p99_ms(),
        closed.idle_even.p99_ms(),
    );

    // -- posters
    let member = login_member(&http, &consumer, "bench-poster")
        .await
        .map_err(anyhow::Error::msg)?;
    let mut products = Vec::new();
    for after in cursors.iter() {
        if products.len() >= args.posters {
            break;
        }
        let page = graphql(
            &http,
            &consumer,
            None,
            &json!({ "query": PRODUCTS, "variables": { "after": after } }),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        for edge in page["data"]["products"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(id) = edge["node"]["id"].as_str() {
                products.push(id.to_owned());
            }
        }
    }
    products.truncate(args.posters);
    let mut drawn = Vec::new();
    let mut cached = Vec::new();
    let mut urls = Vec::new();
    for id in &products {
        let t = Instant::now();
        let p = graphql(
            &http,
            &consumer,
            Some(&member),
            &json!({ "query": POSTER, "variables": { "id": id } }),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        drawn.push(t.elapsed().as_secs_f64() * 1000.0);
        urls.push(p["data"]["sharePoster"]["url"].clone());
    }
    for _ in 0..5 {
        for (id, url) in products.iter().zip(&urls) {
            let t = Instant::now();
            let p = graphql(
                &http,
                &consumer,
                Some(&member),
                &json!({ "query": POSTER, "variables": { "id": id } }),
            )
            .await
            .map_err(anyhow::Error::msg)?;
            cached.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(
                &p["data"]["sharePoster"]["url"] == url,
                "a cached poster changed"
            );
        }
    }
    drawn.sort_by(f64::total_cmp);
    cached.sort_by(f64::total_cmp);
    let (drawn_p50, drawn_p95) = (quantile(&drawn, 0.5), quantile(&drawn, 0.95));
    let (cached_p50, cached_p95) = (quantile(&cached, 0.5), quantile(&cached, 0.95));
    println!(
        "poster drawn ({} distinct products, one at a time): p50={drawn_p50:.1}ms p95={drawn_p95:.1}ms (aim p95 <= 150 ms)",
        drawn.len()
    );
    println!(
        "poster cached ({} reads): p50={cached_p50:.2}ms p95={cached_p95:.2}ms (aim <= 5 ms)",
        cached.len()
    );
    let rss = crate::truth::peak_rss_text(server.pid());
    crate::truth::print_peak_rss(server.pid());
    crate::truth::summary(
        "media",
        &format!(
            "12 MP intake 1 core p50 {intake_p50:.0} ms (p95 {intake_p95:.0}); products p99 open loop {:.2}→{:.2} ms at {rate:.0}/s under {} uploads ({open_done} done); closed loop {:.2}→{:.2} ms ({closed_ratio:.2}×, idle against idle {control_ratio:.2}×; {} uploads done); poster p95 {drawn_p95:.0} ms, cached {cached_p95:.1} ms; RSS {rss}",
            open_idle.p99_ms(),
            open_busy.p99_ms(),
            args.uploads,
            closed.idle.p99_ms(),
            closed.busy.p99_ms(),
            closed.done,
        ),
        "intake p50 <= 300 ms; p99 <= 1.1 x idle; poster p95 <= 150 ms, cached <= 5 ms",
        Some(closed_ratio),
    );
    Ok(())
}

/// The closed loop's idle and beside-uploads latencies, each pooled over the rounds.
struct Alternation {
    /// All the idle rounds (the odd and the even ones together).
    idle: load::Report,
    busy: load::Report,
    /// The idle rounds 1, 3, … and 2, 4, … apart: the control.
    idle_odd: load::Report,
    idle_even: load::Report,
    done: u64,
    failed: u64,
}

/// Rounds of the saturating closed loop, idle then beside uploads, so both see the same drift
/// of a shared machine (one idle run then one busy run differed by up to ×1.25 with no uploads
/// at all). Each busy segment ends with its uploads finished, so the next idle one is idle.
async fn alternate(
    args: &Args,
    http: &reqwest::Client,
    consumer: &Arc<String>,
    cursors: &Arc<Vec<Option<String>>>,
    staff: &str,
    token: &str,
    bodies: &Arc<Vec<(String, Vec<u8>)>>,
) -> Alternation {
    let empty = |label: &str| load::Report::empty(label, args.connections);
    let mut busy = empty("beside uploads");
    let mut idle_odd = empty("idle, odd rounds");
    let mut idle_even = empty("idle, even rounds");
    let (mut done, mut failed) = (0, 0);
    for round in 1..=args.rounds {
        let idle = products_load(
            &format!("round {round}: idle"),
            http,
            consumer,
            cursors,
            args.connections,
            args.segment_seconds,
        )
        .await;
        let uploads = Uploads::start(args.uploads, http, staff, token, bodies);
        let round_busy = products_load(
            &format!("round {round}: + {} uploads", args.uploads),
            http,
            consumer,
            cursors,
            args.connections,
            args.segment_seconds,
        )
        .await;
        let (round_done, round_failed, _) = uploads.stop().await;
        if round % 2 == 0 {
            idle_even.add(&idle);
        } else {
            idle_odd.add(&idle);
        }
        busy.add(&round_busy);
        done += round_done;
        failed += round_failed;
    }
    let mut idle = empty("idle");
    idle.add(&idle_odd);
    idle.add(&idle_even);
    Alternation {
        idle,
        busy,
        idle_odd,
        idle_even,
        done,
        failed,
    }
}
