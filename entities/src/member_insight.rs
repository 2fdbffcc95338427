use sea_orm::entity::prelude::*;

/// Computed from orders by the nightly job: the member's RFM segment and lifecycle stage.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_insights")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: i64,
    /// NEW, ACTIVE, AT_RISK, LOST.
    pub lifecycle: String,
    /// CHAMPIONS, LOYAL, BIG_SPENDERS, PROMISING, HIBERNATING, PROSPECT.
    pub rfm_segment: String,
    pub last_order_at: Option<DateTimeUtc>,
    pub order_count: i64,
    pub monetary_fen: i64,
    pub computed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
