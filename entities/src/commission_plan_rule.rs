use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::typed::JsonText;

/// What a commission line is earned on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CommissionItemKind {
    /// Products sold (the sales facts).
    Product,
    /// Services redeemed at the counter (bookings).
    Service,
    /// Stored-value top-ups recorded at the counter (principal only).
    TopUp,
}

/// What the rate applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CommissionBase {
    /// What the member paid (after discounts, refunds negative).
    NetRevenue,
    /// Net revenue − cost at the sale.
    Margin,
}

/// A single rate, or brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CommissionMethod {
    Flat,
    Tiered,
}

/// From `from_fen` of a BA's month base on, `rate_bp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bracket {
    pub from_fen: i64,
    pub rate_bp: i32,
}

/// One rule of a plan version: one per item kind.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_plan_rules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub plan_id: i64,
    pub item_kind: CommissionItemKind,
    pub base: CommissionBase,
    pub method: CommissionMethod,
    /// FLAT: the rate in basis points.
    pub rate_bp: Option<i32>,
    /// TIERED: brackets, the first from 0, ascending.
    pub brackets: Option<JsonText<Vec<Bracket>>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
