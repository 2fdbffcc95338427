//! `scripts/bench scan`: scan-for-gift. (1) `rouge codes generate` writes a 1,000,000-code
//! printer file (time and the CLI's peak memory); (2) `scanCode` over HTTP at 32 connections (the aim's; `--connections 256` for the crowd) on
//! PostgreSQL and Redis, every code attempted twice by different members (one redeems, one is
//! told "already redeemed"), then gifts granted = codes redeemed is checked in the database.
//! The second scan of a code comes `--repeat-lag` codes later, once the first has committed, as a
//! member scans a pack someone scanned before; `--repeat-lag 0` sends both at once (two members
//! racing for every code: the lost claim's path, rare in use, and what figures before 7 Dec
//! measured).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use domain::scan_codes::PackCodeKey;
use futures::{StreamExt, TryStreamExt};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::json;

use crate::env::{CONSUMER, Server, fresh_database, http_client};
use crate::wire::{Wires, string_field};
use crate::{load, seed};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Codes in the printer file.
    #[arg(long, default_value_t = 1_000_000)]
    codes: i64,
    /// Members scanning (each logs in once).
    #[arg(long, default_value_t = 1_024)]
    members: usize,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds of scanning load.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Codes between a code's first scan and its second (by another member); by default 4 x
    /// the connections, so the first has committed. 0 sends both at once, racing.
    #[arg(long)]
    repeat_lag: Option<u64>,
}

/// The bench's own pack-code key (the server and the generator are given the same).
const KEY: &str = "bench-pack-code-key-0123456789abcdef-bench";

const SCAN: &str = "mutation($c: String!) { scanCode(code: $c, region: { province: \"上海市\", city: \"上海市\" }, survey: { ageBand: AGE_25_29, skinType: DRY }) { status } }";

