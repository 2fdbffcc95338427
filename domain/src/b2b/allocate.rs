//! Allocating an approved purchase order (HQ): each line takes stock from the central
//! (delivery) warehouse, first-expiry-first-out, only from batches that still have the
//! distributor's minimum remaining shelf life; what cannot be allocated is backordered on the
//! line. Every unit taken is a `B2B_ALLOCATE` movement in the stock ledger, written by a
//! conditional decrement (stock never goes below zero, whoever allocates at the same time).
//! Allocating again later fills backorders from stock that has arrived since.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set,
};

use super::B2bError;
use super::fulfilment::{Fulfilment, load_fulfilment};
use crate::AppState;
use crate::audit::ActorKind;
use crate::auth::{Permission, StaffPrincipal};
use crate::inventory::{self, InventoryError, MovementKind, MovementSpec};
use crate::platform::clock::DEFAULT_ZONE;
use entities::purchase_order::PoStatus;
use entities::{
    distributor, po_allocation, po_line_fulfilment, purchase_order, purchase_order_event,
    purchase_order_line, stock_batch, stock_level,
};

/// How many times a line re-reads the candidate batches when others took them first.
const MAX_PASSES: usize = 16;

pub(crate) fn from_inventory(e: InventoryError) -> B2bError {
    match e {
        InventoryError::Store(e) => B2bError::Store(e),
        InventoryError::NotFound(what) => B2bError::NotFound(what),
        InventoryError::Auth(e) => B2bError::Auth(e),
        other => B2bError::InvalidInput(other.to_string()),
    }
}

