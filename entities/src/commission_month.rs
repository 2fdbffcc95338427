use sea_orm::entity::prelude::*;

/// A store's month locked for commission: its statements are written and never change. The
/// unique (store, month) row is what makes two locks at once write one set of statements.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_months")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub store_id: i64,
    /// `YYYY-MM`.
    pub month: String,
    pub plan_id: i64,
    pub total_fen: i64,
    pub locked_by: i64,
    pub locked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
