//! WeChat Pay notifications: verified, decrypted and applied exactly once; genuine ones that
//! match nothing to change are acknowledged and kept for finance, who list them here.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use wechat_integration::{
    Notification, NotificationHeaders, RefundNotice, TradeState, Transaction,
};

use super::{
    NotificationKind, PaymentEventType, PaymentsError, Settlement, UnmatchedReason, settle_refund,
};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::orders::{self, OrderStatus, PaymentMatch};
use crate::platform::page::{IdKey, Keyset, Page};
use entities::{payment_notification, unmatched_payment_notification};

/// Why a notification was not accepted (WeChat will deliver it again).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Bad signature, stale timestamp, probe, or undecryptable: never trusted, nothing changed.
    #[error("notification rejected: {0}")]
    Rejected(String),
    /// We could not apply it now (database down, an event type we do not know); WeChat retries.
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
            kind: m.kind,
            reason: m.reason,
            out_trade_no: m.out_trade_no,
            out_refund_no: m.out_refund_no,
            amount_fen: m.amount_fen,
            summary: m.summary,
            received_at: m.received_at,
        }
    }
}

fn failed(e: &dyn std::fmt::Display) -> NotifyError {
    NotifyError::Failed(e.to_string())
}

/// How far a notification got: answered before it was remembered, or applied after (a
/// failure then un-remembers it so WeChat's next delivery is applied).
enum Handled {
    Answered(NotifyOutcome),
    Applied(Result<NotifyOutcome, PaymentsError>),
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
    let (id, handled) = match notification {
        Notification::Transaction {
            id,
            event_type,
            transaction,
        } => {
            let handled = on_payment(app, &id, &event_type, &transaction).await?;
            (id, handled)
        }
        Notification::Refund {
            id,
            event_type,
            refund,
        } => {
            let handled = on_refund(app, &id, &event_type, &refund).await?;
            (id, handled)
        }
    };
    match handled {
        Handled::Answered(outcome) => Ok(outcome),
        Handled::Applied(Ok(outcome)) => {
            if let NotifyOutcome::Unmatched(reason) = outcome {
                tracing::warn!(notification = %id, reason = %reason.to_value(), "WeChat Pay notification matched nothing; recorded for finance");
            }
            Ok(outcome)
        }
        Handled::Applied(Err(e)) => {
            forget(app, &id).await;
            Err(failed(&e))
        }
    }
}

/// A payment notification: a successful payment pays its order once, or is kept for finance.
async fn on_payment(
    app: &AppState,
    id: &str,
    event_type: &str,
    transaction: &Transaction,
) -> Result<Handled, NotifyError> {
    if transaction.trade_state != TradeState::Success {
        return Ok(Handled::Answered(NotifyOutcome::NothingToDo));
    }
    if !remember(app, id, event_type, &transaction.out_trade_no).await? {
        return Ok(Handled::Answered(NotifyOutcome::Duplicate));
    }
    let transaction_id = transaction.transaction_id.clone().unwrap_or_default();
    let matched = if crate::stored_value::is_top_up_no(&transaction.out_trade_no) {
        top_up_paid(app, transaction, &transaction_id).await
    } else {
        orders::mark_paid(
            app,
            &transaction.out_trade_no,
            &transaction_id,
            transaction.amount_total,
        )
        .await
    };
    Ok(Handled::Applied(match matched {
        Err(e) => Err(e.into()),
        Ok(PaymentMatch::Paid) => Ok(NotifyOutcome::Applied),
        Ok(PaymentMatch::AlreadyPaid) => Ok(NotifyOutcome::AlreadyApplied),
        Ok(unmatched) => keep_unmatched_payment(app, id, event_type, transaction, unmatched).await,
    }))
}

/// A top-up's payment (see `stored_value`), told in the words of an order's.
async fn top_up_paid(
    app: &AppState,
    transaction: &Transaction,
    transaction_id: &str,
) -> Result<PaymentMatch, orders::OrdersError> {
    use crate::stored_value::{self, TopUpMatch};
    let matched = stored_value::top_up_paid(
        app,
        &transaction.out_trade_no,
        transaction_id,
        transaction.amount_total,
    )
    .await
    .map_err(|e| orders::OrdersError::InvalidInput(e.to_string()))?;
    Ok(match matched {
        TopUpMatch::Credited => PaymentMatch::Paid,
        TopUpMatch::AlreadyCredited => PaymentMatch::AlreadyPaid,
        TopUpMatch::Unknown => PaymentMatch::UnknownOrder,
        TopUpMatch::AmountMismatch { expected_fen } => {
            PaymentMatch::AmountMismatch { expected_fen }
        }
        TopUpMatch::PaidByAnother => PaymentMatch::NotAwaitingPayment {
            status: OrderStatus::Paid,
        },
    })
}

