//! Writing a priced order: its row, lines, discounts and stock allocations; and finding the
//! order an idempotency key already placed.

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, Set,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{FulfilmentKind, Order, OrderStatus, OrdersError, PaymentMethod, load};
use crate::AppState;
use crate::inventory::{self, MovementKind};
use crate::pricing::{Channel, Discount, DraftLine, allocate_discount};
use entities::{order, order_allocation, order_discount, order_line, sku};

/// A priced order, ready to be written (and its stock taken).
pub(crate) struct OrderDraft {
    pub member_id: i64,
    pub channel: Channel,
    pub fulfilment: FulfilmentKind,
    pub store_id: Option<i64>,
    pub location_id: i64,
    pub lines: Vec<DraftLine>,
    pub discounts: Vec<Discount>,
    pub ba_id: Option<i64>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub delivery_address: Option<String>,
    pub status: OrderStatus,
    pub payment_method: Option<PaymentMethod>,
    pub pay_deadline: Option<DateTime<Utc>>,
}

impl OrderDraft {
    /// Each line's subtotal, and the order's discount (never above their sum).
    pub(super) fn totals(&self) -> (Vec<i64>, i64) {
        let subtotals: Vec<i64> = self
            .lines
            .iter()
            .map(|l| l.unit_price_fen * i64::from(l.quantity))
            .collect();
        let discount: i64 = self.discounts.iter().map(|d| d.amount_fen).sum();
        let discount = discount.min(subtotals.iter().sum());
        (subtotals, discount)
    }
}

pub fn new_order_no(now: DateTime<Utc>) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    let tail: String = (0..10)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("R{}{tail}", now.format("%y%m%d"))
}

