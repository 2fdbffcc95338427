use sea_orm::entity::prelude::*;

/// One movement of a member's points. The balance is the sum of `delta`; an earning entry is
/// also a lot whose `remaining` is spent soonest-expiring first.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub member_id: i64,
    pub delta: i64,
    /// ORDER_PAID, ORDER_REFUNDED, SCAN_GIFT, REDEEMED, EXPIRED, ADJUSTED, ...
    pub reason: String,
    pub reference: Option<String>,
    /// One entry per source event: replays of the same event add nothing.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub expires_at: Option<DateTimeUtc>,
    pub remaining: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
