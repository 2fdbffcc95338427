use sea_orm::entity::prelude::*;

// A copy's stored state. AVAILABLE copies past their end are shown as EXPIRED (the domain
// reads `valid_until` too); used copies are USED, shown as RESERVED while the order that took
// them awaits payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CouponStatus {
    Available,
    Used,
    Expired,
    /// Never stored: a USED copy whose order is still PENDING_PAYMENT, as the member sees it
    /// (it goes back to AVAILABLE if the order closes unpaid).
    Reserved,
}

/// Where a coupon came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CouponSource {
    /// Claimed by the member in the claim centre.
    Claim,
    /// Issued by HQ to a list of members.
    Issue,
    /// Given automatically in the member's birthday month.
    Birthday,
    /// Sent with a campaign message.
    Campaign,
    /// A scan-for-gift prize.
    Scan,
}

/// A member's copy of a coupon template.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupons")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub template_id: i64,
    pub member_id: i64,
    /// The n-th copy of this template the member holds (unique with template and member).
    pub seq: i32,
    pub status: CouponStatus,
    pub source: CouponSource,
    /// Idempotency: template, member and the source's key.
    #[sea_orm(unique)]
    pub issue_key: String,
    /// The source's own key (campaign id, birthday year...), found with `source` by equality.
    pub source_key: Option<String>,
    pub valid_from: DateTimeUtc,
    pub valid_until: DateTimeUtc,
    pub issued_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub used_order_id: Option<i64>,
    pub used_store_id: Option<i64>,
    pub used_by_staff: Option<i64>,
    /// What the coupon took off the order it was used on.
    pub discount_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
