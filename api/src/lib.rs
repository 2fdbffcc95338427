//! The rouge server as a library: configuration, wiring of the app state, and `serve`, which
//! takes a bound listener and a shutdown signal (so tests run it on port 0).
// The merged staff schema is deep enough to need more than the default 128.
#![recursion_limit = "256"]

pub mod checked_documents;
pub mod client_addr;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
#[cfg(feature = "demo")]
pub mod dev_pay;
pub mod graphiql;
pub mod http;
pub mod media;
pub mod members_export;
pub mod metrics;
pub mod reports_export;
pub mod response_cache;
pub mod telemetry;
pub mod worker;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use domain::auth::TokenKeys;
use domain::platform::clock::{Clock, SystemClock};
use domain::platform::kv::{
    KeyValueStore, KvAccessTokenCache, MemoryStore, RedisStore, RedisStoreOptions,
};
use domain::platform::pii::PiiCipher;
use domain::{AppState, Settings};
use entities::Migrator;
use poem::Server;
use poem::listener::TcpAcceptor;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;
use wechat_integration::{
    MiniProgram, MiniProgramClient, MiniProgramConfig, PayConfig, PlatformKey, WeChatPay,
    WeChatPayClient,
};

use crate::config::{Config, WeChatMode};
pub use crate::http::HttpOptions;
pub use crate::metrics::Metrics;
pub use crate::worker::run_worker;

/// Opens the database pool. SQLite files get WAL, so readers do not wait for the writer, and
/// `synchronous=NORMAL`, the setting SQLite recommends with WAL: a commit is no longer an fsync
/// (the WAL is synced at checkpoints), so writers are not paced by the disk. A power cut may lose
/// the last commits but never corrupts the file; deployments that cannot accept that run on
/// PostgreSQL.
///
/// When PostgreSQL restarts, every pooled connection dies with it: a connection idle for a second
/// or more is pinged before it is handed out (a dead one is dropped and a new one opened); a busy
/// one that died is found by the statement that fails (answered UNAVAILABLE) and by the ping
/// sqlx makes when it is returned, and is dropped then. Pinging busy connections on every
/// acquire cost one round trip per statement outside a transaction (a fifth of a scan's round
/// trips; see docs/performance.md). A caller waiting for a
/// connection retries the connect with a back-off of at most a fifth of its time-out, so the pool
/// is serving again within about a second of the database's return. Until then callers get
/// UNAVAILABLE (see `domain::platform::error::db_error_code`).
pub async fn connect_database(
    url: &str,
    max_connections: u32,
) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire_if_idle_for(Duration::from_secs(1))
        // Connections are renewed now and then, so none outlives a failover for long.
        .idle_timeout(Duration::from_secs(60))
        .max_lifetime(Duration::from_secs(30 * 60))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal));
    let db = Database::connect(options)
        .await
        .context("could not connect to the database")?;
    if url.starts_with("sqlite") {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("PRAGMA journal_mode=WAL;").await?;
    }
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("migration failed")
}

