use sea_orm::entity::prelude::*;

/// A member's booking of a service with a BA at a store.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub member_id: i64,
    pub store_id: i64,
    pub service_id: i64,
    pub ba_id: i64,
    pub starts_at: DateTimeUtc,
    /// End of the service.
    pub ends_at: DateTimeUtc,
    /// End of the service plus its buffer: the BA is held until then.
    pub holds_until: DateTimeUtc,
    /// BOOKED, CHECKED_IN, REDEEMED, CANCELLED or NO_SHOW.
    pub status: String,
    pub price_fen: i64,
    pub idempotency_key: String,
    pub request_hash: String,
    pub checked_in_at: Option<DateTimeUtc>,
    pub checked_in_by: Option<i64>,
    pub redeemed_at: Option<DateTimeUtc>,
    pub redeemed_by: Option<i64>,
    /// JSON array of SKU ids used during the service.
    pub products_used: Option<String>,
    pub notes: Option<String>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub reminder_sent_at: Option<DateTimeUtc>,
    /// What the reminder send answered (SENT, NO_CONSENT, REFUSED, REJECTED).
    pub reminder_outcome: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
