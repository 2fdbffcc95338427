//! The mini-program server API (WECHAT.md §0–§5).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::token::{AccessTokenCache, CachedToken};
use crate::trace::Traced as _;
use crate::{WeChatError, WeChatErrorKind, check_subscribe_value};

#[derive(Debug, Clone)]
pub struct LoginSession {
    pub openid: String,
    pub unionid: Option<String>,
    /// Never leaves the server.
    pub session_key: SecretString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
}

#[derive(Debug, Clone, Default)]
pub struct SubscribeMessage {
    pub touser: String,
    pub template_id: String,
    pub page: Option<String>,
    pub data: BTreeMap<String, String>,
    pub miniprogram_state: Option<String>,
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct WxaCodeRequest {
    pub scene: String,
    pub page: Option<String>,
    pub check_path: bool,
    pub env_version: Option<String>,
    pub width: Option<u32>,
}

#[async_trait]
pub trait MiniProgram: Send + Sync + 'static {
    /// GET /sns/jscode2session: a wx.login code for the member's openid.
    async fn code_to_session(&self, js_code: &str) -> Result<LoginSession, WeChatError>;
    /// POST /wxa/business/getuserphonenumber: a getPhoneNumber code for the number.
    async fn phone_number(&self, code: &str) -> Result<PhoneNumber, WeChatError>;
    /// POST /cgi-bin/message/subscribe/send; returns the msgid.
    async fn send_subscribe_message(&self, msg: &SubscribeMessage) -> Result<u64, WeChatError>;
    /// POST /wxa/getwxacodeunlimit; returns the JPEG.
    async fn wxacode_unlimited(&self, req: &WxaCodeRequest) -> Result<Vec<u8>, WeChatError>;
}

#[derive(Debug, Clone)]
pub struct MiniProgramConfig {
    pub app_id: String,
    pub app_secret: SecretString,
    /// `https://api.weixin.qq.com/` in production.
    pub api_base: url::Url,
    pub timeout: Duration,
}

pub struct MiniProgramClient {
    http: reqwest::Client,
    config: MiniProgramConfig,
    cache: Arc<dyn AccessTokenCache>,
    /// The last token this process fetched: used when the shared cache (Redis) has nothing to
    /// give, so an unreachable cache does not turn into a refresh per call.
    local: std::sync::Mutex<Option<CachedToken>>,
    /// Held by the one caller refreshing; holds the last refresh failure for those who waited.
    refresh: Mutex<Option<WeChatError>>,
    /// Refresh attempts finished, so a waiter can tell that one ended while it waited.
    refreshes: AtomicU64,
}

/// Refresh this long before WeChat's expiry.
const REFRESH_MARGIN: chrono::Duration = chrono::Duration::seconds(300);

/// §5: ≤ 32 visible characters from WeChat's set, no %.
pub fn validate_scene(scene: &str) -> Result<(), WeChatError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$&'()*+,/:;=?@-._~".contains(c);
    if scene.is_empty() || scene.len() > 32 || !scene.chars().all(allowed) {
        return Err(WeChatError::Api {
            errcode: 40169,
            errmsg: "invalid scene (checked before sending)".into(),
        });
    }
    Ok(())
}

fn check_errcode(body: &Value) -> Result<(), WeChatError> {
    match body.get("errcode").and_then(Value::as_i64) {
        None | Some(0) => Ok(()),
        Some(errcode) => Err(WeChatError::Api {
            errcode,
            errmsg: body["errmsg"].as_str().unwrap_or_default().to_owned(),
        }),
    }
}

/// WeChat documents some fields as strings and sends numbers (or the reverse).
fn lenient_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// msgid is a 64-bit id that may not fit i64: read it as a number or a string.
fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What a protected call answered: JSON (possibly an errcode), or raw bytes (an image).
enum Reply {
    Json(Value),
    Bytes {
        content_type: String,
        bytes: Vec<u8>,
    },
}

impl Reply {
    /// The JSON body of a successful call: errcode checked.
    fn into_json(self) -> Result<Value, WeChatError> {
        match self {
            Reply::Json(v) => {
                check_errcode(&v)?;
                Ok(v)
            }
            Reply::Bytes { content_type, .. } => Err(WeChatError::Decode(format!(
                "expected JSON, got {content_type}"
            ))),
        }
    }
}

