use sea_orm::entity::prelude::*;

/// What moved a distributor's rebate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[cfg_attr(feature = "graphql", graphql(name = "RebateEntryKind"))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum RebateEntryKind {
    /// Earned by a receipt or a consumer scan (pending goes up).
    Accrue,
    /// Taken back by a return (negative).
    Reverse,
    /// A settlement's correction from the recomputed facts (either sign).
    Adjust,
    /// A quarter's pending made available (only the difference to what was settled before).
    Settle,
    /// Taken back from a settled quarter after a return (negative).
    Clawback,
    /// Held by an order at submit (available → held).
    Hold,
    /// An order's hold given back (cancelled, rejected, edited).
    Release,
    /// An order's hold spent at shipment.
    Use,
}

/// The append-only rebate ledger: the counters of `rebate_accounts` are always its sums.
/// `(kind, source_ref)` is unique, so one event moves a rebate once; `quarter` (`2026Q1`) is
/// the quarter in Asia/Shanghai the amount belongs to.
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
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
