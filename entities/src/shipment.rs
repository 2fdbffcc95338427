use sea_orm::entity::prelude::*;

/// One dispatch of a purchase order's cartons; it invoices `invoice_fen` (a receivable).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shipments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub no: String,
    pub purchase_order_id: i64,
    pub distributor_id: i64,
    pub invoice_fen: i64,
    pub shipped_at: DateTimeUtc,
    pub created_by: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
