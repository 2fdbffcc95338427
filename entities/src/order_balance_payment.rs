use sea_orm::entity::prelude::*;

/// What a member's stored value paid of one order, principal and bonus apart, and how much of
/// each has gone back by refunds (CHECKs: never more than was paid).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_balance_payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: i64,
    pub member_id: i64,
    pub principal_fen: i64,
    pub bonus_fen: i64,
    pub refunded_principal_fen: i64,
    pub refunded_bonus_fen: i64,
    pub created_at: DateTimeUtc,
}

impl Model {
    pub fn total_fen(&self) -> i64 {
        self.principal_fen + self.bonus_fen
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
