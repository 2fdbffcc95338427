//! Grab tickets: the answer a winner gets at once. The counters decided the grab; the ticket is
//! one row written before the answer (so the units are never only in the counters' memory), and
//! the order follows from the background writer (`writer`), exactly once per ticket, within
//! [`ORDER_WITHIN`] in normal running. A member reads her ticket (and its order once written)
//! with [`flash_sale_order`], which waits up to that time for a pending ticket.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set, TryInsertResult,
};
use tokio::sync::oneshot;

use super::FlashSalesError;
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::orders::{self, Order};
use entities::flash_sale_ticket::{self, TicketFailure, TicketStatus};

/// The stated time within which a ticket's order is written (and shows in `myOrders`) while
/// the writers run normally. After a crash between ticket and order, the next writer pass (every
/// two seconds on any replica) writes it.
pub const ORDER_WITHIN: chrono::Duration = chrono::Duration::seconds(2);

/// A grab ticket as a member sees it.
#[derive(Debug, Clone)]
pub struct GrabTicket {
    pub id: i64,
    pub sale_id: i64,
    pub member_id: i64,
    /// The units the grab reserved for the member.
    pub quantity: i32,
    pub status: TicketStatus,
    pub failure: Option<TicketFailure>,
    pub order_id: Option<i64>,
    pub grabbed_at: DateTime<Utc>,
    pub order_expected_by: DateTime<Utc>,
    pub order_written_at: Option<DateTime<Utc>>,
}

impl From<flash_sale_ticket::Model> for GrabTicket {
    fn from(t: flash_sale_ticket::Model) -> Self {
        Self {
            id: t.id,
            sale_id: t.sale_id,
            member_id: t.member_id,
            quantity: t.quantity,
            status: t.status,
            failure: t.failure,
            order_id: t.order_id,
            grabbed_at: t.created_at,
            order_expected_by: t.order_due_at,
            order_written_at: t.written_at,
        }
    }
}

/// Tickets in one shared insert at most. A sale's opening brings about a thousand winners within
/// a tenth of a second: 256 drains them in four inserts (64 took sixteen, the last winners
/// waiting on all of them).
const SHARED_INSERT: usize = 256;

/// A granted grab waiting for the next shared insert of tickets.
pub(super) struct WaitingTicket {
    row: flash_sale_ticket::ActiveModel,
    sale_id: i64,
    member_id: i64,
    idempotency_key: String,
    answer: oneshot::Sender<Result<(flash_sale_ticket::Model, bool), FlashSalesError>>,
}

/// Tasks inserting tickets at once at most. With one, a winner arriving just after an insert
/// began waited for that insert and then its own; the opening's last winners waited for every
/// insert before theirs. Two overlap them and still leave the pool's connections to the order
/// writers.
const INSERTERS: usize = 2;

/// Grabs granted at the same moment share one `INSERT` of their tickets (group commit): the
/// winners of a burst arrive together, and one statement for up to 256 of them, at most
/// [`INSERTERS`] at a time, leaves the pool's connections to the order writers instead of
/// queueing a connection per winner.
#[derive(Default)]
pub(super) struct TicketQueue {
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    waiting: Vec<WaitingTicket>,
    /// Tasks inserting: each takes what waits when its insert is done.
    inserters: usize,
}

impl QueueState {
    /// Counts a new inserting task in; false when enough run already.
    fn start_inserter(&mut self) -> bool {
        if self.inserters < INSERTERS {
            self.inserters += 1;
            true
        } else {
            false
        }
    }
}

impl TicketQueue {
    /// Queues a ticket; true when the caller must start an inserting task.
    fn push(&self, ticket: WaitingTicket) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.waiting.push(ticket);
        state.start_inserter()
    }

    /// The next tickets to insert, or none (and the inserting task ends).
    fn next(&self) -> Vec<WaitingTicket> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.waiting.is_empty() {
            state.inserters -= 1;
            return Vec::new();
        }
        let take = state.waiting.len().min(SHARED_INSERT);
        state.waiting.drain(..take).collect()
    }
}

