//! `scripts/bench soak --minutes N`: mixed load for N minutes (anonymous catalog pages, which the
//! answer cache may keep; members' catalog pages and `me`, which go the whole GraphQL way; a
//! member login now and then), printing the server's resident memory every minute and, at the
//! end, its slope after the first minute (the warm-up), to show whether memory grows with
//! requests or plateaus (aim: flat within ±10% after warm-up).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::catalog::{Backend, cursors, seeded_server};
use crate::env::{graphql, http_client, login_member};
use crate::load;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// embedded (SQLite + in-process store) or production (PostgreSQL + Redis).
    #[arg(long, default_value = "embedded")]
    backend: String,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    #[arg(long, default_value_t = 1000)]
    products: usize,
    /// Members logged in before the load (their tokens are used in turn, and renewed by logging
    /// in again when one expires: access tokens last 15 minutes).
    #[arg(long, default_value_t = 64)]
    members: usize,
    /// Requests per second across all connections; 0 sends as fast as the server answers.
    /// A paced soak measures memory per request without taking the whole machine for half an
    /// hour (the latencies it prints then include the wait for each request's slot).
    #[arg(long, default_value_t = 0)]
    rate: u64,
}

const MEMBER_PAGE: &str = "query($after: String) { me { id } products(first: 20, after: $after) {
  edges { node { id name skus { id priceFen available } } } pageInfo { endCursor } } }";

/// Least-squares slope of (x, y) points.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let backend = Backend::parse(&args.backend)?;
    println!(
        "== soak on {} for {} minutes at {} connections, {} ({})",
        backend.name(),
        args.minutes,
        args.connections,
        if args.rate == 0 {
            "unpaced".to_string()
        } else {
            format!("paced at {} requests/s", args.rate)
        },
        crate::truth::commit_label()
    );
    let seeded = seeded_server(backend, args.products, 3).await?;
    let pid = seeded.server.pid().unwrap_or(0);
    let endpoint = Arc::new(format!("{}/graphql/consumer", seeded.server.base_url));
    let http = http_client(args.connections)?;
    let idle = load::rss_mib(pid).unwrap_or(0.0);
    println!("idle RSS after start: {idle:.1} MiB");
    let (pages, _) = cursors(&http, &endpoint).await?;
    let pages = Arc::new(pages);
    let mut tokens = Vec::with_capacity(args.members);
    for i in 0..args.members {
        tokens.push(std::sync::RwLock::new(
            login_member(&http, &endpoint, &format!("soak{i}"))
                .await
                .map_err(anyhow::Error::msg)?,
        ));
    }
    let tokens = Arc::new(tokens);
    let requests = Arc::new(AtomicU64::new(0));
    let duration = Duration::from_secs(args.minutes * 60);
    let (paced_from, rate) = (tokio::time::Instant::now(), args.rate);
    let load = tokio::spawn({
        let (http, endpoint, pages, tokens, requests) = (
            http.clone(),
            endpoint.clone(),
            pages.clone(),
            tokens.clone(),
            requests.clone(),
        );
        load::run("soak mixed", args.connections, duration, move |c, n| {
            let (http, endpoint, pages, tokens, requests) = (
                http.clone(),
                endpoint.clone(),
                pages.clone(),
                tokens.clone(),
                requests.clone(),
            );
            async move {
                if rate > 0 {
                    // Request n has its slot n / rate seconds after the start.
                    let slot = Duration::from_secs_f64(n as f64 / rate as f64);
                    tokio::time::sleep_until(paced_from + slot).await;
                }
                requests.fetch_add(1, Ordering::Relaxed);
                let i = usize::try_from(n).unwrap_or(0);
                let after = &pages[(c * 7 + i) % pages.len()];
                match n % 100 {
                    // A login now and then: new sessions and tokens.
                    0 => login_member(&http, &endpoint, &format!("soak-late-{n}"))
                        .await
                        .map(|_| ()),
                    // Members: never from the answer cache, the whole GraphQL path.
                    1..=29 => {
                        let body = json!({ "query": MEMBER_PAGE, "variables": { "after": after } });
                        let member = i % tokens.len();
                        let token = tokens[member].read().map(|t| t.clone()).unwrap_or_default();
                        match graphql(&http, &endpoint, Some(&token), &body).await {
                            Err(e) if e.contains("401") => {
                                // Expired: log in again, as the mini-program would.
                                let fresh =
                                    login_member(&http, &endpoint, &format!("soak{member}"))
                                        .await?;
                                if let Ok(mut slot) = tokens[member].write() {
                                    *slot = fresh;
                                }
                                Ok(())
                            }
                            other => other.map(|_| ()),
                        }
                    }
                    _ => crate::catalog::request(http, endpoint, pages, c, n).await,
                }
            }
        })
    });
    let started = Instant::now();
    let mut samples: Vec<(f64, f64)> = Vec::new();
    for minute in 1..=args.minutes {
        let next = started + Duration::from_secs(minute * 60);
        tokio::time::sleep_until(next.into()).await;
        let rss = load::rss_mib(pid).unwrap_or(0.0);
        println!(
            "minute {minute:>3}: RSS {rss:>7.1} MiB after {} requests",
            requests.load(Ordering::Relaxed)
        );
        samples.push((minute as f64, rss));
    }
    let report = load.await?;
    report.print();
    let after_warm_up: Vec<(f64, f64)> = samples.iter().copied().skip(1).collect();
    let per_minute = slope(&after_warm_up);
    let (first, last) = (
        after_warm_up.first().map_or(idle, |p| p.1),
        after_warm_up.last().map_or(idle, |p| p.1),
    );
    let change = if first > 0.0 {
        (last - first) / first * 100.0
    } else {
        0.0
    };
    let served = requests.load(Ordering::Relaxed).max(1) as f64;
    println!(
        "RSS slope after the first minute: {per_minute:+.2} MiB/minute ({:+.1} KiB per 1,000 requests); {first:.1} -> {last:.1} MiB ({change:+.1}%): {}",
        per_minute * args.minutes as f64 * 1024.0 / (served / 1000.0),
        if change.abs() <= 10.0 {
            "flat (within ±10%)"
        } else {
            "NOT flat"
        }
    );
    crate::truth::print_peak_rss(Some(pid));
    crate::truth::summary(
        &format!("soak {} {}min", backend.name(), args.minutes),
        &format!(
            "idle {idle:.0} MiB; {first:.0} -> {last:.0} MiB ({change:+.1}%), slope {per_minute:+.2} MiB/min over {served:.0} requests"
        ),
        "flat ±10% after warm-up; idle <= 40 MiB",
        None,
    );
    Ok(())
}
