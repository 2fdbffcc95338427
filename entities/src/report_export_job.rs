use sea_orm::entity::prelude::*;

/// The file an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

/// What an export holds: the report's rows as `salesReport` returns them (SUMMARY), or one row
/// per sales fact in the range (LINES: member id and masked phone, never the full number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ExportDetail {
    Summary,
    Lines,
}

/// Where an export job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ExportStatus {
    Queued,
    Running,
    Done,
    Failed,
}

/// Why an export job FAILED, as its owner sees it (the cause itself is only logged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ExportFailure {
    /// The file could not be written or stored.
    Error,
    /// The export stopped its worker on every attempt (given up after a few): ask for a
    /// shorter range or a SUMMARY.
    TooManyAttempts,
}

/// One `exportReport` job: queued by a staff member, run by the worker, its file kept in the
/// object store (PRIVATE class, served only through a signed link).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report_export_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub staff_id: i64,
    pub format: ExportFormat,
    pub detail: ExportDetail,
    /// The report query as JSON, with the caller's store scope already applied.
    pub query: String,
    pub status: ExportStatus,
    pub rows_done: i64,
    pub rows_total: Option<i64>,
    pub object_key: Option<String>,
    /// Why it failed, for the logs (never shown to clients).
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// Renewed while a worker writes the file; a RUNNING job whose heartbeat is stale is
    /// queued again.
    pub heartbeat_at: Option<DateTimeUtc>,
    /// Claims so far; the current claim's number is its lease (only its holder may renew or
    /// finish the job).
    pub attempts: i32,
    /// Why it FAILED, for its owner.
    pub failure: Option<ExportFailure>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
