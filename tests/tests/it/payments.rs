//! WeChat Pay notifications that match nothing (unknown refunds and payments, money for a
//! closed order), the awaiting-payment guard, and each layer of the duplicate guard.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::payments::{self, NotifyOutcome, UnmatchedReason};
use domain::platform::clock::{Clock, ManualClock};
use domain::{inventory, loyalty};
use rouge_tests::fixtures::{self, Catalog};
use rouge_tests::{Backend, Gql, TestApp, eventually, on_both_backends};
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use wechat_integration::NotificationHeaders;

const PLACE: &str = "mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id orderNo totalFen } }";
const UNMATCHED: &str = "query($first: Int, $after: String) { unmatchedPaymentNotifications(first: $first, after: $after) {
  edges { cursor node { notificationId kind reason outTradeNo outRefundNo amountFen summary receivedAt } }
  pageInfo { hasNextPage } } }";

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
}

async fn place(app: &TestApp, me: &Gql, cat: &Catalog, sku: i64) -> Value {
    let _ = app;
    let input = json!({ "lines": [{ "skuId": sku.to_string(), "quantity": 1 }], "pickupStoreId": cat.store_id.to_string() });
    me.ok(PLACE, json!({ "i": input, "k": key() })).await["placeOrder"].clone()
}

async fn order_row(app: &TestApp, order_no: &str) -> entities::order::Model {
    entities::order::Entity::find()
        .filter(entities::order::Column::OrderNo.eq(order_no))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn available(app: &TestApp, sku: i64, location: i64) -> i64 {
    inventory::available_by_sku(&app.state, &[sku], Some(location))
        .await
        .unwrap()
        .get(&sku)
        .copied()
        .unwrap_or(0)
}

/// Posts a notification to the server as WeChat would; returns the HTTP status.
async fn post(app: &TestApp, (headers, body): &(NotificationHeaders, Vec<u8>)) -> u16 {
    app.http
        .post(format!("{}/wechat/pay/notify", app.base_url))
        .header("Wechatpay-Timestamp", &headers.timestamp)
        .header("Wechatpay-Nonce", &headers.nonce)
        .header("Wechatpay-Signature", &headers.signature)
        .header("Wechatpay-Serial", &headers.serial)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A signed TRANSACTION.SUCCESS notification with a chosen transaction id (a fresh
/// notification id each call).
fn payment(
    app: &TestApp,
    out_trade_no: &str,
    transaction_id: &str,
    amount_fen: i64,
    at: DateTime<Utc>,
) -> (NotificationHeaders, Vec<u8>) {
    let config = app.wechat.pay_config("https://unused.example/notify");
    let plaintext = json!({
        "appid": config.app_id,
        "mchid": config.mch_id,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "success_time": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "payer": { "openid": "o-secret-payer" },
        "amount": { "total": amount_fen, "payer_total": amount_fen, "currency": "CNY" },
    });
    app.wechat
        .signed_notification("TRANSACTION.SUCCESS", "transaction", &plaintext, at)
}

/// A signed REFUND.SUCCESS notification.
fn refund(
    app: &TestApp,
    out_trade_no: &str,
    out_refund_no: &str,
    refund_fen: i64,
    at: DateTime<Utc>,
) -> (NotificationHeaders, Vec<u8>) {
    let config = app.wechat.pay_config("https://unused.example/notify");
    let plaintext = json!({
        "mchid": config.mch_id,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000000000000000001",
        "out_refund_no": out_refund_no,
        "refund_id": "50300000000000000000001",
        "refund_status": "SUCCESS",
        "success_time": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "user_received_account": "支付用户零钱",
        "amount": { "total": refund_fen, "refund": refund_fen, "payer_total": refund_fen, "payer_refund": refund_fen },
    });
    app.wechat
        .signed_notification("REFUND.SUCCESS", "refund", &plaintext, at)
}

/// Every unmatched notification HQ sees, following the pages.
async fn unmatched(hq: &Gql) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = hq
            .ok(UNMATCHED, json!({ "first": 2, "after": after }))
            .await;
        let page = &data["unmatchedPaymentNotifications"];
        let edges = page["edges"].as_array().unwrap();
        all.extend(edges.iter().map(|e| e["node"].clone()));
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return all;
        }
        after = edges.last().unwrap()["cursor"].clone();
    }
}

