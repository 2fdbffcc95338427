//! Bookings redeemed, as a report metric and in a BA's month: each redeemed booking counts on
//! the store's business day of its redemption, for the BA who redeemed it (the booked BA when
//! none is recorded). Bookings are few beside sales lines, and the day in a store's zone is not
//! computable in SQLite's SQL, so they are read here and counted in Rust.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveTime};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::ReportsError;
use super::aggregate::Groups;
use super::metrics::Dimension;
use super::sales_report::bucket;
use crate::sales::business_date;
use entities::booking::{self, BookingStatus};
use entities::store;

/// One booking redeemed: where, by whom, on which business day.
pub(super) struct Redeemed {
    pub store_id: i64,
    pub ba_id: i64,
    pub day: NaiveDate,
}

/// The bookings redeemed on the business days `from..=to` (at `stores` when given).
pub(super) async fn redeemed<C: ConnectionTrait>(
    db: &C,
    stores: Option<&[i64]>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Redeemed>, ReportsError> {
    // A day either side covers every zone's business days.
    let lo = from.and_time(NaiveTime::MIN).and_utc() - Duration::days(1);
    let hi = to.and_time(NaiveTime::MIN).and_utc() + Duration::days(2);
    let mut q = booking::Entity::find()
        .select_only()
        .column(booking::Column::StoreId)
        .column(booking::Column::BaId)
        .column(booking::Column::RedeemedBy)
        .column(booking::Column::RedeemedAt)
        .filter(booking::Column::Status.eq(BookingStatus::Redeemed))
        .filter(booking::Column::RedeemedAt.gte(lo))
        .filter(booking::Column::RedeemedAt.lt(hi));
    if let Some(ids) = stores {
        q = q.filter(booking::Column::StoreId.is_in(ids.iter().copied()));
    }
    type Row = (i64, i64, Option<i64>, Option<chrono::DateTime<chrono::Utc>>);
    let rows: Vec<Row> = q.into_tuple().all(db).await?;
    let mut store_ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    store_ids.sort_unstable();
    store_ids.dedup();
    let zones: HashMap<i64, String> = store::Entity::find()
        .filter(store::Column::Id.is_in(store_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.timezone))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|(store_id, booked_ba, redeemed_by, at)| {
            let day = business_date(at?, zones.get(&store_id).map(String::as_str));
            (from..=to).contains(&day).then_some(Redeemed {
                store_id,
                ba_id: redeemed_by.unwrap_or(booked_ba),
                day,
            })
        })
        .collect())
}

/// Adds each group's bookings redeemed (by time, store and BA; the query was checked).
pub(super) async fn count_into<C: ConnectionTrait>(
    db: &C,
    stores: Option<&[i64]>,
    dims: &[Dimension],
    from: NaiveDate,
    to: NaiveDate,
    groups: &mut Groups,
) -> Result<(), ReportsError> {
    let time = dims.iter().copied().find(|d| d.is_time());
    for r in redeemed(db, stores, from, to).await? {
        let keys: Vec<String> = dims
            .iter()
            .filter(|d| !d.is_time())
            .map(|d| match d {
                Dimension::Store => r.store_id.to_string(),
                Dimension::Ba => r.ba_id.to_string(),
                _ => String::new(),
            })
            .collect();
        let at = time.map_or(from, |t| bucket(t, r.day));
        groups
            .entry(keys)
            .or_default()
            .entry(at)
            .or_default()
            .bookings_redeemed += 1;
    }
    Ok(())
}
