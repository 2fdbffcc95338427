//! A member books a service, idempotently.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use sha2::{Digest, Sha256};

use super::cells::{hold_cells, hold_member_cells};
use super::open_slots::free_bas_at;
use super::policy::policy;
use super::record::{Booking, load_one};
use super::{BookingError, BookingStatus, invalid, load_store, slots_changed};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::platform::error::UniqueViolation;
use crate::platform::{db, idempotency, validate};
use entities::booking;

#[derive(Debug, Clone, Copy)]
pub struct BookInput {
    pub store_id: i64,
    pub service_id: i64,
    pub ba_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
}

fn fingerprint(input: &BookInput) -> String {
    hex::encode(Sha256::digest(
        format!(
            "{}|{}|{:?}|{}",
            input.store_id,
            input.service_id,
            input.ba_id,
            input.starts_at.timestamp()
        )
        .as_bytes(),
    ))
}

async fn by_key(
    app: &AppState,
    member_id: i64,
    key: &str,
) -> Result<Option<booking::Model>, BookingError> {
    Ok(booking::Entity::find()
        .filter(booking::Column::MemberId.eq(member_id))
        .filter(booking::Column::IdempotencyKey.eq(key))
        .one(&app.db)
        .await?)
}

/// The booking made under this key, when the request is the same; a conflict when it is not.
async fn recorded(
    app: &AppState,
    member_id: i64,
    key: &str,
    hash: &str,
) -> Result<Option<Booking>, BookingError> {
    let Some(row) = by_key(app, member_id, key).await? else {
        return Ok(None);
    };
    if row.request_hash != hash {
        return Err(BookingError::KeyReused);
    }
    load_one(&app.db, row).await.map(Some)
}

/// Refuses members paused after repeated no-shows.
async fn check_no_shows(app: &AppState, member_id: i64) -> Result<(), BookingError> {
    let s = &app.settings.booking;
    let now = app.clock.now();
    let recent: Vec<DateTime<Utc>> = booking::Entity::find()
        .select_only()
        .column(booking::Column::EndsAt)
        .filter(booking::Column::MemberId.eq(member_id))
        .filter(booking::Column::Status.eq(BookingStatus::NoShow))
        .filter(booking::Column::StartsAt.gte(now - s.no_show_window))
        .order_by_desc(booking::Column::StartsAt)
        .into_tuple()
        .all(&app.db)
        .await?;
    if s.no_show_limit > 0
        && recent.len() as u64 >= s.no_show_limit
        && let Some(latest) = recent.first()
    {
        let until = *latest + s.no_show_pause;
        if until > now {
            return Err(BookingError::NoShowLimit(until));
        }
    }
    Ok(())
}

pub(super) fn check_start(
    app: &AppState,
    horizon_days: i32,
    start: DateTime<Utc>,
) -> Result<(), BookingError> {
    let now = app.clock.now();
    if start <= now {
        return Err(invalid("that time has passed"));
    }
    if start > now + Duration::days(i64::from(horizon_days)) {
        return Err(invalid(format!("bookings open {horizon_days} days ahead")));
    }
    if start.timestamp() % (60 * super::CELL_MINUTES) != 0 {
        return Err(BookingError::SlotUnavailable);
    }
    Ok(())
}

enum Attempt {
    Booked(Box<booking::Model>),
    /// The BA's time is taken: another BA may be free.
    Taken,
}

async fn try_book(
    app: &AppState,
    row: booking::ActiveModel,
    ba_id: i64,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Attempt, BookingError> {
    let txn = db::begin_write(&app.db).await?;
    // A twin request under the same key: its booking is the answer (see `book`).
    let booking = row
        .insert(&txn)
        .await
        .on_unique_violation(|| BookingError::KeyReused)?;
    if !hold_member_cells(&txn, booking.member_id, booking.id, start, booking.ends_at).await? {
        txn.rollback().await?;
        return Err(BookingError::MemberOverlap);
    }
    if !hold_cells(&txn, ba_id, booking.id, start, until).await? {
        txn.rollback().await?;
        return Ok(Attempt::Taken);
    }
    txn.commit().await?;
    slots_changed(app, booking.store_id).await;
    Ok(Attempt::Booked(Box::new(booking)))
}

/// A member books a service. With no BA named, the least busy free qualified BA is taken. The
/// same idempotency key returns the first booking; a different request under it is a conflict.
#[tracing::instrument(skip_all, err(level = "debug"), fields(member_id = me.member_id, store_id = input.store_id))]
pub async fn book(
    app: &AppState,
    me: &MemberPrincipal,
    input: BookInput,
    idempotency_key: &str,
) -> Result<Booking, BookingError> {
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    let hash = fingerprint(&input);
    idempotency::same_answer(
        || recorded(app, me.member_id, idempotency_key, &hash),
        || book_new(app, me, input, idempotency_key, &hash),
    )
    .await
}

async fn book_new(
    app: &AppState,
    me: &MemberPrincipal,
    input: BookInput,
    idempotency_key: &str,
    hash: &str,
) -> Result<Booking, BookingError> {
    let store = load_store(&app.db, input.store_id).await?;
    let policy = policy(app, &app.db, store.id).await?;
    check_start(app, policy.horizon_days, input.starts_at)?;
    check_no_shows(app, me.member_id).await?;
    let (service, bas) = free_bas_at(
        app,
        &store,
        input.service_id,
        input.ba_id,
        input.starts_at,
        None,
    )
    .await?;
    let ends_at = input.starts_at + Duration::minutes(i64::from(service.duration_minutes));
    let holds_until = ends_at + Duration::minutes(i64::from(service.buffer_minutes));
    let now = app.clock.now();
    for ba_id in bas {
        let row = booking::ActiveModel {
            member_id: Set(me.member_id),
            store_id: Set(store.id),
            service_id: Set(service.id),
            ba_id: Set(ba_id),
            starts_at: Set(input.starts_at),
            ends_at: Set(ends_at),
            holds_until: Set(holds_until),
            status: Set(BookingStatus::Booked),
            price_fen: Set(service.price_fen),
            idempotency_key: Set(idempotency_key.to_owned()),
            request_hash: Set(hash.to_owned()),
            checked_in_at: Set(None),
            checked_in_by: Set(None),
            redeemed_at: Set(None),
            redeemed_by: Set(None),
            products_used: Set(None),
            notes: Set(None),
            cancelled_at: Set(None),
            reminder_sent_at: Set(None),
            reminder_outcome: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        match try_book(app, row, ba_id, input.starts_at, holds_until).await? {
            Attempt::Booked(b) => return load_one(&app.db, *b).await,
            Attempt::Taken => {}
        }
    }
    Err(BookingError::SlotTaken)
}
