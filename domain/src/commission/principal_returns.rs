//! Top-up commission taken back when a member's unused principal is paid back to her
//! (`returnMemberPrincipal`), in the month of the return, as a refund of a sale is.
//!
//! A return pays back the whole principal left, so it covers only what was topped up since the
//! member's previous return (which left nothing). The balance keeps no lots; read first in,
//! first out, spending took the oldest money, so the principal left is the newest: the return
//! is laid over those top-ups newest first, each up to the principal it put in. The part that falls on a counter top-up of this store is a negative
//! TOP_UP item credited to the BA who recorded it: a CLAWBACK, or an ADJUSTMENT when the
//! top-up's month is already locked. Principal that came back by refunds of orders paid before
//! the previous return covers no top-up of the window and takes nothing back.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::compute::Item;
use super::{CommissionError, CommissionItemKind, CommissionLineKind, CommissionSource, month_of};
use crate::sales::business_date;
use entities::balance_ledger::{self, BalanceSource};
use entities::store;
use entities::top_up::{self, TopUpStatus};

/// The TOP_UP items taken back by principal returns made in `[from, to)` by members who topped
/// up at the store's counter; `month` is the month computed, `locked` the store's locked months.
pub(super) async fn items<C: ConnectionTrait>(
    db: &C,
    store: &store::Model,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    month: &str,
    locked: &BTreeSet<String>,
) -> Result<Vec<Item>, CommissionError> {
    let counter_members = Query::select()
        .column(top_up::Column::MemberId)
        .from(top_up::Entity)
        .and_where(top_up::Column::StoreId.eq(store.id))
        .and_where(top_up::Column::StaffId.is_not_null())
        .and_where(top_up::Column::Status.eq(TopUpStatus::Paid))
        .to_owned();
    let returns = balance_ledger::Entity::find()
        .filter(balance_ledger::Column::Source.eq(BalanceSource::PrincipalReturned))
        .filter(balance_ledger::Column::CreatedAt.gte(from))
        .filter(balance_ledger::Column::CreatedAt.lt(to))
        .filter(balance_ledger::Column::MemberId.in_subquery(counter_members))
        .order_by_asc(balance_ledger::Column::CreatedAt)
        .order_by_asc(balance_ledger::Column::Id)
        .all(db)
        .await?;
    if returns.is_empty() {
        return Ok(Vec::new());
    }
    let members: BTreeSet<i64> = returns.iter().map(|r| r.member_id).collect();
    // Every return of these members up to the month's end: the one before each return of the
    // month opens its window.
    let all_returns = balance_ledger::Entity::find()
        .filter(balance_ledger::Column::Source.eq(BalanceSource::PrincipalReturned))
        .filter(balance_ledger::Column::MemberId.is_in(members.iter().copied()))
        .filter(balance_ledger::Column::CreatedAt.lt(to))
        .order_by_asc(balance_ledger::Column::CreatedAt)
        .order_by_asc(balance_ledger::Column::Id)
        .all(db)
        .await?;
    let mut top_ups: BTreeMap<i64, Vec<top_up::Model>> = BTreeMap::new();
    for t in top_up::Entity::find()
        .filter(top_up::Column::MemberId.is_in(members.iter().copied()))
        .filter(top_up::Column::Status.eq(TopUpStatus::Paid))
        .filter(top_up::Column::PaidAt.lt(to))
        .order_by_desc(top_up::Column::PaidAt)
        .order_by_desc(top_up::Column::Id)
        .all(db)
        .await?
    {
        top_ups.entry(t.member_id).or_default().push(t);
    }
    let zone = Some(store.timezone.as_str());
    let mut out = Vec::new();
    for r in &returns {
        let previous = all_returns
            .iter()
            .filter(|p| p.member_id == r.member_id && (p.created_at, p.id) < (r.created_at, r.id))
            .map(|p| p.created_at)
            .next_back();
        let window = top_ups.get(&r.member_id).into_iter().flatten().filter(|t| {
            let paid = paid_at(t);
            paid <= r.created_at && previous.is_none_or(|p| paid > p)
        });
        let day = business_date(r.created_at, zone);
        for (t, part) in lay_newest_first(-r.principal_delta_fen, window) {
            if t.store_id != Some(store.id) || t.staff_id.is_none() {
                continue;
            }
            let top_up_month = month_of(business_date(paid_at(t), zone));
            let (kind, locked_month) = if top_up_month != month && locked.contains(&top_up_month) {
                (CommissionLineKind::Adjustment, Some(top_up_month))
            } else {
                (CommissionLineKind::Clawback, None)
            };
            out.push(Item {
                source: CommissionSource::TopUp,
                source_id: t.id,
                item_kind: CommissionItemKind::TopUp,
                kind,
                business_date: day,
                locked_month,
                net_fen: -part,
                cost_fen: 0,
                designated: None,
                served: t.staff_id,
            });
        }
    }
    Ok(out)
}

fn paid_at(t: &top_up::Model) -> DateTime<Utc> {
    t.paid_at.unwrap_or(t.created_at)
}

/// `amount` laid over top-ups (newest first), each taking up to its principal; the parts > 0.
fn lay_newest_first<'a>(
    amount: i64,
    newest_first: impl Iterator<Item = &'a top_up::Model>,
) -> Vec<(&'a top_up::Model, i64)> {
    let mut left = amount.max(0);
    let mut parts = Vec::new();
    for t in newest_first {
        if left == 0 {
            break;
        }
        let part = left.min(t.principal_fen.max(0));
        if part > 0 {
            parts.push((t, part));
            left -= part;
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use entities::order::PaymentMethod;

    fn top_up(id: i64, principal_fen: i64) -> top_up::Model {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        top_up::Model {
            id,
            top_up_no: format!("T{id}"),
            member_id: 1,
            plan_id: None,
            tender: PaymentMethod::Cash,
            principal_fen,
            bonus_fen: 0,
            bonus_valid_days: None,
            status: TopUpStatus::Paid,
            staff_id: Some(1),
            store_id: Some(1),
            idempotency_key: None,
            request_hash: None,
            transaction_id: None,
            paid_at: Some(at),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_return_takes_the_newest_top_ups_first_each_up_to_its_principal() {
        let newest_first = [top_up(3, 50_000), top_up(2, 100_000), top_up(1, 30_000)];
        let parts: Vec<(i64, i64)> = lay_newest_first(120_000, newest_first.iter())
            .into_iter()
            .map(|(t, p)| (t.id, p))
            .collect();
        assert_eq!(parts, vec![(3, 50_000), (2, 70_000)]);
        let all: i64 = lay_newest_first(500_000, newest_first.iter())
            .iter()
            .map(|(_, p)| p)
            .sum();
        assert_eq!(all, 180_000, "no top-up gives back more than it put in");
        assert!(lay_newest_first(0, newest_first.iter()).is_empty());
    }
}
