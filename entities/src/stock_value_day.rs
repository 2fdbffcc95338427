use sea_orm::entity::prelude::*;

/// The stock of one SKU at one location as it stood on a business day (taken by the worker
/// early that day), valued at the SKU's cost at that time: the basis of turnover days.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_value_days")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub business_date: Date,
    pub location_id: i64,
    pub sku_id: i64,
    pub quantity: i64,
    /// The SKU's cost when the snapshot was taken.
    pub unit_cost_fen: i64,
    pub value_fen: i64,
    pub taken_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
