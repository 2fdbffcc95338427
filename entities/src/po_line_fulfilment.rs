use sea_orm::entity::prelude::*;

/// How far one purchase-order line has come: allocated (from batches), backordered (could not
/// be allocated yet), shipped, and what the distributor counted on receipt (received, damaged;
/// short is shipped − received − damaged). CHECKs keep each count within the one before.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "po_line_fulfilment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub po_line_id: i64,
    pub purchase_order_id: i64,
    pub sku_id: i64,
    pub ordered_qty: i32,
    pub allocated_qty: i32,
    pub backordered_qty: i32,
    pub shipped_qty: i32,
    pub received_qty: i32,
    pub damaged_qty: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
