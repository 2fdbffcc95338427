//! A member places an online order (pick-up at a store or delivery), with their coupons; it
//! waits for payment until the time-out.

use sea_orm::{EntityTrait, QuerySelect};

use super::delivery::check_address;
use super::write::{OrderDraft, insert_order, recorded, request_hash};
use super::{
    Fulfilment, FulfilmentKind, Order, OrderStatus, OrdersError, PlaceOrder, invalid, load,
};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::inventory::{self, MovementKind};
use crate::platform::error::{StoreError, is_unique_violation};
use crate::platform::{db, idempotency, validate};
use crate::pricing::{self, Channel, Discount, DiscountKind, DraftLine, LineInput};
use entities::member;

/// A member places an online order. The same idempotency key returns the first order; the
/// same key for a different order is a conflict.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn place_order(
    app: &AppState,
    me: &MemberPrincipal,
    input: PlaceOrder,
    idempotency_key: &str,
) -> Result<Order, OrdersError> {
    place_order_with_coupons(app, me, input, &[], idempotency_key).await
}

/// [`place_order`] with the member's coupons: one discount line each, used in the order's
/// transaction (see `coupons`).
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn place_order_with_coupons(
    app: &AppState,
    me: &MemberPrincipal,
    input: PlaceOrder,
    coupon_ids: &[i64],
    idempotency_key: &str,
) -> Result<Order, OrdersError> {
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    let lines = pricing::merge_lines(&input.lines)?;
    if let Fulfilment::Delivery(address) = &input.fulfilment {
        check_address(address)?;
    }
    let key = format!("{}:{idempotency_key}", me.member_id);
    let fingerprint = request_hash(&(
        lines
            .iter()
            .map(|l| (l.sku_id, l.quantity))
            .collect::<Vec<_>>(),
        match &input.fulfilment {
            Fulfilment::Pickup { store_id } => serde_json::json!({ "pickup": store_id }),
            Fulfilment::Delivery(a) => serde_json::json!({ "delivery": a }),
        },
    ));
    let fingerprint = if coupon_ids.is_empty() {
        fingerprint
    } else {
        request_hash(&(fingerprint, coupon_ids))
    };
    idempotency::same_answer(
        || recorded(app, &key, &fingerprint),
        || place_new(app, me, &input, &lines, coupon_ids, &key, &fingerprint),
    )
    .await
}

async fn place_new(
    app: &AppState,
    me: &MemberPrincipal,
    input: &PlaceOrder,
    lines: &[LineInput],
    coupon_ids: &[i64],
    key: &str,
    fingerprint: &str,
) -> Result<Order, OrdersError> {
    let (location, store_id, kind, address) = match &input.fulfilment {
        Fulfilment::Pickup { store_id } => (
            inventory::store_location(&app.db, *store_id).await?,
            Some(*store_id),
            FulfilmentKind::Pickup,
            None,
        ),
        Fulfilment::Delivery(a) => (
            inventory::delivery_warehouse(&app.db).await?,
            None,
            FulfilmentKind::Delivery,
            Some(super::delivery::seal(app, a)?),
        ),
    };
    let draft_lines = pricing::price_lines(&app.db, lines).await?;
    let subtotal = pricing::subtotal(&draft_lines);
    let mut discounts = pricing::tier_discount(&app.db, me.member_id, subtotal).await?;
    let coupons_used = coupon_discounts(
        app,
        me.member_id,
        coupon_ids,
        &draft_lines,
        Channel::Online,
        store_id,
        &discounts,
    )
    .await?;
    discounts.extend(coupons_used.iter().map(|(_, d)| d.clone()));
    let exclusive_ba: Option<Option<i64>> = member::Entity::find_by_id(me.member_id)
        .select_only()
        .column(member::Column::ExclusiveBaId)
        .into_tuple()
        .one(&app.db)
        .await?;
    let now = app.clock.now();
    let draft = OrderDraft {
        member_id: me.member_id,
        channel: Channel::Online,
        fulfilment: kind,
        store_id,
        location_id: location.id,
        lines: draft_lines,
        discounts,
        ba_id: exclusive_ba.flatten(),
        idempotency_key: Some(key.to_owned()),
        request_hash: Some(fingerprint.to_owned()),
        delivery_address: address,
        status: OrderStatus::PendingPayment,
        payment_method: None,
        pay_deadline: Some(now + app.settings.orders.payment_timeout),
    };
    let txn = db::begin_write(&app.db).await?;
    let row = match insert_order(&txn, draft, MovementKind::OrderReserve, None, now).await {
        Ok(row) => {
            crate::coupons::mark_used(
                &txn,
                me.member_id,
                &coupons_used,
                Some(row.id),
                store_id,
                None,
                now,
            )
            .await?;
            row
        }
        // The same key raced in from a retry: the order that won is the answer (see above).
        Err(OrdersError::Store(StoreError::Db(e))) if is_unique_violation(&e) => {
            return Err(OrdersError::KeyReused);
        }
        Err(e) => return Err(e),
    };
    txn.commit().await?;
    load(app, row).await
}

/// Discount lines for the coupons of an order being placed (checked: the member's, valid,
/// in scope, above threshold, stacking).
pub(super) async fn coupon_discounts(
    app: &AppState,
    member_id: i64,
    coupon_ids: &[i64],
    lines: &[DraftLine],
    channel: Channel,
    store_id: Option<i64>,
    before: &[Discount],
) -> Result<Vec<(i64, Discount)>, OrdersError> {
    if coupon_ids.is_empty() {
        return Ok(vec![]);
    }
    let scoped = crate::coupons::scoped_lines(&app.db, lines).await?;
    let basket = crate::coupons::Basket {
        channel,
        store_id,
        lines: &scoped,
        discounted_fen: before.iter().map(|d| d.amount_fen).sum(),
        has_flash_sale: before.iter().any(|d| d.kind == DiscountKind::FlashSale),
    };
    Ok(crate::coupons::discounts_for_order(
        &app.db,
        member_id,
        coupon_ids,
        &basket,
        app.clock.now(),
    )
    .await?)
}
