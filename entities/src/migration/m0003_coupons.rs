//! Coupon templates (券模板) and the coupons members hold: claimed in the claim centre, issued
//! by HQ or by automations (birthday), used on an online order or at the counter.

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_foundation::Members;
use super::{TableColumns, fk, id};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CouponTemplates::Table)
                .col(id(CouponTemplates::Id))
                .col(string(CouponTemplates::Name))
                .col(string(CouponTemplates::Kind))
                .col(big_integer_null(CouponTemplates::ThresholdFen))
                .col(big_integer_null(CouponTemplates::ReductionFen))
                .col(integer_null(CouponTemplates::PercentOff))
                .col(big_integer_null(CouponTemplates::CapFen))
                .col(big_integer_null(CouponTemplates::AmountFen))
                .col(big_integer_null(CouponTemplates::GiftSkuId))
                .col(big_integer(CouponTemplates::TotalQuantity))
                .col(big_integer(CouponTemplates::Issued))
                .col(integer(CouponTemplates::PerMemberLimit))
                .col(timestamp_with_time_zone_null(CouponTemplates::ValidFrom))
                .col(timestamp_with_time_zone_null(CouponTemplates::ValidUntil))
                .col(integer_null(CouponTemplates::ValidDays))
                .col(text(CouponTemplates::SkuIds))
                .col(text(CouponTemplates::CategoryIds))
                .col(text(CouponTemplates::Channels))
                .col(text(CouponTemplates::StoreIds))
                .col(boolean(CouponTemplates::StacksWithCoupons))
                .col(boolean(CouponTemplates::StacksWithFlashSale))
                .col(boolean(CouponTemplates::Birthday))
                .col(boolean(CouponTemplates::Active))
                .col(big_integer_null(CouponTemplates::CreatedBy))
                .timestamps()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Coupons::Table)
                .col(id(Coupons::Id))
                .col(big_integer(Coupons::TemplateId))
                .col(big_integer(Coupons::MemberId))
                .col(integer(Coupons::Seq))
                .col(string(Coupons::Status))
                .col(string(Coupons::Source))
                .col(string(Coupons::IssueKey).unique_key())
                .col(timestamp_with_time_zone(Coupons::ValidFrom))
                .col(timestamp_with_time_zone(Coupons::ValidUntil))
                .col(timestamp_with_time_zone(Coupons::IssuedAt))
                .col(timestamp_with_time_zone_null(Coupons::UsedAt))
                .col(big_integer_null(Coupons::UsedOrderId))
                .col(big_integer_null(Coupons::UsedStoreId))
                .col(big_integer_null(Coupons::UsedByStaff))
                .col(big_integer(Coupons::DiscountFen))
                .foreign_key(&mut fk(
                    (Coupons::Table, Coupons::TemplateId),
                    (CouponTemplates::Table, CouponTemplates::Id),
                ))
                .foreign_key(&mut fk(
                    (Coupons::Table, Coupons::MemberId),
                    (Members::Table, Members::Id),
                ))
                .to_owned(),
        )
        .await?;
        // One row per (template, member, n-th copy): a member's copies are numbered, so two
        // concurrent claims can never both be the member's last allowed copy.
        m.create_index(
            Index::create()
                .name("uq_coupons_template_member_seq")
                .table(Coupons::Table)
                .col(Coupons::TemplateId)
                .col(Coupons::MemberId)
                .col(Coupons::Seq)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_coupons_member_status")
                .table(Coupons::Table)
                .col(Coupons::MemberId)
                .col(Coupons::Status)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_coupons_used_order")
                .table(Coupons::Table)
                .col(Coupons::UsedOrderId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Coupons::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(CouponTemplates::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum CouponTemplates {
    Table,
    Id,
    Name,
    Kind,
    ThresholdFen,
    ReductionFen,
    PercentOff,
    CapFen,
    AmountFen,
    GiftSkuId,
    TotalQuantity,
    Issued,
    PerMemberLimit,
    ValidFrom,
    ValidUntil,
    ValidDays,
    SkuIds,
    CategoryIds,
    Channels,
    StoreIds,
    StacksWithCoupons,
    StacksWithFlashSale,
    Birthday,
    Active,
    CreatedBy,
}

#[derive(DeriveIden)]
pub(crate) enum Coupons {
    Table,
    Id,
    TemplateId,
    MemberId,
    Seq,
    Status,
    Source,
    IssueKey,
    ValidFrom,
    ValidUntil,
    IssuedAt,
    UsedAt,
    UsedOrderId,
    UsedStoreId,
    UsedByStaff,
    DiscountFen,
}
