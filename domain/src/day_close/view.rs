//! A store's day (`store_day`: an open day's live figures with the adjustments it carries, a
//! closed day's frozen figures with the adjustments it took in) and month (`store_month`).

use std::collections::HashSet;

use chrono::{DateTime, Days, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::events::{DayEvent, events};
use super::expenses::{Expense, ExpenseCategory};
use super::{
    ADJUSTMENT_LOOKBACK_DAYS, DayCloseError, DayEventKind, DayFigures, Snapshot, invalid,
    store_for, today,
};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use entities::{store, store_day_close, store_day_close_item, store_expense};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStatus {
    Open,
    Closed,
}

/// How a day was closed.
#[derive(Debug, Clone)]
pub struct DayClose {
    pub closed_at: DateTime<Utc>,
    pub closed_by: i64,
    pub counted_cash_fen: i64,
    pub difference_fen: i64,
    pub difference_reason: Option<String>,
    pub note: Option<String>,
}

/// An event of an earlier closed day recorded after its close, carried by this day.
#[derive(Debug, Clone)]
pub struct Adjustment {
    pub kind: DayEventKind,
    /// The day the event belongs to (closed before it was recorded).
    pub event_date: NaiveDate,
    pub reference: String,
    pub amount_fen: i64,
}

/// One store's business day.
#[derive(Debug, Clone)]
pub struct StoreDay {
    pub store_id: i64,
    pub date: NaiveDate,
    pub status: DayStatus,
    /// The day's own events (frozen at the close for a closed day).
    pub figures: DayFigures,
    /// What the adjustments below add.
    pub adjustment_figures: DayFigures,
    pub adjustments: Vec<Adjustment>,
    /// Cash the drawer should hold from the day and its adjustments.
    pub expected_cash_fen: i64,
    pub expenses: Vec<Expense>,
    pub close: Option<DayClose>,
}

/// The day's events and the adjustments it carries, as they are now.
pub(super) struct LiveDay {
    pub own: Vec<DayEvent>,
    pub adjustments: Vec<DayEvent>,
}

fn sum(events: &[DayEvent]) -> DayFigures {
    let mut f = DayFigures::default();
    for e in events {
        f.plus(&e.figures);
    }
    f
}

/// An open day's events, and the events of the closed days right before it that no close
/// counted (recorded after their day was closed): the next open day carries them.
pub(super) async fn live_day<C: ConnectionTrait>(
    db: &C,
    store: &store::Model,
    date: NaiveDate,
) -> Result<LiveDay, DayCloseError> {
    let since = date
        .checked_sub_days(Days::new(ADJUSTMENT_LOOKBACK_DAYS.unsigned_abs()))
        .unwrap_or(date);
    let closed: HashSet<NaiveDate> = store_day_close::Entity::find()
        .filter(store_day_close::Column::StoreId.eq(store.id))
        .filter(store_day_close::Column::BusinessDate.gte(since))
        .filter(store_day_close::Column::BusinessDate.lt(date))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.business_date)
        .collect();
    let mut first = date;
    while let Some(d) = first.pred_opt().filter(|d| closed.contains(d)) {
        first = d;
    }
    let all = events(db, store, first, date).await?;
    if first == date {
        return Ok(LiveDay {
            own: all,
            adjustments: Vec::new(),
        });
    }
    let counted: HashSet<(DayEventKind, i64)> = store_day_close_item::Entity::find()
        .filter(store_day_close_item::Column::StoreId.eq(store.id))
        .filter(store_day_close_item::Column::EventDate.gte(first))
        .filter(store_day_close_item::Column::EventDate.lt(date))
        .all(db)
        .await?
        .into_iter()
        .map(|i| (i.kind, i.ref_id))
        .collect();
    let (own, earlier): (Vec<DayEvent>, Vec<DayEvent>) =
        all.into_iter().partition(|e| e.date == date);
    let adjustments = earlier
        .into_iter()
        .filter(|e| !counted.contains(&(e.kind, e.ref_id)))
        .collect();
    Ok(LiveDay { own, adjustments })
}

/// The view of an open day from its live events.
pub(super) fn open_day(
    store_id: i64,
    date: NaiveDate,
    live: LiveDay,
    expenses: Vec<Expense>,
) -> StoreDay {
    let figures = sum(&live.own);
    let adjustment_figures = sum(&live.adjustments);
    StoreDay {
        store_id,
        date,
        status: DayStatus::Open,
        expected_cash_fen: figures.cash_fen() + adjustment_figures.cash_fen(),
        figures,
        adjustment_figures,
        adjustments: live
            .adjustments
            .into_iter()
            .map(|e| Adjustment {
                kind: e.kind,
                event_date: e.date,
                reference: e.reference,
                amount_fen: e.amount_fen,
            })
            .collect(),
        expenses,
        close: None,
    }
}