async fn seed(db: &sea_orm::DatabaseConnection, codes: i64) -> anyhow::Result<i64> {
    use entities::{scan_code_batch, staff_account};
    let now = Utc::now();
    let cat = seed::category(db, "BENCH", "基准", 99, now).await?;
    let p = seed::product(db, "BENCH-SCAN", "扫码精华", cat.id, now).await?;
    let s = seed::serum_sku(db, p.id, "BENCH-SCAN-30", now).await?;
    let creator = staff_account::Entity::find()
        .one(db)
        .await?
        .map_or(0, |s| s.id);
    let batch = scan_code_batch::ActiveModel {
        name: Set("bench".into()),
        sku_id: Set(s.id),
        code_count: Set(codes),
        stock_batch_id: Set(None),
        lot: Set(Some("L-BENCH".into())),
        distributor_id: Set(None),
        territory: Set("上海市".into()),
        gift_kind: Set(entities::scan_code_batch::GiftKind::Points),
        gift_points: Set(10),
        coupon_template_id: Set(None),
        sample_name: Set(None),
        valid_from: Set(now - chrono::Duration::hours(1)),
        valid_until: Set(now + chrono::Duration::days(30)),
        active: Set(true),
        created_by: Set(creator),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(batch.id)
}

/// The code attempt `n` scans: attempt 2k redeems code k; attempt 2k+1 (another member: the
/// member is `n` modulo their number, an even count) scans code k - lag again. The first `lag`
/// odd attempts have no earlier code and race for code k.
fn serial_of(n: u64, lag: u64) -> u64 {
    let k = n / 2;
    if n.is_multiple_of(2) || k < lag {
        k
    } else {
        k - lag
    }
}

/// Runs `rouge codes generate` and prints its time and peak memory.
async fn generate(database_url: &str, batch: i64, codes: i64) -> anyhow::Result<()> {
    let bin = std::env::var("ROUGE_BENCH_SERVER").context("ROUGE_BENCH_SERVER")?;
    let dir = std::env::temp_dir().join(format!("rouge-bench-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("codes.csv");
    let started = Instant::now();
    let output = tokio::process::Command::new(bin)
        .args(["codes", "generate", "--batch", &batch.to_string(), "--out"])
        .arg(&out)
        .env("DATABASE_URL", database_url)
        .env("ROUGE_SCAN__PACK_CODE_KEY", KEY)
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    let wall = started.elapsed();
    anyhow::ensure!(
        output.status.success(),
        "codes generate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    // Check the file: one header, one line per code, codes that verify with the key.
    let text = std::fs::read_to_string(&out)?;
    let lines = text.lines().count() - 1;
    anyhow::ensure!(
        i64::try_from(lines)? == codes,
        "{lines} codes written, {codes} expected"
    );
    let key = PackCodeKey::new(KEY.as_bytes());
    for line in text.lines().skip(1).step_by(99_991) {
        let (serial, code) = line.split_once(',').context("csv line")?;
        let decoded = key
            .decode(code)
            .map_err(|e| anyhow::anyhow!("{code}: {e:?}"))?;
        anyhow::ensure!(decoded.1.to_string() == serial && i64::from(decoded.0) == batch);
    }
    let bytes = text.len();
    drop(text);
    std::fs::remove_dir_all(&dir)?;
    println!(
        "generate {codes} codes: wall {:.2}s ({:.0} codes/s), file {:.1} MiB; CLI says: {}",
        wall.as_secs_f64(),
        codes as f64 / wall.as_secs_f64(),
        bytes as f64 / (1024.0 * 1024.0),
        said.trim()
    );
    Ok(())
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (url, db) = fresh_database("bench_scan").await?;
    let batch = seed(&db, args.codes).await?;
    generate(&url, batch, args.codes).await?;

    // Per-member limits are lifted: a thousand synthetic members scan far more than people do.
    let server = Server::start(
        &url,
        &[
            ("ROUGE_SCAN__PACK_CODE_KEY", KEY),
            ("ROUGE_SCAN__SCANS_PER_MINUTE", "1000000"),
            ("ROUGE_SCAN__DAILY_GIFT_CAP", "1000000"),
        ],
    )
    .await?;
    let endpoint = Arc::new(server.endpoint(CONSUMER));
    let http = http_client(args.connections)?;
    // Logged in at the scenario's own connection count, as the scans are sent.
    let tokens: Vec<String> = futures::stream::iter(0..args.members)
        .map(|i| {
            let (http, endpoint) = (&http, &endpoint);
            async move {
                crate::env::login_member(http, endpoint, &format!("scanbench{i}"))
                    .await
                    .map_err(anyhow::Error::msg)
            }
        })
        .buffered(args.connections)
        .try_collect()
        .await?;
    println!(
        "{} members logged in; server peak RSS so far {}",
        tokens.len(),
        crate::truth::peak_rss_text(server.pid())
    );
    // The figure is the scans' own peak (start-up and logins are printed above).
    let scans_peak = crate::truth::reset_peak_rss(server.pid());
    let tokens = Arc::new(tokens);
    let key = Arc::new(PackCodeKey::new(KEY.as_bytes()));
    let redeemed = Arc::new(AtomicU64::new(0));
    let already = Arc::new(AtomicU64::new(0));
    let max_attempts = u64::try_from(args.codes)? * 2;
    // Fewer codes back than scans in flight, and the second scan would race its first again.
    let lag = args
        .repeat_lag
        .unwrap_or(4 * u64::try_from(args.connections)?);
    println!(
        "second scans {lag} codes after the first{}",
        if lag == 0 {
            " (both at once: racing pairs)"
        } else {
            ""
        }
    );
    // Scans go on lean connections (see `wire`), as the flash sale's grabs do.
    let wires = Arc::new(Wires::connect(&server.base_url, args.connections).await?);
    let report = {
        let (wires, tokens, key, redeemed, already) = (
            wires.clone(),
            tokens.clone(),
            key.clone(),
            redeemed.clone(),
            already.clone(),
        );
        load::run(
            "scanCode",
            args.connections,
            Duration::from_secs(args.seconds),
            move |c, n| {
                let (wires, tokens, key, redeemed, already) = (
                    wires.clone(),
                    tokens.clone(),
                    key.clone(),
                    redeemed.clone(),
                    already.clone(),
                );
                async move {
                    let n = n % max_attempts;
                    let serial = u32::try_from(serial_of(n, lag)).unwrap_or(0);
                    let member = usize::try_from(n).unwrap_or(0) % tokens.len();
                    let code = key.code(u32::try_from(batch).unwrap_or(0), serial);
                    let body = json!({ "query": SCAN, "variables": { "c": code } });
                    let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
                    let answer = wires
                        .post_json(c, CONSUMER, &tokens[member], &body, |a| {
                            string_field(a.body, "status")
                                .map(str::to_owned)
                                .ok_or_else(|| String::from_utf8_lossy(a.body).into_owned())
                        })
                        .await
                        .map_err(|e| format!("transport: {e}"))?;
                    match answer.as_deref() {
                        Ok("REDEEMED") => redeemed.fetch_add(1, Ordering::Relaxed),
                        Ok("ALREADY_REDEEMED") => already.fetch_add(1, Ordering::Relaxed),
                        _ => return Err(format!("unexpected answer {answer:?}")),
                    };
                    Ok(())
                }
            },
        )
        .await
    };
    report.print();
    // The bench's own batch only: the server's demo data has scans of its own.
    let redemptions = entities::scan_redemption::Entity::find()
        .filter(entities::scan_redemption::Column::BatchId.eq(batch))
        .count(&db)
        .await?;
    let gifts = entities::points_ledger::Entity::find()
        .filter(entities::points_ledger::Column::Reason.eq("SCAN_GIFT"))
        .filter(entities::points_ledger::Column::Reference.starts_with(format!("scan:{batch}:")))
        .count(&db)
        .await?;
    println!(
        "answers: redeemed={} already-redeemed={}; codes redeemed (rows) = {redemptions}, gifts granted (points entries) = {gifts} -> {}",
        redeemed.load(Ordering::Relaxed),
        already.load(Ordering::Relaxed),
        if redemptions == gifts && redemptions == redeemed.load(Ordering::Relaxed) {
            "OK, one gift per redeemed code"
        } else {
            "MISMATCH"
        }
    );
    let rss = crate::truth::peak_rss_text(server.pid());
    println!(
        "server peak RSS {} (VmHWM): {rss}",
        if scans_peak {
            "while scanning"
        } else {
            "since start (could not reset it)"
        }
    );
    drop(server);
    // The ceiling, in the same run: pgbench at the server's pool size.
    let tps = crate::truth::pgbench_tps(32, args.seconds).await?;
    let ratio = report.per_second() / tps;
    println!("ratio scans/pgbench TPC-B-like = {ratio:.3} (aim >= 0.6)");
    crate::truth::summary(
        &format!("scan @{}", args.connections),
        &format!(
            "{:.0} scans/s, p50 {:.0} ms, p99 {:.0} ms; pgbench {tps:.0} tps; RSS {rss}",
            report.per_second(),
            report.ms(0.5),
            report.p99_ms()
        ),
        ">= 0.6 x pgbench; p99 <= 50 ms @32; RSS <= 100 MiB",
        Some(ratio),
    );
    db.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::serial_of;

    #[test]
    fn every_code_is_redeemed_then_scanned_again_lag_codes_later() {
        let lag = 128;
        for k in lag..10_000 {
            assert_eq!(serial_of(2 * k, lag), k, "attempt 2k redeems code k");
            assert_eq!(
                serial_of(2 * k + 1, lag),
                k - lag,
                "attempt 2k+1 comes back"
            );
            // The repeat comes 2 * lag attempts after the redeeming one.
            assert_eq!(serial_of(2 * (k - lag), lag), k - lag);
        }
        // Before `lag` codes exist, and with no lag, the pair races for one code.
        assert_eq!(serial_of(7, lag), 3);
        assert_eq!(serial_of(2 * 500 + 1, 0), 500);
    }
}
