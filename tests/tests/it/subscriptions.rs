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
