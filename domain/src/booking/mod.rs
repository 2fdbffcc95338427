//! Booking of in-store services (预约): HQ and managers define services, opening hours,
//! closures, BA skills, shifts and blocked time; members see open slots, book, reschedule and
//! cancel; at the counter a BA scans the booking's check-in code and redeems it (到店核销);
//! jobs mark no-shows and send reminders through counted subscription consents.
//!
//! Time is stored in UTC and reasoned in the store's zone. A BA can never be held twice at the
//! same time: every booking writes one row per 5-minute cell of its service and buffer, keyed
//! (BA, cell), so the database refuses an overlap on SQLite and PostgreSQL alike, whatever the
//! concurrency. A member can never hold two bookings at the same time in the same way: a booking
//! that is BOOKED or CHECKED_IN holds one row per cell of its service keyed (member, cell).
//!
//! One use case per file, layered so nothing points back: setup (`services`, `policy`,
//! `store_hours`, `ba_skills`, `ba_schedules`) tells `window_cache` that slots changed;
//! `open_slots` reads setup and busy time and computes with `slots` (pure), cached by
//! `window_cache` (which knows only `slots`' types); the member and counter use cases (`book`,
//! `reschedule`, `cancel`, `check_in`, `redeem`, `lookup`) and the jobs (`no_shows`,
//! `reminders`) build on `open_slots`, `cells` and `record`.

mod ba_schedules;
mod ba_skills;
mod book;
mod cancel;
mod cells;
mod check_in;
mod demo;
mod lookup;
mod no_shows;
mod open_slots;
mod policy;
mod record;
mod redeem;
mod reminders;
mod reports;
mod reschedule;
mod services;
pub mod slots;
mod store_hours;
mod window_cache;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use entities::store;

pub use ba_schedules::{
    Block, Shift, add_shift, block_ba_time, remove_shift, shifts, unblock_ba_time,
};
pub use ba_skills::{Ba, set_ba_skills, store_bas};
pub use book::{BookInput, book};
pub use cancel::cancel;
pub use check_in::{CODE_KIND, check_in, check_in_code};
pub use demo::{DemoBookingStore, seed_demo, seed_demo_shared};
pub use entities::booking::{BookingStatus, ReminderOutcome};
pub use lookup::{member_bookings, my_booking, my_bookings};
pub use no_shows::{MarkNoShows, mark_no_shows};
pub use open_slots::available_slots;
pub use policy::{Policy, set_policy, store_policy};
pub use record::Booking;
pub use redeem::redeem;
pub use reminders::{SendBookingReminders, send_reminders};
pub use reports::*;
pub use reschedule::reschedule;
pub use services::{NewService, Service, ServiceChanges, create_service, services, update_service};
pub use store_hours::{
    Closure, OpeningHours, add_closure, closures, opening_hours, remove_closure, set_opening_hours,
};
pub use window_cache::WindowCache;
pub(crate) use window_cache::slots_changed;

/// The size of the cells a booking holds a BA's time in.
pub const CELL_MINUTES: i64 = 5;

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum BookingError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this booking belongs to another member")]
    NotYours,
    #[error("this booking is for another store")]
    OtherStore,
    #[error("that time is no longer free; pick another slot")]
    SlotTaken,
    #[error("that time is not open for booking")]
    SlotUnavailable,
    #[error("the booking is {0}")]
    WrongState(String),
    #[error("the booking was already checked in")]
    AlreadyCheckedIn,
    #[error("bookings can be changed up to {0} minutes before they start")]
    TooLate(i64),
    #[error("the check-in code has expired; refresh it in the mini-program")]
    CodeExpired,
    #[error("not a booking check-in code")]
    BadCode,
    #[error("this idempotency key was already used for a different booking")]
    KeyReused,
    #[error("booking is paused after repeated no-shows until {0}")]
    NoShowLimit(DateTime<Utc>),
    #[error("you already have a booking at that time")]
    MemberOverlap,
    /// Reading a window failed for every slot search waiting on the same read.
    #[error(transparent)]
    Shared(std::sync::Arc<BookingError>),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(BookingError);

