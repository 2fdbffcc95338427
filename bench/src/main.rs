//! `rouge-bench`: the scenarios behind `scripts/bench`. Each seeds its data on the bench
//! PostgreSQL, starts the release server, loads it on loopback and prints its figures.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rouge-bench")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// products(first: 20) with SKUs, prices and stock, at 32 and 128 connections.
    Catalog(rouge_bench::catalog::Args),
    /// 100,000 grabFlashSale attempts for 1,000 units from 20,000 members at 256 connections,
    /// with redis-benchmark of the same Lua script as the ceiling.
    FlashSale(rouge_bench::flash_sale::Args),
    /// Scan-for-gift: generate 1,000,000 codes, then scanCode at 256 connections.
    Scan(rouge_bench::scan::Args),
    /// A campaign to ~300,000 of 1,000,000 members, dispatched to the fake WeChat.
    Campaign(rouge_bench::campaign::Args),
    /// (internal) The campaign scenario's worker process.
    #[command(hide = true)]
    CampaignWorker(rouge_bench::campaign::WorkerArgs),
    /// availableSlots for a store with 20 BAs and 2,000 bookings; bookService under contention.
    Booking(rouge_bench::booking::Args),
    /// quotePurchaseOrder (80 lines, 5 policies) at 16 connections; 2,000 submits from 50
    /// distributors, then no credit row over its limit.
    B2b(rouge_bench::b2b::Args),
    /// 1,000 members paying orders from their stored value at 64 connections; ledger checked.
    Money(rouge_bench::money::Args),
    /// A 12 MP JPEG to three derivatives on one core; products p99 beside 4 uploads; share
    /// posters drawn and cached; the server's peak RSS.
    Media(rouge_bench::media::Args),
    /// (internal) The media scenario's intake timings, run pinned to one CPU.
    #[command(hide = true)]
    MediaIntake(rouge_bench::media::IntakeArgs),
    /// Sales reports over 1,000,000 order lines: dashboards from rollups at 16 connections,
    /// raw reports over the facts, an XLSX export of 100,000 lines.
    Reports(rouge_bench::reports::Args),
    /// Mixed load for --minutes N; the server's RSS every minute and its slope.
    Soak(rouge_bench::soak::Args),
    /// Ready time on restart and idle RSS, on both backends.
    Footprint(rouge_bench::footprint::Args),
    /// (internal) The catalog's ceiling: a plain poem handler answering fixed bytes.
    #[command(hide = true)]
    PlainServer(rouge_bench::plain::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Catalog(args) => rouge_bench::catalog::run(args).await,
        Scenario::FlashSale(args) => rouge_bench::flash_sale::run(args).await,
        Scenario::Scan(args) => rouge_bench::scan::run(args).await,
        Scenario::Campaign(args) => rouge_bench::campaign::run(args).await,
        Scenario::CampaignWorker(args) => rouge_bench::campaign::worker(args).await,
        Scenario::Booking(args) => rouge_bench::booking::run(args).await,
        Scenario::B2b(args) => rouge_bench::b2b::run(args).await,
        Scenario::Money(args) => rouge_bench::money::run(args).await,
        Scenario::Media(args) => rouge_bench::media::run(args).await,
        Scenario::MediaIntake(args) => rouge_bench::media::intake_child(args),
        Scenario::Reports(args) => rouge_bench::reports::run(args).await,
        Scenario::Soak(args) => rouge_bench::soak::run(args).await,
        Scenario::Footprint(args) => rouge_bench::footprint::run(args).await,
        Scenario::PlainServer(args) => rouge_bench::plain::serve(args).await,
    }
}
