//! `rouge codes`: the printer's file of a scan-for-gift batch (derived codes, streamed) and the
//! export of its redemptions, both as CSV with a progress bar.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use api::config::Config;
use clap::Subcommand;
use domain::scan_codes::{self, PackCodeKey};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::ActiveEnum as _;

#[derive(Subcommand)]
pub enum CodesCommand {
    /// Write a batch's pack codes (serial,code) for the printer. Needs the pack-code key.
    Generate {
        #[arg(long)]
        batch: i64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Export a batch's redeemed codes (no member identity) as CSV.
    Export {
        #[arg(long)]
        batch: i64,
        #[arg(long)]
        out: PathBuf,
    },
}

fn bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn create(out: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::create(out).with_context(|| format!("could not create {}", out.display()))
}

pub async fn run(
    config: &Config,
    db: sea_orm::DatabaseConnection,
    cmd: CodesCommand,
) -> anyhow::Result<()> {
    match cmd {
        CodesCommand::Generate { batch, out } => {
            let batch = scan_codes::batch_for_operator(&db, batch).await?;
            db.close().await?;
            let key = PackCodeKey::new(&config.pack_code_key());
            let file = create(&out)?;
            let started = Instant::now();
            let count = u64::try_from(batch.count).unwrap_or(0);
            let written = tokio::task::spawn_blocking(move || {
                let progress = bar(count);
                let n = scan_codes::write_codes_csv(&key, &batch, file, |done| {
                    progress.set_position(done);
                });
                progress.finish_and_clear();
                n
            })
            .await??;
            println!(
                "wrote {written} codes to {} in {:.2}s (peak RSS {:.1} MiB)",
                out.display(),
                started.elapsed().as_secs_f64(),
                peak_rss_mib().unwrap_or(0.0)
            );
            Ok(())
        }
        CodesCommand::Export { batch, out } => {
            let total = scan_codes::redeemed_count(&db, batch).await?;
            scan_codes::batch_for_operator(&db, batch).await?;
            let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(create(&out)?));
            writer.write_record([
                "serial",
                "redeemed_at",
                "province",
                "city",
                "cross_territory",
                "gift_kind",
                "gift_points",
                "sample_collected_at",
            ])?;
            let progress = bar(total);
            let mut after = 0;
            let mut written = 0u64;
            loop {
                let page = scan_codes::redemptions_after(&db, batch, after, 5_000).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for r in &page {
                    writer.write_record([
                        r.serial.to_string(),
                        r.redeemed_at.to_rfc3339(),
                        r.province.clone().unwrap_or_default(),
                        r.city.clone().unwrap_or_default(),
                        r.cross_territory.to_string(),
                        r.gift_kind.to_value(),
                        r.gift_points.to_string(),
                        r.voucher_redeemed_at
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_default(),
                    ])?;
                }
                written += page.len() as u64;
                progress.set_position(written);
            }
            writer.flush()?;
            progress.finish_and_clear();
            println!("exported {written} redemptions to {}", out.display());
            Ok(())
        }
    }
}
