//! `lockCommissionMonth` (HQ, finance): once a month is over in the store's zone, writes every
//! BA's statement and its lines in one transaction, from one computation of the month (a few
//! set-based reads, batched inserts). The unique (store, month) lock row decides a race: the
//! second lock (at once or later) writes nothing and answers the statements already written.
//! Later refunds of the month's sales are adjustments in the next open month.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::preview::compute_month;
use super::{CommissionError, Line, Month, StatementStatus, gather, invalid, month_bounds, plans};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::sales::business_date;
use entities::{
    commission_line, commission_month, commission_plan, commission_statement, staff_account,
};

/// Rows per insert statement (well under SQLite's bound-parameter limit).
const CHUNK: usize = 400;

/// Locks a store's month (idempotent: a locked month answers its statements unchanged).
pub async fn lock_commission_month(
    app: &AppState,
    staff: &StaffPrincipal,
    month: &str,
    store_id: i64,
) -> Result<Month, CommissionError> {
    staff.require(Permission::LockCommission)?;
    let (_, next) = month_bounds(month)?;
    let store = gather::store(&app.db, store_id).await?;
    if business_date(app.clock.now(), Some(&store.timezone)) < next {
        return Err(invalid("a month can be locked once it is over"));
    }
    if let Some(done) = locked_month(&app.db, store_id, month).await? {
        return Ok(done);
    }
    let plan = plans::plan_in_force(&app.db, store_id, month).await?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let now = app.clock.now();
    let claimed = commission_month::Entity::insert(commission_month::ActiveModel {
        store_id: Set(store_id),
        month: Set(month.to_owned()),
        plan_id: Set(plan.id),
        total_fen: Set(0),
        locked_by: Set(staff.staff_id),
        locked_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            commission_month::Column::StoreId,
            commission_month::Column::Month,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if claimed == 0 {
        // Another lock got there first: its statements are the month's.
        drop(txn);
        return locked_month(&app.db, store_id, month)
            .await?
            .ok_or(CommissionError::NotFound("commission month"));
    }
    let lock = commission_month::Entity::find()
        .filter(commission_month::Column::StoreId.eq(store_id))
        .filter(commission_month::Column::Month.eq(month))
        .one(&txn)
        .await?
        .ok_or(CommissionError::NotFound("commission month"))?;
    let computed = compute_month(&txn, store_id, month, &plan, StatementStatus::Locked).await?;
    write(&txn, lock.id, &computed, now).await?;
    commission_month::Entity::update_many()
        .col_expr(
            commission_month::Column::TotalFen,
            Expr::value(computed.total_fen),
        )
        .filter(commission_month::Column::Id.eq(lock.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    locked_month(&app.db, store_id, month)
        .await?
        .ok_or(CommissionError::NotFound("commission month"))
}

/// Inserts the statements, then their lines, in batches.
async fn write<C: ConnectionTrait>(
    txn: &C,
    lock_id: i64,
    month: &Month,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), CommissionError> {
    for chunk in month.statements.chunks(CHUNK) {
        commission_statement::Entity::insert_many(chunk.iter().map(|s| {
            commission_statement::ActiveModel {
                commission_month_id: Set(lock_id),
                store_id: Set(s.store_id),
                staff_id: Set(s.staff_id),
                month: Set(s.month.clone()),
                plan_id: Set(s.plan_id),
                total_fen: Set(s.total_fen),
                locked_at: Set(now),
                ..Default::default()
            }
        }))
        .exec_without_returning(txn)
        .await?;
    }
    let ids: BTreeMap<i64, i64> = commission_statement::Entity::find()
        .filter(commission_statement::Column::CommissionMonthId.eq(lock_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|s| (s.staff_id, s.id))
        .collect();
    let rows: Vec<commission_line::ActiveModel> = month
        .statements
        .iter()
        .flat_map(|s| {
            let statement_id = ids.get(&s.staff_id).copied().unwrap_or_default();
            s.lines.iter().map(move |l| commission_line::ActiveModel {
                statement_id: Set(statement_id),
                position: Set(l.position),
                source: Set(l.source),
                source_id: Set(l.source_id),
                kind: Set(l.kind),
                item_kind: Set(l.item_kind),
                split: Set(l.split),
                business_date: Set(l.business_date),
                base_fen: Set(l.base_fen),
                share_bp: Set(l.share_bp),
                rate_bp: Set(l.rate_bp),
                amount_fen: Set(l.amount_fen),
                rule_label: Set(l.rule_label.clone()),
                ..Default::default()
            })
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        commission_line::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

fn line_of(l: commission_line::Model) -> Line {
    Line {
        position: l.position,
        source: l.source,
        source_id: l.source_id,
        kind: l.kind,
        item_kind: l.item_kind,
        split: l.split,
        business_date: l.business_date,
        base_fen: l.base_fen,
        share_bp: l.share_bp,
        rate_bp: l.rate_bp,
        amount_fen: l.amount_fen,
        rule_label: l.rule_label,
    }
}

/// A locked month as written, or None when it is not locked. `only` narrows it to one BA.
pub(super) async fn locked_month_of<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
    month: &str,
    only: Option<i64>,
) -> Result<Option<Month>, CommissionError> {
    let Some(lock) = commission_month::Entity::find()
        .filter(commission_month::Column::StoreId.eq(store_id))
        .filter(commission_month::Column::Month.eq(month))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let version = commission_plan::Entity::find_by_id(lock.plan_id)
        .one(db)
        .await?
        .map_or(0, |p| p.version);
    let mut q = commission_statement::Entity::find()
        .filter(commission_statement::Column::CommissionMonthId.eq(lock.id));
    if let Some(staff_id) = only {
        q = q.filter(commission_statement::Column::StaffId.eq(staff_id));
    }
    let rows = q
        .order_by_asc(commission_statement::Column::StaffId)
        .all(db)
        .await?;
    let mut lines: BTreeMap<i64, Vec<Line>> = BTreeMap::new();
    for l in commission_line::Entity::find()
        .filter(commission_line::Column::StatementId.is_in(rows.iter().map(|s| s.id)))
        .order_by_asc(commission_line::Column::StatementId)
        .order_by_asc(commission_line::Column::Position)
        .all(db)
        .await?
    {
        lines.entry(l.statement_id).or_default().push(line_of(l));
    }
    let names: BTreeMap<i64, String> = staff_account::Entity::find()
        .filter(staff_account::Column::Id.is_in(rows.iter().map(|s| s.staff_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.display_name))
        .collect();
    let statements = rows
        .into_iter()
        .map(|s| super::Statement {
            staff_name: names.get(&s.staff_id).cloned().unwrap_or_default(),
            lines: lines.remove(&s.id).unwrap_or_default(),
            staff_id: s.staff_id,
            store_id: s.store_id,
            month: s.month,
            status: StatementStatus::Locked,
            plan_id: s.plan_id,
            plan_version: version,
            total_fen: s.total_fen,
            locked_at: Some(s.locked_at),
        })
        .collect();
    Ok(Some(Month {
        store_id,
        month: month.to_owned(),
        status: StatementStatus::Locked,
        plan_id: lock.plan_id,
        plan_version: version,
        total_fen: lock.total_fen,
        locked_at: Some(lock.locked_at),
        statements,
    }))
}

async fn locked_month<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
    month: &str,
) -> Result<Option<Month>, CommissionError> {
    locked_month_of(db, store_id, month, None).await
}