/// Records a payment that changed nothing, with why and the money trail finance needs.
async fn keep_unmatched_payment(
    app: &AppState,
    id: &str,
    event_type: &str,
    transaction: &Transaction,
    unmatched: PaymentMatch,
) -> Result<NotifyOutcome, PaymentsError> {
    let (reason, order_status) = match unmatched {
        PaymentMatch::AmountMismatch { .. } => (UnmatchedReason::AmountMismatch, None),
        PaymentMatch::NotAwaitingPayment {
            status: OrderStatus::Closed,
        } => (
            UnmatchedReason::LateForClosedOrder,
            Some(OrderStatus::Closed),
        ),
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
        "order_status": order_status.map(|s| s.to_value()),
    });
    record_unmatched(
        app,
        id,
        NotificationKind::Payment,
        reason,
        (Some(transaction.out_trade_no.clone()), None),
        transaction.amount_total,
        &summary,
    )
    .await?;
    Ok(NotifyOutcome::Unmatched(reason))
}

/// A refund notification: settles its refund once, or is kept for finance when no refund of
/// ours has its number.
async fn on_refund(
    app: &AppState,
    id: &str,
    event_type: &str,
    refund: &RefundNotice,
) -> Result<Handled, NotifyError> {
    if !remember(app, id, event_type, &refund.out_refund_no).await? {
        return Ok(Handled::Answered(NotifyOutcome::Duplicate));
    }
    let settled = settle_refund(
        app,
        &refund.out_refund_no,
        refund.status,
        Some(refund.refund_id.clone()),
    )
    .await;
    Ok(Handled::Applied(match settled {
        Ok(Settlement::Applied) => Ok(NotifyOutcome::Applied),
        Ok(Settlement::AlreadyDone) => Ok(NotifyOutcome::AlreadyApplied),
        Ok(Settlement::StillProcessing) => Ok(NotifyOutcome::NothingToDo),
        Err(PaymentsError::RefundNotFound) => {
            keep_unknown_refund(app, id, event_type, refund).await
        }
        Err(e) => Err(e),
    }))
}

/// Records a refund made outside Rouge (no refund of ours has its number).
async fn keep_unknown_refund(
    app: &AppState,
    id: &str,
    event_type: &str,
    refund: &RefundNotice,
) -> Result<NotifyOutcome, PaymentsError> {
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
        id,
        NotificationKind::Refund,
        UnmatchedReason::UnknownRefund,
        (out_trade_no, Some(refund.out_refund_no.clone())),
        refund.refund_fen,
        &summary,
    )
    .await?;
    Ok(NotifyOutcome::Unmatched(UnmatchedReason::UnknownRefund))
}

/// Records a notification id; false when it was already handled. An event type WeChat Pay
/// does not document is not applied (WeChat delivers it again).
async fn remember(
    app: &AppState,
    id: &str,
    event_type: &str,
    reference: &str,
) -> Result<bool, NotifyError> {
    let event_type = PaymentEventType::try_from_value(&event_type.to_owned()).map_err(|_| {
        tracing::error!(
            notification = id,
            event_type,
            "unknown WeChat Pay event type"
        );
        NotifyError::Failed(format!("unknown event type {event_type}"))
    })?;
    let inserted = payment_notification::Entity::insert(payment_notification::ActiveModel {
        id: Set(id.to_owned()),
        event_type: Set(event_type),
        reference: Set(reference.to_owned()),
        received_at: Set(app.clock.now()),
    })
    .on_conflict(
        OnConflict::column(payment_notification::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await
    .map_err(|e| failed(&e))?;
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
) -> Result<(), PaymentsError> {
    unmatched_payment_notification::Entity::insert(unmatched_payment_notification::ActiveModel {
        notification_id: Set(id.to_owned()),
        kind: Set(kind),
        reason: Set(reason),
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

/// HQ: genuine notifications that matched nothing to change, newest first (by id).
pub async fn unmatched_notifications(
    app: &AppState,
    staff: &StaffPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<UnmatchedNotification>, PaymentsError> {
    staff.require(Permission::ReadPaymentExceptions)?;
    let mut query = unmatched_payment_notification::Entity::find()
        .order_by_desc(unmatched_payment_notification::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(unmatched_payment_notification::Column::Id.lt(after));
    }
    Ok(page.page(query.all(&app.db).await?).map(Into::into))
}
