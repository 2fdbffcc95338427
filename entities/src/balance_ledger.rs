use sea_orm::entity::prelude::*;

/// Why a member's stored value changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum BalanceSource {
    /// Topped up online with WeChat Pay.
    TopUpOnline,
    /// Topped up at the counter (cash, bank card, WeChat), recorded by a BA.
    TopUpCounter,
    /// Paid (part of) an order online.
    OrderPayment,
    /// Paid a counter sale.
    CounterSale,
    /// A refunded order gave its balance part back.
    OrderRefund,
    /// An unpaid order closed and gave its balance part back.
    OrderClosed,
    /// Bonus past its date.
    BonusExpired,
    /// The unused principal paid back to the member on request (bonus forfeited with it).
    PrincipalReturned,
}

/// One change of a member's stored value: append-only. The balance row equals the sums of the
/// deltas.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "balance_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub member_id: i64,
    pub source: BalanceSource,
    pub principal_delta_fen: i64,
    pub bonus_delta_fen: i64,
    /// The order, top-up or refund number this change belongs to.
    pub reference: Option<String>,
    /// One entry per source event: a replay adds nothing.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub staff_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
