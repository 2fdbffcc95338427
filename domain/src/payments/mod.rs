//! WeChat Pay for orders (WECHAT.md §7): payment parameters for the mini-program ([`pay`]), the
//! notification endpoint's logic, verified, decrypted, applied exactly once ([`notifications`]),
//! closing unpaid orders at WeChat and here ([`overdue`]), and refunds through the refund API
//! and its notification ([`refunds`]).

use wechat_integration::{WeChatError, WeChatErrorKind};

use crate::auth::AuthError;
use crate::orders::OrdersError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};

mod balance;
mod notifications;
mod overdue;
mod pay;
mod place_with_balance;
mod refunds;

pub use balance::pay_order_with_balance;
pub use entities::payment_notification::PaymentEventType;
pub use entities::refund::RefundStatus;
pub use entities::unmatched_payment_notification::{NotificationKind, UnmatchedReason};
pub use notifications::{
    NotifyError, NotifyOutcome, UnmatchedNotification, handle_notification, unmatched_notifications,
};
pub use overdue::{CloseOverdueOrders, close_overdue_orders};
pub use pay::pay_order;
pub use place_with_balance::place_order_with_balance;
pub use refunds::{ReconcileRefunds, Refund, reconcile_refunds, refund_order, refunds_of_order};
pub(crate) use refunds::{Settlement, settle_refund};

#[derive(Debug, Clone, Default)]
pub struct PaymentSettings {
    /// Where WeChat Pay posts payment and refund notifications (https, no query).
    pub notify_url: String,
}

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
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
