use sea_orm::entity::prelude::*;

use crate::typed::JsonText;

// What a coupon is worth (the GraphQL enum has the same name and variants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CouponKind {
    /// 满减: spend thresholdFen, get reductionFen off.
    ThresholdReduction,
    /// 折扣: percentOff off, at most capFen, optionally from thresholdFen.
    PercentDiscount,
    /// 无门槛: amountFen off.
    Cash,
    /// 兑换: a gift SKU handed out at the counter.
    Gift,
}

/// A coupon template (券模板): what a coupon is worth, where it applies, how many exist.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupon_templates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub kind: CouponKind,
    pub threshold_fen: Option<i64>,
    pub reduction_fen: Option<i64>,
    /// Percent off (1..99) for PERCENT_DISCOUNT.
    pub percent_off: Option<i32>,
    pub cap_fen: Option<i64>,
    pub amount_fen: Option<i64>,
    pub gift_sku_id: Option<i64>,
    pub total_quantity: i64,
    /// Copies issued so far (claimed or given); never above `total_quantity`.
    pub issued: i64,
    pub per_member_limit: i32,
    /// Fixed validity window, or `valid_days` from issue.
    pub valid_from: Option<DateTimeUtc>,
    pub valid_until: Option<DateTimeUtc>,
    pub valid_days: Option<i32>,
    /// Scope, JSON arrays; empty means all.
    pub sku_ids: JsonText<Vec<i64>>,
    pub category_ids: JsonText<Vec<i64>>,
    /// Order channels (stored as `["IN_STORE","ONLINE"]`); an unknown one fails the read.
    pub channels: JsonText<Vec<crate::order::Channel>>,
    pub store_ids: JsonText<Vec<i64>>,
    pub stacks_with_coupons: bool,
    pub stacks_with_flash_sale: bool,
    /// Issued automatically in the member's birthday month.
    pub birthday: bool,
    pub active: bool,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
