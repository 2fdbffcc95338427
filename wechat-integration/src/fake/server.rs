//! The HTTP side of the fake: routes, checks and signed answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use poem::http::{Method, StatusCode};
use poem::listener::TcpAcceptor;
use poem::{Request, Response, Server};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::{
    CodeState, FakeOrder, FakeRefund, Fault, FaultScope, Inner, SentMessage, State, WXACODE_JPEG,
    random_string,
};
use crate::NotificationHeaders;
use crate::pay;

const TOKEN_LIFETIME_SECS: i64 = 7200;
/// A replaced token keeps working this long (WeChat's overlap).
const TOKEN_OVERLAP_SECS: i64 = 300;

pub(super) fn spawn(
    inner: Arc<Inner>,
    listener: tokio::net::TcpListener,
    shutdown: oneshot::Receiver<()>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let endpoint = poem::endpoint::make(move |req: Request| {
        let inner = inner.clone();
        async move { handle(inner, req).await }
    });
    Ok(tokio::spawn(async move {
        let stop = async {
            let _ = shutdown.await;
        };
        if let Err(e) = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(endpoint, stop, Some(Duration::from_secs(1)))
            .await
        {
            tracing::warn!(error = %e, "fake WeChat server stopped");
        }
    }))
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(value.to_string())
}

fn errcode(code: i64, msg: &str) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "errcode": code, "errmsg": format!("{msg} rid: {}", random_string(8)) }),
    )
}

fn lock(inner: &Inner) -> std::sync::MutexGuard<'_, State> {
    inner
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fault for a call, if any (a counted fault is used up one call at a time).
fn take_fault(inner: &Inner, scope: FaultScope) -> Option<Fault> {
    let mut s = lock(inner);
    for key in [scope, FaultScope::All] {
        if let Some(active) = s.faults.get_mut(&key) {
            let fault = active.fault;
            match active.remaining.as_mut() {
                Some(0) => {
                    s.faults.remove(&key);
                    continue;
                }
                Some(n) => *n -= 1,
                None => {}
            }
            return Some(fault);
        }
    }
    None
}

/// Applies a mini-program fault: `Some(response)` when the call fails because of it.
async fn mini_program_fault(inner: &Inner, scope: FaultScope) -> Option<Response> {
    match take_fault(inner, scope)? {
        Fault::Latency(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::Busy => Some(errcode(-1, "system error")),
        Fault::RateLimited => Some(errcode(45011, "api minute-quota reach limit")),
        Fault::DailyQuota => Some(errcode(45009, "reach max api daily quota limit")),
        Fault::ServerError => Some(Response::builder().status(StatusCode::BAD_GATEWAY).finish()),
    }
}

fn query(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

async fn handle(inner: Arc<Inner>, mut req: Request) -> Response {
    let body = req.take_body().into_bytes().await.unwrap_or_default();
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    if let Some(traceparent) = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        let mut s = lock(&inner);
        if s.traceparents.len() >= 1000 {
            s.traceparents.pop_front();
        }
        s.traceparents
            .push_back((path.clone(), traceparent.to_owned()));
    }
    if path.starts_with("/v3/") {
        return pay_api(&inner, &req, &body).await;
    }
    let q = query(&req);
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method, path.as_str()) {
        (Method::GET, "/sns/jscode2session") => login(&inner, &q).await,
        (Method::POST, "/cgi-bin/stable_token") => {
            let force = json_body["force_refresh"].as_bool().unwrap_or(false);
            let (appid, secret) = (json_body["appid"].as_str(), json_body["secret"].as_str());
            token(&inner, appid, secret, force).await
        }
        (Method::GET, "/cgi-bin/token") => {
            let (appid, secret) = (q.get("appid"), q.get("secret"));
            token(
                &inner,
                appid.map(String::as_str),
                secret.map(String::as_str),
                true,
            )
            .await
        }
        (Method::POST, "/wxa/business/getuserphonenumber") => phone(&inner, &q, &json_body).await,
        (Method::POST, "/cgi-bin/message/subscribe/send") => {
            subscribe_send(&inner, &q, &json_body).await
        }
        (Method::POST, "/wxa/getwxacodeunlimit") => wxacode(&inner, &q, &json_body).await,
        _ => Response::builder().status(StatusCode::NOT_FOUND).finish(),
    }
}

