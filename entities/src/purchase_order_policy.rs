use sea_orm::entity::prelude::*;

/// What one policy did to one purchase order when it was submitted (or last edited): the
/// discount it gave and the gift units it added. Feeds 政策执行率 (`policyExecution`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchase_order_policies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub purchase_order_id: i64,
    pub policy_id: i64,
    pub distributor_id: i64,
    pub discount_fen: i64,
    pub gift_units: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
