use sea_orm::entity::prelude::*;

/// What moved a distributor's rebate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum RebateEntryKind {
    /// Earned by an event (a receipt, a scan): pending until the quarter is settled.
    Accrue,
    /// An accrual taken back (goods returned).
    Reverse,
    /// A quarter settled: pending becomes available.
    Settle,
    /// Spent on an order (held until the order ships or is cancelled).
    Use,
    /// An order's held rebate given back (cancelled).
    Release,
}

/// The append-only rebate ledger; `(kind, source_ref)` is unique, so one event moves a rebate
/// once. `quarter` is the Asia/Shanghai quarter the event belongs to ("2026Q1").
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rebate_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub distributor_id: i64,
    pub policy_id: Option<i64>,
    pub quarter: String,
    pub kind: RebateEntryKind,
    pub amount_fen: i64,
    pub source_ref: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
