use sea_orm::entity::prelude::*;

/// A distributor's one rebate balance row (返利账户). Every column is guarded by a database CHECK
/// (≥ 0) and changed only by conditional updates, each with its `rebate_entries` row in the same
/// transaction. Always `accrued + owed = pending + available + held + used`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rebate_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub distributor_id: i64,
    /// Everything accrued, net of reversals.
    pub accrued_fen: i64,
    /// Accrued, not yet settled (not spendable).
    pub pending_fen: i64,
    /// Settled and spendable on orders.
    pub available_fen: i64,
    /// Held by live orders (submitted, not yet shipped).
    pub held_fen: i64,
    /// Spent on shipped orders.
    pub used_fen: i64,
    /// Clawed back after settlement beyond what was available: the next settlements pay it
    /// off first.
    pub owed_fen: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
