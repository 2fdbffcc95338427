//! Orders, WeChat Pay, stock, points and tiers end to end.

use std::sync::Arc;

use domain::platform::clock::ManualClock;
use domain::{inventory, loyalty, payments};
use rouge_tests::fixtures::{self, Catalog};
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, Gql, TestApp, eventually, on_both_backends};
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const PLACE: &str = "mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) {
  id orderNo status subtotalFen discountFen totalFen baId payDeadline lines { id skuId quantity lineTotalFen } discounts { kind amountFen } } }";
const PAY: &str =
    "mutation($id: ID!) { payOrder(orderId: $id) { timeStamp nonceStr package signType paySign } }";

fn pickup(cat: &Catalog, sku: i64, quantity: i32) -> Value {
    json!({ "lines": [{ "skuId": sku.to_string(), "quantity": quantity }], "pickupStoreId": cat.store_id.to_string() })
}

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
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

async fn available(app: &TestApp, sku: i64, location: i64) -> i64 {
    inventory::available_by_sku(&app.state, &[sku], Some(location))
        .await
        .unwrap()
        .get(&sku)
        .copied()
        .unwrap_or(0)
}

async fn pay_and_wait(app: &TestApp, me: &Gql, order: &Value) {
    let id = order["id"].clone();
    let params = me.ok(PAY, json!({ "id": id })).await["payOrder"].clone();
    assert_eq!(params["signType"], "RSA");
    assert!(
        params["package"]
            .as_str()
            .unwrap()
            .starts_with("prepay_id=")
    );
    let order_no = order["orderNo"].as_str().unwrap().to_owned();
    app.wechat.pay(&order_no).await.unwrap();
    eventually(10, "the payment notification", || async {
        order_status(app, &order_no).await == "PAID"
    })
    .await;
}

