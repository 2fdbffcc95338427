use sea_orm::entity::prelude::*;

/// A member who bought in a month at a store (store 0 = none): the source of monthly distinct
/// member counts, which are never summed from days.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sales_member_months")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `YYYY-MM` in the business zone.
    pub month: String,
    pub store_id: i64,
    pub member_id: i64,
    /// Orders with a SALE fact that month.
    pub orders: i64,
    pub net_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
