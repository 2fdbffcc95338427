use sea_orm::entity::prelude::*;

/// A BA's locked commission statement for a month at a store: written once by the lock.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_statements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub commission_month_id: i64,
    pub store_id: i64,
    pub staff_id: i64,
    /// `YYYY-MM`.
    pub month: String,
    pub plan_id: i64,
    pub total_fen: i64,
    pub locked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
