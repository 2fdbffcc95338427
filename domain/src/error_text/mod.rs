//! What a client is told about a domain error besides its code: a stable **reason**
//! (SCREAMING_SNAKE, sent as `extensions.reason`, e.g. `COUPON_EXPIRED`, `SLOT_TAKEN`) and the
//! message **in Chinese** (the error's `Display` text is the English one).
//!
//! The texts of every module's error enum are kept here, in one place, rather than in the
//! modules: a translator reads one file, and the error enums keep only their English. Nothing
//! imports this module but the GraphQL layer, so it may name every capability's errors.
//!
//! Internal and unavailable errors never say more than their code: their reason is the code
//! (`INTERNAL`, `UNAVAILABLE`) and their message the code's generic one. A variant without a
//! text here (one added on another branch) falls back the same way — and the test below names
//! it, so it gets a reason and a Chinese message before it ships.

mod b2b;
mod commerce;
mod commission;
mod day_close;
mod media;
mod people;
mod reports;
mod words;

use std::any::Any;
use std::borrow::Cow;

use crate::platform::error::{DomainError, ErrorCode};

/// The reason and the Chinese message of one error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub reason: &'static str,
    pub zh: Cow<'static, str>,
}

impl Text {
    /// What every error of `code` says when nothing more specific is written.
    pub fn generic(code: ErrorCode) -> Self {
        Self {
            reason: generic_reason(code),
            zh: Cow::Borrowed(code.message_zh()),
        }
    }
}

/// The reason of an error with no more specific one: the one a refusal of that code most
/// often means (an unauthenticated caller has to sign in, a bad input is invalid input).
pub const fn generic_reason(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Unauthenticated => "SIGN_IN_REQUIRED",
        ErrorCode::Forbidden => "ROLE_NOT_ALLOWED",
        ErrorCode::BadUserInput => "INVALID_INPUT",
        other => other.as_str(),
    }
}

/// A reason and message pair, for the tables.
fn t(reason: &'static str, zh: impl Into<Cow<'static, str>>) -> Option<Text> {
    Some(Text {
        reason,
        zh: zh.into(),
    })
}

/// Every domain error has a reason and a Chinese message (see the module docs).
pub trait Explain {
    /// The stable reason: SCREAMING_SNAKE, never changed once shipped.
    fn reason(&self) -> &'static str;
    /// The message in Chinese, for the same audience as the English `Display` text.
    fn message_zh(&self) -> Cow<'static, str>;
    /// Both at once.
    fn text(&self) -> Text;
}

impl<E: DomainError> Explain for E {
    fn reason(&self) -> &'static str {
        self.text().reason
    }

    fn message_zh(&self) -> Cow<'static, str> {
        self.text().zh
    }

    fn text(&self) -> Text {
        let code = self.code();
        if !code.is_client_facing() {
            return Text::generic(code);
        }
        written(self).unwrap_or_else(|| Text::generic(code))
    }
}

/// The text written for this error, if any: the module error enums are told apart by type.
fn written(err: &dyn Any) -> Option<Text> {
    use crate::{
        accounts, audit, auth, b2b, booking, campaigns, catalog, coupons, distributors, erasure,
        flash_sales, inventory, loyalty, members, orders, payments, pricing, privacy, scan_codes,
        stored_value, subscriptions,
    };
    if let Some(e) = err.downcast_ref::<auth::AuthError>() {
        people::auth(e)
    } else if let Some(e) = err.downcast_ref::<members::MembersError>() {
        people::members(e)
    } else if let Some(e) = err.downcast_ref::<erasure::ErasureError>() {
        people::erasure(e)
    } else if let Some(e) = err.downcast_ref::<privacy::PrivacyError>() {
        people::privacy(e)
    } else if let Some(e) = err.downcast_ref::<booking::BookingError>() {
        people::booking(e)
    } else if let Some(e) = err.downcast_ref::<subscriptions::SubscriptionsError>() {
        people::subscriptions(e)
    } else if let Some(e) = err.downcast_ref::<accounts::AccountsError>() {
        people::accounts(e)
    } else if let Some(e) = err.downcast_ref::<audit::AuditError>() {
        people::audit(e)
    } else if let Some(e) = err.downcast_ref::<b2b::B2bError>() {
        self::b2b::b2b(e)
    } else if let Some(e) = err.downcast_ref::<distributors::DistributorsError>() {
        people::distributors(e)
    } else if let Some(e) = err.downcast_ref::<campaigns::CampaignsError>() {
        people::campaigns(e)
    } else if let Some(e) = err.downcast_ref::<scan_codes::ScanError>() {
        people::scan(e)
    } else if let Some(e) = err.downcast_ref::<orders::OrdersError>() {
        commerce::orders(e)
    } else if let Some(e) = err.downcast_ref::<payments::PaymentsError>() {
        commerce::payments(e)
    } else if let Some(e) = err.downcast_ref::<coupons::CouponsError>() {
        commerce::coupons(e)
    } else if let Some(e) = err.downcast_ref::<pricing::PricingError>() {
        commerce::pricing(e)
    } else if let Some(e) = err.downcast_ref::<catalog::CatalogError>() {
        commerce::catalog(e)
    } else if let Some(e) = err.downcast_ref::<inventory::InventoryError>() {
        commerce::inventory(e)
    } else if let Some(e) = err.downcast_ref::<flash_sales::FlashSalesError>() {
        commerce::flash_sales(e)
    } else if let Some(e) = err.downcast_ref::<loyalty::LoyaltyError>() {
        commerce::loyalty(e)
    } else if let Some(e) = err.downcast_ref::<stored_value::StoredValueError>() {
        commerce::stored_value(e)
    } else if let Some(e) = err.downcast_ref::<crate::reports::ReportsError>() {
        reports::reports(e)
    } else if let Some(e) = err.downcast_ref::<crate::sales::SalesError>() {
        reports::sales(e)
    } else if let Some(e) = err.downcast_ref::<crate::commission::CommissionError>() {
        commission::commission(e)
    } else if let Some(e) = err.downcast_ref::<crate::day_close::DayCloseError>() {
        day_close::day_close(e)
    } else if let Some(e) = err.downcast_ref::<crate::media::MediaError>() {
        media::media(e)
    } else {
        None
    }
}

pub use words::invalid_input_zh;

#[cfg(test)]
mod tests;
