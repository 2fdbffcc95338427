//! Commission (业绩提成, issue 18): versioned plans (per store or brand-wide, from a month) with a
//! rule per item kind, BAs' monthly inputs (base salary, rating bonus), and the locked months
//! with their immutable statements and explained lines. Only new tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CommissionPlans {
    Table,
    Id,
    Scope,
    StoreId,
    Version,
    EffectiveMonth,
    Name,
    TierMode,
    DesignatedShareBp,
    AssistantShareBp,
    BaseSalaryRateBp,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CommissionPlanRules {
    Table,
    Id,
    PlanId,
    ItemKind,
    Base,
    Method,
    RateBp,
    Brackets,
}

#[derive(DeriveIden)]
enum CommissionInputs {
    Table,
    Id,
    StaffId,
    Month,
    BaseSalaryFen,
    RatingBonusFen,
    SetBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CommissionMonths {
    Table,
    Id,
    StoreId,
    Month,
    PlanId,
    TotalFen,
    LockedBy,
    LockedAt,
}

#[derive(DeriveIden)]
enum CommissionStatements {
    Table,
    Id,
    CommissionMonthId,
    StoreId,
    StaffId,
    Month,
    PlanId,
    TotalFen,
    LockedAt,
}

#[derive(DeriveIden)]
enum CommissionLines {
    Table,
    Id,
    StatementId,
    Position,
    Source,
    SourceId,
    Kind,
    ItemKind,
    Split,
    BusinessDate,
    BaseFen,
    ShareBp,
    RateBp,
    AmountFen,
    RuleLabel,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum StaffAccounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CommissionPlans::Table)
                .col(id(CommissionPlans::Id))
                .col(string(CommissionPlans::Scope))
                .col(big_integer_null(CommissionPlans::StoreId))
                .col(integer(CommissionPlans::Version))
                .col(string(CommissionPlans::EffectiveMonth))
                .col(string(CommissionPlans::Name))
                .col(string(CommissionPlans::TierMode))
                .col(integer(CommissionPlans::DesignatedShareBp))
                .col(integer(CommissionPlans::AssistantShareBp))
                .col(integer(CommissionPlans::BaseSalaryRateBp))
                .col(big_integer(CommissionPlans::CreatedBy))
                .col(timestamp_with_time_zone(CommissionPlans::CreatedAt))
                .foreign_key(&mut fk(
                    (CommissionPlans::Table, CommissionPlans::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                // Splits add up to 100%.
                .check(
                    Expr::col(CommissionPlans::DesignatedShareBp)
                        .add(Expr::col(CommissionPlans::AssistantShareBp))
                        .eq(10_000),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ux_commission_plans_scope_version",
                CommissionPlans::Table,
                vec![
                    CommissionPlans::Scope.into_iden(),
                    CommissionPlans::Version.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CommissionPlanRules::Table)
                .col(id(CommissionPlanRules::Id))
                .col(big_integer(CommissionPlanRules::PlanId))
                .col(string(CommissionPlanRules::ItemKind))
                .col(string(CommissionPlanRules::Base))
                .col(string(CommissionPlanRules::Method))
                .col(integer_null(CommissionPlanRules::RateBp))
                .col(text_null(CommissionPlanRules::Brackets))
                .foreign_key(&mut fk(
                    (CommissionPlanRules::Table, CommissionPlanRules::PlanId),
                    (CommissionPlans::Table, CommissionPlans::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ux_commission_plan_rules_kind",
                CommissionPlanRules::Table,
                vec![
                    CommissionPlanRules::PlanId.into_iden(),
                    CommissionPlanRules::ItemKind.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CommissionInputs::Table)
                .col(id(CommissionInputs::Id))
                .col(big_integer(CommissionInputs::StaffId))
                .col(string(CommissionInputs::Month))
                .col(big_integer(CommissionInputs::BaseSalaryFen))
                .col(big_integer(CommissionInputs::RatingBonusFen))
                .col(big_integer(CommissionInputs::SetBy))
                .col(timestamp_with_time_zone(CommissionInputs::UpdatedAt))
                .foreign_key(&mut fk(
                    (CommissionInputs::Table, CommissionInputs::StaffId),
                    (StaffAccounts::Table, StaffAccounts::Id),
                ))
                .check(Expr::col(CommissionInputs::BaseSalaryFen).gte(0))
                .check(Expr::col(CommissionInputs::RatingBonusFen).gte(0))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ux_commission_inputs_staff_month",
                CommissionInputs::Table,
                vec![
                    CommissionInputs::StaffId.into_iden(),
                    CommissionInputs::Month.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CommissionMonths::Table)
                .col(id(CommissionMonths::Id))
                .col(big_integer(CommissionMonths::StoreId))
                .col(string(CommissionMonths::Month))
                .col(big_integer(CommissionMonths::PlanId))
                .col(big_integer(CommissionMonths::TotalFen))
                .col(big_integer(CommissionMonths::LockedBy))
                .col(timestamp_with_time_zone(CommissionMonths::LockedAt))
                .foreign_key(&mut fk(
                    (CommissionMonths::Table, CommissionMonths::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .foreign_key(&mut fk(
                    (CommissionMonths::Table, CommissionMonths::PlanId),
                    (CommissionPlans::Table, CommissionPlans::Id),
                ))
                .to_owned(),
        )
        .await?;
        // One lock per store and month: the second of two locks at once writes nothing.
        m.create_index(
            index(
                "ux_commission_months_store_month",
                CommissionMonths::Table,
                vec![
                    CommissionMonths::StoreId.into_iden(),
                    CommissionMonths::Month.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CommissionStatements::Table)
                .col(id(CommissionStatements::Id))
                .col(big_integer(CommissionStatements::CommissionMonthId))
                .col(big_integer(CommissionStatements::StoreId))
                .col(big_integer(CommissionStatements::StaffId))
                .col(string(CommissionStatements::Month))
                .col(big_integer(CommissionStatements::PlanId))
                .col(big_integer(CommissionStatements::TotalFen))
                .col(timestamp_with_time_zone(CommissionStatements::LockedAt))
                .foreign_key(&mut fk(
                    (
                        CommissionStatements::Table,
                        CommissionStatements::CommissionMonthId,
                    ),
                    (CommissionMonths::Table, CommissionMonths::Id),
                ))
                .foreign_key(&mut fk(
                    (CommissionStatements::Table, CommissionStatements::StaffId),
                    (StaffAccounts::Table, StaffAccounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ux_commission_statements_staff_month_store",
                CommissionStatements::Table,
                vec![
                    CommissionStatements::StaffId.into_iden(),
                    CommissionStatements::Month.into_iden(),
                    CommissionStatements::StoreId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CommissionLines::Table)
                .col(id(CommissionLines::Id))
                .col(big_integer(CommissionLines::StatementId))
                .col(integer(CommissionLines::Position))
                .col(string(CommissionLines::Source))
                .col(big_integer_null(CommissionLines::SourceId))
                .col(string(CommissionLines::Kind))
                .col(string_null(CommissionLines::ItemKind))
                .col(string(CommissionLines::Split))
                .col(date_null(CommissionLines::BusinessDate))
                .col(big_integer(CommissionLines::BaseFen))
                .col(integer(CommissionLines::ShareBp))
                .col(integer_null(CommissionLines::RateBp))
                .col(big_integer(CommissionLines::AmountFen))
                .col(string(CommissionLines::RuleLabel))
                .foreign_key(&mut fk(
                    (CommissionLines::Table, CommissionLines::StatementId),
                    (CommissionStatements::Table, CommissionStatements::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ux_commission_lines_statement_position",
                CommissionLines::Table,
                vec![
                    CommissionLines::StatementId.into_iden(),
                    CommissionLines::Position.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CommissionLines::Table.into_iden(),
            CommissionStatements::Table.into_iden(),
            CommissionMonths::Table.into_iden(),
            CommissionInputs::Table.into_iden(),
            CommissionPlanRules::Table.into_iden(),
            CommissionPlans::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
