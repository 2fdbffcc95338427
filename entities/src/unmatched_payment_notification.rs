use sea_orm::entity::prelude::*;

// Whether an unmatched notification told of a payment or a refund. (Plain comments on the
// GraphQL enums here: the published SDL lists them bare.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[cfg_attr(feature = "graphql", graphql(name = "PaymentNotificationKind"))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum NotificationKind {
    Payment,
    Refund,
}

// Why a genuine notification changed nothing and was kept for finance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum UnmatchedReason {
    // No order has its out_trade_no (a payment we never asked for).
    UnknownOrder,
    // No refund has its out_refund_no (a refund made outside Rouge, e.g. the merchant console).
    UnknownRefund,
    // Paid a different amount than the order's total.
    AmountMismatch,
    // Money arrived for an order already closed: it must go back to the payer.
    LateForClosedOrder,
    // Money arrived for an order paid by another transaction, or refunded.
    NotAwaitingPayment,
}

/// A genuine WeChat Pay notification that matched nothing to change (an unknown order or refund,
/// or money for an order no longer awaiting payment): acknowledged, and kept for finance.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unmatched_payment_notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub notification_id: String,
    pub kind: NotificationKind,
    pub reason: UnmatchedReason,
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