/// Checks a `test:<who>:<nonce>` code: single use, valid for `lifetime` from first sight.
fn take_code(
    codes: &mut HashMap<String, CodeState>,
    code: &str,
    lifetime: Duration,
) -> Result<String, (i64, &'static str)> {
    let mut parts = code.splitn(3, ':');
    let (Some("test"), Some(who), Some(nonce)) = (parts.next(), parts.next(), parts.next()) else {
        return Err((40029, "invalid code"));
    };
    if who.is_empty() || nonce.is_empty() {
        return Err((40029, "invalid code"));
    }
    let state = codes.entry(code.to_owned()).or_insert(CodeState {
        first_seen: std::time::Instant::now(),
        used: false,
    });
    if state.used {
        return Err((40163, "code been used"));
    }
    if state.first_seen.elapsed() >= lifetime {
        return Err((40029, "invalid code"));
    }
    state.used = true;
    Ok(who.to_owned())
}

async fn login(inner: &Inner, q: &HashMap<String, String>) -> Response {
    if let Some(fault) = mini_program_fault(inner, FaultScope::Login).await {
        return fault;
    }
    if q.get("appid") != Some(&inner.config.app_id)
        || q.get("secret") != Some(&inner.config.app_secret)
    {
        return errcode(40013, "invalid appid");
    }
    let code = q.get("js_code").cloned().unwrap_or_default();
    let lifetime = inner.config.code_lifetime;
    let user = match take_code(&mut lock(inner).login_codes, &code, lifetime) {
        Ok(user) => user,
        Err((code, msg)) => return errcode(code, msg),
    };
    let session_key = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        rand::thread_rng().r#gen::<[u8; 16]>(),
    );
    json_response(
        StatusCode::OK,
        &json!({ "openid": super::FakeWeChat::openid_for(&user), "session_key": session_key }),
    )
}

/// Issues access tokens: stable_token without force_refresh returns the current token while
/// it has more than five minutes left; anything else issues a new one, and the previous one
/// keeps working five more minutes.
async fn token(inner: &Inner, appid: Option<&str>, secret: Option<&str>, force: bool) -> Response {
    lock(inner).token_fetches += 1;
    if let Some(fault) = mini_program_fault(inner, FaultScope::Token).await {
        return fault;
    }
    if appid != Some(inner.config.app_id.as_str())
        || secret != Some(inner.config.app_secret.as_str())
    {
        return errcode(40001, "invalid credential");
    }
    let now = Utc::now();
    let renew_before = now + chrono::Duration::seconds(TOKEN_OVERLAP_SECS);
    let mut s = lock(inner);
    if !force
        && let Some(current) = s.current_token.clone()
        && s.tokens
            .get(&current)
            .is_some_and(|exp| *exp > renew_before)
    {
        let left = (s.tokens[&current] - now).num_seconds();
        return json_response(
            StatusCode::OK,
            &json!({ "access_token": current, "expires_in": left }),
        );
    }
    // A new token: the previous one keeps working for five minutes.
    if let Some(previous) = s.current_token.take()
        && let Some(exp) = s.tokens.get_mut(&previous)
    {
        *exp = (*exp).min(now + chrono::Duration::seconds(TOKEN_OVERLAP_SECS));
    }
    let token = format!("FAKE_ACCESS_TOKEN_{}", random_string(40));
    s.tokens.insert(
        token.clone(),
        now + chrono::Duration::seconds(TOKEN_LIFETIME_SECS),
    );
    s.current_token = Some(token.clone());
    json_response(
        StatusCode::OK,
        &json!({ "access_token": token, "expires_in": TOKEN_LIFETIME_SECS }),
    )
}

