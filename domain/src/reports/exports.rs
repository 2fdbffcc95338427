//! Report export jobs: `export_report` checks the query as `salesReport` would, applies the
//! caller's store scope and queues a job; the worker's `report-exports` task claims queued jobs
//! one at a time (a conditional update: two workers never run one job), writes the file to a
//! temporary folder, uploads it as a PRIVATE object, records the audit entry (who, the query,
//! how many rows) and marks the job DONE in one transaction. Each claim takes the job's next
//! attempt number, and that number is the claim's lease: progress, heartbeats and the finish
//! are conditional on it, so a worker resuming after its job was queued again (and claimed by
//! another) finishes nothing — one file link, one audit entry. A job whose worker died on
//! [`EXPORT_MAX_ATTEMPTS`] attempts is given up: FAILED with `TOO_MANY_ATTEMPTS`. `export_job`
//! shows the caller's own jobs only (another's id is NOT_FOUND) and, once DONE, a signed link valid for an hour.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, TransactionTrait, sea_query::Expr,
};

use super::export_file::{ExportProgress, authorize, write_export};
use super::sales_report::ReportQuery;
use super::{ReportsError, invalid};
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::jobs::{PeriodicTask, TaskError};
use crate::{AppState, RequestMeta, audit};
use entities::report_export_job::{self, ExportDetail, ExportFailure, ExportFormat, ExportStatus};
use entities::staff_account;

/// How long a download link stays valid.
pub const EXPORT_LINK_TTL_SECS: i64 = 3_600;
/// Jobs one worker pass runs at most.
const JOBS_PER_PASS: usize = 4;
/// A RUNNING job whose worker has not renewed its lease (heartbeat at each page written and
/// before the upload) for this long is taken to be abandoned — the worker crashed — and queued
/// again.
pub const EXPORT_LEASE_SECS: i64 = 300;
/// Claims one job gets at most: a job whose worker stopped (crashed, was killed) during each
/// of them is given up rather than retried forever.
pub const EXPORT_MAX_ATTEMPTS: i32 = 3;
/// Finished files are deleted from the store this long after they were written (links last
/// an hour; a day leaves time to download).
pub const EXPORT_KEEP_SECS: i64 = 86_400;
/// Files one sweep deletes at most.
const SWEEP_BATCH: u64 = 100;

/// An export job as its owner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportJob {
    pub id: i64,
    pub status: ExportStatus,
    pub format: ExportFormat,
    pub detail: ExportDetail,
    pub rows_done: i64,
    pub rows_total: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The signed download link, when DONE (minted at each read, valid an hour).
    pub url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Why it FAILED.
    pub failure: Option<ExportFailure>,
    /// Times a worker took it up.
    pub attempts: i32,
}

fn view(app: &AppState, row: report_export_job::Model) -> ExportJob {
    let (url, expires_at) = match (&row.status, &row.object_key) {
        (ExportStatus::Done, Some(key)) => {
            let expires = app.clock.now() + Duration::seconds(EXPORT_LINK_TTL_SECS);
            (
                Some(app.media.store.url(key, expires.timestamp())),
                Some(expires),
            )
        }
        _ => (None, None),
    };
    ExportJob {
        id: row.id,
        status: row.status,
        format: row.format,
        detail: row.detail,
        rows_done: row.rows_done,
        rows_total: row.rows_total,
        created_at: row.created_at,
        finished_at: row.finished_at,
        url,
        expires_at,
        failure: row.failure,
        attempts: row.attempts,
    }
}

