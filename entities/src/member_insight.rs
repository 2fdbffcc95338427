use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// The member's lifecycle stage, recomputed nightly from orders: NEW, ACTIVE, AT_RISK or LOST.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum Lifecycle {
    New,
    Active,
    AtRisk,
    Lost,
}

/// The member's RFM segment (recency, frequency, monetary), recomputed nightly from orders.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum RfmSegment {
    Champions,
    Loyal,
    BigSpenders,
    Promising,
    Hibernating,
    Prospect,
}

/// Computed from orders by the nightly job: the member's RFM segment and lifecycle stage.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_insights")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: i64,
    pub lifecycle: Lifecycle,
    pub rfm_segment: RfmSegment,
    pub last_order_at: Option<DateTimeUtc>,
    pub order_count: i64,
    pub monetary_fen: i64,
    pub computed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
