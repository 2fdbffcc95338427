//! The background order writer: turns grab tickets into orders, exactly once per ticket, a
//! batch of tickets per transaction.
//!
//! A batch: the oldest pending tickets (`FOR UPDATE SKIP LOCKED`: writers on several replicas
//! take different tickets), grouped by sale; per sale one statement picks the free unit rows for
//! the whole group (`SKIP LOCKED` as well); per ticket the member's quota (the limit's guard),
//! the order allocated its units' batches and the claim; then the grab records in one multi-row
//! insert and each ticket's state; one commit. A ticket is marked ORDERED with its order in the
//! order's own transaction, so a crash anywhere leaves either both or neither, and the next pass
//! (this replica's writers, or the periodic task on any replica) writes what is left.
//!
//! A ticket whose order can no longer be written (the member's limit refuses it; its sale has no
//! free unit left after a few passes, or was settled or removed) fails, and its units go back to
//! the counters after the commit (if that step is lost, the reconcile task corrects the
//! counters: a failed ticket holds nothing in the database).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{CaseStatement, Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::counters::give_back_units;
use super::order::{write_order, write_orders};
use super::runtime::prepared_sale;
use super::{FlashSalesError, GrabStatus, units};
use crate::AppState;
use crate::platform::db;
use crate::platform::error::{DomainError, ErrorCode};
use crate::platform::jobs::{PeriodicTask, TaskError};
use entities::flash_sale_ticket::{self, TicketFailure, TicketStatus};
use entities::{flash_sale, flash_sale_grab};

/// Tickets written per transaction. A sale's opening records about a thousand tickets in a
/// fraction of a second; each batch costs a handful of statements whatever its size, and each
/// statement waits its turn behind the crowd's requests, so few large batches write the
/// opening's orders sooner and take less from the crowd than many small ones.
const BATCH: u64 = 256;
/// Passes that may find a ticket's sale short of free units (another writer may hold them for
/// a moment) before the ticket fails as sold out.
const SHORT_PASSES: i32 = 3;
/// Passes (10 ms apart) a writer waits for another writer's older tickets of the same members;
/// after that the periodic pass takes over.
const DEFERRED_WAITS: u32 = 100;

enum Outcome {
    Ordered(i64),
    Failed(TicketFailure),
    /// Too few free units this pass: tried again on the next.
    Short,
    /// Another writer holds an older ticket of the same member: written after it, so the
    /// member's limit keeps her first tickets (nothing changes on the ticket).
    Deferred,
}

#[derive(Debug, Default)]
struct Batch {
    tickets: usize,
    /// Tickets ordered or failed (not left waiting).
    settled: usize,
    /// Tickets left for a later pass behind an older ticket of their member.
    deferred: usize,
}

