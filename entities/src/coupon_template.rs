use sea_orm::entity::prelude::*;

/// A coupon template (券模板): what a coupon is worth, where it applies, how many exist.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupon_templates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// THRESHOLD_REDUCTION, PERCENT_DISCOUNT, CASH or GIFT.
    pub kind: String,
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
    /// JSON arrays; empty means all.
    pub sku_ids: String,
    pub category_ids: String,
    pub channels: String,
    pub store_ids: String,
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
