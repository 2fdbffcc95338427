//! Members find open slots, book (idempotently), reschedule and cancel; at the counter a BA
//! checks the member in with the booking's signed code and redeems the booking.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use sha2::{Digest, Sha256};

use super::setup::{Ba, load_service, load_store, policy, skills_of, store_bas};
use super::slots::{self, Slot, SlotInputs};
use super::window_cache::{self, WindowKey, slots_changed};
use super::{BookingError, BookingStatus, HOLDING, cells, invalid, require_store, store_zone};
use crate::auth::{MemberPrincipal, Permission, StaffPrincipal};
use crate::error::UniqueViolation;
use crate::signed_codes::CodeError;
use crate::{AppState, db, idempotency, validate};
use entities::{
    ba_block, ba_shift, booking, booking_cell, booking_member_cell, booking_service, sku, store,
    store_closure, store_opening_hours,
};

/// The kind tag of booking check-in codes.
pub const CODE_KIND: &str = "BK";

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
            status: BookingStatus::parse(&r.status).unwrap_or(BookingStatus::Cancelled),
            price_fen: r.price_fen,
            checked_in_at: r.checked_in_at,
            redeemed_at: r.redeemed_at,
            products_used: r
                .products_used
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default(),
            notes: r.notes,
            reminder_sent_at: r.reminder_sent_at,
            created_at: r.created_at,
        })
        .collect())
}

