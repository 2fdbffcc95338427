//! The real clients against the fake WeChat over loopback: the contract both sides speak
//! (WECHAT.md), with real signatures, encryption and single-use codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use poem::http::StatusCode;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use wechat_integration::fake::{FakeConfig, FakeWeChat, Fault, FaultScope};
use wechat_integration::{
    AccessTokenCache, CachedToken, JsapiOrder, MemoryTokenCache, MiniProgram, MiniProgramClient,
    Notification, NotificationHeaders, RefundRequest, RefundStatus, SubscribeMessage, TradeState,
    WeChatError, WeChatErrorKind, WeChatPay, WeChatPayClient, WxaCodeRequest,
};

async fn fake() -> FakeWeChat {
    FakeWeChat::start(FakeConfig::default()).await.unwrap()
}

fn client(fake: &FakeWeChat) -> MiniProgramClient {
    MiniProgramClient::new(
        fake.mini_program_config(),
        Arc::new(MemoryTokenCache::default()),
    )
    .unwrap()
}

fn pay(fake: &FakeWeChat) -> WeChatPayClient {
    WeChatPayClient::new(fake.pay_config("http://127.0.0.1:9/notify")).unwrap()
}

fn kind<T: std::fmt::Debug>(r: Result<T, WeChatError>) -> WeChatErrorKind {
    r.expect_err("an error").kind()
}

#[tokio::test]
async fn login_codes_are_single_use() {
    let fake = fake().await;
    let client = client(&fake);
    let session = client.code_to_session("test:alice:1").await.unwrap();
    assert_eq!(session.openid, FakeWeChat::openid_for("alice"));
    assert_eq!(
        client.code_to_session("test:alice:2").await.unwrap().openid,
        session.openid,
        "stable openid"
    );
    assert_eq!(
        kind(client.code_to_session("test:alice:1").await),
        WeChatErrorKind::CodeUsed
    );
    assert_eq!(
        kind(client.code_to_session("nonsense").await),
        WeChatErrorKind::InvalidCode
    );
}

