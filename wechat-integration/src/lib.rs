//! WeChat, as Rouge speaks to it (../shared/design/WECHAT.md): the mini-program server API
//! (login, access token, phone number, subscription messages, mini-program codes) and WeChat
//! Pay v3 (signed requests, verified responses and notifications, AES-GCM resources), each
//! behind a trait the app holds as `Arc<dyn …>` ([`MiniProgram`], [`WeChatPay`]).
//!
//! - [`MiniProgramClient`] keeps the access token in an [`AccessTokenCache`] (Redis in the app,
//!   [`MemoryTokenCache`] in one process), refreshes it five minutes early with one caller per
//!   process, and on 40001/40014/42001 drops it (only if it is still the cached one), refreshes
//!   once and retries once.
//! - [`check_subscribe_value`] and [`validate_scene`] are the documented value rules, checked
//!   before a call is spent on a request WeChat would refuse.
//! - [`WeChatPayClient`] signs every request with the merchant key and refuses any answer or
//!   notification whose platform signature (certificate serial or PUB_KEY_ID_…) or timestamp
//!   does not check out.
//! - Errors are sorted by errcode or status into [`WeChatErrorKind`], never by message text.
//!
//! With the `fake` feature, [`fake::FakeWeChat`] is a WeChat of our own on a loopback port,
//! speaking the same HTTP contract with real cryptography, so the real clients are what the
//! demo and the tests exercise.

mod error;
mod miniprogram;
pub mod pay;
mod token;
mod trace;
mod userdata;
mod values;

#[cfg(feature = "fake")]
pub mod fake;

pub use error::{WeChatError, WeChatErrorKind};
pub use miniprogram::{
    LoginSession, MiniProgram, MiniProgramClient, MiniProgramConfig, PhoneNumber, SubscribeMessage,
    WxaCodeRequest, validate_scene,
};
pub use pay::{
    ClientPaymentParams, JsapiOrder, Notification, NotificationHeaders, PayConfig, PlatformKey,
    Refund, RefundNotice, RefundRequest, RefundStatus, TradeState, Transaction, WeChatPay,
    WeChatPayClient,
};
pub use token::{AccessTokenCache, CachedToken, MemoryTokenCache};
pub use userdata::decrypt_user_data;
pub use values::{ValueRuleError, check_subscribe_value};

/// reqwest is built without a default TLS provider; Rouge uses ring.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
