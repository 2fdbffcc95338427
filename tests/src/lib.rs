//! Test harness: fresh databases from a migrated template, isolated key-value namespaces, the
//! fake WeChat, and the real server on port 0. PostgreSQL and Redis come from `scripts/test`
//! (ROUGE_TEST_DATABASE_URL, ROUGE_TEST_REDIS_URL); a test that needs one and does not find it
//! fails with a message saying so, it never skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fixtures;
pub mod graphql;
pub mod services;

use std::sync::Arc;
use std::time::Duration;

use domain::AppState;
use domain::platform::clock::{Clock, SystemClock};
use domain::platform::kv::{KeyValueStore, MemoryStore, RedisStore, RedisStoreOptions};
use sea_orm::DatabaseConnection;
use tokio::sync::oneshot;
use wechat_integration::MiniProgramClient;
use wechat_integration::fake::{FakeConfig, FakeWeChat};

pub use graphql::Gql;
pub use services::{PrivatePostgres, PrivateRedis, TestDb, migrated_postgres, test_db};

/// Which real parts a test runs on: the embedded default or the production pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file and the in-process key-value store.
    Embedded,
    /// PostgreSQL and Redis.
    Production,
}

/// Runs an async test body once per backend, as two test functions.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn embedded() {
                super::$name($crate::Backend::Embedded).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn production() {
                super::$name($crate::Backend::Production).await
            }
        }
    )+};
}

pub fn redis_url() -> String {
    std::env::var("ROUGE_TEST_REDIS_URL")
        .expect("this test needs Redis: set ROUGE_TEST_REDIS_URL (scripts/test starts one)")
}

/// Stored media in a bucket of its own on the S3-protocol test server that `scripts/test`
/// starts (`ROUGE_TEST_S3_ENDPOINT`, `_ACCESS_KEY`, `_SECRET_KEY`, `_ROOT`: the server's folder,
/// where a bucket is a sub-folder). A missing server is a failure, never a skip.
pub fn s3_media() -> domain::media::MediaPort {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("this test needs the S3 test server: set {name} (scripts/test starts one)")
        })
    };
    let bucket = format!("t{}", uuid::Uuid::new_v4().simple());
    std::fs::create_dir_all(std::path::Path::new(&var("ROUGE_TEST_S3_ROOT")).join(&bucket))
        .expect("bucket folder");
    let options = media::S3Options {
        endpoint: var("ROUGE_TEST_S3_ENDPOINT"),
        bucket,
        region: "us-east-1".to_owned(),
        access_key_id: var("ROUGE_TEST_S3_ACCESS_KEY"),
        secret_access_key: var("ROUGE_TEST_S3_SECRET_KEY"),
        path_style: true,
    };
    domain::media::MediaPort::s3(
        &options,
        b"rouge-test-media-signing-key-32-bytes!",
        &[9u8; 32],
        media::IntakeLimits::default(),
    )
    .expect("S3 media port")
}

/// A key-value store of its own for one test: the in-process store, or a fresh key prefix on Redis.
pub fn test_kv(backend: Backend) -> Arc<dyn KeyValueStore> {
    match backend {
        Backend::Embedded => Arc::new(MemoryStore::new()),
        Backend::Production => {
            let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
            Arc::new(
                RedisStore::connect(&RedisStoreOptions::new(redis_url(), prefix))
                    .expect("redis url"),
            )
        }
    }
}

pub const JWT_SECRET: &[u8] = b"test-jwt-secret-test-jwt-secret-0123456789";

/// One set of fake WeChat key pairs for every test of a run: generating three RSA-2048 pairs
/// per test cost about a second of CPU each (the keys are test keys; nothing else is shared).
fn fake_wechat_keys_dir() -> std::path::PathBuf {
    std::env::var_os("ROUGE_TEST_TMP")
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from)
        .join("fake-wechat-keys")
}

