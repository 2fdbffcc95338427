//! Reports at scale (issue 17): nightly stock values per location and SKU (turnover days); the SKU-day rollup also keeps the product, the category (both
//! frozen on the facts) and the coupons' share, so SKU, product and category reports read the
//! rollup; its key gains the category (a SKU moved between categories keeps each day's facts
//! where they were). Existing days are queued for a recompute. Export jobs get a heartbeat, so
//! a job left RUNNING by a crashed worker is queued again once its lease is stale.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, date, timestamp_with_time_zone};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SalesRollupSkuDays {
    Table,
    BusinessDate,
    StoreId,
    SkuId,
    Channel,
    ProductId,
    CategoryId,
    CouponDiscountFen,
}

#[derive(DeriveIden)]
enum StockValueDays {
    Table,
    Id,
    BusinessDate,
    LocationId,
    SkuId,
    Quantity,
    UnitCostFen,
    ValueFen,
    TakenAt,
}

#[derive(DeriveIden)]
enum ReportExportJobs {
    Table,
    HeartbeatAt,
}

const OLD_KEY: &str = "idx_sales_rollup_sku_days_key";
const NEW_KEY: &str = "idx_sales_rollup_sku_days_key2";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for col in [
            SalesRollupSkuDays::ProductId,
            SalesRollupSkuDays::CategoryId,
            SalesRollupSkuDays::CouponDiscountFen,
        ] {
            m.alter_table(
                Table::alter()
                    .table(SalesRollupSkuDays::Table)
                    .add_column(ColumnDef::new(col).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        }
        m.drop_index(
            Index::drop()
                .name(OLD_KEY)
                .table(SalesRollupSkuDays::Table)
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                NEW_KEY,
                SalesRollupSkuDays::Table,
                vec![
                    SalesRollupSkuDays::BusinessDate.into_iden(),
                    SalesRollupSkuDays::StoreId.into_iden(),
                    SalesRollupSkuDays::SkuId.into_iden(),
                    SalesRollupSkuDays::Channel.into_iden(),
                    SalesRollupSkuDays::CategoryId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ReportExportJobs::Table)
                .add_column(
                    ColumnDef::new(ReportExportJobs::HeartbeatAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StockValueDays::Table)
                .col(id(StockValueDays::Id))
                .col(date(StockValueDays::BusinessDate))
                .col(big_integer(StockValueDays::LocationId))
                .col(big_integer(StockValueDays::SkuId))
                .col(big_integer(StockValueDays::Quantity))
                .col(big_integer(StockValueDays::UnitCostFen))
                .col(big_integer(StockValueDays::ValueFen))
                .col(timestamp_with_time_zone(StockValueDays::TakenAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "idx_stock_value_days_key",
                StockValueDays::Table,
                vec![
                    StockValueDays::LocationId.into_iden(),
                    StockValueDays::SkuId.into_iden(),
                    StockValueDays::BusinessDate.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        // Rows written before the new columns: recompute their days.
        let db = m.get_connection();
        let now = match db.get_database_backend() {
            DbBackend::Postgres => "now()",
            _ => "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
        };
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "INSERT INTO sales_dirty_days (business_date, generation, marked_at) \
                 SELECT DISTINCT business_date, 1, {now} FROM sales_rollup_sku_days WHERE 1 = 1 \
                 ON CONFLICT (business_date) DO NOTHING"
            ),
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(StockValueDays::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(ReportExportJobs::Table)
                .drop_column(ReportExportJobs::HeartbeatAt)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name(NEW_KEY)
                .table(SalesRollupSkuDays::Table)
                .to_owned(),
        )
        .await?;
        for col in [
            SalesRollupSkuDays::CouponDiscountFen,
            SalesRollupSkuDays::CategoryId,
            SalesRollupSkuDays::ProductId,
        ] {
            m.alter_table(
                Table::alter()
                    .table(SalesRollupSkuDays::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            index(
                OLD_KEY,
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
        .await
    }
}
