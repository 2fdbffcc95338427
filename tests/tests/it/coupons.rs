//! Coupons end to end: templates, the claim centre under concurrency, coupons on online orders
//! and counter sales, the counter QR, refunds giving coupons back, birthday coupons, reports.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use domain::auth::{StaffPrincipal, StaffRole};
use domain::platform::clock::ManualClock;
use domain::platform::error::StoreError;
use domain::{coupons, payments};
use rouge_tests::fixtures::{self, Catalog};
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, Gql, TestApp, eventually, on_both_backends};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, Set,
};
use serde_json::{Value, json};

const CREATE: &str = "mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) { id name kind issued totalQuantity } }";
const CLAIM: &str = "mutation($t: ID!, $k: String!) { claimCoupon(templateId: $t, idempotencyKey: $k) { id status template { id } } }";
const PLACE: &str =
    "mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) {
  id orderNo status subtotalFen discountFen totalFen discounts { kind label amountFen } } }";
const PREVIEW: &str = "query($i: PlaceOrderInput!) { previewOrder(input: $i) {
  subtotalFen discountFen totalFen couponIds bestCouponIds bestCouponDiscountFen discounts { kind label amountFen } lines { skuId quantity } } }";
const CODE: &str = "query($c: ID!) { couponCode(couponId: $c) { code expiresAt } }";
const REDEEM: &str =
    "mutation($c: String!) { redeemCouponAtCounter(code: $c) { id status usedStoreId } }";
const SALE: &str = "mutation($m: ID!, $l: [OrderLineInput!]!, $k: String!, $c: [String!]) {
  recordInStoreSale(memberId: $m, lines: $l, paymentMethod: CASH, acknowledgeAllergens: true, idempotencyKey: $k, couponCodes: $c) {
    id totalFen discountFen discounts { kind label amountFen } lines { id } } }";
const PAY: &str =
    "mutation($id: ID!) { payOrder(orderId: $id) { timeStamp nonceStr package signType paySign } }";
const MINE: &str =
    "query($s: CouponStatus) { myCoupons(status: $s) { nodes { id status usedOrderId } } }";
const REPORT: &str = "query($t: ID!) { couponReport(templateId: $t) { issued claimed redeemed expired available discountFen revenueFen orders } }";

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
}

fn cash(name: &str, amount: i64, stacks: bool) -> Value {
    json!({ "name": name, "kind": "CASH", "amountFen": amount, "totalQuantity": 100,
            "perMemberLimit": 5, "validDays": 30, "stacksWithCoupons": stacks })
}

