//! WeChat Pay for orders (WECHAT.md §7): payment parameters for the mini-program, the
//! notification endpoint's logic (verified, decrypted, applied exactly once), closing unpaid
//! orders at WeChat and here, and refunds through the refund API and its notification.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use wechat_integration::{
    ClientPaymentParams, JsapiOrder, Notification, NotificationHeaders, RefundRequest,
    RefundStatus, TradeState, WeChatError, WeChatErrorKind,
};

use crate::auth::{AuthError, MemberPrincipal, Permission, StaffPrincipal, StaffRole};
use crate::error::{DomainError, ErrorCode, StoreError};
use crate::jobs::{PeriodicTask, TaskError};
use crate::orders::{self, OrderStatus, OrdersError, PaymentMatch, PaymentMethod, RefundLine};
use crate::{AppState, db};
use entities::{member, order, payment_notification, refund, unmatched_payment_notification};

#[derive(Debug, Clone, Default)]
pub struct PaymentSettings {
    /// Where WeChat Pay posts payment and refund notifications (https, no query).
    pub notify_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error("refund not found")]
    RefundNotFound,
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(PaymentsError);

impl DomainError for PaymentsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Orders(e) => e.code(),
            Self::RefundNotFound => ErrorCode::NotFound,
            Self::InvalidInput(_) => ErrorCode::BadUserInput,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn pay_error(err: WeChatError) -> OrdersError {
    match err.kind() {
        WeChatErrorKind::Busy | WeChatErrorKind::RateLimited => OrdersError::PayUnavailable(err),
        _ => {
            tracing::error!(error = %err, "WeChat Pay refused a request");
            OrdersError::PayRefused(err.to_string())
        }
    }
}

/// The parameters the mini-program passes to wx.requestPayment for one of the member's unpaid orders.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id, order_id))]
pub async fn pay_order(
    app: &AppState,
    me: &MemberPrincipal,
    order_id: i64,
) -> Result<ClientPaymentParams, PaymentsError> {
    let row = orders::row(app, order_id).await?;
    if row.member_id != me.member_id {
        return Err(OrdersError::NotYours.into());
    }
    match OrderStatus::parse(&row.status) {
        Some(OrderStatus::PendingPayment) => {}
        Some(OrderStatus::Closed) => return Err(OrdersError::PaymentExpired.into()),
        _ => return Err(OrdersError::WrongState("already paid".into()).into()),
    }
    let deadline = row.pay_deadline.ok_or(OrdersError::PaymentExpired)?;
    if deadline <= app.clock.now() {
        return Err(OrdersError::PaymentExpired.into());
    }
    let openid: Option<String> = member::Entity::find_by_id(me.member_id)
        .select_only()
        .column(member::Column::Openid)
        .into_tuple()
        .one(&app.db)
        .await?;
    let openid = openid.ok_or(OrdersError::NotFound("member"))?;
    let prepay_id = app
        .pay
        .jsapi_prepay(&JsapiOrder {
            description: format!("Rouge 订单 {}", row.order_no),
            out_trade_no: row.order_no.clone(),
            amount_fen: row.total_fen,
            payer_openid: openid,
            time_expire: Some(deadline),
            attach: None,
        })
        .await
        .map_err(pay_error)?;
    Ok(app
        .pay
        .client_payment_params(&prepay_id)
        .map_err(pay_error)?)
}

/// Why a notification was not accepted (WeChat will deliver it again).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Bad signature, stale timestamp, probe, or undecryptable: never trusted, nothing changed.
    #[error("notification rejected: {0}")]
    Rejected(String),
    /// We could not apply it now (database down); WeChat retries.
    #[error("notification not applied: {0}")]
    Failed(String),
}

/// What a genuine notification did; every outcome is acknowledged to WeChat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// It paid an order or settled a refund.
    Applied,
    /// This notification was handled before (same id): nothing done.
    Duplicate,
    /// Its effect was already there (the same payment told by another notification, or the
    /// refund already settled).
    AlreadyApplied,
    /// Nothing final to apply yet (a payment not successful, a refund still processing).
    NothingToDo,
    /// Matched nothing to change: recorded for finance.
    Unmatched(UnmatchedReason),
}

