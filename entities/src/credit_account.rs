use sea_orm::entity::prelude::*;

/// A distributor's one credit row. A CHECK keeps `reserved_fen + open_ar_fen <= limit_fen +
/// override_fen`; the counters change only by conditional updates, each with a credit entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub distributor_id: i64,
    pub limit_fen: i64,
    pub override_fen: i64,
    /// Credit held by submitted orders not yet invoiced.
    pub reserved_fen: i64,
    /// Open receivables (shipped, not yet paid).
    pub open_ar_fen: i64,
    /// Pays before shipping (款到发货): orders take no credit.
    pub prepaid: bool,
    pub payment_term_days: i32,
    pub grace_days: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