/// The view of a closed day: its frozen figures and what the close counted.
pub(super) async fn closed_day<C: ConnectionTrait>(
    db: &C,
    close: store_day_close::Model,
) -> Result<StoreDay, DayCloseError> {
    let snapshot: Snapshot = serde_json::from_str(&close.figures)
        .map_err(|e| DayCloseError::Corrupt(format!("day close {}: {e}", close.id)))?;
    let items = store_day_close_item::Entity::find()
        .filter(store_day_close_item::Column::CloseId.eq(close.id))
        .order_by_asc(store_day_close_item::Column::Id)
        .all(db)
        .await?;
    let expense_ids: Vec<i64> = items
        .iter()
        .filter(|i| i.kind == DayEventKind::Expense)
        .map(|i| i.ref_id)
        .collect();
    let expenses = store_expense::Entity::find()
        .filter(store_expense::Column::Id.is_in(expense_ids))
        .order_by_asc(store_expense::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Expense::from)
        .collect();
    Ok(StoreDay {
        store_id: close.store_id,
        date: close.business_date,
        status: DayStatus::Closed,
        figures: snapshot.own,
        adjustment_figures: snapshot.adjustments,
        adjustments: items
            .into_iter()
            .filter(|i| i.event_date != close.business_date)
            .map(|i| Adjustment {
                kind: i.kind,
                event_date: i.event_date,
                reference: i.reference,
                amount_fen: i.amount_fen,
            })
            .collect(),
        expected_cash_fen: close.expected_cash_fen,
        expenses,
        close: Some(DayClose {
            closed_at: close.closed_at,
            closed_by: close.closed_by,
            counted_cash_fen: close.counted_cash_fen,
            difference_fen: close.difference_fen,
            difference_reason: close.difference_reason,
            note: close.note,
        }),
    })
}

async fn day_of<C: ConnectionTrait>(
    db: &C,
    store: &store::Model,
    date: NaiveDate,
) -> Result<StoreDay, DayCloseError> {
    if let Some(close) = store_day_close::Entity::find()
        .filter(store_day_close::Column::StoreId.eq(store.id))
        .filter(store_day_close::Column::BusinessDate.eq(date))
        .one(db)
        .await?
    {
        return closed_day(db, close).await;
    }
    let live = live_day(db, store, date).await?;
    let expenses = store_expense::Entity::find()
        .filter(store_expense::Column::StoreId.eq(store.id))
        .filter(store_expense::Column::BusinessDate.eq(date))
        .order_by_asc(store_expense::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Expense::from)
        .collect();
    Ok(open_day(store.id, date, live, expenses))
}

/// A store's business day: HQ and finance any store, a manager her own.
pub async fn store_day(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    date: NaiveDate,
) -> Result<StoreDay, DayCloseError> {
    let store = store_for(&app.db, staff, Permission::ViewStoreMoney, store_id).await?;
    day_of(&app.db, &store, date).await
}

/// One day of a month view.
#[derive(Debug, Clone)]
pub struct MonthDay {
    pub date: NaiveDate,
    pub status: DayStatus,
    pub figures: DayFigures,
    pub adjustment_figures: DayFigures,
    /// Counted − expected cash of a closed day.
    pub cash_difference_fen: Option<i64>,
}

/// A store's month: every day (closed days as frozen, open days live), the totals (each
/// event once: a closed day's own figures plus the adjustments later days carry), the cash
/// differences and the expenses by category.
#[derive(Debug, Clone)]
pub struct StoreMonth {
    pub store_id: i64,
    pub month: String,
    pub days: Vec<MonthDay>,
    pub totals: DayFigures,
    pub cash_difference_fen: i64,
    pub closed_days: i64,
    pub expenses_by_category: Vec<(ExpenseCategory, i64)>,
}

fn month_range(month: &str) -> Result<(NaiveDate, NaiveDate), DayCloseError> {
    let bad = || invalid("a month is written YYYY-MM");
    if month.len() != 7 {
        return Err(bad());
    }
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| bad())?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(bad)?;
    Ok((first, next.pred_opt().ok_or_else(bad)?))
}

/// A store's month (finance and HQ any store, a manager her own).
pub async fn store_month(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    month: &str,
) -> Result<StoreMonth, DayCloseError> {
    let store = store_for(&app.db, staff, Permission::ViewStoreMoney, store_id).await?;
    let (first, last) = month_range(month)?;
    let today = today(&store, app.clock.now());
    let mut days = Vec::new();
    let mut totals = DayFigures::default();
    let mut difference = 0;
    let mut closed_days = 0;
    let mut date = first;
    while date <= last && date <= today {
        let day = day_of(&app.db, &store, date).await?;
        totals.plus(&day.figures);
        totals.plus(&day.adjustment_figures);
        let cash_difference_fen = day.close.as_ref().map(|c| c.difference_fen);
        if let Some(d) = cash_difference_fen {
            difference += d;
            closed_days += 1;
        }
        days.push(MonthDay {
            date,
            status: day.status,
            figures: day.figures,
            adjustment_figures: day.adjustment_figures,
            cash_difference_fen,
        });
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
    let mut by_category: Vec<(ExpenseCategory, i64)> = Vec::new();
    for e in store_expense::Entity::find()
        .filter(store_expense::Column::StoreId.eq(store.id))
        .filter(store_expense::Column::BusinessDate.gte(first))
        .filter(store_expense::Column::BusinessDate.lte(last))
        .all(&app.db)
        .await?
    {
        match by_category.iter_mut().find(|(c, _)| *c == e.category) {
            Some((_, sum)) => *sum += e.amount_fen,
            None => by_category.push((e.category, e.amount_fen)),
        }
    }
    by_category.sort_by_key(|(c, _)| *c as u8);
    Ok(StoreMonth {
        store_id,
        month: month.to_owned(),
        days,
        totals,
        cash_difference_fen: difference,
        closed_days,
        expenses_by_category: by_category,
    })
}