/// Writes the orders of pending tickets, batch after batch, until none is left (or a batch
/// settled none). Returns the orders written.
pub async fn write_pending_orders(app: &AppState) -> Result<u64, FlashSalesError> {
    let mut written = 0;
    let mut waits = 0;
    loop {
        let (batch, ordered) = write_batch(app).await?;
        written += ordered;
        if batch.deferred > 0 && waits < DEFERRED_WAITS {
            // The writer holding the older tickets commits within a transaction's time.
            waits += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        if batch.tickets < BATCH as usize || batch.settled == 0 {
            return Ok(written);
        }
    }
}

/// One batch in one transaction. Returns the batch's counts and the orders written.
async fn write_batch(app: &AppState) -> Result<(Batch, u64), FlashSalesError> {
    let txn = db::begin_write(&app.db).await?;
    let tickets = flash_sale_ticket::Entity::find()
        .filter(flash_sale_ticket::Column::Status.eq(TicketStatus::Pending))
        .order_by_asc(flash_sale_ticket::Column::Id)
        .limit(BATCH)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    if tickets.is_empty() {
        return Ok((Batch::default(), 0));
    }
    let mut by_sale: BTreeMap<i64, Vec<flash_sale_ticket::Model>> = BTreeMap::new();
    for t in tickets {
        by_sale.entry(t.sale_id).or_default().push(t);
    }
    let now = app.clock.now();
    let mut outcomes = Vec::new();
    for (sale_id, mut tickets) in by_sale {
        // Quota rows are locked in (sale, member) order by every writer: no deadlock between
        // two writers holding tickets of the same members.
        tickets.sort_by_key(|t| (t.member_id, t.id));
        write_sale(app, &txn, sale_id, tickets, now, &mut outcomes).await?;
    }
    let written_at = app.clock.now();
    let batch = Batch {
        tickets: outcomes.len(),
        settled: outcomes
            .iter()
            .filter(|(_, o)| !matches!(o, Outcome::Short | Outcome::Deferred))
            .count(),
        deferred: outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Deferred))
            .count(),
    };
    let ordered = record_outcomes(&txn, &outcomes, written_at).await?;
    txn.commit().await?;
    app.flash_sales.written.notify_waiters();
    for (t, outcome) in &outcomes {
        if let Outcome::Failed(failure) = outcome {
            tracing::warn!(
                ticket = t.id,
                sale_id = t.sale_id,
                member_id = t.member_id,
                ?failure,
                "a flash-sale ticket's order could not be written; its units go back"
            );
            give_back_units(app, t.sale_id, t.member_id, i64::from(t.quantity), None).await;
        }
    }
    Ok((batch, ordered))
}

/// The orders of one sale's tickets in the batch.
async fn write_sale(
    app: &AppState,
    txn: &DatabaseTransaction,
    sale_id: i64,
    tickets: Vec<flash_sale_ticket::Model>,
    now: DateTime<Utc>,
    outcomes: &mut Vec<(flash_sale_ticket::Model, Outcome)>,
) -> Result<(), FlashSalesError> {
    let sale = flash_sale::Entity::find_by_id(sale_id).one(txn).await?;
    let prepared = match sale {
        Some(sale) if sale.settled_at.is_none() => {
            match prepared_sale(app, txn, sale_id, Some(sale)).await {
                Ok(p) => Some(p),
                Err(e) if e.code() == ErrorCode::NotFound => None,
                Err(e) => return Err(e),
            }
        }
        _ => None,
    };
    let Some(prepared) = prepared else {
        outcomes.extend(
            tickets
                .into_iter()
                .map(|t| (t, Outcome::Failed(TicketFailure::SaleClosed))),
        );
        return Ok(());
    };
    let (tickets, deferred) = behind_older_tickets(txn, sale_id, tickets).await?;
    outcomes.extend(deferred.into_iter().map(|t| (t, Outcome::Deferred)));
    if tickets.is_empty() {
        return Ok(());
    }
    let wanted: i64 = tickets.iter().map(|t| i64::from(t.quantity)).sum();
    let mut free: VecDeque<(i64, i64)> = units::pick_free(txn, sale_id, wanted).await?.into();
    let members: BTreeSet<i64> = tickets.iter().map(|t| t.member_id).collect();
    if i64::try_from(free.len()).unwrap_or(i64::MAX) >= wanted && members.len() == tickets.len() {
        // The usual batch: units for every ticket, each member once; one statement per table.
        let written = write_orders(app, txn, &prepared, &tickets, &mut free, now).await?;
        for (t, order) in tickets.into_iter().zip(written) {
            let outcome = match order {
                Some(order_id) => Outcome::Ordered(order_id),
                None => Outcome::Failed(TicketFailure::LimitReached),
            };
            outcomes.push((t, outcome));
        }
        return Ok(());
    }
    // Short of units, or a member twice: ticket by ticket, in (member, ticket) order, so a
    // refused ticket leaves its units to the next and a short one takes none.
    for t in tickets {
        let q = usize::try_from(t.quantity).unwrap_or(usize::MAX);
        let outcome = if free.len() < q {
            if t.attempts + 1 >= SHORT_PASSES {
                Outcome::Failed(TicketFailure::SoldOut)
            } else {
                Outcome::Short
            }
        } else {
            match write_order(app, txn, &prepared, &t, &mut free, now).await? {
                Some(order_id) => Outcome::Ordered(order_id),
                None => Outcome::Failed(TicketFailure::LimitReached),
            }
        };
        outcomes.push((t, outcome));
    }
    Ok(())
}