fn check_token(inner: &Inner, q: &HashMap<String, String>) -> Result<(), Box<Response>> {
    let token = q.get("access_token").cloned().unwrap_or_default();
    match lock(inner).tokens.get(&token) {
        Some(exp) if *exp > Utc::now() => Ok(()),
        Some(_) => Err(Box::new(errcode(42001, "access_token expired"))),
        None => Err(Box::new(errcode(
            40001,
            "invalid credential, access_token is invalid or not latest",
        ))),
    }
}

async fn phone(inner: &Inner, q: &HashMap<String, String>, body: &Value) -> Response {
    if let Err(resp) = check_token(inner, q) {
        return *resp;
    }
    if let Some(fault) = mini_program_fault(inner, FaultScope::Phone).await {
        return fault;
    }
    let code = body["code"].as_str().unwrap_or_default();
    let lifetime = inner.config.code_lifetime;
    let who = match take_code(&mut lock(inner).phone_codes, code, lifetime) {
        Ok(who) => who,
        Err((code, msg)) => return errcode(code, msg),
    };
    let pure = if who.len() == 11 && who.starts_with('1') && who.chars().all(|c| c.is_ascii_digit())
    {
        who
    } else {
        // A stable mainland number for a named test user.
        let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("rouge-fake-phone:{who}"));
        let tail: String = digest
            .iter()
            .take(9)
            .map(|b| char::from(b'0' + b % 10))
            .collect();
        format!("13{tail}")
    };
    json_response(
        StatusCode::OK,
        &json!({
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": pure,
                "purePhoneNumber": pure,
                // Documented as a string, sent as a number: clients must accept both.
                "countryCode": 86,
                "watermark": { "timestamp": Utc::now().timestamp(), "appid": inner.config.app_id }
            }
        }),
    )
}

async fn subscribe_send(inner: &Inner, q: &HashMap<String, String>, body: &Value) -> Response {
    if let Err(resp) = check_token(inner, q) {
        return *resp;
    }
    if let Some(fault) = mini_program_fault(inner, FaultScope::SubscribeSend).await {
        return fault;
    }
    let touser = body["touser"].as_str().unwrap_or_default().to_owned();
    let template_id = body["template_id"].as_str().unwrap_or_default().to_owned();
    if !(touser.starts_with('o') && touser.len() == 28) {
        return errcode(40003, "invalid openid");
    }
    if template_id.is_empty() {
        return errcode(40037, "invalid template_id");
    }
    let mut data = std::collections::BTreeMap::new();
    for (key, value) in body["data"].as_object().into_iter().flatten() {
        let value = value["value"].as_str().unwrap_or_default();
        if let Err(e) = crate::check_subscribe_value(key, value) {
            return errcode(
                47003,
                &format!("argument invalid! data.{key}.value: {}", e.rule),
            );
        }
        data.insert(key.clone(), value.to_owned());
    }
    let mut s = lock(inner);
    if !s.unlimited_consents {
        let consents = s
            .consents
            .entry((touser.clone(), template_id.clone()))
            .or_default();
        if *consents == 0 {
            return errcode(43101, "user refuse to accept the msg");
        }
        *consents -= 1;
    }
    s.next_msgid += 1;
    let msgid = s.next_msgid;
    s.sent_total += 1;
    *s.sent_per_user.entry(touser.clone()).or_default() += 1;
    if !s.count_only {
        s.sent.push(SentMessage {
            touser,
            template_id,
            page: body["page"].as_str().map(str::to_owned),
            data,
            msgid,
        });
    }
    json_response(
        StatusCode::OK,
        &json!({ "errcode": 0, "errmsg": "ok", "msgid": msgid }),
    )
}

