use sea_orm::entity::prelude::*;

/// What moved a distributor's credit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CreditEntryKind {
    /// An order took credit (reserved goes up).
    Reserve,
    /// An order gave its credit back (reserved goes down).
    Release,
    /// Goods invoiced: reserved moves to open receivables.
    Invoice,
    /// A payment: open receivables go down.
    Payment,
    /// Terms changed (limit, override): amount is the change of the limit.
    Adjust,
    /// A credit note for a return after receipt: open receivables go down.
    CreditNote,
}

/// The append-only credit ledger: the counters of `credit_accounts` are always its sums.
/// `(kind, source_ref)` is unique, so one source moves credit once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub distributor_id: i64,
    pub kind: CreditEntryKind,
    pub amount_fen: i64,
    pub source_ref: String,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
