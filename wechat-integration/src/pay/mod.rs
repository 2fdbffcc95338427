//! WeChat Pay v3 (WECHAT.md §7): every request signed with the merchant key, every response
//! and notification verified against a platform key (certificate serial or PUB_KEY_ID_…, several
//! at once during a switch), resources decrypted with AES-256-GCM under the APIv3 key.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::Sha256;
use rsa::{RsaPrivateKey, RsaPublicKey};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WeChatError;
use crate::trace::Traced as _;

mod crypto;
pub use crypto::*;

/// A notification or response older (or newer) than this is refused.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// WeChat sends these on purpose to check that we verify signatures; they must fail.
pub const PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";

#[derive(Clone)]
pub struct PlatformKey {
    /// Platform certificate serial, or PUB_KEY_ID_… in public-key mode.
    pub serial: String,
    pub public_key: RsaPublicKey,
}

impl PlatformKey {
    /// A platform key from its serial (or PUB_KEY_ID_…) and its PEM public key.
    pub fn from_pem(serial: &str, pem: &str) -> Result<Self, WeChatError> {
        Ok(Self {
            serial: serial.trim().to_owned(),
            public_key: public_key_from_pem(pem)?,
        })
    }
}

/// Merchant settings. Production keys come from PEM ([`private_key_from_pem`],
/// [`PlatformKey::from_pem`], [`api_v3_key_from_str`]); never from files in the repository.
#[derive(Clone)]
pub struct PayConfig {
    pub mch_id: String,
    pub app_id: String,
    pub merchant_serial_no: String,
    pub merchant_private_key: RsaPrivateKey,
    /// The 32-byte APIv3 key.
    pub api_v3_key: SecretSlice<u8>,
    pub platform_keys: Vec<PlatformKey>,
    /// https, no query.
    pub notify_url: String,
    /// `https://api.mch.weixin.qq.com/` in production.
    pub api_base: url::Url,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct JsapiOrder {
    pub description: String,
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub payer_openid: String,
    pub time_expire: Option<DateTime<Utc>>,
    pub attach: Option<String>,
}

/// What the mini-program passes to wx.requestPayment (§7.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPaymentParams {
    pub time_stamp: String,
    pub nonce_str: String,
    pub package: String,
    pub sign_type: String,
    pub pay_sign: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeState {
    Success,
    Refund,
    NotPay,
    Closed,
    Revoked,
    UserPaying,
    PayError,
    Unknown(String),
}

impl TradeState {
    fn parse(s: &str) -> Self {
        match s {
            "SUCCESS" => Self::Success,
            "REFUND" => Self::Refund,
            "NOTPAY" => Self::NotPay,
            "CLOSED" => Self::Closed,
            "REVOKED" => Self::Revoked,
            "USERPAYING" => Self::UserPaying,
            "PAYERROR" => Self::PayError,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Transaction {
    pub out_trade_no: String,
    pub transaction_id: Option<String>,
    pub trade_state: TradeState,
    pub success_time: Option<String>,
    pub payer_openid: Option<String>,
    pub amount_total: i64,
    pub payer_total: Option<i64>,
    pub currency: String,
    pub attach: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Success,
    Closed,
    Processing,
    Abnormal,
}

impl RefundStatus {
    fn parse(s: &str) -> Self {
        match s {
            "SUCCESS" => Self::Success,
            // WeChat documents CLOSED; some notifications say CLOSE.
            "CLOSED" | "CLOSE" => Self::Closed,
            "ABNORMAL" => Self::Abnormal,
            _ => Self::Processing,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub reason: Option<String>,
    pub refund_fen: i64,
    pub total_fen: i64,
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub refund_id: String,
    pub out_refund_no: String,
    pub out_trade_no: String,
    pub status: RefundStatus,
    pub refund_fen: i64,
}

/// What a refund notification says: the same fields as a [`Refund`].
pub type RefundNotice = Refund;

#[derive(Debug, Clone, Default)]
pub struct NotificationHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    pub serial: String,
}

#[derive(Debug, Clone)]
pub enum Notification {
    Transaction {
        id: String,
        event_type: String,
        transaction: Transaction,
    },
    Refund {
        id: String,
        event_type: String,
        refund: RefundNotice,
    },
}

#[async_trait]
pub trait WeChatPay: Send + Sync + 'static {
    /// §7.3: returns the prepay_id.
    async fn jsapi_prepay(&self, order: &JsapiOrder) -> Result<String, WeChatError>;
    /// §7.4.
    fn client_payment_params(&self, prepay_id: &str) -> Result<ClientPaymentParams, WeChatError>;
    /// §7.6.
    async fn query_order(&self, out_trade_no: &str) -> Result<Transaction, WeChatError>;
    async fn close_order(&self, out_trade_no: &str) -> Result<(), WeChatError>;
    /// §7.7.
    async fn refund(&self, req: &RefundRequest) -> Result<Refund, WeChatError>;
    async fn query_refund(&self, out_refund_no: &str) -> Result<Refund, WeChatError>;
    /// §7.2 and §7.5: verified, fresh, not a probe, then decrypted.
    fn verify_notification(
        &self,
        headers: &NotificationHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Notification, WeChatError>;
}

/// A field WeChat always sends; its absence means the body is not what we think it is.
fn required<'a>(v: &'a Value, field: &str) -> Result<&'a str, WeChatError> {
    v[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| WeChatError::Decode(format!("no {field}")))
}

fn optional(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

pub(crate) fn parse_transaction(v: &Value) -> Result<Transaction, WeChatError> {
    Ok(Transaction {
        out_trade_no: required(v, "out_trade_no")?.to_owned(),
        transaction_id: optional(&v["transaction_id"]),
        trade_state: TradeState::parse(required(v, "trade_state")?),
        success_time: optional(&v["success_time"]),
        payer_openid: optional(&v["payer"]["openid"]),
        amount_total: v["amount"]["total"]
            .as_i64()
            .ok_or_else(|| WeChatError::Decode("no amount.total".into()))?,
        payer_total: v["amount"]["payer_total"].as_i64(),
        currency: v["amount"]["currency"].as_str().unwrap_or("CNY").to_owned(),
        attach: optional(&v["attach"]),
    })
}

/// A refund answer (`status`) or refund notification (`refund_status`).
pub(crate) fn parse_refund(v: &Value) -> Result<Refund, WeChatError> {
    let status = v["status"]
        .as_str()
        .or(v["refund_status"].as_str())
        .ok_or_else(|| WeChatError::Decode("no refund status".into()))?;
    Ok(Refund {
        refund_id: required(v, "refund_id")?.to_owned(),
        out_refund_no: required(v, "out_refund_no")?.to_owned(),
        out_trade_no: v["out_trade_no"].as_str().unwrap_or_default().to_owned(),
        status: RefundStatus::parse(status),
        refund_fen: v["amount"]["refund"]
            .as_i64()
            .ok_or_else(|| WeChatError::Decode("no amount.refund".into()))?,
    })
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    event_type: String,
    resource: Resource,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    original_type: String,
    algorithm: String,
    ciphertext: String,
    #[serde(default)]
    associated_data: String,
    nonce: String,
}

/// Verifies a signed message from WeChat Pay against the platform key its serial names.
fn verify_signed(
    platform_keys: &[PlatformKey],
    headers: &NotificationHeaders,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), WeChatError> {
    if headers.signature.starts_with(PROBE_PREFIX) {
        return Err(WeChatError::Signature("signature probe".into()));
    }
    let timestamp: i64 = headers
        .timestamp
        .parse()
        .map_err(|_| WeChatError::Signature("no timestamp".into()))?;
    if (now.timestamp() - timestamp).abs() >= MAX_CLOCK_SKEW_SECS {
        return Err(WeChatError::Signature(
            "timestamp too far from now (replay?)".into(),
        ));
    }
    let key = platform_keys
        .iter()
        .find(|k| k.serial == headers.serial)
        .ok_or_else(|| {
            WeChatError::Signature(format!("unknown platform key {}", headers.serial))
        })?;
    if verify(
        &key.public_key,
        &response_message(&headers.timestamp, &headers.nonce, body),
        &headers.signature,
    ) {
        Ok(())
    } else {
        Err(WeChatError::Signature("bad signature".into()))
    }
}

/// Waits before the second and third attempt of a call WeChat Pay answered with 5xx.
const RETRY_BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

pub struct WeChatPayClient {
    http: reqwest::Client,
    config: PayConfig,
    signer: SigningKey<Sha256>,
}

impl WeChatPayClient {
    pub fn new(config: PayConfig) -> Result<Self, WeChatError> {
        crate::install_crypto_provider();
        if config.api_v3_key.expose_secret().len() != 32 {
            return Err(WeChatError::Config("the APIv3 key must be 32 bytes".into()));
        }
        if config.platform_keys.is_empty() {
            return Err(WeChatError::Config(
                "no platform key: responses and notifications could not be verified".into(),
            ));
        }
        if config.mch_id.is_empty() || config.app_id.is_empty() {
            return Err(WeChatError::Config("mch_id and app_id are required".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            // WeChat Pay refuses requests without a User-Agent.
            .user_agent(concat!(
                "rouge-wechat-integration/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(WeChatError::transport)?;
        let signer = SigningKey::<Sha256>::new(config.merchant_private_key.clone());
        Ok(Self {
            http,
            config,
            signer,
        })
    }

    fn authorization(&self, method: &str, path_and_query: &str, body: &str) -> String {
        let timestamp = Utc::now().timestamp().to_string();
        let nonce = nonce();
        let message = request_message(method, path_and_query, &timestamp, &nonce, body);
        let signature = sign_with(&self.signer, message.as_bytes());
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"{}\",signature=\"{signature}\"",
            self.config.mch_id, self.config.merchant_serial_no
        )
    }

    /// One signed call, its response verified. 5xx and transport failures are tried twice
    /// more with the same body (so the same out_trade_no / out_refund_no: WeChat deduplicates).
    async fn call(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Vec<u8>), WeChatError> {
        let body_text = body.map(Value::to_string).unwrap_or_default();
        let url = self
            .config
            .api_base
            .join(path_and_query.trim_start_matches('/'))
            .map_err(|e| WeChatError::Config(e.to_string()))?;
        let canonical = format!(
            "{}{}",
            url.path(),
            url.query().map(|q| format!("?{q}")).unwrap_or_default()
        );
        let mut last_error = None;
        for attempt in 0..=RETRY_BACKOFF.len() {
            if attempt > 0 {
                tokio::time::sleep(RETRY_BACKOFF[attempt - 1]).await;
            }
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .header(
                    "Authorization",
                    self.authorization(method.as_str(), &canonical, &body_text),
                )
                .header("Accept", "application/json");
            if body.is_some() {
                req = req
                    .header("Content-Type", "application/json")
                    .body(body_text.clone());
            }
            let resp = match req.traced().send().await {
                Ok(resp) => resp,
                Err(e) => {
                    last_error = Some(WeChatError::transport(e));
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let headers = NotificationHeaders {
                timestamp: header("Wechatpay-Timestamp"),
                nonce: header("Wechatpay-Nonce"),
                signature: header("Wechatpay-Signature"),
                serial: header("Wechatpay-Serial"),
            };
            let bytes = match resp.bytes().await {
                Ok(bytes) => bytes.to_vec(),
                Err(e) => {
                    last_error = Some(WeChatError::transport(e));
                    continue;
                }
            };
            if status >= 500 {
                last_error = Some(pay_error(status, &bytes));
                continue;
            }
            // Business answers (2xx and 4xx) are signed: an unverified one is not WeChat's.
            verify_signed(&self.config.platform_keys, &headers, &bytes, Utc::now())?;
            if status >= 400 {
                return Err(pay_error(status, &bytes));
            }
            return Ok((status, bytes));
        }
        Err(last_error.unwrap_or_else(|| WeChatError::Decode("no answer".into())))
    }

    async fn call_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, WeChatError> {
        let (_, bytes) = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| WeChatError::Decode(e.to_string()))
    }
}

fn pay_error(status: u16, body: &[u8]) -> WeChatError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    WeChatError::Pay {
        status,
        code: v["code"].as_str().unwrap_or("UNKNOWN").to_owned(),
        message: v["message"].as_str().unwrap_or_default().to_owned(),
    }
}

/// Percent-encodes a path segment (not form encoding: a space must not become '+').
fn encode_path(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Cuts at a character boundary so the UTF-8 text is at most `max` bytes (WeChat counts bytes).
fn truncate_bytes(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// RFC 3339 in China time, the form WeChat documents (2026-11-22T10:00:00+08:00).
fn china_time(t: DateTime<Utc>) -> String {
    match chrono::FixedOffset::east_opt(8 * 3600) {
        Some(cst) => t
            .with_timezone(&cst)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

#[async_trait]
impl WeChatPay for WeChatPayClient {
    async fn jsapi_prepay(&self, order: &JsapiOrder) -> Result<String, WeChatError> {
        let mut body = json!({
            "appid": self.config.app_id,
            "mchid": self.config.mch_id,
            "description": truncate_bytes(&order.description, 127),
            "out_trade_no": order.out_trade_no,
            "notify_url": self.config.notify_url,
            "amount": { "total": order.amount_fen, "currency": "CNY" },
            "payer": { "openid": order.payer_openid },
        });
        if let Some(expire) = order.time_expire {
            body["time_expire"] = json!(china_time(expire));
        }
        if let Some(attach) = &order.attach {
            body["attach"] = json!(truncate_bytes(attach, 128));
        }
        let v = self
            .call_json(
                reqwest::Method::POST,
                "v3/pay/transactions/jsapi",
                Some(&body),
            )
            .await?;
        v["prepay_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| WeChatError::Decode("no prepay_id".into()))
    }

    fn client_payment_params(&self, prepay_id: &str) -> Result<ClientPaymentParams, WeChatError> {
        let time_stamp = Utc::now().timestamp().to_string();
        let nonce_str = nonce();
        let package = format!("prepay_id={prepay_id}");
        let message = format!(
            "{}\n{time_stamp}\n{nonce_str}\n{package}\n",
            self.config.app_id
        );
        Ok(ClientPaymentParams {
            pay_sign: sign_with(&self.signer, message.as_bytes()),
            time_stamp,
            nonce_str,
            package,
            sign_type: "RSA".into(),
        })
    }

    async fn query_order(&self, out_trade_no: &str) -> Result<Transaction, WeChatError> {
        let path = format!(
            "v3/pay/transactions/out-trade-no/{}?mchid={}",
            encode_path(out_trade_no),
            encode_path(&self.config.mch_id)
        );
        parse_transaction(&self.call_json(reqwest::Method::GET, &path, None).await?)
    }

    async fn close_order(&self, out_trade_no: &str) -> Result<(), WeChatError> {
        let path = format!(
            "v3/pay/transactions/out-trade-no/{}/close",
            encode_path(out_trade_no)
        );
        self.call(
            reqwest::Method::POST,
            &path,
            Some(&json!({ "mchid": self.config.mch_id })),
        )
        .await?;
        Ok(())
    }

    async fn refund(&self, req: &RefundRequest) -> Result<Refund, WeChatError> {
        let mut body = json!({
            "out_trade_no": req.out_trade_no,
            "out_refund_no": req.out_refund_no,
            "notify_url": self.config.notify_url,
            "amount": { "refund": req.refund_fen, "total": req.total_fen, "currency": "CNY" },
        });
        if let Some(reason) = &req.reason {
            body["reason"] = json!(reason);
        }
        parse_refund(
            &self
                .call_json(
                    reqwest::Method::POST,
                    "v3/refund/domestic/refunds",
                    Some(&body),
                )
                .await?,
        )
    }

    async fn query_refund(&self, out_refund_no: &str) -> Result<Refund, WeChatError> {
        let path = format!("v3/refund/domestic/refunds/{}", encode_path(out_refund_no));
        parse_refund(&self.call_json(reqwest::Method::GET, &path, None).await?)
    }

    fn verify_notification(
        &self,
        headers: &NotificationHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Notification, WeChatError> {
        verify_signed(&self.config.platform_keys, headers, body, now)?;
        let envelope: Envelope =
            serde_json::from_slice(body).map_err(|e| WeChatError::Decode(e.to_string()))?;
        if envelope.resource.algorithm != "AEAD_AES_256_GCM" {
            return Err(WeChatError::Crypto(format!(
                "unknown algorithm {}",
                envelope.resource.algorithm
            )));
        }
        let plaintext = decrypt_resource(
            self.config.api_v3_key.expose_secret(),
            &envelope.resource.nonce,
            &envelope.resource.associated_data,
            &envelope.resource.ciphertext,
        )?;
        let resource: Value =
            serde_json::from_slice(&plaintext).map_err(|e| WeChatError::Decode(e.to_string()))?;
        let is_refund = envelope.event_type.starts_with("REFUND.")
            || envelope.resource.original_type == "refund";
        Ok(if is_refund {
            Notification::Refund {
                id: envelope.id,
                event_type: envelope.event_type,
                refund: parse_refund(&resource)?,
            }
        } else {
            Notification::Transaction {
                id: envelope.id,
                event_type: envelope.event_type,
                transaction: parse_transaction(&resource)?,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reproducer from rouge-fuzz (pay_decrypt): a nonce that is not 12 bytes panicked.
    #[test]
    fn sealing_with_a_bad_nonce_is_an_error_not_a_panic() {
        let key = b"0123456789abcdef0123456789abcdef";
        for nonce in ["", "short", "0123456789abc", "0123456789a\u{e9}"] {
            assert!(
                encrypt_resource(key, nonce, "transaction", b"{}").is_err(),
                "{nonce:?}"
            );
        }
    }

    #[test]
    fn resources_round_trip_and_tampering_fails() {
        let key = b"0123456789abcdef0123456789abcdef";
        let sealed = encrypt_resource(key, "abcdefghijkl", "transaction", b"{\"a\":1}").unwrap();
        assert_eq!(
            decrypt_resource(key, "abcdefghijkl", "transaction", &sealed).unwrap(),
            b"{\"a\":1}"
        );
        assert!(decrypt_resource(key, "abcdefghijkl", "other-aad", &sealed).is_err());
        assert!(
            decrypt_resource(
                b"0123456789abcdef0123456789abcdeX",
                "abcdefghijkl",
                "transaction",
                &sealed
            )
            .is_err()
        );
    }

    #[test]
    fn signatures_verify_only_with_the_right_key_and_message() {
        let (private, public) = generate_test_keypair();
        let (_, other) = generate_test_keypair();
        let sig = sign(&private, b"message");
        assert!(verify(&public, b"message", &sig));
        assert!(!verify(&public, b"messagf", &sig));
        assert!(!verify(&other, b"message", &sig));
        assert!(!verify(&public, b"message", "WECHATPAY/SIGNTEST/abc"));
    }

    #[test]
    fn keys_load_from_pem() {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let (private, public) = generate_test_keypair();
        let pkcs8 = private.to_pkcs8_pem(LineEnding::LF).unwrap();
        let pkcs1 = private.to_pkcs1_pem(LineEnding::LF).unwrap();
        assert_eq!(private_key_from_pem(&pkcs8).unwrap(), private);
        assert_eq!(private_key_from_pem(&pkcs1).unwrap(), private);
        let spki = public.to_public_key_pem(LineEnding::LF).unwrap();
        let key = PlatformKey::from_pem(" PUB_KEY_ID_0114 ", &spki).unwrap();
        assert_eq!(key.serial, "PUB_KEY_ID_0114");
        assert_eq!(key.public_key, public);
        let pkcs1_public = public.to_pkcs1_pem(LineEnding::LF).unwrap();
        assert_eq!(public_key_from_pem(&pkcs1_public).unwrap(), public);
        assert!(matches!(
            private_key_from_pem("not a key"),
            Err(WeChatError::Config(_))
        ));
        assert!(api_v3_key_from_str("0123456789abcdef0123456789abcdef").is_ok());
        assert!(api_v3_key_from_str("short").is_err());
    }

    #[test]
    fn text_limits_and_formats() {
        assert_eq!(truncate_bytes("玫瑰", 4), "玫");
        assert_eq!(truncate_bytes("abc", 127), "abc");
        assert_eq!(encode_path("R-1_2|3*"), "R-1_2%7C3%2A");
        let t = DateTime::parse_from_rfc3339("2026-11-22T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(china_time(t), "2026-11-22T10:00:00+08:00");
        assert_eq!(RefundStatus::parse("CLOSE"), RefundStatus::Closed);
        assert_eq!(RefundStatus::parse("CLOSED"), RefundStatus::Closed);
        assert_eq!(
            TradeState::parse("NEWSTATE"),
            TradeState::Unknown("NEWSTATE".into())
        );
    }
}