/// Reads an answer: 5xx is WeChat being busy (-1); images come back as bytes, the rest as JSON.
async fn read_reply(resp: reqwest::Response) -> Result<Reply, WeChatError> {
    let status = resp.status();
    if status.is_server_error() {
        return Err(WeChatError::Api {
            errcode: -1,
            errmsg: format!("HTTP {status}"),
        });
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = resp.bytes().await.map_err(WeChatError::transport)?;
    if content_type.starts_with("image/") {
        return Ok(Reply::Bytes {
            content_type,
            bytes: bytes.to_vec(),
        });
    }
    // WeChat labels JSON errors as text/plain at times: parse whatever is not an image.
    serde_json::from_slice(&bytes)
        .map(Reply::Json)
        .map_err(|_| WeChatError::Decode(format!("HTTP {status} {content_type}: not JSON")))
}

impl MiniProgramClient {
    pub fn new(
        config: MiniProgramConfig,
        cache: Arc<dyn AccessTokenCache>,
    ) -> Result<Self, WeChatError> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(WeChatError::transport)?;
        Ok(Self {
            http,
            config,
            cache,
            local: std::sync::Mutex::new(None),
            refresh: Mutex::new(None),
            refreshes: AtomicU64::new(0),
        })
    }

    fn url(&self, path: &str) -> Result<url::Url, WeChatError> {
        self.config
            .api_base
            .join(path)
            .map_err(|e| WeChatError::Config(e.to_string()))
    }

    /// A cached token with more than the refresh margin left. The shared cache decides (other
    /// replicas may have refreshed); this process's copy only stands in when it has nothing.
    async fn cached_token(&self) -> Option<String> {
        let fresh = |t: &CachedToken| t.expires_at - REFRESH_MARGIN > Utc::now();
        let cached = match self.cache.get(&self.config.app_id).await {
            Some(shared) => Some(shared),
            None => self.local.lock().ok()?.clone(),
        };
        cached.filter(fresh).map(|t| t.token)
    }

    /// Forgets `token` (and only `token`: another caller may already have replaced it).
    async fn invalidate(&self, token: &str) {
        self.cache.invalidate_if(&self.config.app_id, token).await;
        if let Ok(mut local) = self.local.lock()
            && local.as_ref().is_some_and(|t| t.token == token)
        {
            *local = None;
        }
    }

    /// A valid access token. Single-flight: one refresh at a time in this process; callers
    /// that waited for it take its outcome (token or failure) instead of starting another.
    async fn access_token(&self) -> Result<String, WeChatError> {
        if let Some(token) = self.cached_token().await {
            return Ok(token);
        }
        let seen = self.refreshes.load(Ordering::Acquire);
        let mut last_failure = self.refresh.lock().await;
        if let Some(token) = self.cached_token().await {
            return Ok(token);
        }
        if self.refreshes.load(Ordering::Acquire) != seen
            && let Some(failure) = last_failure.as_ref()
        {
            return Err(failure.echo());
        }
        let fetched = self.fetch_token().await;
        self.refreshes.fetch_add(1, Ordering::Release);
        match fetched {
            Ok(token) => {
                *last_failure = None;
                self.cache.put(&self.config.app_id, &token).await;
                if let Ok(mut local) = self.local.lock() {
                    *local = Some(token.clone());
                }
                Ok(token.token)
            }
            Err(e) => {
                *last_failure = Some(e.echo());
                Err(e)
            }
        }
    }

    /// POST /cgi-bin/stable_token without force_refresh: repeat calls return the same token,
    /// so replicas refreshing at the same moment do not invalidate each other's.
    async fn fetch_token(&self) -> Result<CachedToken, WeChatError> {
        let resp = self
            .http
            .post(self.url("cgi-bin/stable_token")?)
            .json(&json!({
                "grant_type": "client_credential",
                "appid": self.config.app_id,
                "secret": self.config.app_secret.expose_secret(),
                "force_refresh": false,
            }))
            .traced()
            .send()
            .await
            .map_err(WeChatError::transport)?;
        let body = read_reply(resp).await?.into_json()?;
        let token = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| WeChatError::Decode("no access_token".into()))?
            .to_owned();
        let expires_in = body["expires_in"].as_i64().unwrap_or(7200);
        Ok(CachedToken {
            token,
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in),
        })
    }

    /// POSTs JSON to a protected endpoint. A rejected token (40001/40014/42001) is dropped if
    /// it is still the cached one, a token fetched (once, single-flight) and the call retried once.
    async fn post_with_token(&self, path: &str, body: &Value) -> Result<Reply, WeChatError> {
        let mut token = self.access_token().await?;
        let mut retried = false;
        loop {
            let mut url = self.url(path)?;
            url.query_pairs_mut().append_pair("access_token", &token);
            let resp = self
                .http
                .post(url)
                .json(body)
                .traced()
                .send()
                .await
                .map_err(WeChatError::transport)?;
            let reply = read_reply(resp).await?;
            let rejected = matches!(
                &reply,
                Reply::Json(v) if check_errcode(v).is_err_and(|e| e.kind() == WeChatErrorKind::TokenInvalid)
            );
            if !rejected || retried {
                return Ok(reply);
            }
            self.invalidate(&token).await;
            token = self.access_token().await?;
            retried = true;
        }
    }
}

#[derive(Deserialize)]
struct SessionBody {
    openid: Option<String>,
    unionid: Option<String>,
    session_key: Option<String>,
}