/// What a notification may not change: orders, refunds and the points ledger.
async fn business_state(app: &TestApp) -> (Vec<(String, String)>, u64, u64) {
    let orders = entities::order::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.order_no, o.status.to_value()))
        .collect();
    let refunds = entities::refund::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    let points = entities::points_ledger::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    (orders, refunds, points)
}

/// A member with one paid order, so there is business data a stray notification could touch.
async fn with_a_paid_order(app: &TestApp, cat: &Catalog) -> Value {
    let (me, _) = app.login_member("wendy").await;
    let order = place(app, &me, cat, cat.serum_sku).await;
    let order_no = order["orderNo"].as_str().unwrap();
    me.ok(
        "mutation($id: ID!) { payOrder(orderId: $id) { package } }",
        json!({ "id": order["id"] }),
    )
    .await;
    app.wechat.pay(order_no).await.unwrap();
    eventually(10, "the payment notification", || async {
        order_row(app, order_no).await.status.to_value() == "PAID"
    })
    .await;
    order
}

async fn a_refund_we_never_issued_is_acknowledged_and_kept_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let order = with_a_paid_order(&app, &cat).await;
    let order_no = order["orderNo"].as_str().unwrap();
    let before = business_state(&app).await;
    // Refunded in the merchant console: WeChat tells us about a refund number we never made.
    let notification = refund(&app, order_no, "CONSOLE-REFUND-1", 10_000, Utc::now());
    for _ in 0..3 {
        assert_eq!(post(&app, &notification).await, 204, "acknowledged");
    }
    let hq = app.login_staff("hq-demo").await;
    let listed = unmatched(&hq).await;
    assert_eq!(listed.len(), 1, "three deliveries, one record: {listed:?}");
    let n = &listed[0];
    assert_eq!(n["kind"], "REFUND");
    assert_eq!(n["reason"], "UNKNOWN_REFUND");
    assert_eq!(n["outRefundNo"], "CONSOLE-REFUND-1");
    assert_eq!(n["outTradeNo"], order_no);
    assert_eq!(n["amountFen"], 10_000);
    let summary: Value = serde_json::from_str(n["summary"].as_str().unwrap()).unwrap();
    assert_eq!(summary["refund_id"], "50300000000000000000001");
    assert_eq!(summary["refund_status"], "SUCCESS");
    assert_eq!(
        business_state(&app).await,
        before,
        "no order, refund or points changed"
    );
    assert_eq!(available(&app, cat.serum_sku, cat.store_location).await, 4);
    // Finance is HQ: a store manager may not read it.
    let manager = app.login_staff("manager-demo").await;
    assert_eq!(
        manager.err(UNMATCHED, json!({ "first": 5 })).await,
        "FORBIDDEN"
    );
}

async fn a_payment_for_no_order_is_acknowledged_and_kept_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    with_a_paid_order(&app, &cat).await;
    let before = business_state(&app).await;
    let notification = payment(
        &app,
        "R-NO-SUCH-ORDER",
        "4200000000000000000099",
        12_345,
        Utc::now(),
    );
    for _ in 0..3 {
        assert_eq!(post(&app, &notification).await, 204, "acknowledged");
    }
    let hq = app.login_staff("hq-demo").await;
    let listed = unmatched(&hq).await;
    assert_eq!(listed.len(), 1, "three deliveries, one record: {listed:?}");
    let n = &listed[0];
    assert_eq!(n["kind"], "PAYMENT");
    assert_eq!(n["reason"], "UNKNOWN_ORDER");
    assert_eq!(n["outTradeNo"], "R-NO-SUCH-ORDER");
    assert_eq!(n["outRefundNo"], Value::Null);
    assert_eq!(n["amountFen"], 12_345);
    let summary = n["summary"].as_str().unwrap();
    assert!(summary.contains("4200000000000000000099"), "{summary}");
    assert!(
        !summary.contains("o-secret-payer"),
        "no payer identity: {summary}"
    );
    assert_eq!(business_state(&app).await, before);
    // A second unknown payment is a second record; pages follow the cursor.
    for i in 0..2 {
        let other = payment(
            &app,
            &format!("R-STRAY-{i}"),
            "4200000000000000000098",
            1,
            Utc::now(),
        );
        assert_eq!(post(&app, &other).await, 204);
    }
    let listed = unmatched(&hq).await;
    let numbers: Vec<&str> = listed
        .iter()
        .map(|n| n["outTradeNo"].as_str().unwrap())
        .collect();
    assert_eq!(
        numbers,
        vec!["R-STRAY-1", "R-STRAY-0", "R-NO-SUCH-ORDER"],
        "newest first"
    );
}

