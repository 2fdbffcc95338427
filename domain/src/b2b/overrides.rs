//! Credit overrides (信用额度临时放行): finance lets one live purchase order hold more credit
//! than the limit. The amount is added to the credit row's `override_fen` for that order only
//! (one `credit_overrides` row per order, an ADJUST entry `override:<po>`), so the database
//! CHECK (`reserved + open receivables <= limit + override`) stays the one guard; when the order
//! ends (cancelled or rejected here; a completed order through [`release_credit_override`], which
//! the fulfilment flow calls once its receivable is paid) the amount is given back, as far as
//! the row allows, by a conditional update and an ADJUST entry `override:<po>:back`.
//!
//! Decision (completed orders): the override goes back when the order is fully shipped
//! (SHIPPED or RECEIVED: everything invoiced) and every receivable of it is paid, inside the
//! payment that settles it ([`release_settled`]). Not on RECEIVED: credit is about money, and
//! an order paid in full holds no credit any more whether or not the distributor has confirmed
//! the receipt (which it may never do); waiting for it would leave the ceiling raised.
//!
//! A submit refused on credit leaves no order behind, so an override is granted on an order
//! that exists (SUBMITTED or APPROVED): typically an edit that raises it beyond the credit
//! available, or a large order finance wants to carry while the distributor pays.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use serde_json::json;

use super::B2bError;
use super::credit::{CreditStatus, MAX_LIMIT_FEN, status_of};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::error::UniqueViolation;
use crate::platform::validate;
use crate::{AppState, RequestMeta};
use entities::credit_entry::CreditEntryKind;
use entities::purchase_order::PoStatus;
use entities::{credit_account, credit_entry, credit_override, purchase_order, receivable};

/// An override as granted, with the credit after it.
#[derive(Debug, Clone)]
pub struct CreditOverride {
    pub purchase_order_id: i64,
    pub distributor_id: i64,
    pub amount_fen: i64,
    pub reason: String,
    pub granted_at: DateTime<Utc>,
    /// What was given back when the order ended (None while it lives).
    pub returned_fen: Option<i64>,
    pub credit: CreditStatus,
}

/// Grants `amount_fen` of credit above the limit to one live order (HQ, finance; audited with
/// the reason). One override per order; an order that has ended is refused.
pub async fn grant_credit_override(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    purchase_order_id: i64,
    amount_fen: i64,
    reason: &str,
) -> Result<CreditOverride, B2bError> {
    staff.require(Permission::ManageCredit)?;
    let reason = validate::text("reason", reason, 200).map_err(B2bError::InvalidInput)?;
    if !(1..=MAX_LIMIT_FEN).contains(&amount_fen) {
        return Err(B2bError::InvalidInput(format!(
            "amountFen must be between 1 and {MAX_LIMIT_FEN}"
        )));
    }
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let order = purchase_order::Entity::find_by_id(purchase_order_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    if !matches!(order.status, PoStatus::Submitted | PoStatus::Approved) {
        return Err(B2bError::WrongState);
    }
    let account = credit_account::Entity::find_by_id(order.distributor_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("credit account"))?;
    if account.prepaid {
        return Err(B2bError::InvalidInput(
            "a prepaid distributor's orders take no credit".into(),
        ));
    }
    credit_override::ActiveModel {
        purchase_order_id: Set(order.id),
        distributor_id: Set(order.distributor_id),
        amount_fen: Set(amount_fen),
        reason: Set(reason.clone()),
        granted_by: Set(staff.staff_id),
        granted_at: Set(now),
        returned_fen: Set(None),
        returned_at: Set(None),
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| B2bError::CreditOverrideExists)?;
    credit_account::Entity::update_many()
        .col_expr(
            credit_account::Column::OverrideFen,
            Expr::col(credit_account::Column::OverrideFen).add(amount_fen),
        )
        .col_expr(credit_account::Column::UpdatedAt, Expr::value(now))
        .filter(credit_account::Column::DistributorId.eq(order.distributor_id))
        .exec(&txn)
        .await?;
    adjust(
        &txn,
        order.distributor_id,
        amount_fen,
        format!("override:{}", order.id),
        Some(reason.clone()),
        now,
    )
    .await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::DistributorCreditOverride,
        (SubjectKind::Distributor, Some(order.distributor_id)),
        json!({ "purchaseOrderId": order.id, "amountFen": amount_fen, "reason": reason }),
    )
    .await?;
    let credit = status_of(&txn, order.distributor_id).await?;
    txn.commit().await?;
    Ok(CreditOverride {
        purchase_order_id: order.id,
        distributor_id: order.distributor_id,
        amount_fen,
        reason,
        granted_at: now,
        returned_fen: None,
        credit,
    })
}

