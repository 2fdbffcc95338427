//! Export jobs count their attempts (issue 17): each claim takes the next attempt number and
//! holds the job's lease under it. A job whose worker keeps dying is given up after a few
//! attempts (FAILED, `failure` TOO_MANY_ATTEMPTS, which its owner sees), and a worker that
//! resumes after its job was queued again and claimed by another cannot finish it too.
//! Sales facts get an index by member and day: a day's rollup recompute reads the month's facts
//! of that day's members only (not the whole month), and per-member reports read them too.

use sea_orm_migration::prelude::*;

use super::index;

const MEMBER_INDEX: &str = "idx_sales_facts_member";

#[derive(DeriveIden)]
enum SalesFacts {
    Table,
    MemberId,
    BusinessDate,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportExportJobs {
    Table,
    Attempts,
    Failure,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        m.alter_table(
            Table::alter()
                .table(ReportExportJobs::Table)
                .add_column(
                    ColumnDef::new(ReportExportJobs::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ReportExportJobs::Table)
                .add_column(ColumnDef::new(ReportExportJobs::Failure).string().null())
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            MEMBER_INDEX,
            SalesFacts::Table,
            vec![
                SalesFacts::MemberId.into_iden(),
                SalesFacts::BusinessDate.into_iden(),
            ],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(MEMBER_INDEX)
                .table(SalesFacts::Table)
                .to_owned(),
        )
        .await?;
        for col in [ReportExportJobs::Failure, ReportExportJobs::Attempts] {
            m.alter_table(
                Table::alter()
                    .table(ReportExportJobs::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
