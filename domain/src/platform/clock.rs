//! Time as the business sees it: stored in UTC, reasoned in the store's zone.

use std::sync::Mutex;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// Where "now" comes from, so rules that depend on time (expiry, windows, birthdays) can be
/// tested at any moment without waiting.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests set and move by hand.
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    pub fn set(&self, to: DateTime<Utc>) {
        if let Ok(mut now) = self.now.lock() {
            *now = to;
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.now.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .map(|now| *now)
            .unwrap_or_else(|_| Utc::now())
    }
}

/// The zone business rules use when a store names none.
pub const DEFAULT_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// The first and last day of the month of `day`.
pub fn month_bounds(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    (first, next.map_or(day, |n| n - Duration::days(1)))
}