async fn wxacode(inner: &Inner, q: &HashMap<String, String>, body: &Value) -> Response {
    lock(inner).wxacode_calls += 1;
    if let Err(resp) = check_token(inner, q) {
        return *resp;
    }
    if let Some(fault) = mini_program_fault(inner, FaultScope::WxaCode).await {
        return fault;
    }
    if crate::validate_scene(body["scene"].as_str().unwrap_or_default()).is_err() {
        return errcode(
            40169,
            "invalid length for scene, or the data is not json string",
        );
    }
    if let Some(page) = body["page"].as_str()
        && (page.starts_with('/') || page.contains('?') || page.is_empty())
    {
        return errcode(41030, "invalid page");
    }
    Response::builder()
        .content_type("image/jpeg")
        .body(WXACODE_JPEG.to_vec())
}

// --- WeChat Pay v3 ---

/// Signs a Pay message (response or notification) the way WeChat does.
pub(super) fn sign_message(inner: &Inner, body: &[u8], timestamp: i64) -> NotificationHeaders {
    let (pub_key_mode, corrupt) = {
        let s = lock(inner);
        (s.sign_with_pub_key_id, s.corrupt_response_signatures)
    };
    let (key, serial) = if pub_key_mode {
        (&inner.keys.platform_pub_key, super::PLATFORM_PUB_KEY_ID)
    } else {
        (&inner.keys.platform_cert, super::PLATFORM_CERT_SERIAL)
    };
    let timestamp = timestamp.to_string();
    let nonce = pay::nonce();
    let mut message = pay::response_message(&timestamp, &nonce, body);
    if corrupt {
        message.push(b'!');
    }
    NotificationHeaders {
        signature: pay::sign(key, &message),
        timestamp,
        nonce,
        serial: serial.to_owned(),
    }
}

fn pay_response(inner: &Inner, status: StatusCode, value: Option<&Value>) -> Response {
    let body = value.map(Value::to_string).unwrap_or_default().into_bytes();
    let h = sign_message(inner, &body, Utc::now().timestamp());
    let mut builder = Response::builder()
        .status(status)
        .header("Wechatpay-Timestamp", h.timestamp)
        .header("Wechatpay-Nonce", h.nonce)
        .header("Wechatpay-Signature", h.signature)
        .header("Wechatpay-Serial", h.serial)
        .header("Request-ID", random_string(16));
    if value.is_some() {
        builder = builder.content_type("application/json");
    }
    builder.body(body)
}

fn pay_error(inner: &Inner, status: StatusCode, code: &str, message: &str) -> Response {
    pay_response(
        inner,
        status,
        Some(&json!({ "code": code, "message": message })),
    )
}

/// Checks the WECHATPAY2-SHA256-RSA2048 Authorization of a request with our merchant public key.
fn verify_authorization(inner: &Inner, req: &Request, body: &[u8]) -> Result<(), String> {
    let header = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("no Authorization")?;
    let params = header
        .strip_prefix("WECHATPAY2-SHA256-RSA2048 ")
        .ok_or("wrong authorization scheme")?;
    let fields: HashMap<&str, &str> = params
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect();
    let get = |k: &str| fields.get(k).copied().ok_or(format!("no {k}"));
    if get("mchid")? != inner.config.mch_id {
        return Err("mchid does not match".into());
    }
    if get("serial_no")? != super::MERCHANT_SERIAL {
        return Err("unknown merchant certificate serial".into());
    }
    let timestamp: i64 = get("timestamp")?.parse().map_err(|_| "bad timestamp")?;
    if (Utc::now().timestamp() - timestamp).abs() >= pay::MAX_CLOCK_SKEW_SECS {
        return Err("timestamp expired".into());
    }
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let message = pay::request_message(
        req.method().as_str(),
        path_and_query,
        get("timestamp")?,
        get("nonce_str")?,
        std::str::from_utf8(body).map_err(|_| "body is not UTF-8")?,
    );
    if pay::verify(
        &inner.keys.merchant_public,
        message.as_bytes(),
        get("signature")?,
    ) {
        Ok(())
    } else {
        Err("signature does not verify with the merchant public key".into())
    }
}

