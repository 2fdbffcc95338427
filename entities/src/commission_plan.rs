use sea_orm::entity::prelude::*;

/// How a TIERED rule reads its brackets: the bracket the month's base reaches applies to the
/// whole base (WHOLE_MONTH), or each part of the base earns its own bracket's rate (MARGINAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum TierMode {
    WholeMonth,
    Marginal,
}

/// One version of a commission plan (提成方案): for one store or brand-wide (no store), in force
/// from `effective_month` until a later version of the same scope. Never updated: a change is a
/// new version.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_plans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `BRAND` or `STORE:<id>`: versions count per scope.
    pub scope: String,
    pub store_id: Option<i64>,
    pub version: i32,
    /// `YYYY-MM`.
    pub effective_month: String,
    pub name: String,
    pub tier_mode: TierMode,
    /// The designated (指定) BA's share of a split line, in basis points.
    pub designated_share_bp: i32,
    /// The assisting BA's share; the two add up to 10,000.
    pub assistant_share_bp: i32,
    /// The part of a BA's base salary paid as bonus (seed 004: 基础工资×20%), in basis points.
    pub base_salary_rate_bp: i32,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
