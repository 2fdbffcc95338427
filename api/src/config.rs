//! Typed, layered configuration: built-in defaults, then an optional TOML file (`--config` or
//! `ROUGE_CONFIG`), then `ROUGE_*` environment variables (`__` separates sections, e.g.
//! `ROUGE_GRAPHQL__MAX_DEPTH`), plus the conventional `DATABASE_URL` and `REDIS_URL`.
//! Secrets are `SecretString`s: they never appear in logs or `Debug` output.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Environment values are parsed like TOML, so an all-digit merchant id arrives as a number;
/// settings that are text accept either.
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        I(i64),
        U(u64),
        F(f64),
        B(bool),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| match t {
        Text::S(s) => s,
        Text::I(i) => i.to_string(),
        Text::U(u) => u.to_string(),
        Text::F(f) => f.to_string(),
        Text::B(b) => b.to_string(),
    }))
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(text(d)?.map(SecretString::from))
}

/// Secrets the embedded default uses when none are configured. Production refuses every one.
pub mod demo {
    pub const JWT_SECRET: &str = "rouge-demo-jwt-secret-not-for-production-use";
    /// base64 of 32 bytes: "rouge-demo-pii-data-key-32bytes!"
    pub const PII_DATA_KEY: &str = "cm91Z2UtZGVtby1waWktZGF0YS1rZXktMzJieXRlcyE=";
    /// base64 of 32 bytes: "rouge-demo-pii-index-key-32byte!"
    pub const PII_INDEX_KEY: &str = "cm91Z2UtZGVtby1waWktaW5kZXgta2V5LTMyYnl0ZSE=";
    /// Signs the links to stored media (PRIVATE and SENSITIVE objects).
    pub const MEDIA_SIGNING_KEY: &str = "rouge-demo-media-signing-key-not-for-production";
    /// base64 of 32 bytes: "rouge-demo-media-master-key-32b!" (wraps the skin photos' data keys)
    pub const MEDIA_MASTER_KEY: &str = "cm91Z2UtZGVtby1tZWRpYS1tYXN0ZXIta2V5LTMyYiE=";
    /// Keys the scan-for-gift pack codes (the same as domain::scan_codes::DEMO_PACK_CODE_KEY).
    pub const PACK_CODE_KEY: &str = "rouge-demo-pack-code-key-not-for-production";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeChatMode {
    /// The in-process fake WeChat (demo and tests).
    Fake,
    /// api.weixin.qq.com with the configured app id and secret.
    Live,
}

/// Every default is written once, in the `Default` impls below; `#[serde(default)]` fills
/// whatever the file and the environment leave unset.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    pub env: Environment,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub database: DatabaseConfig,
    pub kv: KvConfig,
    pub auth: AuthConfig,
    pub pii: PiiConfig,
    pub media: MediaConfig,
    pub wechat: WeChatConfig,
    pub http: HttpConfig,
    pub graphql: GraphqlConfig,
    pub jobs: JobsConfig,
    pub scan: ScanConfig,
    /// Booking defaults (a store's own policy overrides slot grid and cut-off).
    pub booking: BookingConfig,
    /// Flash-sale tuning; unset keys keep the built-in defaults.
    pub flash_sales: FlashSalesConfig,
    /// The privacy policy and sensitive-data consent texts members agree to.
    pub privacy: PrivacyConfig,
    /// Distributed tracing: W3C trace context and OTLP export.
    pub telemetry: TelemetryConfig,
}

/// Tracing. A `traceparent` header is always honoured and answered; spans leave the process
/// only when `otlp_endpoint` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// An OTLP/HTTP collector's base URL (e.g. `http://otel-collector:4318`); spans are posted
    /// as protobuf to `<base>/v1/traces`. Unset (the default): no export.
    pub otlp_endpoint: Option<url::Url>,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of new traces (those without a sampled parent) that are recorded, 0.0 to 1.0; a
    /// caller's sampling decision in `traceparent` is followed.
    pub sampling_ratio: f64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "rouge".to_owned(),
            sampling_ratio: 1.0,
        }
    }
}

