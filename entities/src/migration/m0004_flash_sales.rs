//! Flash sales (秒杀): the sale itself with the database's count of units held by orders, each
//! member's units of a sale, and one record per successful grab (tied to its order). The
//! key-value counters are a fast copy of these rows; these rows are the truth they are rebuilt from.

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_foundation::Members;
use super::m0002_catalog_orders::{Orders, Skus};
use super::{TableColumns, fk, id};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(FlashSales::Table)
                .col(id(FlashSales::Id))
                .col(string(FlashSales::Title))
                .col(big_integer(FlashSales::SkuId))
                .col(big_integer(FlashSales::PriceFen))
                .col(integer(FlashSales::Stock))
                .col(integer(FlashSales::Sold))
                .col(integer(FlashSales::PerMemberLimit))
                .col(timestamp_with_time_zone(FlashSales::StartsAt))
                .col(timestamp_with_time_zone(FlashSales::EndsAt))
                .col(big_integer_null(FlashSales::CreatedBy))
                .timestamps()
                .foreign_key(&mut fk(
                    (FlashSales::Table, FlashSales::SkuId),
                    (Skus::Table, Skus::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_flash_sales_window")
                .table(FlashSales::Table)
                .col(FlashSales::StartsAt)
                .col(FlashSales::EndsAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(FlashSaleQuotas::Table)
                .col(big_integer(FlashSaleQuotas::SaleId))
                .col(big_integer(FlashSaleQuotas::MemberId))
                .col(integer(FlashSaleQuotas::Units))
                .primary_key(
                    Index::create()
                        .col(FlashSaleQuotas::SaleId)
                        .col(FlashSaleQuotas::MemberId),
                )
                .foreign_key(&mut fk(
                    (FlashSaleQuotas::Table, FlashSaleQuotas::SaleId),
                    (FlashSales::Table, FlashSales::Id),
                ))
                .foreign_key(&mut fk(
                    (FlashSaleQuotas::Table, FlashSaleQuotas::MemberId),
                    (Members::Table, Members::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(FlashSaleGrabs::Table)
                .col(id(FlashSaleGrabs::Id))
                .col(big_integer(FlashSaleGrabs::SaleId))
                .col(big_integer(FlashSaleGrabs::MemberId))
                .col(big_integer(FlashSaleGrabs::OrderId).unique_key())
                .col(integer(FlashSaleGrabs::Quantity))
                .col(string(FlashSaleGrabs::IdempotencyKey))
                .col(string(FlashSaleGrabs::Status))
                .col(timestamp_with_time_zone(FlashSaleGrabs::CreatedAt))
                .col(timestamp_with_time_zone_null(FlashSaleGrabs::ReleasedAt))
                .foreign_key(&mut fk(
                    (FlashSaleGrabs::Table, FlashSaleGrabs::SaleId),
                    (FlashSales::Table, FlashSales::Id),
                ))
                .foreign_key(&mut fk(
                    (FlashSaleGrabs::Table, FlashSaleGrabs::MemberId),
                    (Members::Table, Members::Id),
                ))
                .foreign_key(&mut fk(
                    (FlashSaleGrabs::Table, FlashSaleGrabs::OrderId),
                    (Orders::Table, Orders::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_flash_sale_grabs_key")
                .table(FlashSaleGrabs::Table)
                .col(FlashSaleGrabs::SaleId)
                .col(FlashSaleGrabs::MemberId)
                .col(FlashSaleGrabs::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            FlashSaleGrabs::Table.into_iden(),
            FlashSaleQuotas::Table.into_iden(),
            FlashSales::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum FlashSales {
    Table,
    Id,
    Title,
    SkuId,
    PriceFen,
    Stock,
    Sold,
    PerMemberLimit,
    StartsAt,
    EndsAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum FlashSaleQuotas {
    Table,
    SaleId,
    MemberId,
    Units,
}

#[derive(DeriveIden)]
enum FlashSaleGrabs {
    Table,
    Id,
    SaleId,
    MemberId,
    OrderId,
    Quantity,
    IdempotencyKey,
    Status,
    CreatedAt,
    ReleasedAt,
}
