//! Reads what a store's month is computed from, in a few set-based queries: the store's BAs
//! (and managers, who sell too) with their inputs, the month's sales facts by business day,
//! counter top-ups paid and bookings redeemed within the month in the store's zone, principal
//! paid back on those top-ups, and which earlier months are locked (a refund of a locked
//! month's sale is an adjustment here).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::compute::{Item, Person};
use super::{
    CommissionError, CommissionItemKind, CommissionLineKind, CommissionSource, month_bounds,
    month_of,
};
use crate::auth::StaffRole;
use crate::booking::store_zone;
use crate::sales::business_date;
use entities::booking::{self, BookingStatus};
use entities::sales_fact::{self, SalesEvent};
use entities::top_up::{self, TopUpStatus};
use entities::{commission_input, commission_month, staff_account, store};

/// The UTC instant a local day starts at in the store's zone.
fn day_start(store: &store::Model, day: NaiveDate) -> Result<DateTime<Utc>, CommissionError> {
    store_zone(store)
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| super::invalid("the month does not exist in the store's zone"))
}

/// The store's BAs and managers, by id, with the month's inputs.
pub(super) async fn people<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
    month: &str,
) -> Result<Vec<Person>, CommissionError> {
    let staff = staff_account::Entity::find()
        .filter(staff_account::Column::StoreId.eq(store_id))
        .filter(staff_account::Column::Role.is_in([StaffRole::Ba, StaffRole::Manager]))
        .order_by_asc(staff_account::Column::Id)
        .all(db)
        .await?;
    let inputs: BTreeMap<i64, commission_input::Model> = commission_input::Entity::find()
        .filter(commission_input::Column::Month.eq(month))
        .filter(commission_input::Column::StaffId.is_in(staff.iter().map(|s| s.id)))
        .all(db)
        .await?
        .into_iter()
        .map(|i| (i.staff_id, i))
        .collect();
    Ok(staff
        .into_iter()
        .map(|s| {
            let input = inputs.get(&s.id);
            Person {
                staff_id: s.id,
                name: s.display_name,
                base_salary_fen: input.map_or(0, |i| i.base_salary_fen),
                rating_bonus_fen: input.map_or(0, |i| i.rating_bonus_fen),
            }
        })
        .collect())
}

