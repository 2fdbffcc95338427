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
    /// availableSlots for a store with 20 BAs and 2,000 bookings; bookService under contention.
    Booking(rouge_bench::booking::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Catalog(args) => rouge_bench::catalog::run(args).await,
        Scenario::Booking(args) => rouge_bench::booking::run(args).await,
    }
}
