use sea_orm::entity::prelude::*;

/// Units of one stock batch set aside for a purchase-order line (taken out of the warehouse's
/// stock by a `B2B_ALLOCATE` movement), and how many of them have shipped.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "po_allocations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub purchase_order_id: i64,
    pub po_line_id: i64,
    pub location_id: i64,
    pub stock_batch_id: i64,
    pub sku_id: i64,
    pub qty: i32,
    pub shipped_qty: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