async fn load_one<C: ConnectionTrait>(
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

/// The open slots of a window at any time of day, as cached for searches.
#[derive(Debug)]
pub(crate) struct OpenSlots {
    pub horizon_days: i32,
    pub slots: Vec<Slot>,
}

/// A store's setup and busy time for a window, ready for [`slots::compute`].
struct Window {
    service: booking_service::Model,
    policy: super::setup::Policy,
    inputs: SlotInputs,
    /// Busy intervals per BA, for offering the least busy BA first.
    load: HashMap<i64, usize>,
}

/// Reads what slots depend on for local days `from .. from + days`.
async fn load_window(
    app: &AppState,
    store: &store::Model,
    service_id: i64,
    ba_id: Option<i64>,
    from: NaiveDate,
    days: i64,
    exclude_booking: Option<i64>,
) -> Result<Window, BookingError> {
    let zone = store_zone(store);
    let (window_start, _) = super::day_window(zone, from);
    let window_end = super::day_window(zone, from + Duration::days(days - 1)).1;
    let db = &app.db;
    let store_id = store.id;
    // One query after another: a request holds at most one connection, so a crowd of slot
    // searches queues fairly on the pool instead of each taking eight connections at once.
    let service = load_service(db, service_id).await?;
    let policy = policy(app, db, store_id).await?;
    let hours = store_opening_hours::Entity::find()
        .filter(store_opening_hours::Column::StoreId.eq(store_id))
        .all(db)
        .await?;
    let closures = store_closure::Entity::find()
        .filter(store_closure::Column::StoreId.eq(store_id))
        .filter(store_closure::Column::ClosedOn.gte(from))
        .filter(store_closure::Column::ClosedOn.lt(from + Duration::days(days)))
        .all(db)
        .await?;
    let bas = store_bas(db, store_id).await?;
    let shifts = ba_shift::Entity::find()
        .select_only()
        .columns([
            ba_shift::Column::StaffId,
            ba_shift::Column::StartsAt,
            ba_shift::Column::EndsAt,
        ])
        .filter(ba_shift::Column::StoreId.eq(store_id))
        .filter(ba_shift::Column::StartsAt.lt(window_end))
        .filter(ba_shift::Column::StartsAt.gt(window_start - Duration::days(1)))
        .filter(ba_shift::Column::EndsAt.gt(window_start))
        .into_tuple::<(i64, DateTime<Utc>, DateTime<Utc>)>()
        .all(db)
        .await?;
    let blocks = ba_block::Entity::find()
        .select_only()
        .columns([
            ba_block::Column::StaffId,
            ba_block::Column::StartsAt,
            ba_block::Column::EndsAt,
        ])
        .filter(ba_block::Column::StoreId.eq(store_id))
        .filter(ba_block::Column::StartsAt.lt(window_end))
        .filter(ba_block::Column::EndsAt.gt(window_start))
        .into_tuple::<(i64, DateTime<Utc>, DateTime<Utc>)>()
        .all(db)
        .await?;
    let mut bookings = booking::Entity::find()
        .select_only()
        .columns([
            booking::Column::BaId,
            booking::Column::StartsAt,
            booking::Column::HoldsUntil,
        ])
        .filter(booking::Column::StoreId.eq(store_id))
        .filter(booking::Column::StartsAt.lt(window_end))
        .filter(booking::Column::StartsAt.gt(window_start - Duration::days(1)))
        .filter(booking::Column::HoldsUntil.gt(window_start))
        .filter(booking::Column::Status.is_in(HOLDING));
    if let Some(id) = exclude_booking {
        bookings = bookings.filter(booking::Column::Id.ne(id));
    }
    let bookings = bookings
        .into_tuple::<(i64, DateTime<Utc>, DateTime<Utc>)>()
        .all(db)
        .await?;
    if !service.active || service.store_id.is_some_and(|s| s != store_id) {
        return Err(BookingError::NotFound("service"));
    }
    let required = skills_of(&service.required_skills);
    let qualified = |ba: &Ba| required.iter().all(|r| ba.skills.contains(r));
    let bas: Vec<i64> = bas
        .iter()
        .filter(|ba| qualified(ba) && ba_id.is_none_or(|id| id == ba.id))
        .map(|ba| ba.id)
        .collect();
    let mut shift_map: HashMap<i64, Vec<_>> = HashMap::new();
    for (ba, s, e) in shifts {
        shift_map.entry(ba).or_default().push((s, e));
    }
    let mut busy: HashMap<i64, Vec<_>> = HashMap::new();
    for (ba, s, e) in bookings.into_iter().chain(blocks) {
        busy.entry(ba).or_default().push((s, e));
    }
    let load = busy.iter().map(|(ba, l)| (*ba, l.len())).collect();
    let inputs = SlotInputs {
        zone,
        slot_minutes: i64::from(policy.slot_minutes),
        duration_minutes: i64::from(service.duration_minutes),
        buffer_minutes: i64::from(service.buffer_minutes),
        from,
        days,
        not_before: app.clock.now(),
        opening: hours
            .into_iter()
            .filter_map(|h| {
                Some((
                    u32::try_from(h.weekday).ok()?,
                    (i64::from(h.opens_minute), i64::from(h.closes_minute)),
                ))
            })
            .collect(),
        closures: closures.into_iter().map(|c| c.closed_on).collect(),
        bas,
        shifts: shift_map,
        busy,
    };
    Ok(Window {
        service,
        policy,
        inputs,
        load,
    })
}

/// Open slots of a service at a store for local days `from .. from + days`, optionally with one BA.
#[tracing::instrument(skip_all, err(level = "debug"), fields(store_id, service_id))]
pub async fn available_slots(
    app: &AppState,
    store_id: i64,
    service_id: i64,
    from: NaiveDate,
    days: i64,
    ba_id: Option<i64>,
) -> Result<Vec<Slot>, BookingError> {
    if !(1..=14).contains(&days) {
        return Err(invalid("days is 1 to 14"));
    }
    let key = |version| WindowKey {
        store_id,
        service_id,
        ba_id,
        from,
        days,
        version,
    };
    // Computed once per store version for every time of day; what has started and what lies
    // beyond the booking horizon are cut off per search, against the clock.
    let compute = async {
        let store = load_store(&app.db, store_id).await?;
        let mut window = load_window(app, &store, service_id, ba_id, from, days, None).await?;
        window.inputs.not_before = DateTime::<Utc>::MIN_UTC;
        Ok(OpenSlots {
            horizon_days: window.policy.horizon_days,
            slots: slots::compute(window.inputs),
        })
    };
    let open = window_cache::open_slots(app, key, store_id, compute).await?;
    let now = app.clock.now();
    let horizon = now + Duration::days(i64::from(open.horizon_days));
    Ok(open
        .slots
        .iter()
        .filter(|s| s.starts_at > now && s.starts_at <= horizon)
        .cloned()
        .collect())
}

/// The BAs free for a service at exactly `start`, least busy first.
async fn free_bas_at(
    app: &AppState,
    store: &store::Model,
    service_id: i64,
    ba_id: Option<i64>,
    start: DateTime<Utc>,
    exclude_booking: Option<i64>,
) -> Result<(booking_service::Model, Vec<i64>), BookingError> {
    let zone = store_zone(store);
    let date = start.with_timezone(&zone).date_naive();
    let window = load_window(app, store, service_id, ba_id, date, 1, exclude_booking).await?;
    let load = window.load;
    let slot = slots::compute(window.inputs)
        .into_iter()
        .find(|s| s.starts_at == start)
        .ok_or(BookingError::SlotUnavailable)?;
    let mut bas = slot.ba_ids;
    bas.sort_by_key(|ba| load.get(ba).copied().unwrap_or(0));
    Ok((window.service, bas))
}

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
        .filter(booking::Column::Status.eq(BookingStatus::NoShow.as_str()))
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

fn check_start(
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

/// Writes the cells a booking holds; false when another booking holds one of them.
async fn hold_cells(
    txn: &DatabaseTransaction,
    ba_id: i64,
    booking_id: i64,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let rows = cells(start, until).map(|cell| booking_cell::ActiveModel {
        ba_id: Set(ba_id),
        cell: Set(cell),
        booking_id: Set(booking_id),
    });
    let held = booking_cell::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await
        .unless_duplicate::<BookingError>()?;
    Ok(held.is_some())
}

/// Writes the cells of the member's own time a booking takes (its service); false when another
/// booking of the member holds one of them. The (member, cell) key decides, inside the
/// booking's transaction, so concurrent bookings of one member at two stores cannot both win.
async fn hold_member_cells(
    txn: &DatabaseTransaction,
    member_id: i64,
    booking_id: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let rows = cells(start, end).map(|cell| booking_member_cell::ActiveModel {
        member_id: Set(member_id),
        cell: Set(cell),
        booking_id: Set(booking_id),
    });
    let held = booking_member_cell::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await
        .unless_duplicate::<BookingError>()?;
    Ok(held.is_some())
}

/// Frees the member's time held by these bookings (cancelled, redeemed, no-show).
pub(crate) async fn release_member_cells<C: ConnectionTrait>(
    txn: &C,
    booking_ids: impl IntoIterator<Item = i64>,
) -> Result<(), BookingError> {
    booking_member_cell::Entity::delete_many()
        .filter(booking_member_cell::Column::BookingId.is_in(booking_ids))
        .exec(txn)
        .await?;
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
            status: Set(BookingStatus::Booked.as_str().to_owned()),
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

fn own(row: &booking::Model, me: &MemberPrincipal) -> Result<(), BookingError> {
    if row.member_id == me.member_id {
        Ok(())
    } else {
        Err(BookingError::NotYours)
    }
}

fn wrong_state(row: &booking::Model) -> BookingError {
    BookingError::WrongState(row.status.to_lowercase().replace('_', " "))
}

/// Members change bookings up to the store's cut-off before the start.
async fn check_changeable(
    app: &AppState,
    row: &booking::Model,
) -> Result<super::setup::Policy, BookingError> {
    if row.status != BookingStatus::Booked.as_str() {
        return Err(wrong_state(row));
    }
    let policy = policy(app, &app.db, row.store_id).await?;
    let cutoff = i64::from(policy.cancel_cutoff_minutes);
    if app.clock.now() > row.starts_at - Duration::minutes(cutoff) {
        return Err(BookingError::TooLate(cutoff));
    }
    Ok(policy)
}

/// Moves a booking to another start (and BA, or any free one); the old time is released only
/// when the new one is held.
#[tracing::instrument(skip_all, err(level = "debug"), fields(member_id = me.member_id, booking_id))]
pub async fn reschedule(
    app: &AppState,
    me: &MemberPrincipal,
    booking_id: i64,
    starts_at: DateTime<Utc>,
    ba_id: Option<i64>,
) -> Result<Booking, BookingError> {
    let current = row(&app.db, booking_id).await?;
    own(&current, me)?;
    let policy = check_changeable(app, &current).await?;
    check_start(app, policy.horizon_days, starts_at)?;
    let store = load_store(&app.db, current.store_id).await?;
    let (service, bas) = free_bas_at(
        app,
        &store,
        current.service_id,
        ba_id,
        starts_at,
        Some(current.id),
    )
    .await?;
    let ends_at = starts_at + Duration::minutes(i64::from(service.duration_minutes));
    let holds_until = ends_at + Duration::minutes(i64::from(service.buffer_minutes));
    for ba in bas {
        let txn = db::begin_write(&app.db).await?;
        let moved = booking::Entity::update_many()
            .col_expr(booking::Column::BaId, Expr::value(ba))
            .col_expr(booking::Column::StartsAt, Expr::value(starts_at))
            .col_expr(booking::Column::EndsAt, Expr::value(ends_at))
            .col_expr(booking::Column::HoldsUntil, Expr::value(holds_until))
            .col_expr(
                booking::Column::ReminderSentAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                booking::Column::ReminderOutcome,
                Expr::value(Option::<String>::None),
            )
            .col_expr(booking::Column::UpdatedAt, Expr::value(app.clock.now()))
            .filter(booking::Column::Id.eq(current.id))
            .filter(booking::Column::Status.eq(BookingStatus::Booked.as_str()))
            .exec(&txn)
            .await?;
        if moved.rows_affected != 1 {
            return Err(wrong_state(&row(&app.db, current.id).await?));
        }
        booking_cell::Entity::delete_many()
            .filter(booking_cell::Column::BookingId.eq(current.id))
            .exec(&txn)
            .await?;
        release_member_cells(&txn, [current.id]).await?;
        if !hold_member_cells(&txn, current.member_id, current.id, starts_at, ends_at).await? {
            txn.rollback().await?;
            return Err(BookingError::MemberOverlap);
        }
        if hold_cells(&txn, ba, current.id, starts_at, holds_until).await? {
            txn.commit().await?;
            slots_changed(app, current.store_id).await;
            return load_one(&app.db, row(&app.db, current.id).await?).await;
        }
        txn.rollback().await?;
    }
    Err(BookingError::SlotTaken)
}

/// Cancels a booking up to the store's cut-off; its time is free again at once.
#[tracing::instrument(skip_all, err(level = "debug"), fields(member_id = me.member_id, booking_id))]
pub async fn cancel(
    app: &AppState,
    me: &MemberPrincipal,
    booking_id: i64,
) -> Result<Booking, BookingError> {
    let current = row(&app.db, booking_id).await?;
    own(&current, me)?;
    check_changeable(app, &current).await?;
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let done = booking::Entity::update_many()
        .col_expr(
            booking::Column::Status,
            Expr::value(BookingStatus::Cancelled.as_str()),
        )
        .col_expr(booking::Column::CancelledAt, Expr::value(now))
        .col_expr(booking::Column::UpdatedAt, Expr::value(now))
        .filter(booking::Column::Id.eq(booking_id))
        .filter(booking::Column::Status.eq(BookingStatus::Booked.as_str()))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(wrong_state(&row(&app.db, booking_id).await?));
    }
    booking_cell::Entity::delete_many()
        .filter(booking_cell::Column::BookingId.eq(booking_id))
        .exec(&txn)
        .await?;
    release_member_cells(&txn, [booking_id]).await?;
    txn.commit().await?;
    slots_changed(app, current.store_id).await;
    load_one(&app.db, row(&app.db, booking_id).await?).await
}

/// The member's bookings, soonest first, from `since` (default: everything).
pub async fn my_bookings(
    app: &AppState,
    me: &MemberPrincipal,
    upcoming_only: bool,
) -> Result<Vec<Booking>, BookingError> {
    let mut q = booking::Entity::find().filter(booking::Column::MemberId.eq(me.member_id));
    if upcoming_only {
        q = q
            .filter(booking::Column::Status.is_in([
                BookingStatus::Booked.as_str(),
                BookingStatus::CheckedIn.as_str(),
            ]))
            .filter(booking::Column::EndsAt.gt(app.clock.now()));
    }
    let rows = q
        .order_by_desc(booking::Column::StartsAt)
        .limit(100)
        .all(&app.db)
        .await?;
    load_many(&app.db, rows).await
}

pub async fn my_booking(
    app: &AppState,
    me: &MemberPrincipal,
    booking_id: i64,
) -> Result<Booking, BookingError> {
    let row = row(&app.db, booking_id).await?;
    own(&row, me)?;
    load_one(&app.db, row).await
}

/// A short-lived signed code for the booking's QR, shown at the counter.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id, booking_id))]
pub async fn check_in_code(
    app: &AppState,
    me: &MemberPrincipal,
    booking_id: i64,
) -> Result<(String, DateTime<Utc>), BookingError> {
    let row = row(&app.db, booking_id).await?;
    own(&row, me)?;
    if row.status != BookingStatus::Booked.as_str() {
        return Err(wrong_state(&row));
    }
    let expires = app.clock.now() + app.settings.booking.check_in_code_ttl;
    Ok((app.codes.issue(CODE_KIND, row.id, expires), expires))
}

/// A BA scans the member's code: the member is checked in, once.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn check_in(
    app: &AppState,
    staff: &StaffPrincipal,
    code: &str,
) -> Result<Booking, BookingError> {
    staff.require(Permission::ServeBookings)?;
    let now = app.clock.now();
    let id = app
        .codes
        .verify(CODE_KIND, code, now)
        .map_err(|e| match e {
            CodeError::Expired => BookingError::CodeExpired,
            CodeError::Malformed | CodeError::Forged => BookingError::BadCode,
        })?;
    let current = row(&app.db, id).await?;
    if require_store(staff, Permission::ServeBookings, current.store_id).is_err() {
        return Err(BookingError::OtherStore);
    }
    let done = booking::Entity::update_many()
        .col_expr(
            booking::Column::Status,
            Expr::value(BookingStatus::CheckedIn.as_str()),
        )
        .col_expr(booking::Column::CheckedInAt, Expr::value(now))
        .col_expr(booking::Column::CheckedInBy, Expr::value(staff.staff_id))
        .col_expr(booking::Column::UpdatedAt, Expr::value(now))
        .filter(booking::Column::Id.eq(id))
        .filter(booking::Column::Status.eq(BookingStatus::Booked.as_str()))
        .exec(&app.db)
        .await?;
    let after = row(&app.db, id).await?;
    if done.rows_affected != 1 {
        return Err(
            if matches!(after.status.as_str(), "CHECKED_IN" | "REDEEMED") {
                BookingError::AlreadyCheckedIn
            } else {
                wrong_state(&after)
            },
        );
    }
    load_one(&app.db, after).await
}

/// After the service the BA redeems the booking (到店核销), noting the products used and
/// notes into the member's record.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, booking_id))]
pub async fn redeem(
    app: &AppState,
    staff: &StaffPrincipal,
    booking_id: i64,
    products_used: Vec<i64>,
    notes: Option<String>,
) -> Result<Booking, BookingError> {
    staff.require(Permission::ServeBookings)?;
    let current = row(&app.db, booking_id).await?;
    require_store(staff, Permission::ServeBookings, current.store_id)?;
    if products_used.len() > 20 {
        return Err(invalid("at most 20 products"));
    }
    let notes = match notes.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(validate::text("notes", n, 500).map_err(invalid)?),
    };
    let mut products = products_used;
    products.sort_unstable();
    products.dedup();
    if !products.is_empty() {
        let found = sku::Entity::find()
            .filter(sku::Column::Id.is_in(products.clone()))
            .count(&app.db)
            .await?;
        if found != products.len() as u64 {
            return Err(BookingError::NotFound("SKU"));
        }
    }
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let done = booking::Entity::update_many()
        .col_expr(
            booking::Column::Status,
            Expr::value(BookingStatus::Redeemed.as_str()),
        )
        .col_expr(booking::Column::RedeemedAt, Expr::value(now))
        .col_expr(booking::Column::RedeemedBy, Expr::value(staff.staff_id))
        .col_expr(
            booking::Column::ProductsUsed,
            Expr::value(serde_json::to_string(&products).unwrap_or_default()),
        )
        .col_expr(booking::Column::Notes, Expr::value(notes))
        .col_expr(booking::Column::UpdatedAt, Expr::value(now))
        .filter(booking::Column::Id.eq(booking_id))
        .filter(booking::Column::Status.eq(BookingStatus::CheckedIn.as_str()))
        .exec(&txn)
        .await?;
    if done.rows_affected == 1 {
        // Served: the member's time is theirs again (the BA's stays held, as it was used).
        release_member_cells(&txn, [booking_id]).await?;
    }
    txn.commit().await?;
    let after = row(&app.db, booking_id).await?;
    if done.rows_affected != 1 {
        return Err(wrong_state(&after));
    }
    load_one(&app.db, after).await
}

/// A member's bookings with what was used and noted, for the BA reading their record.
pub async fn member_bookings(
    app: &AppState,
    staff: &StaffPrincipal,
    member_id: i64,
) -> Result<Vec<Booking>, BookingError> {
    staff.require(Permission::ReadMembers)?;
    staff.require(Permission::ServeBookings)?;
    let rows = booking::Entity::find()
        .filter(booking::Column::MemberId.eq(member_id))
        .order_by_desc(booking::Column::StartsAt)
        .limit(50)
        .all(&app.db)
        .await?;
    load_many(&app.db, rows).await
}
