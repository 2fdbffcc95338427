use sea_orm::entity::prelude::*;

// The GraphQL enums below carry no descriptions (plain comments, not doc comments): the
// published SDL lists them bare.

// Where the order was made: the mini-program, or a sale a BA recorded at the counter.
// Serde names match the stored text: coupon templates keep channel lists as JSON.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    Online,
    InStore,
}

impl Channel {
    /// The stored text, for places that still hold channels as strings (a coupon template's
    /// scope, JSON); a test keeps it equal to `to_value()`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Online => "ONLINE",
            Self::InStore => "IN_STORE",
        }
    }

    /// The channel a stored string names, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::try_from_value(&text.to_owned()).ok()
    }
}

// How the order reaches the member: collected at a store, delivered, or handed over at the
// counter (in-store sales).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum FulfilmentKind {
    Pickup,
    Delivery,
    Counter,
}

// Where an order is in its life: awaiting payment (online only), paid, closed unpaid, or
// refunded in part or whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Closed,
    PartiallyRefunded,
    Refunded,
}

impl OrderStatus {
    /// The stored text, for filters written with strings; a test keeps it equal to
    /// `to_value()`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "PENDING_PAYMENT",
            Self::Paid => "PAID",
            Self::Closed => "CLOSED",
            Self::PartiallyRefunded => "PARTIALLY_REFUNDED",
            Self::Refunded => "REFUNDED",
        }
    }
}

// How the order was paid: WeChat Pay online, or one of the counter's ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum PaymentMethod {
    Wechat,
    Alipay,
    Card,
    Cash,
    /// The member's stored value (会员储值), alone or with WeChat Pay for the rest.
    Balance,
}

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
    pub channel: Channel,
    pub fulfilment: FulfilmentKind,
    pub store_id: Option<i64>,
    pub location_id: i64,
    pub status: OrderStatus,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub refunded_fen: i64,
    /// Set once paid (in-store sales at once, online orders by WeChat Pay).
    pub payment_method: Option<PaymentMethod>,
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

#[cfg(test)]
mod tests {
    use sea_orm::Iterable;

    use super::*;

    #[test]
    fn string_forms_are_the_stored_text() {
        for c in Channel::iter() {
            assert_eq!(c.as_str(), c.to_value());
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse("SHOP"), None);
        for s in OrderStatus::iter() {
            assert_eq!(s.as_str(), s.to_value());
        }
    }

    // Coupon templates keep channel lists as JSON text written by earlier releases.
    #[test]
    fn channel_lists_keep_their_stored_json() -> Result<(), serde_json::Error> {
        let stored = r#"["IN_STORE","ONLINE"]"#;
        let read: Vec<Channel> = serde_json::from_str(stored)?;
        assert_eq!(read, vec![Channel::InStore, Channel::Online]);
        assert_eq!(serde_json::to_string(&read)?, stored);
        assert!(serde_json::from_str::<Vec<Channel>>(r#"["MAIL"]"#).is_err());
        Ok(())
    }
}
