use sea_orm::entity::prelude::*;

use crate::order::PaymentMethod;

/// Where a top-up stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum TopUpStatus {
    /// Waiting for WeChat Pay.
    PendingPayment,
    /// Paid and credited.
    Paid,
}

/// One top-up: online (WeChat Pay, credited once when the payment notification comes) or at
/// the counter (recorded by a BA, credited at once).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "top_ups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Also the WeChat Pay `out_trade_no` of an online top-up.
    #[sea_orm(unique)]
    pub top_up_no: String,
    pub member_id: i64,
    pub plan_id: Option<i64>,
    pub tender: PaymentMethod,
    pub principal_fen: i64,
    pub bonus_fen: i64,
    /// The plan's bonus validity when the top-up was made (none: the bonus does not expire).
    pub bonus_valid_days: Option<i32>,
    pub status: TopUpStatus,
    pub staff_id: Option<i64>,
    pub store_id: Option<i64>,
    /// Scoped by who asked (member or staff); a retry with the same key returns the same top-up.
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub transaction_id: Option<String>,
    pub paid_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