async fn forged_unmatched_notifications_are_refused_and_not_kept(backend: Backend) {
    let app = TestApp::start(backend).await;
    let now = Utc::now();
    let tamper = |(headers, mut body): (NotificationHeaders, Vec<u8>)| {
        let at = body.len() - 3;
        body[at] ^= 1;
        (headers, body)
    };
    let forged = [
        tamper(refund(&app, "R-X", "CONSOLE-REFUND-2", 100, now)),
        tamper(payment(
            &app,
            "R-NO-SUCH-ORDER",
            "4200000000000000000097",
            100,
            now,
        )),
        // Correctly signed, but replayed after more than five minutes.
        refund(
            &app,
            "R-X",
            "CONSOLE-REFUND-3",
            100,
            now - chrono::Duration::minutes(6),
        ),
        payment(
            &app,
            "R-Y",
            "4200000000000000000096",
            100,
            now - chrono::Duration::minutes(6),
        ),
    ];
    for notification in &forged {
        assert_eq!(post(&app, notification).await, 401);
    }
    // Unsigned.
    let (_, body) = refund(&app, "R-X", "CONSOLE-REFUND-4", 100, now);
    assert_eq!(
        post(&app, &(NotificationHeaders::default(), body)).await,
        401
    );
    let url = format!("{}/wechat/pay/notify", app.base_url);
    assert_eq!(app.wechat.send_probe_notification(&url).await, 401);
    let hq = app.login_staff("hq-demo").await;
    assert_eq!(
        unmatched(&hq).await,
        Vec::<Value>::new(),
        "nothing recorded"
    );
    assert_eq!(
        entities::payment_notification::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );
}

async fn a_payment_after_the_order_closed_keeps_it_closed(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 3).await;
    let (me, member_id) = app.login_member("xena").await;
    let member_id: i64 = member_id.parse().unwrap();
    let order = place(&app, &me, &cat, cat.serum_sku).await;
    me.ok(
        "mutation($id: ID!) { payOrder(orderId: $id) { package } }",
        json!({ "id": order["id"] }),
    )
    .await;
    let order_no = order["orderNo"].as_str().unwrap();
    clock.advance(chrono::Duration::minutes(16));
    assert_eq!(payments::close_overdue_orders(&app.state).await.unwrap(), 1);
    assert_eq!(order_row(&app, order_no).await.status.to_value(), "CLOSED");
    assert_eq!(available(&app, cat.serum_sku, cat.store_location).await, 3);
    // The payer's money arrives after all (a delayed payment, a notification held up).
    let late = payment(
        &app,
        order_no,
        "4200000000000000000011",
        29_900,
        clock.now(),
    );
    assert_eq!(post(&app, &late).await, 204, "acknowledged");
    assert_eq!(post(&app, &late).await, 204, "and again");
    let row = order_row(&app, order_no).await;
    assert_eq!(
        row.status.to_value(),
        "CLOSED",
        "a late payment never reopens an order"
    );
    assert_eq!(row.paid_at, None);
    assert_eq!(available(&app, cat.serum_sku, cat.store_location).await, 3);
    assert_eq!(
        loyalty::points_balance(&app.state, member_id)
            .await
            .unwrap(),
        0
    );
    let hq = app.login_staff("hq-demo").await;
    let listed = unmatched(&hq).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["reason"], "LATE_FOR_CLOSED_ORDER");
    assert_eq!(listed[0]["outTradeNo"], order_no);
    assert_eq!(listed[0]["amountFen"], 29_900);
    assert!(inventory::ledger_balances(&app.state).await.unwrap());
}

