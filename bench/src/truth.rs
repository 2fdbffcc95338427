//! What keeps the figures honest: the `synchronous_commit` setting a run uses (`scripts/bench`
//! runs every scenario with it off, the setting the ceilings and the aims use, and again with it
//! on, the production setting), ceilings measured in the same run (pgbench's TPC-B-like
//! transactions for the write paths; redis-benchmark for grabs lives with the flash-sale
//! scenario; a plain poem handler for the catalog), the server's peak memory, and the one-line
//! summaries `scripts/bench all` gathers into its table.

use std::io::Write as _;

use anyhow::Context as _;
use sea_orm::ConnectionTrait;

use crate::env::admin_url;

/// PostgreSQL's `synchronous_commit` for this run's databases: `off` (default) or `on`, from
/// `ROUGE_BENCH_SYNCHRONOUS_COMMIT` (set by `scripts/bench`).
pub fn synchronous_commit() -> &'static str {
    match std::env::var("ROUGE_BENCH_SYNCHRONOUS_COMMIT").as_deref() {
        Ok("on") => "on",
        _ => "off",
    }
}

/// How a figure is labelled: which commit setting it ran with.
pub fn commit_label() -> String {
    let setting = synchronous_commit();
    let meaning = if setting == "on" {
        "production setting"
    } else {
        "the ceilings' setting; aims are judged on this run"
    };
    format!("synchronous_commit={setting} ({meaning})")
}

/// Applies the run's commit setting to a database (new connections take it).
pub async fn apply_commit_setting(
    admin: &sea_orm::DatabaseConnection,
    database: &str,
) -> anyhow::Result<()> {
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE {database} SET synchronous_commit = {}",
            synchronous_commit()
        ))
        .await?;
    Ok(())
}

/// Peak resident memory of a process (VmHWM), as text for the figures.
pub fn peak_rss_text(pid: Option<u32>) -> String {
    pid.and_then(crate::load::peak_rss_mib)
        .map_or_else(|| "n/a".to_owned(), |m| format!("{m:.0} MiB"))
}

/// Starts a new peak: the kernel's VmHWM of `pid` is set back to its current RSS (Linux
/// `clear_refs` 5), so a later [`peak_rss_text`] is the peak of what ran since. Whether it could.
pub fn reset_peak_rss(pid: Option<u32>) -> bool {
    pid.is_some_and(|pid| std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok())
}

/// Prints the server's peak RSS line.
pub fn print_peak_rss(pid: Option<u32>) {
    println!("server peak RSS (VmHWM): {}", peak_rss_text(pid));
}

/// A write path's ceiling, in the same run: pgbench at `clients` connections for as long as the
/// load ran (5 to 20 s); prints and returns (pgbench's transactions/s, the load's ratio to it).
pub async fn pgbench_ratio(
    report: &crate::load::Report,
    clients: usize,
    what: &str,
) -> anyhow::Result<(f64, f64)> {
    let tps = pgbench_tps(clients, report.elapsed.as_secs().clamp(5, 20)).await?;
    let ratio = report.per_second() / tps;
    println!("ratio {what}/pgbench TPC-B-like = {ratio:.3} ({tps:.0} tps)");
    Ok((tps, ratio))
}

/// pgbench's TPC-B-like transactions per second on the bench PostgreSQL, measured now with the
/// run's commit setting: `clients` connections (the server's pool size), `seconds` long, on a
/// fresh database of scale `clients` (one branch row per client, so the ceiling is not a
/// contention artefact of pgbench's own). The write paths' ratios are taken against it.
pub async fn pgbench_tps(clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let pg_bin = std::env::var("PG_BIN").context("PG_BIN (scripts/bench exports it)")?;
    let pgbench = format!("{pg_bin}/pgbench");
    let admin_url = admin_url()?;
    let name = "bench_pgbench";
    let admin = api::connect_database(&admin_url, 1).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    apply_commit_setting(&admin, name).await?;
    let (base, _) = admin_url.rsplit_once('/').context("database url")?;
    let url = format!("{base}/{name}");
    let init = tokio::process::Command::new(&pgbench)
        .args(["-i", "-q", "-s", &clients.to_string(), &url])
        .output()
        .await
        .context("run pgbench -i")?;
    anyhow::ensure!(
        init.status.success(),
        "pgbench -i: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let out = tokio::process::Command::new(&pgbench)
        .args(["-n", "-c", &clients.to_string(), "-j", "2"])
        .args(["-T", &seconds.to_string(), &url])
        .output()
        .await
        .context("run pgbench")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let tps = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tps = "))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .next()
        .with_context(|| {
            format!(
                "pgbench said: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin.close().await?;
    println!(
        "ceiling: pgbench TPC-B-like, {clients} clients, {seconds}s, {}: {tps:.0} transactions/s",
        commit_label()
    );
    Ok(tps)
}

/// One row of `scripts/bench all`'s table: printed, and appended to the file named by
/// `ROUGE_BENCH_SUMMARY` when set.
pub fn summary(scenario: &str, figure: &str, aim: &str, ratio: Option<f64>) {
    let ratio = ratio.map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
    let commit = format!("sc={}", synchronous_commit());
    let line = format!("{scenario}\t{commit}\t{figure}\t{aim}\t{ratio}");
    println!("SUMMARY {}", line.replace('\t', " | "));
    if let Ok(path) = std::env::var("ROUGE_BENCH_SUMMARY")
        && let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}
