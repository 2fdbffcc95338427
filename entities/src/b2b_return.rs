use sea_orm::entity::prelude::*;

/// Where a distributor's return after receipt (退货) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ReturnStatus {
    Requested,
    Accepted,
}

/// A return of received units of one purchase order, requested by the distributor and accepted
/// by HQ: stock comes back, a credit note reduces open receivables and the rebate accrued on
/// the units is reversed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "b2b_returns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub purchase_order_id: i64,
    pub distributor_id: i64,
    pub status: ReturnStatus,
    pub reason: String,
    /// The units' value at the order's prices (what the credit note is worth).
    pub value_fen: i64,
    /// What the credit note took off open receivables (the rest was already paid).
    pub credit_note_fen: i64,
    pub requested_by: i64,
    pub requested_at: DateTimeUtc,
    pub accepted_by: Option<i64>,
    pub accepted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
