use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::typed::JsonText;

/// What a B2B policy (渠道政策) does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum PolicyKind {
    /// 满减: an order whose subtotal reaches the threshold gets an amount off, once.
    OrderReduction,
    /// 搭赠: every full `buy` units of a SKU (summed over the order's lines) bring `get` units
    /// of the gift SKU free, rounded down.
    BuyNGetM,
    /// 季度返点: a share of the quarter's received value once it passes a threshold, accrued on
    /// receipt, settled per quarter (mode WHOLE or MARGINAL).
    VolumeRebate,
    /// 动销返利: an amount per first consumer scan, inside the distributor's territory, of a
    /// pack shipped to that distributor.
    ScanRebate,
}

/// How a volume rebate's rate applies once the threshold is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RebateMode {
    /// Retroactive: the rate on the whole quarter's value (超500万返3%: 3% of all of it).
    Whole,
    /// Only on the value above the threshold.
    Marginal,
}

/// The numbers of a policy, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PolicyRule {
    OrderReduction {
        threshold_fen: i64,
        off_fen: i64,
    },
    BuyNGetM {
        sku_id: i64,
        buy: i32,
        gift_sku_id: i64,
        get: i32,
    },
    VolumeRebate {
        threshold_fen: i64,
        /// The rate in basis points (300 = 3%).
        rate_bp: i32,
        mode: RebateMode,
        /// At most this percent of an order may be paid with rebate.
        max_use_percent: i32,
    },
    ScanRebate {
        fen_per_scan: i64,
        /// At most this percent of an order may be paid with rebate.
        max_use_percent: i32,
    },
}

impl PolicyRule {
    pub fn kind(&self) -> PolicyKind {
        match self {
            Self::OrderReduction { .. } => PolicyKind::OrderReduction,
            Self::BuyNGetM { .. } => PolicyKind::BuyNGetM,
            Self::VolumeRebate { .. } => PolicyKind::VolumeRebate,
            Self::ScanRebate { .. } => PolicyKind::ScanRebate,
        }
    }
}

/// A channel policy, scoped to one tier (or every tier), valid in a window, applied in
/// priority order; a must-confirm policy (强制确认) blocks ordering until the distributor's
/// OWNER or BUYER acknowledges it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "b2b_policies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub kind: PolicyKind,
    pub rule: JsonText<PolicyRule>,
    /// None: every tier.
    pub tier_id: Option<i64>,
    pub valid_from: DateTimeUtc,
    pub valid_to: DateTimeUtc,
    /// Lower first.
    pub priority: i32,
    pub requires_ack: bool,
    pub created_at: DateTimeUtc,
    /// None: every kind of distributor.
    pub distributor_kind: Option<crate::distributor::DistributorKind>,
    /// GB/T 2260 codes, one per line: the policy is for distributors whose territory lies
    /// inside one of them (None: everywhere).
    pub region_codes: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
