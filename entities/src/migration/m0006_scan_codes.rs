//! Scan-for-gift (扫码有礼): code batches, one row per redeemed code (the unique (batch, serial)
//! makes redemption exactly-once), and every valid scan as an event for insight and fraud flags.
//! The codes themselves are derived from (batch, serial) with a keyed MAC and never stored.

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_foundation::Members;
use super::m0002_catalog_orders::Skus;
use super::{TableColumns, fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ScanCodeBatches::Table)
                .col(id(ScanCodeBatches::Id))
                .col(string(ScanCodeBatches::Name))
                .col(big_integer(ScanCodeBatches::SkuId))
                .col(big_integer(ScanCodeBatches::CodeCount))
                .col(big_integer_null(ScanCodeBatches::StockBatchId))
                .col(string_null(ScanCodeBatches::Lot))
                .col(big_integer_null(ScanCodeBatches::DistributorId))
                .col(text(ScanCodeBatches::Territory))
                .col(string(ScanCodeBatches::GiftKind))
                .col(big_integer(ScanCodeBatches::GiftPoints))
                .col(big_integer_null(ScanCodeBatches::CouponTemplateId))
                .col(string_null(ScanCodeBatches::SampleName))
                .col(timestamp_with_time_zone(ScanCodeBatches::ValidFrom))
                .col(timestamp_with_time_zone(ScanCodeBatches::ValidUntil))
                .col(boolean(ScanCodeBatches::Active))
                .col(big_integer(ScanCodeBatches::CreatedBy))
                .timestamps()
                .foreign_key(&mut fk(
                    (ScanCodeBatches::Table, ScanCodeBatches::SkuId),
                    (Skus::Table, Skus::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ScanRedemptions::Table)
                .col(id(ScanRedemptions::Id))
                .col(big_integer(ScanRedemptions::BatchId))
                .col(big_integer(ScanRedemptions::Serial))
                .col(big_integer(ScanRedemptions::MemberId))
                .col(big_integer(ScanRedemptions::SkuId))
                .col(string_null(ScanRedemptions::Province))
                .col(string_null(ScanRedemptions::City))
                .col(boolean(ScanRedemptions::CrossTerritory))
                .col(string(ScanRedemptions::GiftKind))
                .col(big_integer(ScanRedemptions::GiftPoints))
                .col(string_null(ScanRedemptions::VoucherCode).unique_key())
                .col(timestamp_with_time_zone_null(
                    ScanRedemptions::VoucherRedeemedAt,
                ))
                .col(big_integer_null(ScanRedemptions::VoucherRedeemedBy))
                .col(big_integer_null(ScanRedemptions::VoucherStoreId))
                .col(timestamp_with_time_zone(ScanRedemptions::RedeemedAt))
                .foreign_key(&mut fk(
                    (ScanRedemptions::Table, ScanRedemptions::BatchId),
                    (ScanCodeBatches::Table, ScanCodeBatches::Id),
                ))
                .foreign_key(&mut fk(
                    (ScanRedemptions::Table, ScanRedemptions::MemberId),
                    (Members::Table, Members::Id),
                ))
                .to_owned(),
        )
        .await?;
        // A code is redeemed once: the database says so, on both backends.
        m.create_index(
            index(
                "uq_scan_redemptions_code",
                ScanRedemptions::Table,
                vec![
                    ScanRedemptions::BatchId.into_iden(),
                    ScanRedemptions::Serial.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_scan_redemptions_member",
            ScanRedemptions::Table,
            vec![
                ScanRedemptions::MemberId.into_iden(),
                ScanRedemptions::RedeemedAt.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ScanEvents::Table)
                .col(id(ScanEvents::Id))
                .col(big_integer(ScanEvents::BatchId))
                .col(big_integer(ScanEvents::Serial))
                .col(big_integer(ScanEvents::MemberId))
                .col(big_integer(ScanEvents::SkuId))
                .col(string_null(ScanEvents::Lot))
                .col(big_integer_null(ScanEvents::DistributorId))
                .col(string_null(ScanEvents::Province))
                .col(string_null(ScanEvents::City))
                .col(string_null(ScanEvents::AgeBand))
                .col(string_null(ScanEvents::SkinType))
                .col(string_null(ScanEvents::WhereBought))
                .col(string(ScanEvents::Outcome))
                .col(integer(ScanEvents::Gifted))
                .col(string_null(ScanEvents::Flag))
                .col(string(ScanEvents::Day))
                .col(timestamp_with_time_zone(ScanEvents::ScannedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_scan_events_day",
            ScanEvents::Table,
            vec![
                ScanEvents::Day.into_iden(),
                ScanEvents::Province.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_scan_events_province",
            ScanEvents::Table,
            vec![
                ScanEvents::Province.into_iden(),
                ScanEvents::Day.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_scan_events_flag",
            ScanEvents::Table,
            vec![
                ScanEvents::Flag.into_iden(),
                ScanEvents::DistributorId.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_scan_events_code",
            ScanEvents::Table,
            vec![
                ScanEvents::BatchId.into_iden(),
                ScanEvents::Serial.into_iden(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ScanEvents::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ScanRedemptions::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ScanCodeBatches::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ScanCodeBatches {
    Table,
    Id,
    Name,
    SkuId,
    CodeCount,
    StockBatchId,
    Lot,
    DistributorId,
    Territory,
    GiftKind,
    GiftPoints,
    CouponTemplateId,
    SampleName,
    ValidFrom,
    ValidUntil,
    Active,
    CreatedBy,
}

#[derive(DeriveIden)]
enum ScanRedemptions {
    Table,
    Id,
    BatchId,
    Serial,
    MemberId,
    SkuId,
    Province,
    City,
    CrossTerritory,
    GiftKind,
    GiftPoints,
    VoucherCode,
    VoucherRedeemedAt,
    VoucherRedeemedBy,
    VoucherStoreId,
    RedeemedAt,
}

#[derive(DeriveIden)]
enum ScanEvents {
    Table,
    Id,
    BatchId,
    Serial,
    MemberId,
    SkuId,
    Lot,
    DistributorId,
    Province,
    City,
    AgeBand,
    SkinType,
    WhereBought,
    Outcome,
    Gifted,
    Flag,
    Day,
    ScannedAt,
}
