//! What HQ and managers set up: services, each store's policy, opening hours and closures, BA
//! skills, shifts and blocked time. A manager only at their own store.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{BookingError, invalid, require_store, slots, slots_changed, store_zone};
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use crate::error::UniqueViolation;
use crate::{db, validate};
use entities::{
    ba_block, ba_shift, ba_skill, booking_policy, booking_service, staff_account, store,
    store_closure, store_opening_hours,
};

#[derive(Debug, Clone)]
pub struct Service {
    pub id: i64,
    pub store_id: Option<i64>,
    pub code: String,
    pub name: String,
    pub duration_minutes: i32,
    pub buffer_minutes: i32,
    pub price_fen: i64,
    pub required_skills: Vec<String>,
    pub active: bool,
}

impl From<booking_service::Model> for Service {
    fn from(s: booking_service::Model) -> Self {
        Self {
            id: s.id,
            store_id: s.store_id,
            code: s.code,
            name: s.name,
            duration_minutes: s.duration_minutes,
            buffer_minutes: s.buffer_minutes,
            price_fen: s.price_fen,
            required_skills: skills_of(&s.required_skills),
            active: s.active,
        }
    }
}

pub(crate) fn skills_of(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Clone)]
pub struct NewService {
    /// None: offered at every store (HQ only).
    pub store_id: Option<i64>,
    pub code: String,
    pub name: String,
    pub duration_minutes: i32,
    pub buffer_minutes: i32,
    pub price_fen: i64,
    pub required_skills: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceChanges {
    pub name: Option<String>,
    pub duration_minutes: Option<i32>,
    pub buffer_minutes: Option<i32>,
    pub price_fen: Option<i64>,
    pub required_skills: Option<Vec<String>>,
    pub active: Option<bool>,
}

fn check_minutes(duration: i32, buffer: i32) -> Result<(), BookingError> {
    if !(5..=480).contains(&duration) || duration % 5 != 0 {
        return Err(invalid(
            "a duration is 5 to 480 minutes, in steps of 5 minutes",
        ));
    }
    if !(0..=120).contains(&buffer) || buffer % 5 != 0 {
        return Err(invalid(
            "a buffer is 0 to 120 minutes, in steps of 5 minutes",
        ));
    }
    Ok(())
}

fn check_skills(skills: &[String]) -> Result<String, BookingError> {
    if skills.len() > 10 {
        return Err(invalid("at most 10 skills"));
    }
    let set: BTreeSet<String> = skills
        .iter()
        .map(|s| validate::code("skill", s, 32).map_err(invalid))
        .collect::<Result<_, _>>()?;
    Ok(set.into_iter().collect::<Vec<_>>().join(","))
}

pub(crate) async fn load_store<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<store::Model, BookingError> {
    store::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(BookingError::NotFound("store"))
}

pub(crate) async fn load_service<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<booking_service::Model, BookingError> {
    booking_service::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(BookingError::NotFound("service"))
}

/// A BA (or manager) of a store, for skills, shifts and blocks.
pub(crate) async fn load_ba<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<staff_account::Model, BookingError> {
    staff_account::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|s| s.active && s.role != StaffRole::Hq && s.store_id.is_some())
        .ok_or(BookingError::NotFound("BA"))
}

