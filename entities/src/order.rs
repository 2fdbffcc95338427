use sea_orm::entity::prelude::*;

/// A consumer order: online (pick-up or delivery) or an in-store sale a BA records.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Our order number, also WeChat Pay out_trade_no.
    #[sea_orm(unique)]
    pub order_no: String,
    pub member_id: i64,
    /// ONLINE or IN_STORE.
    pub channel: String,
    /// PICKUP, DELIVERY or COUNTER.
    pub fulfilment: String,
    pub store_id: Option<i64>,
    pub location_id: i64,
    /// PENDING_PAYMENT, PAID, CLOSED, REFUNDED, PARTIALLY_REFUNDED.
    pub status: String,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub refunded_fen: i64,
    /// WECHAT, ALIPAY, CARD or CASH.
    pub payment_method: Option<String>,
    pub transaction_id: Option<String>,
    /// The BA credited for the sale (the recording BA, or the member's exclusive BA online).
    pub ba_id: Option<i64>,
    /// Unique per member: a retried placeOrder returns the first order.
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    /// Fingerprint of the request behind the idempotency key; a different request with the same key is a conflict.
    pub request_hash: Option<String>,
    pub delivery_address: Option<String>,
    pub pay_deadline: Option<DateTimeUtc>,
    pub paid_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