async fn an_order_is_paid_once_and_earns_points(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let (me, member_id) = app.login_member("olivia").await;
    let member_id: i64 = member_id.parse().unwrap();
    let order = me
        .ok(
            PLACE,
            json!({ "i": pickup(&cat, cat.serum_sku, 2), "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(order["status"], "PENDING_PAYMENT");
    assert_eq!(order["totalFen"], 59_800);
    assert_eq!(
        available(&app, cat.serum_sku, cat.store_location).await,
        8,
        "reserved at once"
    );

    app.wechat.set_duplicate_notifications(10);
    pay_and_wait(&app, &me, &order).await;
    let data = me
        .ok(
            "query($id: ID!) { order(id: $id) { status paymentMethod paidAt } }",
            json!({ "id": order["id"] }),
        )
        .await;
    assert_eq!(data["order"]["status"], "PAID");
    assert_eq!(data["order"]["paymentMethod"], "WECHAT");
    eventually(10, "every duplicate delivery answered", || async {
        app.wechat
            .notification_deliveries()
            .iter()
            .filter(|d| d.status == 204 || d.status == 200)
            .count()
            >= 10
    })
    .await;
    let entries = points_entries(&app, member_id).await;
    assert_eq!(entries.len(), 1, "ten deliveries, one points entry");
    assert_eq!(entries[0].delta, 598);
    let me_data = me
        .ok("{ me { points cumulativeSpendFen } }", json!({}))
        .await;
    assert_eq!(me_data["me"]["points"], 598);
    assert_eq!(me_data["me"]["cumulativeSpendFen"], "59800");
    assert_eq!(
        me.err(PAY, json!({ "id": order["id"] })).await,
        "CONFLICT",
        "already paid"
    );
    assert!(inventory::ledger_balances(&app.state).await.unwrap());
}

async fn concurrent_orders_never_oversell(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 0).await;
    inventory::receive(
        &app.state,
        &cat.hq,
        inventory::Receipt {
            location_id: cat.store_location,
            sku_id: cat.cream_sku,
            lot: "RUSH".into(),
            manufactured_on: fixtures::date("2026-01-01"),
            expires_on: fixtures::date("2029-01-01"),
            quantity: 50,
        },
    )
    .await
    .unwrap();
    let mut members = Vec::new();
    for i in 0..20 {
        members.push(app.login_member(&format!("rush{i}")).await.0);
    }
    let attempts = (0..200).map(|i| {
        let me = members[i % members.len()].clone();
        let input = pickup(&cat, cat.cream_sku, 1);
        async move { me.raw(PLACE, json!({ "i": input, "k": key() })).await }
    });
    let results = futures::future::join_all(attempts).await;
    let placed = results.iter().filter(|r| r["errors"].is_null()).count();
    let sold_out = results
        .iter()
        .filter(|r| code_of(r).as_deref() == Some("SOLD_OUT"))
        .count();
    assert_eq!(
        (placed, sold_out),
        (50, 150),
        "{:?}",
        results
            .iter()
            .find(|r| code_of(r).as_deref() != Some("SOLD_OUT") && !r["errors"].is_null())
    );
    assert_eq!(available(&app, cat.cream_sku, cat.store_location).await, 0);
    let negative = entities::stock_level::Entity::find()
        .filter(entities::stock_level::Column::Quantity.lt(0))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(negative, 0);
    assert!(
        inventory::ledger_balances(&app.state).await.unwrap(),
        "levels equal the ledger"
    );
}

async fn forged_notifications_change_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let (me, _) = app.login_member("piper").await;
    let order = me
        .ok(
            PLACE,
            json!({ "i": pickup(&cat, cat.cream_sku, 1), "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    me.ok(PAY, json!({ "id": order["id"] })).await;
    let order_no = order["orderNo"].as_str().unwrap();
    let url = format!("{}/wechat/pay/notify", app.base_url);
    let post = |headers: wechat_integration::NotificationHeaders, body: Vec<u8>| {
        let http = app.http.clone();
        let url = url.clone();
        async move {
            http.post(&url)
                .header("Wechatpay-Timestamp", headers.timestamp)
                .header("Wechatpay-Nonce", headers.nonce)
                .header("Wechatpay-Signature", headers.signature)
                .header("Wechatpay-Serial", headers.serial)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let now = chrono::Utc::now();
    // Tampered: a valid notification with one byte of its body changed.
    let (headers, mut body) = app
        .wechat
        .signed_payment_notification(order_no, 4_000_000, now);
    let last = body.len() - 3;
    body[last] ^= 1;
    assert_eq!(post(headers, body).await, 401);
    // Replayed: correctly signed, but more than five minutes old.
    let (headers, body) = app.wechat.signed_payment_notification(
        order_no,
        19_900,
        now - chrono::Duration::minutes(6),
    );
    assert_eq!(post(headers, body).await, 401);
    // The signature probe WeChat sends on purpose.
    assert_eq!(app.wechat.send_probe_notification(&url).await, 401);
    assert_eq!(order_status(&app, order_no).await, "PENDING_PAYMENT");
    // The genuine one still works afterwards.
    let (headers, body) = app
        .wechat
        .signed_payment_notification(order_no, 19_900, now);
    assert_eq!(post(headers, body).await, 204);
    assert_eq!(order_status(&app, order_no).await, "PAID");
}

async fn unpaid_orders_close_and_return_their_stock(backend: Backend) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 3).await;
    let (me, _) = app.login_member("quinn").await;
    let order = me
        .ok(
            PLACE,
            json!({ "i": pickup(&cat, cat.serum_sku, 3), "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    me.ok(PAY, json!({ "id": order["id"] })).await;
    assert_eq!(available(&app, cat.serum_sku, cat.store_location).await, 0);
    assert_eq!(
        payments::close_overdue_orders(&app.state).await.unwrap(),
        0,
        "not due yet"
    );
    clock.advance(chrono::Duration::minutes(16));
    assert_eq!(payments::close_overdue_orders(&app.state).await.unwrap(), 1);
    let order_no = order["orderNo"].as_str().unwrap();
    assert_eq!(order_status(&app, order_no).await, "CLOSED");
    // The member comes back later (a fresh session) and finds the order closed.
    let (me, _) = app.login_member("quinn").await;
    assert_eq!(available(&app, cat.serum_sku, cat.store_location).await, 3);
    assert_eq!(me.err(PAY, json!({ "id": order["id"] })).await, "EXPIRED");
    assert!(inventory::ledger_balances(&app.state).await.unwrap());
    assert_eq!(
        payments::close_overdue_orders(&app.state).await.unwrap(),
        0,
        "closing is done once"
    );
}

async fn refunds_reverse_points_tier_and_stock(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let hq = app.login_staff("hq-demo").await;
    // SILVER from 500 yuan instead of the demo's 2,000.
    hq.ok(
        "mutation { upsertTier(input: { code: \"SILVER\", name: \"银卡\", rank: 1, thresholdFen: 50000, pointsMultiplierPct: 120, discountPct: 3 }) { code } }",
        json!({}),
    )
    .await;
    let (me, member_id) = app.login_member("rosa").await;
    let member_id: i64 = member_id.parse().unwrap();
    let order = me
        .ok(
            PLACE,
            json!({ "i": pickup(&cat, cat.serum_sku, 2), "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    pay_and_wait(&app, &me, &order).await;
    assert_eq!(
        me.ok("{ me { tier { code } } }", json!({})).await["me"]["tier"]["code"],
        "SILVER",
        "598 yuan reaches SILVER"
    );
    let refund = "mutation($id: ID!, $l: [RefundLineInput!]) { refundOrder(orderId: $id, lines: $l) { status amountFen } }";
    let line_id = order["lines"][0]["id"].clone();
    let data = hq
        .ok(
            refund,
            json!({ "id": order["id"], "l": [{ "lineId": line_id, "quantity": 1 }] }),
        )
        .await;
    assert_eq!(
        data["refundOrder"],
        json!({ "status": "SUCCESS", "amountFen": 29_900 })
    );
    let me_data = me
        .ok(
            "{ me { points cumulativeSpendFen tier { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(me_data["me"]["points"], 598 - 299);
    assert_eq!(me_data["me"]["cumulativeSpendFen"], "29900");
    assert_eq!(
        me_data["me"]["tier"]["code"], "MEMBER",
        "back below the SILVER threshold after the refund"
    );
    assert_eq!(
        available(&app, cat.serum_sku, cat.store_location).await,
        9,
        "the returned unit is back"
    );
    let status = me
        .ok(
            "query($id: ID!) { order(id: $id) { status refundedFen } }",
            json!({ "id": order["id"] }),
        )
        .await;
    assert_eq!(
        status["order"],
        json!({ "status": "PARTIALLY_REFUNDED", "refundedFen": 29_900 })
    );
    assert_eq!(
        hq.err(
            refund,
            json!({ "id": order["id"], "l": [{ "lineId": line_id, "quantity": 2 }] })
        )
        .await,
        "BAD_USER_INPUT",
        "more units than are left"
    );
    let data = hq.ok(refund, json!({ "id": order["id"] })).await;
    assert_eq!(data["refundOrder"]["amountFen"], 29_900);
    let me_data = me
        .ok("{ me { points cumulativeSpendFen } }", json!({}))
        .await;
    assert_eq!(
        me_data["me"],
        json!({ "points": 0, "cumulativeSpendFen": "0" })
    );
    assert_eq!(
        hq.err(refund, json!({ "id": order["id"] })).await,
        "CONFLICT"
    );
    let sum: i64 = points_entries(&app, member_id)
        .await
        .iter()
        .map(|e| e.delta)
        .sum();
    assert_eq!(sum, 0, "the ledger adds up to the balance");
    assert!(inventory::ledger_balances(&app.state).await.unwrap());
}

async fn counter_sales_warn_about_allergens_and_credit_the_ba(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let ba = app.login_staff("ba-demo").await;
    let manager = app.login_staff("manager-demo").await;
    let (lily, lily_id) = app.login_member("demo-lily").await;
    let lines = json!([{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }]);
    let preview = ba
        .ok(
            "query($m: ID!, $l: [OrderLineInput!]!) { previewInStoreSale(memberId: $m, lines: $l) { totalFen allergenWarnings { productName allergens } } }",
            json!({ "m": lily_id, "l": lines }),
        )
        .await;
    assert_eq!(
        preview["previewInStoreSale"]["allergenWarnings"],
        json!([{ "productName": "玫瑰精华", "allergens": ["PARFUM"] }])
    );
    let record = "mutation($m: ID!, $l: [OrderLineInput!]!, $ack: Boolean!, $k: String!) {
        recordInStoreSale(memberId: $m, lines: $l, paymentMethod: CASH, acknowledgeAllergens: $ack, idempotencyKey: $k) {
          id status paymentMethod baId channel totalFen } }";
    let k = key();
    assert_eq!(
        ba.err(
            record,
            json!({ "m": lily_id, "l": lines, "ack": false, "k": k })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        available(&app, cat.serum_sku, cat.store_location).await,
        10,
        "nothing sold without the warning shown"
    );
    let sale = ba
        .ok(
            record,
            json!({ "m": lily_id, "l": lines, "ack": true, "k": k }),
        )
        .await["recordInStoreSale"]
        .clone();
    assert_eq!(sale["status"], "PAID");
    assert_eq!(sale["paymentMethod"], "CASH");
    assert_eq!(sale["channel"], "IN_STORE");
    let ba_me = ba.ok("{ me { id } }", json!({})).await["me"]["id"].clone();
    assert_eq!(sale["baId"], ba_me, "credited to the BA");
    let again = ba
        .ok(
            record,
            json!({ "m": lily_id, "l": lines, "ack": true, "k": k }),
        )
        .await["recordInStoreSale"]
        .clone();
    assert_eq!(again["id"], sale["id"], "a retried sale is the same sale");
    assert_eq!(available(&app, cat.serum_sku, cat.store_location).await, 9);
    assert_eq!(
        lily.ok("{ me { points } }", json!({})).await["me"]["points"],
        299
    );

    // The member's exclusive BA is credited for their online orders too.
    manager
        .ok("mutation($m: ID!, $b: ID) { assignExclusiveBa(memberId: $m, baId: $b) { exclusiveBaId } }", json!({ "m": lily_id, "b": ba_me }))
        .await;
    let online = lily
        .ok(
            PLACE,
            json!({ "i": pickup(&cat, cat.cream_sku, 1), "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(online["baId"], ba_me);
}

async fn bad_order_input_gets_clear_codes(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let (me, _) = app.login_member("sam").await;
    let (other, _) = app.login_member("tess").await;
    for (input, code) in [
        (pickup(&cat, cat.serum_sku, 0), "BAD_USER_INPUT"),
        (pickup(&cat, cat.serum_sku, -2), "BAD_USER_INPUT"),
        (pickup(&cat, 999_999, 1), "NOT_FOUND"),
        (pickup(&cat, cat.serum_sku, 6), "SOLD_OUT"),
        (
            json!({ "lines": [] , "pickupStoreId": cat.store_id.to_string() }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "lines": [{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }] }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "lines": [{ "skuId": cat.serum_sku.to_string(), "quantity": 1.5 }], "pickupStoreId": cat.store_id.to_string() }),
            "BAD_USER_INPUT",
        ),
    ] {
        assert_eq!(
            me.err(PLACE, json!({ "i": input, "k": key() })).await,
            code,
            "{input}"
        );
    }
    assert_eq!(
        available(&app, cat.serum_sku, cat.store_location).await,
        5,
        "refused orders took nothing"
    );
    let k = key();
    let first = me
        .ok(
            PLACE,
            json!({ "i": pickup(&cat, cat.serum_sku, 1), "k": k }),
        )
        .await["placeOrder"]
        .clone();
    let replay = me
        .ok(
            PLACE,
            json!({ "i": pickup(&cat, cat.serum_sku, 1), "k": k }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(first["id"], replay["id"], "same key, same order");
    assert_eq!(
        me.err(
            PLACE,
            json!({ "i": pickup(&cat, cat.serum_sku, 2), "k": k })
        )
        .await,
        "CONFLICT"
    );
    assert_eq!(available(&app, cat.serum_sku, cat.store_location).await, 4);
    assert_eq!(
        other.err(PAY, json!({ "id": first["id"] })).await,
        "FORBIDDEN"
    );
    assert_eq!(
        other
            .err(
                "query($id: ID!) { order(id: $id) { id } }",
                json!({ "id": first["id"] })
            )
            .await,
        "FORBIDDEN"
    );
}

async fn stock_is_first_expiry_first_out_and_flagged(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 0).await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(20)).date_naive();
    for (lot, expires, units) in [("LATE", fixtures::date("2029-06-01"), 4), ("SOON", soon, 2)] {
        inventory::receive(
            &app.state,
            &cat.hq,
            inventory::Receipt {
                location_id: cat.store_location,
                sku_id: cat.serum_sku,
                lot: lot.into(),
                manufactured_on: fixtures::date("2026-01-01"),
                expires_on: expires,
                quantity: units,
            },
        )
        .await
        .unwrap();
    }
    let manager = app.login_staff("manager-demo").await;
    let near = "query($l: ID!) { nearExpiry(locationId: $l, days: 30) { nodes { lot quantity } } lowStock(locationId: $l) { nodes { skuId onHand safetyStock } } }";
    let data = manager
        .ok(near, json!({ "l": cat.store_location.to_string() }))
        .await;
    assert_eq!(
        data["nearExpiry"]["nodes"],
        json!([{ "lot": "SOON", "quantity": 2 }])
    );
    let (me, _) = app.login_member("uma").await;
    me.ok(
        PLACE,
        json!({ "i": pickup(&cat, cat.serum_sku, 3), "k": key() }),
    )
    .await;
    let levels = manager
        .ok(
            "query($l: ID!, $s: ID) { stockLevels(locationId: $l, skuId: $s) { nodes { lot quantity } } }",
            json!({ "l": cat.store_location.to_string(), "s": cat.serum_sku.to_string() }),
        )
        .await;
    let by_lot: std::collections::HashMap<String, i64> = levels["stockLevels"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["lot"].as_str().unwrap().to_owned(),
                l["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_lot["SOON"], 0, "the soonest-expiring lot went first");
    assert_eq!(by_lot["LATE"], 3);
    let data = manager
        .ok(near, json!({ "l": cat.store_location.to_string() }))
        .await;
    let low: Vec<i64> = data["lowStock"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["skuId"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        low.contains(&cat.serum_sku),
        "3 units is below the safety stock of 5"
    );
    // A BA of another store may not read this store's stock.
    let hq = app.login_staff("hq-demo").await;
    hq.ok(near, json!({ "l": cat.store_location.to_string() }))
        .await;
}

async fn points_expire_by_lot_soonest_first(backend: Backend) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 10).await;
    let ba = app.login_staff("ba-demo").await;
    let (_, member) = app.login_member("vera").await;
    let member_id: i64 = member.parse().unwrap();
    let record = "mutation($m: ID!, $s: ID!, $k: String!) { recordInStoreSale(memberId: $m, lines: [{ skuId: $s, quantity: 1 }], paymentMethod: CARD, idempotencyKey: $k) { id } }";
    ba.ok(
        record,
        json!({ "m": member, "s": cat.cream_sku.to_string(), "k": key() }),
    )
    .await; // 199 points, lot 1
    clock.advance(chrono::Duration::days(100));
    // A new day at the counter: the BA signs in again (access tokens last 15 minutes).
    let ba = app.login_staff("ba-demo").await;
    ba.ok(
        record,
        json!({ "m": member, "s": cat.serum_sku.to_string(), "k": key() }),
    )
    .await; // 299 points, lot 2
    let redeem = "mutation($m: ID!, $p: Int!, $k: String!) { redeemPoints(memberId: $m, points: $p, reward: \"小样\", idempotencyKey: $k) }";
    assert_eq!(
        ba.ok(redeem, json!({ "m": member, "p": 150, "k": "redeem-1" }))
            .await["redeemPoints"],
        348
    );
    assert_eq!(
        ba.ok(redeem, json!({ "m": member, "p": 150, "k": "redeem-1" }))
            .await["redeemPoints"],
        348,
        "a retried redemption counts once"
    );
    assert_eq!(
        ba.err(redeem, json!({ "m": member, "p": 1000, "k": "redeem-2" }))
            .await,
        "LIMIT_REACHED"
    );
    let lots: Vec<(i64, i64)> = points_entries(&app, member_id)
        .await
        .iter()
        .filter(|e| e.delta > 0)
        .map(|e| (e.delta, e.remaining))
        .collect();
    assert_eq!(
        lots,
        vec![(199, 49), (299, 299)],
        "the soonest-expiring lot is spent first"
    );
    // Past the first lot's expiry (365 days after it was earned), its remaining 49 expire.
    clock.advance(chrono::Duration::days(270));
    assert_eq!(loyalty::expire_points(&app.state).await.unwrap(), 1);
    assert_eq!(
        loyalty::expire_points(&app.state).await.unwrap(),
        0,
        "expiry writes once"
    );
    let balance = loyalty::points_balance(&app.state, member_id)
        .await
        .unwrap();
    assert_eq!(balance, 299);
    let sum: i64 = points_entries(&app, member_id)
        .await
        .iter()
        .map(|e| e.delta)
        .sum();
    assert_eq!(sum, balance);
}

on_both_backends!(
    an_order_is_paid_once_and_earns_points,
    concurrent_orders_never_oversell,
    forged_notifications_change_nothing,
    unpaid_orders_close_and_return_their_stock,
    refunds_reverse_points_tier_and_stock,
    counter_sales_warn_about_allergens_and_credit_the_ba,
    bad_order_input_gets_clear_codes,
    stock_is_first_expiry_first_out_and_flagged,
    points_expire_by_lot_soonest_first
);
