use sea_orm::entity::prelude::*;

use crate::order::Channel;

// What happened to a line: sold, refunded (negative quantities and money), or given away
// (a line sold at no price: its cost is still a cost). A plain comment: the SDL lists it bare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum SalesEvent {
    Sale,
    Refund,
    Gift,
}

/// One line event, written once in the transaction that moved the money and never updated:
/// attribution and cost are frozen as they were then.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sales_facts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `SALE:<line>` or `REFUND:<refund>:<line>`: a repeated event writes no second fact.
    #[sea_orm(unique)]
    pub fact_key: String,
    pub event: SalesEvent,
    pub order_id: i64,
    pub order_line_id: i64,
    pub refund_id: Option<i64>,
    pub occurred_at: DateTimeUtc,
    /// The day the event happened, in the store's zone (Asia/Shanghai).
    pub business_date: Date,
    /// The day of the sale the event belongs to (a refund's original sale day).
    pub sale_date: Date,
    pub store_id: Option<i64>,
    pub channel: Channel,
    /// The BA credited with the sale (the one who recorded it).
    pub ba_id: Option<i64>,
    /// The member's exclusive BA at the time.
    pub exclusive_ba_id: Option<i64>,
    pub member_id: i64,
    pub sku_id: i64,
    pub product_id: i64,
    pub category_id: i64,
    /// The campaign whose message last reached the member within its attribution window.
    pub campaign_id: Option<i64>,
    pub coupon_template_id: Option<i64>,
    /// The member's administrative division code, when known.
    pub region_code: Option<String>,
    /// Units: negative on a refund.
    pub quantity: i32,
    /// List price × quantity (negative on a refund).
    pub gross_fen: i64,
    /// Every discount on the line (tier, coupon, flash price).
    pub discount_fen: i64,
    /// The coupons' share of `discount_fen`.
    pub coupon_discount_fen: i64,
    /// What the member paid for the line: gross − discount (negative on a refund).
    pub net_fen: i64,
    /// Unit cost at the sale × quantity (negative on a refund).
    pub cost_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
