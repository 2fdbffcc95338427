//! Unpaid orders past their deadline: asked about at WeChat (a payment that arrived without its
//! notification is applied instead), closed there, then closed here with their stock returned.

use wechat_integration::{TradeState, WeChatError};

use super::PaymentsError;
use crate::AppState;
use crate::orders::{self, OrdersError, PaymentMatch};
use crate::platform::db;
use crate::platform::jobs::{PeriodicTask, TaskError};
use entities::order::{self, OrderStatus};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Closes overdue unpaid orders: asks WeChat first (a payment that arrived without its
/// notification is applied instead), closes the WeChat order, then closes ours and returns the
/// stock. Returns how many orders it closed or found paid.
pub async fn close_overdue_orders(app: &AppState) -> Result<u64, PaymentsError> {
    let mut handled = 0;
    for row in orders::overdue(app, 100).await? {
        match app.pay.query_order(&row.order_no).await {
            Ok(t) if t.trade_state == TradeState::Success => {
                let matched = orders::mark_paid(
                    app,
                    &row.order_no,
                    &t.transaction_id.unwrap_or_default(),
                    t.amount_total,
                )
                .await?;
                if matched == PaymentMatch::Paid {
                    handled += 1;
                }
                continue;
            }
            Ok(_) => {}
            // Never sent to WeChat (the member did not start paying): nothing to close there.
            Err(e) if is_missing_order(&e) => {}
            Err(e) => {
                tracing::warn!(order_no = %row.order_no, error = %e, "could not query an overdue order; will retry");
                continue;
            }
        }
        match app.pay.close_order(&row.order_no).await {
            Ok(()) => {}
            Err(e) if is_missing_order(&e) => {}
            Err(e) => {
                tracing::warn!(order_no = %row.order_no, error = %e, "could not close an overdue order at WeChat; will retry");
                continue;
            }
        }
        if close_unpaid(app, row.id).await? {
            handled += 1;
        }
    }
    Ok(handled)
}

pub(super) fn is_missing_order(err: &WeChatError) -> bool {
    matches!(err, WeChatError::Pay { code, .. } if code == "ORDER_NOT_EXIST" || code == "RESOURCE_NOT_EXISTS" || code == "ORDERNOTEXIST")
}

/// Scheduled: close overdue unpaid orders.
pub struct CloseOverdueOrders;

#[async_trait::async_trait]
impl PeriodicTask for CloseOverdueOrders {
    fn name(&self) -> &'static str {
        "close-overdue-orders"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(30)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(close_overdue_orders(app).await?)
    }
}

/// Closes one unpaid order and gives back what it held: stock, coupons, flash-sale units.
/// Lives with payments, not orders, so that orders need not know flash sales (which build on orders). False when it was no longer unpaid.
async fn close_unpaid(app: &AppState, order_id: i64) -> Result<bool, OrdersError> {
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let updated = order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(OrderStatus::Closed))
        .col_expr(order::Column::ClosedAt, Expr::value(now))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(order_id))
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(false);
    }
    crate::coupons::release_for_order(&txn, order_id, now).await?;
    let row = order::Entity::find_by_id(order_id)
        .one(&txn)
        .await?
        .ok_or(OrdersError::NotFound("order"))?;
    // A flash-sale order's units go back to the sale first: their stock stays set aside for it.
    let released = crate::flash_sales::release_closed_order(&txn, order_id, now).await?;
    if !released.is_some_and(|r| r.stock_stays_with_sale()) {
        orders::release_stock(&txn, &row, now).await?;
    }
    crate::stored_value::give_back_on_close(&txn, &row, now).await?;
    txn.commit().await?;
    if let Some(released) = released {
        crate::flash_sales::give_back(app, released).await;
    }
    Ok(true)
}
