//! Background work that runs on a schedule (payment time-outs, no-shows, reminders, point
//! expiry, segment refresh). Any number of replicas may run the scheduler; a lease in the
//! key-value store lets one of them run each task at a time, and a crashed holder's lease
//! simply runs out. Each task is itself safe to run twice (idempotent writes), so the lease is
//! about wasted work, not correctness.
//!
//! This module knows no capability: each capability implements [`PeriodicTask`] for its own
//! work, and the api crate's worker lists them (`api::worker::scheduled_tasks`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::AppState;
use crate::platform::kv::keys;
use crate::platform::kv::{CasOutcome, KeyValueStore, KvError};

pub type TaskError = Box<dyn std::error::Error + Send + Sync>;

#[async_trait]
pub trait PeriodicTask: Send + Sync + 'static {
    /// Stable name: the lease key and the log/metric label.
    fn name(&self) -> &'static str;
    /// How often the task runs.
    fn every(&self) -> Duration;
    /// One pass; returns how many things it handled.
    async fn run(&self, app: &AppState) -> Result<u64, TaskError>;
}

/// A lease on a named piece of work, held by one instance until it lapses or is released.
pub struct Lease {
    kv: Arc<dyn KeyValueStore>,
    key: String,
    holder: String,
}

impl Lease {
    pub fn new(kv: Arc<dyn KeyValueStore>, name: &str, holder: &str) -> Self {
        Self {
            kv,
            key: keys::lease(name),
            holder: holder.to_owned(),
        }
    }

    /// Takes the lease, or extends it when we already hold it; false when another holds it.
    pub async fn acquire(&self, ttl: Duration) -> Result<bool, KvError> {
        if self
            .kv
            .set_if_absent(&self.key, self.holder.as_bytes(), ttl)
            .await?
        {
            return Ok(true);
        }
        let renewed = self
            .kv
            .compare_and_swap(
                &self.key,
                self.holder.as_bytes(),
                self.holder.as_bytes(),
                ttl,
            )
            .await?;
        Ok(renewed == CasOutcome::Swapped)
    }
}

/// What became of one scheduled pass of a task, for the worker's metrics and logs.
#[derive(Debug)]
pub enum PassOutcome<'a> {
    /// The pass ran and handled this many things.
    Done(u64),
    /// The pass ran and failed.
    Failed(&'a TaskError),
}

/// Told about every pass the scheduler runs (the api crate records metrics from it).
pub trait TaskObserver: Send + Sync + 'static {
    /// `lag` is how late the pass started after the time it was due; `elapsed` how long it ran.
    fn pass(&self, task: &'static str, lag: Duration, elapsed: Duration, outcome: PassOutcome<'_>);
}

/// An observer that looks at nothing.
pub struct NoObserver;

impl TaskObserver for NoObserver {
    fn pass(&self, _: &'static str, _: Duration, _: Duration, _: PassOutcome<'_>) {}
}

/// Runs one pass of `task` that was due at `due`, logs it and tells `observer`.
pub async fn run_pass(
    app: &AppState,
    task: &dyn PeriodicTask,
    due: tokio::time::Instant,
    observer: &dyn TaskObserver,
) -> Result<u64, TaskError> {
    let started = tokio::time::Instant::now();
    let lag = started.saturating_duration_since(due);
    let result = task.run(app).await;
    let elapsed = started.elapsed();
    match &result {
        Ok(0) => {}
        Ok(n) => tracing::info!(task = task.name(), handled = n, "task pass"),
        Err(err) => tracing::error!(task = task.name(), error = %err, "task pass failed"),
    }
    let outcome = match &result {
        Ok(n) => PassOutcome::Done(*n),
        Err(err) => PassOutcome::Failed(err),
    };
    observer.pass(task.name(), lag, elapsed, outcome);
    result
}

/// Runs every task on its schedule until `shutdown` turns true; each pass is reported to
/// `observer`.
pub async fn run_scheduler(
    app: Arc<AppState>,
    tasks: Vec<Arc<dyn PeriodicTask>>,
    holder: String,
    observer: Arc<dyn TaskObserver>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut handles = Vec::new();
    for task in tasks {
        let app = app.clone();
        let holder = holder.clone();
        let observer = observer.clone();
        let mut shutdown = shutdown.clone();
        handles.push(tokio::spawn(async move {
            let lease = Lease::new(app.kv.clone(), task.name(), &holder);
            let mut ticker = tokio::time::interval(task.every());
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let due = tokio::select! {
                    due = ticker.tick() => due,
                    _ = shutdown.changed() => break,
                };
                if *shutdown.borrow() {
                    break;
                }
                // The lease outlives one period so a slow pass is not run twice in parallel.
                match lease.acquire(task.every() * 3).await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(err) => {
                        tracing::warn!(task = task.name(), error = %err, "could not take the task lease");
                        continue;
                    }
                }
                let _ = run_pass(&app, task.as_ref(), due, observer.as_ref()).await;
            }
        }));
    }
    let _ = shutdown.changed().await;
    for handle in handles {
        let _ = handle.await;
    }
}
