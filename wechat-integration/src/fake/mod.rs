//! A WeChat of our own for the demo and the tests (WECHAT.md §9): one poem server on a loopback
//! port serving the mini-program API and WeChat Pay v3 with real cryptography. It checks what a
//! real WeChat checks (single-use codes, access tokens, consents, value rules, request
//! signatures), signs what WeChat signs, and sends encrypted notifications with retries, plus
//! switches for faults, duplicate deliveries and signature probes.

mod keys;
mod server;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use rand::Rng;
use rsa::{RsaPrivateKey, RsaPublicKey};
use secrecy::{SecretSlice, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, watch};

use crate::pay::{self, PROBE_PREFIX, PayConfig, PlatformKey};
use crate::{MiniProgramConfig, NotificationHeaders};

/// A mini-JPEG served as every mini-program code.
const WXACODE_JPEG: &[u8] = include_bytes!("wxacode.jpg");

pub const PLATFORM_CERT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
pub const PLATFORM_PUB_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
pub const MERCHANT_SERIAL: &str = "FAKE0000MERCHANT0000SERIAL0000";

#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub app_id: String,
    pub app_secret: String,
    pub mch_id: String,
    /// Waits between notification attempts until one is answered 200/204. WeChat's own
    /// schedule is 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h;
    /// tests use a fast one.
    pub notify_retry_delays: Vec<Duration>,
    /// How long a login or phone code stays valid after the fake first sees it (WeChat: 5
    /// minutes). A test sets zero to see an expired code answered 40029.
    pub code_lifetime: Duration,
    /// Where the fake keeps its key pairs between starts (generated and written when missing);
    /// None generates them in memory on every start.
    pub keys_dir: Option<std::path::PathBuf>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            app_id: "wxf00dfacefeedbeef".into(),
            app_secret: "fake-app-secret".into(),
            mch_id: "1900000109".into(),
            notify_retry_delays: [20, 50, 100, 200, 500, 1000, 2000]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            code_lifetime: Duration::from_secs(300),
            keys_dir: None,
        }
    }
}

/// Which calls a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultScope {
    /// Every call, the access-token endpoints included.
    All,
    Login,
    /// /cgi-bin/stable_token and /cgi-bin/token.
    Token,
    Phone,
    SubscribeSend,
    WxaCode,
    Pay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// errcode -1 (Pay: HTTP 500 SYSTEM_ERROR).
    Busy,
    /// errcode 45011 (Pay: 429 FREQUENCY_LIMITED).
    RateLimited,
    /// errcode 45009.
    DailyQuota,
    /// HTTP 502 with no body.
    ServerError,
    /// Answer normally, after this long.
    Latency(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub touser: String,
    pub template_id: String,
    pub page: Option<String>,
    pub data: BTreeMap<String, String>,
    pub msgid: u64,
}

/// One attempt to deliver a notification, and what we answered.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub notification_id: String,
    pub event_type: String,
    pub url: String,
    pub status: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("no such order {0}")]
    NoOrder(String),
    #[error("order {0} is not awaiting payment")]
    NotPayable(String),
}

struct ActiveFault {
    fault: Fault,
    remaining: Option<u32>,
}

struct CodeState {
    first_seen: std::time::Instant,
    used: bool,
}

#[derive(Clone)]
struct FakeOrder {
    request: Value,
    prepay_id: String,
    amount: i64,
    openid: String,
    notify_url: String,
    state: String,
    transaction_id: Option<String>,
    success_time: Option<String>,
    refunded: i64,
}

#[derive(Clone)]
struct FakeRefund {
    refund_id: String,
    out_trade_no: String,
    amount: i64,
    total: i64,
    status: String,
}

#[derive(Default)]
struct State {
    login_codes: HashMap<String, CodeState>,
    phone_codes: HashMap<String, CodeState>,
    /// Valid tokens and when they stop being valid.
    tokens: HashMap<String, DateTime<Utc>>,
    current_token: Option<String>,
    token_fetches: u32,
    /// Calls to /wxa/getwxacodeunlimit, answered or failed.
    wxacode_calls: u64,
    consents: HashMap<(String, String), u32>,
    sent: Vec<SentMessage>,
    /// Messages accepted per openid (kept even when bodies are not).
    sent_per_user: HashMap<String, u32>,
    sent_total: u64,
    /// Count sends without keeping their bodies (large benchmarks).
    count_only: bool,
    /// Every (openid, template) has consents without end (large benchmarks).
    unlimited_consents: bool,
    next_msgid: u64,
    faults: HashMap<FaultScope, ActiveFault>,
    orders: HashMap<String, FakeOrder>,
    refunds: HashMap<String, FakeRefund>,
    deliveries: Vec<Delivery>,
    duplicates: u32,
    sign_with_pub_key_id: bool,
    corrupt_response_signatures: bool,
    /// (path, `traceparent`) of the latest calls that carried one.
    traceparents: std::collections::VecDeque<(String, String)>,
}

