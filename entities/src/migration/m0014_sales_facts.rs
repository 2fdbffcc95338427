//! Sales facts (issue 17): order lines keep the unit cost they were sold at; one immutable fact
//! per line event (SALE, REFUND, GIFT) with frozen attribution, written in the transaction of
//! the payment, refund or counter sale; a queue of business days whose rollups are stale; the
//! rollups themselves ((day, store, BA, channel), (day, store, SKU, channel), member-month);
//! and monthly sales targets per BA. The new order-line column is nullable, so code released
//! before it keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    UnitCostFen,
}

#[derive(DeriveIden)]
enum SalesFacts {
    Table,
    Id,
    FactKey,
    Event,
    OrderId,
    OrderLineId,
    RefundId,
    OccurredAt,
    BusinessDate,
    SaleDate,
    StoreId,
    Channel,
    BaId,
    ExclusiveBaId,
    MemberId,
    SkuId,
    ProductId,
    CategoryId,
    CampaignId,
    CouponTemplateId,
    RegionCode,
    Quantity,
    GrossFen,
    DiscountFen,
    CouponDiscountFen,
    NetFen,
    CostFen,
}

#[derive(DeriveIden)]
enum SalesDirtyDays {
    Table,
    BusinessDate,
    Generation,
    MarkedAt,
}

#[derive(DeriveIden)]
enum SalesRollupBaDays {
    Table,
    Id,
    BusinessDate,
    StoreId,
    BaId,
    Channel,
    Orders,
    Units,
    NetFen,
    CostFen,
    CouponDiscountFen,
}

#[derive(DeriveIden)]
enum SalesRollupSkuDays {
    Table,
    Id,
    BusinessDate,
    StoreId,
    SkuId,
    Channel,
    Units,
    NetFen,
    CostFen,
}

#[derive(DeriveIden)]
enum SalesMemberMonths {
    Table,
    Id,
    Month,
    StoreId,
    MemberId,
    Orders,
    NetFen,
}

#[derive(DeriveIden)]
enum BaTargets {
    Table,
    Id,
    StaffId,
    Month,
    TargetFen,
    SetBy,
    UpdatedAt,
}

