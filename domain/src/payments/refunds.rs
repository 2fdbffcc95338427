//! A manager or HQ refunds a paid order, whole or in part: through WeChat Pay for WeChat-paid
//! orders (settled by the answer, the notification or the reconciler), at once otherwise.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use wechat_integration::{RefundRequest, RefundStatus as WeChatRefundStatus};

use super::{PaymentsError, RefundStatus, pay_error};
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use crate::orders::{self, OrderStatus, OrdersError, PaymentMethod, RefundLine};
use crate::platform::db;
use crate::platform::jobs::{PeriodicTask, TaskError};
use entities::typed::JsonText;
use entities::{order, refund};

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: i64,
    pub order_id: i64,
    pub refund_no: String,
    pub amount_fen: i64,
    pub reason: Option<String>,
    pub status: RefundStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<refund::Model> for Refund {
    fn from(r: refund::Model) -> Self {
        Self {
            id: r.id,
            order_id: r.order_id,
            refund_no: r.refund_no,
            amount_fen: r.amount_fen,
            reason: r.reason,
            status: r.status,
            created_at: r.created_at,
            completed_at: r.completed_at,
        }
    }
}

/// A manager (their store's orders) or HQ refunds a paid order, whole (no lines) or in part.
/// WeChat-paid orders are refunded through WeChat Pay; counter payments settle at once.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, order_id))]
pub async fn refund_order(
    app: &AppState,
    staff: &StaffPrincipal,
    order_id: i64,
    lines: Option<Vec<RefundLine>>,
    reason: Option<String>,
) -> Result<Refund, PaymentsError> {
    staff.require(Permission::RefundOrders)?;
    let reason = reason
        .map(|r| r.trim().chars().take(80).collect::<String>())
        .filter(|r| !r.is_empty());
    let row = orders::row(app, order_id).await?;
    if staff.role != StaffRole::Hq && row.store_id != staff.store_id {
        return Err(AuthError::Forbidden.into());
    }
    match row.status {
        OrderStatus::Paid | OrderStatus::PartiallyRefunded => {}
        other => {
            return Err(OrdersError::WrongState(format!(
                "{} and cannot be refunded",
                other.to_value().to_lowercase()
            ))
            .into());
        }
    }
    let now = app.clock.now();
    let refund_no = format!("F{}", &orders::new_order_no(now)[1..]);
    let txn = db::begin_write(&app.db).await?;
    // The order's row is locked first: refunds of one order are split between the tenders one
    // at a time (see `stored_value::wechat_share`).
    order::Entity::update_many()
        .col_expr(
            order::Column::UpdatedAt,
            Expr::col(order::Column::UpdatedAt),
        )
        .filter(order::Column::Id.eq(order_id))
        .exec(&txn)
        .await?;
    let (amount, claimed) = orders::claim_refund_units(&txn, order_id, lines.as_deref()).await?;
    let created = refund::ActiveModel {
        order_id: Set(order_id),
        refund_no: Set(refund_no.clone()),
        amount_fen: Set(amount),
        reason: Set(reason.clone()),
        status: Set(RefundStatus::Processing),
        wechat_refund_id: Set(None),
        lines: Set(JsonText(
            claimed.iter().map(|l| (l.line_id, l.quantity)).collect(),
        )),
        requested_by: Set(Some(staff.staff_id)),
        created_at: Set(now),
        completed_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    // The balance part of an order goes back to the balance first (when the refund settles);
    // WeChat Pay refunds the rest of what it was paid.
    let (wechat_fen, wechat_total) =
        crate::stored_value::wechat_share(&txn, &row, amount, created.id).await?;
    txn.commit().await?;
    if row.payment_method == Some(PaymentMethod::Wechat) && wechat_fen > 0 {
        let paid_by_wechat = order::Model {
            total_fen: wechat_total,
            ..row.clone()
        };
        refund_through_wechat(app, &paid_by_wechat, &refund_no, wechat_fen, reason).await?;
    } else {
        settle_refund(app, &refund_no, WeChatRefundStatus::Success, None).await?;
    }
    let done = refund::Entity::find_by_id(created.id)
        .one(&app.db)
        .await?
        .ok_or(PaymentsError::RefundNotFound)?;
    Ok(done.into())
}

/// Asks WeChat Pay to refund and settles what it answers; an unknown outcome stays PROCESSING
/// for the notification or the reconciler.
async fn refund_through_wechat(
    app: &AppState,
    row: &order::Model,
    refund_no: &str,
    amount: i64,
    reason: Option<String>,
) -> Result<(), PaymentsError> {
    let answer = app
        .pay
        .refund(&RefundRequest {
            out_trade_no: row.order_no.clone(),
            out_refund_no: refund_no.to_owned(),
            reason,
            refund_fen: amount,
            total_fen: row.total_fen,
        })
        .await;
    match answer {
        Ok(r) => {
            settle_refund(app, refund_no, r.status, Some(r.refund_id)).await?;
        }
        // Unknown outcome: stay PROCESSING; the notification or the reconciler settles it.
        Err(e) if e.is_retryable() => {
            tracing::warn!(refund_no, error = %e, "refund outcome unknown; will reconcile")
        }
        Err(e) => {
            settle_refund(app, refund_no, WeChatRefundStatus::Closed, None).await?;
            return Err(pay_error(e).into());
        }
    }
    Ok(())
}

/// What settling a refund did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settlement {
    Applied,
    AlreadyDone,
    StillProcessing,
}

