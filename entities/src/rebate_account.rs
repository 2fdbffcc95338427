use sea_orm::entity::prelude::*;

/// One rebate balance row per distributor, the sums of its ledger: accrued (ever), pending
/// (accrued, not settled), available (settled, spendable; CHECK ≥ 0) and held (reserved by
/// orders; CHECK ≥ 0).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rebate_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub distributor_id: i64,
    pub accrued_fen: i64,
    pub pending_fen: i64,
    pub available_fen: i64,
    pub held_fen: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
