//! The mini-program server API (WECHAT.md §0–§5).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::token::{AccessTokenCache, CachedToken};
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
    /// https://api.weixin.qq.com/ in production.
    pub api_base: url::Url,
    pub timeout: Duration,
}

pub struct MiniProgramClient {
    http: reqwest::Client,
    config: MiniProgramConfig,
    cache: Arc<dyn AccessTokenCache>,
    /// Only one refresh at a time in this process; others wait and reuse its token.
    refresh: Mutex<()>,
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

fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
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
            .map_err(WeChatError::Transport)?;
        Ok(Self {
            http,
            config,
            cache,
            refresh: Mutex::new(()),
        })
    }

    fn url(&self, path: &str) -> Result<url::Url, WeChatError> {
        self.config
            .api_base
            .join(path)
            .map_err(|e| WeChatError::Config(e.to_string()))
    }

    async fn json(resp: reqwest::Response) -> Result<Value, WeChatError> {
        if resp.status().is_server_error() {
            return Err(WeChatError::Api {
                errcode: -1,
                errmsg: format!("HTTP {}", resp.status()),
            });
        }
        resp.json::<Value>()
            .await
            .map_err(|e| WeChatError::Decode(e.to_string()))
    }

    /// A valid access token: the cached one, or a fresh one fetched by one caller at a time.
    async fn access_token(&self, force: bool) -> Result<String, WeChatError> {
        let fresh = |t: &CachedToken| t.expires_at - REFRESH_MARGIN > Utc::now();
        if !force && let Some(cached) = self.cache.get(&self.config.app_id).await.filter(fresh) {
            return Ok(cached.token);
        }
        let _guard = self.refresh.lock().await;
        // Someone may have refreshed while we waited.
        if let Some(cached) = self.cache.get(&self.config.app_id).await.filter(fresh) {
            return Ok(cached.token);
        }
        let resp = self
            .http
            .post(self.url("cgi-bin/stable_token")?)
            .json(&json!({
                "grant_type": "client_credential",
                "appid": self.config.app_id,
                "secret": self.config.app_secret.expose_secret(),
                "force_refresh": force,
            }))
            .send()
            .await
            .map_err(WeChatError::Transport)?;
        let body = Self::json(resp).await?;
        check_errcode(&body)?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| WeChatError::Decode("no access_token".into()))?
            .to_owned();
        let expires_in = body["expires_in"].as_i64().unwrap_or(7200);
        let cached = CachedToken {
            token: token.clone(),
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in),
        };
        self.cache.put(&self.config.app_id, &cached).await;
        Ok(token)
    }

    /// POSTs JSON to a protected endpoint; a rejected token is refreshed once and the call retried once.
    async fn post_with_token(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<reqwest::Response, WeChatError> {
        let mut token = self.access_token(false).await?;
        for attempt in 0..2 {
            let mut url = self.url(path)?;
            url.query_pairs_mut().append_pair("access_token", &token);
            let resp = self
                .http
                .post(url)
                .json(body)
                .send()
                .await
                .map_err(WeChatError::Transport)?;
            let is_json = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.contains("json") || ct.contains("text"));
            if !is_json || attempt == 1 {
                return Ok(resp);
            }
            let bytes = resp.bytes().await.map_err(WeChatError::Transport)?;
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let token_rejected = matches!(
                check_errcode(&value),
                Err(ref e) if e.kind() == WeChatErrorKind::TokenInvalid
            );
            if !token_rejected {
                return Ok(reqwest::Response::from(
                    http::Response::builder()
                        .header("content-type", "application/json")
                        .body(bytes)
                        .map_err(|e| WeChatError::Decode(e.to_string()))?,
                ));
            }
            self.cache.invalidate_if(&self.config.app_id, &token).await;
            token = self.access_token(true).await?;
        }
        Err(WeChatError::Decode("unreachable retry state".into()))
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
            .send()
            .await
            .map_err(WeChatError::Transport)?;
        let body = Self::json(resp).await?;
        check_errcode(&body)?;
        let parsed: SessionBody =
            serde_json::from_value(body).map_err(|e| WeChatError::Decode(e.to_string()))?;
        Ok(LoginSession {
            openid: parsed
                .openid
                .ok_or_else(|| WeChatError::Decode("no openid".into()))?,
            unionid: parsed.unionid,
            session_key: SecretString::from(parsed.session_key.unwrap_or_default()),
        })
    }

    async fn phone_number(&self, code: &str) -> Result<PhoneNumber, WeChatError> {
        let resp = self
            .post_with_token("wxa/business/getuserphonenumber", &json!({ "code": code }))
            .await?;
        let body = Self::json(resp).await?;
        check_errcode(&body)?;
        let info = &body["phone_info"];
        Ok(PhoneNumber {
            phone_number: lenient_string(&info["phoneNumber"]),
            pure_phone_number: lenient_string(&info["purePhoneNumber"]),
            country_code: lenient_string(&info["countryCode"]),
        })
    }

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
        let resp = self
            .post_with_token("cgi-bin/message/subscribe/send", &body)
            .await?;
        let body = Self::json(resp).await?;
        check_errcode(&body)?;
        lenient_u64(&body["msgid"]).ok_or_else(|| WeChatError::Decode("no msgid".into()))
    }

    async fn wxacode_unlimited(&self, req: &WxaCodeRequest) -> Result<Vec<u8>, WeChatError> {
        validate_scene(&req.scene)?;
        let mut body = json!({
            "scene": req.scene,
            "check_path": req.check_path,
            "env_version": req.env_version.as_deref().unwrap_or("release"),
            "width": req.width.unwrap_or(430).clamp(280, 1280),
        });
        if let Some(page) = &req.page {
            body["page"] = json!(page.trim_start_matches('/'));
        }
        let resp = self.post_with_token("wxa/getwxacodeunlimit", &body).await?;
        let is_image = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("image/"));
        if is_image {
            return Ok(resp.bytes().await.map_err(WeChatError::Transport)?.to_vec());
        }
        let body = Self::json(resp).await?;
        check_errcode(&body)?;
        Err(WeChatError::Decode("neither an image nor an error".into()))
    }
}