async fn a_payment_for_a_refunded_order_keeps_it_refunded(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 3).await;
    let order = with_a_paid_order(&app, &cat).await;
    let order_no = order["orderNo"].as_str().unwrap();
    let hq = app.login_staff("hq-demo").await;
    hq.ok(
        "mutation($id: ID!) { refundOrder(orderId: $id) { status } }",
        json!({ "id": order["id"] }),
    )
    .await;
    assert_eq!(
        order_row(&app, order_no).await.status.to_value(),
        "REFUNDED"
    );
    let points_before = business_state(&app).await.2;
    // A second payment of the same order (another transaction).
    let again = payment(&app, order_no, "4200000000000000000012", 29_900, Utc::now());
    assert_eq!(post(&app, &again).await, 204);
    assert_eq!(
        order_row(&app, order_no).await.status.to_value(),
        "REFUNDED"
    );
    assert_eq!(business_state(&app).await.2, points_before);
    let listed = unmatched(&hq).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["reason"], "NOT_AWAITING_PAYMENT");
}

async fn a_payment_racing_the_overdue_close_ends_paid_or_closed(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    const ORDERS: usize = 12;
    let cat = fixtures::catalog(&app, ORDERS as i64).await;
    let (me, _) = app.login_member("yara").await;
    let mut orders = Vec::new();
    for _ in 0..ORDERS {
        orders.push(place(&app, &me, &cat, cat.cream_sku).await);
    }
    assert_eq!(available(&app, cat.cream_sku, cat.store_location).await, 0);
    clock.advance(chrono::Duration::minutes(16));
    let notifications: Vec<_> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let no = o["orderNo"].as_str().unwrap();
            payment(
                &app,
                no,
                &format!("42000000000000000001{i:02}"),
                19_900,
                clock.now(),
            )
        })
        .collect();
    // The close walks the orders oldest first while the payments arrive newest first, so the
    // two meet somewhere in the middle: orders before it close first, orders after it are paid.
    let deliveries = async {
        let mut statuses = Vec::new();
        for n in notifications.iter().rev() {
            statuses.push(post(&app, n).await);
        }
        statuses
    };
    let (statuses, closed) = tokio::join!(deliveries, async {
        payments::close_overdue_orders(&app.state).await.unwrap()
    });
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    let hq = app.login_staff("hq-demo").await;
    let late: Vec<String> = unmatched(&hq)
        .await
        .iter()
        .map(|n| {
            assert_eq!(n["reason"], "LATE_FOR_CLOSED_ORDER");
            n["outTradeNo"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut paid = 0;
    for o in &orders {
        let no = o["orderNo"].as_str().unwrap();
        let row = order_row(&app, no).await;
        match row.status.to_value().as_str() {
            "PAID" => {
                paid += 1;
                assert!(!late.iter().any(|l| l == no), "{no} paid and late");
            }
            "CLOSED" => assert!(
                late.iter().any(|l| l == no),
                "{no} closed but its money not kept for finance"
            ),
            other => panic!("{no} ended {other}"),
        }
    }
    eprintln!("{paid} of {ORDERS} orders paid, the others closed first");
    assert_eq!(closed as usize, ORDERS - paid);
    assert_eq!(
        available(&app, cat.cream_sku, cat.store_location).await,
        (ORDERS - paid) as i64,
        "closed orders returned their stock, paid ones kept it"
    );
    assert_eq!(
        entities::points_ledger::Entity::find()
            .count(app.db())
            .await
            .unwrap() as usize,
        paid,
        "points for paid orders only"
    );
    assert!(inventory::ledger_balances(&app.state).await.unwrap());
}

async fn one_notification_delivered_twice_is_handled_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let (me, _) = app.login_member("zoe").await;
    let order = place(&app, &me, &cat, cat.serum_sku).await;
    let (headers, body) = payment(
        &app,
        order["orderNo"].as_str().unwrap(),
        "4200000000000000000021",
        29_900,
        Utc::now(),
    );
    let handle = || payments::handle_notification(&app.state, &headers, &body);
    assert_eq!(handle().await.unwrap(), NotifyOutcome::Applied);
    assert_eq!(
        handle().await.unwrap(),
        NotifyOutcome::Duplicate,
        "the same notification id is recognised before the order is touched"
    );
    // The same notification, delivered many times at once.
    let (me2, _) = app.login_member("zoe2").await;
    let order2 = place(&app, &me2, &cat, cat.serum_sku).await;
    let (headers, body) = payment(
        &app,
        order2["orderNo"].as_str().unwrap(),
        "4200000000000000000022",
        29_900,
        Utc::now(),
    );
    let outcomes = futures::future::join_all(
        (0..10).map(|_| payments::handle_notification(&app.state, &headers, &body)),
    )
    .await;
    let outcomes: Vec<NotifyOutcome> = outcomes.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == NotifyOutcome::Applied)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == NotifyOutcome::Duplicate)
            .count(),
        9,
        "{outcomes:?}"
    );
    assert_eq!(
        entities::points_ledger::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        2
    );
}