#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn create_service(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewService,
) -> Result<Service, BookingError> {
    staff.require(Permission::ManageBookings)?;
    match input.store_id {
        Some(store_id) => require_store(staff, Permission::ManageBookings, store_id)?,
        None if staff.role != StaffRole::Hq => return Err(AuthError::Forbidden.into()),
        None => {}
    }
    let code = validate::code("code", &input.code, 32).map_err(invalid)?;
    let name = validate::text("name", &input.name, 20).map_err(invalid)?;
    check_minutes(input.duration_minutes, input.buffer_minutes)?;
    if !(0..=10_000_000).contains(&input.price_fen) {
        return Err(invalid("a price is 0 (free) to 100,000 yuan"));
    }
    let skills = check_skills(&input.required_skills)?;
    if let Some(store_id) = input.store_id {
        load_store(&app.db, store_id).await?;
    }
    let now = app.clock.now();
    let row = booking_service::ActiveModel {
        store_id: Set(input.store_id),
        code: Set(code),
        name: Set(name),
        duration_minutes: Set(input.duration_minutes),
        buffer_minutes: Set(input.buffer_minutes),
        price_fen: Set(input.price_fen),
        required_skills: Set(skills),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .on_unique_violation(|| invalid("a service with this code exists"))?;
    Ok(row.into())
}

#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, service_id = id))]
pub async fn update_service(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
    changes: ServiceChanges,
) -> Result<Service, BookingError> {
    staff.require(Permission::ManageBookings)?;
    let row = load_service(&app.db, id).await?;
    match row.store_id {
        Some(store_id) => require_store(staff, Permission::ManageBookings, store_id)?,
        None if staff.role != StaffRole::Hq => return Err(AuthError::Forbidden.into()),
        None => {}
    }
    let duration = changes.duration_minutes.unwrap_or(row.duration_minutes);
    let buffer = changes.buffer_minutes.unwrap_or(row.buffer_minutes);
    check_minutes(duration, buffer)?;
    let mut active: booking_service::ActiveModel = row.into();
    if let Some(name) = changes.name {
        active.name = Set(validate::text("name", &name, 20).map_err(invalid)?);
    }
    if let Some(price) = changes.price_fen {
        if !(0..=10_000_000).contains(&price) {
            return Err(invalid("a price is 0 (free) to 100,000 yuan"));
        }
        active.price_fen = Set(price);
    }
    if let Some(skills) = changes.required_skills {
        active.required_skills = Set(check_skills(&skills)?);
    }
    if let Some(a) = changes.active {
        active.active = Set(a);
    }
    active.duration_minutes = Set(duration);
    active.buffer_minutes = Set(buffer);
    active.updated_at = Set(app.clock.now());
    let updated = active.update(&app.db).await?;
    match updated.store_id {
        Some(store_id) => slots_changed(app, store_id).await,
        // An HQ service is offered everywhere (a rare change): every store's slots change.
        None => {
            let stores: Vec<i64> = store::Entity::find()
                .select_only()
                .column(store::Column::Id)
                .into_tuple()
                .all(&app.db)
                .await?;
            for store_id in stores {
                slots_changed(app, store_id).await;
            }
        }
    }
    Ok(updated.into())
}

/// The active services a store offers (its own and every store's).
pub async fn services(app: &AppState, store_id: i64) -> Result<Vec<Service>, BookingError> {
    Ok(booking_service::Entity::find()
        .filter(booking_service::Column::Active.eq(true))
        .filter(
            booking_service::Column::StoreId
                .eq(store_id)
                .or(booking_service::Column::StoreId.is_null()),
        )
        .order_by_asc(booking_service::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// A store's booking policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub slot_minutes: i32,
    pub cancel_cutoff_minutes: i32,
    pub horizon_days: i32,
}

pub(crate) async fn policy<C: ConnectionTrait>(
    app: &AppState,
    db: &C,
    store_id: i64,
) -> Result<Policy, BookingError> {
    let s = &app.settings.booking;
    Ok(
        match booking_policy::Entity::find_by_id(store_id).one(db).await? {
            Some(p) => Policy {
                slot_minutes: p.slot_minutes,
                cancel_cutoff_minutes: p.cancel_cutoff_minutes,
                horizon_days: p.horizon_days,
            },
            None => Policy {
                slot_minutes: s.slot_minutes,
                cancel_cutoff_minutes: s.cancel_cutoff_minutes,
                horizon_days: s.horizon_days,
            },
        },
    )
}

pub async fn store_policy(app: &AppState, store_id: i64) -> Result<Policy, BookingError> {
    policy(app, &app.db, store_id).await
}

#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id))]
pub async fn set_policy(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    p: Policy,
) -> Result<Policy, BookingError> {
    require_store(staff, Permission::ManageBookings, store_id)?;
    if ![5, 10, 15, 20, 30, 60].contains(&p.slot_minutes) {
        return Err(invalid("a slot grid is 5, 10, 15, 20, 30 or 60 minutes"));
    }
    if !(0..=7 * 24 * 60).contains(&p.cancel_cutoff_minutes) {
        return Err(invalid("a cancel cut-off is 0 minutes to 7 days"));
    }
    if !(1..=90).contains(&p.horizon_days) {
        return Err(invalid("members book 1 to 90 days ahead"));
    }
    load_store(&app.db, store_id).await?;
    booking_policy::Entity::insert(booking_policy::ActiveModel {
        store_id: Set(store_id),
        slot_minutes: Set(p.slot_minutes),
        cancel_cutoff_minutes: Set(p.cancel_cutoff_minutes),
        horizon_days: Set(p.horizon_days),
        updated_at: Set(app.clock.now()),
    })
    .on_conflict(
        OnConflict::column(booking_policy::Column::StoreId)
            .update_columns([
                booking_policy::Column::SlotMinutes,
                booking_policy::Column::CancelCutoffMinutes,
                booking_policy::Column::HorizonDays,
                booking_policy::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await?;
    slots_changed(app, store_id).await;
    Ok(p)
}

/// Opening hours of one weekday (1 = Monday), minutes from local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningHours {
    pub weekday: i32,
    pub opens_minute: i64,
    pub closes_minute: i64,
}

/// Replaces a store's weekly opening hours; a weekday left out is closed.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id))]
pub async fn set_opening_hours(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    hours: Vec<OpeningHours>,
) -> Result<Vec<OpeningHours>, BookingError> {
    require_store(staff, Permission::ManageBookings, store_id)?;
    let mut seen = BTreeSet::new();
    for h in &hours {
        if !(1..=7).contains(&h.weekday) || !seen.insert(h.weekday) {
            return Err(invalid("weekdays are 1 (Monday) to 7 (Sunday), each once"));
        }
        if !(0..1440).contains(&h.opens_minute)
            || h.closes_minute > 1440
            || h.closes_minute <= h.opens_minute
        {
            return Err(invalid("a store closes after it opens, by midnight"));
        }
    }
    load_store(&app.db, store_id).await?;
    let txn = db::begin_write(&app.db).await?;
    store_opening_hours::Entity::delete_many()
        .filter(store_opening_hours::Column::StoreId.eq(store_id))
        .exec(&txn)
        .await?;
    if !hours.is_empty() {
        store_opening_hours::Entity::insert_many(hours.iter().map(|h| {
            store_opening_hours::ActiveModel {
                store_id: Set(store_id),
                weekday: Set(h.weekday),
                opens_minute: Set(i32::try_from(h.opens_minute).unwrap_or(0)),
                closes_minute: Set(i32::try_from(h.closes_minute).unwrap_or(0)),
            }
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    slots_changed(app, store_id).await;
    opening_hours(app, store_id).await
}

pub async fn opening_hours(
    app: &AppState,
    store_id: i64,
) -> Result<Vec<OpeningHours>, BookingError> {
    Ok(store_opening_hours::Entity::find()
        .filter(store_opening_hours::Column::StoreId.eq(store_id))
        .order_by_asc(store_opening_hours::Column::Weekday)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|h| OpeningHours {
            weekday: h.weekday,
            opens_minute: i64::from(h.opens_minute),
            closes_minute: i64::from(h.closes_minute),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub date: NaiveDate,
    pub reason: String,
}

#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id))]
pub async fn add_closure(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    date: NaiveDate,
    reason: &str,
) -> Result<Closure, BookingError> {
    require_store(staff, Permission::ManageBookings, store_id)?;
    let reason = validate::text("reason", reason, 40).map_err(invalid)?;
    load_store(&app.db, store_id).await?;
    store_closure::Entity::insert(store_closure::ActiveModel {
        store_id: Set(store_id),
        closed_on: Set(date),
        reason: Set(reason.clone()),
    })
    .on_conflict(
        OnConflict::columns([
            store_closure::Column::StoreId,
            store_closure::Column::ClosedOn,
        ])
        .update_column(store_closure::Column::Reason)
        .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await?;
    slots_changed(app, store_id).await;
    Ok(Closure { date, reason })
}

pub async fn remove_closure(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    date: NaiveDate,
) -> Result<bool, BookingError> {
    require_store(staff, Permission::ManageBookings, store_id)?;
    let res = store_closure::Entity::delete_many()
        .filter(store_closure::Column::StoreId.eq(store_id))
        .filter(store_closure::Column::ClosedOn.eq(date))
        .exec(&app.db)
        .await?;
    slots_changed(app, store_id).await;
    Ok(res.rows_affected > 0)
}

pub async fn closures(
    app: &AppState,
    store_id: i64,
    from: NaiveDate,
) -> Result<Vec<Closure>, BookingError> {
    Ok(store_closure::Entity::find()
        .filter(store_closure::Column::StoreId.eq(store_id))
        .filter(store_closure::Column::ClosedOn.gte(from))
        .order_by_asc(store_closure::Column::ClosedOn)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|c| Closure {
            date: c.closed_on,
            reason: c.reason,
        })
        .collect())
}

/// Replaces a BA's skills.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, ba_id))]
pub async fn set_ba_skills(
    app: &AppState,
    staff: &StaffPrincipal,
    ba_id: i64,
    skills: Vec<String>,
) -> Result<Vec<String>, BookingError> {
    staff.require(Permission::ManageBookings)?;
    let joined = check_skills(&skills)?;
    let ba = load_ba(&app.db, ba_id).await?;
    require_store(staff, Permission::ManageBookings, ba.store_id.unwrap_or(0))?;
    let skills = skills_of(&joined);
    let txn = db::begin_write(&app.db).await?;
    ba_skill::Entity::delete_many()
        .filter(ba_skill::Column::StaffId.eq(ba_id))
        .exec(&txn)
        .await?;
    if !skills.is_empty() {
        ba_skill::Entity::insert_many(skills.iter().map(|s| ba_skill::ActiveModel {
            staff_id: Set(ba_id),
            skill: Set(s.clone()),
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    if let Some(store_id) = ba.store_id {
        slots_changed(app, store_id).await;
    }
    Ok(skills)
}

/// A BA of a store with their skills.
#[derive(Debug, Clone)]
pub struct Ba {
    pub id: i64,
    pub display_name: String,
    pub skills: Vec<String>,
}

/// The BAs of a store (role BA, active), with their skills.
pub async fn store_bas<C: ConnectionTrait>(db: &C, store_id: i64) -> Result<Vec<Ba>, BookingError> {
    let rows = staff_account::Entity::find()
        .filter(staff_account::Column::StoreId.eq(store_id))
        .filter(staff_account::Column::Role.eq(StaffRole::Ba))
        .filter(staff_account::Column::Active.eq(true))
        .order_by_asc(staff_account::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut skills: HashMap<i64, Vec<String>> = HashMap::new();
    for s in ba_skill::Entity::find()
        .filter(ba_skill::Column::StaffId.is_in(ids))
        .all(db)
        .await?
    {
        skills.entry(s.staff_id).or_default().push(s.skill);
    }
    Ok(rows
        .into_iter()
        .map(|r| Ba {
            skills: skills.remove(&r.id).unwrap_or_default(),
            id: r.id,
            display_name: r.display_name,
        })
        .collect())
}

#[derive(Debug, Clone)]
pub struct Shift {
    pub id: i64,
    pub ba_id: i64,
    pub store_id: i64,
    pub local_date: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl From<ba_shift::Model> for Shift {
    fn from(s: ba_shift::Model) -> Self {
        Self {
            id: s.id,
            ba_id: s.staff_id,
            store_id: s.store_id,
            local_date: s.local_date,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
        }
    }
}

/// Adds a shift on a local day from `start` to `end` ("HH:MM"); an end at or before the start
/// is on the next day (a shift across midnight). Overlapping shifts of one BA are refused.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, ba_id))]
pub async fn add_shift(
    app: &AppState,
    staff: &StaffPrincipal,
    ba_id: i64,
    date: NaiveDate,
    start_minute: i64,
    end_minute: i64,
) -> Result<Shift, BookingError> {
    staff.require(Permission::ManageBookings)?;
    if !(0..1440).contains(&start_minute) || !(0..=1440).contains(&end_minute) {
        return Err(invalid("shift times are HH:MM"));
    }
    let ba = load_ba(&app.db, ba_id).await?;
    let store_id = ba.store_id.unwrap_or(0);
    require_store(staff, Permission::ManageBookings, store_id)?;
    let store = load_store(&app.db, store_id).await?;
    let zone = store_zone(&store);
    let end_minute = if end_minute <= start_minute {
        end_minute + 1440
    } else {
        end_minute
    };
    if end_minute - start_minute > 16 * 60 {
        return Err(invalid("a shift is at most 16 hours"));
    }
    let (Some(starts_at), Some(ends_at)) = (
        slots::local_instant(zone, date, start_minute),
        slots::local_instant(zone, date, end_minute),
    ) else {
        return Err(invalid("that time does not exist in the store's zone"));
    };
    let txn = db::begin_write(&app.db).await?;
    let overlapping = ba_shift::Entity::find()
        .filter(ba_shift::Column::StaffId.eq(ba_id))
        .filter(ba_shift::Column::StartsAt.lt(ends_at))
        .filter(ba_shift::Column::EndsAt.gt(starts_at))
        .one(&txn)
        .await?;
    if overlapping.is_some() {
        return Err(invalid("the BA already has a shift at that time"));
    }
    let row = ba_shift::ActiveModel {
        staff_id: Set(ba_id),
        store_id: Set(store_id),
        local_date: Set(date),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    slots_changed(app, store_id).await;
    Ok(row.into())
}

pub async fn remove_shift(
    app: &AppState,
    staff: &StaffPrincipal,
    shift_id: i64,
) -> Result<bool, BookingError> {
    staff.require(Permission::ManageBookings)?;
    let Some(row) = ba_shift::Entity::find_by_id(shift_id).one(&app.db).await? else {
        return Err(BookingError::NotFound("shift"));
    };
    require_store(staff, Permission::ManageBookings, row.store_id)?;
    ba_shift::Entity::delete_by_id(shift_id)
        .exec(&app.db)
        .await?;
    slots_changed(app, row.store_id).await;
    Ok(true)
}

/// Shifts at a store starting on local days `from` .. `from + days`.
pub async fn shifts(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    from: NaiveDate,
    days: i64,
) -> Result<Vec<Shift>, BookingError> {
    require_store(staff, Permission::ServeBookings, store_id)?;
    if !(1..=31).contains(&days) {
        return Err(invalid("days is 1 to 31"));
    }
    let to = from + Duration::days(days);
    Ok(ba_shift::Entity::find()
        .filter(ba_shift::Column::StoreId.eq(store_id))
        .filter(ba_shift::Column::LocalDate.gte(from))
        .filter(ba_shift::Column::LocalDate.lt(to))
        .order_by_asc(ba_shift::Column::StartsAt)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[derive(Debug, Clone)]
pub struct Block {
    pub id: i64,
    pub ba_id: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
}

/// A manager blocks a BA's time (training, a meeting): no new bookings then. Existing
/// bookings are kept; the manager moves them with the members.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, ba_id))]
pub async fn block_ba_time(
    app: &AppState,
    staff: &StaffPrincipal,
    ba_id: i64,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    reason: &str,
) -> Result<Block, BookingError> {
    staff.require(Permission::ManageBookings)?;
    if ends_at <= starts_at || ends_at - starts_at > Duration::days(31) {
        return Err(invalid("a block ends after it starts, within 31 days"));
    }
    let reason = validate::text("reason", reason, 40).map_err(invalid)?;
    let ba = load_ba(&app.db, ba_id).await?;
    let store_id = ba.store_id.unwrap_or(0);
    require_store(staff, Permission::ManageBookings, store_id)?;
    let row = ba_block::ActiveModel {
        staff_id: Set(ba_id),
        store_id: Set(store_id),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        reason: Set(reason),
        created_by: Set(staff.staff_id),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    slots_changed(app, store_id).await;
    Ok(Block {
        id: row.id,
        ba_id: row.staff_id,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        reason: row.reason,
    })
}

pub async fn unblock_ba_time(
    app: &AppState,
    staff: &StaffPrincipal,
    block_id: i64,
) -> Result<bool, BookingError> {
    staff.require(Permission::ManageBookings)?;
    let Some(row) = ba_block::Entity::find_by_id(block_id).one(&app.db).await? else {
        return Err(BookingError::NotFound("block"));
    };
    require_store(staff, Permission::ManageBookings, row.store_id)?;
    ba_block::Entity::delete_by_id(block_id)
        .exec(&app.db)
        .await?;
    slots_changed(app, row.store_id).await;
    Ok(true)
}

/// Demo booking data at one store: daily hours 10:00–22:00, a free skin test (every store) and
/// a facial, and a BA (`ba-gz-demo`) with the facial skill and shifts for the next seven days.
pub async fn seed_demo<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    for weekday in 1..=7 {
        store_opening_hours::ActiveModel {
            store_id: Set(store_id),
            weekday: Set(weekday),
            opens_minute: Set(10 * 60),
            closes_minute: Set(22 * 60),
        }
        .insert(db)
        .await?;
    }
    for (store, code, name, minutes, buffer, price, skills) in [
        (None, "SKIN-TEST", "肌肤测试", 20, 10, 0, ""),
        (
            Some(store_id),
            "FACIAL-GZ001",
            "深层补水护理",
            60,
            15,
            19_900,
            "FACIAL",
        ),
    ] {
        booking_service::ActiveModel {
            store_id: Set(store),
            code: Set(code.into()),
            name: Set(name.into()),
            duration_minutes: Set(minutes),
            buffer_minutes: Set(buffer),
            price_fen: Set(price),
            required_skills: Set(skills.into()),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    let ba = staff_account::ActiveModel {
        username: Set("ba-gz-demo".into()),
        password_hash: Set(password_hash.to_owned()),
        display_name: Set("天环美容顾问".into()),
        role: Set(StaffRole::Ba),
        store_id: Set(Some(store_id)),
        active: Set(true),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    ba_skill::ActiveModel {
        staff_id: Set(ba.id),
        skill: Set("FACIAL".into()),
    }
    .insert(db)
    .await?;
    let zone = crate::clock::DEFAULT_ZONE;
    let today = now.with_timezone(&zone).date_naive();
    for day in 1..=7 {
        let date = today + Duration::days(day);
        if let (Some(s), Some(e)) = (
            slots::local_instant(zone, date, 10 * 60),
            slots::local_instant(zone, date, 18 * 60),
        ) {
            ba_shift::ActiveModel {
                staff_id: Set(ba.id),
                store_id: Set(store_id),
                local_date: Set(date),
                starts_at: Set(s),
                ends_at: Set(e),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}
