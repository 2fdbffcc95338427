//! WeChat, as Rouge speaks to it (../shared/design/WECHAT.md): the mini-program server API
//! (login, access token, phone number, subscription messages, mini-program codes) and WeChat
//! Pay v3 (signed requests, verified responses and notifications, AES-GCM resources), each
//! behind a trait the app holds as `Arc<dyn …>`.
//!
//! With the `fake` feature, [`fake::FakeWeChat`] is a WeChat of our own on a loopback port,
//! speaking the same HTTP contract with real cryptography, so the real clients are what the
//! demo and the tests exercise.

mod error;
mod miniprogram;
pub mod pay;
mod token;
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