/// Why a genuine notification changed nothing and was kept for finance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnmatchedReason {
    /// No order has its out_trade_no (a payment we never asked for).
    UnknownOrder,
    /// No refund has its out_refund_no (a refund made outside Rouge, e.g. the merchant console).
    UnknownRefund,
    /// Paid a different amount than the order's total.
    AmountMismatch,
    /// Money arrived for an order already closed: it must go back to the payer.
    LateForClosedOrder,
    /// Money arrived for an order paid by another transaction, or refunded.
    NotAwaitingPayment,
}

impl UnmatchedReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnknownOrder => "UNKNOWN_ORDER",
            Self::UnknownRefund => "UNKNOWN_REFUND",
            Self::AmountMismatch => "AMOUNT_MISMATCH",
            Self::LateForClosedOrder => "LATE_FOR_CLOSED_ORDER",
            Self::NotAwaitingPayment => "NOT_AWAITING_PAYMENT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::UnknownOrder,
            Self::UnknownRefund,
            Self::AmountMismatch,
            Self::LateForClosedOrder,
            Self::NotAwaitingPayment,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// Whether an unmatched notification told of a payment or a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    Payment,
    Refund,
}

impl NotificationKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "PAYMENT",
            Self::Refund => "REFUND",
        }
    }
}

/// A genuine notification that matched nothing to change, as finance sees it.
#[derive(Debug, Clone)]
pub struct UnmatchedNotification {
    pub id: i64,
    pub notification_id: String,
    pub kind: NotificationKind,
    pub reason: UnmatchedReason,
    pub out_trade_no: Option<String>,
    pub out_refund_no: Option<String>,
    pub amount_fen: i64,
    /// The decrypted resource's non-secret fields (JSON): states, WeChat ids, times.
    pub summary: String,
    pub received_at: DateTime<Utc>,
}

impl From<unmatched_payment_notification::Model> for UnmatchedNotification {
    fn from(m: unmatched_payment_notification::Model) -> Self {
        Self {
            id: m.id,
            notification_id: m.notification_id,
            kind: if m.kind == NotificationKind::Refund.as_str() {
                NotificationKind::Refund
            } else {
                NotificationKind::Payment
            },
            reason: UnmatchedReason::parse(&m.reason).unwrap_or(UnmatchedReason::UnknownOrder),
            out_trade_no: m.out_trade_no,
            out_refund_no: m.out_refund_no,
            amount_fen: m.amount_fen,
            summary: m.summary,
            received_at: m.received_at,
        }
    }
}

