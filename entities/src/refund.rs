use sea_orm::entity::prelude::*;

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
    /// PROCESSING, SUCCESS, CLOSED or ABNORMAL.
    pub status: String,
    pub wechat_refund_id: Option<String>,
    /// JSON: [{lineId, quantity}] returned by this refund.
    pub lines: String,
    pub requested_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