#[tokio::test]
async fn codes_expire() {
    // A zero lifetime: every code is already too old when it arrives.
    let fake = FakeWeChat::start(FakeConfig {
        code_lifetime: Duration::ZERO,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let client = client(&fake);
    assert_eq!(
        kind(client.code_to_session("test:alice:1").await),
        WeChatErrorKind::InvalidCode
    );
    assert_eq!(
        kind(client.phone_number("test:13912345678:1").await),
        WeChatErrorKind::InvalidCode
    );
}

#[tokio::test]
async fn phone_numbers_come_from_phone_codes() {
    let fake = fake().await;
    let client = client(&fake);
    let phone = client.phone_number("test:13912345678:x").await.unwrap();
    assert_eq!(phone.pure_phone_number, "13912345678");
    assert_eq!(
        phone.country_code, "86",
        "a numeric countryCode is read leniently"
    );
    let derived = client.phone_number("test:bob:1").await.unwrap();
    assert_eq!(derived.pure_phone_number.len(), 11);
    assert!(derived.pure_phone_number.starts_with('1'));
    assert_eq!(
        client
            .phone_number("test:bob:2")
            .await
            .unwrap()
            .pure_phone_number,
        derived.pure_phone_number,
        "stable per user"
    );
    assert_eq!(
        kind(client.phone_number("test:bob:1").await),
        WeChatErrorKind::CodeUsed
    );
    assert_eq!(
        kind(client.phone_number("0e1abc").await),
        WeChatErrorKind::InvalidCode
    );
}

fn message(openid: &str) -> SubscribeMessage {
    SubscribeMessage {
        touser: openid.into(),
        template_id: "tpl".into(),
        page: Some("pages/index".into()),
        data: BTreeMap::from([("thing1".into(), "面部护理".into())]),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_access_token_is_cached_refreshed_once_and_single_flight() {
    let fake = fake().await;
    let client = Arc::new(client(&fake));
    let openid = FakeWeChat::openid_for("carol");
    fake.add_consents(&openid, "tpl", 100);
    // Fifty concurrent first calls: one token fetch.
    let sends = (0..50).map(|_| {
        let client = client.clone();
        let m = message(&openid);
        async move { client.send_subscribe_message(&m).await }
    });
    for r in futures::future::join_all(sends).await {
        r.unwrap();
    }
    assert_eq!(fake.access_token_fetches(), 1);
    // WeChat invalidates the token: the client refreshes once and the call succeeds.
    fake.invalidate_access_tokens();
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    assert_eq!(fake.access_token_fetches(), 2);
    assert_eq!(fake.sent_messages().len(), 51);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once() {
    let fake = fake().await;
    let client = client(&fake);
    let openid = FakeWeChat::openid_for("carl");
    fake.add_consents(&openid, "tpl", 3);
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    fake.expire_access_tokens();
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    assert_eq!(fake.access_token_fetches(), 2, "42001: one refresh");
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    assert_eq!(
        fake.access_token_fetches(),
        2,
        "then the new token is reused"
    );
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_ahead() {
    let fake = fake().await;
    let cache = Arc::new(MemoryTokenCache::default());
    let client = MiniProgramClient::new(fake.mini_program_config(), cache.clone()).unwrap();
    let openid = FakeWeChat::openid_for("cleo");
    fake.add_consents(&openid, "tpl", 2);
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    let app_id = FakeConfig::default().app_id;
    let mut cached = cache.get(&app_id).await.unwrap();
    // Four minutes left: inside the five-minute margin.
    cached.expires_at = Utc::now() + chrono::Duration::minutes(4);
    cache.put(&app_id, &cached).await;
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    assert_eq!(fake.access_token_fetches(), 2);
    assert!(cache.get(&app_id).await.unwrap().expires_at > Utc::now() + chrono::Duration::hours(1));
}

#[tokio::test]
async fn a_token_another_replica_left_behind_is_replaced() {
    let fake = fake().await;
    let cache = Arc::new(MemoryTokenCache::default());
    let app_id = FakeConfig::default().app_id;
    // The shared cache holds a token WeChat no longer knows (40001).
    cache
        .put(
            &app_id,
            &CachedToken {
                token: "STALE".into(),
                expires_at: Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await;
    let client = MiniProgramClient::new(fake.mini_program_config(), cache.clone()).unwrap();
    let openid = FakeWeChat::openid_for("cody");
    fake.add_consents(&openid, "tpl", 1);
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    assert_eq!(fake.access_token_fetches(), 1);
    assert_ne!(cache.get(&app_id).await.unwrap().token, "STALE");
}

/// A shared cache that keeps nothing, as when Redis is down.
struct ForgetfulCache;

#[async_trait::async_trait]
impl AccessTokenCache for ForgetfulCache {
    async fn get(&self, _: &str) -> Option<CachedToken> {
        None
    }
    async fn put(&self, _: &str, _: &CachedToken) {}
    async fn invalidate_if(&self, _: &str, _: &str) {}
}

#[tokio::test]
async fn an_unavailable_shared_cache_does_not_mean_a_token_per_send() {
    let fake = fake().await;
    let client =
        MiniProgramClient::new(fake.mini_program_config(), Arc::new(ForgetfulCache)).unwrap();
    let openid = FakeWeChat::openid_for("cass");
    fake.add_consents(&openid, "tpl", 11);
    for _ in 0..10 {
        client
            .send_subscribe_message(&message(&openid))
            .await
            .unwrap();
    }
    assert_eq!(fake.access_token_fetches(), 1);
    fake.invalidate_access_tokens();
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    assert_eq!(fake.access_token_fetches(), 2);
}

#[tokio::test]
async fn a_failed_refresh_is_shared_by_everyone_waiting_for_it() {
    let fake = fake().await;
    let client = Arc::new(client(&fake));
    let openid = FakeWeChat::openid_for("cora");
    fake.add_consents(&openid, "tpl", 1);
    fake.set_fault_times(FaultScope::Token, Some(Fault::Busy), Some(1));
    let sends = (0..20).map(|_| {
        let client = client.clone();
        let m = message(&openid);
        async move { client.send_subscribe_message(&m).await }
    });
    for r in futures::future::join_all(sends).await {
        assert_eq!(kind(r), WeChatErrorKind::Busy);
    }
    assert_eq!(fake.access_token_fetches(), 1, "one attempt, not twenty");
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    assert_eq!(fake.access_token_fetches(), 2);
}

/// Raw HTTP against the fake, for rules the client never lets a request break.
#[tokio::test]
async fn the_fake_enforces_tokens_and_value_rules_itself() {
    let fake = fake().await;
    let http = reqwest::Client::new();
    let base = fake.base_url();
    let config = FakeConfig::default();
    let token = |force: bool| {
        let (http, base, config) = (http.clone(), base.clone(), config.clone());
        async move {
            let url = if force {
                let mut url = base.join("cgi-bin/token").unwrap();
                url.query_pairs_mut()
                    .append_pair("grant_type", "client_credential")
                    .append_pair("appid", &config.app_id)
                    .append_pair("secret", &config.app_secret);
                return http
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap();
            } else {
                base.join("cgi-bin/stable_token").unwrap()
            };
            http.post(url)
                .json(
                    &json!({ "grant_type": "client_credential", "appid": config.app_id,
                               "secret": config.app_secret, "force_refresh": false }),
                )
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let send = |token: String, data: Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let mut url = base.join("cgi-bin/message/subscribe/send").unwrap();
            url.query_pairs_mut().append_pair("access_token", &token);
            let body = json!({ "touser": FakeWeChat::openid_for("raw"), "template_id": "tpl", "data": data });
            let v: Value = http
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["errcode"].as_i64().unwrap_or(0)
        }
    };
    fake.add_consents(&FakeWeChat::openid_for("raw"), "tpl", 10);
    let stable = token(false).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        token(false).await["access_token"],
        stable.as_str(),
        "stable_token repeats itself"
    );
    let ok = json!({ "thing1": { "value": "面部护理" } });
    assert_eq!(send(stable.clone(), ok.clone()).await, 0);
    assert_eq!(
        send(
            stable.clone(),
            json!({ "thing1": { "value": "超".repeat(21) } })
        )
        .await,
        47003
    );
    assert_eq!(
        send(stable.clone(), json!({ "amount2": { "value": "一百" } })).await,
        47003
    );
    // /cgi-bin/token issues a new token; the previous one still works during the overlap.
    let fresh = token(true).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(fresh, stable);
    assert_eq!(
        send(stable.clone(), ok.clone()).await,
        0,
        "five-minute overlap"
    );
    assert_eq!(send(fresh, ok.clone()).await, 0);
    assert_eq!(send("UNKNOWN".into(), ok.clone()).await, 40001);
    fake.expire_access_tokens();
    assert_eq!(send(stable, ok).await, 42001);
}

#[tokio::test]
async fn subscription_messages_use_consents_and_respect_value_rules() {
    let fake = fake().await;
    let client = client(&fake);
    let openid = FakeWeChat::openid_for("dora");
    fake.add_consents(&openid, "tpl", 1);
    let msgid = client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    assert!(msgid > 0);
    assert_eq!(fake.consents(&openid, "tpl"), 0);
    assert_eq!(
        kind(client.send_subscribe_message(&message(&openid)).await),
        WeChatErrorKind::ConsentExhausted
    );
    let mut bad = message(&openid);
    bad.data.insert("thing1".into(), "超".repeat(21));
    assert_eq!(
        kind(client.send_subscribe_message(&bad).await),
        WeChatErrorKind::InvalidValue
    );
    assert_eq!(
        fake.sent_messages().len(),
        1,
        "a value that breaks its rule never leaves"
    );
    assert_eq!(
        kind(
            client
                .send_subscribe_message(&message("not-an-openid"))
                .await
        ),
        WeChatErrorKind::InvalidOpenid
    );
    let mut no_template = message(&openid);
    no_template.template_id.clear();
    assert_eq!(
        kind(client.send_subscribe_message(&no_template).await),
        WeChatErrorKind::InvalidTemplate
    );
    // What the fake accepted, with increasing msgids.
    fake.add_consents(&openid, "tpl", 2);
    let second = client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    assert!(second > msgid);
    let sent = fake.sent_messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].touser, openid);
    assert_eq!(sent[0].template_id, "tpl");
    assert_eq!(sent[0].page.as_deref(), Some("pages/index"));
    assert_eq!(sent[0].data["thing1"], "面部护理");
    assert_eq!(sent[1].msgid, second);
}

#[tokio::test]
async fn faults_surface_as_kinds_and_pass() {
    let fake = fake().await;
    let client = client(&fake);
    let openid = FakeWeChat::openid_for("erin");
    fake.add_consents(&openid, "tpl", 5);
    fake.set_fault(FaultScope::SubscribeSend, Some(Fault::RateLimited));
    assert_eq!(
        kind(client.send_subscribe_message(&message(&openid)).await),
        WeChatErrorKind::RateLimited
    );
    fake.set_fault(FaultScope::SubscribeSend, Some(Fault::DailyQuota));
    assert_eq!(
        kind(client.send_subscribe_message(&message(&openid)).await),
        WeChatErrorKind::DailyQuota
    );
    fake.set_fault_times(FaultScope::SubscribeSend, Some(Fault::Busy), Some(1));
    let busy = client.send_subscribe_message(&message(&openid)).await;
    assert!(busy.as_ref().is_err_and(WeChatError::is_retryable));
    client
        .send_subscribe_message(&message(&openid))
        .await
        .unwrap();
    fake.set_fault(FaultScope::Login, Some(Fault::ServerError));
    assert_eq!(
        kind(client.code_to_session("test:x:1").await),
        WeChatErrorKind::Busy
    );
    fake.set_fault(FaultScope::Login, None);
    client.code_to_session("test:x:2").await.unwrap();
}

#[tokio::test]
async fn a_slow_wechat_times_out_as_busy_and_a_stopped_one_is_busy_too() {
    let fake = fake().await;
    let mut config = fake.mini_program_config();
    config.timeout = Duration::from_millis(200);
    let client = MiniProgramClient::new(config, Arc::new(MemoryTokenCache::default())).unwrap();
    fake.set_fault_times(
        FaultScope::Login,
        Some(Fault::Latency(Duration::from_secs(2))),
        Some(1),
    );
    let slow = client.code_to_session("test:y:1").await;
    assert!(matches!(slow, Err(WeChatError::Transport(_))), "{slow:?}");
    assert_eq!(kind(slow), WeChatErrorKind::Busy);
    // The transport error never shows the query (the app secret travels there).
    let shown = format!("{:?}", client.code_to_session("test:y:1").await);
    assert!(
        !shown.contains(&FakeConfig::default().app_secret),
        "{shown}"
    );
    fake.shutdown().await;
    let stopped = MiniProgramClient::new(
        fake.mini_program_config(),
        Arc::new(MemoryTokenCache::default()),
    )
    .unwrap();
    let err = stopped.code_to_session("test:y:2").await.unwrap_err();
    assert_eq!(err.kind(), WeChatErrorKind::Busy);
    assert!(!format!("{err:?} {err}").contains(&FakeConfig::default().app_secret));
}

#[tokio::test]
async fn mini_program_codes_are_jpegs_and_bad_scenes_never_leave() {
    let fake = fake().await;
    let client = client(&fake);
    let jpeg = client
        .wxacode_unlimited(&WxaCodeRequest {
            scene: "b=12&s=SH001".into(),
            page: Some("pages/scan/index".into()),
            check_path: false,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
    // A leading slash is dropped; a query is not allowed (41030).
    let page = |page: &str| WxaCodeRequest {
        scene: "a=1".into(),
        page: Some(page.into()),
        width: Some(99_999),
        ..Default::default()
    };
    client
        .wxacode_unlimited(&page("/pages/scan/index"))
        .await
        .unwrap();
    assert_eq!(
        kind(
            client
                .wxacode_unlimited(&page("pages/scan/index?a=1"))
                .await
        ),
        WeChatErrorKind::InvalidPage
    );
    let before = fake.access_token_fetches();
    for scene in ["", "has space", &"x".repeat(33), "100%"] {
        let req = WxaCodeRequest {
            scene: scene.into(),
            ..Default::default()
        };
        assert_eq!(
            kind(client.wxacode_unlimited(&req).await),
            WeChatErrorKind::InvalidScene,
            "{scene:?}"
        );
    }
    assert_eq!(fake.access_token_fetches(), before);
}

fn order(no: &str, amount: i64) -> JsapiOrder {
    order_for(no, amount, &FakeWeChat::openid_for("payer"))
}

fn order_for(no: &str, amount: i64, openid: &str) -> JsapiOrder {
    JsapiOrder {
        description: "Rouge 订单".into(),
        out_trade_no: no.into(),
        amount_fen: amount,
        payer_openid: openid.into(),
        // Fixed, so that the same order sent twice has the same parameters.
        time_expire: Some("2030-01-01T12:00:00Z".parse().unwrap()),
        attach: Some("store=SH001".into()),
    }
}

#[tokio::test]
async fn payment_parameters_are_signed_with_the_merchant_key() {
    let fake = fake().await;
    let pay = pay(&fake);
    let prepay = pay.jsapi_prepay(&order("R2611220001", 1999)).await.unwrap();
    assert_eq!(
        pay.jsapi_prepay(&order("R2611220001", 1999)).await.unwrap(),
        prepay,
        "same order, same prepay_id"
    );
    let reused = pay.jsapi_prepay(&order("R2611220001", 2999)).await;
    assert!(
        matches!(reused, Err(WeChatError::Pay { ref code, .. }) if code == "INVALID_REQUEST"),
        "{reused:?}"
    );
    let params = pay.client_payment_params(&prepay).unwrap();
    assert_eq!(params.package, format!("prepay_id={prepay}"));
    let message = format!(
        "{}\n{}\n{}\n{}\n",
        FakeConfig::default().app_id,
        params.time_stamp,
        params.nonce_str,
        params.package
    );
    let signature =
        Signature::try_from(STANDARD.decode(&params.pay_sign).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(fake.merchant_public_key())
        .verify(message.as_bytes(), &signature)
        .expect("paySign verifies with the merchant public key");
}

#[tokio::test]
async fn requests_and_responses_are_both_verified() {
    let fake = fake().await;
    // Our request signed with a key the fake does not know.
    let mut config = fake.pay_config("http://127.0.0.1:9/notify");
    config.merchant_private_key = wechat_integration::pay::generate_test_keypair().0;
    let stranger = WeChatPayClient::new(config).unwrap();
    assert_eq!(
        kind(stranger.jsapi_prepay(&order("R2611220002", 100)).await),
        WeChatErrorKind::Signature
    );
    // A response whose signature does not check out is refused.
    fake.corrupt_response_signatures(true);
    let refused = pay(&fake).jsapi_prepay(&order("R2611220003", 100)).await;
    assert!(
        matches!(refused, Err(WeChatError::Signature(_))),
        "{refused:?}"
    );
    fake.corrupt_response_signatures(false);
    // Public-key mode (PUB_KEY_ID_…) verifies as well as certificate mode.
    fake.sign_with_public_key_id(true);
    pay(&fake)
        .jsapi_prepay(&order("R2611220004", 100))
        .await
        .unwrap();
    // A client that knows only the certificate key refuses answers signed with the other.
    let mut config = fake.pay_config("http://127.0.0.1:9/notify");
    config
        .platform_keys
        .retain(|k| !k.serial.starts_with("PUB_KEY_ID_"));
    let cert_only = WeChatPayClient::new(config).unwrap();
    assert!(matches!(
        cert_only.query_order("R2611220004").await,
        Err(WeChatError::Signature(_))
    ));
}

/// A request whose body changed after signing, or with no signature, is SIGN_ERROR.
#[tokio::test]
async fn the_fake_checks_request_signatures() {
    use wechat_integration::pay::{nonce, request_message, sign};
    let fake = fake().await;
    let config = fake.pay_config("https://rouge.example/notify");
    let url = fake.base_url().join("v3/pay/transactions/jsapi").unwrap();
    let signed_body = json!({ "out_trade_no": "R2611229999" }).to_string();
    let timestamp = Utc::now().timestamp().to_string();
    let nonce = nonce();
    let message = request_message("POST", url.path(), &timestamp, &nonce, &signed_body);
    let signature = sign(&config.merchant_private_key, message.as_bytes());
    let authorization = format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"{}\",signature=\"{signature}\"",
        config.mch_id, config.merchant_serial_no
    );
    let http = reqwest::Client::new();
    let post = |auth: Option<String>, body: String| {
        let mut req = http.post(url.clone()).body(body);
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post(
        Some(authorization.clone()),
        json!({ "out_trade_no": "R2611229998" }).to_string(),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("SIGN_ERROR")));
    let (status, _) = post(None, signed_body.clone()).await;
    assert_eq!(status, 401);
    // The untouched request passes the signature check (and fails on its missing fields).
    let (status, body) = post(Some(authorization), signed_body).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PARAM_ERROR")));
}

#[tokio::test]
async fn pay_retries_5xx_with_the_same_order() {
    let fake = fake().await;
    let pay = pay(&fake);
    fake.set_fault_times(FaultScope::Pay, Some(Fault::ServerError), Some(2));
    let prepay = pay.jsapi_prepay(&order("R2611220010", 100)).await.unwrap();
    assert_eq!(
        pay.jsapi_prepay(&order("R2611220010", 100)).await.unwrap(),
        prepay
    );
    fake.set_fault_times(FaultScope::Pay, Some(Fault::Busy), Some(3));
    let failed = pay.jsapi_prepay(&order("R2611220011", 100)).await;
    assert!(
        matches!(failed, Err(WeChatError::Pay { status: 500, .. })),
        "{failed:?}"
    );
    assert!(failed.unwrap_err().is_retryable());
    fake.set_fault(FaultScope::Pay, Some(Fault::RateLimited));
    assert_eq!(
        kind(pay.query_order("R2611220010").await),
        WeChatErrorKind::RateLimited
    );
}

#[tokio::test]
async fn notifications_verify_decrypt_and_refuse_forgeries() {
    let fake = fake().await;
    let pay = pay(&fake);
    let now = Utc::now();
    let (headers, body) = fake.signed_payment_notification("R2611220005", 1999, now);
    match pay.verify_notification(&headers, &body, now).unwrap() {
        Notification::Transaction { transaction, .. } => {
            assert_eq!(transaction.out_trade_no, "R2611220005");
            assert_eq!(transaction.amount_total, 1999);
            assert_eq!(transaction.trade_state, TradeState::Success);
        }
        other => panic!("{other:?}"),
    }
    let mut tampered = body.clone();
    let i = tampered.len() / 2;
    tampered[i] ^= 1;
    assert!(pay.verify_notification(&headers, &tampered, now).is_err());
    let mut wrong_serial = headers.clone();
    wrong_serial.serial = "UNKNOWN".into();
    assert!(pay.verify_notification(&wrong_serial, &body, now).is_err());
    let (old_headers, old_body) =
        fake.signed_payment_notification("R2611220005", 1999, now - chrono::Duration::seconds(301));
    assert!(
        pay.verify_notification(&old_headers, &old_body, now)
            .is_err(),
        "replayed after five minutes"
    );
    let mut probe = headers.clone();
    probe.signature = format!("WECHATPAY/SIGNTEST/{}", headers.signature);
    assert!(
        pay.verify_notification(&probe, &body, now).is_err(),
        "signature probes always fail"
    );
    fake.sign_with_public_key_id(true);
    let (pk_headers, pk_body) = fake.signed_payment_notification("R2611220006", 1, now);
    assert!(pk_headers.serial.starts_with("PUB_KEY_ID_"));
    pay.verify_notification(&pk_headers, &pk_body, now).unwrap();
    // Both keys at once: the certificate-signed one still verifies.
    pay.verify_notification(&headers, &body, now).unwrap();
    // The window is |now − timestamp| < 300 s, both ways.
    let at = |secs: i64| now + chrono::Duration::seconds(secs);
    for (signed_at, ok) in [(-299, true), (-300, false), (299, true), (300, false)] {
        let (h, b) = fake.signed_payment_notification("R2611220005", 1999, at(signed_at));
        assert_eq!(
            pay.verify_notification(&h, &b, now).is_ok(),
            ok,
            "signed {signed_at} s from now"
        );
    }
    // A resource encrypted with another APIv3 key does not decrypt.
    let mut config = fake.pay_config("http://127.0.0.1:9/notify");
    config.api_v3_key = secrecy::SecretSlice::from(vec![b'k'; 32]);
    let wrong_key = WeChatPayClient::new(config).unwrap();
    assert!(matches!(
        wrong_key.verify_notification(&headers, &body, now),
        Err(WeChatError::Crypto(_))
    ));
    // A crafted refund notification.
    let refund = json!({ "mchid": "1900000109", "out_trade_no": "R2611220005", "out_refund_no": "F9",
                         "refund_id": "503000", "refund_status": "CLOSE", "amount": { "refund": 5, "total": 1999 } });
    let (h, b) = fake.signed_notification("REFUND.CLOSED", "refund", &refund, now);
    match pay.verify_notification(&h, &b, now).unwrap() {
        Notification::Refund {
            refund, event_type, ..
        } => {
            assert_eq!(event_type, "REFUND.CLOSED");
            assert_eq!(refund.status, RefundStatus::Closed, "CLOSE reads as CLOSED");
            assert_eq!(refund.refund_fen, 5);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn orders_close_and_refund() {
    let fake = fake().await;
    let pay = pay(&fake);
    pay.jsapi_prepay(&order("R2611220007", 5000)).await.unwrap();
    assert_eq!(
        pay.query_order("R2611220007").await.unwrap().trade_state,
        TradeState::NotPay
    );
    pay.close_order("R2611220007").await.unwrap();
    assert_eq!(
        pay.query_order("R2611220007").await.unwrap().trade_state,
        TradeState::Closed
    );
    assert!(
        matches!(pay.query_order("R0000000000").await, Err(WeChatError::Pay { ref code, .. }) if code == "ORDER_NOT_EXIST")
    );

    pay.jsapi_prepay(&order("R2611220008", 5000)).await.unwrap();
    fake.pay("R2611220008").await.unwrap();
    let paid = pay.query_order("R2611220008").await.unwrap();
    assert_eq!(paid.trade_state, TradeState::Success);
    assert!(paid.transaction_id.is_some());
    assert!(
        pay.close_order("R2611220008").await.is_err(),
        "a paid order cannot be closed"
    );
    let refund = |no: &str, fen| RefundRequest {
        out_trade_no: "R2611220008".into(),
        out_refund_no: no.into(),
        reason: None,
        refund_fen: fen,
        total_fen: 5000,
    };
    let first = pay.refund(&refund("F1", 2000)).await.unwrap();
    assert_eq!(first.status, RefundStatus::Success);
    assert_eq!(pay.query_refund("F1").await.unwrap().refund_fen, 2000);
    assert!(
        pay.refund(&refund("F2", 3001)).await.is_err(),
        "more than is left"
    );
    pay.refund(&refund("F3", 3000)).await.unwrap();
    assert_eq!(
        pay.query_order("R2611220008").await.unwrap().trade_state,
        TradeState::Refund
    );
}

/// A notify_url of our own, answering like Rouge: 204 for a notification that verifies, 401
/// for one that does not; the first `fail_first` good ones get 500 (WeChat must retry).
struct Receiver {
    url: String,
    pay: Arc<WeChatPayClient>,
    notifications: mpsc::UnboundedReceiver<Notification>,
}

impl Receiver {
    async fn start(fake: &FakeWeChat, fail_first: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        let pay = Arc::new(WeChatPayClient::new(fake.pay_config(&url)).unwrap());
        let (tx, notifications) = mpsc::unbounded_channel();
        let failures_left = Arc::new(AtomicUsize::new(fail_first));
        let verifier = pay.clone();
        let endpoint = poem::endpoint::make(move |mut req: poem::Request| {
            let (pay, tx, failures_left) = (verifier.clone(), tx.clone(), failures_left.clone());
            async move {
                let body = req.take_body().into_vec().await.unwrap_or_default();
                let header = |name: &str| req.header(name).unwrap_or_default().to_owned();
                let headers = NotificationHeaders {
                    timestamp: header("Wechatpay-Timestamp"),
                    nonce: header("Wechatpay-Nonce"),
                    signature: header("Wechatpay-Signature"),
                    serial: header("Wechatpay-Serial"),
                };
                let Ok(notification) = pay.verify_notification(&headers, &body, Utc::now()) else {
                    return StatusCode::UNAUTHORIZED;
                };
                if failures_left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                let _ = tx.send(notification);
                StatusCode::NO_CONTENT
            }
        });
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
        Receiver {
            url,
            pay,
            notifications,
        }
    }

    /// The next verified notification (a guard, not a wait: it normally comes at once).
    async fn next(&mut self) -> Notification {
        tokio::time::timeout(Duration::from_secs(10), self.notifications.recv())
            .await
            .expect("a notification within 10 s")
            .expect("the receiver is running")
    }
}

#[tokio::test]
async fn a_payment_is_notified_and_redelivered_until_acknowledged() {
    let fake = fake().await;
    let mut receiver = Receiver::start(&fake, 1).await;
    let openid = FakeWeChat::openid_for("pia");
    receiver
        .pay
        .jsapi_prepay(&order_for("R2611220020", 1999, &openid))
        .await
        .unwrap();
    fake.pay("R2611220020").await.unwrap();
    let Notification::Transaction {
        id,
        event_type,
        transaction,
    } = receiver.next().await
    else {
        panic!("a transaction notification");
    };
    assert!(!id.is_empty());
    assert_eq!(event_type, "TRANSACTION.SUCCESS");
    assert_eq!(transaction.out_trade_no, "R2611220020");
    assert_eq!(transaction.trade_state, TradeState::Success);
    assert_eq!(transaction.amount_total, 1999);
    assert_eq!(transaction.payer_total, Some(1999));
    assert_eq!(transaction.currency, "CNY");
    assert_eq!(transaction.payer_openid.as_deref(), Some(openid.as_str()));
    assert!(transaction.transaction_id.is_some() && transaction.success_time.is_some());
    fake.wait_for_deliveries(2).await;
    let deliveries = fake.notification_deliveries();
    let statuses: Vec<u16> = deliveries.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [500, 204], "refused once, delivered again");
    assert!(
        deliveries
            .iter()
            .all(|d| d.notification_id == id && d.url == receiver.url)
    );
    assert!(matches!(
        fake.pay("R2611220020").await,
        Err(wechat_integration::fake::FakeError::NotPayable(_))
    ));
}

#[tokio::test]
async fn duplicates_arrive_and_probes_are_refused() {
    let fake = fake().await;
    let mut receiver = Receiver::start(&fake, 0).await;
    receiver
        .pay
        .jsapi_prepay(&order("R2611220021", 500))
        .await
        .unwrap();
    fake.set_duplicate_notifications(3);
    fake.pay("R2611220021").await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        match receiver.next().await {
            Notification::Transaction {
                id, transaction, ..
            } => {
                assert_eq!(transaction.out_trade_no, "R2611220021");
                ids.push(id);
            }
            other => panic!("{other:?}"),
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "three deliveries of one notification");
    fake.wait_for_deliveries(3).await;
    assert_eq!(fake.send_probe_notification(&receiver.url).await, 401);
    assert!(
        receiver.notifications.try_recv().is_err(),
        "the probe was not accepted"
    );
}

#[tokio::test]
async fn a_refund_is_answered_and_notified() {
    let fake = fake().await;
    let mut receiver = Receiver::start(&fake, 0).await;
    let pay = receiver.pay.clone();
    pay.jsapi_prepay(&order("R2611220022", 3000)).await.unwrap();
    fake.pay("R2611220022").await.unwrap();
    assert!(matches!(
        receiver.next().await,
        Notification::Transaction { .. }
    ));
    let refund = pay
        .refund(&RefundRequest {
            out_trade_no: "R2611220022".into(),
            out_refund_no: "RF2611220022".into(),
            reason: Some("客户取消".into()),
            refund_fen: 3000,
            total_fen: 3000,
        })
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Success);
    assert_eq!(refund.out_trade_no, "R2611220022");
    match receiver.next().await {
        Notification::Refund {
            event_type,
            refund: notice,
            ..
        } => {
            assert_eq!(event_type, "REFUND.SUCCESS");
            assert_eq!(notice.refund_id, refund.refund_id);
            assert_eq!(notice.out_refund_no, "RF2611220022");
            assert_eq!(notice.status, RefundStatus::Success);
            assert_eq!(notice.refund_fen, 3000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        pay.query_order("R2611220022").await.unwrap().trade_state,
        TradeState::Refund
    );
    let again = pay.query_refund("RF2611220022").await.unwrap();
    assert_eq!(again.refund_id, refund.refund_id);
}
