use sea_orm::entity::prelude::*;

/// A flash sale (秒杀): one SKU at a price for a time window, with its own number of units and a
/// per-member limit. `sold` counts the units held by orders that are not closed; it never
/// exceeds `stock` (a conditional update in the order's transaction).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "flash_sales")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
    pub sku_id: i64,
    pub price_fen: i64,
    pub stock: i32,
    pub sold: i32,
    pub per_member_limit: i32,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
