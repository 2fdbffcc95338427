use sea_orm::entity::prelude::*;

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
    /// AVAILABLE, USED or EXPIRED.
    pub status: String,
    /// CLAIM, ISSUE, BIRTHDAY or another module's source (SCAN, CAMPAIGN...).
    pub source: String,
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