fn facts_table() -> TableCreateStatement {
    Table::create()
        .table(SalesFacts::Table)
        .col(id(SalesFacts::Id))
        .col(string_uniq(SalesFacts::FactKey))
        .col(string(SalesFacts::Event))
        .col(big_integer(SalesFacts::OrderId))
        .col(big_integer(SalesFacts::OrderLineId))
        .col(big_integer_null(SalesFacts::RefundId))
        .col(timestamp_with_time_zone(SalesFacts::OccurredAt))
        .col(date(SalesFacts::BusinessDate))
        .col(date(SalesFacts::SaleDate))
        .col(big_integer_null(SalesFacts::StoreId))
        .col(string(SalesFacts::Channel))
        .col(big_integer_null(SalesFacts::BaId))
        .col(big_integer_null(SalesFacts::ExclusiveBaId))
        .col(big_integer(SalesFacts::MemberId))
        .col(big_integer(SalesFacts::SkuId))
        .col(big_integer(SalesFacts::ProductId))
        .col(big_integer(SalesFacts::CategoryId))
        .col(big_integer_null(SalesFacts::CampaignId))
        .col(big_integer_null(SalesFacts::CouponTemplateId))
        .col(string_null(SalesFacts::RegionCode))
        .col(integer(SalesFacts::Quantity))
        .col(big_integer(SalesFacts::GrossFen))
        .col(big_integer(SalesFacts::DiscountFen))
        .col(big_integer(SalesFacts::CouponDiscountFen))
        .col(big_integer(SalesFacts::NetFen))
        .col(big_integer(SalesFacts::CostFen))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(OrderLines::Table)
                .add_column(big_integer_null(OrderLines::UnitCostFen))
                .to_owned(),
        )
        .await?;
        m.create_table(facts_table()).await?;
        m.create_index(index(
            "idx_sales_facts_business_date",
            SalesFacts::Table,
            vec![
                SalesFacts::BusinessDate.into_iden(),
                SalesFacts::StoreId.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_sales_facts_sale_date",
            SalesFacts::Table,
            vec![
                SalesFacts::SaleDate.into_iden(),
                SalesFacts::StoreId.into_iden(),
            ],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(SalesDirtyDays::Table)
                .col(date(SalesDirtyDays::BusinessDate).primary_key())
                .col(big_integer(SalesDirtyDays::Generation))
                .col(timestamp_with_time_zone(SalesDirtyDays::MarkedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SalesRollupBaDays::Table)
                .col(id(SalesRollupBaDays::Id))
                .col(date(SalesRollupBaDays::BusinessDate))
                .col(big_integer(SalesRollupBaDays::StoreId))
                .col(big_integer(SalesRollupBaDays::BaId))
                .col(string(SalesRollupBaDays::Channel))
                .col(big_integer(SalesRollupBaDays::Orders))
                .col(big_integer(SalesRollupBaDays::Units))
                .col(big_integer(SalesRollupBaDays::NetFen))
                .col(big_integer(SalesRollupBaDays::CostFen))
                .col(big_integer(SalesRollupBaDays::CouponDiscountFen))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "idx_sales_rollup_ba_days_key",
                SalesRollupBaDays::Table,
                vec![
                    SalesRollupBaDays::BusinessDate.into_iden(),
                    SalesRollupBaDays::StoreId.into_iden(),
                    SalesRollupBaDays::BaId.into_iden(),
                    SalesRollupBaDays::Channel.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SalesRollupSkuDays::Table)
                .col(id(SalesRollupSkuDays::Id))
                .col(date(SalesRollupSkuDays::BusinessDate))
                .col(big_integer(SalesRollupSkuDays::StoreId))
                .col(big_integer(SalesRollupSkuDays::SkuId))
                .col(string(SalesRollupSkuDays::Channel))
                .col(big_integer(SalesRollupSkuDays::Units))
                .col(big_integer(SalesRollupSkuDays::NetFen))
                .col(big_integer(SalesRollupSkuDays::CostFen))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "idx_sales_rollup_sku_days_key",
                SalesRollupSkuDays::Table,
                vec![
                    SalesRollupSkuDays::BusinessDate.into_iden(),
                    SalesRollupSkuDays::StoreId.into_iden(),
                    SalesRollupSkuDays::SkuId.into_iden(),
                    SalesRollupSkuDays::Channel.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SalesMemberMonths::Table)
                .col(id(SalesMemberMonths::Id))
                .col(string(SalesMemberMonths::Month))
                .col(big_integer(SalesMemberMonths::StoreId))
                .col(big_integer(SalesMemberMonths::MemberId))
                .col(big_integer(SalesMemberMonths::Orders))
                .col(big_integer(SalesMemberMonths::NetFen))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "idx_sales_member_months_key",
                SalesMemberMonths::Table,
                vec![
                    SalesMemberMonths::Month.into_iden(),
                    SalesMemberMonths::StoreId.into_iden(),
                    SalesMemberMonths::MemberId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BaTargets::Table)
                .col(id(BaTargets::Id))
                .col(big_integer(BaTargets::StaffId))
                .col(string(BaTargets::Month))
                .col(big_integer(BaTargets::TargetFen))
                .col(big_integer(BaTargets::SetBy))
                .col(timestamp_with_time_zone(BaTargets::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "idx_ba_targets_staff_month",
                BaTargets::Table,
                vec![BaTargets::StaffId.into_iden(), BaTargets::Month.into_iden()],
            )
            .unique()
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            BaTargets::Table.into_iden(),
            SalesMemberMonths::Table.into_iden(),
            SalesRollupSkuDays::Table.into_iden(),
            SalesRollupBaDays::Table.into_iden(),
            SalesDirtyDays::Table.into_iden(),
            SalesFacts::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(OrderLines::Table)
                .drop_column(OrderLines::UnitCostFen)
                .to_owned(),
        )
        .await
    }
}
