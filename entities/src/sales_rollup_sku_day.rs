use sea_orm::entity::prelude::*;

use crate::order::Channel;

/// Sales facts of one business day summed per store, SKU, channel and category (store 0 = none).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sales_rollup_sku_days")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub business_date: Date,
    pub store_id: i64,
    pub sku_id: i64,
    pub channel: Channel,
    /// Frozen on the facts, like the category.
    pub product_id: i64,
    pub category_id: i64,
    pub units: i64,
    pub net_fen: i64,
    pub cost_fen: i64,
    /// The coupons' share of the discount.
    pub coupon_discount_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
