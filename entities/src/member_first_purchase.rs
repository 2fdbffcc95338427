use sea_orm::entity::prelude::*;

/// A member's first business day with a SALE or GIFT fact (her first purchase with the brand),
/// kept in the transaction that writes the facts: NEW_MEMBERS reads it instead of taking every
/// member's minimum over all facts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_first_purchases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: i64,
    pub first_day: Date,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
