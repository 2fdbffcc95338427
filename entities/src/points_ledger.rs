use sea_orm::entity::prelude::*;

/// Why points moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum PointsReason {
    OrderPaid,
    OrderRefunded,
    ScanGift,
    Redeemed,
    Expired,
    Adjusted,
}

/// One movement of a member's points. The balance is the sum of `delta`; an earning entry is
/// also a lot whose `remaining` is spent soonest-expiring first.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub member_id: i64,
    pub delta: i64,
    pub reason: PointsReason,
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
