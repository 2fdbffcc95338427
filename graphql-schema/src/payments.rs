//! Payments: members pay their orders with WeChat Pay; managers and HQ refund; HQ reviews the
//! WeChat Pay notifications that matched nothing.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::auth::Permission;
use domain::{orders, payments};

use crate::context::{app, member, staff};
use crate::error::{ApiResult, parse_id};
use crate::pagination;
use crate::scalars::DateTime;

pub use domain::payments::{NotificationKind, RefundStatus, UnmatchedReason};

/// What wx.requestPayment takes.
#[derive(SimpleObject)]
pub struct PaymentParams {
    pub time_stamp: String,
    pub nonce_str: String,
    pub package: String,
    pub sign_type: String,
    pub pay_sign: String,
}

#[derive(InputObject)]
pub struct RefundLineInput {
    pub line_id: ID,
    pub quantity: i32,
}

#[derive(SimpleObject)]
pub struct Refund {
    pub id: ID,
    pub order_id: ID,
    pub refund_no: String,
    pub amount_fen: i64,
    pub reason: Option<String>,
    pub status: RefundStatus,
    pub created_at: DateTime,
    pub completed_at: Option<DateTime>,
}

impl From<payments::Refund> for Refund {
    fn from(r: payments::Refund) -> Self {
        Self {
            id: r.id.into(),
            order_id: r.order_id.into(),
            refund_no: r.refund_no,
            amount_fen: r.amount_fen,
            reason: r.reason,
            status: r.status,
            created_at: r.created_at.into(),
            completed_at: r.completed_at.map(Into::into),
        }
    }
}

/// A genuine WeChat Pay notification that matched nothing to change: acknowledged to WeChat
/// and kept for finance (money to return, or a refund made outside Rouge).
#[derive(SimpleObject)]
pub struct UnmatchedPaymentNotification {
    pub id: ID,
    /// WeChat's notification id (deliveries of one notification are recorded once).
    pub notification_id: String,
    pub kind: NotificationKind,
    pub reason: UnmatchedReason,
    pub out_trade_no: Option<String>,
    pub out_refund_no: Option<String>,
    pub amount_fen: i64,
    /// The decrypted notification's non-secret fields, as JSON.
    pub summary: String,
    pub received_at: DateTime,
}

impl From<payments::UnmatchedNotification> for UnmatchedPaymentNotification {
    fn from(n: payments::UnmatchedNotification) -> Self {
        Self {
            id: n.id.into(),
            notification_id: n.notification_id,
            kind: n.kind,
            reason: n.reason,
            out_trade_no: n.out_trade_no,
            out_refund_no: n.out_refund_no,
            amount_fen: n.amount_fen,
            summary: n.summary,
            received_at: n.received_at.into(),
        }
    }
}

#[derive(Default)]
pub struct ConsumerPaymentsMutation;

#[Object]
impl ConsumerPaymentsMutation {
    /// WeChat Pay parameters for wx.requestPayment.
    async fn pay_order(&self, ctx: &Context<'_>, order_id: ID) -> ApiResult<PaymentParams> {
        let me = member(ctx).await?;
        let p = payments::pay_order(app(ctx), me, parse_id(&order_id)?).await?;
        Ok(PaymentParams {
            time_stamp: p.time_stamp,
            nonce_str: p.nonce_str,
            package: p.package,
            sign_type: p.sign_type,
            pay_sign: p.pay_sign,
        })
    }
}

#[derive(Default)]
pub struct StaffPaymentsQuery;

#[Object]
impl StaffPaymentsQuery {
    async fn order_refunds(&self, ctx: &Context<'_>, order_id: ID) -> ApiResult<Vec<Refund>> {
        let staff = staff(ctx).await?;
        let order = orders::staff_order(app(ctx), staff, parse_id(&order_id)?).await?;
        Ok(payments::refunds_of_order(app(ctx), order.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// HQ: WeChat Pay notifications that matched nothing to change, newest first.
    async fn unmatched_payment_notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, UnmatchedPaymentNotification>> {
        let staff = staff(ctx).await?;
        let page = pagination::staff_keyset(
            staff,
            &[Permission::ReadPaymentExceptions],
            first,
            after.as_deref(),
        )?;
        let rows = payments::unmatched_notifications(app(ctx), staff, page).await?;
        Ok(pagination::connection(rows, &page, |n| n.id, Into::into))
    }
}

#[derive(Default)]
pub struct StaffPaymentsMutation;

#[Object]
impl StaffPaymentsMutation {
    /// Refunds a paid order: all of it, or the given units.
    async fn refund_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        lines: Option<Vec<RefundLineInput>>,
        reason: Option<String>,
    ) -> ApiResult<Refund> {
        let staff = staff(ctx).await?;
        let lines = lines.as_deref().map(refund_lines).transpose()?;
        Ok(
            payments::refund_order(app(ctx), staff, parse_id(&order_id)?, lines, reason)
                .await?
                .into(),
        )
    }
}

fn refund_lines(input: &[RefundLineInput]) -> ApiResult<Vec<orders::RefundLine>> {
    input
        .iter()
        .map(|l| {
            Ok(orders::RefundLine {
                line_id: parse_id(&l.line_id)?,
                quantity: l.quantity,
            })
        })
        .collect()
}