/// Flash-sale settings; unset keys keep the built-in defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FlashSalesConfig {
    /// Grabs one member may make for one sale per second (default 10).
    pub grabs_per_second: Option<i64>,
    /// Orders of winning grabs written at once by one replica (default 2; keep it below
    /// `database.max_connections`).
    pub order_writers: Option<usize>,
}

/// The texts members agree to (PIPL); unset keys keep the built-in defaults. Changing a
/// version makes every member accept (or consent) again.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PrivacyConfig {
    pub policy_version: Option<String>,
    pub policy_url: Option<String>,
    pub sensitive_version: Option<String>,
    pub sensitive_url: Option<String>,
    /// Why skin concerns and allergies are asked for, shown beside the consent.
    pub sensitive_purpose: Option<String>,
    /// `exportMyData` calls per member per day (default 3).
    pub exports_per_day: Option<i64>,
}

/// Booking settings; unset keys keep the built-in defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BookingConfig {
    pub reminder_template_id: Option<String>,
    pub reminder_lead_hours: Option<i64>,
    pub slot_minutes: Option<i32>,
    pub cancel_cutoff_minutes: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://…` (embedded default) or `postgres://…`. Unset: SQLite under `data_dir`.
    #[serde(default, deserialize_with = "secret")]
    pub url: Option<SecretString>,
    /// The pool's size; unset: 16 on PostgreSQL, 4 on SQLite (see `Config::database_pool_size`).
    pub max_connections: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KvConfig {
    /// `memory` (in-process, embedded default) or `redis://…`.
    pub url: SecretString,
    /// Prefix of every key, so deployments can share a Redis.
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// HS256 key for access tokens, at least 32 bytes. Required in production.
    #[serde(default, deserialize_with = "secret")]
    pub jwt_secret: Option<SecretString>,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub login_failures_per_account: u32,
    /// Failed logins per client address across accounts (see `http.trust_forwarded_for`).
    pub login_failures_per_address: u32,
    pub login_failure_window_secs: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PiiConfig {
    /// base64 of 32 bytes: encrypts phone numbers. Required in production.
    #[serde(default, deserialize_with = "secret")]
    pub data_key: Option<SecretString>,
    /// base64 of 32 bytes: keys the phone blind index. Required in production.
    #[serde(default, deserialize_with = "secret")]
    pub index_key: Option<SecretString>,
}

/// Stored images (see docs/media.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MediaConfig {
    /// Where objects are kept; unset means `<data_dir>/media`.
    pub dir: Option<PathBuf>,
    /// Signs the links to PRIVATE and SENSITIVE objects (at least 32 bytes). Required in production.
    #[serde(default, deserialize_with = "secret")]
    pub signing_key: Option<SecretString>,
    /// base64 of 32 bytes: wraps each skin photo's data key. Required in production.
    #[serde(default, deserialize_with = "secret")]
    pub master_key: Option<SecretString>,
    /// An S3-compatible bucket instead of the local folder (`[media.s3]`,
    /// `ROUGE_MEDIA__S3__ENDPOINT` ...): set the endpoint to use it.
    pub s3: S3Config,
}

/// An S3-compatible store (Tencent COS, Aliyun OSS, AWS S3): objects there, direct uploads
/// to presigned PUT URLs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct S3Config {
    /// e.g. `https://cos.ap-shanghai.myqcloud.com`; unset keeps the local folder
    #[serde(default, deserialize_with = "text")]
    pub endpoint: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub bucket: Option<String>,
    pub region: String,
    #[serde(default, deserialize_with = "secret")]
    pub access_key_id: Option<SecretString>,
    #[serde(default, deserialize_with = "secret")]
    pub secret_access_key: Option<SecretString>,
    /// `endpoint/bucket/key` URLs rather than `bucket.endpoint/key`
    pub path_style: bool,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: None,
            bucket: None,
            region: "us-east-1".to_owned(),
            access_key_id: None,
            secret_access_key: None,
            path_style: false,
        }
    }
}

