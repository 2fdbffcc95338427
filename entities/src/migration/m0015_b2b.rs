//! Distributor B2B ordering (issue 15): tiers and versioned price lists, one credit row per
//! distributor guarded by a CHECK plus an append-only credit ledger, purchase orders with their
//! lines and status history. `distributors.tier_id` is a new nullable column, so code released
//! before it keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{TableColumns, fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DistributorTiers {
    Table,
    Id,
    Code,
    Name,
}

#[derive(DeriveIden)]
enum Distributors {
    Table,
    Id,
    TierId,
}

#[derive(DeriveIden)]
enum PriceLists {
    Table,
    Id,
    TierId,
    Version,
    ValidFrom,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PriceListItems {
    Table,
    Id,
    PriceListId,
    SkuId,
    Moq,
    CaseSize,
    Ladder,
}

#[derive(DeriveIden)]
enum Skus {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CreditAccounts {
    Table,
    DistributorId,
    LimitFen,
    OverrideFen,
    ReservedFen,
    OpenArFen,
    Prepaid,
    PaymentTermDays,
    GraceDays,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CreditEntries {
    Table,
    Id,
    DistributorId,
    Kind,
    AmountFen,
    SourceRef,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PurchaseOrders {
    Table,
    Id,
    No,
    DistributorId,
    Status,
    QuoteHash,
    PriceListId,
    SubtotalFen,
    DiscountFen,
    TotalFen,
    CreditReservedFen,
    IdempotencyKey,
    CreatedBy,
}

#[derive(DeriveIden)]
enum PurchaseOrderLines {
    Table,
    Id,
    PurchaseOrderId,
    SkuId,
    Qty,
    UnitPriceFen,
    LineTotalFen,
    IsGift,
}

#[derive(DeriveIden)]
enum PurchaseOrderEvents {
    Table,
    Id,
    PurchaseOrderId,
    Status,
    ActorKind,
    ActorId,
    Note,
    At,
}

#[derive(DeriveIden)]
enum B2bPolicies {
    Table,
    Id,
    Name,
    Kind,
    Rule,
    TierId,
    ValidFrom,
    ValidTo,
    Priority,
    RequiresAck,
    CreatedAt,
}

#[derive(DeriveIden)]
enum B2bPolicyAcks {
    Table,
    Id,
    PolicyId,
    DistributorId,
    AccountId,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DistributorTiers::Table)
                .col(id(DistributorTiers::Id))
                .col(string_uniq(DistributorTiers::Code))
                .col(string(DistributorTiers::Name))
                .timestamps()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Distributors::Table)
                .add_column(big_integer_null(Distributors::TierId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PriceLists::Table)
                .col(id(PriceLists::Id))
                .col(big_integer(PriceLists::TierId))
                .col(integer(PriceLists::Version))
                .col(timestamp_with_time_zone(PriceLists::ValidFrom))
                .col(big_integer_null(PriceLists::CreatedBy))
                .col(timestamp_with_time_zone(PriceLists::CreatedAt))
                .foreign_key(&mut fk(
                    (PriceLists::Table, PriceLists::TierId),
                    (DistributorTiers::Table, DistributorTiers::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_price_lists_tier_version",
                PriceLists::Table,
                vec![
                    PriceLists::TierId.into_iden(),
                    PriceLists::Version.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PriceListItems::Table)
                .col(id(PriceListItems::Id))
                .col(big_integer(PriceListItems::PriceListId))
                .col(big_integer(PriceListItems::SkuId))
                .col(integer(PriceListItems::Moq))
                .col(integer(PriceListItems::CaseSize))
                .col(text(PriceListItems::Ladder))
                .foreign_key(&mut fk(
                    (PriceListItems::Table, PriceListItems::PriceListId),
                    (PriceLists::Table, PriceLists::Id),
                ))
                .foreign_key(&mut fk(
                    (PriceListItems::Table, PriceListItems::SkuId),
                    (Skus::Table, Skus::Id),
                ))
                .check(Expr::col(PriceListItems::Moq).gte(1))
                .check(Expr::col(PriceListItems::CaseSize).gte(1))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_price_list_items_list_sku",
                PriceListItems::Table,
                vec![
                    PriceListItems::PriceListId.into_iden(),
                    PriceListItems::SkuId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CreditAccounts::Table)
                .col(
                    ColumnDef::new(CreditAccounts::DistributorId)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(big_integer(CreditAccounts::LimitFen))
                .col(big_integer(CreditAccounts::OverrideFen))
                .col(big_integer(CreditAccounts::ReservedFen))
                .col(big_integer(CreditAccounts::OpenArFen))
                .col(boolean(CreditAccounts::Prepaid))
                .col(integer(CreditAccounts::PaymentTermDays))
                .col(integer(CreditAccounts::GraceDays))
                .col(timestamp_with_time_zone(CreditAccounts::UpdatedAt))
                .foreign_key(&mut fk(
                    (CreditAccounts::Table, CreditAccounts::DistributorId),
                    (Distributors::Table, Distributors::Id),
                ))
                // The credit limit can never be passed, whatever the code above does.
                .check(
                    Expr::col(CreditAccounts::ReservedFen)
                        .add(Expr::col(CreditAccounts::OpenArFen))
                        .lte(
                            Expr::col(CreditAccounts::LimitFen)
                                .add(Expr::col(CreditAccounts::OverrideFen)),
                        ),
                )
                .check(Expr::col(CreditAccounts::ReservedFen).gte(0))
                .check(Expr::col(CreditAccounts::OpenArFen).gte(0))
                .check(Expr::col(CreditAccounts::LimitFen).gte(0))
                .check(Expr::col(CreditAccounts::OverrideFen).gte(0))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CreditEntries::Table)
                .col(id(CreditEntries::Id))
                .col(big_integer(CreditEntries::DistributorId))
                .col(string(CreditEntries::Kind))
                .col(big_integer(CreditEntries::AmountFen))
                .col(string(CreditEntries::SourceRef))
                .col(string_null(CreditEntries::Note))
                .col(timestamp_with_time_zone(CreditEntries::CreatedAt))
                .foreign_key(&mut fk(
                    (CreditEntries::Table, CreditEntries::DistributorId),
                    (Distributors::Table, Distributors::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_credit_entries_kind_source",
                CreditEntries::Table,
                vec![
                    CreditEntries::Kind.into_iden(),
                    CreditEntries::SourceRef.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_credit_entries_distributor",
            CreditEntries::Table,
            vec![
                CreditEntries::DistributorId.into_iden(),
                CreditEntries::Id.into_iden(),
            ],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(PurchaseOrders::Table)
                .col(id(PurchaseOrders::Id))
                .col(string_uniq(PurchaseOrders::No))
                .col(big_integer(PurchaseOrders::DistributorId))
                .col(string(PurchaseOrders::Status))
                .col(string(PurchaseOrders::QuoteHash))
                .col(big_integer(PurchaseOrders::PriceListId))
                .col(big_integer(PurchaseOrders::SubtotalFen))
                .col(big_integer(PurchaseOrders::DiscountFen))
                .col(big_integer(PurchaseOrders::TotalFen))
                .col(big_integer(PurchaseOrders::CreditReservedFen))
                .col(string(PurchaseOrders::IdempotencyKey))
                .col(big_integer(PurchaseOrders::CreatedBy))
                .timestamps()
                .foreign_key(&mut fk(
                    (PurchaseOrders::Table, PurchaseOrders::DistributorId),
                    (Distributors::Table, Distributors::Id),
                ))
                .foreign_key(&mut fk(
                    (PurchaseOrders::Table, PurchaseOrders::PriceListId),
                    (PriceLists::Table, PriceLists::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_purchase_orders_distributor_key",
                PurchaseOrders::Table,
                vec![
                    PurchaseOrders::DistributorId.into_iden(),
                    PurchaseOrders::IdempotencyKey.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PurchaseOrderLines::Table)
                .col(id(PurchaseOrderLines::Id))
                .col(big_integer(PurchaseOrderLines::PurchaseOrderId))
                .col(big_integer(PurchaseOrderLines::SkuId))
                .col(integer(PurchaseOrderLines::Qty))
                .col(big_integer(PurchaseOrderLines::UnitPriceFen))
                .col(big_integer(PurchaseOrderLines::LineTotalFen))
                .col(boolean(PurchaseOrderLines::IsGift))
                .foreign_key(&mut fk(
                    (
                        PurchaseOrderLines::Table,
                        PurchaseOrderLines::PurchaseOrderId,
                    ),
                    (PurchaseOrders::Table, PurchaseOrders::Id),
                ))
                .foreign_key(&mut fk(
                    (PurchaseOrderLines::Table, PurchaseOrderLines::SkuId),
                    (Skus::Table, Skus::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_purchase_order_lines_order",
            PurchaseOrderLines::Table,
            vec![PurchaseOrderLines::PurchaseOrderId.into_iden()],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(PurchaseOrderEvents::Table)
                .col(id(PurchaseOrderEvents::Id))
                .col(big_integer(PurchaseOrderEvents::PurchaseOrderId))
                .col(string(PurchaseOrderEvents::Status))
                .col(string(PurchaseOrderEvents::ActorKind))
                .col(big_integer_null(PurchaseOrderEvents::ActorId))
                .col(string_null(PurchaseOrderEvents::Note))
                .col(timestamp_with_time_zone(PurchaseOrderEvents::At))
                .foreign_key(&mut fk(
                    (
                        PurchaseOrderEvents::Table,
                        PurchaseOrderEvents::PurchaseOrderId,
                    ),
                    (PurchaseOrders::Table, PurchaseOrders::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_purchase_order_events_order",
            PurchaseOrderEvents::Table,
            vec![
                PurchaseOrderEvents::PurchaseOrderId.into_iden(),
                PurchaseOrderEvents::Id.into_iden(),
            ],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(B2bPolicies::Table)
                .col(id(B2bPolicies::Id))
                .col(string(B2bPolicies::Name))
                .col(string(B2bPolicies::Kind))
                .col(text(B2bPolicies::Rule))
                .col(big_integer_null(B2bPolicies::TierId))
                .col(timestamp_with_time_zone(B2bPolicies::ValidFrom))
                .col(timestamp_with_time_zone(B2bPolicies::ValidTo))
                .col(integer(B2bPolicies::Priority))
                .col(boolean(B2bPolicies::RequiresAck))
                .col(timestamp_with_time_zone(B2bPolicies::CreatedAt))
                .foreign_key(&mut fk(
                    (B2bPolicies::Table, B2bPolicies::TierId),
                    (DistributorTiers::Table, DistributorTiers::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(B2bPolicyAcks::Table)
                .col(id(B2bPolicyAcks::Id))
                .col(big_integer(B2bPolicyAcks::PolicyId))
                .col(big_integer(B2bPolicyAcks::DistributorId))
                .col(big_integer(B2bPolicyAcks::AccountId))
                .col(timestamp_with_time_zone(B2bPolicyAcks::At))
                .foreign_key(&mut fk(
                    (B2bPolicyAcks::Table, B2bPolicyAcks::PolicyId),
                    (B2bPolicies::Table, B2bPolicies::Id),
                ))
                .foreign_key(&mut fk(
                    (B2bPolicyAcks::Table, B2bPolicyAcks::DistributorId),
                    (Distributors::Table, Distributors::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_b2b_policy_acks_policy_distributor",
                B2bPolicyAcks::Table,
                vec![
                    B2bPolicyAcks::PolicyId.into_iden(),
                    B2bPolicyAcks::DistributorId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            B2bPolicyAcks::Table.into_iden(),
            B2bPolicies::Table.into_iden(),
            PurchaseOrderEvents::Table.into_iden(),
            PurchaseOrderLines::Table.into_iden(),
            PurchaseOrders::Table.into_iden(),
            CreditEntries::Table.into_iden(),
            CreditAccounts::Table.into_iden(),
            PriceListItems::Table.into_iden(),
            PriceLists::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Distributors::Table)
                .drop_column(Distributors::TierId)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(DistributorTiers::Table).to_owned())
            .await
    }
}
