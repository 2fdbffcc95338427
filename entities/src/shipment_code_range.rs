use sea_orm::entity::prelude::*;

/// Pack codes `serial_from..=serial_to` of a code batch shipped on a purchase-order line to a
/// distributor: how a consumer's scan maps to the distributor the pack was shipped to. Ranges
/// of one code batch never overlap (checked under a lock on the code batch when shipping).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shipment_code_ranges")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub shipment_id: i64,
    pub po_line_id: i64,
    pub distributor_id: i64,
    pub code_batch_id: i64,
    pub stock_batch_id: Option<i64>,
    pub sku_id: i64,
    pub serial_from: i64,
    pub serial_to: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
