use sea_orm::entity::prelude::*;

/// Where a commission line comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CommissionSource {
    /// A sales fact (a line sold, refunded or given).
    SalesFact,
    /// A stored-value top-up.
    TopUp,
    /// A booking redeemed (a service).
    Booking,
    /// The plan's share of the BA's base salary.
    BaseSalary,
    /// The rating bonus set for the month.
    RatingBonus,
}

/// What a line does to the statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CommissionLineKind {
    /// Earned on a sale, service or top-up of the month.
    Earned,
    /// Taken back in the month it happens (negative): a refund, or unused stored-value
    /// principal paid back on a top-up.
    Clawback,
    /// A refund of a sale, or principal paid back on a top-up, whose month is already locked,
    /// carried into this open month.
    Adjustment,
    /// Base salary share or rating bonus.
    Fixed,
}

/// Which part of a split line a BA holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum SplitRole {
    /// The whole line (one BA).
    Sole,
    /// The member's designated (指定, exclusive) BA, when another BA served.
    Designated,
    /// The BA who served, when the member's designated BA is another.
    Assistant,
}

/// One explained line of a locked statement.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub statement_id: i64,
    /// Order within the statement.
    pub position: i32,
    pub source: CommissionSource,
    pub source_id: Option<i64>,
    pub kind: CommissionLineKind,
    pub item_kind: Option<crate::commission_plan_rule::CommissionItemKind>,
    pub split: SplitRole,
    pub business_date: Option<Date>,
    /// The line's base before the share (net revenue or margin of the fact, principal of the
    /// top-up, price of the service, base salary).
    pub base_fen: i64,
    pub share_bp: i32,
    /// The rate applied (none when a MARGINAL line straddles brackets: see the label).
    pub rate_bp: Option<i32>,
    pub amount_fen: i64,
    pub rule_label: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