impl S3Config {
    /// The store's options when an endpoint is set; an endpoint without its bucket or keys is
    /// a configuration error.
    pub fn options(&self) -> Result<Option<media::S3Options>, ConfigError> {
        let Some(endpoint) = &self.endpoint else {
            return Ok(None);
        };
        let missing = |what: &str| {
            ConfigError::Unsafe(format!("media.s3.endpoint is set: set media.s3.{what} too"))
        };
        Ok(Some(media::S3Options {
            endpoint: endpoint.clone(),
            bucket: self.bucket.clone().ok_or_else(|| missing("bucket"))?,
            region: self.region.clone(),
            access_key_id: self
                .access_key_id
                .as_ref()
                .ok_or_else(|| missing("access_key_id"))?
                .expose_secret()
                .to_owned(),
            secret_access_key: self
                .secret_access_key
                .as_ref()
                .ok_or_else(|| missing("secret_access_key"))?
                .expose_secret()
                .to_owned(),
            path_style: self.path_style,
        }))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct WeChatConfig {
    pub mode: WeChatMode,
    #[serde(default, deserialize_with = "text")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "secret")]
    pub app_secret: Option<SecretString>,
    pub api_base: url::Url,
    pub pay: PayConfig,
}

/// WeChat Pay v3 merchant settings (live mode).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PayConfig {
    #[serde(default, deserialize_with = "text")]
    pub mch_id: Option<String>,
    /// Serial number of the merchant API certificate.
    #[serde(default, deserialize_with = "text")]
    pub merchant_serial_no: Option<String>,
    /// The merchant API private key, PEM (PKCS#8 or PKCS#1).
    #[serde(default, deserialize_with = "secret")]
    pub merchant_private_key: Option<SecretString>,
    /// The 32-character APIv3 key that encrypts notifications.
    #[serde(default, deserialize_with = "secret")]
    pub api_v3_key: Option<SecretString>,
    /// WeChat Pay platform public keys, as `serial-or-PUB_KEY_ID=PEM` entries separated by `;;`
    /// (several during a key switch).
    #[serde(default, deserialize_with = "text")]
    pub platform_keys: Option<String>,
    /// Public https URL of /wechat/pay/notify.
    #[serde(default, deserialize_with = "text")]
    pub notify_url: Option<String>,
    pub api_base: url::Url,
}

/// Scan-for-gift (扫码有礼): the pack-code key and abuse limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ScanConfig {
    /// Keys the MAC in every printed pack code, at least 32 bytes. Required in production;
    /// changing it invalidates every code already printed.
    #[serde(default, deserialize_with = "secret")]
    pub pack_code_key: Option<SecretString>,
    pub scans_per_minute: i64,
    pub daily_gift_cap: i64,
}

/// Background jobs (closing unpaid orders, refunds, point expiry, reminders, campaigns).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct JobsConfig {
    /// Run the scheduler inside `serve` too (the embedded default); production runs `rouge worker`.
    pub in_serve: bool,
    pub payment_timeout_secs: u64,
    pub points_validity_days: i64,
    /// Campaign messages per second per worker (0 = no limit).
    pub campaign_rate_per_second: u32,
    /// Where `rouge worker` serves /healthz, /readyz and /metrics (port 0 picks a free one).
    pub worker_listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    pub max_body_bytes: usize,
    /// Take the client address from X-Forwarded-For (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// How long SIGTERM waits for in-flight requests.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GraphqlConfig {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Operations allowed in one batched request.
    pub max_batch: usize,
    pub timeout_ms: u64,
    /// Introspection and GraphiQL; unset means on in development and off in production.
    pub introspection: Option<bool>,
}

