//! Flash-sale units (issue 19): when a sale is warmed, its units become rows (one per unit, each
//! with the stock batch it was set aside from), so a winner's order claims one row (`FOR UPDATE
//! SKIP LOCKED` on PostgreSQL) instead of every winner locking the sale's row and the SKU's stock
//! rows. The sale records when its units were set aside and when the unclaimed ones went back to
//! the warehouse. A new table and two nullable columns: the code before it keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FlashSaleUnits {
    Table,
    Id,
    SaleId,
    BatchId,
    OrderId,
    ClaimedAt,
}

#[derive(DeriveIden)]
enum FlashSales {
    Table,
    Id,
    UnitsAt,
    SettledAt,
}

#[derive(DeriveIden)]
enum StockBatches {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(FlashSaleUnits::Table)
                .col(id(FlashSaleUnits::Id))
                .col(big_integer(FlashSaleUnits::SaleId))
                .col(big_integer(FlashSaleUnits::BatchId))
                .col(big_integer_null(FlashSaleUnits::OrderId))
                .col(timestamp_with_time_zone_null(FlashSaleUnits::ClaimedAt))
                .foreign_key(&mut fk(
                    (FlashSaleUnits::Table, FlashSaleUnits::SaleId),
                    (FlashSales::Table, FlashSales::Id),
                ))
                .foreign_key(&mut fk(
                    (FlashSaleUnits::Table, FlashSaleUnits::BatchId),
                    (StockBatches::Table, StockBatches::Id),
                ))
                .foreign_key(&mut fk(
                    (FlashSaleUnits::Table, FlashSaleUnits::OrderId),
                    (Orders::Table, Orders::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ix_flash_sale_units_order",
                FlashSaleUnits::Table,
                vec![FlashSaleUnits::OrderId.into_iden()],
            )
            .to_owned(),
        )
        .await?;
        // The free units of a sale, in claim order: what a winner's claim and the counts read.
        // Partial (same syntax on both databases), so claimed units drop out of it.
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_flash_sale_units_free ON flash_sale_units (sale_id, id) \
                 WHERE order_id IS NULL",
            )
            .await?;
        m.alter_table(
            Table::alter()
                .table(FlashSales::Table)
                .add_column(timestamp_with_time_zone_null(FlashSales::UnitsAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(FlashSales::Table)
                .add_column(timestamp_with_time_zone_null(FlashSales::SettledAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [FlashSales::SettledAt, FlashSales::UnitsAt] {
            m.alter_table(
                Table::alter()
                    .table(FlashSales::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(FlashSaleUnits::Table).to_owned())
            .await
    }
}
