//! Report export jobs: `export_report` checks the query as `salesReport` would, applies the
//! caller's store scope and queues a job; the worker's `report-exports` task claims queued jobs
//! one at a time (a conditional update: two workers never run one job), writes the file to a
//! temporary folder, uploads it as a PRIVATE object, records the audit entry (who, the query,
//! how many rows) and marks the job DONE in one transaction. `export_job` shows the caller's
//! own jobs only (another's id is NOT_FOUND) and, once DONE, a signed link valid for an hour.

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
use entities::report_export_job::{self, ExportDetail, ExportFormat, ExportStatus};
use entities::staff_account;

/// How long a download link stays valid.
pub const EXPORT_LINK_TTL_SECS: i64 = 3_600;
/// Jobs one worker pass runs at most.
const JOBS_PER_PASS: usize = 4;
/// A RUNNING job whose worker has not renewed its lease (heartbeat at each page written and
/// before the upload) for this long is taken to be abandoned — the worker crashed — and queued
/// again.
pub const EXPORT_LEASE_SECS: i64 = 300;
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

/// Writes the job's progress to its row every page.
struct JobProgress<'a> {
    app: &'a AppState,
    id: i64,
}

#[async_trait]
impl ExportProgress for JobProgress<'_> {
    async fn total(&mut self, rows: u64) {
        let _ = report_export_job::Entity::update_many()
            .col_expr(
                report_export_job::Column::RowsTotal,
                Expr::value(i64::try_from(rows).unwrap_or(i64::MAX)),
            )
            .filter(report_export_job::Column::Id.eq(self.id))
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
            .filter(report_export_job::Column::Id.eq(self.id))
            .exec(&self.app.db)
            .await;
    }
}

/// Takes the oldest queued job, if any, for this worker.
async fn claim(app: &AppState) -> Result<Option<report_export_job::Model>, ReportsError> {
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
            .filter(report_export_job::Column::Id.eq(job.id))
            .filter(report_export_job::Column::Status.eq(ExportStatus::Queued))
            .exec(&app.db)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(Some(job));
        }
    }
}

/// Renews a running job's lease.
async fn heartbeat(app: &AppState, id: i64) -> Result<(), ReportsError> {
    report_export_job::Entity::update_many()
        .col_expr(
            report_export_job::Column::HeartbeatAt,
            Expr::value(app.clock.now()),
        )
        .filter(report_export_job::Column::Id.eq(id))
        .filter(report_export_job::Column::Status.eq(ExportStatus::Running))
        .exec(&app.db)
        .await?;
    Ok(())
}

/// Queues again the RUNNING jobs whose lease ran out (their worker died mid-file); returns
/// how many. A conditional update: a job renewed meanwhile stays with its worker.
pub async fn requeue_stale_exports(app: &AppState) -> Result<u64, ReportsError> {
    let cutoff = app.clock.now() - Duration::seconds(EXPORT_LEASE_SECS);
    let stale = Condition::any()
        .add(report_export_job::Column::HeartbeatAt.lt(cutoff))
        .add(
            Condition::all()
                .add(report_export_job::Column::HeartbeatAt.is_null())
                .add(report_export_job::Column::StartedAt.lt(cutoff)),
        );
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
        .filter(stale)
        .exec(&app.db)
        .await?;
    if res.rows_affected > 0 {
        tracing::warn!(
            jobs = res.rows_affected,
            "stale report exports queued again"
        );
    }
    Ok(res.rows_affected)
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

async fn run_job(app: &AppState, job: &report_export_job::Model) -> Result<(), ReportsError> {
    let staff = owner(app, job.staff_id).await?;
    let q: ReportQuery =
        serde_json::from_str(&job.query).map_err(|e| ReportsError::Export(e.to_string()))?;
    let dir = tempfile::tempdir().map_err(|e| ReportsError::Export(e.to_string()))?;
    let name = format!("sales-report-{}.{}", job.id, job.format.extension());
    let file = dir.path().join(&name);
    let mut progress = JobProgress { app, id: job.id };
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
    heartbeat(app, job.id).await?;
    let key = app
        .media
        .store
        .put_private_file(&name, &file)
        .await
        .map_err(|e| ReportsError::Export(e.to_string()))?;
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    let txn = app.db.begin().await?;
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
    report_export_job::ActiveModel {
        id: Set(job.id),
        status: Set(ExportStatus::Done),
        rows_done: Set(rows),
        rows_total: Set(Some(rows)),
        object_key: Set(Some(key)),
        finished_at: Set(Some(app.clock.now())),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
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
        let Some(job) = claim(app).await? else { break };
        if let Err(err) = run_job(app, &job).await {
            tracing::error!(job = job.id, error = %err, "report export failed");
            report_export_job::ActiveModel {
                id: Set(job.id),
                status: Set(ExportStatus::Failed),
                error: Set(Some(err.to_string())),
                finished_at: Set(Some(app.clock.now())),
                ..Default::default()
            }
            .update(&app.db)
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