async fn pay_api(inner: &Arc<Inner>, req: &Request, body: &[u8]) -> Response {
    if let Err(reason) = verify_authorization(inner, req, body) {
        return pay_response(
            inner,
            StatusCode::UNAUTHORIZED,
            Some(
                &json!({ "code": "SIGN_ERROR", "message": "签名错误", "detail": { "sign_information": reason } }),
            ),
        );
    }
    match take_fault(inner, FaultScope::Pay) {
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        Some(Fault::Busy | Fault::ServerError) => {
            return pay_error(
                inner,
                StatusCode::INTERNAL_SERVER_ERROR,
                "SYSTEM_ERROR",
                "系统错误",
            );
        }
        Some(Fault::RateLimited | Fault::DailyQuota) => {
            return pay_error(
                inner,
                StatusCode::TOO_MANY_REQUESTS,
                "FREQUENCY_LIMITED",
                "频率超限",
            );
        }
        None => {}
    }
    let path = req.uri().path().to_owned();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method().clone(), segments.as_slice()) {
        (Method::POST, ["v3", "pay", "transactions", "jsapi"]) => jsapi(inner, &body),
        (Method::GET, ["v3", "pay", "transactions", "out-trade-no", no]) => {
            query_order(inner, &decode(no))
        }
        (Method::POST, ["v3", "pay", "transactions", "out-trade-no", no, "close"]) => {
            close_order(inner, &decode(no))
        }
        (Method::POST, ["v3", "refund", "domestic", "refunds"]) => refund(inner, &body),
        (Method::GET, ["v3", "refund", "domestic", "refunds", no]) => {
            query_refund(inner, &decode(no))
        }
        _ => pay_error(inner, StatusCode::NOT_FOUND, "NOT_FOUND", "no such API"),
    }
}

fn decode(segment: &str) -> String {
    url::form_urlencoded::parse(segment.as_bytes())
        .map(|(k, _)| k.into_owned())
        .next()
        .unwrap_or_default()
}

fn valid_trade_no(no: &str) -> bool {
    (6..=32).contains(&no.len())
        && no
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-|*".contains(c))
}

