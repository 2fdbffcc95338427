//! The business of Rouge, one module per capability. Resolvers and CLI commands call these
//! services; the services decide who may do what and what happens, and own every rule.
//!
//! Every service takes the [`AppState`] (database, key-value store, WeChat, clock, keys) and,
//! where someone is acting, that someone's principal from [`auth`].

pub mod accounts;
pub mod allergens;
pub mod audit;
pub mod auth;
pub mod b2b;
pub mod booking;
pub mod campaigns;
pub mod catalog;
pub mod commission;
pub mod coupons;
pub mod day_close;
pub mod distributors;
pub mod erasure;
pub mod error_text;
pub mod flash_sales;
pub mod inventory;
pub mod login;
pub mod loyalty;
pub mod media;
pub mod members;
pub mod orders;
pub mod payments;
pub mod platform;
pub mod pricing;
pub mod privacy;
pub mod reports;
pub mod sales;
pub mod scan_codes;
pub mod seed;
pub mod stored_value;
pub mod subscriptions;

use std::net::IpAddr;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use wechat_integration::{MiniProgram, WeChatPay};

pub use platform::error::{DomainError, ErrorCode, StoreError};

/// Everything the services need, built once at start-up by the api crate (or a test).
pub struct AppState {
    pub db: DatabaseConnection,
    pub kv: Arc<dyn platform::kv::KeyValueStore>,
    pub wechat: Arc<dyn MiniProgram>,
    pub pay: Arc<dyn WeChatPay>,
    pub clock: Arc<dyn platform::clock::Clock>,
    pub pii: platform::pii::PiiCipher,
    pub tokens: auth::TokenKeys,
    /// Signs the short-lived QR codes members show at the counter.
    pub codes: platform::signed_codes::CodeSigner,
    /// In-process caches of read-mostly data.
    pub caches: Caches,
    /// This replica's flash-sale order desk (prepared sales, bounded order writes).
    pub flash_sales: flash_sales::FlashSaleRuntime,
    pub settings: Settings,
    /// Told of recorded subscription consents: the demo's fake WeChat only, never production.
    pub consent_sink: Option<Arc<dyn subscriptions::SubscriptionConsentSink>>,
    /// Images: intake, storage classes, signed links.
    pub media: media::MediaPort,
}

/// Read-mostly data kept in process for a short time (each replica has its own).
#[derive(Default)]
pub struct Caches {
    pub listings: catalog::ListingCache,
    pub scan_batches: scan_codes::BatchCache,
    pub booking_windows: booking::WindowCache,
    /// Price lists and policies at the pricing version they were read at.
    pub b2b_pricing: b2b::PricingCache,
    /// Report answers at the sales facts they were read at.
    pub reports: reports::AnswerCache,
}

/// Business settings that come from configuration.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub auth: login::AuthSettings,
    pub orders: orders::OrderSettings,
    pub loyalty: loyalty::LoyaltySettings,
    pub payments: payments::PaymentSettings,
    pub flash_sales: flash_sales::FlashSaleSettings,
    pub scan: scan_codes::ScanSettings,
    pub campaigns: campaigns::CampaignSettings,
    pub booking: booking::BookingSettings,
    pub privacy: privacy::PrivacySettings,
}

/// Facts about the request an action arrives in, kept with audit entries and used for throttling.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_ip: Option<IpAddr>,
}
