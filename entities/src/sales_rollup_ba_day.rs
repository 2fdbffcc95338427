use sea_orm::entity::prelude::*;

use crate::order::Channel;

/// Sales facts of one business day summed per store, credited BA and channel (0 = no store or
/// no BA). Recomputed whole for a day from the facts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sales_rollup_ba_days")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub business_date: Date,
    pub store_id: i64,
    pub ba_id: i64,
    pub channel: Channel,
    /// Orders with a SALE fact that day.
    pub orders: i64,
    pub units: i64,
    pub net_fen: i64,
    pub cost_fen: i64,
    pub coupon_discount_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
