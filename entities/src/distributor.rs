use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "distributors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// A, B or C: decides the price list and policies.
    pub level: String,
    /// The territory the distributor sells in (province name).
    pub region: String,
    /// The territory as GB/T 2260 codes, one per line (filled from `region`).
    pub region_codes: Option<String>,
    pub credit_limit_fen: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
