//! Member stored value (会员储值, issue 18): one balance row per member with principal (本金) and
//! bonus (赠送金) kept apart and guarded by CHECKs (never below zero), an append-only ledger of
//! every change with its source, the top-up plans HQ offers (充1000送100), the top-ups (online
//! through WeChat Pay or at the counter), and what the balance paid of an order (so a refund
//! gives back each part exactly). Only new tables: code released before it keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{TableColumns, fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MemberBalances {
    Table,
    MemberId,
    PrincipalFen,
    BonusFen,
    BonusExpiresAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BalanceLedger {
    Table,
    Id,
    MemberId,
    Source,
    PrincipalDeltaFen,
    BonusDeltaFen,
    Reference,
    IdempotencyKey,
    StaffId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TopUpPlans {
    Table,
    Id,
    Code,
    Name,
    PayFen,
    BonusFen,
    BonusValidDays,
    Active,
}

#[derive(DeriveIden)]
enum TopUps {
    Table,
    Id,
    TopUpNo,
    MemberId,
    PlanId,
    Tender,
    PrincipalFen,
    BonusFen,
    BonusValidDays,
    Status,
    StaffId,
    StoreId,
    IdempotencyKey,
    RequestHash,
    TransactionId,
    PaidAt,
}

#[derive(DeriveIden)]
enum OrderBalancePayments {
    Table,
    OrderId,
    MemberId,
    PrincipalFen,
    BonusFen,
    RefundedPrincipalFen,
    RefundedBonusFen,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Members {
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
                .table(MemberBalances::Table)
                .col(big_integer(MemberBalances::MemberId).primary_key())
                .col(big_integer(MemberBalances::PrincipalFen))
                .col(big_integer(MemberBalances::BonusFen))
                .col(timestamp_with_time_zone_null(
                    MemberBalances::BonusExpiresAt,
                ))
                .col(timestamp_with_time_zone(MemberBalances::UpdatedAt))
                .foreign_key(&mut fk(
                    (MemberBalances::Table, MemberBalances::MemberId),
                    (Members::Table, Members::Id),
                ))
                // The last line of defence: a balance is never below zero.
                .check(Expr::col(MemberBalances::PrincipalFen).gte(0))
                .check(Expr::col(MemberBalances::BonusFen).gte(0))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BalanceLedger::Table)
                .col(id(BalanceLedger::Id))
                .col(big_integer(BalanceLedger::MemberId))
                .col(string(BalanceLedger::Source))
                .col(big_integer(BalanceLedger::PrincipalDeltaFen))
                .col(big_integer(BalanceLedger::BonusDeltaFen))
                .col(string_null(BalanceLedger::Reference))
                .col(string(BalanceLedger::IdempotencyKey).unique_key())
                .col(big_integer_null(BalanceLedger::StaffId))
                .col(timestamp_with_time_zone(BalanceLedger::CreatedAt))
                .foreign_key(&mut fk(
                    (BalanceLedger::Table, BalanceLedger::MemberId),
                    (Members::Table, Members::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_balance_ledger_member",
            BalanceLedger::Table,
            vec![
                BalanceLedger::MemberId.into_iden(),
                BalanceLedger::Id.into_iden(),
            ],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(TopUpPlans::Table)
                .col(id(TopUpPlans::Id))
                .col(string(TopUpPlans::Code).unique_key())
                .col(string(TopUpPlans::Name))
                .col(big_integer(TopUpPlans::PayFen))
                .col(big_integer(TopUpPlans::BonusFen))
                .col(integer_null(TopUpPlans::BonusValidDays))
                .col(boolean(TopUpPlans::Active))
                .timestamps()
                .check(Expr::col(TopUpPlans::PayFen).gt(0))
                .check(Expr::col(TopUpPlans::BonusFen).gte(0))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TopUps::Table)
                .col(id(TopUps::Id))
                .col(string(TopUps::TopUpNo).unique_key())
                .col(big_integer(TopUps::MemberId))
                .col(big_integer_null(TopUps::PlanId))
                .col(string(TopUps::Tender))
                .col(big_integer(TopUps::PrincipalFen))
                .col(big_integer(TopUps::BonusFen))
                .col(integer_null(TopUps::BonusValidDays))
                .col(string(TopUps::Status))
                .col(big_integer_null(TopUps::StaffId))
                .col(big_integer_null(TopUps::StoreId))
                .col(string_null(TopUps::IdempotencyKey).unique_key())
                .col(string_null(TopUps::RequestHash))
                .col(string_null(TopUps::TransactionId))
                .col(timestamp_with_time_zone_null(TopUps::PaidAt))
                .timestamps()
                .foreign_key(&mut fk(
                    (TopUps::Table, TopUps::MemberId),
                    (Members::Table, Members::Id),
                ))
                .foreign_key(&mut fk(
                    (TopUps::Table, TopUps::PlanId),
                    (TopUpPlans::Table, TopUpPlans::Id),
                ))
                .check(Expr::col(TopUps::PrincipalFen).gt(0))
                .check(Expr::col(TopUps::BonusFen).gte(0))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_top_ups_member",
            TopUps::Table,
            vec![TopUps::MemberId.into_iden(), TopUps::Id.into_iden()],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(OrderBalancePayments::Table)
                .col(big_integer(OrderBalancePayments::OrderId).primary_key())
                .col(big_integer(OrderBalancePayments::MemberId))
                .col(big_integer(OrderBalancePayments::PrincipalFen))
                .col(big_integer(OrderBalancePayments::BonusFen))
                .col(big_integer(OrderBalancePayments::RefundedPrincipalFen))
                .col(big_integer(OrderBalancePayments::RefundedBonusFen))
                .col(timestamp_with_time_zone(OrderBalancePayments::CreatedAt))
                .foreign_key(&mut fk(
                    (OrderBalancePayments::Table, OrderBalancePayments::OrderId),
                    (Orders::Table, Orders::Id),
                ))
                .foreign_key(&mut fk(
                    (OrderBalancePayments::Table, OrderBalancePayments::MemberId),
                    (Members::Table, Members::Id),
                ))
                .check(
                    Expr::col(OrderBalancePayments::RefundedPrincipalFen)
                        .lte(Expr::col(OrderBalancePayments::PrincipalFen)),
                )
                .check(
                    Expr::col(OrderBalancePayments::RefundedBonusFen)
                        .lte(Expr::col(OrderBalancePayments::BonusFen)),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OrderBalancePayments::Table.into_iden(),
            TopUps::Table.into_iden(),
            TopUpPlans::Table.into_iden(),
            BalanceLedger::Table.into_iden(),
            MemberBalances::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
