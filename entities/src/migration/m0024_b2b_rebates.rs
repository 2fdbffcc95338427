//! Distributor rebates (返利, issue 15): one balance row per distributor (`rebate_accounts`,
//! every column CHECKed ≥ 0), the append-only ledger (`rebate_entries`, unique
//! `(kind, source_ref)`, each entry with its Asia/Shanghai quarter), the scan worker's cursor,
//! returns after receipt (`b2b_returns`, `b2b_return_lines`) and the rebate an order spends
//! (`purchase_orders.rebate_used_fen`, default 0, so code released before keeps working).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Distributors {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PurchaseOrders {
    Table,
    Id,
    RebateUsedFen,
}

#[derive(DeriveIden)]
enum PurchaseOrderLines {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum RebateAccounts {
    Table,
    DistributorId,
    AccruedFen,
    PendingFen,
    AvailableFen,
    HeldFen,
    UsedFen,
    OwedFen,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RebateEntries {
    Table,
    Id,
    DistributorId,
    PolicyId,
    Quarter,
    Kind,
    AmountFen,
    SourceRef,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RebateCursors {
    Table,
    Name,
    LastId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum B2bReturns {
    Table,
    Id,
    PurchaseOrderId,
    DistributorId,
    Status,
    Reason,
    ValueFen,
    CreditNoteFen,
    RequestedBy,
    RequestedAt,
    AcceptedBy,
    AcceptedAt,
}

#[derive(DeriveIden)]
enum B2bReturnLines {
    Table,
    Id,
    ReturnId,
    PoLineId,
    Qty,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use RebateAccounts as A;
        m.alter_table(
            Table::alter()
                .table(PurchaseOrders::Table)
                .add_column(big_integer(PurchaseOrders::RebateUsedFen).default(0))
                .to_owned(),
        )
        .await?;
        let mut accounts = Table::create();
        accounts
            .table(A::Table)
            .col(big_integer(A::DistributorId).primary_key().to_owned());
        for c in [
            A::AccruedFen,
            A::PendingFen,
            A::AvailableFen,
            A::HeldFen,
            A::UsedFen,
            A::OwedFen,
        ] {
            accounts.col(big_integer(c).default(0));
            accounts.check(Expr::col(c).gte(0));
        }
        m.create_table(
            accounts
                .col(timestamp_with_time_zone(A::UpdatedAt))
                .foreign_key(&mut fk(
                    (A::Table, A::DistributorId),
                    (Distributors::Table, Distributors::Id),
                ))
                .to_owned(),
        )
        .await?;
        use RebateEntries as E;
        m.create_table(
            Table::create()
                .table(E::Table)
                .col(id(E::Id))
                .col(big_integer(E::DistributorId))
                .col(big_integer_null(E::PolicyId))
                .col(string(E::Quarter))
                .col(string(E::Kind))
                .col(big_integer(E::AmountFen))
                .col(string(E::SourceRef))
                .col(string_null(E::Note))
                .col(timestamp_with_time_zone(E::CreatedAt))
                .foreign_key(&mut fk(
                    (E::Table, E::DistributorId),
                    (Distributors::Table, Distributors::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_rebate_entries_kind_source",
                E::Table,
                vec![E::Kind.into_iden(), E::SourceRef.into_iden()],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ix_rebate_entries_distributor_quarter",
                E::Table,
                vec![E::DistributorId.into_iden(), E::Quarter.into_iden()],
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RebateCursors::Table)
                .col(string(RebateCursors::Name).primary_key().to_owned())
                .col(big_integer(RebateCursors::LastId))
                .col(timestamp_with_time_zone(RebateCursors::UpdatedAt))
                .to_owned(),
        )
        .await?;
        use B2bReturns as R;
        m.create_table(
            Table::create()
                .table(R::Table)
                .col(id(R::Id))
                .col(big_integer(R::PurchaseOrderId))
                .col(big_integer(R::DistributorId))
                .col(string(R::Status))
                .col(string(R::Reason))
                .col(big_integer(R::ValueFen))
                .col(big_integer(R::CreditNoteFen))
                .col(big_integer(R::RequestedBy))
                .col(timestamp_with_time_zone(R::RequestedAt))
                .col(big_integer_null(R::AcceptedBy))
                .col(timestamp_with_time_zone_null(R::AcceptedAt))
                .check(Expr::col(R::ValueFen).gte(0))
                .check(Expr::col(R::CreditNoteFen).gte(0))
                .foreign_key(&mut fk(
                    (R::Table, R::PurchaseOrderId),
                    (PurchaseOrders::Table, PurchaseOrders::Id),
                ))
                .foreign_key(&mut fk(
                    (R::Table, R::DistributorId),
                    (Distributors::Table, Distributors::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ix_b2b_returns_order",
                R::Table,
                vec![R::PurchaseOrderId.into_iden()],
            )
            .to_owned(),
        )
        .await?;
        use B2bReturnLines as L;
        m.create_table(
            Table::create()
                .table(L::Table)
                .col(id(L::Id))
                .col(big_integer(L::ReturnId))
                .col(big_integer(L::PoLineId))
                .col(integer(L::Qty))
                .check(Expr::col(L::Qty).gt(0))
                .foreign_key(
                    fk((L::Table, L::ReturnId), (R::Table, R::Id))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(&mut fk(
                    (L::Table, L::PoLineId),
                    (PurchaseOrderLines::Table, PurchaseOrderLines::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_b2b_return_lines_return_line",
                L::Table,
                vec![L::ReturnId.into_iden(), L::PoLineId.into_iden()],
            )
            .unique()
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            B2bReturnLines::Table.into_iden(),
            B2bReturns::Table.into_iden(),
            RebateCursors::Table.into_iden(),
            RebateEntries::Table.into_iden(),
            RebateAccounts::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(PurchaseOrders::Table)
                .drop_column(PurchaseOrders::RebateUsedFen)
                .to_owned(),
        )
        .await
    }
}
