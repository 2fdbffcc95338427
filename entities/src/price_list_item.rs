use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::typed::JsonText;

/// One step of a quantity ladder (阶梯价): from `min_qty` units up, each unit costs
/// `unit_price_fen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceStep {
    pub min_qty: i32,
    pub unit_price_fen: i64,
}

/// A SKU on one price-list version: its ladder (ascending, the first step from the MOQ),
/// minimum order quantity and case size (orders are whole cases).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "price_list_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub price_list_id: i64,
    pub sku_id: i64,
    pub moq: i32,
    pub case_size: i32,
    pub ladder: JsonText<Vec<PriceStep>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
