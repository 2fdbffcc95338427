//! Where a purchase order stands in fulfilment: per line what was allocated, backordered,
//! shipped, received, damaged and short; the batches allocated; the shipments with the pack-code
//! ranges they carried. Read by HQ and by the ordering distributor (its own orders only).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::B2bError;
use crate::AppState;
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use entities::purchase_order::PoStatus;
use entities::{
    po_allocation, po_line_fulfilment, purchase_order, purchase_order_line, shipment,
    shipment_code_range, stock_batch,
};

#[derive(Debug, Clone)]
pub struct FulfilmentLine {
    pub line_id: i64,
    pub sku_id: i64,
    pub is_gift: bool,
    pub ordered_qty: i32,
    pub allocated_qty: i32,
    pub backordered_qty: i32,
    pub shipped_qty: i32,
    pub received_qty: i32,
    pub damaged_qty: i32,
    /// Shipped but neither received nor damaged (known once the receipt is confirmed).
    pub short_qty: i32,
}

#[derive(Debug, Clone)]
pub struct AllocatedBatch {
    pub line_id: i64,
    pub stock_batch_id: i64,
    pub lot: String,
    pub expires_on: NaiveDate,
    pub qty: i32,
    pub shipped_qty: i32,
}

#[derive(Debug, Clone)]
pub struct ShippedRange {
    pub line_id: i64,
    pub code_batch_id: i64,
    pub serial_from: i64,
    pub serial_to: i64,
}

#[derive(Debug, Clone)]
pub struct Shipment {
    pub id: i64,
    pub no: String,
    pub invoice_fen: i64,
    pub shipped_at: DateTime<Utc>,
    pub ranges: Vec<ShippedRange>,
}

#[derive(Debug, Clone)]
pub struct Fulfilment {
    pub purchase_order_id: i64,
    pub status: PoStatus,
    pub lines: Vec<FulfilmentLine>,
    pub allocations: Vec<AllocatedBatch>,
    pub shipments: Vec<Shipment>,
}

/// The fulfilment of order `id` (no scoping: callers check who may see it).
pub(crate) async fn load_fulfilment<C: ConnectionTrait>(
    db: &C,
    order: &purchase_order::Model,
) -> Result<Fulfilment, B2bError> {
    let id = order.id;
    let counts: HashMap<i64, po_line_fulfilment::Model> = po_line_fulfilment::Entity::find()
        .filter(po_line_fulfilment::Column::PurchaseOrderId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.po_line_id, f))
        .collect();
    let received = matches!(order.status, PoStatus::Received);
    let lines = purchase_order_line::Entity::find()
        .filter(purchase_order_line::Column::PurchaseOrderId.eq(id))
        .order_by_asc(purchase_order_line::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|l| {
            let f = counts.get(&l.id);
            let get = |pick: fn(&po_line_fulfilment::Model) -> i32| f.map_or(0, pick);
            let shipped = get(|f| f.shipped_qty);
            let counted = get(|f| f.received_qty) + get(|f| f.damaged_qty);
            FulfilmentLine {
                line_id: l.id,
                sku_id: l.sku_id,
                is_gift: l.is_gift,
                ordered_qty: l.qty,
                allocated_qty: get(|f| f.allocated_qty),
                backordered_qty: get(|f| f.backordered_qty),
                shipped_qty: shipped,
                received_qty: get(|f| f.received_qty),
                damaged_qty: get(|f| f.damaged_qty),
                short_qty: if received { shipped - counted } else { 0 },
            }
        })
        .collect();
    let rows = po_allocation::Entity::find()
        .filter(po_allocation::Column::PurchaseOrderId.eq(id))
        .order_by_asc(po_allocation::Column::Id)
        .all(db)
        .await?;
    let batch_ids: Vec<i64> = rows.iter().map(|a| a.stock_batch_id).collect();
    let batches: HashMap<i64, stock_batch::Model> = stock_batch::Entity::find()
        .filter(stock_batch::Column::Id.is_in(batch_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    let mut allocations = Vec::with_capacity(rows.len());
    for a in rows {
        let batch = batches
            .get(&a.stock_batch_id)
            .ok_or(B2bError::NotFound("batch"))?;
        allocations.push(AllocatedBatch {
            line_id: a.po_line_id,
            stock_batch_id: a.stock_batch_id,
            lot: batch.lot.clone(),
            expires_on: batch.expires_on,
            qty: a.qty,
            shipped_qty: a.shipped_qty,
        });
    }
    let shipments_rows = shipment::Entity::find()
        .filter(shipment::Column::PurchaseOrderId.eq(id))
        .order_by_asc(shipment::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<i64> = shipments_rows.iter().map(|s| s.id).collect();
    let mut ranges: HashMap<i64, Vec<ShippedRange>> = HashMap::new();
    for r in shipment_code_range::Entity::find()
        .filter(shipment_code_range::Column::ShipmentId.is_in(ids))
        .order_by_asc(shipment_code_range::Column::Id)
        .all(db)
        .await?
    {
        ranges.entry(r.shipment_id).or_default().push(ShippedRange {
            line_id: r.po_line_id,
            code_batch_id: r.code_batch_id,
            serial_from: r.serial_from,
            serial_to: r.serial_to,
        });
    }
    Ok(Fulfilment {
        purchase_order_id: id,
        status: order.status,
        lines,
        allocations,
        shipments: shipments_rows
            .into_iter()
            .map(|s| Shipment {
                ranges: ranges.remove(&s.id).unwrap_or_default(),
                id: s.id,
                no: s.no,
                invoice_fen: s.invoice_fen,
                shipped_at: s.shipped_at,
            })
            .collect(),
    })
}

/// The fulfilment of one of the caller's organisation's orders.
pub async fn purchase_order_fulfilment(
    app: &AppState,
    who: &DistributorPrincipal,
    id: i64,
) -> Result<Fulfilment, B2bError> {
    let order = purchase_order::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .filter(|o| o.distributor_id == who.distributor_id)
        .ok_or(B2bError::NotFound("purchase order"))?;
    load_fulfilment(&app.db, &order).await
}

/// The fulfilment of any order (HQ, finance).
pub async fn purchase_order_fulfilment_for_staff(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<Fulfilment, B2bError> {
    staff.require(Permission::ViewDistributors)?;
    let order = purchase_order::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    load_fulfilment(&app.db, &order).await
}