async fn other_notifications_of_one_payment_change_nothing(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 5).await;
    let (me, member_id) = app.login_member("amy").await;
    let member_id: i64 = member_id.parse().unwrap();
    let order = place(&app, &me, &cat, cat.serum_sku).await;
    let order_no = order["orderNo"].as_str().unwrap();
    let first = payment(
        &app,
        order_no,
        "4200000000000000000031",
        29_900,
        clock.now(),
    );
    assert_eq!(
        payments::handle_notification(&app.state, &first.0, &first.1)
            .await
            .unwrap(),
        NotifyOutcome::Applied
    );
    let paid = order_row(&app, order_no).await;
    clock.advance(chrono::Duration::minutes(1));
    // WeChat (or the overdue check) tells of the same transaction under another notification id.
    let again = payment(
        &app,
        order_no,
        "4200000000000000000031",
        29_900,
        clock.now(),
    );
    assert_eq!(
        payments::handle_notification(&app.state, &again.0, &again.1)
            .await
            .unwrap(),
        NotifyOutcome::AlreadyApplied
    );
    // Many at once, each with its own id.
    let copies: Vec<_> = (0..10)
        .map(|_| {
            payment(
                &app,
                order_no,
                "4200000000000000000031",
                29_900,
                clock.now(),
            )
        })
        .collect();
    let outcomes = futures::future::join_all(
        copies
            .iter()
            .map(|(h, b)| payments::handle_notification(&app.state, h, b)),
    )
    .await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(NotifyOutcome::AlreadyApplied))),
        "{outcomes:?}"
    );
    let row = order_row(&app, order_no).await;
    assert_eq!(row.paid_at, paid.paid_at, "paid once, not again");
    assert_eq!(row.updated_at, paid.updated_at);
    let me_data = me
        .ok("{ me { points cumulativeSpendFen } }", json!({}))
        .await;
    assert_eq!(
        me_data["me"],
        json!({ "points": 299, "cumulativeSpendFen": "29900" })
    );
    assert_eq!(
        entities::points_ledger::Entity::find()
            .filter(entities::points_ledger::Column::MemberId.eq(member_id))
            .count(app.db())
            .await
            .unwrap(),
        1
    );
    // A different transaction for the paid order is money to give back, not a second payment.
    let double = payment(
        &app,
        order_no,
        "4200000000000000000032",
        29_900,
        clock.now(),
    );
    assert_eq!(
        payments::handle_notification(&app.state, &double.0, &double.1)
            .await
            .unwrap(),
        NotifyOutcome::Unmatched(UnmatchedReason::NotAwaitingPayment)
    );
    assert_eq!(
        order_row(&app, order_no).await.transaction_id.as_deref(),
        Some("4200000000000000000031")
    );
}

on_both_backends!(
    a_refund_we_never_issued_is_acknowledged_and_kept_once,
    a_payment_for_no_order_is_acknowledged_and_kept_once,
    forged_unmatched_notifications_are_refused_and_not_kept,
    a_payment_after_the_order_closed_keeps_it_closed,
    a_payment_for_a_refunded_order_keeps_it_refunded,
    a_payment_racing_the_overdue_close_ends_paid_or_closed,
    one_notification_delivered_twice_is_handled_once,
    other_notifications_of_one_payment_change_nothing
);