/// Splits a sale's tickets of this batch into those to write now and those of members with an
/// older pending ticket outside the batch (locked by another writer, which `SKIP LOCKED`
/// passed over): written first, the older ticket keeps its place within the member's limit.
async fn behind_older_tickets(
    txn: &DatabaseTransaction,
    sale_id: i64,
    tickets: Vec<flash_sale_ticket::Model>,
) -> Result<(Vec<flash_sale_ticket::Model>, Vec<flash_sale_ticket::Model>), FlashSalesError> {
    let mut first_held: BTreeMap<i64, i64> = BTreeMap::new();
    for t in &tickets {
        let first = first_held.entry(t.member_id).or_insert(t.id);
        *first = (*first).min(t.id);
    }
    let oldest: Vec<(i64, Option<i64>)> = flash_sale_ticket::Entity::find()
        .select_only()
        .column(flash_sale_ticket::Column::MemberId)
        .column_as(flash_sale_ticket::Column::Id.min(), "oldest")
        .filter(flash_sale_ticket::Column::SaleId.eq(sale_id))
        .filter(flash_sale_ticket::Column::Status.eq(TicketStatus::Pending))
        .filter(flash_sale_ticket::Column::MemberId.is_in(first_held.keys().copied()))
        .group_by(flash_sale_ticket::Column::MemberId)
        .into_tuple()
        .all(txn)
        .await?;
    let waiting: std::collections::BTreeSet<i64> = oldest
        .into_iter()
        .filter(|(member, oldest)| {
            matches!((oldest, first_held.get(member)), (Some(o), Some(f)) if o < f)
        })
        .map(|(member, _)| member)
        .collect();
    Ok(tickets
        .into_iter()
        .partition(|t| !waiting.contains(&t.member_id)))
}

/// Each ticket's state (the ordered ones in one statement), and the grab records of the orders
/// written (one statement). Returns the orders written.
async fn record_outcomes(
    txn: &DatabaseTransaction,
    outcomes: &[(flash_sale_ticket::Model, Outcome)],
    now: DateTime<Utc>,
) -> Result<u64, FlashSalesError> {
    let pending = || {
        flash_sale_ticket::Entity::update_many()
            .filter(flash_sale_ticket::Column::Status.eq(TicketStatus::Pending))
    };
    let mut grabs = Vec::new();
    let mut order_of = CaseStatement::new();
    let mut ordered_ids = Vec::new();
    for (t, outcome) in outcomes {
        let update = pending().filter(flash_sale_ticket::Column::Id.eq(t.id));
        let update = match outcome {
            Outcome::Ordered(order_id) => {
                grabs.push(flash_sale_grab::ActiveModel {
                    sale_id: Set(t.sale_id),
                    member_id: Set(t.member_id),
                    order_id: Set(*order_id),
                    quantity: Set(t.quantity),
                    idempotency_key: Set(t.idempotency_key.clone()),
                    status: Set(GrabStatus::Held),
                    created_at: Set(t.created_at),
                    released_at: Set(None),
                    ..Default::default()
                });
                order_of = order_of.case(
                    flash_sale_ticket::Column::Id.eq(t.id),
                    Expr::value(*order_id),
                );
                ordered_ids.push(t.id);
                continue;
            }
            Outcome::Failed(failure) => update
                .col_expr(
                    flash_sale_ticket::Column::Status,
                    Expr::value(TicketStatus::Failed),
                )
                .col_expr(flash_sale_ticket::Column::Failure, Expr::value(*failure))
                .col_expr(flash_sale_ticket::Column::WrittenAt, Expr::value(now)),
            Outcome::Short => update.col_expr(
                flash_sale_ticket::Column::Attempts,
                Expr::value(t.attempts + 1),
            ),
            Outcome::Deferred => continue,
        };
        expect_changed(update.exec(txn).await?.rows_affected, 1)?;
    }
    if ordered_ids.is_empty() {
        return Ok(0);
    }
    let changed = pending()
        .col_expr(
            flash_sale_ticket::Column::Status,
            Expr::value(TicketStatus::Ordered),
        )
        .col_expr(flash_sale_ticket::Column::OrderId, order_of.into())
        .col_expr(flash_sale_ticket::Column::WrittenAt, Expr::value(now))
        .filter(flash_sale_ticket::Column::Id.is_in(ordered_ids.iter().copied()))
        .exec(txn)
        .await?;
    expect_changed(changed.rows_affected, ordered_ids.len())?;
    let ordered = grabs.len() as u64;
    flash_sale_grab::Entity::insert_many(grabs)
        .exec_without_returning(txn)
        .await?;
    Ok(ordered)
}

