use sea_orm::entity::prelude::*;

/// A genuine WeChat Pay notification that matched nothing to change (an unknown order or refund,
/// or money for an order no longer awaiting payment): acknowledged, and kept for finance.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unmatched_payment_notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub notification_id: String,
    /// PAYMENT or REFUND.
    pub kind: String,
    /// UNKNOWN_ORDER, UNKNOWN_REFUND, AMOUNT_MISMATCH, LATE_FOR_CLOSED_ORDER, NOT_AWAITING_PAYMENT.
    pub reason: String,
    pub out_trade_no: Option<String>,
    pub out_refund_no: Option<String>,
    pub amount_fen: i64,
    /// The decrypted resource's non-secret fields, as JSON.
    pub summary: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
