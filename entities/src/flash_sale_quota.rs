use sea_orm::entity::prelude::*;

/// The units of a flash sale a member holds in orders that are not closed (never above the
/// sale's per-member limit: a conditional upsert in the order's transaction).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "flash_sale_quotas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sale_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: i64,
    pub units: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
