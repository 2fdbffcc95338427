//! `scripts/bench footprint`: how fast the server is ready and how much memory it holds idle.
//! The server is started `--starts` times on one data folder (embedded) or one database
//! (production): the first start migrates and seeds the demo, the rest are restarts, which is
//! what an operator sees on every deploy. Ready = from spawning the process to its first
//! answered request (a catalog page; the `rouge listening on` line comes a little earlier, before
//! the schemas are built, and is printed beside it); idle RSS is read once the server has sat for
//! `--settle-ms` after that answer (allocator and pools at rest).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::catalog::Backend;
use crate::env::{Server, fresh_database, http_client};
use crate::load;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// embedded (SQLite + in-process store), production (PostgreSQL + Redis), or both.
    #[arg(long, default_value = "both")]
    backend: String,
    /// Starts per backend (the first one on a fresh store).
    #[arg(long, default_value_t = 5)]
    starts: usize,
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let backends = match args.backend.as_str() {
        "both" => vec![Backend::Embedded, Backend::Production],
        other => vec![Backend::parse(other)?],
    };
    for backend in backends {
        measure(backend, &args).await?;
    }
    Ok(())
}

async fn measure(backend: Backend, args: &Args) -> anyhow::Result<()> {
    println!(
        "== footprint on {}: {} starts, idle RSS after one catalog page and {} ms",
        backend.name(),
        args.starts,
        args.settle_ms
    );
    let dir = std::env::temp_dir().join(format!(
        "rouge-bench-footprint-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let database_url = match backend {
        Backend::Production => {
            let (url, db) = fresh_database("bench_footprint").await?;
            db.close().await?;
            Some(url)
        }
        Backend::Embedded => None,
    };
    let http = http_client(1)?;
    let (mut restarts, mut idles) = (Vec::new(), Vec::new());
    for start in 0..args.starts {
        let began = Instant::now();
        let server = match &database_url {
            Some(url) => Server::start(url, &[]).await?,
            None => Server::start_embedded(&dir, &[]).await?,
        };
        let listening = began.elapsed().as_secs_f64() * 1000.0;
        let endpoint = format!("{}/graphql/consumer", server.base_url);
        let answer = http
            .post(&endpoint)
            .json(&json!({ "query": "{ products(first: 20) { nodes { id } } }" }))
            .send()
            .await?;
        anyhow::ensure!(
            answer.status().is_success(),
            "catalog page: {}",
            answer.status()
        );
        let ready = began.elapsed().as_secs_f64() * 1000.0;
        tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
        let pid = server.pid().unwrap_or(0);
        let idle = load::rss_mib(pid).unwrap_or(0.0);
        let anonymous = anonymous_mib(pid).unwrap_or(0.0);
        println!(
            "start {}: listening after {listening:.0} ms, first answer (ready) after {ready:.0} ms{}; idle RSS {idle:.1} MiB ({anonymous:.1} MiB anonymous: heap and stacks; {:.1} MiB mapped from the program file and libraries)",
            start + 1,
            if start == 0 {
                " (fresh: migrations and demo seed)"
            } else {
                ""
            },
            idle - anonymous
        );
        if start > 0 {
            restarts.push(ready);
        }
        idles.push(idle);
        drop(server);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let ready = median(&mut restarts);
    let idle = median(&mut idles);
    println!(
        "{}: ready (restart) median {ready:.0} ms, idle RSS median {idle:.1} MiB",
        backend.name()
    );
    crate::truth::summary(
        &format!("footprint {}", backend.name()),
        &format!("ready {ready:.0} ms (restart, median); idle {idle:.1} MiB"),
        "ready <= 500 ms; idle <= 40 MiB",
        None,
    );
    Ok(())
}

/// The process's anonymous resident memory (heap, stacks), from /proc/<pid>/smaps_rollup.
fn anonymous_mib(pid: u32) -> Option<f64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = rollup.lines().find(|l| l.starts_with("Anonymous:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
