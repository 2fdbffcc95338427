//! Sales reports (issue 17): `sales_report` groups the sales facts of `crate::sales` by up to
//! three dimensions over a date range in the business zone, every time bucket of the range
//! present, with each metric's definition; BA and store performance read the rollups.

mod aggregate;
mod answer_cache;
mod bookings_redeemed;
mod chart_svg;
mod churn;
mod export_file;
mod exports;
mod member_counts;
mod metrics;
mod performance;
mod rfm_trend;
mod sales_report;
mod turnover;

pub use aggregate::ReportSource;
pub use answer_cache::{ANSWER_TTL, AnswerCache, facts_version};
pub use chart_svg::render_svg;
pub use churn::{ChurnRisk, churn_risk};
pub use entities::report_export_job::{ExportDetail, ExportFailure, ExportFormat, ExportStatus};
pub use export_file::{Cell, ExportProgress, NoProgress, Sink, mask_phone, write_export};
pub use exports::{
    ClaimedExport, EXPORT_KEEP_SECS, EXPORT_LEASE_SECS, EXPORT_LINK_TTL_SECS, EXPORT_MAX_ATTEMPTS,
    ExportJob, RunReportExports, SweepReportExports, claim_export, export_job, export_report,
    export_to_file, requeue_stale_exports, run_claimed_export, run_queued_exports,
    sweep_export_files,
};
pub use metrics::{
    Dimension, Metric, MetricDefinition, ReturnsBasis, api_name, definitions, live_names,
};
pub use performance::{BaPerformance, my_performance, set_ba_target, store_performance};
pub use rfm_trend::{SegmentCounts, rfm_segment_counts};
pub use sales_report::{
    ReportKey, ReportQuery, ReportResult, ReportRow, ReportValue, sales_report, sales_report_from,
};
pub use turnover::{
    InventoryTurnover, SnapshotStockValues, TURNOVER_DEFINITION, inventory_turnover,
    snapshot_stock_values,
};

use crate::auth::AuthError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum ReportsError {
    #[error("{0}")]
    InvalidQuery(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing or storing an export file failed (the cause is logged, never shown).
    #[error("export failed: {0}")]
    Export(String),
}

crate::store_error_conversions!(ReportsError);

impl DomainError for ReportsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidQuery(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Export(_) => ErrorCode::Internal,
        }
    }
}

fn invalid(msg: impl Into<String>) -> ReportsError {
    ReportsError::InvalidQuery(msg.into())
}
