use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::typed::JsonText;

// Where a booking is: BOOKED until the member is checked in (CHECKED_IN), then REDEEMED at
// the counter; CANCELLED by the member, NO_SHOW when not checked in by the end of its slot.
// (Plain comments: the GraphQL enum keeps its description-less SDL.) Serde names are the
// stored text too (segment rules name a status in their JSON).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BookingStatus {
    Booked,
    CheckedIn,
    Redeemed,
    Cancelled,
    NoShow,
}

impl BookingStatus {
    /// Statuses that hold the BA's time.
    pub const HOLDING: [Self; 4] = [Self::Booked, Self::CheckedIn, Self::Redeemed, Self::NoShow];
}

/// What the reminder send answered; SENDING while a worker holds the claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ReminderOutcome {
    Sending,
    Sent,
    NoConsent,
    Refused,
    Rejected,
}

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
    pub status: BookingStatus,
    pub price_fen: i64,
    pub idempotency_key: String,
    pub request_hash: String,
    pub checked_in_at: Option<DateTimeUtc>,
    pub checked_in_by: Option<i64>,
    pub redeemed_at: Option<DateTimeUtc>,
    pub redeemed_by: Option<i64>,
    /// JSON array of SKU ids used during the service.
    pub products_used: Option<JsonText<Vec<i64>>>,
    pub notes: Option<String>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub reminder_sent_at: Option<DateTimeUtc>,
    pub reminder_outcome: Option<ReminderOutcome>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
