//! A booking as members and staff read it, and the checks the use cases make on one.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveEnum, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::policy::{Policy, policy};
use super::{BookingError, BookingStatus};
use crate::AppState;
use crate::auth::MemberPrincipal;
use entities::typed::JsonText;
use entities::{booking, booking_service};

#[derive(Debug, Clone)]
pub struct Booking {
    pub id: i64,
    pub member_id: i64,
    pub store_id: i64,
    pub service_id: i64,
    pub service_name: String,
    pub ba_id: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: BookingStatus,
    pub price_fen: i64,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub redeemed_at: Option<DateTime<Utc>>,
    pub products_used: Vec<i64>,
    pub notes: Option<String>,
    pub reminder_sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub(crate) async fn load_many<C: ConnectionTrait>(
    db: &C,
    rows: Vec<booking::Model>,
) -> Result<Vec<Booking>, BookingError> {
    let mut ids: Vec<i64> = rows.iter().map(|r| r.service_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<i64, String> = booking_service::Entity::find()
        .filter(booking_service::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| Booking {
            service_name: names.get(&r.service_id).cloned().unwrap_or_default(),
            id: r.id,
            member_id: r.member_id,
            store_id: r.store_id,
            service_id: r.service_id,
            ba_id: r.ba_id,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            status: r.status,
            price_fen: r.price_fen,
            checked_in_at: r.checked_in_at,
            redeemed_at: r.redeemed_at,
            products_used: r
                .products_used
                .map(JsonText::into_inner)
                .unwrap_or_default(),
            notes: r.notes,
            reminder_sent_at: r.reminder_sent_at,
            created_at: r.created_at,
        })
        .collect())
}

pub(super) async fn load_one<C: ConnectionTrait>(
    db: &C,
    row: booking::Model,
) -> Result<Booking, BookingError> {
    load_many(db, vec![row])
        .await?
        .pop()
        .ok_or(BookingError::NotFound("booking"))
}

pub(crate) async fn row<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<booking::Model, BookingError> {
    booking::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(BookingError::NotFound("booking"))
}

pub(super) fn own(row: &booking::Model, me: &MemberPrincipal) -> Result<(), BookingError> {
    if row.member_id == me.member_id {
        Ok(())
    } else {
        Err(BookingError::NotYours)
    }
}

pub(super) fn wrong_state(row: &booking::Model) -> BookingError {
    BookingError::WrongState(row.status.to_value().to_lowercase().replace('_', " "))
}

/// Members change bookings up to the store's cut-off before the start.
pub(super) async fn check_changeable(
    app: &AppState,
    row: &booking::Model,
) -> Result<Policy, BookingError> {
    if row.status != BookingStatus::Booked {
        return Err(wrong_state(row));
    }
    let policy = policy(app, &app.db, row.store_id).await?;
    let cutoff = i64::from(policy.cancel_cutoff_minutes);
    if app.clock.now() > row.starts_at - Duration::minutes(cutoff) {
        return Err(BookingError::TooLate(cutoff));
    }
    Ok(policy)
}
