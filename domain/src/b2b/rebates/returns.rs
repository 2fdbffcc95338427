//! Returns after receipt (退货). The distributor (OWNER or BUYER) asks to return received units
//! of an order, with the reason; HQ accepts: the units go back into the warehouse batches they
//! were allocated from (B2B_RETURN movements), a credit note worth them at the order's prices
//! takes open receivables down (as far as any are open; oldest first), and the volume rebate
//! of the quarter the order was received in is recomputed without them, the difference written
//! as a REVERSE entry (clawed back if that quarter was settled). All in one transaction; a
//! return is accepted once.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;

use super::super::{B2bError, buyer};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::inventory::{self, MovementKind, MovementSpec};
use crate::platform::validate;
use crate::{AppState, RequestMeta};
use entities::b2b_return::ReturnStatus;
use entities::credit_entry::CreditEntryKind;
use entities::purchase_order::PoStatus;
use entities::{
    b2b_return, b2b_return_line, credit_account, credit_entry, po_allocation, po_line_fulfilment,
    purchase_order, purchase_order_event, purchase_order_line,
};

/// Units of one order line to return.
#[derive(Debug, Clone, Copy)]
pub struct ReturnLineInput {
    pub line_id: i64,
    pub qty: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B2bReturn {
    pub id: i64,
    pub purchase_order_id: i64,
    pub status: ReturnStatus,
    pub reason: String,
    pub value_fen: i64,
    pub credit_note_fen: i64,
    /// (order line, units)
    pub lines: Vec<(i64, i32)>,
    pub requested_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

async fn load<C: ConnectionTrait>(db: &C, row: b2b_return::Model) -> Result<B2bReturn, B2bError> {
    let lines = b2b_return_line::Entity::find()
        .filter(b2b_return_line::Column::ReturnId.eq(row.id))
        .order_by_asc(b2b_return_line::Column::PoLineId)
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.po_line_id, l.qty))
        .collect();
    Ok(B2bReturn {
        id: row.id,
        purchase_order_id: row.purchase_order_id,
        status: row.status,
        reason: row.reason,
        value_fen: row.value_fen,
        credit_note_fen: row.credit_note_fen,
        lines,
        requested_at: row.requested_at,
        accepted_at: row.accepted_at,
    })
}

/// Asks to return received units of one of the caller's organisation's orders (OWNER or
/// BUYER). At most what was received and not already on a return, per line.
pub async fn return_purchase_order_lines(
    app: &AppState,
    who: &DistributorPrincipal,
    id: i64,
    lines: &[ReturnLineInput],
    reason: &str,
) -> Result<B2bReturn, B2bError> {
    let account = buyer(&app.db, who).await?;
    let reason = validate::text("reason", reason, 200).map_err(B2bError::InvalidInput)?;
    if lines.is_empty() || lines.len() > super::super::quote::MAX_LINES {
        return Err(B2bError::InvalidInput(
            "name at least one line to return".into(),
        ));
    }
    let mut wanted: BTreeMap<i64, i32> = BTreeMap::new();
    for l in lines {
        if l.qty < 1 || wanted.insert(l.line_id, l.qty).is_some() {
            return Err(B2bError::InvalidInput(
                "each line at most once, at least one unit".into(),
            ));
        }
    }
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    // The order row locked: two requests for the same units go one after the other.
    let order = purchase_order::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|o| o.distributor_id == who.distributor_id)
        .ok_or(B2bError::NotFound("purchase order"))?;
    if order.status != PoStatus::Received {
        return Err(B2bError::WrongState);
    }
    let received: HashMap<i64, i32> = po_line_fulfilment::Entity::find()
        .filter(po_line_fulfilment::Column::PurchaseOrderId.eq(id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|f| (f.po_line_id, f.received_qty))
        .collect();
    let prices: HashMap<i64, i64> = purchase_order_line::Entity::find()
        .filter(purchase_order_line::Column::PurchaseOrderId.eq(id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|l| (l.id, l.unit_price_fen))
        .collect();
    let already = on_returns(&txn, id).await?;
    let mut value = 0i64;
    for (line, qty) in &wanted {
        let got = received
            .get(line)
            .copied()
            .ok_or(B2bError::NotFound("purchase order line"))?;
        let left = i64::from(got) - already.get(line).copied().unwrap_or(0);
        if i64::from(*qty) > left {
            return Err(B2bError::InvalidInput(format!(
                "line {line}: at most {left} received units are left to return"
            )));
        }
        value += i64::from(*qty) * prices.get(line).copied().unwrap_or(0);
    }
    let row = b2b_return::ActiveModel {
        purchase_order_id: Set(id),
        distributor_id: Set(order.distributor_id),
        status: Set(ReturnStatus::Requested),
        reason: Set(reason),
        value_fen: Set(value),
        credit_note_fen: Set(0),
        requested_by: Set(account.id),
        requested_at: Set(now),
        accepted_by: Set(None),
        accepted_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    b2b_return_line::Entity::insert_many(wanted.iter().map(|(line, qty)| {
        b2b_return_line::ActiveModel {
            return_id: Set(row.id),
            po_line_id: Set(*line),
            qty: Set(*qty),
            ..Default::default()
        }
    }))
    .exec(&txn)
    .await?;
    let out = load(&txn, row).await?;
    txn.commit().await?;
    Ok(out)
}

/// Units per line of the order already on returns (requested or accepted).
async fn on_returns<C: ConnectionTrait>(
    db: &C,
    order_id: i64,
) -> Result<HashMap<i64, i64>, B2bError> {
    let ids: Vec<i64> = b2b_return::Entity::find()
        .select_only()
        .column(b2b_return::Column::Id)
        .filter(b2b_return::Column::PurchaseOrderId.eq(order_id))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<i64, i64> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for l in b2b_return_line::Entity::find()
        .filter(b2b_return_line::Column::ReturnId.is_in(ids))
        .all(db)
        .await?
    {
        *out.entry(l.po_line_id).or_default() += i64::from(l.qty);
    }
    Ok(out)
}

/// Accepts a requested return (HQ; audited): stock back, credit note, rebate reversed.
pub async fn accept_b2b_return(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    return_id: i64,
) -> Result<B2bReturn, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let ret = b2b_return::Entity::find_by_id(return_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("return"))?;
    let moved = b2b_return::Entity::update_many()
        .col_expr(
            b2b_return::Column::Status,
            Expr::value(ReturnStatus::Accepted),
        )
        .col_expr(b2b_return::Column::AcceptedBy, Expr::value(staff.staff_id))
        .col_expr(b2b_return::Column::AcceptedAt, Expr::value(now))
        .filter(b2b_return::Column::Id.eq(return_id))
        .filter(b2b_return::Column::Status.eq(ReturnStatus::Requested))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(B2bError::WrongState);
    }
    let order = purchase_order::Entity::find_by_id(ret.purchase_order_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    let lines = b2b_return_line::Entity::find()
        .filter(b2b_return_line::Column::ReturnId.eq(return_id))
        .all(&txn)
        .await?;
    let reference = format!("return:{return_id}");
    for l in &lines {
        restock(&txn, l, (&reference, staff.staff_id), now).await?;
    }
    let credit_note = credit_note(&txn, &ret, &reference, now).await?;
    b2b_return::Entity::update_many()
        .col_expr(b2b_return::Column::CreditNoteFen, Expr::value(credit_note))
        .filter(b2b_return::Column::Id.eq(return_id))
        .exec(&txn)
        .await?;
    let received_at = purchase_order_event::Entity::find()
        .filter(purchase_order_event::Column::PurchaseOrderId.eq(order.id))
        .filter(purchase_order_event::Column::Status.eq(PoStatus::Received))
        .one(&txn)
        .await?
        .map_or(now, |e| e.at);
    super::accrue::on_receipt(&txn, &order, received_at, &reference, now).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::PurchaseOrderReturn,
        (SubjectKind::Distributor, Some(order.distributor_id)),
        json!({ "purchaseOrderId": order.id, "returnId": return_id, "valueFen": ret.value_fen,
                "creditNoteFen": credit_note,
                "units": lines.iter().map(|l| l.qty).sum::<i32>() }),
    )
    .await?;
    let row = b2b_return::Entity::find_by_id(return_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("return"))?;
    let out = load(&txn, row).await?;
    txn.commit().await?;
    Ok(out)
}

