//! B2B insight (issue 15, credit control and channel views): a distributor's type
//! (`distributors.kind`, 经销商 / 代理商 / KA), policy scope by type and region (two nullable
//! columns on `b2b_policies`), per-order credit overrides, and what each policy did to each order
//! (`purchase_order_policies`, for 政策执行率). Columns are added, never changed, so code released
//! before keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Distributors {
    Table,
    Id,
    Kind,
}

#[derive(DeriveIden)]
enum B2bPolicies {
    Table,
    Id,
    DistributorKind,
    RegionCodes,
}

#[derive(DeriveIden)]
enum PurchaseOrders {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CreditOverrides {
    Table,
    PurchaseOrderId,
    DistributorId,
    AmountFen,
    Reason,
    GrantedBy,
    GrantedAt,
    ReturnedFen,
    ReturnedAt,
}

#[derive(DeriveIden)]
enum PurchaseOrderPolicies {
    Table,
    Id,
    PurchaseOrderId,
    PolicyId,
    DistributorId,
    DiscountFen,
    GiftUnits,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds one at a time.
        m.alter_table(
            Table::alter()
                .table(Distributors::Table)
                .add_column(string(Distributors::Kind).default("DISTRIBUTOR"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(B2bPolicies::Table)
                .add_column(string_null(B2bPolicies::DistributorKind))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(B2bPolicies::Table)
                .add_column(text_null(B2bPolicies::RegionCodes))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CreditOverrides::Table)
                .col(
                    big_integer(CreditOverrides::PurchaseOrderId)
                        .primary_key()
                        .to_owned(),
                )
                .col(big_integer(CreditOverrides::DistributorId))
                .col(big_integer(CreditOverrides::AmountFen))
                .col(string(CreditOverrides::Reason))
                .col(big_integer(CreditOverrides::GrantedBy))
                .col(timestamp_with_time_zone(CreditOverrides::GrantedAt))
                .col(big_integer_null(CreditOverrides::ReturnedFen))
                .col(timestamp_with_time_zone_null(CreditOverrides::ReturnedAt))
                .check(Expr::col(CreditOverrides::AmountFen).gt(0))
                .foreign_key(&mut fk(
                    (CreditOverrides::Table, CreditOverrides::PurchaseOrderId),
                    (PurchaseOrders::Table, PurchaseOrders::Id),
                ))
                .foreign_key(&mut fk(
                    (CreditOverrides::Table, CreditOverrides::DistributorId),
                    (Distributors::Table, Distributors::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PurchaseOrderPolicies::Table)
                .col(id(PurchaseOrderPolicies::Id))
                .col(big_integer(PurchaseOrderPolicies::PurchaseOrderId))
                .col(big_integer(PurchaseOrderPolicies::PolicyId))
                .col(big_integer(PurchaseOrderPolicies::DistributorId))
                .col(big_integer(PurchaseOrderPolicies::DiscountFen))
                .col(big_integer(PurchaseOrderPolicies::GiftUnits))
                .foreign_key(
                    fk(
                        (
                            PurchaseOrderPolicies::Table,
                            PurchaseOrderPolicies::PurchaseOrderId,
                        ),
                        (PurchaseOrders::Table, PurchaseOrders::Id),
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(&mut fk(
                    (
                        PurchaseOrderPolicies::Table,
                        PurchaseOrderPolicies::PolicyId,
                    ),
                    (B2bPolicies::Table, B2bPolicies::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_purchase_order_policies_order_policy",
                PurchaseOrderPolicies::Table,
                vec![
                    PurchaseOrderPolicies::PurchaseOrderId.into_iden(),
                    PurchaseOrderPolicies::PolicyId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ix_purchase_order_policies_policy",
                PurchaseOrderPolicies::Table,
                vec![PurchaseOrderPolicies::PolicyId.into_iden()],
            )
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PurchaseOrderPolicies::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(CreditOverrides::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(B2bPolicies::Table)
                .drop_column(B2bPolicies::RegionCodes)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(B2bPolicies::Table)
                .drop_column(B2bPolicies::DistributorKind)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Distributors::Table)
                .drop_column(Distributors::Kind)
                .to_owned(),
        )
        .await
    }
}