#[async_trait]
impl MiniProgram for MiniProgramClient {
    async fn code_to_session(&self, js_code: &str) -> Result<LoginSession, WeChatError> {
        let resp = self
            .http
            .get(self.url("sns/jscode2session")?)
            .query(&[
                ("appid", self.config.app_id.as_str()),
                ("secret", self.config.app_secret.expose_secret()),
                ("js_code", js_code),
                ("grant_type", "authorization_code"),
            ])
            .traced()
            .send()
            .await
            .map_err(WeChatError::transport)?;
        let body = read_reply(resp).await?.into_json()?;
        let parsed: SessionBody =
            serde_json::from_value(body).map_err(|e| WeChatError::Decode(e.to_string()))?;
        Ok(LoginSession {
            openid: parsed
                .openid
                .filter(|o| !o.is_empty())
                .ok_or_else(|| WeChatError::Decode("no openid".into()))?,
            unionid: parsed.unionid.filter(|u| !u.is_empty()),
            session_key: SecretString::from(
                parsed
                    .session_key
                    .ok_or_else(|| WeChatError::Decode("no session_key".into()))?,
            ),
        })
    }

    async fn phone_number(&self, code: &str) -> Result<PhoneNumber, WeChatError> {
        let body = self
            .post_with_token("wxa/business/getuserphonenumber", &json!({ "code": code }))
            .await?
            .into_json()?;
        let info = &body["phone_info"];
        let phone = PhoneNumber {
            phone_number: lenient_string(&info["phoneNumber"]),
            pure_phone_number: lenient_string(&info["purePhoneNumber"]),
            country_code: lenient_string(&info["countryCode"]),
        };
        if phone.pure_phone_number.is_empty() {
            return Err(WeChatError::Decode("no phone_info.purePhoneNumber".into()));
        }
        Ok(phone)
    }

    /// Values are checked against their keys' rules first (§4): a value WeChat would refuse
    /// with 47003 fails here with the same errcode, without using a call.
    async fn send_subscribe_message(&self, msg: &SubscribeMessage) -> Result<u64, WeChatError> {
        for (key, value) in &msg.data {
            check_subscribe_value(key, value).map_err(|e| WeChatError::Api {
                errcode: 47003,
                errmsg: format!("checked before sending: {e}"),
            })?;
        }
        let data: serde_json::Map<String, Value> = msg
            .data
            .iter()
            .map(|(k, v)| (k.clone(), json!({ "value": v })))
            .collect();
        let mut body = json!({
            "touser": msg.touser,
            "template_id": msg.template_id,
            "data": data,
            "miniprogram_state": msg.miniprogram_state.as_deref().unwrap_or("formal"),
            "lang": msg.lang.as_deref().unwrap_or("zh_CN"),
        });
        if let Some(page) = &msg.page {
            body["page"] = json!(page);
        }
        let body = self
            .post_with_token("cgi-bin/message/subscribe/send", &body)
            .await?
            .into_json()?;
        lenient_u64(&body["msgid"]).ok_or_else(|| WeChatError::Decode("no msgid".into()))
    }

    /// The scene is checked first (40169 without a call); the width is clamped to 280–1280.
    async fn wxacode_unlimited(&self, req: &WxaCodeRequest) -> Result<Vec<u8>, WeChatError> {
        validate_scene(&req.scene)?;
        let mut body = json!({
            "scene": req.scene,
            "check_path": req.check_path,
            "env_version": req.env_version.as_deref().unwrap_or("release"),
            "width": req.width.unwrap_or(430).clamp(280, 1280),
        });
        if let Some(page) = &req.page {
            // WeChat wants "pages/x/index", not "/pages/x/index".
            body["page"] = json!(page.trim_start_matches('/'));
        }
        match self.post_with_token("wxa/getwxacodeunlimit", &body).await? {
            Reply::Bytes { bytes, .. } => Ok(bytes),
            json @ Reply::Json(_) => {
                json.into_json()?;
                Err(WeChatError::Decode("neither an image nor an error".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_follow_the_documented_rules() {
        for ok in [
            "a=1",
            "b=12&s=SH001",
            "!#$&'()*+,/:;=?@-._~",
            &"x".repeat(32),
        ] {
            assert!(validate_scene(ok).is_ok(), "{ok}");
        }
        for bad in ["", &"x".repeat(33), "100%", "has space", "场景"] {
            let e = validate_scene(bad).expect_err(bad);
            assert_eq!(e.kind(), WeChatErrorKind::InvalidScene);
        }
    }

    #[test]
    fn lenient_numbers_and_strings() {
        assert_eq!(lenient_u64(&json!(18446744073709551615u64)), Some(u64::MAX));
        assert_eq!(lenient_u64(&json!("18446744073709551615")), Some(u64::MAX));
        assert_eq!(lenient_u64(&json!(-1)), None);
        assert_eq!(lenient_string(&json!(86)), "86");
        assert_eq!(lenient_string(&json!("86")), "86");
    }
}
