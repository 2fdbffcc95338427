//! The development-only WeChat Pay routes (`POST /dev/wechat/pay/{outTradeNo}/succeed|fail`):
//! they drive the fake WeChat Pay, whose notification goes through the real notify path; they
//! exist only with the fake WeChat outside production.

use api::config::{Config, Environment, WeChatMode};
use api::dev_pay::DevWeChatPay;
use rouge_tests::fixtures::{self, Catalog};
use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const PLACE: &str = "mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id orderNo totalFen status } }";
const PAY: &str = "mutation($id: ID!) { payOrder(orderId: $id) { package } }";

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
}

/// A consumer's online order (pick-up at the demo store), not yet paid.
async fn place(me: &Gql, cat: &Catalog) -> Value {
    let input = json!({ "lines": [{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }], "pickupStoreId": cat.store_id.to_string() });
    let order = me.ok(PLACE, json!({ "i": input, "k": key() })).await["placeOrder"].clone();
    assert_eq!(order["status"], "PENDING_PAYMENT");
    order
}

async fn dev_post(app: &TestApp, order_no: &str, action: &str) -> (u16, Value) {
    let response = app
        .http
        .post(format!(
            "{}/dev/wechat/pay/{order_no}/{action}",
            app.base_url
        ))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn order_status(app: &TestApp, order_no: &str) -> String {
    entities::order::Entity::find()
        .filter(entities::order::Column::OrderNo.eq(order_no))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .status
        .to_value()
}

async fn points_entries(app: &TestApp, member_id: i64) -> Vec<entities::points_ledger::Model> {
    entities::points_ledger::Entity::find()
        .filter(entities::points_ledger::Column::MemberId.eq(member_id))
        .all(app.db())
        .await
        .unwrap()
}

async fn succeed_pays_once_through_the_real_notify_path(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let (me, member_id) = app.login_member("devpay-paula").await;
    let member_id: i64 = member_id.parse().unwrap();
    let order = place(&me, &cat).await;
    let order_no = order["orderNo"].as_str().unwrap();
    let total = order["totalFen"].as_i64().unwrap();
    me.ok(PAY, json!({ "id": order["id"] })).await;

    let (status, body) = dev_post(&app, order_no, "succeed").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outTradeNo"], order_no);
    assert_eq!(body["tradeState"], "SUCCESS");
    assert_eq!(body["orderStatus"], "PAID");
    // Through the real notify path, signed and encrypted, and accepted there.
    let deliveries = app.wechat.notification_deliveries();
    assert!(
        deliveries
            .iter()
            .any(|d| d.event_type == "TRANSACTION.SUCCESS"
                && d.url.ends_with(api::http::PAY_NOTIFY_PATH)
                && d.status == 204),
        "{deliveries:?}"
    );
    let data = me
        .ok(
            "query($id: ID!) { order(id: $id) { status paymentMethod paidAt } }",
            json!({ "id": order["id"] }),
        )
        .await;
    assert_eq!(data["order"]["status"], "PAID");
    assert_eq!(data["order"]["paymentMethod"], "WECHAT");
    assert!(!data["order"]["paidAt"].is_null());
    let entries = points_entries(&app, member_id).await;
    assert_eq!(entries.len(), 1, "points as for a real payment");
    assert_eq!(entries[0].delta, total / 100);

    // Again: refused, and nothing is paid twice.
    let (status, body) = dev_post(&app, order_no, "succeed").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "NOT_AWAITING_PAYMENT");
    assert_eq!(body["orderStatus"], "PAID");
    let (status, _) = dev_post(&app, order_no, "fail").await;
    assert_eq!(status, 409);
    assert_eq!(points_entries(&app, member_id).await.len(), 1);
    assert_eq!(
        me.ok("{ me { points } }", json!({})).await["me"]["points"],
        total / 100
    );
    app.stop().await;
}

