//! Counted subscription consents: each accepted request adds one, each send takes one, never
//! more than given even when senders race, and WeChat's 43101 or a ban clears them.

use domain::subscriptions;
use rouge_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

const RECORD: &str = "mutation($r: [SubscriptionResultInput!]!) { recordSubscriptions(results: $r) { templateId remaining } }";

async fn consents_are_counted_and_never_overspent(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (me, id) = app.login_member("ivy").await;
    let id: i64 = id.parse().unwrap();
    for _ in 0..3 {
        me.ok(
            RECORD,
            json!({ "r": [
            { "templateId": "tpl_booking", "answer": "ACCEPT" },
            { "templateId": "tpl_campaign", "answer": "REJECT" }
        ] }),
        )
        .await;
    }
    let data = me
        .ok(
            "{ mySubscriptionConsents { templateId remaining } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["mySubscriptionConsents"],
        json!([{ "templateId": "tpl_booking", "remaining": 3 }])
    );

    // Ten senders race for three consents.
    let now = chrono::Utc::now();
    let takes = (0..10).map(|_| subscriptions::take(app.db(), id, "tpl_booking", now));
    let taken = futures::future::join_all(takes)
        .await
        .into_iter()
        .filter(|t| *t.as_ref().unwrap())
        .count();
    assert_eq!(taken, 3);
    assert_eq!(
        subscriptions::remaining(app.db(), id, "tpl_booking")
            .await
            .unwrap(),
        0
    );
    assert!(
        !subscriptions::take(app.db(), id, "tpl_booking", now)
            .await
            .unwrap()
    );

    // 43101 from WeChat zeroes whatever we counted.
    me.ok(
        RECORD,
        json!({ "r": [{ "templateId": "tpl_booking", "answer": "ACCEPT" }] }),
    )
    .await;
    subscriptions::exhausted(app.db(), id, "tpl_booking", now)
        .await
        .unwrap();
    assert_eq!(
        subscriptions::remaining(app.db(), id, "tpl_booking")
            .await
            .unwrap(),
        0
    );

    // A ban clears too; malformed reports change nothing.
    me.ok(
        RECORD,
        json!({ "r": [{ "templateId": "tpl_x", "answer": "ACCEPT" }] }),
    )
    .await;
    me.ok(
        RECORD,
        json!({ "r": [{ "templateId": "tpl_x", "answer": "BAN" }] }),
    )
    .await;
    assert_eq!(
        subscriptions::remaining(app.db(), id, "tpl_x")
            .await
            .unwrap(),
        0
    );
    assert_eq!(me.err(RECORD, json!({ "r": [] })).await, "BAD_USER_INPUT");
    assert_eq!(
        me.err(RECORD, json!({ "r": [{ "templateId": "tpl_x", "answer": "ACCEPT" }, { "templateId": "bad id!", "answer": "ACCEPT" }] })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        subscriptions::remaining(app.db(), id, "tpl_x")
            .await
            .unwrap(),
        0,
        "nothing recorded from a refused report"
    );
}

on_both_backends!(consents_are_counted_and_never_overspent);

/// The one door for every sender: a consent per send, 43101 zeroes, failures give it back.
async fn sending_uses_one_consent_per_message(backend: Backend) {
    use domain::subscriptions::SendOutcome;
    use wechat_integration::SubscribeMessage;
    use wechat_integration::fake::{FakeWeChat, Fault, FaultScope};

    let app = TestApp::start(backend).await;
    let (me, id) = app.login_member("wendy").await;
    let id: i64 = id.parse().unwrap();
    let openid = FakeWeChat::openid_for("wendy");
    let message = || SubscribeMessage {
        template_id: "tpl_visit".into(),
        page: Some("pages/booking/index".into()),
        data: [
            ("thing1".to_owned(), "面部护理".to_owned()),
            ("time2".to_owned(), "2026-11-23 10:00".to_owned()),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    for _ in 0..2 {
        me.ok(
            RECORD,
            json!({ "r": [{ "templateId": "tpl_visit", "answer": "ACCEPT" }] }),
        )
        .await;
    }
    app.wechat.add_consents(&openid, "tpl_visit", 2);
    let send = || subscriptions::send_with_consent(&app.state, id, &openid, message());

    // A busy WeChat gives the consent back.
    app.wechat
        .set_fault_times(FaultScope::SubscribeSend, Some(Fault::Busy), Some(1));
    assert_eq!(send().await.unwrap(), SendOutcome::Retry);
    assert_eq!(
        subscriptions::remaining(app.db(), id, "tpl_visit")
            .await
            .unwrap(),
        2
    );
    assert!(matches!(send().await.unwrap(), SendOutcome::Sent { .. }));
    assert!(matches!(send().await.unwrap(), SendOutcome::Sent { .. }));
    assert_eq!(
        send().await.unwrap(),
        SendOutcome::NoConsent,
        "two consents, two messages"
    );
    assert_eq!(app.wechat.sent_messages().len(), 2);

    // Rouge believes in one more consent than WeChat has: 43101 zeroes the count.
    me.ok(
        RECORD,
        json!({ "r": [{ "templateId": "tpl_visit", "answer": "ACCEPT" }] }),
    )
    .await;
    assert_eq!(send().await.unwrap(), SendOutcome::Refused);
    assert_eq!(
        subscriptions::remaining(app.db(), id, "tpl_visit")
            .await
            .unwrap(),
        0
    );

    // A value that breaks its key's rule is refused before WeChat, and the consent is kept.
    me.ok(
        RECORD,
        json!({ "r": [{ "templateId": "tpl_visit", "answer": "ACCEPT" }] }),
    )
    .await;
    let mut bad = message();
    bad.data.insert(
        "thing1".into(),
        "这是一个超过二十个字符长度限制的服务名称会被拒绝的".into(),
    );
    let outcome = subscriptions::send_with_consent(&app.state, id, &openid, bad)
        .await
        .unwrap();
    assert!(matches!(outcome, SendOutcome::Rejected(_)), "{outcome:?}");
    assert_eq!(
        subscriptions::remaining(app.db(), id, "tpl_visit")
            .await
            .unwrap(),
        1
    );
}

on_both_backends!(sending_uses_one_consent_per_message);
