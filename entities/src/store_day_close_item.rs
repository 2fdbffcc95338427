use sea_orm::entity::prelude::*;

// What moved money at a store: a paid order, a settled refund, a paid top-up, an expense.
// (A plain comment: the published SDL lists the GraphQL enum bare.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum DayEventKind {
    Sale,
    Refund,
    TopUp,
    Expense,
}

/// One money event a day close counted: on its own day, or as an adjustment (an event of an
/// earlier closed day recorded after that close). Unique per event: counted by one close only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_day_close_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub close_id: i64,
    pub store_id: i64,
    pub kind: DayEventKind,
    /// The order, refund, top-up or expense id.
    pub ref_id: i64,
    /// The event's own business day (earlier than the close's for an adjustment).
    pub event_date: Date,
    /// Order, refund or top-up number; the expense's category.
    pub reference: String,
    /// The money the event moved (positive; a refund or expense is money out by its kind).
    pub amount_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
