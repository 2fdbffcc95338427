//! Writing the order of a grab ticket, with the database's own guards, in the order writer's
//! transaction.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{DatabaseTransaction, EntityTrait, Set};

use super::FlashSalesError;
use super::runtime::PreparedSale;
use super::units;
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::catalog;
use crate::orders::{
    self, Channel, Discount, DiscountKind, DraftLine, FulfilmentKind, OrderDraft, OrderStatus,
    Stock,
};
use entities::{flash_sale_quota, flash_sale_ticket};

/// In the order writer's transaction, the order of one ticket: the database's own guards (the
/// member's limit; free unit rows of the sale, picked by the writer), the order at the flash
/// price allocated the units' batches (set aside from the online warehouse when the sale was
/// warmed) and the claim of the units. None when the member's limit refuses it (the units stay
/// in `free` for the next ticket). The caller checked `free` holds the ticket's units, and writes
/// the grab record and the ticket's state. The sale's `sold` is settled in bulk, not here.
pub(super) async fn write_order(
    app: &AppState,
    txn: &DatabaseTransaction,
    prepared: &PreparedSale,
    ticket: &flash_sale_ticket::Model,
    free: &mut VecDeque<(i64, i64)>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, FlashSalesError> {
    let sale = &prepared.sale;
    let quantity = ticket.quantity;
    let within_limit = flash_sale_quota::Entity::insert(flash_sale_quota::ActiveModel {
        sale_id: Set(sale.id),
        member_id: Set(ticket.member_id),
        units: Set(quantity),
    })
    .on_conflict(
        OnConflict::columns([
            flash_sale_quota::Column::SaleId,
            flash_sale_quota::Column::MemberId,
        ])
        .value(
            flash_sale_quota::Column::Units,
            Expr::col((flash_sale_quota::Entity, flash_sale_quota::Column::Units)).add(quantity),
        )
        .action_and_where(
            Expr::col((flash_sale_quota::Entity, flash_sale_quota::Column::Units))
                .add(quantity)
                .lte(sale.per_member_limit),
        )
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    if within_limit != 1 {
        warn_over_limit(ticket);
        return Ok(None);
    }
    let (picked, draft) = ticket_draft(app, prepared, ticket, free, now);
    let order =
        orders::insert_order_with(txn, draft, Stock::SetAside(&picked.by_batch), now).await?;
    units::claim(txn, &picked, order.id, now).await?;
    Ok(Some(order.id))
}

/// [`write_order`] for a batch of one sale's tickets with one statement per table: the
/// members' limits in one upsert (each member once in the batch), the orders with their lines,
/// discounts and allocations, then the claim of every unit. The caller checked that `free`
/// holds every ticket's units. Each ticket's order, or None when the member's limit refuses it
/// (its units stay in `free`).
pub(super) async fn write_orders(
    app: &AppState,
    txn: &DatabaseTransaction,
    prepared: &PreparedSale,
    tickets: &[flash_sale_ticket::Model],
    free: &mut VecDeque<(i64, i64)>,
    now: DateTime<Utc>,
) -> Result<Vec<Option<i64>>, FlashSalesError> {
    use flash_sale_quota::Column as Quota;
    let sale = &prepared.sale;
    let held = || Expr::col((flash_sale_quota::Entity, Quota::Units));
    let asked = || Expr::col((Alias::new("excluded"), Quota::Units));
    let within: HashSet<i64> = flash_sale_quota::Entity::insert_many(tickets.iter().map(|t| {
        flash_sale_quota::ActiveModel {
            sale_id: Set(sale.id),
            member_id: Set(t.member_id),
            units: Set(t.quantity),
        }
    }))
    .on_conflict(
        OnConflict::columns([Quota::SaleId, Quota::MemberId])
            .value(Quota::Units, held().add(asked()))
            .action_and_where(held().add(asked()).lte(sale.per_member_limit))
            .to_owned(),
    )
    .exec_with_returning(txn)
    .await?
    .into_iter()
    .map(|q| q.member_id)
    .collect();
    let mut drafts = Vec::with_capacity(tickets.len());
    let mut picks = Vec::with_capacity(tickets.len());
    for t in tickets.iter().filter(|t| within.contains(&t.member_id)) {
        let (picked, draft) = ticket_draft(app, prepared, t, free, now);
        drafts.push(orders::SetAsideOrder {
            draft,
            units: picked.by_batch.clone(),
        });
        picks.push(picked);
    }
    let placed = orders::insert_set_aside_orders(txn, drafts, now).await?;
    let claims: Vec<(&units::Picked, i64)> =
        picks.iter().zip(placed.iter().map(|o| o.id)).collect();
    units::claim_many(txn, &claims, now).await?;
    let mut ids = placed.into_iter().map(|o| o.id);
    Ok(tickets
        .iter()
        .map(|t| {
            if within.contains(&t.member_id) {
                ids.next()
            } else {
                warn_over_limit(t);
                None
            }
        })
        .collect())
}

/// The database's quota refused what the counters granted (they forgot a member's units).
fn warn_over_limit(ticket: &flash_sale_ticket::Model) {
    tracing::warn!(
        sale_id = ticket.sale_id,
        member_id = ticket.member_id,
        ticket = ticket.id,
        "the counters granted a unit above the member's limit"
    );
}

/// A ticket's units, taken from the front of `free`, and its order's draft.
fn ticket_draft(
    app: &AppState,
    prepared: &PreparedSale,
    ticket: &flash_sale_ticket::Model,
    free: &mut VecDeque<(i64, i64)>,
    now: DateTime<Utc>,
) -> (units::Picked, OrderDraft) {
    let take = usize::try_from(ticket.quantity)
        .unwrap_or(usize::MAX)
        .min(free.len());
    let picked = units::Picked::new(free.drain(..take).collect());
    let me = MemberPrincipal {
        member_id: ticket.member_id,
        session_id: "flash-sale-writer".into(),
    };
    let draft = order_draft(
        app,
        &me,
        prepared,
        ticket.quantity,
        &ticket.idempotency_key,
        now,
    );
    (picked, draft)
}

/// The order of a grab: the SKU at its list price less a flash-sale discount down to the flash
/// price, shipped from the online warehouse, payable within the payment time-out.
pub(super) fn order_draft(
    app: &AppState,
    me: &MemberPrincipal,
    prepared: &PreparedSale,
    quantity: i32,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> OrderDraft {
    let PreparedSale {
        sale,
        sku,
        product_name,
        location_id,
    } = prepared;
    let q = i64::from(quantity);
    let list_price = std::cmp::max(sku.price_fen, sale.price_fen);
    let saving = (list_price - sale.price_fen) * q;
    OrderDraft {
        member_id: me.member_id,
        channel: Channel::Online,
        fulfilment: FulfilmentKind::Delivery,
        store_id: None,
        location_id: *location_id,
        lines: vec![DraftLine {
            sku_id: sku.id,
            product_name: product_name.clone(),
            sku_label: catalog::Sku::from(sku.clone()).label(),
            quantity,
            unit_price_fen: list_price,
        }],
        discounts: if saving > 0 {
            vec![Discount {
                kind: DiscountKind::FlashSale,
                label: format!("秒杀 {}", sale.title),
                amount_fen: saving,
                reference: Some(sale.id.to_string()),
            }]
        } else {
            vec![]
        },
        ba_id: None,
        idempotency_key: Some(format!(
            "flash:{}:{}:{idempotency_key}",
            sale.id, me.member_id
        )),
        request_hash: None,
        delivery_address: None,
        status: OrderStatus::PendingPayment,
        payment_method: None,
        pay_deadline: Some(now + app.settings.orders.payment_timeout),
    }
}
