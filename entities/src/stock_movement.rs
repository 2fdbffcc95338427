use sea_orm::entity::prelude::*;

/// One change of stock: the ledger the on-hand figures are the sum of.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_movements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub location_id: i64,
    pub batch_id: i64,
    pub sku_id: i64,
    pub delta: i64,
    /// RECEIPT, ADJUSTMENT, TRANSFER_OUT, TRANSFER_IN, ORDER_RESERVE, ORDER_RELEASE, ...
    pub kind: String,
    pub reference: Option<String>,
    pub staff_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