/// Gives an ended order's override back, once, in the caller's transaction: the whole amount
/// when the row allows it (always, when the order's own reservation was released first and the
/// override was at most what it held), else as much as the CHECK allows (the rest is recorded
/// as not returned; finance lowers the limit or waits for payments). Returns what was given back.
pub async fn release_credit_override<C: ConnectionTrait>(
    db: &C,
    purchase_order_id: i64,
    now: DateTime<Utc>,
) -> Result<i64, B2bError> {
    let Some(row) = credit_override::Entity::find_by_id(purchase_order_id)
        .filter(credit_override::Column::ReturnedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let mut back = 0;
    if take_back(db, row.distributor_id, row.amount_fen, now).await? {
        back = row.amount_fen;
    } else if let Some(acc) = credit_account::Entity::find_by_id(row.distributor_id)
        .one(db)
        .await?
    {
        let room = acc.limit_fen + acc.override_fen - acc.reserved_fen - acc.open_ar_fen;
        let part = room.clamp(0, Ord::min(row.amount_fen, acc.override_fen));
        if part > 0 && take_back(db, row.distributor_id, part, now).await? {
            back = part;
        }
    }
    let claimed = credit_override::Entity::update_many()
        .col_expr(credit_override::Column::ReturnedFen, Expr::value(back))
        .col_expr(credit_override::Column::ReturnedAt, Expr::value(now))
        .filter(credit_override::Column::PurchaseOrderId.eq(purchase_order_id))
        .filter(credit_override::Column::ReturnedAt.is_null())
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        // Another transaction gave it back first: ours must not count twice.
        return Err(B2bError::WrongState);
    }
    if back > 0 {
        adjust(
            db,
            row.distributor_id,
            -back,
            format!("override:{purchase_order_id}:back"),
            None,
            now,
        )
        .await?;
    }
    Ok(back)
}

/// Gives back the overrides of the orders among `order_ids` that are now settled: fully
/// shipped (SHIPPED or RECEIVED) with every receivable paid. Called by a payment, in its
/// transaction (which holds the credit row, so two payments never release one override twice).
pub(crate) async fn release_settled<C: ConnectionTrait>(
    db: &C,
    order_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    let mut ids = order_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let live = credit_override::Entity::find_by_id(id)
            .filter(credit_override::Column::ReturnedAt.is_null())
            .one(db)
            .await?;
        if live.is_none() {
            continue;
        }
        let Some(order) = purchase_order::Entity::find_by_id(id).one(db).await? else {
            continue;
        };
        if !matches!(order.status, PoStatus::Shipped | PoStatus::Received) {
            continue;
        }
        let open = receivable::Entity::find()
            .filter(receivable::Column::PurchaseOrderId.eq(id))
            .filter(
                Expr::col(receivable::Column::PaidFen).lt(Expr::col(receivable::Column::AmountFen)),
            )
            .count(db)
            .await?;
        if open == 0 {
            release_credit_override(db, id, now).await?;
        }
    }
    Ok(())
}

/// Lowers the override by `amount` if the row stays within its CHECK.
async fn take_back<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    amount: i64,
    now: DateTime<Utc>,
) -> Result<bool, B2bError> {
    let changed = credit_account::Entity::update_many()
        .col_expr(
            credit_account::Column::OverrideFen,
            Expr::col(credit_account::Column::OverrideFen).sub(amount),
        )
        .col_expr(credit_account::Column::UpdatedAt, Expr::value(now))
        .filter(credit_account::Column::DistributorId.eq(distributor_id))
        .filter(credit_account::Column::OverrideFen.gte(amount))
        .filter(
            Expr::col(credit_account::Column::ReservedFen)
                .add(Expr::col(credit_account::Column::OpenArFen))
                .add(amount)
                .lte(
                    Expr::col(credit_account::Column::LimitFen)
                        .add(Expr::col(credit_account::Column::OverrideFen)),
                ),
        )
        .exec(db)
        .await?;
    Ok(changed.rows_affected == 1)
}

async fn adjust<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    amount_fen: i64,
    source_ref: String,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    credit_entry::ActiveModel {
        distributor_id: Set(distributor_id),
        kind: Set(CreditEntryKind::Adjust),
        amount_fen: Set(amount_fen),
        source_ref: Set(source_ref),
        note: Set(note),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