async fn a_failed_payment_stays_unpaid_and_cannot_be_paid_later(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let (me, member_id) = app.login_member("devpay-fiona").await;
    let member_id: i64 = member_id.parse().unwrap();
    let order = place(&me, &cat).await;
    let order_no = order["orderNo"].as_str().unwrap();

    // Before payOrder, WeChat Pay has no trade for it.
    let (status, body) = dev_post(&app, order_no, "succeed").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "NO_TRADE");
    me.ok(PAY, json!({ "id": order["id"] })).await;

    let (status, body) = dev_post(&app, order_no, "fail").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tradeState"], "PAYERROR");
    assert_eq!(body["notification"], "none");
    assert_eq!(body["orderStatus"], "PENDING_PAYMENT");
    assert_eq!(
        app.wechat.trade_state(order_no).as_deref(),
        Some("PAYERROR")
    );
    assert!(
        app.wechat.notification_deliveries().is_empty(),
        "WeChat Pay notifies successful payments only"
    );
    assert_eq!(order_status(&app, order_no).await, "PENDING_PAYMENT");

    // The failed trade cannot be paid any more.
    let (status, body) = dev_post(&app, order_no, "succeed").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "TRADE_NOT_PAYABLE");
    assert_eq!(body["tradeState"], "PAYERROR");
    assert_eq!(order_status(&app, order_no).await, "PENDING_PAYMENT");
    assert!(points_entries(&app, member_id).await.is_empty());

    // An order number nobody issued.
    for action in ["succeed", "fail"] {
        let (status, body) = dev_post(&app, "NO-SUCH-ORDER-1", action).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"], "NOT_FOUND");
    }
    app.stop().await;
}

on_both_backends!(
    succeed_pays_once_through_the_real_notify_path,
    a_failed_payment_stays_unpaid_and_cannot_be_paid_later,
);

fn live_wechat() -> Config {
    let mut config = Config::default();
    config.wechat.mode = WeChatMode::Live;
    config
}

fn production() -> Config {
    Config {
        env: Environment::Production,
        ..Default::default()
    }
}

/// With live WeChat or in production the routes are not mounted: 404 as any unknown path, and
/// the trade is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_routes_are_absent_with_live_wechat_or_in_production() {
    for config in [live_wechat(), production()] {
        let app = TestApp::builder(Backend::Embedded)
            .config(config)
            .start()
            .await;
        let cat = fixtures::catalog(&app, 5).await;
        let (me, _) = app.login_member("devpay-lena").await;
        let order = place(&me, &cat).await;
        let order_no = order["orderNo"].as_str().unwrap();
        me.ok(PAY, json!({ "id": order["id"] })).await;
        for action in ["succeed", "fail"] {
            let (status, body) = dev_post(&app, order_no, action).await;
            assert_eq!(status, 404, "not mounted: {body}");
            assert!(body.is_null(), "poem's own 404, not the route's: {body}");
        }
        assert_eq!(app.wechat.trade_state(order_no).as_deref(), Some("NOTPAY"));
        assert_eq!(order_status(&app, order_no).await, "PENDING_PAYMENT");
        app.stop().await;
    }
}

/// The mounting decision itself: the fake WeChat, outside production, and a fake to drive.
#[tokio::test]
async fn the_routes_need_the_fake_wechat_outside_production() {
    let fake = wechat_integration::fake::FakeWeChat::start(Default::default())
        .await
        .unwrap();
    assert!(DevWeChatPay::for_config(&Config::default(), Some(&fake)).is_some());
    assert!(DevWeChatPay::for_config(&Config::default(), None).is_none());
    assert!(DevWeChatPay::for_config(&live_wechat(), Some(&fake)).is_none());
    assert!(DevWeChatPay::for_config(&production(), Some(&fake)).is_none());
    // The configuration `http_options` derives never mounts them by itself.
    assert!(
        api::http_options(&Config::default())
            .dev_wechat_pay
            .is_none()
    );
    fake.shutdown().await;
}
