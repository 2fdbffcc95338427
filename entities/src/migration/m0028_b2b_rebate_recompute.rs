//! Indexes for the quarter's set-based rebate recompute (issue 15's bench: 200 distributors,
//! 100,000 order lines, 1,000,000 scans): the quarter's first scans are read by time, the
//! quarter's receipts by status and time. Only indexes: the code before it keeps working.

use sea_orm_migration::prelude::*;

use super::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScanEvents {
    Table,
    Outcome,
    ScannedAt,
}

#[derive(DeriveIden)]
enum PurchaseOrderEvents {
    Table,
    Status,
    At,
}

const SCANS: &str = "idx_scan_events_outcome_at";
const RECEIPTS: &str = "idx_purchase_order_events_status_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(index(
            SCANS,
            ScanEvents::Table,
            vec![
                ScanEvents::Outcome.into_iden(),
                ScanEvents::ScannedAt.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            RECEIPTS,
            PurchaseOrderEvents::Table,
            vec![
                PurchaseOrderEvents::Status.into_iden(),
                PurchaseOrderEvents::At.into_iden(),
            ],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(RECEIPTS)
                .table(PurchaseOrderEvents::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name(SCANS)
                .table(ScanEvents::Table)
                .to_owned(),
        )
        .await
    }
}
