use sea_orm::entity::prelude::*;

/// A store's closed business day (日结): the figures as they were at the close, frozen (JSON
/// text, written once), and the cash counted against the cash expected. One per store and day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_day_closes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub store_id: i64,
    /// The store's business day (its zone, Asia/Shanghai by default).
    pub business_date: Date,
    /// The day's figures and the adjustments it took in, as JSON: never updated.
    #[sea_orm(column_type = "Text")]
    pub figures: String,
    pub expected_cash_fen: i64,
    pub counted_cash_fen: i64,
    /// Counted − expected.
    pub difference_fen: i64,
    pub difference_reason: Option<String>,
    pub note: Option<String>,
    pub closed_by: i64,
    pub closed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
