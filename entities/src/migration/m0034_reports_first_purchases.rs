//! Two tables that make the slow raw reports reads of kept rows (issue 17):
//! - `member_first_purchases`: each member's first day with a SALE or GIFT fact, kept by the fact
//!   writer in the payment's transaction and backfilled here from the facts, so NEW_MEMBERS no
//!   longer takes every member's minimum over all facts on each ask.
//! - `sales_rollup_category_days`: (day, store, channel, category) with distinct orders, so ORDERS
//!   by category is read from a rollup. Its rows are written by the rollup worker: every day that
//!   has rollups is marked dirty here, and until the worker has been by, reports read those days
//!   from the facts (as they do for any dirty day).
//!
//! New tables only: the code before it keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MemberFirstPurchases {
    Table,
    MemberId,
    FirstDay,
}

#[derive(DeriveIden)]
enum SalesRollupCategoryDays {
    Table,
    Id,
    BusinessDate,
    StoreId,
    Channel,
    CategoryId,
    Orders,
    Units,
    NetFen,
    CostFen,
    CouponDiscountFen,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MemberFirstPurchases::Table)
                .col(big_integer(MemberFirstPurchases::MemberId).primary_key())
                .col(date(MemberFirstPurchases::FirstDay))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ix_member_first_purchases_day",
                MemberFirstPurchases::Table,
                vec![MemberFirstPurchases::FirstDay.into_iden()],
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SalesRollupCategoryDays::Table)
                .col(id(SalesRollupCategoryDays::Id))
                .col(date(SalesRollupCategoryDays::BusinessDate))
                .col(big_integer(SalesRollupCategoryDays::StoreId))
                .col(string(SalesRollupCategoryDays::Channel))
                .col(big_integer(SalesRollupCategoryDays::CategoryId))
                .col(big_integer(SalesRollupCategoryDays::Orders))
                .col(big_integer(SalesRollupCategoryDays::Units))
                .col(big_integer(SalesRollupCategoryDays::NetFen))
                .col(big_integer(SalesRollupCategoryDays::CostFen))
                .col(big_integer(SalesRollupCategoryDays::CouponDiscountFen))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_sales_rollup_category_days_key",
                SalesRollupCategoryDays::Table,
                vec![
                    SalesRollupCategoryDays::BusinessDate.into_iden(),
                    SalesRollupCategoryDays::StoreId.into_iden(),
                    SalesRollupCategoryDays::Channel.into_iden(),
                    SalesRollupCategoryDays::CategoryId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared(
            "INSERT INTO member_first_purchases (member_id, first_day) \
             SELECT member_id, MIN(business_date) FROM sales_facts \
             WHERE event <> 'REFUND' GROUP BY member_id",
        )
        .await?;
        let now = match db.get_database_backend() {
            sea_orm_migration::sea_orm::DbBackend::Postgres => "now()",
            _ => "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO sales_dirty_days (business_date, generation, marked_at) \
             SELECT DISTINCT business_date, 1, {now} FROM sales_rollup_ba_days WHERE 1 = 1 \
             ON CONFLICT (business_date) DO NOTHING"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(SalesRollupCategoryDays::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(MemberFirstPurchases::Table).to_owned())
            .await
    }
}
