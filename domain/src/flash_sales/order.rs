//! Writing the order of a granted grab, with the database's own guards, in one transaction.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use super::runtime::PreparedSale;
use super::units;
use super::{FlashSalesError, GrabStatus};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::catalog;
use crate::orders::{
    self, Channel, Discount, DiscountKind, DraftLine, FulfilmentKind, Order, OrderDraft,
    OrderStatus, Stock,
};
use crate::platform::db;
use crate::platform::error::UniqueViolation;
use entities::{flash_sale_grab, flash_sale_quota};

/// Writes the order of a granted grab: the database's own guards (the member's limit, and free
/// unit rows of the sale), the order at the flash price allocated the units' batches (set aside
/// from the online warehouse when the sale was warmed), the claim of the units and the grab
/// record, in one transaction. The sale's `sold` is settled in bulk, not here.
pub(super) async fn create_order(
    app: &AppState,
    me: &MemberPrincipal,
    prepared: &PreparedSale,
    quantity: i32,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> Result<Order, FlashSalesError> {
    let draft = order_draft(app, me, prepared, quantity, idempotency_key, now);
    let sale = &prepared.sale;
    let txn = db::begin_write(&app.db).await?;
    let within_limit = flash_sale_quota::Entity::insert(flash_sale_quota::ActiveModel {
        sale_id: Set(sale.id),
        member_id: Set(me.member_id),
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
    .exec_without_returning(&txn)
    .await?;
    if within_limit != 1 {
        tracing::warn!(
            sale_id = sale.id,
            member_id = me.member_id,
            "the counters granted a unit above the member's limit"
        );
        return Err(FlashSalesError::LimitReached);
    }
    // The sale's units: free rows, locked by this transaction only (no row every winner waits
    // on); their stock was set aside when the sale was warmed.
    let picked = units::pick(&txn, sale.id, quantity).await?;
    let order =
        orders::insert_order_with(&txn, draft, Stock::SetAside(&picked.by_batch), now).await?;
    units::claim(&txn, &picked, order.id, now).await?;
    let recorded = flash_sale_grab::ActiveModel {
        sale_id: Set(sale.id),
        member_id: Set(me.member_id),
        order_id: Set(order.id),
        quantity: Set(quantity),
        idempotency_key: Set(idempotency_key.to_owned()),
        status: Set(GrabStatus::Held),
        created_at: Set(now),
        released_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    recorded.on_unique_violation(|| FlashSalesError::InProgress)?;
    txn.commit().await?;
    Ok(orders::load(app, order).await?)
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
