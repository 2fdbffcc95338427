//! B2B fulfilment (issue 15): allocation first-expiry-first-out within the distributor's
//! minimum shelf life with backorders (and concurrent allocations of the last units), shipment
//! binding pack-code ranges (no range shipped twice, also at once), invoicing into receivables,
//! receipt with short and damaged units, payments (same reference once, also at once), and the
//! hold for receivables overdue past the grace days.

use std::sync::Arc;

use chrono::{Days, Duration, NaiveDate, Utc};
use domain::platform::clock::{DEFAULT_ZONE, ManualClock};
use rouge_tests::{Backend, Gql, TestApp, fixtures, on_both_backends};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

const QUOTE: &str =
    "query($i: PurchaseOrderInput!) { quotePurchaseOrder(input: $i) { hash totalFen } }";
const SUBMIT: &str = "mutation($i: PurchaseOrderInput!, $h: String!, $k: String!) {
  submitPurchaseOrder(input: $i, quoteHash: $h, idempotencyKey: $k) { id totalFen lines { id skuId qty } } }";
pub(crate) const APPROVE: &str =
    "mutation($id: ID!, $h: String!) { approvePurchaseOrder(id: $id, quoteHash: $h) { status } }";
const FULFILMENT_FIELDS: &str = "purchaseOrderId status
  lines { lineId skuId orderedQty allocatedQty backorderedQty shippedQty receivedQty damagedQty shortQty }
  allocations { lineId stockBatchId lot expiresOn qty shippedQty }
  shipments { id no invoiceFen codeRanges { lineId codeBatchId serialFrom serialTo } }";
const CREDIT: &str = "{ myCredit { limitFen reservedFen openArFen availableFen } }";

pub(crate) fn allocate() -> String {
    format!("mutation($id: ID!) {{ allocatePurchaseOrder(id: $id) {{ {FULFILMENT_FIELDS} }} }}")
}

pub(crate) fn ship() -> String {
    format!(
        "mutation($id: ID!, $c: [CartonInput!]!) {{ shipPurchaseOrder(id: $id, cartons: $c) {{ {FULFILMENT_FIELDS} }} }}"
    )
}

pub(crate) fn receipt() -> String {
    format!(
        "mutation($id: ID!, $l: [ReceiptLineInput!]) {{ confirmReceipt(id: $id, lines: $l) {{ {FULFILMENT_FIELDS} }} }}"
    )
}

fn fulfilment_query() -> String {
    format!("query($id: ID!) {{ purchaseOrderFulfilment(id: $id) {{ {FULFILMENT_FIELDS} }} }}")
}

fn today() -> NaiveDate {
    Utc::now().with_timezone(&DEFAULT_ZONE).date_naive()
}

