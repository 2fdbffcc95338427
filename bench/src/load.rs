//! A closed-loop load generator: N connections, each sending its next request as soon as the
//! previous one answered, for a fixed time; latencies in an HDR histogram.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

pub struct Report {
    pub label: String,
    pub connections: usize,
    pub elapsed: Duration,
    pub ok: u64,
    pub errors: u64,
    pub latency: Histogram<u64>,
}

impl Report {
    /// A report with no requests yet, to [`Report::add`] others to.
    pub fn empty(label: &str, connections: usize) -> Self {
        Self {
            label: label.to_owned(),
            connections,
            elapsed: Duration::ZERO,
            ok: 0,
            errors: 0,
            latency: new_histogram(),
        }
    }

    /// Pools `other`'s requests into this one (segments of the same load taken apart in time).
    pub fn add(&mut self, other: &Report) {
        self.elapsed += other.elapsed;
        self.ok += other.ok;
        self.errors += other.errors;
        // Both come from `new_histogram`, so their bounds agree and adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }

    pub fn per_second(&self) -> f64 {
        (self.ok + self.errors) as f64 / self.elapsed.as_secs_f64()
    }

    pub fn p99_ms(&self) -> f64 {
        self.ms(0.99)
    }

    pub fn ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn print(&self) {
        println!(
            "{:<28} conns={:<4} req/s={:>9.0}  p50={:>7.2}ms  p90={:>7.2}ms  p99={:>7.2}ms  max={:>8.2}ms  ok={} errors={}",
            self.label,
            self.connections,
            self.per_second(),
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.latency.max() as f64 / 1000.0,
            self.ok,
            self.errors,
        );
    }
}

/// When a load run stops.
enum Stop {
    /// At this instant (a time-bound run).
    At(Instant),
    /// After this many requests in all (a fixed amount of work).
    After(u64),
}

/// Runs `request(connection, n)` in a loop on each of `connections` tasks for `duration`.
/// A request returns Ok for a success, Err for an error answer (counted, latency kept).
pub async fn run<F, Fut>(label: &str, connections: usize, duration: Duration, request: F) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    drive(
        label,
        connections,
        Stop::At(Instant::now() + duration),
        request,
    )
    .await
}

/// Sends `total` requests with at most `connections` in flight.
pub async fn run_count<F, Fut>(label: &str, connections: usize, total: u64, request: F) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    drive(label, connections, Stop::After(total), request).await
}

async fn drive<F, Fut>(label: &str, connections: usize, stop: Stop, request: F) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let request = Arc::new(request);
    let stop = Arc::new(stop);
    let issued = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for connection in 0..connections {
        let (request, stop, issued) = (request.clone(), stop.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            let mut histogram = new_histogram();
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut first_error = None;
            loop {
                let n = issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let done = match *stop {
                    Stop::At(deadline) => Instant::now() >= deadline,
                    Stop::After(total) => n >= total,
                };
                if done {
                    break;
                }
                let t = Instant::now();
                let outcome = request(connection, n).await;
                let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                let _ = histogram.record(micros.max(1));
                match outcome {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (histogram, ok, errors, first_error)
        }));
    }
    let mut latency = new_histogram();
    let (mut ok, mut errors) = (0, 0);
    let mut first_error = None;
    for task in tasks {
        if let Ok((h, o, e, first)) = task.await {
            let _ = latency.add(&h);
            ok += o;
            errors += e;
            if first_error.is_none() {
                first_error = first;
            }
        }
    }
    if let Some(e) = first_error {
        eprintln!("{label}: first error: {e}");
    }
    Report {
        label: label.to_owned(),
        connections,
        elapsed: started.elapsed(),
        ok,
        errors,
        latency,
    }
}

/// Sends requests at a fixed `rate` per second for `duration` (an open loop: each request on
/// its own task, sent when due whatever the earlier ones are doing), as traffic arrives at a
/// server with headroom. Unlike [`run`], a slower server does not slow the senders down, so
/// latencies compare at the same offered load. `request(slot, n)` gets `n % slots` as its slot.
pub async fn run_rate<F, Fut>(
    label: &str,
    rate: f64,
    slots: usize,
    duration: Duration,
    request: F,
) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let every = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Result<(), String>)>();
    let mut n = 0u64;
    loop {
        let due = started + every.mul_f64(n as f64);
        if due >= started + duration {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let (request, tx) = (request.clone(), tx.clone());
        let slot = usize::try_from(n % slots.max(1) as u64).unwrap_or(0);
        tokio::spawn(async move {
            let t = Instant::now();
            let outcome = request(slot, n).await;
            let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
            let _ = tx.send((micros, outcome));
        });
        n += 1;
    }
    drop(tx);
    let mut latency = new_histogram();
    let (mut ok, mut errors) = (0, 0);
    let mut first_error = None;
    while let Some((micros, outcome)) = rx.recv().await {
        let _ = latency.record(micros.max(1));
        match outcome {
            Ok(()) => ok += 1,
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        eprintln!("{label}: first error: {e}");
    }
    Report {
        label: label.to_owned(),
        connections: slots,
        elapsed: started.elapsed(),
        ok,
        errors,
        latency,
    }
}

/// `n=… p50=…ms p99=…ms max=…ms` of a latency histogram (µs), for the per-answer and
/// per-phase lines the scenarios print under their report.
pub fn quantiles(latency: &Histogram<u64>) -> String {
    format!(
        "n={:<7} p50={:>8.2}ms p99={:>8.2}ms max={:>8.2}ms",
        latency.len(),
        latency.value_at_quantile(0.5) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
        latency.max() as f64 / 1000.0
    )
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant figures; the bounds are valid, so this cannot fail.
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| unreachable!("valid histogram bounds"))
}

/// Peak resident memory of a process (VmHWM), in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resident memory of a process now (VmRSS), in MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