/// Verifies, decrypts and applies a WeChat Pay notification. Replays of the same notification
/// (and concurrent deliveries) change nothing after the first; genuine ones that match nothing
/// are acknowledged and recorded for finance, so WeChat stops redelivering them.
#[tracing::instrument(skip_all, err)]
pub async fn handle_notification(
    app: &AppState,
    headers: &NotificationHeaders,
    body: &[u8],
) -> Result<NotifyOutcome, NotifyError> {
    let notification = app
        .pay
        .verify_notification(headers, body, app.clock.now())
        .map_err(|e| NotifyError::Rejected(e.to_string()))?;
    let failed = |e: &dyn std::fmt::Display| NotifyError::Failed(e.to_string());
    let (id, outcome) = match notification {
        Notification::Transaction {
            id,
            event_type,
            transaction,
        } => {
            if transaction.trade_state != TradeState::Success {
                return Ok(NotifyOutcome::NothingToDo);
            }
            let first = remember(app, &id, &event_type, &transaction.out_trade_no)
                .await
                .map_err(|e| failed(&e))?;
            if !first {
                return Ok(NotifyOutcome::Duplicate);
            }
            let transaction_id = transaction.transaction_id.clone().unwrap_or_default();
            let matched = orders::mark_paid(
                app,
                &transaction.out_trade_no,
                &transaction_id,
                transaction.amount_total,
            )
            .await;
            let outcome: Result<NotifyOutcome, PaymentsError> = match matched {
                Err(e) => Err(e.into()),
                Ok(PaymentMatch::Paid) => Ok(NotifyOutcome::Applied),
                Ok(PaymentMatch::AlreadyPaid) => Ok(NotifyOutcome::AlreadyApplied),
                Ok(unmatched) => {
                    let (reason, order_status) = match unmatched {
                        PaymentMatch::AmountMismatch { .. } => {
                            (UnmatchedReason::AmountMismatch, None)
                        }
                        PaymentMatch::NotAwaitingPayment { status }
                            if status == OrderStatus::Closed.as_str() =>
                        {
                            (UnmatchedReason::LateForClosedOrder, Some(status))
                        }
                        PaymentMatch::NotAwaitingPayment { status } => {
                            (UnmatchedReason::NotAwaitingPayment, Some(status))
                        }
                        _ => (UnmatchedReason::UnknownOrder, None),
                    };
                    // No payer openid: finance needs the money trail, not who paid.
                    let summary = serde_json::json!({
                        "event_type": event_type,
                        "trade_state": "SUCCESS",
                        "transaction_id": transaction.transaction_id,
                        "success_time": transaction.success_time,
                        "amount_total": transaction.amount_total,
                        "payer_total": transaction.payer_total,
                        "currency": transaction.currency,
                        "order_status": order_status,
                    });
                    record_unmatched(
                        app,
                        &id,
                        NotificationKind::Payment,
                        reason,
                        (Some(transaction.out_trade_no.clone()), None),
                        transaction.amount_total,
                        &summary,
                    )
                    .await
                    .map(|()| NotifyOutcome::Unmatched(reason))
                    .map_err(Into::into)
                }
            };
            (id, outcome)
        }
        Notification::Refund {
            id,
            event_type,
            refund,
        } => {
            let first = remember(app, &id, &event_type, &refund.out_refund_no)
                .await
                .map_err(|e| failed(&e))?;
            if !first {
                return Ok(NotifyOutcome::Duplicate);
            }
            let settled = settle_refund(
                app,
                &refund.out_refund_no,
                refund.status,
                Some(refund.refund_id.clone()),
            )
            .await;
            let outcome = match settled {
                Ok(Settlement::Applied) => Ok(NotifyOutcome::Applied),
                Ok(Settlement::AlreadyDone) => Ok(NotifyOutcome::AlreadyApplied),
                Ok(Settlement::StillProcessing) => Ok(NotifyOutcome::NothingToDo),
                Err(PaymentsError::RefundNotFound) => {
                    let summary = serde_json::json!({
                        "event_type": event_type,
                        "refund_status": format!("{:?}", refund.status).to_uppercase(),
                        "refund_id": refund.refund_id,
                        "out_trade_no": refund.out_trade_no,
                        "refund_fen": refund.refund_fen,
                    });
                    let out_trade_no = Some(refund.out_trade_no.clone()).filter(|s| !s.is_empty());
                    record_unmatched(
                        app,
                        &id,
                        NotificationKind::Refund,
                        UnmatchedReason::UnknownRefund,
                        (out_trade_no, Some(refund.out_refund_no.clone())),
                        refund.refund_fen,
                        &summary,
                    )
                    .await
                    .map(|()| NotifyOutcome::Unmatched(UnmatchedReason::UnknownRefund))
                    .map_err(Into::into)
                }
                Err(e) => Err(e),
            };
            (id, outcome)
        }
    };
    match outcome {
        Ok(outcome) => {
            if let NotifyOutcome::Unmatched(reason) = outcome {
                tracing::warn!(notification = %id, reason = reason.as_str(), "WeChat Pay notification matched nothing; recorded for finance");
            }
            Ok(outcome)
        }
        Err(e) => {
            forget(app, &id).await;
            Err(failed(&e))
        }
    }
}