pub(crate) fn reason(body: &Value) -> String {
    body["errors"][0]["extensions"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub(crate) fn code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub(crate) struct Setup {
    pub(crate) hq: Gql,
    pub(crate) dist: Gql,
    pub(crate) dist_id: i64,
    pub(crate) cat: fixtures::Catalog,
}

pub(crate) async fn distributor_id(app: &TestApp, code: &str) -> i64 {
    entities::distributor::Entity::find()
        .filter(entities::distributor::Column::Code.eq(code))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// dist-demo on a fresh tier: the test's two SKUs at ¥100 (MOQ 6, cases of 6), `limit` fen of
/// credit (30 days, 7 days' grace); `units` of each SKU in the warehouse (expiring 2029).
pub(crate) async fn setup(app: &TestApp, limit: i64, units: i64) -> Setup {
    let cat = fixtures::catalog(app, units).await;
    let hq = app.login_staff("hq-demo").await;
    let code = format!("F{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let tier = hq
        .ok(
            "mutation($i: DistributorTierInput!) { upsertDistributorTier(input: $i) { id } }",
            json!({ "i": { "code": code, "name": "履约" } }),
        )
        .await["upsertDistributorTier"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dist_id = distributor_id(app, "D-EAST-01").await;
    hq.ok(
        "mutation($d: ID!, $t: ID!) { assignDistributorTier(distributorId: $d, tierId: $t) { id } }",
        json!({ "d": dist_id.to_string(), "t": tier }),
    )
    .await;
    let item = |sku: i64| {
        json!({ "skuId": sku.to_string(), "moq": 6, "caseSize": 6,
        "ladder": [ { "minQty": 6, "unitPriceFen": 10_000 } ] })
    };
    let valid_from = app
        .state
        .clock
        .now()
        .with_timezone(&DEFAULT_ZONE)
        .date_naive()
        .to_string();
    hq.ok(
        "mutation($t: ID!, $f: Date!, $items: [PriceListItemInput!]!) {
           publishPriceList(tierId: $t, validFrom: $f, items: $items) { id } }",
        json!({ "t": tier, "f": valid_from, "items": [item(cat.serum_sku), item(cat.cream_sku)] }),
    )
    .await;
    app.login_staff("finance-demo")
        .await
        .ok(
            "mutation($d: ID!, $t: CreditTermsInput!, $r: String!) {
               setCreditTerms(distributorId: $d, terms: $t, reason: $r) { limitFen } }",
            json!({ "d": dist_id.to_string(), "t": { "limitFen": limit, "paymentTermDays": 30, "graceDays": 7 }, "r": "授信" }),
        )
        .await;
    Setup {
        hq,
        dist: app.login_distributor("dist-demo").await,
        dist_id,
        cat,
    }
}

/// Submits and approves an order of `lines` (SKU, qty); returns (order id, [(line id, SKU)]).
pub(crate) async fn approved_order(
    s: &Setup,
    lines: &[(i64, i64)],
) -> (String, Vec<(String, i64)>) {
    let input = json!({ "lines": lines.iter().map(|(sku, q)| json!({ "skuId": sku.to_string(), "qty": q })).collect::<Vec<_>>() });
    let quote = s.dist.ok(QUOTE, json!({ "i": input })).await["quotePurchaseOrder"].clone();
    let key = format!("ful-{}", uuid::Uuid::new_v4().simple());
    let po = s
        .dist
        .ok(SUBMIT, json!({ "i": input, "h": quote["hash"], "k": key }))
        .await["submitPurchaseOrder"]
        .clone();
    let id = po["id"].as_str().unwrap().to_owned();
    s.hq.ok(APPROVE, json!({ "id": id, "h": quote["hash"] }))
        .await;
    let lines = po["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_owned(),
                l["skuId"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    (id, lines)
}

async fn receive(app: &TestApp, s: &Setup, sku: i64, lot: &str, expires: NaiveDate, qty: i64) {
    domain::inventory::receive(
        &app.state,
        &s.cat.hq,
        domain::inventory::Receipt {
            location_id: s.cat.warehouse,
            sku_id: sku,
            lot: lot.into(),
            manufactured_on: fixtures::date("2026-01-01"),
            expires_on: expires,
            quantity: qty,
        },
    )
    .await
    .unwrap();
}

async fn warehouse_units(app: &TestApp, s: &Setup, sku: i64) -> Vec<i64> {
    entities::stock_level::Entity::find()
        .filter(entities::stock_level::Column::LocationId.eq(s.cat.warehouse))
        .filter(entities::stock_level::Column::SkuId.eq(sku))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.quantity)
        .collect()
}

async fn concurrent_allocations_never_oversell_and_respect_shelf_life(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 100_000_000, 0).await;
    let serum = s.cat.serum_sku;
    // 10 units expiring in 100 days (too short for this distributor), 20 and 30 units later.
    let soon = today().checked_add_days(Days::new(100)).unwrap();
    receive(&app, &s, serum, "SOON", soon, 10).await;
    receive(&app, &s, serum, "MID", fixtures::date("2029-06-30"), 20).await;
    receive(&app, &s, serum, "LATE", fixtures::date("2030-06-30"), 30).await;
    // A BA may not set shelf life; a negative one is refused.
    let ba = app.login_staff("ba-demo").await;
    let set = "mutation($d: ID!, $n: Int) { setMinShelfLife(distributorId: $d, days: $n) }";
    let denied = ba
        .err(set, json!({ "d": s.dist_id.to_string(), "n": 180 }))
        .await;
    assert_eq!(denied, "FORBIDDEN");
    let bad =
        s.hq.err(set, json!({ "d": s.dist_id.to_string(), "n": -1 }))
            .await;
    assert_eq!(bad, "BAD_USER_INPUT");
    s.hq.ok(set, json!({ "d": s.dist_id.to_string(), "n": 180 }))
        .await;
    // Eight orders of 12 each (96 units) for the 50 units with shelf life enough. The first
    // alone: first expiry first, from the batch expiring soonest that is long enough.
    let mut orders = Vec::new();
    for _ in 0..8 {
        orders.push(approved_order(&s, &[(serum, 12)]).await);
    }
    let first =
        s.hq.ok(&allocate(), json!({ "id": orders[0].0 })).await["allocatePurchaseOrder"].clone();
    assert_eq!(first["allocations"].as_array().unwrap().len(), 1);
    assert_eq!(first["allocations"][0]["lot"], "MID");
    assert_eq!(first["allocations"][0]["qty"], 12);
    let mut allocated = 12;
    let mut backordered = 0;
    // The other seven race.
    let tasks: Vec<_> = orders[1..]
        .iter()
        .map(|(id, _)| {
            let hq = s.hq.clone();
            let id = id.clone();
            let q = allocate();
            tokio::spawn(async move { hq.ok(&q, json!({ "id": id })).await })
        })
        .collect();
    for t in tasks {
        let f = t.await.unwrap()["allocatePurchaseOrder"].clone();
        assert_eq!(f["status"], "ALLOCATED");
        let line = &f["lines"][0];
        assert_eq!(
            line["allocatedQty"].as_i64().unwrap() + line["backorderedQty"].as_i64().unwrap(),
            12
        );
        allocated += line["allocatedQty"].as_i64().unwrap();
        backordered += line["backorderedQty"].as_i64().unwrap();
        for a in f["allocations"].as_array().unwrap() {
            assert_ne!(a["lot"], "SOON", "shelf life not respected: {f}");
        }
    }
    assert_eq!(allocated, 50);
    assert_eq!(backordered, 46);
    // Stock never below zero; the short-dated batch untouched; the ledger adds up.
    let mut levels = warehouse_units(&app, &s, serum).await;
    levels.sort_unstable();
    assert_eq!(levels, vec![0, 0, 10]);
    assert!(
        domain::inventory::ledger_balances(&app.state)
            .await
            .unwrap()
    );
    let moved: u64 = entities::stock_movement::Entity::find()
        .filter(
            entities::stock_movement::Column::Kind
                .eq(entities::stock_movement::MovementKind::B2bAllocate),
        )
        .filter(entities::stock_movement::Column::SkuId.eq(serum))
        .count(app.db())
        .await
        .unwrap();
    assert!(moved >= 5, "one movement per order and batch");
    // Allocating an order again without backorders is refused; a backordered one fills up
    // once stock arrives.
    let full = &orders[0].0;
    let f = s.dist.ok(&fulfilment_query(), json!({ "id": full })).await["purchaseOrderFulfilment"]
        .clone();
    assert_eq!(f["lines"][0]["allocatedQty"], 12);
    let (waiting, done): (Vec<_>, Vec<_>) = {
        let mut waiting = Vec::new();
        let mut done = Vec::new();
        for (id, _) in &orders {
            let f =
                s.hq.ok(&fulfilment_query(), json!({ "id": id })).await["purchaseOrderFulfilment"]
                    .clone();
            if f["lines"][0]["backorderedQty"].as_i64().unwrap() > 0 {
                waiting.push(id.clone());
            } else {
                done.push(id.clone());
            }
        }
        (waiting, done)
    };
    let again = s.hq.raw(&allocate(), json!({ "id": done[0] })).await;
    assert_eq!(reason(&again), "PO_WRONG_STATE");
    receive(&app, &s, serum, "NEW", fixtures::date("2031-01-01"), 100).await;
    let filled =
        s.hq.ok(&allocate(), json!({ "id": waiting[0] })).await["allocatePurchaseOrder"].clone();
    assert_eq!(filled["lines"][0]["backorderedQty"], 0);
    assert_eq!(filled["lines"][0]["allocatedQty"], 12);
    // Another organisation cannot read the order's fulfilment.
    let south = app.login_distributor("dist-demo-2").await;
    let hidden = south.err(&fulfilment_query(), json!({ "id": full })).await;
    assert_eq!(hidden, "NOT_FOUND");
    app.stop().await;
}

/// A code batch of `count` pack codes for a SKU.
pub(crate) async fn code_batch(app: &TestApp, s: &Setup, sku: i64, count: i64) -> i64 {
    let now = Utc::now();
    entities::scan_code_batch::ActiveModel {
        name: Set(format!("packs {sku}")),
        sku_id: Set(sku),
        code_count: Set(count),
        stock_batch_id: Set(None),
        lot: Set(None),
        distributor_id: Set(None),
        territory: Set(String::new()),
        territory_codes: Set(None),
        gift_kind: Set(entities::scan_code_batch::GiftKind::Points),
        gift_points: Set(10),
        coupon_template_id: Set(None),
        sample_name: Set(None),
        valid_from: Set(now - Duration::days(1)),
        valid_until: Set(now + Duration::days(365)),
        active: Set(true),
        created_by: Set(s.cat.hq.staff_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
    .id
}

pub(crate) fn carton(line: &str, batch: i64, from: i64, to: i64) -> Value {
    json!({ "lines": [ { "lineId": line, "codeBatchId": batch.to_string(), "serialFrom": from, "serialTo": to, "qty": to - from + 1 } ] })
}

async fn shipping_binds_pack_ranges_once_and_invoices(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 10_000_000, 100).await;
    let (serum, cream) = (s.cat.serum_sku, s.cat.cream_sku);
    let (id, lines) = approved_order(&s, &[(serum, 12), (cream, 12)]).await;
    let line_of = |sku: i64| lines.iter().find(|(_, k)| *k == sku).unwrap().0.clone();
    let (serum_line, cream_line) = (line_of(serum), line_of(cream));
    let serum_codes = code_batch(&app, &s, serum, 100).await;
    let cream_codes = code_batch(&app, &s, cream, 100).await;
    // Not allocated yet: nothing ships.
    let early =
        s.hq.raw(
            &ship(),
            json!({ "id": id, "c": [carton(&serum_line, serum_codes, 0, 5)] }),
        )
        .await;
    assert_eq!(reason(&early), "PO_WRONG_STATE");
    s.hq.ok(&allocate(), json!({ "id": id })).await;
    // First carton: six serums; the order is partly shipped and half of it invoiced.
    let f =
        s.hq.ok(
            &ship(),
            json!({ "id": id, "c": [carton(&serum_line, serum_codes, 0, 5)] }),
        )
        .await["shipPurchaseOrder"]
            .clone();
    assert_eq!(f["status"], "PARTIALLY_SHIPPED");
    assert_eq!(f["shipments"][0]["invoiceFen"], "60000");
    let credit = s.dist.ok(CREDIT, json!({})).await["myCredit"].clone();
    assert_eq!(credit["reservedFen"], "180000");
    assert_eq!(credit["openArFen"], "60000");
    // Refusals change nothing: an overlapping range, another SKU's codes, a size that is not
    // the quantity, serials beyond the batch, more than allocated.
    let overlap =
        s.hq.raw(
            &ship(),
            json!({ "id": id, "c": [carton(&serum_line, serum_codes, 3, 8)] }),
        )
        .await;
    assert_eq!(code(&overlap), "CONFLICT");
    assert_eq!(reason(&overlap), "CODES_ALREADY_SHIPPED");
    let wrong_sku =
        s.hq.raw(
            &ship(),
            json!({ "id": id, "c": [carton(&cream_line, serum_codes, 50, 55)] }),
        )
        .await;
    assert_eq!(reason(&wrong_sku), "CARTON_MISMATCH");
    let bad_qty = json!([{ "lines": [ { "lineId": serum_line, "codeBatchId": serum_codes.to_string(), "serialFrom": 10, "serialTo": 15, "qty": 5 } ] }]);
    let refused = s.hq.raw(&ship(), json!({ "id": id, "c": bad_qty })).await;
    assert_eq!(code(&refused), "BAD_USER_INPUT");
    assert_eq!(reason(&refused), "CARTON_MISMATCH");
    let beyond =
        s.hq.raw(
            &ship(),
            json!({ "id": id, "c": [carton(&serum_line, serum_codes, 98, 103)] }),
        )
        .await;
    assert_eq!(reason(&beyond), "CARTON_MISMATCH");
    let too_many =
        s.hq.raw(
            &ship(),
            json!({ "id": id, "c": [carton(&serum_line, serum_codes, 10, 21)] }),
        )
        .await;
    assert_eq!(reason(&too_many), "CARTON_MISMATCH");
    let unchanged =
        s.hq.ok(&fulfilment_query(), json!({ "id": id })).await["purchaseOrderFulfilment"].clone();
    assert_eq!(unchanged["shipments"].as_array().unwrap().len(), 1);
    // Two shippers send the same range at once: one ships it, the other is refused.
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let hq = s.hq.clone();
            let vars = json!({ "id": id, "c": [carton(&serum_line, serum_codes, 6, 11)] });
            tokio::spawn(async move { hq.raw(&ship(), vars).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let body = t.await.unwrap();
        if body["errors"].is_null() {
            ok += 1;
        } else {
            assert!(
                ["CODES_ALREADY_SHIPPED", "CARTON_MISMATCH"].contains(&reason(&body).as_str()),
                "{body}"
            );
        }
    }
    assert_eq!(ok, 1);
    // The cream completes the order: everything invoiced, nothing reserved.
    let f =
        s.hq.ok(
            &ship(),
            json!({ "id": id, "c": [carton(&cream_line, cream_codes, 0, 11)] }),
        )
        .await["shipPurchaseOrder"]
            .clone();
    assert_eq!(f["status"], "SHIPPED");
    let invoiced: i64 = f["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["invoiceFen"].as_str().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(invoiced, 240_000);
    let credit = s.dist.ok(CREDIT, json!({})).await["myCredit"].clone();
    assert_eq!(credit["reservedFen"], "0");
    assert_eq!(credit["openArFen"], "240000");
    let entries = entities::credit_entry::Entity::find()
        .filter(entities::credit_entry::Column::DistributorId.eq(s.dist_id))
        .filter(
            entities::credit_entry::Column::Kind
                .eq(entities::credit_entry::CreditEntryKind::Invoice),
        )
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(entries, 3);
    // Each receivable falls due 30 days after shipping (Shanghai days).
    let due = s
        .dist
        .ok(
            "{ myReceivables(first: 10) { nodes { amountFen dueOn overdue } } }",
            json!({}),
        )
        .await;
    let rows = due["myReceivables"]["nodes"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let expected = today().checked_add_days(Days::new(30)).unwrap().to_string();
    assert!(
        rows.iter()
            .all(|r| r["dueOn"] == expected.as_str() && r["overdue"] == false)
    );
    // Every pack maps to the distributor it was shipped to, in one place.
    let db = app.db();
    assert_eq!(
        domain::b2b::packs::shipped_to(db, serum_codes, 7)
            .await
            .unwrap(),
        Some(s.dist_id)
    );
    assert_eq!(
        domain::b2b::packs::shipped_to(db, serum_codes, 12)
            .await
            .unwrap(),
        None
    );
    // Receipt: another organisation cannot; too many counted is refused and changes nothing;
    // then 10 received and 1 damaged of the serums: 1 short.
    let south = app.login_distributor("dist-demo-2").await;
    assert_eq!(
        south.err(&receipt(), json!({ "id": id })).await,
        "NOT_FOUND"
    );
    let over = s
        .dist
        .raw(&receipt(), json!({ "id": id, "l": [ { "lineId": serum_line, "receivedQty": 12, "damagedQty": 1 } ] }))
        .await;
    assert_eq!(code(&over), "BAD_USER_INPUT");
    let f = s
        .dist
        .ok(&receipt(), json!({ "id": id, "l": [ { "lineId": serum_line, "receivedQty": 10, "damagedQty": 1 } ] }))
        .await["confirmReceipt"]
        .clone();
    assert_eq!(f["status"], "RECEIVED");
    let serum_row = f["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lineId"] == serum_line.as_str())
        .unwrap()
        .clone();
    assert_eq!(serum_row["receivedQty"], 10);
    assert_eq!(serum_row["damagedQty"], 1);
    assert_eq!(serum_row["shortQty"], 1);
    let again = s.dist.raw(&receipt(), json!({ "id": id })).await;
    assert_eq!(reason(&again), "PO_WRONG_STATE");
    app.stop().await;
}

pub(crate) const PAY: &str = "mutation($d: ID!, $a: Fen!, $r: String!, $k: String!) {
  recordDistributorPayment(distributorId: $d, amountFen: $a, reference: $r, idempotencyKey: $k) { id amountFen reference } }";
const STANDING: &str = "{ myAccountStanding { openFen overdueFen onHold } }";

async fn payments_are_recorded_once_and_clear_the_overdue_hold(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let s = setup(&app, 10_000_000, 100).await;
    let serum = s.cat.serum_sku;
    let (id, lines) = approved_order(&s, &[(serum, 12)]).await;
    let codes = code_batch(&app, &s, serum, 100).await;
    s.hq.ok(&allocate(), json!({ "id": id })).await;
    s.hq.ok(
        &ship(),
        json!({ "id": id, "c": [carton(&lines[0].0, codes, 0, 11)] }),
    )
    .await;
    // 38 days later: due after 30, grace 7: on hold, and a new order is refused.
    clock.advance(Duration::days(38));
    let dist = app.login_distributor("dist-demo").await;
    let finance = app.login_staff("finance-demo").await;
    let standing = dist.ok(STANDING, json!({})).await["myAccountStanding"].clone();
    assert_eq!(
        standing,
        json!({ "openFen": "120000", "overdueFen": "120000", "onHold": true })
    );
    let input = json!({ "lines": [ { "skuId": serum.to_string(), "qty": 6 } ] });
    let quote = dist.ok(QUOTE, json!({ "i": input })).await["quotePurchaseOrder"].clone();
    let held = dist
        .raw(
            SUBMIT,
            json!({ "i": input, "h": quote["hash"], "k": "held-order-1" }),
        )
        .await;
    assert_eq!(code(&held), "CONFLICT");
    assert_eq!(reason(&held), "ACCOUNT_ON_HOLD");
    // A BA may not record payments; more than is owed is refused.
    let ba = app.login_staff("ba-demo").await;
    let d = s.dist_id.to_string();
    let denied = ba
        .err(
            PAY,
            json!({ "d": d, "a": "1000", "r": "BANK-0", "k": "pay-key-0000" }),
        )
        .await;
    assert_eq!(denied, "FORBIDDEN");
    let over = finance
        .raw(
            PAY,
            json!({ "d": d, "a": "120001", "r": "BANK-X", "k": "pay-key-xxxx" }),
        )
        .await;
    assert_eq!(reason(&over), "PAYMENT_EXCEEDS_OPEN");
    // The same bank reference sent eight times at once: one payment.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let finance = finance.clone();
            let vars =
                json!({ "d": d, "a": "50000", "r": "BANK-1", "k": format!("pay-key-{i:04}") });
            tokio::spawn(async move { finance.ok(PAY, vars).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap()["recordDistributorPayment"]["id"].clone());
    }
    assert_eq!(ids.len(), 1);
    let payments = entities::distributor_payment::Entity::find()
        .filter(entities::distributor_payment::Column::DistributorId.eq(s.dist_id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(payments, 1);
    let reused = finance
        .raw(
            PAY,
            json!({ "d": d, "a": "60000", "r": "BANK-1", "k": "pay-key-9999" }),
        )
        .await;
    assert_eq!(reason(&reused), "PAYMENT_REFERENCE_REUSED");
    let standing = dist.ok(STANDING, json!({})).await["myAccountStanding"].clone();
    assert_eq!(standing["openFen"], "70000");
    assert_eq!(standing["onHold"], true);
    // Paying the rest lifts the hold; the credit ledger and counters agree.
    finance
        .ok(
            PAY,
            json!({ "d": d, "a": "70000", "r": "BANK-2", "k": "pay-key-2000" }),
        )
        .await;
    let standing = dist.ok(STANDING, json!({})).await["myAccountStanding"].clone();
    assert_eq!(
        standing,
        json!({ "openFen": "0", "overdueFen": "0", "onHold": false })
    );
    let credit = dist.ok(CREDIT, json!({})).await["myCredit"].clone();
    assert_eq!(credit["openArFen"], "0");
    let po = dist
        .ok(
            SUBMIT,
            json!({ "i": input, "h": quote["hash"], "k": "held-order-2" }),
        )
        .await;
    assert_eq!(po["submitPurchaseOrder"]["totalFen"], 60_000);
    let audited = entities::audit_log::Entity::find()
        .filter(
            entities::audit_log::Column::Action.eq(entities::audit_log::Action::DistributorPayment),
        )
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(audited, 2);
    app.stop().await;
}

on_both_backends!(
    concurrent_allocations_never_oversell_and_respect_shelf_life,
    shipping_binds_pack_ranges_once_and_invoices,
    payments_are_recorded_once_and_clear_the_overdue_hold,
);