/// Applies a refund's outcome once: success moves money, stock, points and tier; a closed or
/// abnormal refund gives the units back to the order lines.
pub(crate) async fn settle_refund(
    app: &AppState,
    refund_no: &str,
    status: WeChatRefundStatus,
    wechat_refund_id: Option<String>,
) -> Result<Settlement, PaymentsError> {
    let final_status = match status {
        WeChatRefundStatus::Success => RefundStatus::Success,
        WeChatRefundStatus::Closed => RefundStatus::Closed,
        WeChatRefundStatus::Abnormal => RefundStatus::Abnormal,
        WeChatRefundStatus::Processing => return Ok(Settlement::StillProcessing),
    };
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let row = refund::Entity::find()
        .filter(refund::Column::RefundNo.eq(refund_no))
        .one(&txn)
        .await?
        .ok_or(PaymentsError::RefundNotFound)?;
    let updated = refund::Entity::update_many()
        .col_expr(refund::Column::Status, Expr::value(final_status))
        .col_expr(refund::Column::CompletedAt, Expr::value(now))
        .col_expr(
            refund::Column::WechatRefundId,
            Expr::value(wechat_refund_id),
        )
        .filter(refund::Column::Id.eq(row.id))
        .filter(refund::Column::Status.eq(RefundStatus::Processing))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(Settlement::AlreadyDone);
    }
    let lines: Vec<RefundLine> = row
        .lines
        .iter()
        .map(|&(line_id, quantity)| RefundLine { line_id, quantity })
        .collect();
    if final_status == RefundStatus::Success {
        let order = order::Entity::find_by_id(row.order_id)
            .one(&txn)
            .await?
            .ok_or(OrdersError::NotFound("order"))?;
        orders::apply_refund(&txn, &order, refund_no, row.amount_fen, &lines, now).await?;
        crate::stored_value::give_back_on_refund(&txn, &order, refund_no, row.amount_fen, now)
            .await
            .map_err(OrdersError::from)?;
    } else {
        orders::release_refund_units(&txn, &lines).await?;
    }
    txn.commit().await?;
    Ok(Settlement::Applied)
}

/// Asks WeChat about refunds still processing after a minute (a lost notification).
pub async fn reconcile_refunds(app: &AppState) -> Result<u64, PaymentsError> {
    let stale = refund::Entity::find()
        .filter(refund::Column::Status.eq(RefundStatus::Processing))
        .filter(refund::Column::CreatedAt.lt(app.clock.now() - chrono::Duration::minutes(1)))
        .order_by_asc(refund::Column::Id)
        .limit(100)
        .all(&app.db)
        .await?;
    let mut settled = 0;
    for r in stale {
        match app.pay.query_refund(&r.refund_no).await {
            Ok(answer) if answer.status != WeChatRefundStatus::Processing => {
                settle_refund(app, &r.refund_no, answer.status, Some(answer.refund_id)).await?;
                settled += 1;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(refund_no = %r.refund_no, error = %e, "could not query a refund")
            }
        }
    }
    Ok(settled)
}

pub async fn refunds_of_order(app: &AppState, order_id: i64) -> Result<Vec<Refund>, PaymentsError> {
    Ok(refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order_id))
        .order_by_asc(refund::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Scheduled: settle refunds whose notification never came.
pub struct ReconcileRefunds;

#[async_trait::async_trait]
impl PeriodicTask for ReconcileRefunds {
    fn name(&self) -> &'static str {
        "reconcile-refunds"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(reconcile_refunds(app).await?)
    }
}
