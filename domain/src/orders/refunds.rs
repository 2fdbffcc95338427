//! What a refund does to an order: its units are claimed on the lines (never refunded twice),
//! given back if the refund fails, and once it succeeds the money, stock, points and tier
//! follow. The refund itself (WeChat Pay or the counter) is `crate::payments`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{OrderStatus, OrdersError, invalid};
use crate::inventory::{self, MovementKind, MovementSpec};
use crate::loyalty::{self, PointsEvent, PointsReason};
use entities::{order, order_allocation, order_line, points_ledger};

/// Units of each line to refund.
#[derive(Debug, Clone, Copy)]
pub struct RefundLine {
    pub line_id: i64,
    pub quantity: i32,
}

/// What `quantity` more units of a line are worth, given `before` already refunded: the exact
/// share of the line total, so refunding every unit returns exactly the line total.
fn line_refund_amount(line_total: i64, quantity: i32, before: i32, more: i32) -> i64 {
    let q = i128::from(quantity);
    let upto = |n: i32| i128::from(line_total) * i128::from(n) / q;
    i64::try_from(upto(before + more) - upto(before)).unwrap_or(0)
}

/// Reserves the units of a refund on the order's lines (so two refunds can never return the
/// same unit) and returns the amount.
pub(crate) async fn claim_refund_units<C: ConnectionTrait>(
    db: &C,
    order_id: i64,
    lines: Option<&[RefundLine]>,
) -> Result<(i64, Vec<RefundLine>), OrdersError> {
    let order_lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .order_by_asc(order_line::Column::Id)
        .all(db)
        .await?;
    let wanted: Vec<RefundLine> = match lines {
        Some(lines) => {
            if lines.is_empty() {
                return Err(invalid("name at least one line to refund"));
            }
            lines.to_vec()
        }
        None => order_lines
            .iter()
            .filter(|l| l.refunded_quantity < l.quantity)
            .map(|l| RefundLine {
                line_id: l.id,
                quantity: l.quantity - l.refunded_quantity,
            })
            .collect(),
    };
    if wanted.is_empty() {
        return Err(OrdersError::WrongState("already fully refunded".into()));
    }
    let mut amount = 0;
    for want in &wanted {
        let line = order_lines
            .iter()
            .find(|l| l.id == want.line_id)
            .ok_or_else(|| invalid("a refund line is not on this order"))?;
        if want.quantity < 1 {
            return Err(invalid("refund at least one unit"));
        }
        let updated = order_line::Entity::update_many()
            .col_expr(
                order_line::Column::RefundedQuantity,
                Expr::col(order_line::Column::RefundedQuantity).add(want.quantity),
            )
            .filter(order_line::Column::Id.eq(line.id))
            .filter(order_line::Column::RefundedQuantity.eq(line.refunded_quantity))
            .filter(order_line::Column::Quantity.gte(line.refunded_quantity + want.quantity))
            .exec(db)
            .await?;
        if updated.rows_affected != 1 {
            return Err(invalid("more units than are left to refund on a line"));
        }
        amount += line_refund_amount(
            line.line_total_fen,
            line.quantity,
            line.refunded_quantity,
            want.quantity,
        );
    }
    Ok((amount, wanted))
}

/// Gives back units claimed for a refund that failed.
pub(crate) async fn release_refund_units<C: ConnectionTrait>(
    db: &C,
    lines: &[RefundLine],
) -> Result<(), OrdersError> {
    for l in lines {
        order_line::Entity::update_many()
            .col_expr(
                order_line::Column::RefundedQuantity,
                Expr::col(order_line::Column::RefundedQuantity).sub(l.quantity),
            )
            .filter(order_line::Column::Id.eq(l.line_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The effects of a completed refund on the order, stock, points and tier.
pub(crate) async fn apply_refund(
    txn: &DatabaseTransaction,
    order: &order::Model,
    refund_no: &str,
    amount_fen: i64,
    lines: &[RefundLine],
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    let refunded = order.refunded_fen + amount_fen;
    let status = if refunded >= order.total_fen {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    };
    order::Entity::update_many()
        .col_expr(
            order::Column::RefundedFen,
            Expr::col(order::Column::RefundedFen).add(amount_fen),
        )
        .col_expr(order::Column::Status, Expr::value(status))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(order.id))
        .exec(txn)
        .await?;
    if status == OrderStatus::Refunded {
        crate::coupons::release_for_order(txn, order.id, now).await?;
    }
    return_stock(txn, order.id, refund_no, lines, now).await?;
    take_back_points(txn, order, refund_no, amount_fen, now).await?;
    loyalty::add_spend(txn, order.member_id, -amount_fen).await?;
    let units: Vec<(i64, i32)> = lines.iter().map(|l| (l.line_id, l.quantity)).collect();
    crate::sales::record_refund(txn, order, refund_no, &units, now).await?;
    Ok(())
}

/// Returned goods go back to the batches they came from.
async fn return_stock(
    txn: &DatabaseTransaction,
    order_id: i64,
    refund_no: &str,
    lines: &[RefundLine],
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    let allocations = order_allocation::Entity::find()
        .filter(order_allocation::Column::OrderId.eq(order_id))
        .order_by_asc(order_allocation::Column::Id)
        .all(txn)
        .await?;
    let line_skus: HashMap<i64, i64> = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| (l.id, l.sku_id))
        .collect();
    for l in lines {
        let mut left = i64::from(l.quantity);
        for a in allocations.iter().filter(|a| a.order_line_id == l.line_id) {
            if left == 0 {
                break;
            }
            let units = std::cmp::min(left, i64::from(a.quantity));
            inventory::apply_movement(
                txn,
                MovementSpec {
                    location_id: a.location_id,
                    batch_id: a.batch_id,
                    sku_id: line_skus.get(&l.line_id).copied().unwrap_or_default(),
                    delta: units,
                    kind: MovementKind::Return,
                    reference: Some(refund_no),
                    staff_id: None,
                    note: None,
                    at: now,
                },
            )
            .await?;
            left -= units;
        }
    }
    Ok(())
}

/// Points earned on the refunded share come back out (the tier follows the spend).
async fn take_back_points(
    txn: &DatabaseTransaction,
    order: &order::Model,
    refund_no: &str,
    amount_fen: i64,
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    let earned: Option<i64> = points_ledger::Entity::find()
        .select_only()
        .column(points_ledger::Column::Delta)
        .filter(points_ledger::Column::IdempotencyKey.eq(format!("order-paid:{}", order.order_no)))
        .into_tuple()
        .one(txn)
        .await?;
    if let Some(earned) = earned.filter(|e| *e > 0 && order.total_fen > 0) {
        let back = i64::try_from(
            i128::from(earned) * i128::from(amount_fen) / i128::from(order.total_fen),
        )
        .unwrap_or(0);
        loyalty::deduct(
            txn,
            &PointsEvent {
                member_id: order.member_id,
                points: back,
                reason: PointsReason::OrderRefunded,
                reference: refund_no,
                idempotency_key: &format!("refund:{refund_no}"),
                at: now,
            },
            true,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refunding_every_unit_returns_the_line_total_exactly() {
        let total = 10_001;
        let parts: i64 = (0..3).map(|i| line_refund_amount(total, 3, i, 1)).sum();
        assert_eq!(parts, total);
        assert_eq!(line_refund_amount(total, 3, 0, 3), total);
    }
}
