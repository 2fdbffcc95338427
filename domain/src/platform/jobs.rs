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

/// Runs every task on its schedule until `shutdown` turns true.
pub async fn run_scheduler(
    app: Arc<AppState>,
    tasks: Vec<Arc<dyn PeriodicTask>>,
    holder: String,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut handles = Vec::new();
    for task in tasks {
        let app = app.clone();
        let holder = holder.clone();
        let mut shutdown = shutdown.clone();
        handles.push(tokio::spawn(async move {
            let lease = Lease::new(app.kv.clone(), task.name(), &holder);
            let mut ticker = tokio::time::interval(task.every());
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = shutdown.changed() => break,
                }
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
                match task.run(&app).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(task = task.name(), handled = n, "task pass"),
                    Err(err) => tracing::error!(task = task.name(), error = %err, "task pass failed"),
                }
            }
        }));
    }
    let _ = shutdown.changed().await;
    for handle in handles {
        let _ = handle.await;
    }
}
