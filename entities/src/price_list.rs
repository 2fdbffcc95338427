use sea_orm::entity::prelude::*;

/// One published version of a tier's price list; the newest version whose `valid_from` has
/// passed is the one in force. Versions are never edited: a change is a new version.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "price_lists")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tier_id: i64,
    pub version: i32,
    pub valid_from: DateTimeUtc,
    /// The staff account that published it.
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