/// Queues an export of `q` (checked and scoped now, as `salesReport` would).
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn export_report(
    app: &AppState,
    staff: &StaffPrincipal,
    q: &ReportQuery,
    format: ExportFormat,
    detail: ExportDetail,
) -> Result<ExportJob, ReportsError> {
    let scoped = authorize(staff, q, detail)?;
    let query = serde_json::to_string(&scoped).map_err(|e| ReportsError::Export(e.to_string()))?;
    let row = report_export_job::ActiveModel {
        staff_id: Set(staff.staff_id),
        format: Set(format),
        detail: Set(detail),
        query: Set(query),
        status: Set(ExportStatus::Queued),
        rows_done: Set(0),
        attempts: Set(0),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    Ok(view(app, row))
}

/// One of the caller's export jobs; another's (or none) is NOT_FOUND.
pub async fn export_job(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<ExportJob, ReportsError> {
    staff.require(Permission::ViewSalesReports)?;
    let row = report_export_job::Entity::find_by_id(id)
        .filter(report_export_job::Column::StaffId.eq(staff.staff_id))
        .one(&app.db)
        .await?
        .ok_or(ReportsError::NotFound("export job"))?;
    Ok(view(app, row))
}

/// A job taken up by this worker under attempt `attempt`: its lease. Progress, heartbeats and
/// the finish change the row only while it is still RUNNING under this attempt.
#[derive(Debug, Clone)]
pub struct ClaimedExport {
    pub job: report_export_job::Model,
    pub attempt: i32,
}

impl ClaimedExport {
    /// The row, while this claim still holds it.
    fn held(&self) -> Condition {
        Condition::all()
            .add(report_export_job::Column::Id.eq(self.job.id))
            .add(report_export_job::Column::Status.eq(ExportStatus::Running))
            .add(report_export_job::Column::Attempts.eq(self.attempt))
    }
}

/// Writes the job's progress to its row every page (while the claim holds it).
struct JobProgress<'a> {
    app: &'a AppState,
    claim: &'a ClaimedExport,
}

#[async_trait]
impl ExportProgress for JobProgress<'_> {
    async fn total(&mut self, rows: u64) {
        let _ = report_export_job::Entity::update_many()
            .col_expr(
                report_export_job::Column::RowsTotal,
                Expr::value(i64::try_from(rows).unwrap_or(i64::MAX)),
            )
            .filter(self.claim.held())
            .exec(&self.app.db)
            .await;
    }
    async fn done(&mut self, rows: u64) {
        let _ = report_export_job::Entity::update_many()
            .col_expr(
                report_export_job::Column::RowsDone,
                Expr::value(i64::try_from(rows).unwrap_or(i64::MAX)),
            )
            .col_expr(
                report_export_job::Column::HeartbeatAt,
                Expr::value(self.app.clock.now()),
            )
            .filter(self.claim.held())
            .exec(&self.app.db)
            .await;
    }
}

/// Takes the oldest queued job, if any, for this worker, under the job's next attempt.
pub async fn claim_export(app: &AppState) -> Result<Option<ClaimedExport>, ReportsError> {
    loop {
        let Some(job) = report_export_job::Entity::find()
            .filter(report_export_job::Column::Status.eq(ExportStatus::Queued))
            .order_by_asc(report_export_job::Column::Id)
            .one(&app.db)
            .await?
        else {
            return Ok(None);
        };
        let taken = report_export_job::Entity::update_many()
            .col_expr(
                report_export_job::Column::Status,
                Expr::value(ExportStatus::Running),
            )
            .col_expr(
                report_export_job::Column::StartedAt,
                Expr::value(app.clock.now()),
            )
            .col_expr(
                report_export_job::Column::HeartbeatAt,
                Expr::value(app.clock.now()),
            )
            .col_expr(
                report_export_job::Column::Attempts,
                Expr::value(job.attempts + 1),
            )
            .filter(report_export_job::Column::Id.eq(job.id))
            .filter(report_export_job::Column::Status.eq(ExportStatus::Queued))
            .filter(report_export_job::Column::Attempts.eq(job.attempts))
            .exec(&app.db)
            .await?;
        if taken.rows_affected == 1 {
            let attempt = job.attempts + 1;
            return Ok(Some(ClaimedExport { job, attempt }));
        }
    }
}