/// Allocates order `id` (APPROVED → ALLOCATED), or fills its backorders (ALLOCATED or
/// PARTIALLY_SHIPPED with lines backordered).
pub async fn allocate_purchase_order(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<Fulfilment, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let order = purchase_order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    let lines = purchase_order_line::Entity::find()
        .filter(purchase_order_line::Column::PurchaseOrderId.eq(id))
        .order_by_asc(purchase_order_line::Column::Id)
        .all(&txn)
        .await?;
    let first = order.status == PoStatus::Approved;
    let needs = line_needs(&txn, &order, lines, first, now).await?;
    let dist = distributor::Entity::find_by_id(order.distributor_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    let warehouse = inventory::delivery_warehouse(&txn)
        .await
        .map_err(from_inventory)?;
    let today = now.with_timezone(&DEFAULT_ZONE).date_naive();
    // A batch must still be good on the day the distributor's shelf life runs to (and never
    // expired today).
    let min_days =
        u64::try_from(std::cmp::max(dist.min_shelf_life_days.unwrap_or(0), 1)).unwrap_or(1);
    let good_until = today
        .checked_add_days(Days::new(min_days))
        .ok_or_else(|| B2bError::InvalidInput("shelf life out of range".into()))?;
    let reference = format!("po:{}", order.no);
    let mut backordered_total = 0;
    for (line, need) in needs {
        let taken = take(
            &txn,
            Take {
                location_id: warehouse.id,
                sku_id: line.sku_id,
                need,
                good_until,
                reference: &reference,
                staff_id: staff.staff_id,
                at: now,
            },
        )
        .await?;
        let got: i32 = taken.values().sum();
        for (batch_id, qty) in taken {
            po_allocation::ActiveModel {
                purchase_order_id: Set(id),
                po_line_id: Set(line.id),
                location_id: Set(warehouse.id),
                stock_batch_id: Set(batch_id),
                sku_id: Set(line.sku_id),
                qty: Set(qty),
                shipped_qty: Set(0),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
        }
        let left = need - got;
        backordered_total += left;
        let update = po_line_fulfilment::Entity::update_many()
            .col_expr(
                po_line_fulfilment::Column::AllocatedQty,
                Expr::col(po_line_fulfilment::Column::AllocatedQty).add(got),
            )
            .col_expr(
                po_line_fulfilment::Column::BackorderedQty,
                Expr::value(left),
            )
            .col_expr(po_line_fulfilment::Column::UpdatedAt, Expr::value(now))
            .filter(po_line_fulfilment::Column::PoLineId.eq(line.id));
        let update = if first {
            update
        } else {
            // Filling a backorder: only if nobody filled it meanwhile.
            update.filter(po_line_fulfilment::Column::BackorderedQty.eq(need))
        };
        if update.exec(&txn).await?.rows_affected != 1 {
            return Err(B2bError::WrongState);
        }
    }
    let note = (backordered_total > 0).then(|| format!("backordered {backordered_total}"));
    purchase_order_event::ActiveModel {
        purchase_order_id: Set(id),
        status: Set(if first {
            PoStatus::Allocated
        } else {
            order.status
        }),
        actor_kind: Set(ActorKind::Staff),
        actor_id: Set(Some(staff.staff_id)),
        note: Set(note.or_else(|| (!first).then(|| "backorders allocated".to_owned()))),
        at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let order = purchase_order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    let out = load_fulfilment(&txn, &order).await?;
    txn.commit().await?;
    Ok(out)
}

/// What each line still needs: all of it on the first allocation (which claims the order,
/// APPROVED → ALLOCATED), its backorder afterwards.
async fn line_needs(
    txn: &sea_orm::DatabaseTransaction,
    order: &purchase_order::Model,
    lines: Vec<purchase_order_line::Model>,
    first: bool,
    now: DateTime<Utc>,
) -> Result<Vec<(purchase_order_line::Model, i32)>, B2bError> {
    // What each line still needs; claiming it is a conditional update, so two allocations of
    // one order at once move it once.
    let id = order.id;
    let mut needs: Vec<(purchase_order_line::Model, i32)> = Vec::new();
    if first {
        let claimed = purchase_order::Entity::update_many()
            .col_expr(
                purchase_order::Column::Status,
                Expr::value(PoStatus::Allocated),
            )
            .col_expr(purchase_order::Column::UpdatedAt, Expr::value(now))
            .filter(purchase_order::Column::Id.eq(id))
            .filter(purchase_order::Column::Status.eq(PoStatus::Approved))
            .exec(txn)
            .await?;
        if claimed.rows_affected != 1 {
            return Err(B2bError::WrongState);
        }
        for l in lines {
            po_line_fulfilment::ActiveModel {
                po_line_id: Set(l.id),
                purchase_order_id: Set(id),
                sku_id: Set(l.sku_id),
                ordered_qty: Set(l.qty),
                allocated_qty: Set(0),
                backordered_qty: Set(0),
                shipped_qty: Set(0),
                received_qty: Set(0),
                damaged_qty: Set(0),
                updated_at: Set(now),
            }
            .insert(txn)
            .await?;
            let qty = l.qty;
            needs.push((l, qty));
        }
    } else if matches!(
        order.status,
        PoStatus::Allocated | PoStatus::PartiallyShipped
    ) {
        for l in lines {
            let f = po_line_fulfilment::Entity::find_by_id(l.id)
                .one(txn)
                .await?
                .ok_or(B2bError::WrongState)?;
            if f.backordered_qty > 0 {
                needs.push((l, f.backordered_qty));
            }
        }
        if needs.is_empty() {
            return Err(B2bError::WrongState);
        }
    } else {
        return Err(B2bError::WrongState);
    }
    Ok(needs)
}

struct Take<'a> {
    location_id: i64,
    sku_id: i64,
    need: i32,
    good_until: chrono::NaiveDate,
    reference: &'a str,
    staff_id: i64,
    at: DateTime<Utc>,
}

/// Takes up to `need` units, soonest-expiring eligible batch first; returns units per batch.
/// Each step is a conditional decrement: a batch another allocation emptied meanwhile is
/// skipped and the candidates are read again.
async fn take<C: ConnectionTrait>(db: &C, t: Take<'_>) -> Result<BTreeMap<i64, i32>, B2bError> {
    let mut need = i64::from(t.need);
    let mut taken: BTreeMap<i64, i32> = BTreeMap::new();
    for _ in 0..MAX_PASSES {
        if need == 0 {
            break;
        }
        let candidates: Vec<(i64, i64)> = stock_level::Entity::find()
            .select_only()
            .column(stock_level::Column::BatchId)
            .column(stock_level::Column::Quantity)
            .join(JoinType::InnerJoin, stock_level::Relation::Batch.def())
            .filter(stock_level::Column::LocationId.eq(t.location_id))
            .filter(stock_level::Column::SkuId.eq(t.sku_id))
            .filter(stock_level::Column::Quantity.gt(0))
            .filter(stock_batch::Column::ExpiresOn.gte(t.good_until))
            .order_by_asc(stock_batch::Column::ExpiresOn)
            .order_by_asc(stock_level::Column::BatchId)
            .into_tuple()
            .all(db)
            .await?;
        if candidates.is_empty() {
            break;
        }
        for (batch_id, available) in candidates {
            if need == 0 {
                break;
            }
            let n = std::cmp::min(need, available);
            let spec = MovementSpec {
                location_id: t.location_id,
                batch_id,
                sku_id: t.sku_id,
                delta: -n,
                kind: MovementKind::B2bAllocate,
                reference: Some(t.reference),
                staff_id: Some(t.staff_id),
                note: None,
                at: t.at,
            };
            match inventory::apply_movement(db, spec).await {
                Ok(()) => {
                    need -= n;
                    let n = i32::try_from(n).map_err(|_| B2bError::WrongState)?;
                    *taken.entry(batch_id).or_default() += n;
                }
                Err(InventoryError::Insufficient { .. }) => {}
                Err(e) => return Err(from_inventory(e)),
            }
        }
    }
    Ok(taken)
}
