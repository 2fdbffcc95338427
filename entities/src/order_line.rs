use sea_orm::entity::prelude::*;

/// One SKU on an order, with the price it sold at.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub sku_id: i64,
    pub product_name: String,
    pub sku_label: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub discount_fen: i64,
    pub line_total_fen: i64,
    pub refunded_quantity: i32,
    /// The SKU's cost when the order was placed (none on lines placed before costs were kept).
    pub unit_cost_fen: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