/// Ends the inserting task's turn even if it panicked, starting another for what still waits.
struct InsertingTurn(Arc<AppState>);

impl Drop for InsertingTurn {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let queue = &self.0.flash_sales.tickets;
            let mut state = queue.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.inserters -= 1;
            if !state.waiting.is_empty() && state.start_inserter() {
                tokio::spawn(insert_waiting(Arc::clone(&self.0)));
            }
        }
    }
}

/// Records the ticket of a grab the counters granted (durable before the answer). Returns the
/// ticket and whether it is new: an existing one under the same key (the counters forgot its
/// answer, e.g. after a Redis restart) is the answer, and the units just taken go back.
pub(super) async fn record(
    app: &Arc<AppState>,
    sale_id: i64,
    member_id: i64,
    quantity: i32,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> Result<(flash_sale_ticket::Model, bool), FlashSalesError> {
    let (answer, answered) = oneshot::channel();
    let ticket = WaitingTicket {
        row: flash_sale_ticket::ActiveModel {
            sale_id: Set(sale_id),
            member_id: Set(member_id),
            quantity: Set(quantity),
            idempotency_key: Set(idempotency_key.to_owned()),
            status: Set(TicketStatus::Pending),
            failure: Set(None),
            order_id: Set(None),
            attempts: Set(0),
            created_at: Set(now),
            order_due_at: Set(now + ORDER_WITHIN),
            written_at: Set(None),
            ..Default::default()
        },
        sale_id,
        member_id,
        idempotency_key: idempotency_key.to_owned(),
        answer,
    };
    if app.flash_sales.tickets.push(ticket) {
        tokio::spawn(insert_waiting(Arc::clone(app)));
    }
    // A dropped answer means the inserting task died with this ticket: nothing was recorded.
    answered.await.unwrap_or(Err(FlashSalesError::InProgress))
}

/// The inserting task: shared inserts until nothing waits.
async fn insert_waiting(app: Arc<AppState>) {
    let _turn = InsertingTurn(Arc::clone(&app));
    loop {
        let tickets = app.flash_sales.tickets.next();
        if tickets.is_empty() {
            return;
        }
        insert_shared(&app, tickets).await;
    }
}

/// One statement for the tickets; each waiting grab gets its ticket, a conflicting key its
/// earlier ticket, a failed statement its own error from a statement of its own.
async fn insert_shared(app: &AppState, tickets: Vec<WaitingTicket>) {
    let rows = tickets.iter().map(|t| t.row.clone());
    let inserted = flash_sale_ticket::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([
            flash_sale_ticket::Column::SaleId,
            flash_sale_ticket::Column::MemberId,
            flash_sale_ticket::Column::IdempotencyKey,
        ])
        .exec_with_returning_many(&app.db)
        .await;
    let mut new_rows: HashMap<(i64, i64, String), flash_sale_ticket::Model> = match inserted {
        Ok(TryInsertResult::Inserted(rows)) => rows
            .into_iter()
            .map(|r| ((r.sale_id, r.member_id, r.idempotency_key.clone()), r))
            .collect(),
        Ok(TryInsertResult::Empty | TryInsertResult::Conflicted) => HashMap::new(),
        Err(e) => {
            tracing::warn!(error = %e, tickets = tickets.len(), "a shared insert of grab tickets failed; inserting one by one");
            for t in tickets {
                let one = insert_one(app, t.row, t.sale_id, t.member_id, &t.idempotency_key).await;
                let _ = t.answer.send(one);
            }
            return;
        }
    };
    for t in tickets {
        let answer = match new_rows.remove(&(t.sale_id, t.member_id, t.idempotency_key.clone())) {
            Some(row) => Ok((row, true)),
            None => by_key(&app.db, t.sale_id, t.member_id, &t.idempotency_key)
                .await
                .and_then(|row| row.ok_or(FlashSalesError::InProgress))
                .map(|row| (row, false)),
        };
        // The grab may have given up waiting (its task ended): nothing to answer.
        let _ = t.answer.send(answer);
    }
}

/// One ticket in a statement of its own.
async fn insert_one(
    app: &AppState,
    row: flash_sale_ticket::ActiveModel,
    sale_id: i64,
    member_id: i64,
    idempotency_key: &str,
) -> Result<(flash_sale_ticket::Model, bool), FlashSalesError> {
    let inserted = flash_sale_ticket::Entity::insert(row)
        .on_conflict_do_nothing_on([
            flash_sale_ticket::Column::SaleId,
            flash_sale_ticket::Column::MemberId,
            flash_sale_ticket::Column::IdempotencyKey,
        ])
        .exec_with_returning(&app.db)
        .await?;
    match inserted {
        TryInsertResult::Inserted(row) => Ok((row, true)),
        TryInsertResult::Empty | TryInsertResult::Conflicted => {
            let row = by_key(&app.db, sale_id, member_id, idempotency_key)
                .await?
                .ok_or(FlashSalesError::InProgress)?;
            Ok((row, false))
        }
    }
}

/// The ticket of a member's grab under this key.
pub(super) async fn by_key<C: ConnectionTrait>(
    db: &C,
    sale_id: i64,
    member_id: i64,
    idempotency_key: &str,
) -> Result<Option<flash_sale_ticket::Model>, FlashSalesError> {
    Ok(flash_sale_ticket::Entity::find()
        .filter(flash_sale_ticket::Column::SaleId.eq(sale_id))
        .filter(flash_sale_ticket::Column::MemberId.eq(member_id))
        .filter(flash_sale_ticket::Column::IdempotencyKey.eq(idempotency_key))
        .one(db)
        .await?)
}

/// Units of the sale in tickets whose order is not written yet, per member: the counters took
/// them, no quota or unit row shows them yet.
pub(super) async fn pending_units<C: ConnectionTrait>(
    db: &C,
    sale_id: i64,
) -> Result<Vec<(i64, i64)>, FlashSalesError> {
    let rows: Vec<(i64, i32)> = flash_sale_ticket::Entity::find()
        .select_only()
        .column(flash_sale_ticket::Column::MemberId)
        .column(flash_sale_ticket::Column::Quantity)
        .filter(flash_sale_ticket::Column::SaleId.eq(sale_id))
        .filter(flash_sale_ticket::Column::Status.eq(TicketStatus::Pending))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(m, q)| (m, i64::from(q))).collect())
}

