//! The worker: every capability's periodic tasks, run by the domain's scheduler under leases,
//! and the campaign dispatcher.

use std::sync::Arc;

use domain::AppState;
use domain::platform::jobs::{PeriodicTask, TaskError};

use crate::metrics::{Metrics, WorkerMetrics};

/// Every scheduled task of the app. A capability's new periodic task is added here.
pub fn scheduled_tasks() -> Vec<Arc<dyn PeriodicTask>> {
    vec![
        Arc::new(domain::payments::CloseOverdueOrders),
        Arc::new(domain::payments::ReconcileRefunds),
        Arc::new(domain::loyalty::ExpirePoints),
        Arc::new(domain::stored_value::ExpireBonus),
        Arc::new(domain::coupons::BirthdayCoupons),
        Arc::new(domain::flash_sales::WarmFlashSales),
        Arc::new(domain::flash_sales::ReconcileFlashSales),
        Arc::new(domain::flash_sales::WriteFlashSaleOrders),
        Arc::new(domain::campaigns::insights::RefreshMemberInsights),
        Arc::new(domain::campaigns::automations::RunAutomations),
        Arc::new(domain::booking::MarkNoShows),
        Arc::new(domain::booking::SendBookingReminders),
        Arc::new(domain::sales::RollupSales),
        Arc::new(domain::reports::RunReportExports),
        Arc::new(domain::reports::SweepReportExports),
        Arc::new(domain::reports::SnapshotStockValues),
        Arc::new(domain::media::MediaCleanup),
        Arc::new(domain::b2b::AccrueScanRebates),
    ]
}

/// Runs the scheduled tasks (with leases, so any number of replicas may) until `shutdown`.
pub async fn run_worker(state: Arc<AppState>, shutdown: tokio::sync::watch::Receiver<bool>) {
    let holder = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    // Campaign dispatch runs on every replica: claims share the work (no lease).
    let dispatcher = tokio::spawn(domain::campaigns::dispatch::run_dispatcher(
        state.clone(),
        holder.clone(),
        shutdown.clone(),
    ));
    schedule(state, scheduled_tasks(), holder, shutdown).await;
    let _ = dispatcher.await;
}

/// Runs `tasks` on their schedules under leases held as `holder` until `shutdown`, recording
/// each pass in the worker metrics (runs, failures, duration, lag).
pub async fn schedule(
    state: Arc<AppState>,
    tasks: Vec<Arc<dyn PeriodicTask>>,
    holder: String,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    Metrics::install();
    domain::platform::jobs::run_scheduler(state, tasks, holder, Arc::new(WorkerMetrics), shutdown)
        .await;
}

/// One pass of `task` now, outside the schedule (no lease), recorded like a scheduled one.
pub async fn run_task_now(state: &AppState, task: &dyn PeriodicTask) -> Result<u64, TaskError> {
    Metrics::install();
    domain::platform::jobs::run_pass(state, task, tokio::time::Instant::now(), &WorkerMetrics).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each task's name is its lease key: two tasks with one name would share a lease.
    #[test]
    fn every_task_has_its_own_name() {
        let tasks = scheduled_tasks();
        let mut names: Vec<_> = tasks.iter().map(|t| t.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), tasks.len());
    }
}