struct Keys {
    merchant_private: RsaPrivateKey,
    merchant_public: RsaPublicKey,
    platform_cert: RsaPrivateKey,
    platform_pub_key: RsaPrivateKey,
    api_v3_key: String,
}

pub(crate) struct Inner {
    config: FakeConfig,
    base_url: url::Url,
    state: Mutex<State>,
    keys: Keys,
    http: reqwest::Client,
    /// Counts delivery attempts, so a test can await the n-th without sleeping.
    delivered: watch::Sender<usize>,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Handle to a running fake WeChat (cheap to clone).
#[derive(Clone)]
pub struct FakeWeChat {
    inner: Arc<Inner>,
}

fn random_string(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl FakeWeChat {
    /// Binds 127.0.0.1:0 and serves until [`FakeWeChat::shutdown`].
    /// The merchant, platform-certificate and platform public-key key pairs are read from
    /// `config.keys_dir`, or generated (and kept there when it is set).
    pub async fn start(config: FakeConfig) -> Result<FakeWeChat, std::io::Error> {
        crate::install_crypto_provider();
        let [merchant_private, platform_cert, platform_pub_key] =
            keys::load_or_generate(config.keys_dir.as_deref()).await?;
        let merchant_public = RsaPublicKey::from(&merchant_private);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let base_url =
            url::Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(std::io::Error::other)?;
        let (tx, rx) = oneshot::channel();
        let inner = Arc::new(Inner {
            config,
            base_url,
            state: Mutex::new(State {
                next_msgid: 1_000_000_000,
                duplicates: 1,
                ..Default::default()
            }),
            keys: Keys {
                merchant_private,
                merchant_public,
                platform_cert,
                platform_pub_key,
                api_v3_key: random_string(32),
            },
            http,
            delivered: watch::Sender::new(0),
            shutdown: Mutex::new(Some(tx)),
            server: Mutex::new(None),
        });
        let handle = server::spawn(inner.clone(), listener, rx)?;
        if let Ok(mut server) = inner.server.lock() {
            *server = Some(handle);
        }
        Ok(FakeWeChat { inner })
    }

    pub fn base_url(&self) -> url::Url {
        self.inner.base_url.clone()
    }

    pub fn mini_program_config(&self) -> MiniProgramConfig {
        MiniProgramConfig {
            app_id: self.inner.config.app_id.clone(),
            app_secret: SecretString::from(self.inner.config.app_secret.clone()),
            api_base: self.inner.base_url.clone(),
            timeout: Duration::from_secs(5),
        }
    }

    /// Merchant settings that match this fake: our merchant key (whose public half the fake
    /// verifies with), the APIv3 key, and both platform keys (certificate serial and PUB_KEY_ID).
    pub fn pay_config(&self, notify_url: &str) -> PayConfig {
        PayConfig {
            mch_id: self.inner.config.mch_id.clone(),
            app_id: self.inner.config.app_id.clone(),
            merchant_serial_no: MERCHANT_SERIAL.into(),
            merchant_private_key: self.inner.keys.merchant_private.clone(),
            api_v3_key: SecretSlice::from(self.inner.keys.api_v3_key.as_bytes().to_vec()),
            platform_keys: vec![
                PlatformKey {
                    serial: PLATFORM_CERT_SERIAL.into(),
                    public_key: RsaPublicKey::from(&self.inner.keys.platform_cert),
                },
                PlatformKey {
                    serial: PLATFORM_PUB_KEY_ID.into(),
                    public_key: RsaPublicKey::from(&self.inner.keys.platform_pub_key),
                },
            ],
            notify_url: notify_url.to_owned(),
            api_base: self.inner.base_url.clone(),
            timeout: Duration::from_secs(5),
        }
    }

    /// The merchant public key the fake verifies our signatures (and paySign) with.
    pub fn merchant_public_key(&self) -> RsaPublicKey {
        self.inner.keys.merchant_public.clone()
    }

    /// Stops the server and waits until it has (in-flight requests get up to a second).
    pub async fn shutdown(&self) {
        let tx = self.inner.shutdown.lock().ok().and_then(|mut s| s.take());
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
        let server = self.inner.server.lock().ok().and_then(|mut s| s.take());
        if let Some(server) = server {
            let _ = server.await;
        }
    }

    /// The stable openid a `test:<user>:<nonce>` login code maps to.
    pub fn openid_for(user: &str) -> String {
        let digest = Sha256::digest(format!("rouge-fake-openid:{user}").as_bytes());
        let mut id = format!("o{}", URL_SAFE_NO_PAD.encode(digest));
        id.truncate(28);
        id
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// Sets (or with `None` clears) a fault; `times` limits it to the next N calls.
    pub fn set_fault(&self, scope: FaultScope, fault: Option<Fault>) {
        self.set_fault_times(scope, fault, None);
    }

    pub fn set_fault_times(&self, scope: FaultScope, fault: Option<Fault>, times: Option<u32>) {
        self.with_state(|s| match fault {
            Some(fault) => {
                s.faults.insert(
                    scope,
                    ActiveFault {
                        fault,
                        remaining: times,
                    },
                );
            }
            None => {
                s.faults.remove(&scope);
            }
        });
    }

    pub fn add_consents(&self, openid: &str, template_id: &str, n: u32) {
        self.with_state(|s| {
            *s.consents
                .entry((openid.to_owned(), template_id.to_owned()))
                .or_default() += n
        });
    }

    /// The member switched the template off (a "ban" answer): no consents left.
    pub fn clear_consents(&self, openid: &str, template_id: &str) {
        self.with_state(|s| {
            s.consents
                .remove(&(openid.to_owned(), template_id.to_owned()))
        });
    }

    pub fn consents(&self, openid: &str, template_id: &str) -> u32 {
        self.with_state(|s| {
            s.consents
                .get(&(openid.to_owned(), template_id.to_owned()))
                .copied()
                .unwrap_or(0)
        })
    }

    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.with_state(|s| s.sent.clone())
    }

    /// How many subscription messages were accepted in all.
    /// The path and `traceparent` header of the latest calls (up to 1,000) that carried one.
    pub fn received_traceparents(&self) -> Vec<(String, String)> {
        self.with_state(|s| s.traceparents.iter().cloned().collect())
    }

    pub fn sent_count(&self) -> u64 {
        self.with_state(|s| s.sent_total)
    }

    /// How many messages each openid received.
    pub fn sent_per_user(&self) -> HashMap<String, u32> {
        self.with_state(|s| s.sent_per_user.clone())
    }

    /// How many openids received more than one message, and how many extra messages in all.
    pub fn duplicate_recipients(&self) -> (u64, u64) {
        self.with_state(|s| {
            s.sent_per_user
                .values()
                .filter(|n| **n > 1)
                .fold((0, 0), |(users, extra), n| {
                    (users + 1, extra + u64::from(n - 1))
                })
        })
    }

    /// Calls to /wxa/getwxacodeunlimit so far (faulted ones included).
    pub fn wxacode_calls(&self) -> u64 {
        self.with_state(|s| s.wxacode_calls)
    }

    /// Keep only counts of sent messages, not their bodies (for large runs).
    pub fn count_sends_only(&self, on: bool) {
        self.with_state(|s| s.count_only = on);
    }

    /// Treat every (openid, template) as holding consents (for large runs; 43101 never comes).
    pub fn unlimited_consents(&self, on: bool) {
        self.with_state(|s| s.unlimited_consents = on);
    }

    /// How many times an access token was fetched.
    pub fn access_token_fetches(&self) -> u32 {
        self.with_state(|s| s.token_fetches)
    }

    /// Makes every issued access token unknown at once (40001 on next use), as when another
    /// party fetched a token with the app secret.
    pub fn invalidate_access_tokens(&self) {
        self.with_state(|s| {
            s.tokens.clear();
            s.current_token = None;
        });
    }

    /// Makes every issued access token expired at once (42001 on next use).
    pub fn expire_access_tokens(&self) {
        let past = Utc::now() - chrono::Duration::seconds(1);
        self.with_state(|s| s.tokens.values_mut().for_each(|exp| *exp = past));
    }

    /// Each notification is delivered `n` times, concurrently.
    pub fn set_duplicate_notifications(&self, n: u32) {
        self.with_state(|s| s.duplicates = n.max(1));
    }

    /// Sign notifications and responses with the PUB_KEY_ID key instead of the certificate key.
    pub fn sign_with_public_key_id(&self, on: bool) {
        self.with_state(|s| s.sign_with_pub_key_id = on);
    }

    /// Break the signature of every Pay response (to see the client refuse them).
    pub fn corrupt_response_signatures(&self, on: bool) {
        self.with_state(|s| s.corrupt_response_signatures = on);
    }

    pub fn notification_deliveries(&self) -> Vec<Delivery> {
        self.with_state(|s| s.deliveries.clone())
    }

    /// Waits until at least `n` delivery attempts (of any notification) have been answered
    /// or have failed, counting since start. For tests that must not sleep.
    pub async fn wait_for_deliveries(&self, n: usize) {
        let mut rx = self.inner.delivered.subscribe();
        // Err only if the sender is gone, and it lives as long as `self`.
        let _ = rx.wait_for(|count| *count >= n).await;
    }

    /// Waits for the next delivery attempt after this call.
    pub async fn wait_for_delivery(&self) {
        let now = *self.inner.delivered.borrow();
        self.wait_for_deliveries(now + 1).await;
    }

    /// The payer pays: the order succeeds and its TRANSACTION.SUCCESS notification is sent
    /// (retried until answered 200/204, duplicated when switched on).
    pub async fn pay(&self, out_trade_no: &str) -> Result<(), FakeError> {
        let (notify_url, plaintext) = self.with_state(|s| {
            let order = s
                .orders
                .get_mut(out_trade_no)
                .ok_or_else(|| FakeError::NoOrder(out_trade_no.to_owned()))?;
            if order.state != "NOTPAY" {
                return Err(FakeError::NotPayable(out_trade_no.to_owned()));
            }
            order.state = "SUCCESS".into();
            order.transaction_id = Some(format!(
                "4200{}",
                rand::thread_rng().gen_range(100_000_000_000_000u64..999_999_999_999_999)
            ));
            order.success_time =
                Some(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            Ok((
                order.notify_url.clone(),
                transaction_json(&self.inner, out_trade_no, order),
            ))
        })?;
        self.deliver(&notify_url, "TRANSACTION.SUCCESS", "transaction", plaintext);
        Ok(())
    }

    /// The payment fails (the payer's bank refuses, say): the order's trade state becomes
    /// PAYERROR, which a query reports. As with WeChat Pay v3, which notifies successful
    /// payments only, no notification is sent; the trade cannot be paid any more (it is closed
    /// when the merchant closes it).
    pub fn fail_payment(&self, out_trade_no: &str) -> Result<(), FakeError> {
        self.with_state(|s| {
            let order = s
                .orders
                .get_mut(out_trade_no)
                .ok_or_else(|| FakeError::NoOrder(out_trade_no.to_owned()))?;
            if order.state != "NOTPAY" {
                return Err(FakeError::NotPayable(out_trade_no.to_owned()));
            }
            order.state = "PAYERROR".into();
            Ok(())
        })
    }

    /// The trade state WeChat Pay reports for an order (`NOTPAY`, `SUCCESS`, `PAYERROR`,
    /// `CLOSED`, `REFUND`), or `None` when the fake has no such order.
    pub fn trade_state(&self, out_trade_no: &str) -> Option<String> {
        self.with_state(|s| s.orders.get(out_trade_no).map(|o| o.state.clone()))
    }

    /// A signed, encrypted TRANSACTION.SUCCESS notification for any order number and amount,
    /// signed at `timestamp` (to craft tampered or replayed deliveries).
    pub fn signed_payment_notification(
        &self,
        out_trade_no: &str,
        amount_fen: i64,
        timestamp: DateTime<Utc>,
    ) -> (NotificationHeaders, Vec<u8>) {
        let plaintext = json!({
            "appid": self.inner.config.app_id,
            "mchid": self.inner.config.mch_id,
            "out_trade_no": out_trade_no,
            "transaction_id": format!("4200{}", random_string(12)),
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "success_time": timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "payer": { "openid": "ofake" },
            "amount": { "total": amount_fen, "payer_total": amount_fen, "currency": "CNY" },
        });
        self.signed_notification("TRANSACTION.SUCCESS", "transaction", &plaintext, timestamp)
    }

    /// Any notification, encrypted with the APIv3 key and signed at `timestamp`.
    pub fn signed_notification(
        &self,
        event_type: &str,
        original_type: &str,
        plaintext: &Value,
        timestamp: DateTime<Utc>,
    ) -> (NotificationHeaders, Vec<u8>) {
        let body = envelope(&self.inner, event_type, original_type, plaintext);
        let headers = server::sign_message(&self.inner, &body, timestamp.timestamp());
        (headers, body)
    }

    /// Sends one WECHATPAY/SIGNTEST/ probe and returns our HTTP status (it must be refused).
    pub async fn send_probe_notification(&self, notify_url: &str) -> u16 {
        let plaintext =
            json!({ "out_trade_no": "PROBE", "trade_state": "SUCCESS", "amount": { "total": 1 } });
        let body = envelope(
            &self.inner,
            "TRANSACTION.SUCCESS",
            "transaction",
            &plaintext,
        );
        let mut headers = server::sign_message(&self.inner, &body, Utc::now().timestamp());
        headers.signature = format!("{PROBE_PREFIX}{}", STANDARD.encode(random_string(64)));
        post_notification(&self.inner, notify_url, &headers, body).await
    }

    fn deliver(&self, url: &str, event_type: &str, original_type: &str, plaintext: Value) {
        let copies = self.with_state(|s| s.duplicates);
        let body = envelope(&self.inner, event_type, original_type, &plaintext);
        let id = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        for _ in 0..copies {
            let inner = self.inner.clone();
            let (url, body, id, event_type) = (
                url.to_owned(),
                body.clone(),
                id.clone(),
                event_type.to_owned(),
            );
            tokio::spawn(async move {
                let mut delays = inner.config.notify_retry_delays.clone().into_iter();
                loop {
                    let headers = server::sign_message(&inner, &body, Utc::now().timestamp());
                    let status = post_notification(&inner, &url, &headers, body.clone()).await;
                    if let Ok(mut s) = inner.state.lock() {
                        s.deliveries.push(Delivery {
                            notification_id: id.clone(),
                            event_type: event_type.clone(),
                            url: url.clone(),
                            status,
                        });
                    }
                    inner.delivered.send_modify(|count| *count += 1);
                    if status == 200 || status == 204 {
                        break;
                    }
                    match delays.next() {
                        Some(d) => tokio::time::sleep(d).await,
                        None => break,
                    }
                }
            });
        }
    }
}

async fn post_notification(
    inner: &Inner,
    url: &str,
    headers: &NotificationHeaders,
    body: Vec<u8>,
) -> u16 {
    inner
        .http
        .post(url)
        .header("Content-Type", "application/json")
        .header("Wechatpay-Timestamp", &headers.timestamp)
        .header("Wechatpay-Nonce", &headers.nonce)
        .header("Wechatpay-Signature", &headers.signature)
        .header("Wechatpay-Serial", &headers.serial)
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn envelope(inner: &Inner, event_type: &str, original_type: &str, plaintext: &Value) -> Vec<u8> {
    let nonce = random_string(12);
    let ciphertext = pay::encrypt_resource(
        inner.keys.api_v3_key.as_bytes(),
        &nonce,
        original_type,
        plaintext.to_string().as_bytes(),
    )
    .unwrap_or_default();
    json!({
        "id": uuid_like(),
        "create_time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type,
            "nonce": nonce,
        }
    })
    .to_string()
    .into_bytes()
}

fn uuid_like() -> String {
    let r = random_string(32).to_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &r[..8],
        &r[8..12],
        &r[12..16],
        &r[16..20],
        &r[20..]
    )
}

fn transaction_json(inner: &Inner, out_trade_no: &str, order: &FakeOrder) -> Value {
    let paid = order.state == "SUCCESS" || order.state == "REFUND";
    let mut v = json!({
        "appid": inner.config.app_id,
        "mchid": inner.config.mch_id,
        "out_trade_no": out_trade_no,
        "trade_type": "JSAPI",
        "trade_state": order.state,
        "trade_state_desc": order.state,
        "payer": { "openid": order.openid },
        "amount": { "total": order.amount, "payer_total": if paid { order.amount } else { 0 }, "currency": "CNY" },
    });
    if let Some(id) = &order.transaction_id {
        v["transaction_id"] = json!(id);
    }
    if let Some(t) = &order.success_time {
        v["success_time"] = json!(t);
    }
    v
}
