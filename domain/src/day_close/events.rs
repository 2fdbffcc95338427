//! The money events of a store's business days, read where the money was recorded: paid orders
//! (`orders` with what the balance paid in `order_balance_payments` and coupons in
//! `order_discounts`), settled refunds (`refunds`, the balance part from the stored-value
//! ledger), paid top-ups at the store (`top_ups`) and expenses (`store_expenses`).

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use sea_orm::{ActiveEnum, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{DayCloseError, DayEventKind, DayFigures, zone};
use entities::order::{self, PaymentMethod};
use entities::order_discount::{self, DiscountKind};
use entities::refund::{self, RefundStatus};
use entities::top_up::{self, TopUpStatus};
use entities::{balance_ledger, order_balance_payment, store, store_expense};

/// One event that moved a store's money on a business day.
#[derive(Debug, Clone)]
pub struct DayEvent {
    pub kind: DayEventKind,
    /// The order, refund, top-up or expense id.
    pub ref_id: i64,
    /// The event's business day.
    pub date: NaiveDate,
    /// Order, refund or top-up number; the expense's category.
    pub reference: String,
    /// The money it moved (positive).
    pub amount_fen: i64,
    /// What it adds to its day's figures.
    pub figures: DayFigures,
    pub at: DateTime<Utc>,
}

/// The first instant of a business day in the store's zone, in UTC.
pub(super) fn day_start(store: &store::Model, date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_time(chrono::NaiveTime::MIN);
    zone(store)
        .from_local_datetime(&local)
        .earliest()
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

fn corrupt(what: &str, no: &str) -> DayCloseError {
    DayCloseError::Corrupt(format!("{what} {no} has no tender"))
}

/// Every money event of the store on the business days `from..=to`, oldest first.
pub(super) async fn events<C: ConnectionTrait>(
    db: &C,
    store: &store::Model,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayEvent>, DayCloseError> {
    let start = day_start(store, from);
    let end = day_start(store, to.checked_add_days(Days::new(1)).unwrap_or(to));
    let tz = zone(store);
    let date_of = |at: DateTime<Utc>| at.with_timezone(&tz).date_naive();
    let mut out = sales(db, store.id, (start, end), &date_of).await?;
    out.extend(refunds(db, store.id, (start, end), &date_of).await?);
    let top_ups = top_up::Entity::find()
        .filter(top_up::Column::StoreId.eq(store.id))
        .filter(top_up::Column::Status.eq(TopUpStatus::Paid))
        .filter(top_up::Column::PaidAt.gte(start))
        .filter(top_up::Column::PaidAt.lt(end))
        .all(db)
        .await?;
    for t in top_ups {
        let at = t.paid_at.unwrap_or(t.created_at);
        let mut figures = DayFigures::default();
        figures.top_ups.add(t.tender, t.principal_fen);
        figures.top_up_bonus_fen = t.bonus_fen;
        figures.top_ups_count = 1;
        out.push(DayEvent {
            kind: DayEventKind::TopUp,
            ref_id: t.id,
            date: date_of(at),
            reference: t.top_up_no,
            amount_fen: t.principal_fen,
            figures,
            at,
        });
    }
    let expenses = store_expense::Entity::find()
        .filter(store_expense::Column::StoreId.eq(store.id))
        .filter(store_expense::Column::BusinessDate.gte(from))
        .filter(store_expense::Column::BusinessDate.lte(to))
        .all(db)
        .await?;
    for e in expenses {
        let figures = DayFigures {
            expenses_fen: e.amount_fen,
            expenses_count: 1,
            ..DayFigures::default()
        };
        out.push(DayEvent {
            kind: DayEventKind::Expense,
            ref_id: e.id,
            date: e.business_date,
            reference: e.category.to_value(),
            amount_fen: e.amount_fen,
            figures,
            at: e.created_at,
        });
    }
    out.sort_by_key(|e| (e.at, e.ref_id));
    Ok(out)
}

type Range = (DateTime<Utc>, DateTime<Utc>);

async fn sales<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
    (start, end): Range,
    date_of: &impl Fn(DateTime<Utc>) -> NaiveDate,
) -> Result<Vec<DayEvent>, DayCloseError> {
    let orders = order::Entity::find()
        .filter(order::Column::StoreId.eq(store_id))
        .filter(order::Column::PaidAt.gte(start))
        .filter(order::Column::PaidAt.lt(end))
        .all(db)
        .await?;
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let balance: HashMap<i64, order_balance_payment::Model> = order_balance_payment::Entity::find()
        .filter(order_balance_payment::Column::OrderId.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.order_id, p))
        .collect();
    let mut coupons: HashMap<i64, i64> = HashMap::new();
    for d in order_discount::Entity::find()
        .filter(order_discount::Column::OrderId.is_in(ids))
        .filter(order_discount::Column::Kind.eq(DiscountKind::Coupon))
        .all(db)
        .await?
    {
        *coupons.entry(d.order_id).or_default() += d.amount_fen;
    }
    let mut out = Vec::with_capacity(orders.len());
    for o in orders {
        let Some(at) = o.paid_at else { continue };
        let mut figures = DayFigures {
            sales_count: 1,
            coupon_discount_fen: std::cmp::min(
                coupons.get(&o.id).copied().unwrap_or(0),
                o.discount_fen,
            ),
            ..DayFigures::default()
        };
        let part = balance.get(&o.id);
        figures.sales.stored_value_principal_fen = part.map_or(0, |p| p.principal_fen);
        figures.sales.stored_value_bonus_fen = part.map_or(0, |p| p.bonus_fen);
        let rest = o.total_fen - part.map_or(0, order_balance_payment::Model::total_fen);
        if rest != 0 {
            match o.payment_method {
                Some(m) if m != PaymentMethod::Balance => figures.sales.add(m, rest),
                _ => return Err(corrupt("order", &o.order_no)),
            }
        }
        out.push(DayEvent {
            kind: DayEventKind::Sale,
            ref_id: o.id,
            date: date_of(at),
            reference: o.order_no,
            amount_fen: o.total_fen,
            figures,
            at,
        });
    }
    Ok(out)
}

async fn refunds<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
    (start, end): Range,
    date_of: &impl Fn(DateTime<Utc>) -> NaiveDate,
) -> Result<Vec<DayEvent>, DayCloseError> {
    let settled = refund::Entity::find()
        .filter(refund::Column::Status.eq(RefundStatus::Success))
        .filter(refund::Column::CompletedAt.gte(start))
        .filter(refund::Column::CompletedAt.lt(end))
        .all(db)
        .await?;
    if settled.is_empty() {
        return Ok(Vec::new());
    }
    let orders: HashMap<i64, order::Model> = order::Entity::find()
        .filter(order::Column::Id.is_in(settled.iter().map(|r| r.order_id)))
        .filter(order::Column::StoreId.eq(store_id))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let keys: Vec<String> = settled
        .iter()
        .filter(|r| orders.contains_key(&r.order_id))
        .map(|r| format!("order-back:refund:{}", r.refund_no))
        .collect();
    let back: HashMap<String, (i64, i64)> = balance_ledger::Entity::find()
        .filter(balance_ledger::Column::IdempotencyKey.is_in(keys))
        .all(db)
        .await?
        .into_iter()
        .map(|e| {
            (
                e.idempotency_key,
                (e.principal_delta_fen, e.bonus_delta_fen),
            )
        })
        .collect();
    let mut out = Vec::new();
    for r in settled {
        let (Some(o), Some(at)) = (orders.get(&r.order_id), r.completed_at) else {
            continue;
        };
        let (principal, bonus) = back
            .get(&format!("order-back:refund:{}", r.refund_no))
            .copied()
            .unwrap_or((0, 0));
        let mut figures = DayFigures {
            refunds_count: 1,
            ..DayFigures::default()
        };
        figures.refunds.stored_value_principal_fen = principal;
        figures.refunds.stored_value_bonus_fen = bonus;
        let rest = r.amount_fen - principal - bonus;
        if rest != 0 {
            match o.payment_method {
                Some(m) if m != PaymentMethod::Balance => figures.refunds.add(m, rest),
                _ => return Err(corrupt("refund", &r.refund_no)),
            }
        }
        out.push(DayEvent {
            kind: DayEventKind::Refund,
            ref_id: r.id,
            date: date_of(at),
            reference: r.refund_no,
            amount_fen: r.amount_fen,
            figures,
            at,
        });
    }
    Ok(out)
}
