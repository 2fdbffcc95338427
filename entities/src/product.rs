use sea_orm::entity::prelude::*;

use crate::typed::JsonText;

/// A product; what is sold is one of its SKUs.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub description: String,
    pub category_id: i64,
    /// JSON array of efficacy claims (功效), e.g. ["保湿", "舒缓"].
    pub efficacy_claims: JsonText<Vec<String>>,
    /// Bit set of the skin types the product suits (same bits as domain::members::SkinType).
    pub suitable_skin_types: i32,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
