//! Member stored value (会员储值): counter and online top-ups (credited once however often and
//! however concurrently WeChat tells us), spending that never overdraws, refunds back to each
//! tender, bonus expiry that never touches principal, the unused principal paid back.

use std::sync::Arc;

use chrono::Utc;
use domain::auth::MemberPrincipal;
use domain::platform::clock::ManualClock;
use domain::stored_value;
use rouge_tests::fixtures::{self, Catalog};
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, Gql, TestApp, eventually, on_both_backends};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use wechat_integration::NotificationHeaders;

const PLAN: &str = "mutation($i: TopUpPlanInput!) { upsertTopUpPlan(input: $i) { id code payFen bonusFen bonusValidDays active } }";
const COUNTER: &str = "mutation($i: CounterTopUpInput!, $k: String!) { recordCounterTopUp(input: $i, idempotencyKey: $k) { id topUpNo principalFen bonusFen status tender } }";
const MY_BALANCE: &str = "{ myBalance { principalFen bonusFen totalFen bonusExpiresAt } }";
const LEDGER: &str = "{ myBalanceLedger(first: 100) { nodes { source principalDeltaFen bonusDeltaFen reference } pageInfo { hasNextPage } } }";
const PLACE: &str = "mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id orderNo totalFen } }";
const PAY_BALANCE: &str = "mutation($id: ID!, $a: Int) { payOrderWithBalance(orderId: $id, amountFen: $a) { id status paymentMethod } }";

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
}

async fn plan(hq: &Gql, code: &str, pay: i64, bonus: i64, days: Option<i32>) -> Value {
    let input = json!({ "code": code, "name": format!("充{pay}送{bonus}"), "payFen": pay, "bonusFen": bonus, "bonusValidDays": days });
    hq.ok(PLAN, json!({ "i": input })).await["upsertTopUpPlan"].clone()
}

async fn counter_top_up(ba: &Gql, member_id: &str, input: Value) -> Value {
    let mut i = input;
    i["memberId"] = json!(member_id);
    ba.ok(COUNTER, json!({ "i": i, "k": key() })).await["recordCounterTopUp"].clone()
}

async fn balance(me: &Gql) -> (String, String) {
    let b = me.ok(MY_BALANCE, json!({})).await["myBalance"].clone();
    (
        b["principalFen"].as_str().unwrap().to_owned(),
        b["bonusFen"].as_str().unwrap().to_owned(),
    )
}

/// The balance rows equal the sums of the ledger, and none is negative.
async fn ledger_matches(app: &TestApp) {
    let rows = entities::member_balance::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    for row in rows {
        assert!(row.principal_fen >= 0 && row.bonus_fen >= 0, "{row:?}");
        let entries = entities::balance_ledger::Entity::find()
            .filter(entities::balance_ledger::Column::MemberId.eq(row.member_id))
            .all(app.db())
            .await
            .unwrap();
        let p: i64 = entries.iter().map(|e| e.principal_delta_fen).sum();
        let b: i64 = entries.iter().map(|e| e.bonus_delta_fen).sum();
        assert_eq!(
            (p, b),
            (row.principal_fen, row.bonus_fen),
            "ledger = balance"
        );
    }
}

async fn place(me: &Gql, cat: &Catalog) -> Value {
    let input = json!({ "lines": [{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }], "pickupStoreId": cat.store_id.to_string() });
    me.ok(PLACE, json!({ "i": input, "k": key() })).await["placeOrder"].clone()
}