/// The tickets are locked by this transaction: nobody else can have written them.
fn expect_changed(rows: u64, tickets: usize) -> Result<(), FlashSalesError> {
    if rows == tickets as u64 {
        Ok(())
    } else {
        Err(FlashSalesError::InProgress)
    }
}

/// After a ticket was recorded on this replica: makes sure a writer runs (up to the replica's
/// number of writers). Each writer writes batches until a pass saw no new ticket.
pub(super) fn kick(app: &Arc<AppState>) {
    let rt = &app.flash_sales;
    rt.recorded.fetch_add(1, Ordering::SeqCst);
    if rt.writing_paused() {
        return;
    }
    if !take_writer_place(rt) {
        // Running writers see the new ticket (`recorded` changed under them).
        return;
    }
    tokio::spawn(drain(Arc::clone(app)));
}

/// Counts one more writer on this replica, unless as many as may already run.
fn take_writer_place(rt: &super::FlashSaleRuntime) -> bool {
    let running = rt.writers.load(Ordering::SeqCst);
    running < rt.max_writers
        && rt
            .writers
            .compare_exchange(running, running + 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
}

/// One writer: passes until one started with no ticket recorded since, then stops (checking
/// once more after giving its place back, so a ticket recorded meanwhile is never stranded).
async fn drain(app: Arc<AppState>) {
    let rt = &app.flash_sales;
    loop {
        let seen = rt.recorded.load(Ordering::SeqCst);
        if let Err(e) = write_pending_orders(&app).await {
            // Left for the next ticket's writer or the periodic pass.
            tracing::warn!(error = %e, "flash-sale order writer failed; retrying shortly");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if rt.recorded.load(Ordering::SeqCst) != seen {
            continue;
        }
        // Nothing new: give the place back. A ticket recorded since `seen` whose kick still
        // counted this writer started none, so look once more and take a place again if free.
        rt.writers.fetch_sub(1, Ordering::SeqCst);
        if rt.recorded.load(Ordering::SeqCst) == seen {
            return;
        }
        if !take_writer_place(rt) {
            return;
        }
    }
}

/// Scheduled: write the orders of tickets no writer wrote (a replica that died between ticket
/// and order, or a database outage that outlasted its writers' retries).
pub struct WriteFlashSaleOrders;

#[async_trait::async_trait]
impl PeriodicTask for WriteFlashSaleOrders {
    fn name(&self) -> &'static str {
        "write-flash-sale-orders"
    }
    fn every(&self) -> Duration {
        Duration::from_secs(2)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(write_pending_orders(app).await?)
    }
}