/// A URL written in this file; a typo is a start-up failure.
fn fixed_url(url: &str) -> url::Url {
    url::Url::parse(url).expect("built-in URL")
}

impl Default for Config {
    fn default() -> Self {
        Self {
            env: Environment::Development,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            log_format: LogFormat::Text,
            database: DatabaseConfig::default(),
            kv: KvConfig::default(),
            auth: AuthConfig::default(),
            pii: PiiConfig::default(),
            media: MediaConfig::default(),
            wechat: WeChatConfig::default(),
            http: HttpConfig::default(),
            graphql: GraphqlConfig::default(),
            jobs: JobsConfig::default(),
            scan: ScanConfig::default(),
            booking: BookingConfig::default(),
            flash_sales: FlashSalesConfig::default(),
            privacy: PrivacyConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("memory"),
            prefix: "rouge:".to_owned(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_ttl_secs: 900,
            refresh_ttl_secs: 30 * 24 * 3600,
            login_failures_per_account: 5,
            login_failures_per_address: 50,
            login_failure_window_secs: 900,
        }
    }
}

impl Default for WeChatConfig {
    fn default() -> Self {
        Self {
            mode: WeChatMode::Fake,
            app_id: None,
            app_secret: None,
            api_base: fixed_url("https://api.weixin.qq.com/"),
            pay: PayConfig::default(),
        }
    }
}

impl Default for PayConfig {
    fn default() -> Self {
        Self {
            mch_id: None,
            merchant_serial_no: None,
            merchant_private_key: None,
            api_v3_key: None,
            platform_keys: None,
            notify_url: None,
            api_base: fixed_url("https://api.mch.weixin.qq.com/"),
        }
    }
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            pack_code_key: None,
            scans_per_minute: 30,
            daily_gift_cap: 20,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            in_serve: true,
            payment_timeout_secs: 900,
            points_validity_days: 365,
            campaign_rate_per_second: 200,
            worker_listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            trust_forwarded_for: false,
            shutdown_grace_secs: 20,
        }
    }
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        Self {
            max_depth: 10,
            max_complexity: 500,
            max_batch: 10,
            timeout_ms: 10_000,
            introspection: None,
        }
    }
}

/// Whether this build carries the fake WeChat (the api crate's `demo` feature).
pub const FAKE_WECHAT_BUILT_IN: bool = cfg!(feature = "demo");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("refusing to start in production: {0}")]
    Unsafe(String),
    #[error("refusing to start: {0}")]
    NotBuiltIn(String),
}

impl ConfigError {
    pub fn fake_wechat_not_built() -> Self {
        Self::NotBuiltIn(
            "wechat.mode is \"fake\" (the default), but this build has no fake WeChat (it was \
             built without the `demo` feature): set ROUGE_WECHAT__MODE=live and the WeChat \
             settings (ROUGE_WECHAT__APP_ID, ROUGE_WECHAT__APP_SECRET, ROUGE_WECHAT__PAY__*)"
                .to_owned(),
        )
    }
}

impl WeChatMode {
    /// Refuses the fake WeChat in a build that leaves it out (`fake_built_in` is
    /// [`FAKE_WECHAT_BUILT_IN`]; a parameter so both answers are tested in every build).
    pub fn check_built_in(self, fake_built_in: bool) -> Result<(), ConfigError> {
        match self {
            Self::Fake if !fake_built_in => Err(ConfigError::fake_wechat_not_built()),
            Self::Fake | Self::Live => Ok(()),
        }
    }
}

