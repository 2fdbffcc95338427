use sea_orm::entity::prelude::*;

/// A flash sale (秒杀): one SKU at a price for a time window, with its own number of units and a
/// per-member limit. `sold` counts the units held by orders that are not closed, settled in bulk
/// (by the reconcile task and at the sale's settlement), not by each order: the units the orders
/// claim are rows of `flash_sale_units`, set aside from the warehouse when the sale is warmed
/// (`units_at`) and, the free ones, given back when the sale is settled (`settled_at`).
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
    pub units_at: Option<DateTimeUtc>,
    pub settled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
