//! Moving a purchase order along: HQ approves (bound to the quote hash the order carries now,
//! so an approval never outlives an edit) or rejects; the distributor cancels before
//! allocation. Each transition is one conditional update on the order's status (two approvers
//! at once: one transition, the other hears CONFLICT), with its history row; rejecting or
//! cancelling gives the order's credit back once, with a RELEASE entry.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::orders::{PurchaseOrder, load};
use super::{B2bError, buyer};
use crate::AppState;
use crate::audit::ActorKind;
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::platform::page::{IdKey, Keyset, Page};
use crate::platform::validate;
use entities::credit_entry::CreditEntryKind;
use entities::purchase_order::PoStatus;
use entities::{credit_account, credit_entry, purchase_order, purchase_order_event};

/// Who moved an order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum By {
    Staff(i64),
    Distributor(i64),
}

impl By {
    fn parts(self) -> (ActorKind, i64) {
        match self {
            Self::Staff(id) => (ActorKind::Staff, id),
            Self::Distributor(id) => (ActorKind::Distributor, id),
        }
    }
}

/// Moves order `id` from one of `from` to `to` when its hash is `hash` (if given): one
/// conditional update; when it changes nothing, says why.
async fn transition<C: ConnectionTrait>(
    db: &C,
    order: &purchase_order::Model,
    (from, to): (&[PoStatus], PoStatus),
    hash: Option<&str>,
    (by, note): (By, Option<String>),
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    let mut update = purchase_order::Entity::update_many()
        .col_expr(purchase_order::Column::Status, Expr::value(to))
        .col_expr(purchase_order::Column::UpdatedAt, Expr::value(now))
        .filter(purchase_order::Column::Id.eq(order.id))
        .filter(purchase_order::Column::Status.is_in(from.to_vec()));
    if let Some(hash) = hash {
        update = update.filter(purchase_order::Column::QuoteHash.eq(hash));
    }
    if update.exec(db).await?.rows_affected != 1 {
        let now_row = purchase_order::Entity::find_by_id(order.id)
            .one(db)
            .await?
            .ok_or(B2bError::NotFound("purchase order"))?;
        return Err(match hash {
            Some(h) if now_row.quote_hash != h => B2bError::QuoteChanged,
            _ => B2bError::WrongState,
        });
    }
    let (actor_kind, actor_id) = by.parts();
    purchase_order_event::ActiveModel {
        purchase_order_id: Set(order.id),
        status: Set(to),
        actor_kind: Set(actor_kind),
        actor_id: Set(Some(actor_id)),
        note: Set(note),
        at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Gives an order's reserved credit back, once (the ledger's unique `(RELEASE, po:<id>)`).
async fn release<C: ConnectionTrait>(
    db: &C,
    order: &purchase_order::Model,
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    super::rebates::release_hold(db, order, None, now).await?;
    if order.credit_reserved_fen == 0 {
        super::overrides::release_credit_override(db, order.id, now).await?;
        return Ok(());
    }
    let amount = order.credit_reserved_fen;
    let changed = credit_account::Entity::update_many()
        .col_expr(
            credit_account::Column::ReservedFen,
            Expr::col(credit_account::Column::ReservedFen).sub(amount),
        )
        .col_expr(credit_account::Column::UpdatedAt, Expr::value(now))
        .filter(credit_account::Column::DistributorId.eq(order.distributor_id))
        .filter(credit_account::Column::ReservedFen.gte(amount))
        .exec(db)
        .await?;
    if changed.rows_affected != 1 {
        return Err(B2bError::WrongState);
    }
    credit_entry::ActiveModel {
        distributor_id: Set(order.distributor_id),
        kind: Set(CreditEntryKind::Release),
        amount_fen: Set(amount),
        source_ref: Set(format!("po:{}", order.id)),
        note: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    // A credit override granted to this order goes back with it.
    super::overrides::release_credit_override(db, order.id, now).await?;
    Ok(())
}

async fn finish<C: ConnectionTrait>(db: &C, id: i64) -> Result<PurchaseOrder, B2bError> {
    let row = purchase_order::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    load(db, vec![row])
        .await?
        .pop()
        .ok_or(B2bError::NotFound("purchase order"))
}

/// Every organisation's orders, newest first (by id), optionally of some statuses (HQ,
/// finance): what waits for approval is `status: [SUBMITTED]`.
pub async fn purchase_order_queue(
    app: &AppState,
    staff: &StaffPrincipal,
    statuses: Vec<PoStatus>,
    page: Keyset<IdKey>,
) -> Result<Page<PurchaseOrder>, B2bError> {
    use sea_orm::{QueryOrder, QuerySelect};
    staff.require(Permission::ViewDistributors)?;
    let mut q = purchase_order::Entity::find()
        .order_by_desc(purchase_order::Column::Id)
        .limit(page.fetch());
    if !statuses.is_empty() {
        q = q.filter(purchase_order::Column::Status.is_in(statuses));
    }
    if let Some(after) = page.after {
        q = q.filter(purchase_order::Column::Id.lt(after));
    }
    let page = page.page(q.all(&app.db).await?);
    let rows = page.items.clone();
    Ok(page.with(load(&app.db, rows).await?))
}

/// Approves a submitted order as quoted with `quote_hash` (HQ). An order edited since carries
/// another hash: CONFLICT.
pub async fn approve_purchase_order(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
    quote_hash: &str,
) -> Result<PurchaseOrder, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let order = purchase_order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    transition(
        &txn,
        &order,
        (&[PoStatus::Submitted], PoStatus::Approved),
        Some(quote_hash),
        (By::Staff(staff.staff_id), None),
        now,
    )
    .await?;
    let out = finish(&txn, id).await?;
    txn.commit().await?;
    Ok(out)
}

/// Rejects a submitted or approved order, with the reason (HQ); its credit is given back.
pub async fn reject_purchase_order(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
    reason: &str,
) -> Result<PurchaseOrder, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let reason = validate::text("reason", reason, 200).map_err(B2bError::InvalidInput)?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let order = purchase_order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    transition(
        &txn,
        &order,
        (
            &[PoStatus::Submitted, PoStatus::Approved],
            PoStatus::Rejected,
        ),
        None,
        (By::Staff(staff.staff_id), Some(reason)),
        now,
    )
    .await?;
    release(&txn, &order, now).await?;
    let out = finish(&txn, id).await?;
    txn.commit().await?;
    Ok(out)
}

/// Cancels one of the caller's organisation's orders before allocation (OWNER or BUYER); its
/// credit is given back.
pub async fn cancel_purchase_order(
    app: &AppState,
    who: &DistributorPrincipal,
    id: i64,
) -> Result<PurchaseOrder, B2bError> {
    let account = buyer(&app.db, who).await?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let order = purchase_order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|o| o.distributor_id == who.distributor_id)
        .ok_or(B2bError::NotFound("purchase order"))?;
    transition(
        &txn,
        &order,
        (
            &[PoStatus::Submitted, PoStatus::Approved],
            PoStatus::Cancelled,
        ),
        None,
        (By::Distributor(account.id), None),
        now,
    )
    .await?;
    release(&txn, &order, now).await?;
    let out = finish(&txn, id).await?;
    txn.commit().await?;
    Ok(out)
}