async fn create(hq: &Gql, input: Value) -> String {
    hq.ok(CREATE, json!({ "i": input })).await["createCouponTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn claim(me: &Gql, template: &str) -> String {
    me.ok(CLAIM, json!({ "t": template, "k": key() })).await["claimCoupon"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn order_input(cat: &Catalog, sku: i64, quantity: i32, coupons: &[&str]) -> Value {
    json!({ "lines": [{ "skuId": sku.to_string(), "quantity": quantity }],
            "pickupStoreId": cat.store_id.to_string(), "couponIds": coupons })
}

async fn coupon_row(app: &TestApp, id: &str) -> entities::coupon::Model {
    entities::coupon::Entity::find_by_id(id.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn order_count(app: &TestApp) -> u64 {
    entities::order::Entity::find()
        .count(app.db())
        .await
        .unwrap()
}

async fn stock(app: &TestApp, sku: i64, location: i64) -> i64 {
    domain::inventory::available_by_sku(&app.state, &[sku], Some(location))
        .await
        .unwrap()
        .get(&sku)
        .copied()
        .unwrap_or(0)
}

async fn concurrent_claims_stop_at_the_total_and_each_members_limit(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let template = create(
        &hq,
        json!({ "name": "限量50张", "kind": "CASH", "amountFen": 1000, "totalQuantity": 50,
                "perMemberLimit": 2, "validDays": 7 }),
    )
    .await;
    let names: Vec<String> = (0..40).map(|i| format!("claimer{i}")).collect();
    let members: Vec<(Gql, String)> =
        futures::future::join_all(names.iter().map(|n| app.login_member(n))).await;
    // 200 claims: every member tries five times (distinct keys), all at once.
    let attempts = (0..200).map(|i| {
        let (me, id) = members[i % members.len()].clone();
        let template = template.clone();
        async move {
            (
                id,
                me.raw(CLAIM, json!({ "t": template, "k": key() })).await,
            )
        }
    });
    let results = futures::future::join_all(attempts).await;
    let mut per_member: HashMap<String, usize> = HashMap::new();
    let mut codes: HashMap<String, usize> = HashMap::new();
    for (member, r) in &results {
        match code_of(r) {
            None => *per_member.entry(member.clone()).or_default() += 1,
            Some(code) => *codes.entry(code).or_default() += 1,
        }
    }
    let claimed: usize = per_member.values().sum();
    assert_eq!(claimed, 50, "errors: {codes:?}");
    assert!(per_member.values().all(|n| *n <= 2), "{per_member:?}");
    assert!(
        codes
            .keys()
            .all(|c| c == "SOLD_OUT" || c == "LIMIT_REACHED"),
        "{codes:?}"
    );
    assert!(codes.get("SOLD_OUT").copied().unwrap_or(0) > 0, "{codes:?}");
    let rows = entities::coupon::Entity::find()
        .filter(entities::coupon::Column::TemplateId.eq(template.parse::<i64>().unwrap()))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(rows.len(), 50);
    let mut held: HashMap<i64, usize> = HashMap::new();
    for r in &rows {
        *held.entry(r.member_id).or_default() += 1;
    }
    assert!(held.values().all(|n| *n <= 2), "{held:?}");
    let tpl = entities::coupon_template::Entity::find_by_id(template.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tpl.issued, 50);
}

async fn claims_are_idempotent_and_limited(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let template = create(
        &hq,
        json!({ "name": "两张", "kind": "PERCENT_DISCOUNT", "percentOff": 15, "capFen": 3000,
                "totalQuantity": 2, "perMemberLimit": 1, "validDays": 7 }),
    )
    .await;
    let (alice, _) = app.login_member("coupon-alice").await;
    let (bob, bob_id) = app.login_member("coupon-bob").await;
    let (carol, carol_id) = app.login_member("coupon-carol").await;
    let k = key();
    let first = alice.ok(CLAIM, json!({ "t": template, "k": k })).await;
    let again = alice.ok(CLAIM, json!({ "t": template, "k": k })).await;
    assert_eq!(first["claimCoupon"]["id"], again["claimCoupon"]["id"]);
    assert_eq!(
        code_of(&alice.raw(CLAIM, json!({ "t": template, "k": key() })).await).as_deref(),
        Some("LIMIT_REACHED")
    );
    claim(&bob, &template).await;
    assert_eq!(
        code_of(&carol.raw(CLAIM, json!({ "t": template, "k": key() })).await).as_deref(),
        Some("SOLD_OUT")
    );
    let claimable = carol
        .ok(
            "{ claimableCoupons { nodes { template { id } held left } } }",
            json!({}),
        )
        .await;
    assert!(
        !claimable["claimableCoupons"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["template"]["id"] == template.as_str()),
        "a template with none left is not offered"
    );
    let mine = alice
        .ok(
            "{ myCoupons(status: AVAILABLE) { nodes { id template { name kind percentOff } } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["myCoupons"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(
        mine["myCoupons"]["nodes"][0]["template"]["kind"],
        "PERCENT_DISCOUNT"
    );

    // HQ issues to a list: within total and limits, and a retried request gives nothing twice.
    let roomy = create(&hq, cash("发放券", 500, true)).await;
    let issue = "mutation($t: ID!, $m: [ID!]!, $k: String!) { issueCoupons(templateId: $t, memberIds: $m, idempotencyKey: $k) { issued already limitReached soldOut unknownMembers } }";
    let k = key();
    let out = hq
        .ok(
            issue,
            json!({ "t": roomy, "m": [bob_id, carol_id, "999999"], "k": k }),
        )
        .await["issueCoupons"]
        .clone();
    assert_eq!(
        out,
        json!({ "issued": 2, "already": 0, "limitReached": 0, "soldOut": 0, "unknownMembers": 1 })
    );
    let out = hq
        .ok(
            issue,
            json!({ "t": roomy, "m": [bob_id, carol_id], "k": k }),
        )
        .await["issueCoupons"]
        .clone();
    assert_eq!(out["issued"], 0);
    assert_eq!(out["already"], 2);

    // Bad templates are refused with BAD_USER_INPUT.
    let now = Utc::now();
    for bad in [
        json!({ "name": "x", "kind": "PERCENT_DISCOUNT", "percentOff": 100, "capFen": 100, "totalQuantity": 1, "validDays": 1 }),
        json!({ "name": "x", "kind": "PERCENT_DISCOUNT", "percentOff": 0, "capFen": 100, "totalQuantity": 1, "validDays": 1 }),
        json!({ "name": "x", "kind": "THRESHOLD_REDUCTION", "thresholdFen": 1000, "reductionFen": 1000, "totalQuantity": 1, "validDays": 1 }),
        json!({ "name": "x", "kind": "CASH", "amountFen": -1, "totalQuantity": 1, "validDays": 1 }),
        json!({ "name": "x", "kind": "CASH", "amountFen": 100, "totalQuantity": 0, "validDays": 1 }),
        json!({ "name": "x", "kind": "CASH", "amountFen": 100, "totalQuantity": 1,
                "validFrom": now.to_rfc3339(), "validUntil": now.to_rfc3339() }),
        json!({ "name": "x", "kind": "CASH", "amountFen": 100, "totalQuantity": 1 }),
        json!({ "name": "x", "kind": "GIFT", "totalQuantity": 1, "validDays": 1 }),
    ] {
        assert_eq!(
            code_of(&hq.raw(CREATE, json!({ "i": bad })).await).as_deref(),
            Some("BAD_USER_INPUT"),
            "{bad}"
        );
    }
    let ba = app.login_staff("ba-demo").await;
    assert_eq!(
        code_of(&ba.raw(CREATE, json!({ "i": cash("x", 100, false) })).await).as_deref(),
        Some("FORBIDDEN")
    );
}

async fn orders_take_coupons_and_refuse_bad_ones_without_changing_anything(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let hq = app.login_staff("hq-demo").await;
    let (me, _) = app.login_member("coupon-dora").await;
    let (other, _) = app.login_member("coupon-evan").await;
    let threshold = create(
        &hq,
        json!({ "name": "满300减50", "kind": "THRESHOLD_REDUCTION", "thresholdFen": 30000,
                "reductionFen": 5000, "totalQuantity": 100, "perMemberLimit": 3, "validDays": 30 }),
    )
    .await;
    let stack_a = create(&hq, cash("立减20", 2000, true)).await;
    let stack_b = create(&hq, cash("立减15", 1500, true)).await;
    let short = create(&hq, json!({ "name": "一天", "kind": "CASH", "amountFen": 100, "totalQuantity": 10, "validDays": 1 })).await;
    let cream_only = create(
        &hq,
        json!({ "name": "面霜专享", "kind": "CASH", "amountFen": 1000, "totalQuantity": 10,
                "validDays": 30, "skuIds": [cat.cream_sku.to_string()] }),
    )
    .await;
    let counter_only = create(
        &hq,
        json!({ "name": "门店券", "kind": "CASH", "amountFen": 1000, "totalQuantity": 10,
                "validDays": 30, "channels": ["IN_STORE"] }),
    )
    .await;
    let t1 = claim(&me, &threshold).await;
    let a = claim(&me, &stack_a).await;
    let b = claim(&me, &stack_b).await;
    let expiring = claim(&me, &short).await;
    let scoped = claim(&me, &cream_only).await;
    let in_store = claim(&me, &counter_only).await;
    let foreign = claim(&other, &stack_a).await;
    clock.advance(Duration::days(2));
    // (sessions do not last two days)
    let (me, _) = app.login_member("coupon-dora").await;
    let hq = app.login_staff("hq-demo").await;

    let before_orders = order_count(&app).await;
    let before_stock = stock(&app, cat.serum_sku, cat.store_location).await;
    let cases: [(&[&str], i32, &str, &str); 7] = [
        (&[&t1], 1, "BAD_USER_INPUT", "below threshold"),
        (&[&expiring], 1, "EXPIRED", "expired"),
        (&[&foreign], 1, "FORBIDDEN", ""),
        (&[&scoped], 1, "BAD_USER_INPUT", "out of scope"),
        (&[&in_store], 1, "BAD_USER_INPUT", "online"),
        (&[&t1, &a], 2, "BAD_USER_INPUT", "cannot be combined"),
        (&[&a, &a], 2, "BAD_USER_INPUT", "twice"),
    ];
    for (coupons, quantity, code, words) in cases {
        let r = me
            .raw(
                PLACE,
                json!({ "i": order_input(&cat, cat.serum_sku, quantity, coupons), "k": key() }),
            )
            .await;
        assert_eq!(code_of(&r).as_deref(), Some(code), "{coupons:?}: {r}");
        let message = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{coupons:?}: {message}");
    }
    assert_eq!(
        order_count(&app).await,
        before_orders,
        "no order was written"
    );
    assert_eq!(
        stock(&app, cat.serum_sku, cat.store_location).await,
        before_stock,
        "no stock was taken"
    );
    for id in [&t1, &a, &scoped, &in_store] {
        assert_eq!(
            coupon_row(&app, id).await.status,
            coupons::CouponStatus::Available
        );
    }

    // Valid: 满300减50 on two serums, one discount line.
    let order = me
        .ok(
            PLACE,
            json!({ "i": order_input(&cat, cat.serum_sku, 2, &[&t1]), "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    let coupon_lines: Vec<&Value> = order["discounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "COUPON")
        .collect();
    assert_eq!(coupon_lines.len(), 1);
    assert_eq!(coupon_lines[0]["amountFen"], 5000);
    assert_eq!(coupon_lines[0]["label"], "满300减50");
    let discounts: i64 = order["discounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["amountFen"].as_i64().unwrap())
        .sum();
    assert_eq!(order["subtotalFen"], 59_800);
    assert_eq!(order["totalFen"].as_i64().unwrap(), 59_800 - discounts);
    let used = coupon_row(&app, &t1).await;
    assert_eq!(used.status, coupons::CouponStatus::Used);
    assert_eq!(
        used.used_order_id,
        Some(order["id"].as_str().unwrap().parse().unwrap())
    );
    // Used once: a second order with it is a conflict.
    let r = me
        .raw(
            PLACE,
            json!({ "i": order_input(&cat, cat.serum_sku, 2, &[&t1]), "k": key() }),
        )
        .await;
    assert_eq!(code_of(&r).as_deref(), Some("CONFLICT"), "{r}");
    // Two stacking coupons: two lines.
    let order = me
        .ok(
            PLACE,
            json!({ "i": order_input(&cat, cat.cream_sku, 1, &[&a, &b]), "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    let amounts: Vec<i64> = order["discounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "COUPON")
        .map(|d| d["amountFen"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![2000, 1500]);

    // One coupon on concurrent orders: exactly one order gets it, the others change nothing.
    let race_tpl = create(&hq, cash("抢用", 1000, false)).await;
    let race = claim(&me, &race_tpl).await;
    let cream_before = stock(&app, cat.cream_sku, cat.store_location).await;
    let orders_before = order_count(&app).await;
    let attempts = (0..8).map(|_| {
        let me = me.clone();
        let input = order_input(&cat, cat.cream_sku, 1, &[&race]);
        async move { me.raw(PLACE, json!({ "i": input, "k": key() })).await }
    });
    let results = futures::future::join_all(attempts).await;
    let placed = results.iter().filter(|r| code_of(r).is_none()).count();
    assert_eq!(placed, 1, "{results:?}");
    assert!(
        results.iter().filter_map(code_of).all(|c| c == "CONFLICT"),
        "{results:?}"
    );
    assert_eq!(order_count(&app).await, orders_before + 1);
    assert_eq!(
        stock(&app, cat.cream_sku, cat.store_location).await,
        cream_before - 1
    );

    // An unpaid order that closes gives its coupons back.
    clock.advance(Duration::minutes(16));
    assert!(payments::close_overdue_orders(&app.state).await.unwrap() >= 2);
    for id in [&t1, &a, &b] {
        let row = coupon_row(&app, id).await;
        assert_eq!(row.status, coupons::CouponStatus::Available, "coupon {id}");
        assert_eq!(row.used_order_id, None);
    }
}

async fn preview_picks_the_best_combination(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let hq = app.login_staff("hq-demo").await;
    let (me, _) = app.login_member("coupon-fay").await;
    let threshold = create(
        &hq,
        json!({ "name": "满300减50", "kind": "THRESHOLD_REDUCTION", "thresholdFen": 30000,
                "reductionFen": 5000, "totalQuantity": 100, "validDays": 30 }),
    )
    .await;
    let percent = create(
        &hq,
        json!({ "name": "九折", "kind": "PERCENT_DISCOUNT", "percentOff": 10, "capFen": 10000,
                "totalQuantity": 100, "validDays": 30 }),
    )
    .await;
    let a = create(&hq, cash("立减20", 2000, true)).await;
    let b = create(&hq, cash("立减15", 1500, true)).await;
    let t = claim(&me, &threshold).await;
    let p = claim(&me, &percent).await;
    let ca = claim(&me, &a).await;
    let cb = claim(&me, &b).await;
    let _ = t;
    // Two serums (598 yuan): 10% off (59.80) beats 满300减50 and the two cash coupons (35).
    let big = me
        .ok(
            PREVIEW,
            json!({ "i": order_input(&cat, cat.serum_sku, 2, &[]) }),
        )
        .await["previewOrder"]
        .clone();
    // couponIds: [] asks for no coupons; the best is reported anyway.
    assert_eq!(big["couponIds"], json!([]));
    assert_eq!(big["bestCouponIds"], json!([p]));
    assert_eq!(big["bestCouponDiscountFen"], 5980);
    // One serum (299 yuan): the threshold is not met; the two stacking cash coupons (35) beat 10% (29.90).
    let small_input = json!({ "lines": [{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }],
                              "pickupStoreId": cat.store_id.to_string() });
    let small = me.ok(PREVIEW, json!({ "i": small_input })).await["previewOrder"].clone();
    let mut best: Vec<String> = small["bestCouponIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    best.sort();
    let mut expected = vec![ca.clone(), cb.clone()];
    expected.sort();
    assert_eq!(best, expected);
    assert_eq!(small["bestCouponDiscountFen"], 3500);
    // Without couponIds the preview prices the best combination.
    assert_eq!(small["couponIds"].as_array().unwrap().len(), 2);
    let coupon_total: i64 = small["discounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "COUPON")
        .map(|d| d["amountFen"].as_i64().unwrap())
        .sum();
    assert_eq!(coupon_total, 3500);
    assert_eq!(
        small["totalFen"].as_i64().unwrap(),
        29_900 - small["discountFen"].as_i64().unwrap()
    );
    // Asking for a combination that does not work names why.
    let r = me
        .raw(
            PREVIEW,
            json!({ "i": order_input(&cat, cat.serum_sku, 1, &[&t]) }),
        )
        .await;
    assert_eq!(code_of(&r).as_deref(), Some("BAD_USER_INPUT"));
    // The preview changes nothing.
    assert_eq!(
        coupon_row(&app, &p).await.status,
        coupons::CouponStatus::Available
    );
}

async fn counter_codes_are_redeemed_once(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 10).await;
    let hq = app.login_staff("hq-demo").await;
    let ba = app.login_staff("ba-demo").await;
    let (me, member_id) = app.login_member("coupon-gina").await;
    let gift = create(
        &hq,
        json!({ "name": "面霜小样", "kind": "GIFT", "giftSkuId": cat.cream_sku.to_string(),
                "totalQuantity": 10, "validDays": 30, "channels": ["IN_STORE"] }),
    )
    .await;
    let coupon = claim(&me, &gift).await;
    let code = me.ok(CODE, json!({ "c": coupon })).await["couponCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    // Staff see what it is before redeeming.
    let seen = ba
        .ok(
            "query($c: String!) { inspectCouponCode(code: $c) { id status template { kind } } }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(seen["inspectCouponCode"]["template"]["kind"], "GIFT");
    let before = stock(&app, cat.cream_sku, cat.store_location).await;
    let attempts = (0..12).map(|_| {
        let ba = ba.clone();
        let code = code.clone();
        async move { ba.raw(REDEEM, json!({ "c": code })).await }
    });
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| code_of(r).is_none()).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(
        results.iter().filter_map(code_of).all(|c| c == "CONFLICT"),
        "{results:?}"
    );
    assert_eq!(
        stock(&app, cat.cream_sku, cat.store_location).await,
        before - 1,
        "one gift left the counter"
    );
    assert_eq!(
        coupon_row(&app, &coupon).await.status,
        coupons::CouponStatus::Used
    );

    // A stale QR is refused as EXPIRED; a forged one as BAD_USER_INPUT.
    let cash_tpl = create(&hq, cash("门店立减", 1000, false)).await;
    let cash_coupon = claim(&me, &cash_tpl).await;
    let stale = me.ok(CODE, json!({ "c": cash_coupon })).await["couponCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.advance(Duration::minutes(4));
    let lines = json!([{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }]);
    let r = ba
        .raw(
            SALE,
            json!({ "m": member_id, "l": lines, "k": key(), "c": [stale] }),
        )
        .await;
    assert_eq!(code_of(&r).as_deref(), Some("EXPIRED"), "{r}");
    let forged = stale.replacen(&format!(".{cash_coupon}."), ".999999.", 1);
    assert_eq!(
        code_of(&ba.raw(REDEEM, json!({ "c": forged })).await).as_deref(),
        Some("BAD_USER_INPUT")
    );
    // A fresh code goes on a counter sale: one discount line; a refund gives the coupon back.
    let fresh = me.ok(CODE, json!({ "c": cash_coupon })).await["couponCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    // Not a gift: it cannot be redeemed on its own.
    assert_eq!(
        code_of(&ba.raw(REDEEM, json!({ "c": fresh })).await).as_deref(),
        Some("BAD_USER_INPUT")
    );
    let sale = ba
        .ok(
            SALE,
            json!({ "m": member_id, "l": lines, "k": key(), "c": [fresh] }),
        )
        .await["recordInStoreSale"]
        .clone();
    assert!(
        sale["discounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "COUPON" && d["amountFen"] == 1000),
        "{sale}"
    );
    let row = coupon_row(&app, &cash_coupon).await;
    assert_eq!(row.status, coupons::CouponStatus::Used);
    assert_eq!(row.used_store_id, Some(cat.store_id));
    let manager = app.login_staff("manager-demo").await;
    manager
        .ok(
            "mutation($id: ID!) { refundOrder(orderId: $id) { status } }",
            json!({ "id": sale["id"] }),
        )
        .await;
    assert_eq!(
        coupon_row(&app, &cash_coupon).await.status,
        coupons::CouponStatus::Available
    );
}

async fn report_counts_every_copy_and_the_money(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 10).await;
    let hq = app.login_staff("hq-demo").await;
    let ba = app.login_staff("ba-demo").await;
    let template = create(
        &hq,
        json!({ "name": "报表券", "kind": "CASH", "amountFen": 2000, "totalQuantity": 10, "validDays": 10 }),
    )
    .await;
    let (a, a_id) = app.login_member("coupon-hana").await;
    let (b, _) = app.login_member("coupon-ian").await;
    let (_, c_id) = app.login_member("coupon-jo").await;
    let used = claim(&a, &template).await;
    claim(&b, &template).await;
    hq.ok(
        "mutation($t: ID!, $m: [ID!]!, $k: String!) { issueCoupons(templateId: $t, memberIds: $m, idempotencyKey: $k) { issued } }",
        json!({ "t": template, "m": [c_id], "k": key() }),
    )
    .await;
    let code = a.ok(CODE, json!({ "c": used })).await["couponCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let sale = ba
        .ok(
            SALE,
            json!({ "m": a_id, "l": [{ "skuId": cat.cream_sku.to_string(), "quantity": 2 }], "k": key(), "c": [code] }),
        )
        .await["recordInStoreSale"]
        .clone();
    clock.advance(Duration::days(11));
    let hq = app.login_staff("hq-demo").await;
    let (b, _) = app.login_member("coupon-ian").await;
    let report = hq.ok(REPORT, json!({ "t": template })).await["couponReport"].clone();
    assert_eq!(
        report,
        json!({ "issued": 3, "claimed": 2, "redeemed": 1, "expired": 2, "available": 0,
                "discountFen": "2000", "revenueFen": sale["totalFen"].as_i64().unwrap().to_string(),
                "orders": 1 }),
        "sums are Fen: strings of digits"
    );
    // Expired coupons cannot get a QR.
    let b_coupons = b
        .ok("{ myCoupons(status: EXPIRED) { nodes { id } } }", json!({}))
        .await;
    let expired = b_coupons["myCoupons"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        code_of(&b.raw(CODE, json!({ "c": expired })).await).as_deref(),
        Some("EXPIRED")
    );
}

async fn birthday_coupons_come_once_a_year(backend: Backend) {
    let start = chrono::DateTime::parse_from_rfc3339("2026-05-10T04:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let clock = Arc::new(ManualClock::new(start));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let hq = app.login_staff("hq-demo").await;
    let template = create(
        &hq,
        json!({ "name": "生日礼券", "kind": "CASH", "amountFen": 5000, "totalQuantity": 1000,
                "perMemberLimit": 1, "validDays": 30, "birthday": true }),
    )
    .await;
    let (may, may_id) = app.login_member("coupon-may").await;
    let (_, june_id) = app.login_member("coupon-june").await;
    for (id, birthday) in [(&may_id, "1990-05-20"), (&june_id, "1991-06-02")] {
        let row = entities::member::Entity::find_by_id(id.parse::<i64>().unwrap())
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        let mut m: entities::member::ActiveModel = row.into();
        m.birthday = Set(Some(fixtures::date(birthday)));
        m.update(app.db()).await.unwrap();
    }
    // Members cannot claim a birthday template.
    assert_eq!(
        code_of(&may.raw(CLAIM, json!({ "t": template, "k": key() })).await).as_deref(),
        Some("BAD_USER_INPUT")
    );
    let tpl_id: i64 = template.parse().unwrap();
    let copies = |member: String| {
        let db = app.db().clone();
        async move {
            entities::coupon::Entity::find()
                .filter(entities::coupon::Column::TemplateId.eq(tpl_id))
                .filter(entities::coupon::Column::MemberId.eq(member.parse::<i64>().unwrap()))
                .count(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        coupons::issue_birthday_coupons(&app.state).await.unwrap(),
        1
    );
    assert_eq!(
        coupons::issue_birthday_coupons(&app.state).await.unwrap(),
        0
    );
    assert_eq!(copies(may_id.clone()).await, 1);
    assert_eq!(copies(june_id.clone()).await, 0);
    clock.set(start + Duration::days(30));
    assert_eq!(
        coupons::issue_birthday_coupons(&app.state).await.unwrap(),
        1
    );
    assert_eq!(copies(june_id.clone()).await, 1);
    // The next year, again once.
    clock.set(start + Duration::days(365));
    assert_eq!(
        coupons::issue_birthday_coupons(&app.state).await.unwrap(),
        1
    );
    assert_eq!(
        coupons::issue_birthday_coupons(&app.state).await.unwrap(),
        0
    );
    assert_eq!(copies(may_id).await, 2);
    let (may, _) = app.login_member("coupon-may").await;
    let mine = may
        .ok(
            "{ myCoupons(status: AVAILABLE) { nodes { source template { birthday } } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["myCoupons"]["nodes"][0]["source"], "BIRTHDAY");
}

/// Twenty claims under one key at once (a retry racing the first) all answer with the one
/// coupon, also when it is the template's last copy; another key of the same member still meets
/// the limit; malformed keys are refused.
async fn claims_under_one_key_all_answer_with_its_coupon(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let (others, _) = app.login_member("coupon-first-comers").await;
    for (total, taken_before, tries) in [(100, 0, 20), (5, 4, 10)] {
        let template = create(
            &hq,
            json!({ "name": "重试券", "kind": "CASH", "amountFen": 500, "totalQuantity": total,
                    "perMemberLimit": 4, "validDays": 7 }),
        )
        .await;
        for _ in 0..taken_before {
            claim(&others, &template).await;
        }
        // A fresh member with a limit of 4 for the first template, 4 (one copy left) for the other.
        let (me, _) = app.login_member(&format!("coupon-retry-{total}")).await;
        let k = key();
        let answers = futures::future::join_all(
            (0..tries).map(|_| me.raw(CLAIM, json!({ "t": template, "k": k }))),
        )
        .await;
        let ids: Vec<Value> = answers
            .iter()
            .map(|a| a["data"]["claimCoupon"]["id"].clone())
            .collect();
        assert!(
            ids.iter().all(|id| id.is_string() && *id == ids[0]),
            "{answers:?}"
        );
        let copies = entities::coupon::Entity::find()
            .filter(entities::coupon::Column::TemplateId.eq(template.parse::<i64>().unwrap()))
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(copies, taken_before + 1);
        if total == 5 {
            assert_eq!(
                code_of(&me.raw(CLAIM, json!({ "t": template, "k": key() })).await).as_deref(),
                Some("SOLD_OUT"),
                "another key is a new claim"
            );
        }
    }
    // A limit of one: the same key again is the coupon, another key is LIMIT_REACHED.
    let single = create(
        &hq,
        json!({ "name": "一人一张", "kind": "CASH", "amountFen": 500, "totalQuantity": 100,
                "perMemberLimit": 1, "validDays": 7 }),
    )
    .await;
    let (me, _) = app.login_member("coupon-single").await;
    let k = key();
    let answers =
        futures::future::join_all((0..20).map(|_| me.raw(CLAIM, json!({ "t": single, "k": k }))))
            .await;
    let first = answers[0]["data"]["claimCoupon"]["id"].clone();
    assert!(first.is_string(), "{:?}", answers[0]);
    assert!(
        answers
            .iter()
            .all(|a| a["data"]["claimCoupon"]["id"] == first),
        "{answers:?}"
    );
    assert_eq!(
        code_of(&me.raw(CLAIM, json!({ "t": single, "k": key() })).await).as_deref(),
        Some("LIMIT_REACHED")
    );
    for bad in [
        String::new(),
        "k".repeat(300),
        "key\u{1}with-control".into(),
    ] {
        assert_eq!(
            code_of(&me.raw(CLAIM, json!({ "t": single, "k": bad })).await).as_deref(),
            Some("BAD_USER_INPUT"),
            "{bad:?}"
        );
    }
}

/// Ten orders placed under one key at once, with a coupon: one order, every answer names it,
/// the coupon used once; a malformed key is refused.
async fn orders_under_one_key_all_answer_with_its_order(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let hq = app.login_staff("hq-demo").await;
    let template = create(&hq, cash("下单券", 1000, false)).await;
    let (me, _) = app.login_member("order-retry").await;
    let coupon = claim(&me, &template).await;
    let before = order_count(&app).await;
    let k = key();
    let input = order_input(&cat, cat.serum_sku, 1, &[&coupon]);
    let answers =
        futures::future::join_all((0..10).map(|_| me.raw(PLACE, json!({ "i": input, "k": k }))))
            .await;
    let first = answers[0]["data"]["placeOrder"]["id"].clone();
    assert!(first.is_string(), "{:?}", answers[0]);
    assert!(
        answers
            .iter()
            .all(|a| a["data"]["placeOrder"]["id"] == first),
        "{answers:?}"
    );
    assert_eq!(answers[0]["data"]["placeOrder"]["discountFen"], 1000);
    assert_eq!(order_count(&app).await, before + 1);
    assert_eq!(
        coupon_row(&app, &coupon).await.status,
        coupons::CouponStatus::Used
    );
    for bad in [
        String::new(),
        "k".repeat(300),
        "key\u{1}with-control".into(),
    ] {
        assert_eq!(
            code_of(
                &me.raw(
                    PLACE,
                    json!({ "i": order_input(&cat, cat.serum_sku, 1, &[]), "k": bad })
                )
                .await
            )
            .as_deref(),
            Some("BAD_USER_INPUT"),
            "{bad:?}"
        );
    }
    assert_eq!(order_count(&app).await, before + 1);
}

/// Copies given before the source key had its own column get it from the migration, so a
/// birthday copy of this year is still found and not given twice.
async fn the_migration_gives_old_coupons_their_source_key(backend: Backend) {
    use sea_orm_migration::MigratorTrait;
    let start = chrono::DateTime::parse_from_rfc3339("2026-05-10T04:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let clock = Arc::new(ManualClock::new(start));
    let app = TestApp::builder(backend).clock(clock).start().await;
    let hq = app.login_staff("hq-demo").await;
    create(
        &hq,
        json!({ "name": "生日礼券", "kind": "CASH", "amountFen": 5000, "totalQuantity": 1000,
                "perMemberLimit": 1, "validDays": 30, "birthday": true }),
    )
    .await;
    let (me, me_id) = app.login_member("coupon-old").await;
    let row = entities::member::Entity::find_by_id(me_id.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let mut m: entities::member::ActiveModel = row.into();
    m.birthday = Set(Some(fixtures::date("1990-05-20")));
    m.update(app.db()).await.unwrap();
    let claimable = create(&hq, cash("老券", 1000, true)).await;
    let k = key();
    let claimed = me.ok(CLAIM, json!({ "t": claimable, "k": k })).await["claimCoupon"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        coupons::issue_birthday_coupons(&app.state).await.unwrap(),
        1
    );
    // Back to before m0011 (the column and what it held are gone), then up again.
    rouge_tests::migrate_down_to_before(app.db(), "m0011_coupon_source_key").await;
    entities::migration::Migrator::up(app.db(), None)
        .await
        .unwrap();
    assert_eq!(coupon_row(&app, &claimed).await.source_key, Some(k));
    let given = entities::coupon::Entity::find()
        .filter(entities::coupon::Column::Source.eq("BIRTHDAY"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(given.source_key.as_deref(), Some("2026"));
    assert_eq!(
        coupons::issue_birthday_coupons(&app.state).await.unwrap(),
        0,
        "this year's copy is found"
    );
}

fn hq_principal() -> StaffPrincipal {
    StaffPrincipal {
        staff_id: 1,
        role: StaffRole::Hq,
        store_id: None,
        session_id: "test".into(),
    }
}

async fn sql(app: &TestApp, statement: String) {
    let done = app.db().execute_unprepared(&statement).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{statement}");
}

async fn issued_of(app: &TestApp, template: i64) -> i64 {
    entities::coupon_template::Entity::find_by_id(template)
        .select_only()
        .column(entities::coupon_template::Column::Issued)
        .into_tuple::<i64>()
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn copies_of(app: &TestApp, template: i64) -> u64 {
    entities::coupon::Entity::find()
        .filter(entities::coupon::Column::TemplateId.eq(template))
        .count(app.db())
        .await
        .unwrap()
}

/// Every call answers INTERNAL, without the stored value in the message.
async fn all_internal(api: &Gql, calls: &[(&str, Value)], hidden: &str) {
    for (query, vars) in calls {
        let body = api.raw(query, vars.clone()).await;
        assert_eq!(
            code_of(&body).as_deref(),
            Some("INTERNAL"),
            "{query}: {body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(!message.contains(hidden), "{message}");
    }
}

/// A coupon kind, channel or source Rouge does not know, written behind its back, is an error:
/// reading or using the template fails INTERNAL and changes nothing; an unknown kind is never
/// taken for a cash coupon.
async fn unknown_stored_coupon_values_are_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let hq = app.login_staff("hq-demo").await;
    let template = create(&hq, cash("未知券", 1000, true)).await;
    let t: i64 = template.parse().unwrap();
    let (me, me_id) = app.login_member("coupon-stored").await;
    let coupon = claim(&me, &template).await;
    let orders_before = order_count(&app).await;

    sql(
        &app,
        format!("UPDATE coupon_templates SET kind = 'VOUCHER' WHERE id = {t}"),
    )
    .await;
    assert!(matches!(
        coupons::template(&app.state, &hq_principal(), t).await,
        Err(coupons::CouponsError::Store(StoreError::Db(DbErr::Type(_))))
    ));
    let with_coupon = json!({ "i": order_input(&cat, cat.serum_sku, 1, &[&coupon]), "k": key() });
    let without = json!({ "i": order_input(&cat, cat.serum_sku, 1, &[]) });
    all_internal(
        &me,
        &[
            (CLAIM, json!({ "t": template, "k": key() })),
            ("{ claimableCoupons { nodes { left } } }", json!({})),
            ("{ myCoupons { nodes { id } } }", json!({})),
            (CODE, json!({ "c": coupon })),
            (PREVIEW, with_coupon.clone()),
            (PREVIEW, without),
            (PLACE, with_coupon),
        ],
        "VOUCHER",
    )
    .await;
    all_internal(
        &hq,
        &[
            ("{ couponTemplates { nodes { id } } }", json!({})),
            (REPORT, json!({ "t": template })),
            (
                "mutation($t: ID!, $m: [ID!]!, $k: String!) { issueCoupons(templateId: $t, memberIds: $m, idempotencyKey: $k) { issued } }",
                json!({ "t": template, "m": [me_id], "k": key() }),
            ),
            (
                "mutation($t: ID!) { setCouponTemplateActive(templateId: $t, active: false) { id } }",
                json!({ "t": template }),
            ),
        ],
        "VOUCHER",
    )
    .await;
    // Nothing changed: no copy given, no order placed, the coupon still unused.
    assert_eq!(issued_of(&app, t).await, 1);
    assert_eq!(copies_of(&app, t).await, 1);
    assert_eq!(order_count(&app).await, orders_before);
    assert_eq!(
        coupon_row(&app, &coupon).await.status,
        coupons::CouponStatus::Available
    );

    // A channel it does not know is no better.
    sql(
        &app,
        format!(
            "UPDATE coupon_templates SET kind = 'CASH', channels = '[\"MAIL\"]' WHERE id = {t}"
        ),
    )
    .await;
    all_internal(
        &me,
        &[
            ("{ myCoupons { nodes { id } } }", json!({})),
            (CLAIM, json!({ "t": template, "k": key() })),
        ],
        "MAIL",
    )
    .await;
    all_internal(
        &hq,
        &[("{ couponTemplates { nodes { id } } }", json!({}))],
        "MAIL",
    )
    .await;
    assert_eq!(issued_of(&app, t).await, 1);

    // Nor is a source: the member's coupons cannot be read.
    sql(
        &app,
        format!("UPDATE coupon_templates SET channels = '[]' WHERE id = {t}"),
    )
    .await;
    assert_eq!(
        me.ok("{ myCoupons { nodes { source } } }", json!({})).await["myCoupons"]["nodes"][0]["source"],
        "CLAIM"
    );
    sql(
        &app,
        format!("UPDATE coupons SET source = 'GIFTED' WHERE id = {coupon}"),
    )
    .await;
    all_internal(
        &me,
        &[("{ myCoupons { nodes { id } } }", json!({}))],
        "GIFTED",
    )
    .await;
    all_internal(&hq, &[(REPORT, json!({ "t": template }))], "GIFTED").await;
}

/// The member's coupons with this filter, as (id, status, used order id).
async fn mine(me: &Gql, status: Value) -> Vec<(String, String, Value)> {
    me.ok(MINE, json!({ "s": status })).await["myCoupons"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["usedOrderId"].clone(),
            )
        })
        .collect()
}

async fn order_status_of(app: &TestApp, id: &Value) -> entities::order::OrderStatus {
    entities::order::Entity::find_by_id(id.as_str().unwrap().parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn a_coupon_on_an_unpaid_order_shows_as_reserved(backend: Backend) {
    use entities::order::OrderStatus;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 10).await;
    let hq = app.login_staff("hq-demo").await;
    let (me, _) = app.login_member("coupon-reserve").await;
    let template = create(&hq, cash("立减10", 1000, true)).await;
    let paid = claim(&me, &template).await;
    let closed = claim(&me, &template).await;

    // Taken by an order awaiting payment: RESERVED to the member, USED as stored.
    let order = me
        .ok(
            PLACE,
            json!({ "i": order_input(&cat, cat.serum_sku, 1, &[&paid]), "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(order["status"], "PENDING_PAYMENT");
    let all = mine(&me, Value::Null).await;
    assert!(
        all.contains(&(paid.clone(), "RESERVED".into(), order["id"].clone())),
        "{all:?}"
    );
    assert!(
        all.contains(&(closed.clone(), "AVAILABLE".into(), Value::Null)),
        "{all:?}"
    );
    assert_eq!(
        coupon_row(&app, &paid).await.status,
        coupons::CouponStatus::Used
    );
    let ids =
        |list: Vec<(String, String, Value)>| list.into_iter().map(|c| c.0).collect::<Vec<_>>();
    assert_eq!(ids(mine(&me, json!("RESERVED")).await), vec![paid.clone()]);
    assert_eq!(ids(mine(&me, json!("USED")).await), Vec::<String>::new());
    assert_eq!(
        ids(mine(&me, json!("AVAILABLE")).await),
        vec![closed.clone()]
    );

    // Paid: USED.
    me.ok(PAY, json!({ "id": order["id"] })).await;
    app.wechat
        .pay(order["orderNo"].as_str().unwrap())
        .await
        .unwrap();
    eventually(10, "the payment notification", || async {
        order_status_of(&app, &order["id"]).await == OrderStatus::Paid
    })
    .await;
    let all = mine(&me, Value::Null).await;
    assert!(
        all.contains(&(paid.clone(), "USED".into(), order["id"].clone())),
        "{all:?}"
    );
    assert_eq!(ids(mine(&me, json!("USED")).await), vec![paid.clone()]);
    assert_eq!(
        ids(mine(&me, json!("RESERVED")).await),
        Vec::<String>::new()
    );

    // Taken by an order that closes unpaid: RESERVED, then AVAILABLE again.
    let unpaid = me
        .ok(
            PLACE,
            json!({ "i": order_input(&cat, cat.serum_sku, 1, &[&closed]), "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(
        ids(mine(&me, json!("RESERVED")).await),
        vec![closed.clone()]
    );
    assert!(mine(&me, Value::Null).await.contains(&(
        closed.clone(),
        "RESERVED".into(),
        unpaid["id"].clone()
    )));
    clock.advance(Duration::minutes(16));
    assert!(payments::close_overdue_orders(&app.state).await.unwrap() >= 1);
    assert_eq!(
        order_status_of(&app, &unpaid["id"]).await,
        OrderStatus::Closed
    );
    let (me, _) = app.login_member("coupon-reserve").await;
    let all = mine(&me, Value::Null).await;
    assert!(
        all.contains(&(closed.clone(), "AVAILABLE".into(), Value::Null)),
        "{all:?}"
    );
    assert!(
        all.contains(&(paid.clone(), "USED".into(), order["id"].clone())),
        "{all:?}"
    );
    assert_eq!(
        ids(mine(&me, json!("RESERVED")).await),
        Vec::<String>::new()
    );
}

on_both_backends!(
    unknown_stored_coupon_values_are_errors,
    the_migration_gives_old_coupons_their_source_key,
    claims_under_one_key_all_answer_with_its_coupon,
    orders_under_one_key_all_answer_with_its_order,
    concurrent_claims_stop_at_the_total_and_each_members_limit,
    claims_are_idempotent_and_limited,
    orders_take_coupons_and_refuse_bad_ones_without_changing_anything,
    preview_picks_the_best_combination,
    counter_codes_are_redeemed_once,
    report_counts_every_copy_and_the_money,
    birthday_coupons_come_once_a_year,
    a_coupon_on_an_unpaid_order_shows_as_reserved,
);
