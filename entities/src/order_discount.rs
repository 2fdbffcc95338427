use sea_orm::entity::prelude::*;

/// One discount on an order (tier member price, a coupon, a flash-sale price), shown as its own line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_discounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    /// TIER, COUPON or FLASH_SALE.
    pub kind: String,
    pub label: String,
    pub amount_fen: i64,
    /// The coupon or flash sale behind the discount.
    pub reference: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
