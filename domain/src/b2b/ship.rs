//! Shipping an allocated purchase order (HQ): the cartons list, per order line, the pack-code
//! serial ranges packed (code batch + from..=to). A range must be of the line's SKU, inside its
//! code batch, not shipped before (checked with the code batch row locked, so two shipments of
//! one range at once: one fails) and its size must be the quantity. The binding (shipment,
//! line, distributor, batch, range) is what maps every consumer scan to the distributor the
//! pack was shipped to ([`super::packs::shipped_to`]). Shipping invoices: the order's share of
//! reserved credit moves to open receivables (one INVOICE entry per shipment) and a receivable
//! falls due on the ship day + the payment term (Asia/Shanghai).

use std::collections::{BTreeMap, BTreeSet};

use chrono::Days;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use super::B2bError;
use super::fulfilment::{Fulfilment, load_fulfilment};
use crate::audit::{self, Action, Actor, ActorKind, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::clock::DEFAULT_ZONE;
use crate::{AppState, RequestMeta};
use entities::credit_entry::CreditEntryKind;
use entities::purchase_order::PoStatus;
use entities::{
    credit_account, credit_entry, po_allocation, po_line_fulfilment, purchase_order,
    purchase_order_event, purchase_order_line, receivable, scan_code_batch, shipment,
    shipment_code_range,
};

/// Pack codes of one order line in a carton.
#[derive(Debug, Clone)]
pub struct CartonLine {
    pub line_id: i64,
    pub code_batch_id: i64,
    pub serial_from: i64,
    pub serial_to: i64,
    pub qty: i32,
}

/// One carton: its lines.
#[derive(Debug, Clone)]
pub struct Carton {
    pub lines: Vec<CartonLine>,
}

const MAX_RANGES: usize = 2_000;

fn mismatch(line_id: i64, reason: &'static str) -> B2bError {
    B2bError::CartonMismatch { line_id, reason }
}

/// The ranges of the cartons, checked on their own: sizes match quantities, no overlaps.
fn ranges_of(cartons: &[Carton]) -> Result<Vec<CartonLine>, B2bError> {
    let ranges: Vec<CartonLine> = cartons.iter().flat_map(|c| c.lines.clone()).collect();
    if ranges.is_empty() || ranges.len() > MAX_RANGES {
        return Err(B2bError::InvalidInput(format!(
            "cartons must list between 1 and {MAX_RANGES} lines"
        )));
    }
    for r in &ranges {
        if r.serial_from < 0 || r.serial_to < r.serial_from {
            return Err(B2bError::InvalidInput(
                "serialFrom must be 0 or more and at most serialTo".into(),
            ));
        }
        if r.serial_to - r.serial_from + 1 != i64::from(r.qty) {
            return Err(mismatch(
                r.line_id,
                "quantity differs from the serial range",
            ));
        }
    }
    let mut sorted: Vec<&CartonLine> = ranges.iter().collect();
    sorted.sort_by_key(|r| (r.code_batch_id, r.serial_from));
    for pair in sorted.windows(2) {
        if pair[0].code_batch_id == pair[1].code_batch_id
            && pair[1].serial_from <= pair[0].serial_to
        {
            return Err(mismatch(
                pair[1].line_id,
                "serial ranges overlap in the cartons",
            ));
        }
    }
    Ok(ranges)
}

/// Ships cartons of order `id` (ALLOCATED or PARTIALLY_SHIPPED → PARTIALLY_SHIPPED or SHIPPED).
pub async fn ship_purchase_order(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    id: i64,
    cartons: &[Carton],
) -> Result<Fulfilment, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let ranges = ranges_of(cartons)?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    // The order row locked (PostgreSQL; SQLite has one writer): its shipments go one by one.
    let order = purchase_order::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    if !matches!(
        order.status,
        PoStatus::Allocated | PoStatus::PartiallyShipped
    ) {
        return Err(B2bError::WrongState);
    }
    let lines: BTreeMap<i64, purchase_order_line::Model> = purchase_order_line::Entity::find()
        .filter(purchase_order_line::Column::PurchaseOrderId.eq(id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    let mut per_line: BTreeMap<i64, i32> = BTreeMap::new();
    for r in &ranges {
        if !lines.contains_key(&r.line_id) {
            return Err(mismatch(r.line_id, "not a line of this order"));
        }
        *per_line.entry(r.line_id).or_default() += r.qty;
    }
    let batches = lock_and_check_batches(&txn, &ranges, &lines).await?;
    for (&line_id, &qty) in &per_line {
        ship_line(&txn, line_id, qty, now).await?;
    }
    let no = format!(
        "SH{}{}",
        now.with_timezone(&DEFAULT_ZONE).format("%Y%m%d"),
        &uuid::Uuid::new_v4().simple().to_string()[..8].to_ascii_uppercase()
    );
    let complete = fully_shipped(&txn, id).await?;
    let invoice_fen = invoice_amount(&txn, &order, &lines, &per_line, complete).await?;
    let ship = shipment::ActiveModel {
        no: Set(no),
        purchase_order_id: Set(id),
        distributor_id: Set(order.distributor_id),
        invoice_fen: Set(invoice_fen),
        shipped_at: Set(now),
        created_by: Set(staff.staff_id),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    shipment_code_range::Entity::insert_many(ranges.iter().map(|r| {
        shipment_code_range::ActiveModel {
            shipment_id: Set(ship.id),
            po_line_id: Set(r.line_id),
            distributor_id: Set(order.distributor_id),
            code_batch_id: Set(r.code_batch_id),
            stock_batch_id: Set(batches[&r.code_batch_id].stock_batch_id),
            sku_id: Set(batches[&r.code_batch_id].sku_id),
            serial_from: Set(r.serial_from),
            serial_to: Set(r.serial_to),
            ..Default::default()
        }
    }))
    .exec(&txn)
    .await?;
    invoice(&txn, &order, &ship, now).await?;
    super::rebates::consume_hold(&txn, &order, now).await?;
    let to = if complete {
        PoStatus::Shipped
    } else {
        PoStatus::PartiallyShipped
    };
    purchase_order::Entity::update_many()
        .col_expr(purchase_order::Column::Status, Expr::value(to))
        .col_expr(purchase_order::Column::UpdatedAt, Expr::value(now))
        .filter(purchase_order::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    purchase_order_event::ActiveModel {
        purchase_order_id: Set(id),
        status: Set(to),
        actor_kind: Set(ActorKind::Staff),
        actor_id: Set(Some(staff.staff_id)),
        note: Set(Some(format!("shipment {}", ship.no))),
        at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::PurchaseOrderShip,
        (SubjectKind::Distributor, Some(order.distributor_id)),
        json!({ "purchaseOrderId": id, "shipmentId": ship.id, "invoiceFen": invoice_fen,
                "units": per_line.values().sum::<i32>() }),
    )
    .await?;
    let order = purchase_order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    let out = load_fulfilment(&txn, &order).await?;
    txn.commit().await?;
    Ok(out)
}

/// Locks the code batches of the ranges in id order (no deadlock between two shippers) and
/// checks each range: the line's SKU, within the batch, never shipped before.
async fn lock_and_check_batches(
    txn: &sea_orm::DatabaseTransaction,
    ranges: &[CartonLine],
    lines: &BTreeMap<i64, purchase_order_line::Model>,
) -> Result<BTreeMap<i64, scan_code_batch::Model>, B2bError> {
    let batch_ids: BTreeSet<i64> = ranges.iter().map(|r| r.code_batch_id).collect();
    let mut batches = BTreeMap::new();
    for batch_id in batch_ids {
        let b = scan_code_batch::Entity::find_by_id(batch_id)
            .lock_exclusive()
            .one(txn)
            .await?
            .ok_or(B2bError::NotFound("code batch"))?;
        batches.insert(batch_id, b);
    }
    for r in ranges {
        let b = &batches[&r.code_batch_id];
        if b.sku_id != lines[&r.line_id].sku_id {
            return Err(mismatch(r.line_id, "codes of another SKU"));
        }
        if r.serial_to >= b.code_count {
            return Err(mismatch(r.line_id, "serials beyond the code batch"));
        }
        let shipped_before = shipment_code_range::Entity::find()
            .filter(shipment_code_range::Column::CodeBatchId.eq(r.code_batch_id))
            .filter(shipment_code_range::Column::SerialFrom.lte(r.serial_to))
            .filter(shipment_code_range::Column::SerialTo.gte(r.serial_from))
            .one(txn)
            .await?;
        if shipped_before.is_some() {
            return Err(B2bError::CodesAlreadyShipped {
                batch_id: r.code_batch_id,
                from: r.serial_from,
                to: r.serial_to,
            });
        }
    }
    Ok(batches)
}

/// Marks `qty` units of a line shipped: on the line (never beyond what was allocated) and on
/// its allocations, earliest first.
async fn ship_line<C: ConnectionTrait>(
    db: &C,
    line_id: i64,
    qty: i32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), B2bError> {
    let changed = po_line_fulfilment::Entity::update_many()
        .col_expr(
            po_line_fulfilment::Column::ShippedQty,
            Expr::col(po_line_fulfilment::Column::ShippedQty).add(qty),
        )
        .col_expr(po_line_fulfilment::Column::UpdatedAt, Expr::value(now))
        .filter(po_line_fulfilment::Column::PoLineId.eq(line_id))
        .filter(
            Expr::col(po_line_fulfilment::Column::ShippedQty)
                .add(qty)
                .lte(Expr::col(po_line_fulfilment::Column::AllocatedQty)),
        )
        .exec(db)
        .await?;
    if changed.rows_affected != 1 {
        return Err(mismatch(line_id, "more than allocated and not yet shipped"));
    }
    let mut left = qty;
    for a in po_allocation::Entity::find()
        .filter(po_allocation::Column::PoLineId.eq(line_id))
        .filter(
            Expr::col(po_allocation::Column::ShippedQty).lt(Expr::col(po_allocation::Column::Qty)),
        )
        .order_by_asc(po_allocation::Column::Id)
        .all(db)
        .await?
    {
        if left == 0 {
            break;
        }
        let n = std::cmp::min(left, a.qty - a.shipped_qty);
        po_allocation::Entity::update_many()
            .col_expr(
                po_allocation::Column::ShippedQty,
                Expr::col(po_allocation::Column::ShippedQty).add(n),
            )
            .filter(po_allocation::Column::Id.eq(a.id))
            .exec(db)
            .await?;
        left -= n;
    }
    Ok(())
}

async fn fully_shipped<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, B2bError> {
    let open = po_line_fulfilment::Entity::find()
        .filter(po_line_fulfilment::Column::PurchaseOrderId.eq(id))
        .filter(
            Expr::col(po_line_fulfilment::Column::ShippedQty)
                .lt(Expr::col(po_line_fulfilment::Column::OrderedQty)),
        )
        .count(db)
        .await?;
    Ok(open == 0)
}

/// What this shipment invoices: the order's total in proportion to the list value shipped
/// (so discounts are shared), and on the shipment that completes the order, the rest.
async fn invoice_amount<C: ConnectionTrait>(
    db: &C,
    order: &purchase_order::Model,
    lines: &BTreeMap<i64, purchase_order_line::Model>,
    per_line: &BTreeMap<i64, i32>,
    complete: bool,
) -> Result<i64, B2bError> {
    let invoiced: i64 = shipment::Entity::find()
        .filter(shipment::Column::PurchaseOrderId.eq(order.id))
        .select_only()
        .column(shipment::Column::InvoiceFen)
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .sum();
    let rest = order.total_fen - invoiced;
    if complete {
        return Ok(std::cmp::max(rest, 0));
    }
    let value: i64 = per_line
        .iter()
        .map(|(line, qty)| lines[line].unit_price_fen * i64::from(*qty))
        .sum();
    let list: i64 = lines.values().map(|l| l.line_total_fen).sum();
    if list <= 0 {
        return Ok(0);
    }
    let share = i128::from(order.total_fen) * i128::from(value) / i128::from(list);
    Ok(i64::try_from(share)
        .unwrap_or(i64::MAX)
        .clamp(0, std::cmp::max(rest, 0)))
}

/// Moves the shipment's amount from the order's reserved credit to open receivables (one
/// INVOICE entry per shipment) and writes its receivable. Prepaid orders (no credit held)
/// invoice nothing on credit.
async fn invoice<C: ConnectionTrait>(
    db: &C,
    order: &purchase_order::Model,
    ship: &shipment::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), B2bError> {
    if order.credit_reserved_fen == 0 || ship.invoice_fen == 0 {
        return Ok(());
    }
    let amount = ship.invoice_fen;
    let changed = credit_account::Entity::update_many()
        .col_expr(
            credit_account::Column::ReservedFen,
            Expr::col(credit_account::Column::ReservedFen).sub(amount),
        )
        .col_expr(
            credit_account::Column::OpenArFen,
            Expr::col(credit_account::Column::OpenArFen).add(amount),
        )
        .col_expr(credit_account::Column::UpdatedAt, Expr::value(now))
        .filter(credit_account::Column::DistributorId.eq(order.distributor_id))
        .filter(credit_account::Column::ReservedFen.gte(amount))
        .exec(db)
        .await?;
    if changed.rows_affected != 1 {
        return Err(B2bError::WrongState);
    }
    let terms = credit_account::Entity::find_by_id(order.distributor_id)
        .one(db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    credit_entry::ActiveModel {
        distributor_id: Set(order.distributor_id),
        kind: Set(CreditEntryKind::Invoice),
        amount_fen: Set(amount),
        source_ref: Set(format!("shipment:{}", ship.id)),
        note: Set(Some(ship.no.clone())),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let ship_day = now.with_timezone(&DEFAULT_ZONE).date_naive();
    let due_on = ship_day
        .checked_add_days(Days::new(
            u64::try_from(terms.payment_term_days).unwrap_or(0),
        ))
        .ok_or_else(|| B2bError::InvalidInput("payment term out of range".into()))?;
    receivable::ActiveModel {
        distributor_id: Set(order.distributor_id),
        shipment_id: Set(ship.id),
        purchase_order_id: Set(order.id),
        amount_fen: Set(amount),
        paid_fen: Set(0),
        due_on: Set(due_on),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
