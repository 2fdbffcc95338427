//! Reading purchase orders: the caller's organisation's list (newest first) and one order with
//! its lines and status history. Another organisation's orders are not found.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::B2bError;
use crate::AppState;
use crate::audit::ActorKind;
use crate::auth::DistributorPrincipal;
use crate::platform::page::{IdKey, Keyset, Page};
use entities::purchase_order::PoStatus;
use entities::{purchase_order, purchase_order_event, purchase_order_line};

#[derive(Debug, Clone)]
pub struct PoLine {
    pub id: i64,
    pub sku_id: i64,
    pub qty: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
    pub is_gift: bool,
}

#[derive(Debug, Clone)]
pub struct PoEvent {
    pub status: PoStatus,
    pub actor_kind: ActorKind,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PurchaseOrder {
    pub id: i64,
    pub no: String,
    pub distributor_id: i64,
    pub status: PoStatus,
    pub quote_hash: String,
    pub price_list_id: i64,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub credit_reserved_fen: i64,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<PoLine>,
    pub events: Vec<PoEvent>,
}

/// Orders with their lines and history, in the order given.
pub(crate) async fn load<C: ConnectionTrait>(
    db: &C,
    rows: Vec<purchase_order::Model>,
) -> Result<Vec<PurchaseOrder>, B2bError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut lines: HashMap<i64, Vec<PoLine>> = HashMap::new();
    for l in purchase_order_line::Entity::find()
        .filter(purchase_order_line::Column::PurchaseOrderId.is_in(ids.clone()))
        .order_by_asc(purchase_order_line::Column::Id)
        .all(db)
        .await?
    {
        lines.entry(l.purchase_order_id).or_default().push(PoLine {
            id: l.id,
            sku_id: l.sku_id,
            qty: l.qty,
            unit_price_fen: l.unit_price_fen,
            line_total_fen: l.line_total_fen,
            is_gift: l.is_gift,
        });
    }
    let mut events: HashMap<i64, Vec<PoEvent>> = HashMap::new();
    for e in purchase_order_event::Entity::find()
        .filter(purchase_order_event::Column::PurchaseOrderId.is_in(ids))
        .order_by_asc(purchase_order_event::Column::Id)
        .all(db)
        .await?
    {
        events
            .entry(e.purchase_order_id)
            .or_default()
            .push(PoEvent {
                status: e.status,
                actor_kind: e.actor_kind,
                at: e.at,
                note: e.note,
            });
    }
    Ok(rows
        .into_iter()
        .map(|r| PurchaseOrder {
            lines: lines.remove(&r.id).unwrap_or_default(),
            events: events.remove(&r.id).unwrap_or_default(),
            id: r.id,
            no: r.no,
            distributor_id: r.distributor_id,
            status: r.status,
            quote_hash: r.quote_hash,
            price_list_id: r.price_list_id,
            subtotal_fen: r.subtotal_fen,
            discount_fen: r.discount_fen,
            total_fen: r.total_fen,
            credit_reserved_fen: r.credit_reserved_fen,
            created_at: r.created_at,
        })
        .collect())
}

/// One of the caller's organisation's orders.
pub async fn purchase_order(
    app: &AppState,
    who: &DistributorPrincipal,
    id: i64,
) -> Result<PurchaseOrder, B2bError> {
    let row = purchase_order::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .filter(|o| o.distributor_id == who.distributor_id)
        .ok_or(B2bError::NotFound("purchase order"))?;
    load(&app.db, vec![row])
        .await?
        .pop()
        .ok_or(B2bError::NotFound("purchase order"))
}

/// The caller's organisation's orders, newest first (by id), optionally of some statuses.
pub async fn purchase_orders(
    app: &AppState,
    who: &DistributorPrincipal,
    statuses: Vec<PoStatus>,
    page: Keyset<IdKey>,
) -> Result<Page<PurchaseOrder>, B2bError> {
    let mut q = purchase_order::Entity::find()
        .filter(purchase_order::Column::DistributorId.eq(who.distributor_id))
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
