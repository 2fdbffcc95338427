//! What managers see: the day's bookings per BA, utilisation per BA and per service (booked
//! minutes over shift minutes) and the no-show rate.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::ba_skills::store_bas;
use super::record::{Booking, load_many};
use super::{
    BookingError, BookingStatus, day_window, invalid, load_store, require_store, store_zone,
};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use entities::{ba_shift, booking, booking_service};

#[derive(Debug, Clone)]
pub struct BaDay {
    pub ba_id: i64,
    pub ba_name: String,
    pub bookings: Vec<Booking>,
}

/// A store's bookings of one local day (cancelled ones left out), per BA.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id))]
pub async fn day_bookings(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    date: NaiveDate,
) -> Result<Vec<BaDay>, BookingError> {
    require_store(staff, Permission::ViewBookingReports, store_id)?;
    let store = load_store(&app.db, store_id).await?;
    let (start, end) = day_window(store_zone(&store), date);
    let rows = booking::Entity::find()
        .filter(booking::Column::StoreId.eq(store_id))
        .filter(booking::Column::StartsAt.gte(start))
        .filter(booking::Column::StartsAt.lt(end))
        .filter(booking::Column::Status.ne(BookingStatus::Cancelled))
        .order_by_asc(booking::Column::StartsAt)
        .all(&app.db)
        .await?;
    let mut per_ba: HashMap<i64, Vec<Booking>> = HashMap::new();
    for b in load_many(&app.db, rows).await? {
        per_ba.entry(b.ba_id).or_default().push(b);
    }
    let mut days: Vec<BaDay> = store_bas(&app.db, store_id)
        .await?
        .into_iter()
        .map(|ba| BaDay {
            bookings: per_ba.remove(&ba.id).unwrap_or_default(),
            ba_id: ba.id,
            ba_name: ba.display_name,
        })
        .collect();
    // Bookings of staff no longer listed as BAs still show.
    for (ba_id, bookings) in per_ba {
        days.push(BaDay {
            ba_id,
            ba_name: String::new(),
            bookings,
        });
    }
    Ok(days)
}

#[derive(Debug, Clone)]
pub struct BaUtilisation {
    pub ba_id: i64,
    pub ba_name: String,
    pub shift_minutes: i64,
    pub booked_minutes: i64,
    pub utilisation: f64,
}

#[derive(Debug, Clone)]
pub struct ServiceUtilisation {
    pub service_id: i64,
    pub service_name: String,
    pub bookings: i64,
    pub booked_minutes: i64,
    /// Booked minutes of this service over all shift minutes of the store.
    pub utilisation: f64,
}

#[derive(Debug, Clone)]
pub struct BookingReport {
    pub per_ba: Vec<BaUtilisation>,
    pub per_service: Vec<ServiceUtilisation>,
    pub bookings: i64,
    pub no_shows: i64,
    /// No-shows over the bookings that are concluded (checked in, redeemed or no-show).
    pub no_show_rate: f64,
}

fn ratio(a: i64, b: i64) -> f64 {
    if b <= 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Utilisation and no-shows of a store over local days `from ..= to` (at most 92 days).
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id))]
pub async fn report(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BookingReport, BookingError> {
    require_store(staff, Permission::ViewBookingReports, store_id)?;
    if to < from || (to - from).num_days() > 92 {
        return Err(invalid("a report covers 1 to 92 days"));
    }
    let store = load_store(&app.db, store_id).await?;
    let zone = store_zone(&store);
    let start = day_window(zone, from).0;
    let end = day_window(zone, to).1;
    let shifts = ba_shift::Entity::find()
        .filter(ba_shift::Column::StoreId.eq(store_id))
        .filter(ba_shift::Column::LocalDate.gte(from))
        .filter(ba_shift::Column::LocalDate.lt(to + Duration::days(1)))
        .all(&app.db)
        .await?;
    let rows = booking::Entity::find()
        .filter(booking::Column::StoreId.eq(store_id))
        .filter(booking::Column::StartsAt.gte(start))
        .filter(booking::Column::StartsAt.lt(end))
        .filter(booking::Column::Status.ne(BookingStatus::Cancelled))
        .all(&app.db)
        .await?;
    let bas = store_bas(&app.db, store_id).await?;
    let mut shift_minutes: BTreeMap<i64, i64> = bas.iter().map(|b| (b.id, 0)).collect();
    for s in &shifts {
        *shift_minutes.entry(s.staff_id).or_default() += (s.ends_at - s.starts_at).num_minutes();
    }
    let total_shift: i64 = shift_minutes.values().sum();
    let mut booked_ba: HashMap<i64, i64> = HashMap::new();
    let mut per_service: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let (mut no_shows, mut concluded) = (0, 0);
    for b in &rows {
        let minutes = (b.ends_at - b.starts_at).num_minutes();
        *booked_ba.entry(b.ba_id).or_default() += minutes;
        let e = per_service.entry(b.service_id).or_default();
        e.0 += 1;
        e.1 += minutes;
        match b.status {
            BookingStatus::NoShow => {
                no_shows += 1;
                concluded += 1;
            }
            BookingStatus::CheckedIn | BookingStatus::Redeemed => concluded += 1,
            BookingStatus::Booked | BookingStatus::Cancelled => {}
        }
    }
    let names: HashMap<i64, String> = booking_service::Entity::find()
        .filter(booking_service::Column::Id.is_in(per_service.keys().copied()))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let ba_names: HashMap<i64, String> = bas.into_iter().map(|b| (b.id, b.display_name)).collect();
    for ba in booked_ba.keys() {
        shift_minutes.entry(*ba).or_default();
    }
    Ok(BookingReport {
        per_ba: shift_minutes
            .into_iter()
            .map(|(ba_id, shift)| {
                let booked = booked_ba.get(&ba_id).copied().unwrap_or(0);
                BaUtilisation {
                    ba_id,
                    ba_name: ba_names.get(&ba_id).cloned().unwrap_or_default(),
                    shift_minutes: shift,
                    booked_minutes: booked,
                    utilisation: ratio(booked, shift),
                }
            })
            .collect(),
        per_service: per_service
            .into_iter()
            .map(|(service_id, (count, minutes))| ServiceUtilisation {
                service_id,
                service_name: names.get(&service_id).cloned().unwrap_or_default(),
                bookings: count,
                booked_minutes: minutes,
                utilisation: ratio(minutes, total_shift),
            })
            .collect(),
        bookings: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        no_shows,
        no_show_rate: ratio(no_shows, concluded),
    })
}
