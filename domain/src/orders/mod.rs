//! Consumer orders: placed in the mini-program (pick-up at a store or delivery) and paid with
//! WeChat Pay, or recorded by a BA at the counter. Placing an order reserves stock first-expiry-
//! first-out; an unpaid order closes after the payment time-out and gives the stock back; a paid
//! order earns points and moves the member's tier; a refund (whole or partial) reverses both.
//!
//! One use case per file: [`place`] (online orders), [`in_store`] (counter sales),
//! [`payment`] (paid, closed unpaid), [`refunds`] (the effects of a refund); [`views`] reads
//! orders back and [`write`] writes a priced order. Pricing itself is [`crate::pricing`].

use serde::{Deserialize, Serialize};

use crate::auth::AuthError;
use crate::coupons::CouponsError;
use crate::inventory::InventoryError;
use crate::loyalty::LoyaltyError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use crate::pricing::PricingError;

mod delivery;
mod in_store;
mod payment;
mod place;
mod refunds;
mod views;
mod write;
mod write_many;

pub use delivery::set_delivery_address;
pub use entities::order::{FulfilmentKind, OrderStatus, PaymentMethod};
pub use in_store::{
    SalePreview, preview_in_store_sale, record_in_store_sale, record_in_store_sale_with_coupons,
};
pub(crate) use payment::{PaymentMatch, mark_paid, overdue, release_stock, reward_payment};
pub use place::{place_order, place_order_with_coupons};
pub use refunds::RefundLine;
pub(crate) use refunds::{apply_refund, claim_refund_units, release_refund_units};
pub use views::{Order, OrderLine, my_order, my_orders, staff_order, status_by_number};
pub(crate) use views::{load, row};
pub use write::new_order_no;
pub(crate) use write::{OrderDraft, Stock, insert_order, insert_order_with};
pub(crate) use write_many::{SetAsideOrder, insert_set_aside_orders};

// Moved to `crate::pricing`; re-exported here until coupons and flash sales import them from
// there.
pub(crate) use crate::pricing::DraftLine;
pub use crate::pricing::{Channel, Discount, DiscountKind, LineInput};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum OrdersError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this order belongs to another member")]
    NotYours,
    #[error("not enough stock of SKU {0}")]
    SoldOut(i64),
    #[error("the order is {0}")]
    WrongState(String),
    #[error("the order's payment time is over")]
    PaymentExpired,
    #[error("add a delivery address before paying")]
    DeliveryAddressMissing,
    #[error("a stored delivery address could not be read")]
    Pii(#[from] crate::platform::pii::PiiError),
    #[error("this idempotency key was already used for a different order")]
    KeyReused,
    #[error("these products contain the member's allergens: {0}; confirm with the member first")]
    AllergensNotAcknowledged(String),
    #[error("WeChat Pay is unavailable; try again")]
    PayUnavailable(#[source] wechat_integration::WeChatError),
    #[error("WeChat Pay refused: {0}")]
    PayRefused(String),
    #[error(transparent)]
    Loyalty(#[from] LoyaltyError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Coupons(CouponsError),
    #[error(transparent)]
    StoredValue(#[from] crate::stored_value::StoredValueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(OrdersError);

impl From<CouponsError> for OrdersError {
    fn from(e: CouponsError) -> Self {
        match e {
            // What coupons borrowed from pricing and inventory reads as the order's own error.
            CouponsError::Pricing(e) => e.into(),
            CouponsError::Inventory(e) => e.into(),
            other => Self::Coupons(other),
        }
    }
}

impl From<PricingError> for OrdersError {
    fn from(e: PricingError) -> Self {
        match e {
            PricingError::InvalidInput(m) => Self::InvalidInput(m),
            PricingError::NotFound(what) => Self::NotFound(what),
            PricingError::Loyalty(e) => Self::Loyalty(e),
            PricingError::Store(e) => Self::Store(e),
        }
    }
}

impl DomainError for OrdersError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_)
            | Self::AllergensNotAcknowledged(_)
            | Self::DeliveryAddressMissing => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::NotYours => ErrorCode::Forbidden,
            Self::SoldOut(_) => ErrorCode::SoldOut,
            Self::WrongState(_) | Self::KeyReused => ErrorCode::Conflict,
            Self::PaymentExpired => ErrorCode::Expired,
            Self::PayUnavailable(_) => ErrorCode::Unavailable,
            Self::PayRefused(_) | Self::Pii(_) => ErrorCode::Internal,
            Self::Loyalty(e) => e.code(),
            Self::Catalog(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Coupons(e) => e.code(),
            Self::StoredValue(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

impl From<InventoryError> for OrdersError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::Insufficient { sku_id } => Self::SoldOut(sku_id),
            InventoryError::NotFound(what) => Self::NotFound(what),
            InventoryError::InvalidInput(m) => Self::InvalidInput(m),
            InventoryError::Auth(a) => Self::Auth(a),
            InventoryError::Store(s) => Self::Store(s),
            InventoryError::Taken(what) => Self::InvalidInput(format!("{what} is taken")),
        }
    }
}

fn invalid(msg: impl Into<String>) -> OrdersError {
    OrdersError::InvalidInput(msg.into())
}

/// Where an online order goes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryAddress {
    pub recipient: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub enum Fulfilment {
    Pickup { store_id: i64 },
    Delivery(DeliveryAddress),
}

#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub lines: Vec<LineInput>,
    pub fulfilment: Fulfilment,
}

/// Order settings from configuration.
#[derive(Debug, Clone)]
pub struct OrderSettings {
    /// An unpaid online order closes after this long.
    pub payment_timeout: chrono::Duration,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            payment_timeout: chrono::Duration::minutes(15),
        }
    }
}
