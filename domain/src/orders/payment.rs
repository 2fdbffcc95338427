//! An order gets paid (points and tier follow, once) or, unpaid past its deadline, closed with
//! its stock and coupons given back (payments closes what stays unpaid). WeChat Pay itself is `crate::payments`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{OrderStatus, OrdersError, PaymentMethod};
use crate::AppState;
use crate::inventory::{self, MovementKind, MovementSpec};
use crate::loyalty::{self, PointsEvent, PointsReason};
use crate::platform::db;
use entities::{order, order_allocation, order_line};

/// Points and tier for a paid order. Keyed by the order, so it can only happen once.
pub(crate) async fn reward_payment(
    txn: &DatabaseTransaction,
    app: &AppState,
    order: &order::Model,
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    let multiplier = loyalty::member_tier(txn, order.member_id)
        .await?
        .map_or(100, |t| t.points_multiplier_pct);
    let points = loyalty::points_for(order.total_fen, multiplier);
    let earned = loyalty::earn(
        txn,
        &PointsEvent {
            member_id: order.member_id,
            points,
            reason: PointsReason::OrderPaid,
            reference: &order.order_no,
            idempotency_key: &format!("order-paid:{}", order.order_no),
            at: now,
        },
        Some(now + app.settings.loyalty.points_validity),
    )
    .await?;
    if earned || points == 0 {
        loyalty::add_spend(txn, order.member_id, order.total_fen).await?;
    }
    crate::sales::record_sale(txn, order, now).await?;
    Ok(())
}

/// What a WeChat payment did to our order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PaymentMatch {
    /// The order was awaiting payment and is now paid.
    Paid,
    /// Already paid by this transaction (another notification, or the overdue check, came first).
    AlreadyPaid,
    /// No order has this number.
    UnknownOrder,
    /// The amount paid is not the order's total: nothing changed.
    AmountMismatch { expected_fen: i64 },
    /// The order is no longer awaiting payment (closed, refunded, or paid by another
    /// transaction): nothing changed, the money must go back.
    NotAwaitingPayment { status: OrderStatus },
}

/// Marks an online order paid, once, however many times WeChat tells us, and only while it is
/// awaiting payment: a late payment never reopens a closed or refunded order.
pub(crate) async fn mark_paid(
    app: &AppState,
    order_no: &str,
    transaction_id: &str,
    amount_fen: i64,
) -> Result<PaymentMatch, OrdersError> {
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let Some(row) = order::Entity::find()
        .filter(order::Column::OrderNo.eq(order_no))
        .one(&txn)
        .await?
    else {
        return Ok(PaymentMatch::UnknownOrder);
    };
    let due_fen = row.total_fen - crate::stored_value::paid_by_balance(&txn, row.id).await?;
    if due_fen != amount_fen {
        tracing::error!(
            order_no,
            expected = row.total_fen,
            paid = amount_fen,
            "paid amount differs from the order total"
        );
        return Ok(PaymentMatch::AmountMismatch {
            expected_fen: due_fen,
        });
    }
    let updated = order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(OrderStatus::Paid))
        .col_expr(
            order::Column::PaymentMethod,
            Expr::value(PaymentMethod::Wechat),
        )
        .col_expr(order::Column::TransactionId, Expr::value(transaction_id))
        .col_expr(order::Column::PaidAt, Expr::value(now))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(row.id))
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        // Read again: the row read above may predate a concurrent payment or close.
        let current = order::Entity::find_by_id(row.id)
            .one(&txn)
            .await?
            .ok_or(OrdersError::NotFound("order"))?;
        if current.transaction_id.as_deref() == Some(transaction_id) {
            return Ok(PaymentMatch::AlreadyPaid);
        }
        // Paid at WeChat although we closed it (or paid twice): the money must go back.
        tracing::error!(order_no, status = %current.status.to_value(), "payment for an order that is not awaiting payment");
        return Ok(PaymentMatch::NotAwaitingPayment {
            status: current.status,
        });
    }
    reward_payment(&txn, app, &row, now).await?;
    txn.commit().await?;
    Ok(PaymentMatch::Paid)
}

/// Every unit a closed order reserved goes back to the batch it came from.
pub(crate) async fn release_stock(
    txn: &DatabaseTransaction,
    row: &order::Model,
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    let allocations = order_allocation::Entity::find()
        .filter(order_allocation::Column::OrderId.eq(row.id))
        .all(txn)
        .await?;
    let skus: HashMap<i64, i64> = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(row.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| (l.id, l.sku_id))
        .collect();
    for a in allocations {
        inventory::apply_movement(
            txn,
            MovementSpec {
                location_id: a.location_id,
                batch_id: a.batch_id,
                sku_id: skus.get(&a.order_line_id).copied().unwrap_or_default(),
                delta: i64::from(a.quantity),
                kind: MovementKind::OrderRelease,
                reference: Some(&row.order_no),
                staff_id: None,
                note: None,
                at: now,
            },
        )
        .await?;
    }
    Ok(())
}

/// Unpaid orders past their deadline, oldest first.
pub(crate) async fn overdue(app: &AppState, limit: u64) -> Result<Vec<order::Model>, OrdersError> {
    Ok(order::Entity::find()
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment))
        .filter(order::Column::PayDeadline.lt(app.clock.now()))
        .order_by_asc(order::Column::PayDeadline)
        .limit(limit)
        .all(&app.db)
        .await?)
}
