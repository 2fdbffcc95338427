//! The real clients against the fake WeChat over loopback: the contract both sides speak
//! (WECHAT.md), with real signatures, encryption and single-use codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use wechat_integration::fake::{FakeConfig, FakeWeChat, Fault, FaultScope};
use wechat_integration::{
    JsapiOrder, MemoryTokenCache, MiniProgram, MiniProgramClient, Notification, RefundRequest,
    RefundStatus, SubscribeMessage, TradeState, WeChatError, WeChatErrorKind, WeChatPay,
    WeChatPayClient, WxaCodeRequest,
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
    assert_eq!(
        kind(client.phone_number("test:bob:1").await),
        WeChatErrorKind::CodeUsed
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
    JsapiOrder {
        description: "Rouge 订单".into(),
        out_trade_no: no.into(),
        amount_fen: amount,
        payer_openid: FakeWeChat::openid_for("payer"),
        time_expire: None,
        attach: None,
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
