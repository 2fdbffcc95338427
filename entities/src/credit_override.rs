use sea_orm::entity::prelude::*;

/// Credit granted to one purchase order above the distributor's limit (finance, audited): the
/// amount is added to `credit_accounts.override_fen` while the order lives and given back when
/// it ends (cancelled or rejected; completed orders through `release_credit_override`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_overrides")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub purchase_order_id: i64,
    pub distributor_id: i64,
    pub amount_fen: i64,
    pub reason: String,
    /// The staff member who granted it.
    pub granted_by: i64,
    pub granted_at: DateTimeUtc,
    /// What was given back when the order ended (None while it lives).
    pub returned_fen: Option<i64>,
    pub returned_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