/// The months of a store already locked.
pub(super) async fn locked_months<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
) -> Result<BTreeSet<String>, CommissionError> {
    let months: Vec<String> = commission_month::Entity::find()
        .select_only()
        .column(commission_month::Column::Month)
        .filter(commission_month::Column::StoreId.eq(store_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(months.into_iter().collect())
}

/// Everything the month's commission is earned on, each source in the order it happened.
pub(super) async fn items<C: ConnectionTrait>(
    db: &C,
    store: &store::Model,
    month: &str,
) -> Result<Vec<Item>, CommissionError> {
    let (first, next) = month_bounds(month)?;
    let locked = locked_months(db, store.id).await?;
    let facts = sales_fact::Entity::find()
        .filter(sales_fact::Column::StoreId.eq(store.id))
        .filter(sales_fact::Column::BusinessDate.gte(first))
        .filter(sales_fact::Column::BusinessDate.lt(next))
        .order_by_asc(sales_fact::Column::OccurredAt)
        .order_by_asc(sales_fact::Column::Id)
        .all(db)
        .await?;
    let mut out: Vec<Item> = facts
        .into_iter()
        .map(|f| {
            let sale_month = month_of(f.sale_date);
            let (kind, locked_month) = match f.event {
                SalesEvent::Refund
                    if sale_month.as_str() != month && locked.contains(&sale_month) =>
                {
                    (CommissionLineKind::Adjustment, Some(sale_month))
                }
                SalesEvent::Refund => (CommissionLineKind::Clawback, None),
                SalesEvent::Sale | SalesEvent::Gift => (CommissionLineKind::Earned, None),
            };
            fact_item(&f, kind, locked_month)
        })
        .collect();
    out.splice(0..0, late_facts(db, store, first, &locked).await?);
    let (from, to) = (day_start(store, first)?, day_start(store, next)?);
    let zone = Some(store.timezone.as_str());
    let top_ups = top_up::Entity::find()
        .filter(top_up::Column::StoreId.eq(store.id))
        .filter(top_up::Column::Status.eq(TopUpStatus::Paid))
        .filter(top_up::Column::StaffId.is_not_null())
        .filter(top_up::Column::PaidAt.gte(from))
        .filter(top_up::Column::PaidAt.lt(to))
        .order_by_asc(top_up::Column::PaidAt)
        .order_by_asc(top_up::Column::Id)
        .all(db)
        .await?;
    out.extend(top_ups.into_iter().map(|t| Item {
        source: CommissionSource::TopUp,
        source_id: t.id,
        item_kind: CommissionItemKind::TopUp,
        kind: CommissionLineKind::Earned,
        business_date: business_date(t.paid_at.unwrap_or(t.created_at), zone),
        locked_month: None,
        net_fen: t.principal_fen,
        cost_fen: 0,
        designated: None,
        served: t.staff_id,
    }));
    let bookings = booking::Entity::find()
        .filter(booking::Column::StoreId.eq(store.id))
        .filter(booking::Column::Status.eq(BookingStatus::Redeemed))
        .filter(booking::Column::RedeemedAt.gte(from))
        .filter(booking::Column::RedeemedAt.lt(to))
        .order_by_asc(booking::Column::RedeemedAt)
        .order_by_asc(booking::Column::Id)
        .all(db)
        .await?;
    out.extend(bookings.into_iter().map(|b| Item {
        source: CommissionSource::Booking,
        source_id: b.id,
        item_kind: CommissionItemKind::Service,
        kind: CommissionLineKind::Earned,
        business_date: business_date(b.redeemed_at.unwrap_or(b.starts_at), zone),
        locked_month: None,
        net_fen: b.price_fen,
        cost_fen: 0,
        designated: Some(b.ba_id),
        served: b.redeemed_by,
    }));
    out.extend(super::principal_returns::items(db, store, (from, to), month, &locked).await?);
    Ok(out)
}

/// How many locked months right before a month are searched for facts their lock did not see.
const LATE_LOOK_BACK: usize = 3;

/// Facts of the locked months right before the month (`first` is its first day) that no lock
/// counted: committed after their month was locked (a payment or refund racing the lock over
/// midnight). Each is an ADJUSTMENT here. A lock counted a fact when one of its statements has
/// a line from it; the month taking one counts it when it is locked, so it is carried once.
/// Only the run of locked months right before the month is searched (an open month in between
/// takes what comes before it), at most [`LATE_LOOK_BACK`] months.
async fn late_facts<C: ConnectionTrait>(
    db: &C,
    store: &store::Model,
    first: NaiveDate,
    locked: &BTreeSet<String>,
) -> Result<Vec<Item>, CommissionError> {
    let mut months = BTreeSet::new();
    let mut start = first;
    for _ in 0..LATE_LOOK_BACK {
        let Some(before) = start.pred_opt().and_then(|d| d.with_day(1)) else {
            break;
        };
        if !locked.contains(&month_of(before)) {
            break;
        }
        months.insert(month_of(before));
        start = before;
    }
    if months.is_empty() {
        return Ok(Vec::new());
    }
    let facts = sales_fact::Entity::find()
        .filter(sales_fact::Column::StoreId.eq(store.id))
        .filter(sales_fact::Column::BusinessDate.gte(start))
        .filter(sales_fact::Column::BusinessDate.lt(first))
        .filter(Expr::cust(
            r#"NOT EXISTS (SELECT 1 FROM commission_lines l WHERE l.source = 'SALES_FACT' AND l.source_id = "sales_facts"."id")"#,
        ))
        .order_by_asc(sales_fact::Column::OccurredAt)
        .order_by_asc(sales_fact::Column::Id)
        .all(db)
        .await?;
    Ok(facts
        .iter()
        .map(|f| {
            let month = month_of(f.business_date);
            fact_item(f, CommissionLineKind::Adjustment, Some(month))
        })
        .collect())
}

/// A sales fact as a commission item: a product line credited to its exclusive and serving BAs.
fn fact_item(
    f: &sales_fact::Model,
    kind: CommissionLineKind,
    locked_month: Option<String>,
) -> Item {
    Item {
        source: CommissionSource::SalesFact,
        source_id: f.id,
        item_kind: CommissionItemKind::Product,
        kind,
        business_date: f.business_date,
        locked_month,
        net_fen: f.net_fen,
        cost_fen: f.cost_fen,
        designated: f.exclusive_ba_id,
        served: f.ba_id,
    }
}

/// A store, or NOT_FOUND.
pub(super) async fn store<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
) -> Result<store::Model, CommissionError> {
    store::Entity::find_by_id(store_id)
        .one(db)
        .await?
        .ok_or(CommissionError::NotFound("store"))
}