/// A member's grab ticket and its order once written. A pending ticket is waited for, up to
/// [`ORDER_WITHIN`] (answered as soon as its order is written or it failed); another member's
/// ticket is NOT_FOUND.
pub async fn flash_sale_order(
    app: &AppState,
    me: &MemberPrincipal,
    ticket_id: i64,
) -> Result<(GrabTicket, Option<Order>), FlashSalesError> {
    let deadline = tokio::time::Instant::now()
        + ORDER_WITHIN
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(2));
    loop {
        // Registered before the read, so a batch committing in between still wakes us.
        let mut written = pin!(app.flash_sales.written.notified());
        written.as_mut().enable();
        let row = flash_sale_ticket::Entity::find_by_id(ticket_id)
            .filter(flash_sale_ticket::Column::MemberId.eq(me.member_id))
            .one(&app.db)
            .await?
            .ok_or(FlashSalesError::NotFound("grab ticket"))?;
        let now = tokio::time::Instant::now();
        if row.status != TicketStatus::Pending || now >= deadline {
            let ticket = GrabTicket::from(row);
            let order = order_of(app, &ticket).await?;
            return Ok((ticket, order));
        }
        // Another replica's writer does not wake us: look again at least every 200 ms.
        let wait = (deadline - now).min(std::time::Duration::from_millis(200));
        let _ = tokio::time::timeout(wait, written).await;
    }
}

/// The ticket's order, once written.
pub async fn order_of(
    app: &AppState,
    ticket: &GrabTicket,
) -> Result<Option<Order>, FlashSalesError> {
    let Some(order_id) = ticket.order_id else {
        return Ok(None);
    };
    let row = orders::row(app, order_id).await?;
    Ok(Some(orders::load(app, row).await?))
}
