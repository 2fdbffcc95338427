//! Report exports (issue 17): one row per `exportReport` job, run by the worker. New table only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportExportJobs {
    Table,
    Id,
    StaffId,
    Format,
    Detail,
    Query,
    Status,
    RowsDone,
    RowsTotal,
    ObjectKey,
    Error,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum StaffAccounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ReportExportJobs::Table)
                .col(id(ReportExportJobs::Id))
                .col(big_integer(ReportExportJobs::StaffId))
                .col(string(ReportExportJobs::Format))
                .col(string(ReportExportJobs::Detail))
                .col(text(ReportExportJobs::Query))
                .col(string(ReportExportJobs::Status))
                .col(big_integer(ReportExportJobs::RowsDone))
                .col(big_integer_null(ReportExportJobs::RowsTotal))
                .col(string_null(ReportExportJobs::ObjectKey))
                .col(string_null(ReportExportJobs::Error))
                .col(timestamp_with_time_zone(ReportExportJobs::CreatedAt))
                .col(timestamp_with_time_zone_null(ReportExportJobs::StartedAt))
                .col(timestamp_with_time_zone_null(ReportExportJobs::FinishedAt))
                .foreign_key(&mut fk(
                    (ReportExportJobs::Table, ReportExportJobs::StaffId),
                    (StaffAccounts::Table, StaffAccounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_report_export_jobs_status",
            ReportExportJobs::Table,
            vec![
                ReportExportJobs::Status.into_iden(),
                ReportExportJobs::Id.into_iden(),
            ],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ReportExportJobs::Table).to_owned())
            .await
    }
}
