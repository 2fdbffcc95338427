use sea_orm::entity::prelude::*;

// What a store spent money on (费用类别). A plain comment: the SDL lists it bare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ExpenseCategory {
    Rent,
    Utilities,
    Supplies,
    Marketing,
    Repairs,
    Travel,
    Other,
}

/// A store expense (费用) on a business day, recorded by the manager.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_expenses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub store_id: i64,
    pub business_date: Date,
    pub category: ExpenseCategory,
    pub amount_fen: i64,
    pub note: Option<String>,
    pub recorded_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