fn jsapi(inner: &Inner, body: &Value) -> Response {
    let no = body["out_trade_no"].as_str().unwrap_or_default().to_owned();
    let amount = body["amount"]["total"].as_i64().unwrap_or(0);
    let openid = body["payer"]["openid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let notify_url = body["notify_url"].as_str().unwrap_or_default().to_owned();
    if !valid_trade_no(&no)
        || amount <= 0
        || openid.is_empty()
        || notify_url.is_empty()
        || body["appid"].as_str() != Some(inner.config.app_id.as_str())
        || body["mchid"].as_str() != Some(inner.config.mch_id.as_str())
    {
        return pay_error(inner, StatusCode::BAD_REQUEST, "PARAM_ERROR", "参数错误");
    }
    let mut s = lock(inner);
    if let Some(existing) = s.orders.get(&no) {
        // The same order again returns the current prepay_id; a different one is refused.
        return if existing.request == *body {
            let prepay = existing.prepay_id.clone();
            drop(s);
            pay_response(inner, StatusCode::OK, Some(&json!({ "prepay_id": prepay })))
        } else {
            drop(s);
            pay_error(
                inner,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "商户订单号重复",
            )
        };
    }
    let prepay_id = format!("wx{}", random_string(30));
    s.orders.insert(
        no,
        FakeOrder {
            request: body.clone(),
            prepay_id: prepay_id.clone(),
            amount,
            openid,
            notify_url,
            state: "NOTPAY".into(),
            transaction_id: None,
            success_time: None,
            refunded: 0,
        },
    );
    drop(s);
    pay_response(
        inner,
        StatusCode::OK,
        Some(&json!({ "prepay_id": prepay_id })),
    )
}

fn query_order(inner: &Inner, no: &str) -> Response {
    let order = lock(inner).orders.get(no).cloned();
    match order {
        Some(order) => {
            let v = super::transaction_json(inner, no, &order);
            pay_response(inner, StatusCode::OK, Some(&v))
        }
        None => pay_error(
            inner,
            StatusCode::NOT_FOUND,
            "ORDER_NOT_EXIST",
            "订单不存在",
        ),
    }
}

fn close_order(inner: &Inner, no: &str) -> Response {
    let mut s = lock(inner);
    let Some(order) = s.orders.get_mut(no) else {
        drop(s);
        return pay_error(
            inner,
            StatusCode::NOT_FOUND,
            "ORDER_NOT_EXIST",
            "订单不存在",
        );
    };
    if order.state == "SUCCESS" || order.state == "REFUND" {
        drop(s);
        return pay_error(inner, StatusCode::BAD_REQUEST, "ORDERPAID", "订单已支付");
    }
    order.state = "CLOSED".into();
    drop(s);
    pay_response(inner, StatusCode::NO_CONTENT, None)
}

fn refund_json(no: &str, r: &FakeRefund) -> Value {
    json!({
        "refund_id": r.refund_id,
        "out_refund_no": no,
        "out_trade_no": r.out_trade_no,
        "status": r.status,
        "refund_status": r.status,
        "amount": { "refund": r.amount, "total": r.total, "currency": "CNY" },
    })
}

fn refund(inner: &Arc<Inner>, body: &Value) -> Response {
    let trade_no = body["out_trade_no"].as_str().unwrap_or_default().to_owned();
    let refund_no = body["out_refund_no"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let amount = body["amount"]["refund"].as_i64().unwrap_or(0);
    let total = body["amount"]["total"].as_i64().unwrap_or(0);
    let mut s = lock(inner);
    if let Some(existing) = s.refunds.get(&refund_no) {
        let v = refund_json(&refund_no, existing);
        drop(s);
        return pay_response(inner, StatusCode::OK, Some(&v));
    }
    let Some(order) = s.orders.get_mut(&trade_no) else {
        drop(s);
        return pay_error(
            inner,
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "订单不存在",
        );
    };
    if !(order.state == "SUCCESS" || order.state == "REFUND") || total != order.amount {
        drop(s);
        return pay_error(
            inner,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "订单状态或金额不符",
        );
    }
    if amount <= 0 || order.refunded + amount > order.amount {
        drop(s);
        return pay_error(inner, StatusCode::BAD_REQUEST, "NOT_ENOUGH", "可退金额不足");
    }
    order.refunded += amount;
    if order.refunded == order.amount {
        order.state = "REFUND".into();
    }
    let notify_url = body["notify_url"]
        .as_str()
        .map_or_else(|| order.notify_url.clone(), str::to_owned);
    let created = FakeRefund {
        refund_id: format!(
            "5030{}",
            rand::thread_rng().gen_range(100_000_000_000u64..999_999_999_999)
        ),
        out_trade_no: trade_no,
        amount,
        total,
        status: "SUCCESS".into(),
    };
    let v = refund_json(&refund_no, &created);
    s.refunds.insert(refund_no, created);
    drop(s);
    // The refund notification follows (a duplicate of what the answer already says).
    let fake = super::FakeWeChat {
        inner: inner.clone(),
    };
    fake.deliver(&notify_url, "REFUND.SUCCESS", "refund", v.clone());
    pay_response(inner, StatusCode::OK, Some(&v))
}

fn query_refund(inner: &Inner, no: &str) -> Response {
    let found = lock(inner).refunds.get(no).cloned();
    match found {
        Some(r) => pay_response(inner, StatusCode::OK, Some(&refund_json(no, &r))),
        None => pay_error(
            inner,
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "退款单不存在",
        ),
    }
}
