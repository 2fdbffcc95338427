use sea_orm::entity::prelude::*;

use crate::typed::JsonText;

/// Where a refund is: PROCESSING until WeChat Pay (or the counter, at once) settles it as
/// SUCCESS, CLOSED or ABNORMAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum RefundStatus {
    Processing,
    Success,
    Closed,
    Abnormal,
}

/// A whole or partial refund of a paid order, through WeChat Pay or at the counter.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    /// Our refund number, also WeChat Pay out_refund_no.
    #[sea_orm(unique)]
    pub refund_no: String,
    pub amount_fen: i64,
    pub reason: Option<String>,
    pub status: RefundStatus,
    pub wechat_refund_id: Option<String>,
    /// The units this refund returns, as JSON pairs `[[orderLineId, quantity], ...]`.
    pub lines: JsonText<Vec<(i64, i32)>>,
    pub requested_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
