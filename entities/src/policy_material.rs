use sea_orm::entity::prelude::*;

/// A marketing material HQ attached to a B2B policy (营销物料 pushed with the policy): a
/// PRIVATE media asset with a title, downloaded by the distributors the policy is addressed to
/// through short-lived signed links.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "policy_materials")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub policy_id: i64,
    pub asset_id: i64,
    pub title: String,
    pub attached_by_staff_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