async fn counter_top_ups_are_idempotent_and_staff_reads_are_audited(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let ba = app.login_staff("ba-demo").await;
    let (me, member_id) = app.login_member("tina").await;
    let p = plan(&hq, "P1000", 100_000, 10_000, Some(90)).await;
    assert_eq!(p["payFen"], 100_000);
    // A BA may not write plans.
    assert_eq!(
        ba.err(
            PLAN,
            json!({ "i": { "code": "X", "name": "x", "payFen": 100 } })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(balance(&me).await, ("0".into(), "0".into()));

    let k = key();
    let input = json!({ "memberId": member_id, "planId": p["id"], "tender": "CASH" });
    let first = ba.ok(COUNTER, json!({ "i": input, "k": k })).await["recordCounterTopUp"].clone();
    assert_eq!(first["principalFen"], 100_000);
    assert_eq!(first["bonusFen"], 10_000);
    assert_eq!(first["status"], "PAID");
    let again = ba.ok(COUNTER, json!({ "i": input, "k": k })).await["recordCounterTopUp"].clone();
    assert_eq!(again["id"], first["id"], "a retry is the same top-up");
    let other = json!({ "memberId": member_id, "amountFen": 5_000, "tender": "CASH" });
    assert_eq!(
        ba.err(COUNTER, json!({ "i": other, "k": k })).await,
        "CONFLICT"
    );
    // Bad input changes nothing.
    for bad in [
        json!({ "memberId": member_id, "amountFen": 5_000, "tender": "BALANCE" }),
        json!({ "memberId": member_id, "tender": "CASH" }),
        json!({ "memberId": member_id, "planId": p["id"], "amountFen": 5_000, "tender": "CASH" }),
        json!({ "memberId": member_id, "amountFen": 99, "tender": "CASH" }),
    ] {
        assert_eq!(
            ba.err(COUNTER, json!({ "i": bad, "k": key() })).await,
            "BAD_USER_INPUT",
            "{bad}"
        );
    }
    // The registered-card limit: at most ¥5,000 of principal.
    let body = ba
        .raw(
            COUNTER,
            json!({ "i": { "memberId": member_id, "amountFen": 450_000, "tender": "CARD" }, "k": key() }),
        )
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("LIMIT_REACHED"), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "BALANCE_LIMIT_REACHED"
    );
    assert_eq!(balance(&me).await, ("100000".into(), "10000".into()));
    let ledger = me.ok(LEDGER, json!({})).await["myBalanceLedger"]["nodes"].clone();
    assert_eq!(
        ledger,
        json!([{ "source": "TOP_UP_COUNTER", "principalDeltaFen": 100_000, "bonusDeltaFen": 10_000, "reference": first["topUpNo"] }])
    );

    // Staff read: audited; finance does not read members; an unknown member is NOT_FOUND.
    let q = "query($m: ID!) { memberBalance(memberId: $m) { principalFen bonusFen totalFen } }";
    let read = ba.ok(q, json!({ "m": member_id })).await["memberBalance"].clone();
    assert_eq!(read["totalFen"], "110000");
    let audited = entities::audit_log::Entity::find()
        .filter(
            entities::audit_log::Column::Action.eq(entities::audit_log::Action::MemberBalanceRead),
        )
        .filter(entities::audit_log::Column::SubjectId.eq(member_id.parse::<i64>().unwrap()))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(audited, 1);
    let finance = app.login_staff("finance-demo").await;
    assert_eq!(finance.err(q, json!({ "m": member_id })).await, "FORBIDDEN");
    assert_eq!(ba.err(q, json!({ "m": "999999" })).await, "NOT_FOUND");

    // The database refuses a negative balance whatever the code does.
    let refused = app
        .db()
        .execute_unprepared(&format!(
            "UPDATE member_balances SET principal_fen = -1 WHERE member_id = {member_id}"
        ))
        .await;
    assert!(refused.is_err(), "the CHECK holds");
    ledger_matches(&app).await;
}

/// Posts a notification to the server as WeChat would; returns the HTTP status.
async fn post(
    (http, base_url): (&reqwest::Client, &str),
    (headers, body): &(NotificationHeaders, Vec<u8>),
) -> u16 {
    http.post(format!("{base_url}/wechat/pay/notify"))
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

fn paid(
    app: &TestApp,
    out_trade_no: &str,
    transaction_id: &str,
    amount: i64,
) -> (NotificationHeaders, Vec<u8>) {
    let config = app.wechat.pay_config("https://unused.example/notify");
    let at = Utc::now();
    let plaintext = json!({
        "appid": config.app_id, "mchid": config.mch_id,
        "out_trade_no": out_trade_no, "transaction_id": transaction_id,
        "trade_type": "JSAPI", "trade_state": "SUCCESS",
        "success_time": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "payer": { "openid": "o-payer" },
        "amount": { "total": amount, "payer_total": amount, "currency": "CNY" },
    });
    app.wechat
        .signed_notification("TRANSACTION.SUCCESS", "transaction", &plaintext, at)
}

async fn an_online_top_up_is_credited_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let (me, _) = app.login_member("uli").await;
    let p = plan(&hq, "P500", 50_000, 3_000, None).await;
    let start = "mutation($p: ID, $a: Int, $v: String!, $k: String!) { startTopUp(planId: $p, amountFen: $a, acceptedTermsVersion: $v, idempotencyKey: $k) { topUp { topUpNo principalFen bonusFen status } payment { package } } }";
    let terms = me
        .ok(
            "{ topUpTerms { version text } topUpPlans { code } }",
            json!({}),
        )
        .await;
    assert!(
        terms["topUpTerms"]["text"]
            .as_str()
            .unwrap()
            .contains("本金不设有效期")
    );
    assert_eq!(terms["topUpPlans"], json!([{ "code": "P500" }]));
    let body = me
        .raw(start, json!({ "p": p["id"], "v": "old", "k": key() }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "TERMS_NOT_ACCEPTED"
    );
    let version = terms["topUpTerms"]["version"].clone();
    let k = key();
    let started = me
        .ok(start, json!({ "p": p["id"], "v": version, "k": k }))
        .await["startTopUp"]
        .clone();
    let again = me
        .ok(start, json!({ "p": p["id"], "v": version, "k": k }))
        .await["startTopUp"]
        .clone();
    assert_eq!(started["topUp"]["topUpNo"], again["topUp"]["topUpNo"]);
    assert_eq!(started["topUp"]["status"], "PENDING_PAYMENT");
    let no = started["topUp"]["topUpNo"].as_str().unwrap().to_owned();
    assert_eq!(
        balance(&me).await,
        ("0".into(), "0".into()),
        "nothing before payment"
    );

    // One notification delivered 10 times one after the other and 5 times at once, and 5
    // other notifications of the same payment at once: one credit.
    let notification = paid(&app, &no, "4200000000000000000777", 50_000);
    for _ in 0..10 {
        assert_eq!(post((&app.http, &app.base_url), &notification).await, 204);
    }
    let others: Vec<_> = (0..5)
        .map(|_| paid(&app, &no, "4200000000000000000777", 50_000))
        .collect();
    let mut tasks = Vec::new();
    for n in std::iter::repeat_n(notification.clone(), 5).chain(others) {
        let (http, base) = (app.http.clone(), app.base_url.clone());
        tasks.push(tokio::spawn(async move { post((&http, &base), &n).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    assert_eq!(balance(&me).await, ("50000".into(), "3000".into()));
    let ledger = me.ok(LEDGER, json!({})).await["myBalanceLedger"]["nodes"].clone();
    assert_eq!(ledger.as_array().unwrap().len(), 1, "{ledger}");
    assert_eq!(ledger[0]["source"], "TOP_UP_ONLINE");
    // Through the fake WeChat too: a second top-up paid the ordinary way.
    let second = me
        .ok(start, json!({ "a": 10_000, "v": version, "k": key() }))
        .await["startTopUp"]
        .clone();
    app.wechat
        .pay(second["topUp"]["topUpNo"].as_str().unwrap())
        .await
        .unwrap();
    eventually(10, "the second top-up", || async {
        balance(&me).await == ("60000".into(), "3000".into())
    })
    .await;
    ledger_matches(&app).await;
}

async fn parallel_spends_never_overdraw(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 120).await;
    let ba = app.login_staff("ba-demo").await;
    let (me, member_id) = app.login_member("vera").await;
    let orders: Vec<Value> = futures::future::join_all((0..100).map(|_| place(&me, &cat))).await;
    let total = orders[0]["totalFen"].as_i64().unwrap();
    counter_top_up(
        &ba,
        &member_id,
        json!({ "amountFen": total * 10, "tender": "CARD" }),
    )
    .await;
    let mut tasks = Vec::new();
    for order in &orders {
        let me = me.clone();
        let id = order["id"].clone();
        tasks.push(tokio::spawn(async move {
            me.raw(PAY_BALANCE, json!({ "id": id })).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let body = t.await.unwrap();
        match code_of(&body) {
            None => {
                assert_eq!(body["data"]["payOrderWithBalance"]["status"], "PAID");
                assert_eq!(
                    body["data"]["payOrderWithBalance"]["paymentMethod"],
                    "BALANCE"
                );
                ok += 1;
            }
            Some(code) => {
                assert_eq!(code, "LIMIT_REACHED", "{body}");
                assert_eq!(
                    body["errors"][0]["extensions"]["reason"],
                    "INSUFFICIENT_BALANCE"
                );
            }
        }
    }
    assert_eq!(ok, 10, "exactly the ten the balance covers");
    assert_eq!(balance(&me).await, ("0".into(), "0".into()));
    let paid = entities::order::Entity::find()
        .filter(entities::order::Column::Status.eq(entities::order::OrderStatus::Paid))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(paid, 10);
    ledger_matches(&app).await;
}

/// Pays what the balance left of `order` through the fake WeChat Pay and waits for PAID;
/// returns the order number.
async fn pay_the_rest_by_wechat(app: &TestApp, me: &Gql, order: &Value) -> String {
    me.ok(
        "mutation($id: ID!) { payOrder(orderId: $id) { package } }",
        json!({ "id": order["id"] }),
    )
    .await;
    let order_no = order["orderNo"].as_str().unwrap().to_owned();
    app.wechat.pay(&order_no).await.unwrap();
    eventually(10, "the WeChat part paid", || async {
        me.ok(
            "query($id: ID!) { order(id: $id) { status } }",
            json!({ "id": order["id"] }),
        )
        .await["order"]["status"]
            == "PAID"
    })
    .await;
    order_no
}

async fn a_refund_goes_back_to_each_tender(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let hq = app.login_staff("hq-demo").await;
    let ba = app.login_staff("ba-demo").await;
    let (me, member_id) = app.login_member("wanda").await;
    let order = place(&me, &cat).await;
    let total = order["totalFen"].as_i64().unwrap();
    let half = total / 2;
    // Principal a quarter of the order and bonus a quarter: half the order from the balance
    // takes all the principal, then all the bonus.
    let quarter = total / 4;
    assert_eq!(half, 2 * quarter, "the serum's price divides by four");
    let p = plan(&hq, "Q", quarter, quarter, Some(30)).await;
    counter_top_up(
        &ba,
        &member_id,
        json!({ "planId": p["id"], "tender": "WECHAT" }),
    )
    .await;
    let data = me
        .ok(PAY_BALANCE, json!({ "id": order["id"], "a": half }))
        .await;
    assert_eq!(data["payOrderWithBalance"]["status"], "PENDING_PAYMENT");
    assert_eq!(balance(&me).await, ("0".into(), "0".into()));
    assert_eq!(
        me.err(PAY_BALANCE, json!({ "id": order["id"], "a": 1 }))
            .await,
        "BAD_USER_INPUT",
        "once per order"
    );
    let order_no = pay_the_rest_by_wechat(&app, &me, &order).await;
    let refund = "mutation($id: ID!) { refundOrder(orderId: $id) { status amountFen } }";
    let data = hq.ok(refund, json!({ "id": order["id"] })).await;
    assert_eq!(data["refundOrder"]["amountFen"], total);
    eventually(10, "the refund settled", || async {
        balance(&me).await == (quarter.to_string(), quarter.to_string())
    })
    .await;
    assert_eq!(
        app.wechat.trade_state(&order_no).as_deref(),
        Some("REFUND"),
        "WeChat Pay refunded exactly what it was paid"
    );
    let ledger = me.ok(LEDGER, json!({})).await["myBalanceLedger"]["nodes"].clone();
    assert_eq!(ledger[0]["source"], "ORDER_REFUND");
    assert_eq!(ledger[0]["principalDeltaFen"], quarter);
    assert_eq!(ledger[0]["bonusDeltaFen"], half - quarter);
    ledger_matches(&app).await;
}

/// Two partial refunds of one order paid half by balance and half by WeChat Pay, at once: the
/// refunds are split between the tenders one after the other, so the balance gets back exactly
/// what it paid and WeChat Pay refunds exactly what it was paid (neither refund counts the
/// balance part the other one takes).
async fn parallel_partial_refunds_split_the_tenders_exactly(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let hq = app.login_staff("hq-demo").await;
    let ba = app.login_staff("ba-demo").await;
    let (me, member_id) = app.login_member("wendy").await;
    let input = json!({ "lines": [
        { "skuId": cat.serum_sku.to_string(), "quantity": 1 },
        { "skuId": cat.cream_sku.to_string(), "quantity": 1 },
    ], "pickupStoreId": cat.store_id.to_string() });
    let order = me.ok(PLACE, json!({ "i": input, "k": key() })).await["placeOrder"].clone();
    let total = order["totalFen"].as_i64().unwrap();
    let (half, quarter) = (total / 2, total / 4);
    assert_eq!(half, 2 * quarter, "the order divides by four");
    let p = plan(&hq, "R", quarter, quarter, Some(30)).await;
    counter_top_up(
        &ba,
        &member_id,
        json!({ "planId": p["id"], "tender": "WECHAT" }),
    )
    .await;
    me.ok(PAY_BALANCE, json!({ "id": order["id"], "a": half }))
        .await;
    let order_no = pay_the_rest_by_wechat(&app, &me, &order).await;
    let line_ids: Vec<Value> = me
        .ok(
            "query($id: ID!) { order(id: $id) { lines { id } } }",
            json!({ "id": order["id"] }),
        )
        .await["order"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].clone())
        .collect();
    assert_eq!(line_ids.len(), 2);
    let refund = "mutation($id: ID!, $l: [RefundLineInput!]) { refundOrder(orderId: $id, lines: $l) { amountFen } }";
    let (a, b) = tokio::join!(
        hq.ok(
            refund,
            json!({ "id": order["id"], "l": [{ "lineId": line_ids[0], "quantity": 1 }] })
        ),
        hq.ok(
            refund,
            json!({ "id": order["id"], "l": [{ "lineId": line_ids[1], "quantity": 1 }] })
        ),
    );
    assert_eq!(
        a["refundOrder"]["amountFen"].as_i64().unwrap()
            + b["refundOrder"]["amountFen"].as_i64().unwrap(),
        total
    );
    eventually(10, "both refunds settled", || async {
        balance(&me).await == (quarter.to_string(), quarter.to_string())
    })
    .await;
    assert_eq!(
        app.wechat.trade_state(&order_no).as_deref(),
        Some("REFUND"),
        "WeChat Pay refunded exactly what it was paid, no less"
    );
    ledger_matches(&app).await;
}

async fn a_counter_sale_paid_by_balance(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let ba = app.login_staff("ba-demo").await;
    let manager = app.login_staff("manager-demo").await;
    let (me, member_id) = app.login_member("xena").await;
    let sale = "mutation($m: ID!, $l: [OrderLineInput!]!, $k: String!) { recordInStoreSale(memberId: $m, lines: $l, paymentMethod: BALANCE, acknowledgeAllergens: true, idempotencyKey: $k) { id totalFen paymentMethod } }";
    let lines = json!([{ "skuId": cat.cream_sku.to_string(), "quantity": 1 }]);
    assert_eq!(
        ba.err(sale, json!({ "m": member_id, "l": lines, "k": key() }))
            .await,
        "LIMIT_REACHED",
        "no balance yet"
    );
    counter_top_up(
        &ba,
        &member_id,
        json!({ "amountFen": 50_000, "tender": "CASH" }),
    )
    .await;
    let done = ba
        .ok(sale, json!({ "m": member_id, "l": lines, "k": key() }))
        .await["recordInStoreSale"]
        .clone();
    let total = done["totalFen"].as_i64().unwrap();
    assert_eq!(done["paymentMethod"], "BALANCE");
    assert_eq!(
        balance(&me).await,
        ((50_000 - total).to_string(), "0".into())
    );
    // Refunded at the counter: back to the balance.
    let refund = "mutation($id: ID!) { refundOrder(orderId: $id) { status } }";
    assert_eq!(
        manager.ok(refund, json!({ "id": done["id"] })).await["refundOrder"]["status"],
        "SUCCESS"
    );
    assert_eq!(balance(&me).await, ("50000".into(), "0".into()));
    // The unused principal back on request: a BA may not, a manager may; once per key.
    let back = "mutation($m: ID!, $k: String!) { returnMemberPrincipal(memberId: $m, idempotencyKey: $k) }";
    assert_eq!(
        ba.err(back, json!({ "m": member_id, "k": key() })).await,
        "FORBIDDEN"
    );
    let k = key();
    assert_eq!(
        manager.ok(back, json!({ "m": member_id, "k": k })).await["returnMemberPrincipal"],
        "50000"
    );
    assert_eq!(balance(&me).await, ("0".into(), "0".into()));
    assert_eq!(
        manager
            .err(back, json!({ "m": member_id, "k": key() }))
            .await,
        "BAD_USER_INPUT"
    );
    ledger_matches(&app).await;
}

async fn bonus_expires_principal_never(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let hq = app.login_staff("hq-demo").await;
    let ba = app.login_staff("ba-demo").await;
    let (me, member_id) = app.login_member("yara").await;
    let p = plan(&hq, "P30D", 20_000, 2_000, Some(30)).await;
    counter_top_up(
        &ba,
        &member_id,
        json!({ "planId": p["id"], "tender": "CASH" }),
    )
    .await;
    assert_eq!(
        stored_value::expire_bonus(&app.state).await.unwrap(),
        0,
        "not yet"
    );
    clock.advance(chrono::Duration::days(31));
    let principal = MemberPrincipal {
        member_id: member_id.parse().unwrap(),
        session_id: "t".into(),
    };
    let held = stored_value::my_balance(&app.state, &principal)
        .await
        .unwrap();
    assert_eq!(
        (held.principal_fen, held.bonus_fen),
        (20_000, 0),
        "expired bonus is not spendable"
    );
    assert_eq!(stored_value::expire_bonus(&app.state).await.unwrap(), 1);
    assert_eq!(
        stored_value::expire_bonus(&app.state).await.unwrap(),
        0,
        "once"
    );
    let row = entities::member_balance::Entity::find_by_id(principal.member_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.principal_fen, row.bonus_fen), (20_000, 0));
    let expired = entities::balance_ledger::Entity::find()
        .filter(
            entities::balance_ledger::Column::Source.eq(stored_value::BalanceSource::BonusExpired),
        )
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(
        (expired[0].principal_delta_fen, expired[0].bonus_delta_fen),
        (0, -2_000)
    );
    // Years later the principal is all there.
    clock.advance(chrono::Duration::days(3650));
    assert_eq!(stored_value::expire_bonus(&app.state).await.unwrap(), 0);
    let held = stored_value::my_balance(&app.state, &principal)
        .await
        .unwrap();
    assert_eq!(held.principal_fen, 20_000);
    let _ = me;
    ledger_matches(&app).await;
}

/// `placeOrder` with `balanceFen`: the whole order paid at once; part of it, WeChat Pay for the
/// rest, and a full refund gives each tender back; a retry returns the same order; paying the
/// whole order from the balance after a WeChat prepay was started closes the WeChat order.
async fn place_order_takes_the_balance_part(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let ba = app.login_staff("ba-demo").await;
    let hq = app.login_staff("hq-demo").await;
    let (me, member_id) = app.login_member("ursula").await;
    let probe = place(&me, &cat).await;
    let total = probe["totalFen"].as_i64().unwrap();
    let half = total / 2;
    counter_top_up(
        &ba,
        &member_id,
        json!({ "amountFen": total * 3, "tender": "CASH" }),
    )
    .await;
    let place_q = "mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id orderNo totalFen status paymentMethod } }";
    let input = |b: i64| json!({ "lines": [{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }], "pickupStoreId": cat.store_id.to_string(), "balanceFen": b });
    // The whole order (balanceFen is the most to take): paid at once.
    let k = key();
    let whole = me
        .ok(place_q, json!({ "i": input(total * 5), "k": k }))
        .await["placeOrder"]
        .clone();
    assert_eq!(whole["status"], "PAID");
    assert_eq!(whole["paymentMethod"], "BALANCE");
    assert_eq!(balance(&me).await, ((total * 2).to_string(), "0".into()));
    let again = me
        .ok(place_q, json!({ "i": input(total * 5), "k": k }))
        .await["placeOrder"]
        .clone();
    assert_eq!(again["id"], whole["id"]);
    assert_eq!(
        me.err(place_q, json!({ "i": input(half), "k": k })).await,
        "CONFLICT"
    );
    assert_eq!(
        me.err(place_q, json!({ "i": input(0), "k": key() })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(balance(&me).await, ((total * 2).to_string(), "0".into()));
    // Half from the balance, the rest by WeChat Pay; a full refund gives each back.
    let part = me
        .ok(place_q, json!({ "i": input(half), "k": key() }))
        .await["placeOrder"]
        .clone();
    assert_eq!(part["status"], "PENDING_PAYMENT");
    assert_eq!(
        balance(&me).await,
        ((total * 2 - half).to_string(), "0".into())
    );
    let order_no = pay_the_rest_by_wechat(&app, &me, &part).await;
    let refund = "mutation($id: ID!) { refundOrder(orderId: $id) { status amountFen } }";
    hq.ok(refund, json!({ "id": part["id"] })).await;
    eventually(10, "the refund settled", || async {
        balance(&me).await == ((total * 2).to_string(), "0".into())
    })
    .await;
    eventually(10, "WeChat refunded its part", || async {
        app.wechat.trade_state(&order_no).as_deref() == Some("REFUND")
    })
    .await;
    // A prepay started, then the balance pays it all: the WeChat order is closed.
    let started = place(&me, &cat).await;
    me.ok(
        "mutation($id: ID!) { payOrder(orderId: $id) { package } }",
        json!({ "id": started["id"] }),
    )
    .await;
    let started_no = started["orderNo"].as_str().unwrap().to_owned();
    assert_eq!(
        app.wechat.trade_state(&started_no).as_deref(),
        Some("NOTPAY")
    );
    let paid = me.ok(PAY_BALANCE, json!({ "id": started["id"] })).await;
    assert_eq!(paid["payOrderWithBalance"]["status"], "PAID");
    assert_eq!(
        app.wechat.trade_state(&started_no).as_deref(),
        Some("CLOSED")
    );
    ledger_matches(&app).await;
}

on_both_backends!(
    counter_top_ups_are_idempotent_and_staff_reads_are_audited,
    an_online_top_up_is_credited_once,
    parallel_spends_never_overdraw,
    a_refund_goes_back_to_each_tender,
    parallel_partial_refunds_split_the_tenders_exactly,
    a_counter_sale_paid_by_balance,
    bonus_expires_principal_never,
    place_order_takes_the_balance_part,
);