/// A running server with its own database, key-value namespace and fake WeChat.
pub struct TestApp {
    pub backend: Backend,
    pub state: Arc<AppState>,
    pub base_url: String,
    pub wechat: FakeWeChat,
    pub http: reqwest::Client,
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub struct TestAppBuilder {
    backend: Backend,
    clock: Arc<dyn Clock>,
    options: api::HttpOptions,
    kv: Option<Arc<dyn KeyValueStore>>,
    seed_demo: bool,
    query_counter: Option<Arc<std::sync::atomic::AtomicUsize>>,
    db: Option<TestDb>,
    auth: domain::login::AuthSettings,
    config: api::config::Config,
    demo_consents: bool,
    full_demo: bool,
    media: Option<domain::media::MediaPort>,
}

impl TestAppBuilder {
    /// The server configuration that decides what is mounted (the development payment routes
    /// exist only with the fake WeChat outside production); the default configuration otherwise.
    pub fn config(mut self, config: api::config::Config) -> Self {
        self.config = config;
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn http_options(mut self, options: api::HttpOptions) -> Self {
        self.options = options;
        self
    }

    pub fn kv(mut self, kv: Arc<dyn KeyValueStore>) -> Self {
        self.kv = Some(kv);
        self
    }

    pub fn auth_settings(mut self, auth: domain::login::AuthSettings) -> Self {
        self.auth = auth;
        self
    }

    /// Counts every database statement the app runs.
    pub fn count_queries(mut self, counter: Arc<std::sync::atomic::AtomicUsize>) -> Self {
        self.query_counter = Some(counter);
        self
    }

    /// Runs on this database instead of a fresh one from the template (a private server).
    pub fn database(mut self, db: TestDb) -> Self {
        self.db = Some(db);
        self
    }

    /// As `serve` on the demo: the fake WeChat learns the consents members record through
    /// `recordSubscriptions` (otherwise a test gives the fake its consents itself).
    pub fn demo_consents(mut self) -> Self {
        self.demo_consents = true;
        self
    }

    /// The whole demo as `serve` seeds it: the base every test starts from (stores with
    /// booking set-up, staff, catalog, three members) plus the showcase (members across regions
    /// with scans, flash sales, an in-store coupon, low stock, a lot near expiry).
    pub fn full_demo(mut self) -> Self {
        self.full_demo = true;
        self
    }

    /// Leave out the demo stores, staff and members.
    /// Stored media somewhere else than in memory (the S3 test server: [`s3_media`]).
    pub fn media(mut self, media: domain::media::MediaPort) -> Self {
        self.media = Some(media);
        self
    }

    pub fn empty(mut self) -> Self {
        self.seed_demo = false;
        self
    }

    pub async fn start(self) -> TestApp {
        install_crypto();
        let db = match self.db {
            Some(db) => db,
            None => test_db(self.backend).await,
        };
        let kv = self.kv.unwrap_or_else(|| test_kv(self.backend));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = api::local_url(&listener).expect("addr");
        let notify_url = format!("{base_url}{}", api::http::PAY_NOTIFY_PATH);
        let wechat = FakeWeChat::start(FakeConfig {
            keys_dir: Some(fake_wechat_keys_dir()),
            ..FakeConfig::default()
        })
        .await
        .expect("fake wechat");
        let pay = wechat_integration::WeChatPayClient::new(wechat.pay_config(&notify_url))
            .expect("pay client");
        let client = MiniProgramClient::new(
            wechat.mini_program_config(),
            Arc::new(domain::platform::kv::KvAccessTokenCache::new(kv.clone())),
        )
        .expect("wechat client");
        let mut conn = db.connection();
        if let Some(counter) = self.query_counter {
            conn.set_metric_callback(move |_| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let state = api::build_state(api::Parts {
            db: conn,
            kv,
            wechat: Arc::new(client),
            pay: Arc::new(pay),
            clock: self.clock,
            settings: domain::Settings {
                payments: domain::payments::PaymentSettings { notify_url },
                auth: self.auth,
                ..Default::default()
            },
            jwt_secret: JWT_SECRET.to_vec(),
            pii_keys: (vec![1; 32], vec![2; 32]),
            media: self
                .media
                .unwrap_or_else(domain::media::MediaPort::in_memory),
            consent_sink: self.demo_consents.then(|| api::demo::consent_sink(&wechat)),
        })
        .expect("state");
        if self.full_demo {
            domain::seed::demo(&state, FakeWeChat::openid_for)
                .await
                .expect("seed");
        } else if self.seed_demo {
            domain::seed::demo_base(&state, FakeWeChat::openid_for)
                .await
                .expect("seed");
        }
        let mut options = self.options;
        options.dev_wechat_pay =
            api::dev_pay::DevWeChatPay::for_config(&self.config, Some(&wechat));
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(api::serve(
            state.clone(),
            options,
            listener,
            async move {
                let _ = rx.await;
            },
            Duration::from_secs(5),
        ));
        TestApp {
            backend: self.backend,
            state,
            base_url,
            wechat,
            http: english_client(),
            db,
            shutdown: Some(tx),
            server: Some(server),
        }
    }
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            clock: Arc::new(SystemClock),
            options: api::HttpOptions::default(),
            kv: None,
            seed_demo: true,
            query_counter: None,
            db: None,
            auth: domain::login::AuthSettings::default(),
            config: api::config::Config::default(),
            demo_consents: false,
            full_demo: false,
            media: None,
        }
    }

    pub async fn start(backend: Backend) -> TestApp {
        Self::builder(backend).start().await
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub fn consumer(&self) -> Gql {
        Gql::new(
            self.http.clone(),
            format!("{}/graphql/consumer", self.base_url),
        )
    }

    pub fn staff(&self) -> Gql {
        Gql::new(
            self.http.clone(),
            format!("{}/graphql/staff", self.base_url),
        )
    }

    pub fn distributor(&self) -> Gql {
        Gql::new(
            self.http.clone(),
            format!("{}/graphql/distributor", self.base_url),
        )
    }

    /// Logs a WeChat user into the mini-program with a fresh fake login code, and gives the
    /// consents a member gives in the mini-program before using it: the current privacy policy
    /// (without it every other operation is refused) and the sensitive-data consent (without it
    /// skin concerns and allergies cannot be recorded). Tests of the consents themselves use
    /// [`Self::login_member_without_consent`].
    pub async fn login_member(&self, wechat_user: &str) -> (Gql, String) {
        let (gql, id) = self.login_member_without_consent(wechat_user).await;
        gql.ok(
            "mutation($v: String!) { acceptPrivacyPolicy(version: $v) { privacyPolicyCurrent } }",
            serde_json::json!({ "v": domain::privacy::DEFAULT_POLICY_VERSION }),
        )
        .await;
        gql.ok(
            "mutation($v: String!) { grantSensitiveDataConsent(version: $v) { sensitiveDataConsent } }",
            serde_json::json!({ "v": domain::privacy::DEFAULT_SENSITIVE_VERSION }),
        )
        .await;
        (gql, id)
    }

    /// Logs a WeChat user in without giving any consent (a first login in the mini-program).
    pub async fn login_member_without_consent(&self, wechat_user: &str) -> (Gql, String) {
        let code = format!("test:{wechat_user}:{}", uuid::Uuid::new_v4().simple());
        let data = self
            .consumer()
            .ok(
                "mutation($code: String!) { login(code: $code) { accessToken member { id } } }",
                serde_json::json!({ "code": code }),
            )
            .await;
        let token = data["login"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        let id = data["login"]["member"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        (self.consumer().with_token(&token), id)
    }

    /// Logs a demo staff account in (hq-demo, manager-demo, ba-demo).
    pub async fn login_staff(&self, username: &str) -> Gql {
        let data = self
            .staff()
            .ok(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
                serde_json::json!({ "u": username, "p": domain::seed::DEMO_PASSWORD }),
            )
            .await;
        self.staff()
            .with_token(data["login"]["accessToken"].as_str().expect("token"))
    }

    pub async fn login_distributor(&self, username: &str) -> Gql {
        let data = self
            .distributor()
            .ok(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
                serde_json::json!({ "u": username, "p": domain::seed::DEMO_PASSWORD }),
            )
            .await;
        self.distributor()
            .with_token(data["login"]["accessToken"].as_str().expect("token"))
    }

    /// Stops the server, waiting for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server");
        }
        self.wechat.shutdown().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The tests' HTTP client asks for English (`Accept-Language: en`): most tests assert English
/// messages, and the consumer endpoint answers in Chinese by default. The tests of the
/// language rule (`error_messages`) build their own client.
fn english_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("en"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

/// reqwest is built without a default TLS provider: pick ring once per process.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Waits for something another task makes true (a notification delivered, a job done),
/// checking often and failing after `seconds`. For effects that arrive asynchronously only.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Rolls the schema back to just before `migration` (every later migration goes down too), so a
/// backfill test keeps testing its own migration when newer ones are added.
pub async fn migrate_down_to_before(db: &DatabaseConnection, migration: &str) {
    use sea_orm_migration::MigratorTrait;
    let steps = entities::Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == migration)
        .unwrap_or_else(|| panic!("no migration named {migration}"))
        + 1;
    entities::Migrator::down(db, Some(steps as u32))
        .await
        .unwrap_or_else(|e| panic!("roll back to before {migration}: {e}"));
}