/// Renews a running job's lease; false when the claim no longer holds the job (it was queued
/// again and maybe taken up by another worker).
async fn heartbeat(app: &AppState, claim: &ClaimedExport) -> Result<bool, ReportsError> {
    let res = report_export_job::Entity::update_many()
        .col_expr(
            report_export_job::Column::HeartbeatAt,
            Expr::value(app.clock.now()),
        )
        .filter(claim.held())
        .exec(&app.db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Queues again the RUNNING jobs whose lease ran out (their worker died mid-file), or gives
/// them up (FAILED, TOO_MANY_ATTEMPTS) once they have had [`EXPORT_MAX_ATTEMPTS`]; returns
/// how many. Conditional updates: a job renewed meanwhile stays with its worker.
pub async fn requeue_stale_exports(app: &AppState) -> Result<u64, ReportsError> {
    let now = app.clock.now();
    let cutoff = now - Duration::seconds(EXPORT_LEASE_SECS);
    let stale = Condition::any()
        .add(report_export_job::Column::HeartbeatAt.lt(cutoff))
        .add(
            Condition::all()
                .add(report_export_job::Column::HeartbeatAt.is_null())
                .add(report_export_job::Column::StartedAt.lt(cutoff)),
        );
    let given_up = report_export_job::Entity::update_many()
        .col_expr(
            report_export_job::Column::Status,
            Expr::value(ExportStatus::Failed),
        )
        .col_expr(
            report_export_job::Column::Failure,
            Expr::value(ExportFailure::TooManyAttempts),
        )
        .col_expr(
            report_export_job::Column::Error,
            Expr::value(format!(
                "its worker stopped during each of {EXPORT_MAX_ATTEMPTS} attempts"
            )),
        )
        .col_expr(report_export_job::Column::FinishedAt, Expr::value(now))
        .filter(report_export_job::Column::Status.eq(ExportStatus::Running))
        .filter(report_export_job::Column::Attempts.gte(EXPORT_MAX_ATTEMPTS))
        .filter(stale.clone())
        .exec(&app.db)
        .await?;
    if given_up.rows_affected > 0 {
        tracing::error!(
            jobs = given_up.rows_affected,
            attempts = EXPORT_MAX_ATTEMPTS,
            "report exports given up: their worker stopped on every attempt"
        );
    }
    let res = report_export_job::Entity::update_many()
        .col_expr(
            report_export_job::Column::Status,
            Expr::value(ExportStatus::Queued),
        )
        .col_expr(report_export_job::Column::RowsDone, Expr::value(0_i64))
        .col_expr(
            report_export_job::Column::HeartbeatAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(report_export_job::Column::Status.eq(ExportStatus::Running))
        .filter(report_export_job::Column::Attempts.lt(EXPORT_MAX_ATTEMPTS))
        .filter(stale)
        .exec(&app.db)
        .await?;
    if res.rows_affected > 0 {
        tracing::warn!(
            jobs = res.rows_affected,
            "stale report exports queued again"
        );
    }
    Ok(res.rows_affected + given_up.rows_affected)
}

/// Deletes the files of exports finished more than a day ago (the job stays DONE, without a
/// link); returns how many. A file the store fails to delete is tried again next sweep.
pub async fn sweep_export_files(app: &AppState) -> Result<u64, ReportsError> {
    let cutoff = app.clock.now() - Duration::seconds(EXPORT_KEEP_SECS);
    let old = report_export_job::Entity::find()
        .filter(report_export_job::Column::ObjectKey.is_not_null())
        .filter(report_export_job::Column::FinishedAt.lt(cutoff))
        .order_by_asc(report_export_job::Column::Id)
        .limit(SWEEP_BATCH)
        .all(&app.db)
        .await?;
    let mut swept = 0;
    for job in old {
        let Some(key) = job.object_key else { continue };
        if let Err(e) = app.media.store.delete(&key).await {
            tracing::warn!(job = job.id, error = %e, "export file not deleted; next sweep");
            continue;
        }
        report_export_job::Entity::update_many()
            .col_expr(
                report_export_job::Column::ObjectKey,
                Expr::value(Option::<String>::None),
            )
            .filter(report_export_job::Column::Id.eq(job.id))
            .filter(report_export_job::Column::ObjectKey.eq(key))
            .exec(&app.db)
            .await?;
        swept += 1;
    }
    Ok(swept)
}

/// The principal a job runs as: its owner as she is now (a deactivated account runs nothing).
async fn owner(app: &AppState, staff_id: i64) -> Result<StaffPrincipal, ReportsError> {
    let row = staff_account::Entity::find_by_id(staff_id)
        .one(&app.db)
        .await?
        .filter(|s| s.active)
        .ok_or_else(|| invalid("the export's owner is no longer active"))?;
    Ok(StaffPrincipal {
        staff_id: row.id,
        role: row.role,
        store_id: row.store_id,
        session_id: format!("export-job-{staff_id}"),
    })
}

/// Runs a claimed job to its end: true when this claim finished it (file link and audit entry
/// written), false when it had lost the job meanwhile (queued again after a stale lease): then
/// it writes nothing, and its uploaded file, if any, is deleted.
pub async fn run_claimed_export(
    app: &AppState,
    claim: &ClaimedExport,
) -> Result<bool, ReportsError> {
    let job = &claim.job;
    let staff = owner(app, job.staff_id).await?;
    let q: ReportQuery =
        serde_json::from_str(&job.query).map_err(|e| ReportsError::Export(e.to_string()))?;
    let dir = tempfile::tempdir().map_err(|e| ReportsError::Export(e.to_string()))?;
    let name = format!("sales-report-{}.{}", job.id, job.format.extension());
    let file = dir.path().join(&name);
    let mut progress = JobProgress { app, claim };
    let rows = write_export(
        app,
        &staff,
        &q,
        job.detail,
        job.format,
        &file,
        &mut progress,
    )
    .await?;
    if !heartbeat(app, claim).await? {
        tracing::warn!(
            job = job.id,
            attempt = claim.attempt,
            "export lost its lease; not uploaded"
        );
        return Ok(false);
    }
    let key = app
        .media
        .store
        .put_private_file(&name, &file)
        .await
        .map_err(|e| ReportsError::Export(e.to_string()))?;
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    let txn = app.db.begin().await?;
    // Finish only while this claim holds the job: one finisher, one link, one audit entry.
    let finished = report_export_job::Entity::update_many()
        .col_expr(
            report_export_job::Column::Status,
            Expr::value(ExportStatus::Done),
        )
        .col_expr(report_export_job::Column::RowsDone, Expr::value(rows))
        .col_expr(report_export_job::Column::RowsTotal, Expr::value(rows))
        .col_expr(
            report_export_job::Column::ObjectKey,
            Expr::value(key.clone()),
        )
        .col_expr(
            report_export_job::Column::FinishedAt,
            Expr::value(app.clock.now()),
        )
        .filter(claim.held())
        .exec(&txn)
        .await?;
    if finished.rows_affected != 1 {
        txn.rollback().await?;
        tracing::warn!(
            job = job.id,
            attempt = claim.attempt,
            "export lost its lease; file dropped"
        );
        if let Err(e) = app.media.store.delete(&key).await {
            tracing::warn!(job = job.id, error = %e, "unused export file not deleted");
        }
        return Ok(false);
    }
    audit_export(
        &txn,
        app,
        &format!("report-export-{}", job.id),
        job.staff_id,
        Some(job.id),
        (job.format, job.detail),
        &job.query,
        rows,
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// The audit entry of one export: who, the query as run (with its store scope), how many rows.
#[allow(clippy::too_many_arguments)]
async fn audit_export<C: sea_orm::ConnectionTrait>(
    db: &C,
    app: &AppState,
    request_id: &str,
    staff_id: i64,
    job_id: Option<i64>,
    (format, detail): (ExportFormat, ExportDetail),
    query: &str,
    rows: i64,
) -> Result<(), ReportsError> {
    audit::record(
        db,
        app,
        &RequestMeta {
            request_id: request_id.to_owned(),
            client_ip: None,
        },
        audit::Actor::Staff(staff_id),
        audit::Action::ReportExport,
        (audit::SubjectKind::ReportExport, job_id),
        serde_json::json!({
            "format": format.extension(),
            "detail": format!("{detail:?}").to_uppercase(),
            "query": serde_json::from_str::<serde_json::Value>(query).unwrap_or_default(),
            "rows": rows,
        }),
    )
    .await?;
    Ok(())
}

/// `rouge reports export`: writes the export straight to `file` as `staff` (checked and
/// scoped as `salesReport` would), then audits it; returns the rows written.
pub async fn export_to_file(
    app: &AppState,
    staff: &StaffPrincipal,
    q: &ReportQuery,
    (format, detail): (ExportFormat, ExportDetail),
    file: &std::path::Path,
    progress: &mut dyn ExportProgress,
) -> Result<u64, ReportsError> {
    let scoped = authorize(staff, q, detail)?;
    let query = serde_json::to_string(&scoped).map_err(|e| ReportsError::Export(e.to_string()))?;
    let rows = write_export(app, staff, &scoped, detail, format, file, progress).await?;
    audit_export(
        &app.db,
        app,
        "cli-report-export",
        staff.staff_id,
        None,
        (format, detail),
        &query,
        i64::try_from(rows).unwrap_or(i64::MAX),
    )
    .await?;
    Ok(rows)
}

/// Runs queued export jobs (up to a few per call); returns how many it finished or failed.
pub async fn run_queued_exports(app: &AppState) -> Result<u64, ReportsError> {
    requeue_stale_exports(app).await?;
    let mut handled = 0;
    for _ in 0..JOBS_PER_PASS {
        let Some(claim) = claim_export(app).await? else {
            break;
        };
        if let Err(err) = run_claimed_export(app, &claim).await {
            tracing::error!(job = claim.job.id, error = %err, "report export failed");
            report_export_job::Entity::update_many()
                .col_expr(
                    report_export_job::Column::Status,
                    Expr::value(ExportStatus::Failed),
                )
                .col_expr(
                    report_export_job::Column::Failure,
                    Expr::value(ExportFailure::Error),
                )
                .col_expr(
                    report_export_job::Column::Error,
                    Expr::value(err.to_string()),
                )
                .col_expr(
                    report_export_job::Column::FinishedAt,
                    Expr::value(app.clock.now()),
                )
                .filter(claim.held())
                .exec(&app.db)
                .await?;
        }
        handled += 1;
    }
    Ok(handled)
}

/// The worker task that deletes export files older than a day.
pub struct SweepReportExports;

#[async_trait]
impl PeriodicTask for SweepReportExports {
    fn name(&self) -> &'static str {
        "report-export-sweep"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(600)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(sweep_export_files(app).await?)
    }
}

/// The worker task that runs queued exports (queuing abandoned ones again first).
pub struct RunReportExports;

#[async_trait]
impl PeriodicTask for RunReportExports {
    fn name(&self) -> &'static str {
        "report-exports"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(2)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(run_queued_exports(app).await?)
    }
}
