//! A member pays one of their unpaid orders with stored value (会员储值): the whole order, or
//! part of it with WeChat Pay for the rest (`pay_order` then asks WeChat for what is left).
//! The balance rules themselves are `crate::stored_value`.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::PaymentsError;
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::orders::{self, Order, OrderStatus, OrdersError, PaymentMethod};
use crate::platform::db;
use crate::platform::kv::keys;
use crate::stored_value::{self, BalanceSource, BalanceSpend};
use entities::order;

/// Pays `amount_fen` of an unpaid order from the member's balance (all of it when `None`).
/// Paying the whole order pays it (points and tier follow); paying part leaves it waiting for
/// WeChat Pay for the rest, and a close gives the part back. Once per order.
// A balance that does not cover the order is an answer, not a fault: logged at info.
#[tracing::instrument(skip_all, err(level = "info"), fields(member_id = me.member_id, order_id))]
pub async fn pay_order_with_balance(
    app: &AppState,
    me: &MemberPrincipal,
    order_id: i64,
    amount_fen: Option<i64>,
) -> Result<Order, PaymentsError> {
    let row = orders::row(app, order_id).await?;
    if row.member_id != me.member_id {
        return Err(OrdersError::NotYours.into());
    }
    match row.status {
        OrderStatus::PendingPayment => {}
        OrderStatus::Closed => return Err(OrdersError::PaymentExpired.into()),
        _ => return Err(OrdersError::WrongState("already paid".into()).into()),
    }
    if row.fulfilment == orders::FulfilmentKind::Delivery && row.delivery_address.is_none() {
        return Err(OrdersError::DeliveryAddressMissing.into());
    }
    let now = app.clock.now();
    if row.pay_deadline.is_none_or(|d| d <= now) {
        return Err(OrdersError::PaymentExpired.into());
    }
    let amount = amount_fen.unwrap_or(row.total_fen);
    if !(1..=row.total_fen).contains(&amount) {
        return Err(PaymentsError::InvalidInput(
            "pay between 1 fen and the order total from the balance".into(),
        ));
    }
    let whole = amount == row.total_fen;
    let txn = db::begin_write(&app.db).await?;
    // Still awaiting payment, and held so a payment or close waits for this one.
    let mut update = order::Entity::update_many()
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(row.id))
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment));
    if whole {
        update = update
            .col_expr(order::Column::Status, Expr::value(OrderStatus::Paid))
            .col_expr(
                order::Column::PaymentMethod,
                Expr::value(PaymentMethod::Balance),
            )
            .col_expr(order::Column::PaidAt, Expr::value(now));
    }
    if update.exec(&txn).await?.rows_affected == 0 {
        return Err(OrdersError::WrongState("no longer awaiting payment".into()).into());
    }
    stored_value::pay_with_balance(
        &txn,
        BalanceSpend {
            member_id: me.member_id,
            order_id: row.id,
            order_no: &row.order_no,
            amount_fen: amount,
            source: BalanceSource::OrderPayment,
            staff_id: None,
            at: now,
        },
    )
    .await
    .map_err(OrdersError::from)?;
    if whole {
        orders::reward_payment(&txn, app, &row, now).await?;
    }
    txn.commit().await?;
    if whole {
        close_wechat_order(app, &row.order_no).await;
    }
    // The answer is what the transaction wrote: the order is not read again.
    let mut row = row;
    row.updated_at = now;
    if whole {
        row.status = OrderStatus::Paid;
        row.payment_method = Some(PaymentMethod::Balance);
        row.paid_at = Some(now);
    }
    Ok(orders::load(app, row).await?)
}

/// The balance paid the whole order: a WeChat Pay order started for it by `payOrder` is closed,
/// so the member cannot pay twice (only when `payOrder` started one). Best effort after the commit (an order never started at
/// WeChat is "not found"; a failure is logged, and a payment that still came in does not match
/// and is kept for finance in `unmatchedPaymentNotifications`).
async fn close_wechat_order(app: &AppState, order_no: &str) {
    // Most balance payments never started one; when the key-value store cannot say, close anyway.
    if let Ok(None) = app.kv.get(&keys::wechat_payment_started(order_no)).await {
        return;
    }
    match app.pay.close_order(order_no).await {
        Ok(()) => {}
        Err(e) if super::overdue::is_missing_order(&e) => {}
        Err(e) => {
            tracing::warn!(order_no, error = %e, "could not close the WeChat order of an order paid by balance");
        }
    }
}
