use sea_orm::entity::prelude::*;

/// When a store is open on a weekday, in minutes from local midnight (no row: closed).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_opening_hours")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub store_id: i64,
    /// 1 = Monday ... 7 = Sunday.
    #[sea_orm(primary_key, auto_increment = false)]
    pub weekday: i32,
    pub opens_minute: i32,
    /// Up to 1440 (midnight).
    pub closes_minute: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
