use sea_orm::entity::prelude::*;

use crate::order::Channel;

/// Sales facts of one business day summed per store, channel and category (store 0 = none).
/// Unlike the SKU-day rows, its orders add up over days, stores and channels: an order's sale
/// facts share one day, store and channel, and it is counted once in each of its categories.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sales_rollup_category_days")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub business_date: Date,
    pub store_id: i64,
    pub channel: Channel,
    pub category_id: i64,
    /// Orders with a SALE fact in the category that day.
    pub orders: i64,
    pub units: i64,
    pub net_fen: i64,
    pub cost_fen: i64,
    /// The coupons' share of the discount.
    pub coupon_discount_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