impl Config {
    /// Loads defaults, the file (if any) and the environment, in that order.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("ROUGE_CONFIG").map(PathBuf::from));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Env::prefixed("ROUGE_").ignore(&["CONFIG"]).split("__"))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
            .merge(Env::raw().only(&["REDIS_URL"]).map(|_| "kv.url".into()));
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    pub fn introspection(&self) -> bool {
        self.graphql.introspection.unwrap_or(!self.is_production())
    }

    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose_secret().to_owned(),
            None => format!("sqlite://{}/rouge.db?mode=rwc", self.data_dir.display()),
        }
    }

    /// SQLite writes one transaction at a time, and every connection of its pool keeps a thread,
    /// a page cache and a copy of the schema (about 0.45 MiB idle): 4 serve two cores' readers.
    pub fn database_pool_size(&self) -> u32 {
        match self.database.max_connections {
            Some(size) => size,
            None if self.database_url().starts_with("sqlite") => 4,
            None => 16,
        }
    }

    pub fn jwt_secret(&self) -> Vec<u8> {
        self.auth
            .jwt_secret
            .as_ref()
            .map_or(demo::JWT_SECRET, |s| s.expose_secret())
            .as_bytes()
            .to_vec()
    }

    pub fn pii_keys(&self) -> Result<(Vec<u8>, Vec<u8>), ConfigError> {
        let decode = |key: &Option<SecretString>, demo: &str, name: &str| {
            let b64 = key.as_ref().map_or(demo, |k| k.expose_secret());
            STANDARD
                .decode(b64.trim())
                .ok()
                .filter(|k| k.len() == 32)
                .ok_or_else(|| {
                    ConfigError::Unsafe(format!("pii.{name} must be base64 of 32 bytes"))
                })
        };
        Ok((
            decode(&self.pii.data_key, demo::PII_DATA_KEY, "data_key")?,
            decode(&self.pii.index_key, demo::PII_INDEX_KEY, "index_key")?,
        ))
    }

    /// The media folder, signing key and master key (demo keys outside production).
    pub fn media_keys(&self) -> Result<(PathBuf, Vec<u8>, Vec<u8>), ConfigError> {
        let dir = self
            .media
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("media"));
        let signing = self
            .media
            .signing_key
            .as_ref()
            .map_or(demo::MEDIA_SIGNING_KEY, |s| s.expose_secret())
            .as_bytes()
            .to_vec();
        if signing.len() < 32 {
            return Err(ConfigError::Unsafe(
                "media.signing_key must be at least 32 bytes".into(),
            ));
        }
        let b64 = self
            .media
            .master_key
            .as_ref()
            .map_or(demo::MEDIA_MASTER_KEY, |k| k.expose_secret());
        let master = STANDARD
            .decode(b64.trim())
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| {
                ConfigError::Unsafe("media.master_key must be base64 of 32 bytes".into())
            })?;
        Ok((dir, signing, master))
    }

    pub fn pack_code_key(&self) -> Vec<u8> {
        self.scan
            .pack_code_key
            .as_ref()
            .map_or(demo::PACK_CODE_KEY, |s| s.expose_secret())
            .as_bytes()
            .to_vec()
    }

    /// Production runs only on real parts and real secrets.
    fn validate(&self) -> Result<(), ConfigError> {
        let unsafe_ = |msg: &str| Err(ConfigError::Unsafe(msg.to_owned()));
        self.wechat.mode.check_built_in(FAKE_WECHAT_BUILT_IN)?;
        self.pii_keys()?;
        self.media_keys()?;
        self.media.s3.options()?;
        if self.jwt_secret().len() < 32 {
            return unsafe_("auth.jwt_secret must be at least 32 bytes");
        }
        if self.pack_code_key().len() < 32 {
            return unsafe_("scan.pack_code_key must be at least 32 bytes");
        }
        if !(0.0..=1.0).contains(&self.telemetry.sampling_ratio) {
            return Err(ConfigError::Load(Box::new(figment::Error::from(
                "telemetry.sampling_ratio must be between 0.0 and 1.0".to_owned(),
            ))));
        }
        if self
            .telemetry
            .otlp_endpoint
            .as_ref()
            .is_some_and(|u| !matches!(u.scheme(), "http" | "https"))
        {
            return Err(ConfigError::Load(Box::new(figment::Error::from(
                "telemetry.otlp_endpoint must be an http(s) URL".to_owned(),
            ))));
        }
        if !self.is_production() {
            return Ok(());
        }
        match &self.auth.jwt_secret {
            None => return unsafe_("no JWT key: set ROUGE_AUTH__JWT_SECRET"),
            Some(s) if s.expose_secret() == demo::JWT_SECRET => {
                return unsafe_("the demo JWT key is configured");
            }
            Some(_) => {}
        }
        for (key, demo, name) in [
            (
                &self.pii.data_key,
                demo::PII_DATA_KEY,
                "ROUGE_PII__DATA_KEY",
            ),
            (
                &self.pii.index_key,
                demo::PII_INDEX_KEY,
                "ROUGE_PII__INDEX_KEY",
            ),
        ] {
            match key {
                None => return unsafe_(&format!("no personal-data key: set {name}")),
                Some(k) if k.expose_secret().trim() == demo => {
                    return unsafe_(&format!(
                        "the demo personal-data key is configured in {name}"
                    ));
                }
                Some(_) => {}
            }
        }
        match (&self.media.signing_key, &self.media.master_key) {
            (Some(s), Some(m))
                if s.expose_secret() != demo::MEDIA_SIGNING_KEY
                    && m.expose_secret().trim() != demo::MEDIA_MASTER_KEY => {}
            _ => {
                return unsafe_(
                    "set ROUGE_MEDIA__SIGNING_KEY and ROUGE_MEDIA__MASTER_KEY (not the demo keys)",
                );
            }
        }
        match &self.scan.pack_code_key {
            None => return unsafe_("no pack-code key: set ROUGE_SCAN__PACK_CODE_KEY"),
            Some(k) if k.expose_secret() == demo::PACK_CODE_KEY => {
                return unsafe_(
                    "the demo pack-code key is configured in ROUGE_SCAN__PACK_CODE_KEY",
                );
            }
            Some(_) => {}
        }
        if !self.database_url().starts_with("postgres") {
            return unsafe_("production runs on PostgreSQL: set DATABASE_URL=postgres://…");
        }
        if !self.kv.url.expose_secret().starts_with("redis") {
            return unsafe_("production runs on Redis: set REDIS_URL=redis://…");
        }
        if self.wechat.mode != WeChatMode::Live {
            return unsafe_(
                "the fake WeChat is for the demo and tests: set ROUGE_WECHAT__MODE=live",
            );
        }
        if self.wechat.app_id.is_none() || self.wechat.app_secret.is_none() {
            return unsafe_("set ROUGE_WECHAT__APP_ID and ROUGE_WECHAT__APP_SECRET");
        }
        let pay = &self.wechat.pay;
        if pay.mch_id.is_none()
            || pay.merchant_serial_no.is_none()
            || pay.merchant_private_key.is_none()
            || pay.api_v3_key.is_none()
            || pay.platform_keys.is_none()
        {
            return unsafe_("set the WeChat Pay merchant settings (ROUGE_WECHAT__PAY__*)");
        }
        if !pay
            .notify_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
        {
            return unsafe_("ROUGE_WECHAT__PAY__NOTIFY_URL must be an https URL");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A section given in part keeps the defaults of the rest (the README's table).
    #[test]
    fn config_defaults_fill_what_is_unset() {
        let config: Config = Figment::new()
            .merge(Toml::string(
                "[auth]\naccess_ttl_secs = 60\n[wechat.pay]\nmch_id = \"1\"",
            ))
            .extract()
            .unwrap();
        assert_eq!(config.auth.access_ttl_secs, 60);
        assert_eq!(config.auth.refresh_ttl_secs, 30 * 24 * 3600);
        assert_eq!(config.auth.login_failures_per_address, 50);
        assert_eq!(
            config.wechat.pay.api_base.as_str(),
            "https://api.mch.weixin.qq.com/"
        );
        assert_eq!(config.wechat.mode, WeChatMode::Fake);
        assert_eq!(config.env, Environment::Development);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.kv.url.expose_secret(), "memory");
        assert_eq!(config.kv.prefix, "rouge:");
        assert_eq!(config.database_pool_size(), 4, "SQLite's pool by default");
        assert_eq!(config.jobs.campaign_rate_per_second, 200);
        assert_eq!(config.http.max_body_bytes, 256 * 1024);
        assert_eq!(config.graphql.timeout_ms, 10_000);
        assert_eq!(config.scan.daily_gift_cap, 20);
        assert_eq!(config.jwt_secret(), demo::JWT_SECRET.as_bytes());
        assert_eq!(
            config.telemetry.otlp_endpoint, None,
            "no span export by default"
        );
        assert_eq!(config.telemetry.service_name, "rouge");
        assert_eq!(config.telemetry.sampling_ratio, 1.0);
    }

    #[test]
    fn the_pool_size_follows_the_database_unless_set() {
        let pool = |toml: &str| {
            Figment::new()
                .merge(Toml::string(toml))
                .extract::<Config>()
                .unwrap()
                .database_pool_size()
        };
        assert_eq!(pool("[database]\nurl = \"postgres://db/rouge\""), 16);
        assert_eq!(pool("[database]\nurl = \"sqlite://x.db\""), 4);
        assert_eq!(
            pool("[database]\nurl = \"postgres://db/rouge\"\nmax_connections = 7"),
            7
        );
        assert_eq!(pool("[database]\nmax_connections = 2"), 2);
    }

    #[test]
    fn telemetry_settings_are_checked() {
        let bad_ratio = Config {
            telemetry: TelemetryConfig {
                sampling_ratio: 1.5,
                ..TelemetryConfig::default()
            },
            ..Config::default()
        };
        assert!(bad_ratio.validate().is_err());
        let config: Config = Figment::new()
            .merge(Toml::string(
                "[telemetry]\notlp_endpoint = \"http://collector:4318\"\nsampling_ratio = 0.25",
            ))
            .extract()
            .unwrap();
        assert_eq!(
            config
                .telemetry
                .otlp_endpoint
                .as_ref()
                .map(url::Url::as_str),
            Some("http://collector:4318/")
        );
        assert_eq!(config.telemetry.sampling_ratio, 0.25);
    }

    /// A build without the `demo` feature refuses, at start-up, a configuration that asks for
    /// the fake WeChat (the default), with a message that says what to set instead.
    #[test]
    fn the_fake_wechat_is_refused_where_it_is_not_built_in() {
        let refused = WeChatMode::Fake.check_built_in(false).unwrap_err();
        assert!(matches!(refused, ConfigError::NotBuiltIn(_)));
        let message = refused.to_string();
        assert!(message.contains("`demo` feature"), "{message}");
        assert!(message.contains("ROUGE_WECHAT__MODE=live"), "{message}");
        assert!(WeChatMode::Fake.check_built_in(true).is_ok());
        assert!(WeChatMode::Live.check_built_in(false).is_ok());

        // This build: the default configuration (fake WeChat) starts only with the fake in it.
        let default = Config::default();
        assert_eq!(default.wechat.mode, WeChatMode::Fake);
        let validated = default.validate();
        assert_eq!(validated.is_ok(), FAKE_WECHAT_BUILT_IN, "{validated:?}");
        if let Err(err) = validated {
            assert!(matches!(err, ConfigError::NotBuiltIn(_)), "{err}");
        }
        let live = Config {
            wechat: WeChatConfig {
                mode: WeChatMode::Live,
                ..WeChatConfig::default()
            },
            ..Config::default()
        };
        assert!(live.validate().is_ok());
    }
}
