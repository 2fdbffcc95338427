use sea_orm::entity::prelude::*;

/// A member's stored value (会员储值): principal (本金, money paid in) and bonus (赠送金, given by a
/// top-up plan) kept apart, each guarded by a CHECK (never below zero). Changed only by
/// conditional updates, each with a `balance_ledger` entry in the same transaction.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_balances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: i64,
    pub principal_fen: i64,
    pub bonus_fen: i64,
    /// When the bonus still held expires (principal never expires).
    pub bonus_expires_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