/// Records a notification id; false when it was already handled.
async fn remember(
    app: &AppState,
    id: &str,
    event_type: &str,
    reference: &str,
) -> Result<bool, StoreError> {
    let inserted = payment_notification::Entity::insert(payment_notification::ActiveModel {
        id: Set(id.to_owned()),
        event_type: Set(event_type.to_owned()),
        reference: Set(reference.to_owned()),
        received_at: Set(app.clock.now()),
    })
    .on_conflict(
        OnConflict::column(payment_notification::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await?;
    Ok(inserted == 1)
}

/// Keeps a genuine notification that changed nothing, once per notification id.
async fn record_unmatched(
    app: &AppState,
    id: &str,
    kind: NotificationKind,
    reason: UnmatchedReason,
    (out_trade_no, out_refund_no): (Option<String>, Option<String>),
    amount_fen: i64,
    summary: &serde_json::Value,
) -> Result<(), StoreError> {
    unmatched_payment_notification::Entity::insert(unmatched_payment_notification::ActiveModel {
        notification_id: Set(id.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        reason: Set(reason.as_str().to_owned()),
        out_trade_no: Set(out_trade_no),
        out_refund_no: Set(out_refund_no),
        amount_fen: Set(amount_fen),
        summary: Set(summary.to_string()),
        received_at: Set(app.clock.now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(unmatched_payment_notification::Column::NotificationId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await?;
    Ok(())
}

/// Lets a notification we failed to apply be applied on WeChat's next delivery.
async fn forget(app: &AppState, id: &str) {
    if let Err(e) = payment_notification::Entity::delete_by_id(id.to_owned())
        .exec(&app.db)
        .await
    {
        tracing::error!(error = %e, notification = id, "could not forget a failed notification");
    }
}

/// HQ: genuine notifications that matched nothing to change, newest first, 1 to 100 a page
/// after the cursor (an id from the previous page). Returns the page and whether more follow.
pub async fn unmatched_notifications(
    app: &AppState,
    staff: &StaffPrincipal,
    first: i64,
    after: Option<&str>,
) -> Result<(Vec<UnmatchedNotification>, bool), PaymentsError> {
    staff.require(Permission::ReadPaymentExceptions)?;
    let after = after
        .map(|a| {
            a.parse::<i64>()
                .map_err(|_| PaymentsError::InvalidInput("malformed cursor".into()))
        })
        .transpose()?;
    let Ok(first) = u64::try_from(first) else {
        return Err(PaymentsError::InvalidInput("first must be 1 to 100".into()));
    };
    if !(1..=100).contains(&first) {
        return Err(PaymentsError::InvalidInput("first must be 1 to 100".into()));
    }
    let mut query = unmatched_payment_notification::Entity::find()
        .order_by_desc(unmatched_payment_notification::Column::Id)
        .limit(first + 1);
    if let Some(after) = after {
        query = query.filter(unmatched_payment_notification::Column::Id.lt(after));
    }
    let mut rows = query.all(&app.db).await?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(100));
    Ok((rows.into_iter().map(Into::into).collect(), has_next))
}

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
        if orders::close_unpaid(app, row.id).await? {
            handled += 1;
        }
    }
    Ok(handled)
}

fn is_missing_order(err: &WeChatError) -> bool {
    matches!(err, WeChatError::Pay { code, .. } if code == "ORDER_NOT_EXIST" || code == "RESOURCE_NOT_EXISTS" || code == "ORDERNOTEXIST")
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: i64,
    pub order_id: i64,
    pub refund_no: String,
    pub amount_fen: i64,
    pub reason: Option<String>,
    pub status: String,
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
    match OrderStatus::parse(&row.status) {
        Some(OrderStatus::Paid | OrderStatus::PartiallyRefunded) => {}
        _ => {
            return Err(OrdersError::WrongState(format!(
                "{} and cannot be refunded",
                row.status.to_lowercase()
            ))
            .into());
        }
    }
    let now = app.clock.now();
    let refund_no = format!("F{}", &orders::new_order_no(now)[1..]);
    let txn = db::begin_write(&app.db).await?;
    let (amount, claimed) = orders::claim_refund_units(&txn, order_id, lines.as_deref()).await?;
    let created = refund::ActiveModel {
        order_id: Set(order_id),
        refund_no: Set(refund_no.clone()),
        amount_fen: Set(amount),
        reason: Set(reason.clone()),
        status: Set("PROCESSING".into()),
        wechat_refund_id: Set(None),
        lines: Set(serde_json::to_string(
            &claimed
                .iter()
                .map(|l| (l.line_id, l.quantity))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()),
        requested_by: Set(Some(staff.staff_id)),
        created_at: Set(now),
        completed_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;

    let paid_by_wechat = row.payment_method.as_deref() == Some(PaymentMethod::Wechat.as_str());
    if !paid_by_wechat {
        settle_refund(app, &refund_no, RefundStatus::Success, None).await?;
    } else {
        let answer = app
            .pay
            .refund(&RefundRequest {
                out_trade_no: row.order_no.clone(),
                out_refund_no: refund_no.clone(),
                reason: reason.clone(),
                refund_fen: amount,
                total_fen: row.total_fen,
            })
            .await;
        match answer {
            Ok(r) => {
                settle_refund(app, &refund_no, r.status, Some(r.refund_id)).await?;
            }
            // Unknown outcome: stay PROCESSING; the notification or the reconciler settles it.
            Err(e) if e.is_retryable() => {
                tracing::warn!(refund_no, error = %e, "refund outcome unknown; will reconcile")
            }
            Err(e) => {
                settle_refund(app, &refund_no, RefundStatus::Closed, None).await?;
                return Err(pay_error(e).into());
            }
        }
    }
    let done = refund::Entity::find_by_id(created.id)
        .one(&app.db)
        .await?
        .ok_or(PaymentsError::RefundNotFound)?;
    Ok(done.into())
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
    status: RefundStatus,
    wechat_refund_id: Option<String>,
) -> Result<Settlement, PaymentsError> {
    let final_status = match status {
        RefundStatus::Success => "SUCCESS",
        RefundStatus::Closed => "CLOSED",
        RefundStatus::Abnormal => "ABNORMAL",
        RefundStatus::Processing => return Ok(Settlement::StillProcessing),
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
        .filter(refund::Column::Status.eq("PROCESSING"))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(Settlement::AlreadyDone);
    }
    let lines: Vec<RefundLine> = serde_json::from_str::<Vec<(i64, i32)>>(&row.lines)
        .unwrap_or_default()
        .into_iter()
        .map(|(line_id, quantity)| RefundLine { line_id, quantity })
        .collect();
    if final_status == "SUCCESS" {
        let order = order::Entity::find_by_id(row.order_id)
            .one(&txn)
            .await?
            .ok_or(OrdersError::NotFound("order"))?;
        orders::apply_refund(&txn, &order, refund_no, row.amount_fen, &lines, now).await?;
    } else {
        orders::release_refund_units(&txn, &lines).await?;
    }
    txn.commit().await?;
    Ok(Settlement::Applied)
}

/// Asks WeChat about refunds still processing after a minute (a lost notification).
pub async fn reconcile_refunds(app: &AppState) -> Result<u64, PaymentsError> {
    let stale = refund::Entity::find()
        .filter(refund::Column::Status.eq("PROCESSING"))
        .filter(refund::Column::CreatedAt.lt(app.clock.now() - chrono::Duration::minutes(1)))
        .order_by_asc(refund::Column::Id)
        .limit(100)
        .all(&app.db)
        .await?;
    let mut settled = 0;
    for r in stale {
        match app.pay.query_refund(&r.refund_no).await {
            Ok(answer) if answer.status != RefundStatus::Processing => {
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
