use sea_orm::entity::prelude::*;

/// A top-up plan HQ offers (充1000送100): pay `pay_fen`, get `bonus_fen` on top, the bonus valid
/// for `bonus_valid_days` (none: it does not expire). Principal never expires.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "top_up_plans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub pay_fen: i64,
    pub bonus_fen: i64,
    pub bonus_valid_days: Option<i32>,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