/// Puts a returned line's units back into the batches it was allocated from (the latest
/// allocation first), one B2B_RETURN movement per batch.
async fn restock<C: ConnectionTrait>(
    db: &C,
    line: &b2b_return_line::Model,
    (reference, staff_id): (&str, i64),
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    let allocations = po_allocation::Entity::find()
        .filter(po_allocation::Column::PoLineId.eq(line.po_line_id))
        .filter(po_allocation::Column::ShippedQty.gt(0))
        .order_by_desc(po_allocation::Column::Id)
        .all(db)
        .await?;
    let mut left = i64::from(line.qty);
    for a in allocations {
        if left == 0 {
            break;
        }
        let n = Ord::min(left, i64::from(a.shipped_qty));
        inventory::apply_movement(
            db,
            MovementSpec {
                location_id: a.location_id,
                batch_id: a.stock_batch_id,
                sku_id: a.sku_id,
                delta: n,
                kind: MovementKind::B2bReturn,
                reference: Some(reference),
                staff_id: Some(staff_id),
                note: None,
                at: now,
            },
        )
        .await
        .map_err(super::super::allocate::from_inventory)?;
        left -= n;
    }
    if left != 0 {
        return Err(B2bError::WrongState);
    }
    Ok(())
}

/// Takes open receivables down by the return's value, as far as any are open (what was paid
/// already is the brand's to refund outside Rouge): one conditional update and one CREDIT_NOTE
/// entry. Returns what it took.
async fn credit_note<C: ConnectionTrait>(
    db: &C,
    ret: &b2b_return::Model,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<i64, B2bError> {
    let Some(account) = credit_account::Entity::find_by_id(ret.distributor_id)
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let amount = Ord::min(ret.value_fen, account.open_ar_fen);
    if amount <= 0 {
        return Ok(0);
    }
    let changed = credit_account::Entity::update_many()
        .col_expr(
            credit_account::Column::OpenArFen,
            Expr::col(credit_account::Column::OpenArFen).sub(amount),
        )
        .col_expr(credit_account::Column::UpdatedAt, Expr::value(now))
        .filter(credit_account::Column::DistributorId.eq(ret.distributor_id))
        .filter(credit_account::Column::OpenArFen.gte(amount))
        .exec(db)
        .await?;
    if changed.rows_affected != 1 {
        return Err(B2bError::WrongState);
    }
    credit_entry::ActiveModel {
        distributor_id: Set(ret.distributor_id),
        kind: Set(CreditEntryKind::CreditNote),
        amount_fen: Set(amount),
        source_ref: Set(reference.to_owned()),
        note: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    super::super::payments::apply_oldest_first(db, ret.distributor_id, amount).await?;
    Ok(amount)
}