/// Writes the order, its lines, discounts and allocations, taking the stock. Any shortage
/// fails the whole transaction.
pub(crate) async fn insert_order(
    txn: &DatabaseTransaction,
    draft: OrderDraft,
    movement: MovementKind,
    staff_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<order::Model, OrdersError> {
    insert_order_with(txn, draft, Stock::Take { movement, staff_id }, now).await
}

/// Where the units of an order's lines come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stock<'a> {
    /// Taken first-expiry-first-out from the order's location, with a movement of this kind.
    Take {
        movement: MovementKind,
        staff_id: Option<i64>,
    },
    /// Already set aside (a flash sale's units, taken from the location when the sale was
    /// warmed): the order's one line is allocated these (batch, units); no stock row is touched.
    SetAside(&'a [(i64, i64)]),
}

/// Writes the order as `insert_order` does, its stock from `stock`.
pub(crate) async fn insert_order_with(
    txn: &DatabaseTransaction,
    draft: OrderDraft,
    stock: Stock<'_>,
    now: DateTime<Utc>,
) -> Result<order::Model, OrdersError> {
    let (subtotals, discount) = draft.totals();
    let subtotal: i64 = subtotals.iter().sum();
    let order_no = new_order_no(now);
    let row = order_row(&draft, order_no.clone(), (subtotal, discount), now)
        .insert(txn)
        .await?;
    let shares = allocate_discount(&subtotals, discount);
    let placed = Placed {
        order_id: row.id,
        order_no: &order_no,
        location_id: draft.location_id,
        stock,
        now,
    };
    for ((line, subtotal), share) in draft.lines.into_iter().zip(subtotals).zip(shares) {
        insert_line(txn, &placed, line, subtotal, share).await?;
    }
    for d in draft.discounts {
        discount_row(row.id, d).insert(txn).await?;
    }
    Ok(row)
}

/// The order's row as written: totals from its lines, less the discount (never below zero).
pub(super) fn order_row(
    draft: &OrderDraft,
    order_no: String,
    (subtotal, discount): (i64, i64),
    now: DateTime<Utc>,
) -> order::ActiveModel {
    order::ActiveModel {
        order_no: Set(order_no),
        member_id: Set(draft.member_id),
        channel: Set(draft.channel),
        fulfilment: Set(draft.fulfilment),
        store_id: Set(draft.store_id),
        location_id: Set(draft.location_id),
        status: Set(draft.status),
        subtotal_fen: Set(subtotal),
        discount_fen: Set(discount),
        total_fen: Set(subtotal - discount),
        refunded_fen: Set(0),
        payment_method: Set(draft.payment_method),
        transaction_id: Set(None),
        ba_id: Set(draft.ba_id),
        idempotency_key: Set(draft.idempotency_key.clone()),
        request_hash: Set(draft.request_hash.clone()),
        delivery_address: Set(draft.delivery_address.clone()),
        pay_deadline: Set(draft.pay_deadline),
        paid_at: Set((draft.status == OrderStatus::Paid).then_some(now)),
        closed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// A line's row: its share of the order's discount taken off, the cost at placing kept.
pub(super) fn line_row(
    order_id: i64,
    line: DraftLine,
    (subtotal, share): (i64, i64),
    unit_cost_fen: Option<i64>,
) -> order_line::ActiveModel {
    order_line::ActiveModel {
        order_id: Set(order_id),
        sku_id: Set(line.sku_id),
        product_name: Set(line.product_name),
        sku_label: Set(line.sku_label),
        quantity: Set(line.quantity),
        unit_price_fen: Set(line.unit_price_fen),
        discount_fen: Set(share),
        line_total_fen: Set(subtotal - share),
        refunded_quantity: Set(0),
        unit_cost_fen: Set(unit_cost_fen),
        ..Default::default()
    }
}

pub(super) fn discount_row(order_id: i64, d: Discount) -> order_discount::ActiveModel {
    order_discount::ActiveModel {
        order_id: Set(order_id),
        kind: Set(d.kind),
        label: Set(d.label),
        amount_fen: Set(d.amount_fen),
        reference: Set(d.reference),
        ..Default::default()
    }
}

/// The written order its lines are added to, and how their stock is taken.
struct Placed<'a> {
    order_id: i64,
    order_no: &'a str,
    location_id: i64,
    stock: Stock<'a>,
    now: DateTime<Utc>,
}

/// One line of the order, with its share of the discount, and its stock taken first-expiry-
/// first-out (one allocation per batch).
async fn insert_line(
    txn: &DatabaseTransaction,
    placed: &Placed<'_>,
    line: DraftLine,
    subtotal: i64,
    share: i64,
) -> Result<(), OrdersError> {
    // The cost at placing, kept with the line: later cost changes leave its margin alone.
    let unit_cost_fen: Option<i64> = sku::Entity::find_by_id(line.sku_id)
        .select_only()
        .column(sku::Column::CostFen)
        .into_tuple()
        .one(txn)
        .await?;
    let quantity = line.quantity;
    let sku_id = line.sku_id;
    let line_row = line_row(placed.order_id, line, (subtotal, share), unit_cost_fen)
        .insert(txn)
        .await?;
    let taken = match placed.stock {
        Stock::Take { movement, staff_id } => {
            inventory::take_fefo(
                txn,
                inventory::Withdrawal {
                    location_id: placed.location_id,
                    sku_id,
                    quantity: i64::from(quantity),
                    kind: movement,
                    reference: Some(placed.order_no),
                    staff_id,
                    at: placed.now,
                },
            )
            .await?
        }
        Stock::SetAside(units) => units.to_vec(),
    };
    for (batch_id, units) in taken {
        order_allocation::ActiveModel {
            order_id: Set(placed.order_id),
            order_line_id: Set(line_row.id),
            location_id: Set(placed.location_id),
            batch_id: Set(batch_id),
            quantity: Set(i32::try_from(units).unwrap_or(i32::MAX)),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// The fingerprint of a request behind an idempotency key.
pub(super) fn request_hash(parts: &impl Serialize) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(parts).unwrap_or_default(),
    ))
}

async fn by_key(app: &AppState, key: &str) -> Result<Option<order::Model>, OrdersError> {
    Ok(order::Entity::find()
        .filter(order::Column::IdempotencyKey.eq(key))
        .one(&app.db)
        .await?)
}

/// The order placed under this key, when the request is the same; a conflict when it is not.
pub(super) async fn recorded(
    app: &AppState,
    key: &str,
    fingerprint: &str,
) -> Result<Option<Order>, OrdersError> {
    let Some(existing) = by_key(app, key).await? else {
        return Ok(None);
    };
    if existing.request_hash.as_deref() != Some(fingerprint) {
        return Err(OrdersError::KeyReused);
    }
    load(app, existing).await.map(Some)
}