impl DomainError for BookingError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Shared(e) => e.code(),
            Self::InvalidInput(_) | Self::BadCode => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::NotYours | Self::OtherStore => ErrorCode::Forbidden,
            Self::SlotTaken
            | Self::SlotUnavailable
            | Self::WrongState(_)
            | Self::AlreadyCheckedIn
            | Self::KeyReused
            | Self::MemberOverlap => ErrorCode::Conflict,
            Self::TooLate(_) | Self::CodeExpired => ErrorCode::Expired,
            Self::NoShowLimit(_) => ErrorCode::LimitReached,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> BookingError {
    BookingError::InvalidInput(msg.into())
}

/// Booking settings from configuration; a store's own policy row overrides the first three.
#[derive(Debug, Clone)]
pub struct BookingSettings {
    pub slot_minutes: i32,
    pub cancel_cutoff_minutes: i32,
    pub horizon_days: i32,
    /// A check-in code shown in the mini-program lives this long.
    pub check_in_code_ttl: chrono::Duration,
    /// The subscription-message template of booking reminders.
    pub reminder_template_id: String,
    pub reminder_page: String,
    /// Reminders go out this long before the start.
    pub reminder_lead: chrono::Duration,
    /// This many no-shows within `no_show_window` pause booking for `no_show_pause`.
    pub no_show_limit: u64,
    pub no_show_window: chrono::Duration,
    pub no_show_pause: chrono::Duration,
}

impl Default for BookingSettings {
    fn default() -> Self {
        Self {
            slot_minutes: 30,
            cancel_cutoff_minutes: 120,
            horizon_days: 30,
            check_in_code_ttl: chrono::Duration::minutes(5),
            reminder_template_id: "tpl_booking_reminder".into(),
            reminder_page: "pages/booking/detail".into(),
            reminder_lead: chrono::Duration::hours(24),
            no_show_limit: 3,
            no_show_window: chrono::Duration::days(90),
            no_show_pause: chrono::Duration::days(30),
        }
    }
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

/// The zone a store reasons in.
pub fn store_zone(store: &entities::store::Model) -> Tz {
    store
        .timezone
        .parse::<Tz>()
        .unwrap_or(crate::platform::clock::DEFAULT_ZONE)
}

/// Managers and BAs act only at their own store; HQ everywhere.
pub(crate) fn require_store(
    staff: &StaffPrincipal,
    permission: Permission,
    store_id: i64,
) -> Result<(), BookingError> {
    staff.require(permission)?;
    if staff.role != StaffRole::Hq && staff.store_id != Some(store_id) {
        return Err(AuthError::Forbidden.into());
    }
    Ok(())
}

/// Staff reads of a store's booking setup: any role, at their own store (HQ everywhere).
pub fn check_store_access(staff: &StaffPrincipal, store_id: i64) -> Result<(), BookingError> {
    require_store(staff, Permission::ServeBookings, store_id)
}

/// "HH:MM" as minutes from midnight (24:00 allowed for a closing time).
pub fn parse_hhmm(s: &str) -> Result<i64, BookingError> {
    let bad = || invalid(format!("{s:?} is not a time (HH:MM)"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

pub fn format_hhmm(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Cells (minutes since the epoch / 5) a booking from `start` holding until `until` covers.
pub(crate) fn cells(start: DateTime<Utc>, until: DateTime<Utc>) -> std::ops::Range<i64> {
    let first = start.timestamp().div_euclid(60 * CELL_MINUTES);
    let last = (until.timestamp() + 60 * CELL_MINUTES - 1).div_euclid(60 * CELL_MINUTES);
    first..last
}

/// A local calendar day as a UTC window [start, next day's start).
pub(crate) fn day_window(zone: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = slots::local_instant(zone, date, 0)
        .unwrap_or_else(|| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    let next = date.succ_opt().unwrap_or(date);
    let end = slots::local_instant(zone, next, 0).unwrap_or(start + chrono::Duration::days(1));
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_cells() {
        assert_eq!(parse_hhmm("09:30").unwrap(), 570);
        assert_eq!(parse_hhmm("24:00").unwrap(), 1440);
        assert!(parse_hhmm("24:30").is_err());
        assert!(parse_hhmm("9h").is_err());
        assert_eq!(format_hhmm(570), "09:30");
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(cells(t, t + chrono::Duration::minutes(75)).count(), 15);
        assert_eq!(cells(t, t + chrono::Duration::minutes(76)).count(), 16);
    }
}
