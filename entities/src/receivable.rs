use sea_orm::entity::prelude::*;

/// What a shipment invoiced a distributor (应收), due on `due_on` (a day in Asia/Shanghai);
/// payments fill `paid_fen` oldest first. `paid_fen <= amount_fen` is a CHECK.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "receivables")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub distributor_id: i64,
    #[sea_orm(unique)]
    pub shipment_id: i64,
    pub purchase_order_id: i64,
    pub amount_fen: i64,
    pub paid_fen: i64,
    pub due_on: Date,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
