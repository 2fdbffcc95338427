use sea_orm::entity::prelude::*;

use crate::order::Channel;

/// Sales facts of one business day summed per store, SKU and channel (store 0 = none).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sales_rollup_sku_days")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub business_date: Date,
    pub store_id: i64,
    pub sku_id: i64,
    pub channel: Channel,
    pub units: i64,
    pub net_fen: i64,
    pub cost_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