pub async fn pending_migrations(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

pub fn connect_kv(config: &Config) -> anyhow::Result<Arc<dyn KeyValueStore>> {
    let url = config.kv.url.expose_secret();
    if url == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    let store = RedisStore::connect(&RedisStoreOptions::new(url, config.kv.prefix.clone()))
        .context("bad REDIS_URL")?;
    Ok(Arc::new(store))
}

/// The WeChat clients, and the in-process fake they talk to when configured so (kept alive here;
/// only the `demo` build has one).
pub struct WeChatWiring {
    pub client: Arc<dyn MiniProgram>,
    pub pay: Arc<dyn WeChatPay>,
    #[cfg(feature = "demo")]
    pub fake: Option<wechat_integration::fake::FakeWeChat>,
}

impl WeChatWiring {
    /// Whether the clients talk to the in-process fake WeChat (never in a build without `demo`).
    pub fn is_fake(&self) -> bool {
        #[cfg(feature = "demo")]
        return self.fake.is_some();
        #[cfg(not(feature = "demo"))]
        return false;
    }

    /// The development payment routes for this wiring, when `config` allows them (the fake
    /// WeChat, not production).
    #[cfg(feature = "demo")]
    pub fn dev_wechat_pay(&self, config: &Config) -> Option<dev_pay::DevWeChatPay> {
        dev_pay::DevWeChatPay::for_config(config, self.fake.as_ref())
    }

    /// Stops the fake WeChat, if there is one.
    pub async fn shutdown(self) {
        #[cfg(feature = "demo")]
        if let Some(fake) = self.fake {
            fake.shutdown().await;
        }
    }
}

/// `notify_url` is where this server receives WeChat Pay notifications (used by the fake; live
/// mode takes it from configuration).
pub async fn connect_wechat(
    config: &Config,
    kv: Arc<dyn KeyValueStore>,
    #[cfg_attr(not(feature = "demo"), allow(unused_variables))] notify_url: &str,
) -> anyhow::Result<WeChatWiring> {
    let cache = Arc::new(KvAccessTokenCache::new(kv));
    match config.wechat.mode {
        #[cfg(feature = "demo")]
        WeChatMode::Fake => {
            let keys_dir = config.data_dir.join("fake-wechat-keys");
            demo::connect_fake_wechat(cache, notify_url, keys_dir).await
        }
        // Config::load refuses this already; a configuration built in code is refused here.
        #[cfg(not(feature = "demo"))]
        WeChatMode::Fake => Err(config::ConfigError::fake_wechat_not_built().into()),
        WeChatMode::Live => {
            let app_id = config
                .wechat
                .app_id
                .clone()
                .context("wechat.app_id is not set")?;
            let app_secret = config
                .wechat
                .app_secret
                .clone()
                .context("wechat.app_secret is not set")?;
            let client = MiniProgramClient::new(
                MiniProgramConfig {
                    app_id,
                    app_secret,
                    api_base: config.wechat.api_base.clone(),
                    timeout: Duration::from_secs(5),
                },
                cache,
            )?;
            Ok(WeChatWiring {
                client: Arc::new(client),
                pay: Arc::new(WeChatPayClient::new(live_pay_config(config)?)?),
                #[cfg(feature = "demo")]
                fake: None,
            })
        }
    }
}

/// The merchant settings for live WeChat Pay.
fn live_pay_config(config: &Config) -> anyhow::Result<PayConfig> {
    let pay = &config.wechat.pay;
    let key_pem = pay
        .merchant_private_key
        .as_ref()
        .context("wechat.pay.merchant_private_key is not set")?;
    let private_key = wechat_integration::pay::private_key_from_pem(key_pem.expose_secret())
        .context("wechat.pay.merchant_private_key is not a valid RSA key")?;
    let api_v3_key = pay
        .api_v3_key
        .as_ref()
        .context("wechat.pay.api_v3_key is not set")?;
    let mut platform_keys = Vec::new();
    for entry in pay
        .platform_keys
        .as_deref()
        .unwrap_or_default()
        .split(";;")
        .filter(|e| !e.trim().is_empty())
    {
        let (serial, pem) = entry
            .split_once('=')
            .context("platform keys are serial=PEM entries")?;
        platform_keys.push(PlatformKey {
            serial: serial.trim().to_owned(),
            public_key: wechat_integration::pay::public_key_from_pem(pem.trim())
                .context("a WeChat Pay platform key is not a valid RSA public key")?,
        });
    }
    Ok(PayConfig {
        mch_id: pay.mch_id.clone().context("wechat.pay.mch_id is not set")?,
        app_id: config
            .wechat
            .app_id
            .clone()
            .context("wechat.app_id is not set")?,
        merchant_serial_no: pay
            .merchant_serial_no
            .clone()
            .context("wechat.pay.merchant_serial_no is not set")?,
        merchant_private_key: private_key,
        api_v3_key: secrecy::SecretSlice::from(api_v3_key.expose_secret().as_bytes().to_vec()),
        platform_keys,
        notify_url: pay
            .notify_url
            .clone()
            .context("wechat.pay.notify_url is not set")?,
        api_base: pay.api_base.clone(),
        timeout: Duration::from_secs(10),
    })
}

/// Business settings from configuration.
pub fn settings(config: &Config, notify_url: &str) -> Settings {
    Settings {
        auth: domain::login::AuthSettings {
            access_ttl: chrono::Duration::seconds(
                i64::try_from(config.auth.access_ttl_secs).unwrap_or(900),
            ),
            refresh_ttl: Duration::from_secs(config.auth.refresh_ttl_secs),
            login_failures_per_account: config.auth.login_failures_per_account,
            login_failures_per_address: config.auth.login_failures_per_address,
            login_failure_window: Duration::from_secs(config.auth.login_failure_window_secs),
        },
        orders: domain::orders::OrderSettings {
            payment_timeout: chrono::Duration::seconds(
                i64::try_from(config.jobs.payment_timeout_secs).unwrap_or(900),
            ),
        },
        loyalty: domain::loyalty::LoyaltySettings {
            points_validity: chrono::Duration::days(config.jobs.points_validity_days),
        },
        payments: domain::payments::PaymentSettings {
            notify_url: notify_url.to_owned(),
        },
        flash_sales: flash_sale_settings(&config.flash_sales),
        scan: domain::scan_codes::ScanSettings {
            key: domain::scan_codes::PackCodeKey::new(&config.pack_code_key()),
            scans_per_minute: config.scan.scans_per_minute,
            daily_gift_cap: config.scan.daily_gift_cap,
            ..Default::default()
        },
        campaigns: domain::campaigns::CampaignSettings {
            rate_per_second: Some(config.jobs.campaign_rate_per_second).filter(|r| *r > 0),
            ..Default::default()
        },
        booking: booking_settings(&config.booking),
        privacy: privacy_settings(&config.privacy),
    }
}

fn privacy_settings(c: &config::PrivacyConfig) -> domain::privacy::PrivacySettings {
    let d = domain::privacy::PrivacySettings::default();
    domain::privacy::PrivacySettings {
        policy_version: c.policy_version.clone().unwrap_or(d.policy_version),
        policy_url: c.policy_url.clone().unwrap_or(d.policy_url),
        sensitive_version: c.sensitive_version.clone().unwrap_or(d.sensitive_version),
        sensitive_url: c.sensitive_url.clone().unwrap_or(d.sensitive_url),
        sensitive_purpose: c.sensitive_purpose.clone().unwrap_or(d.sensitive_purpose),
        exports_per_day: c.exports_per_day.unwrap_or(d.exports_per_day).max(1),
    }
}

fn flash_sale_settings(c: &config::FlashSalesConfig) -> domain::flash_sales::FlashSaleSettings {
    let d = domain::flash_sales::FlashSaleSettings::default();
    domain::flash_sales::FlashSaleSettings {
        grabs_per_second: c.grabs_per_second.unwrap_or(d.grabs_per_second),
        order_writers: c.order_writers.unwrap_or(d.order_writers),
        ..d
    }
}

fn booking_settings(c: &config::BookingConfig) -> domain::booking::BookingSettings {
    let d = domain::booking::BookingSettings::default();
    domain::booking::BookingSettings {
        reminder_template_id: c
            .reminder_template_id
            .clone()
            .unwrap_or(d.reminder_template_id.clone()),
        reminder_lead: c
            .reminder_lead_hours
            .map_or(d.reminder_lead, chrono::Duration::hours),
        slot_minutes: c.slot_minutes.unwrap_or(d.slot_minutes),
        cancel_cutoff_minutes: c.cancel_cutoff_minutes.unwrap_or(d.cancel_cutoff_minutes),
        ..d
    }
}

/// Where WeChat Pay notifications reach this server.
pub fn notify_url(config: &Config, local_base: &str) -> String {
    match config.wechat.mode {
        WeChatMode::Live => config.wechat.pay.notify_url.clone().unwrap_or_default(),
        WeChatMode::Fake => format!("{local_base}{}", http::PAY_NOTIFY_PATH),
    }
}

pub fn http_options(config: &Config) -> HttpOptions {
    HttpOptions {
        limits: graphql_schema::SchemaLimits {
            max_depth: config.graphql.max_depth,
            max_complexity: config.graphql.max_complexity,
            introspection: config.introspection(),
            ..Default::default()
        },
        max_batch: config.graphql.max_batch,
        max_body_bytes: config.http.max_body_bytes,
        max_upload_bytes: crate::media::MAX_UPLOAD_BYTES,
        execution_timeout: Duration::from_millis(config.graphql.timeout_ms),
        graphiql: config.introspection(),
        trust_forwarded_for: config.http.trust_forwarded_for,
        #[cfg(feature = "demo")]
        dev_wechat_pay: None,
    }
}

/// Everything the app needs, from explicit parts (tests pass their own database, store, WeChat and clock).
pub struct Parts {
    pub db: DatabaseConnection,
    pub kv: Arc<dyn KeyValueStore>,
    pub wechat: Arc<dyn MiniProgram>,
    pub pay: Arc<dyn WeChatPay>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub jwt_secret: Vec<u8>,
    pub pii_keys: (Vec<u8>, Vec<u8>),
    /// The demo's fake WeChat learning recorded consents (`demo::consent_sink`); None otherwise.
    pub consent_sink: Option<Arc<dyn domain::subscriptions::SubscriptionConsentSink>>,
    /// Stored images (`domain::media::MediaPort::local` or any object store).
    pub media: domain::media::MediaPort,
}

pub fn build_state(parts: Parts) -> anyhow::Result<Arc<AppState>> {
    Ok(Arc::new(AppState {
        db: parts.db,
        kv: parts.kv,
        wechat: parts.wechat,
        pay: parts.pay,
        clock: parts.clock,
        pii: PiiCipher::new(&parts.pii_keys.0, &parts.pii_keys.1)?,
        tokens: TokenKeys::new(&parts.jwt_secret),
        codes: domain::platform::signed_codes::CodeSigner::new(&parts.jwt_secret),
        caches: domain::Caches::default(),
        flash_sales: domain::flash_sales::FlashSaleRuntime::new(&parts.settings.flash_sales),
        settings: parts.settings,
        consent_sink: parts.consent_sink,
        media: parts.media,
    }))
}

/// Stored images under the configured folder.
pub fn media_port(config: &Config) -> anyhow::Result<domain::media::MediaPort> {
    let (dir, signing, master) = config.media_keys()?;
    if let Some(s3) = config.media.s3.options()? {
        return domain::media::MediaPort::s3(
            &s3,
            &signing,
            &master,
            ::media::IntakeLimits::default(),
        )
        .map_err(|e| anyhow::anyhow!("media storage at {s3:?}: {e}"));
    }
    domain::media::MediaPort::local(&dir, &signing, &master, ::media::IntakeLimits::default())
        .map_err(|e| anyhow::anyhow!("media storage at {}: {e}", dir.display()))
}

/// The app state for a configuration: connects the database, store and WeChat.
/// `local_base` is this server's own address (for the fake WeChat's notifications).
pub async fn state_from_config(
    config: &Config,
    db: DatabaseConnection,
    local_base: &str,
) -> anyhow::Result<(Arc<AppState>, WeChatWiring)> {
    let kv = connect_kv(config)?;
    let notify = notify_url(config, local_base);
    let wechat = connect_wechat(config, kv.clone(), &notify).await?;
    #[cfg(feature = "demo")]
    let consent_sink = wechat.fake.as_ref().map(demo::consent_sink);
    #[cfg(not(feature = "demo"))]
    let consent_sink = None;
    let state = build_state(Parts {
        db,
        kv,
        wechat: wechat.client.clone(),
        pay: wechat.pay.clone(),
        clock: Arc::new(SystemClock),
        settings: settings(config, &notify),
        jwt_secret: config.jwt_secret(),
        pii_keys: config.pii_keys()?,
        consent_sink,
        media: media_port(config)?,
    })?;
    #[cfg(feature = "demo")]
    if let Some(fake) = &wechat.fake {
        demo::restore_fake_consents(&state, fake).await?;
    }
    Ok((state, wechat))
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish
/// (up to `grace`).
pub async fn serve(
    state: Arc<AppState>,
    options: HttpOptions,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let app = http::routes(state, options, Metrics::install());
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, shutdown, Some(grace))
        .await
}

/// Serves `rouge worker`'s probes and metrics (/healthz, /readyz, /metrics) until `shutdown`.
pub async fn serve_worker_probes(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let app = http::worker_routes(state, Metrics::install());
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, shutdown, Some(Duration::from_secs(1)))
        .await
}

/// The address a listener is bound to, for printing and for tests.
pub fn local_url(listener: &tokio::net::TcpListener) -> std::io::Result<String> {
    Ok(format!("http://{}", listener.local_addr()?))
}
