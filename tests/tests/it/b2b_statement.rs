//! The distributor's account statement (对账单, issue 15): a month in Asia/Shanghai with its
//! opening balance, every invoice and payment dated and referenced, and its closing balance;
//! opening + Σ lines = closing, each month's opening the last one's closing, and a payment at
//! 23:30 on the month's last day (Shanghai) in that month although it is 15:30 UTC. The CSV and
//! XLSX files hold the same figures. A credit override is given back once its order is fully
//! shipped and paid (not before).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::platform::clock::ManualClock;
use rouge_tests::{Backend, Gql, TestApp, fixtures, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::b2b_fulfilment::{
    PAY, Setup, allocate, approved_order, carton, code_batch, setup, ship,
};
use super::report_exports::{bytes, csv_rows, xlsx_rows};

const STATEMENT_FIELDS: &str = "distributorId distributorCode month firstDay lastDay
  openingFen invoicedFen creditedFen closingFen
  lines { at day kind reference purchaseOrderId purchaseOrderNo amountFen balanceFen }";

fn statement() -> String {
    format!("query($m: String!) {{ accountStatement(month: $m) {{ {STATEMENT_FIELDS} }} }}")
}

fn staff_statement() -> String {
    format!(
        "query($d: ID!, $m: String!) {{ distributorStatement(distributorId: $d, month: $m) {{ {STATEMENT_FIELDS} }} }}"
    )
}

const EXPORT: &str = "mutation($m: String!, $f: ExportFormat!) {
  exportAccountStatement(month: $m, format: $f) { format month url expiresAt lines openingFen closingFen } }";
const STANDING: &str = "{ myAccountStanding { openFen } }";

fn fen(v: &Value) -> i64 {
    v.as_str()
        .unwrap_or_else(|| panic!("not a Fen string: {v}"))
        .parse()
        .unwrap()
}

/// Opening + Σ lines = closing, each line's balance the running sum, lines in date order.
fn assert_balances(s: &Value) {
    let mut balance = fen(&s["openingFen"]);
    let mut last_at = String::new();
    for l in s["lines"].as_array().unwrap() {
        balance += fen(&l["amountFen"]);
        assert_eq!(fen(&l["balanceFen"]), balance, "running balance: {s}");
        let at = l["at"].as_str().unwrap().to_owned();
        assert!(at >= last_at, "lines in date order: {s}");
        last_at = at;
    }
    assert_eq!(
        fen(&s["closingFen"]),
        balance,
        "opening + lines = closing: {s}"
    );
    let invoiced: i64 = s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| fen(&l["amountFen"]).max(0))
        .sum();
    assert_eq!(fen(&s["invoicedFen"]), invoiced);
    assert_eq!(
        fen(&s["openingFen"]) + invoiced - fen(&s["creditedFen"]),
        balance
    );
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn pay(finance: &Gql, dist_id: i64, amount: i64, reference: &str) {
    finance
        .ok(
            PAY,
            json!({ "d": dist_id.to_string(), "a": amount, "r": reference, "k": format!("payment-key-{reference}") }),
        )
        .await;
}

/// Ships the whole of a 12- or 6-unit order of one SKU with codes from `from`.
async fn ship_all(s: &Setup, id: &str, line: &str, batch: i64, from: i64, qty: i64) {
    s.hq.ok(&allocate(), json!({ "id": id })).await;
    s.hq.ok(
        &ship(),
        json!({ "id": id, "c": [carton(line, batch, from, from + qty - 1)] }),
    )
    .await;
}

/// dist-demo in March and April 2026 (Shanghai): a ¥1,200 order shipped on 5 March, ¥500
/// paid on 20 March, ¥300 paid at 23:30 on 31 March (15:30 UTC), a ¥600 order shipped on
/// 2 April and ¥100 paid on 3 April. The clock ends on 3 April; the staff logins are fresh.
struct Months {
    s: Setup,
    finance: Gql,
    order_a: String,
    order_b: String,
}

async fn two_months(app: &TestApp, clock: &ManualClock) -> Months {
    let mut s = setup(app, 10_000_000, 100).await;
    let serum = s.cat.serum_sku;
    let cream = s.cat.cream_sku;
    let serums = code_batch(app, &s, serum, 100).await;
    let creams = code_batch(app, &s, cream, 100).await;
    let (order_a, lines_a) = approved_order(&s, &[(serum, 12)]).await;
    ship_all(&s, &order_a, &lines_a[0].0, serums, 0, 12).await;
    let (order_b, lines_b) = approved_order(&s, &[(cream, 6)]).await;
    clock.set(fixtures::shanghai_noon("2026-03-20"));
    let finance = app.login_staff("finance-demo").await;
    pay(&finance, s.dist_id, 50_000, "BANK-0320").await;
    // 23:30 on 31 March in Shanghai is 15:30 UTC: still March for the statement.
    clock.set(at("2026-03-31T15:30:00Z"));
    let finance = app.login_staff("finance-demo").await;
    pay(&finance, s.dist_id, 30_000, "BANK-0331-2330").await;
    clock.set(fixtures::shanghai_noon("2026-04-02"));
    s.hq = app.login_staff("hq-demo").await;
    ship_all(&s, &order_b, &lines_b[0].0, creams, 0, 6).await;
    clock.set(fixtures::shanghai_noon("2026-04-03"));
    let finance = app.login_staff("finance-demo").await;
    pay(&finance, s.dist_id, 10_000, "BANK-0403").await;
    s.hq = app.login_staff("hq-demo").await;
    s.dist = app.login_distributor("dist-demo").await;
    Months {
        s,
        finance,
        order_a,
        order_b,
    }
}

async fn start(backend: Backend) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-03-05")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    (app, clock)
}

async fn the_statement_balances_month_by_month_in_shanghai(backend: Backend) {
    let (app, clock) = start(backend).await;
    let m = two_months(&app, &clock).await;
    let dist = &m.s.dist;
    // February: nothing yet.
    let feb = dist.ok(&statement(), json!({ "m": "2026-02" })).await["accountStatement"].clone();
    assert_eq!(feb["openingFen"], "0");
    assert_eq!(feb["closingFen"], "0");
    assert!(feb["lines"].as_array().unwrap().is_empty());
    // March: the invoice and both payments, the late one dated 31 March.
    let march = dist.ok(&statement(), json!({ "m": "2026-03" })).await["accountStatement"].clone();
    assert_balances(&march);
    assert_eq!(march["month"], "2026-03");
    assert_eq!(march["firstDay"], "2026-03-01");
    assert_eq!(march["lastDay"], "2026-03-31");
    assert_eq!(march["openingFen"], "0");
    let lines = march["lines"].as_array().unwrap();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["INVOICE", "PAYMENT", "PAYMENT"]);
    assert_eq!(lines[0]["amountFen"], "120000");
    assert_eq!(lines[0]["day"], "2026-03-05");
    assert_eq!(lines[0]["purchaseOrderId"], m.order_a.as_str());
    assert!(lines[0]["reference"].as_str().unwrap().len() > 3);
    assert!(lines[0]["purchaseOrderNo"].as_str().unwrap().len() > 3);
    assert_eq!(lines[1]["reference"], "BANK-0320");
    assert_eq!(lines[1]["amountFen"], "-50000");
    assert_eq!(lines[2]["reference"], "BANK-0331-2330");
    assert_eq!(lines[2]["day"], "2026-03-31");
    assert_eq!(lines[2]["at"], "2026-03-31T15:30:00.000Z");
    assert_eq!(lines[2]["amountFen"], "-30000");
    assert_eq!(march["closingFen"], "40000");
    assert_eq!(march["invoicedFen"], "120000");
    assert_eq!(march["creditedFen"], "80000");
    // April opens where March closed; its closing is what is open now.
    let april = dist.ok(&statement(), json!({ "m": "2026-04" })).await["accountStatement"].clone();
    assert_balances(&april);
    assert_eq!(april["openingFen"], march["closingFen"]);
    let kinds: Vec<&str> = april["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["INVOICE", "PAYMENT"]);
    assert_eq!(april["lines"][0]["purchaseOrderId"], m.order_b.as_str());
    assert_eq!(april["closingFen"], "90000");
    let open = dist.ok(STANDING, json!({})).await["myAccountStanding"]["openFen"].clone();
    assert_eq!(open, april["closingFen"]);
    // Finance reads the same statement; a BA may not; an unknown distributor is not found.
    let d = m.s.dist_id.to_string();
    let staff_view = m
        .finance
        .ok(&staff_statement(), json!({ "d": d, "m": "2026-03" }))
        .await["distributorStatement"]
        .clone();
    assert_eq!(staff_view, march);
    let ba = app.login_staff("ba-demo").await;
    let denied = ba
        .err(&staff_statement(), json!({ "d": d, "m": "2026-03" }))
        .await;
    assert_eq!(denied, "FORBIDDEN");
    let unknown = m
        .finance
        .err(&staff_statement(), json!({ "d": "999999", "m": "2026-03" }))
        .await;
    assert_eq!(unknown, "NOT_FOUND");
    // Another organisation sees only its own (empty) account.
    let south = app.login_distributor("dist-demo-2").await;
    let theirs =
        south.ok(&statement(), json!({ "m": "2026-03" })).await["accountStatement"].clone();
    assert_ne!(theirs["distributorId"], d.as_str());
    assert!(theirs["lines"].as_array().unwrap().is_empty());
    // Bad months are refused: malformed, or not started yet.
    for bad in ["2026-13", "2026-3", "March", "2026-05"] {
        let code = dist.err(&statement(), json!({ "m": bad })).await;
        assert_eq!(code, "BAD_USER_INPUT", "{bad}");
    }
    app.stop().await;
}

/// The file's rows as (kind, reference, amount, balance), the OPENING and CLOSING rows included.
fn file_lines(rows: &[Vec<String>]) -> Vec<(String, String, String, String)> {
    rows.iter()
        .map(|r| (r[2].clone(), r[3].clone(), r[5].clone(), r[6].clone()))
        .collect()
}

async fn the_statement_file_holds_the_statement(backend: Backend) {
    let (app, clock) = start(backend).await;
    let m = two_months(&app, &clock).await;
    let dist = &m.s.dist;
    let march = dist.ok(&statement(), json!({ "m": "2026-03" })).await["accountStatement"].clone();
    let mut expected = vec![(
        "OPENING".to_owned(),
        format!("{} 2026-03", march["distributorCode"].as_str().unwrap()),
        String::new(),
        "0".to_owned(),
    )];
    for l in march["lines"].as_array().unwrap() {
        expected.push((
            l["kind"].as_str().unwrap().to_owned(),
            l["reference"].as_str().unwrap().to_owned(),
            l["amountFen"].as_str().unwrap().to_owned(),
            l["balanceFen"].as_str().unwrap().to_owned(),
        ));
    }
    expected.push((
        "CLOSING".to_owned(),
        format!("{} 2026-03", march["distributorCode"].as_str().unwrap()),
        "40000".to_owned(),
        march["closingFen"].as_str().unwrap().to_owned(),
    ));
    // CSV.
    let csv =
        dist.ok(EXPORT, json!({ "m": "2026-03", "f": "CSV" })).await["exportAccountStatement"]
            .clone();
    assert_eq!(csv["format"], "CSV");
    assert_eq!(csv["lines"], 3);
    assert_eq!(csv["closingFen"], march["closingFen"]);
    let rows = csv_rows(&bytes(&app, csv["url"].as_str().unwrap()).await);
    assert_eq!(file_lines(&rows), expected);
    assert_eq!(
        rows[3][0], "2026-03-31",
        "the 23:30 payment is dated 31 March"
    );
    // XLSX: the same rows (header first), numbers as numbers.
    let xlsx = dist
        .ok(EXPORT, json!({ "m": "2026-03", "f": "XLSX" }))
        .await["exportAccountStatement"]
        .clone();
    let data = bytes(&app, xlsx["url"].as_str().unwrap()).await;
    let rows = xlsx_rows(&data);
    assert_eq!(rows[0][2], "kind");
    let mut body: Vec<Vec<String>> = rows[1..].to_vec();
    for r in &mut body {
        r.resize(7, String::new());
    }
    assert_eq!(file_lines(&body), expected);
    let total: i64 = body[1..body.len() - 1]
        .iter()
        .map(|r| r[5].parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, fen(&march["closingFen"]) - fen(&march["openingFen"]));
    // The link is signed: altered, it is refused.
    let url = xlsx["url"].as_str().unwrap();
    let altered = app
        .http
        .get(format!("{}{}", app.base_url, url.replace("exp=", "exp=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(altered.status(), 403);
    // A bad month gives no file.
    let bad = dist
        .err(EXPORT, json!({ "m": "2026-13", "f": "CSV" }))
        .await;
    assert_eq!(bad, "BAD_USER_INPUT");
    app.stop().await;
}

const GRANT: &str = "mutation($po: ID!, $a: Fen!, $r: String!) {
  grantCreditOverride(purchaseOrderId: $po, amountFen: $a, reason: $r) { amountFen } }";
const CREDIT: &str = "{ myCredit { limitFen overrideFen reservedFen openArFen availableFen } }";

async fn credit(dist: &Gql) -> Value {
    dist.ok(CREDIT, json!({})).await["myCredit"].clone()
}

/// The ADJUST entries of an order's override: (granted, given back).
async fn override_entries(app: &TestApp, po: &str) -> i64 {
    entities::credit_entry::Entity::find()
        .filter(
            entities::credit_entry::Column::Kind
                .eq(entities::credit_entry::CreditEntryKind::Adjust),
        )
        .filter(entities::credit_entry::Column::SourceRef.starts_with(format!("override:{po}")))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|e| e.amount_fen)
        .sum()
}

async fn a_paid_shipped_order_gives_its_credit_override_back(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 100_000, 100).await;
    let serum = s.cat.serum_sku;
    let codes = code_batch(&app, &s, serum, 100).await;
    let finance = app.login_staff("finance-demo").await;
    // A ¥600 order carried with ¥500 above the ¥1,000 limit.
    let (po, lines) = approved_order(&s, &[(serum, 6)]).await;
    finance
        .ok(
            GRANT,
            json!({ "po": po, "a": 50_000, "r": "大客户旺季备货" }),
        )
        .await;
    assert_eq!(credit(&s.dist).await["overrideFen"], "50000");
    ship_all(&s, &po, &lines[0].0, codes, 0, 6).await;
    // Half paid: the order still holds receivables, the override stays.
    pay(&finance, s.dist_id, 30_000, "OVR-1").await;
    let c = credit(&s.dist).await;
    assert_eq!(c["overrideFen"], "50000");
    assert_eq!(c["openArFen"], "30000");
    assert_eq!(override_entries(&app, &po).await, 50_000);
    // Paid in full: the override goes back, once, with its ADJUST entry.
    pay(&finance, s.dist_id, 30_000, "OVR-2").await;
    let c = credit(&s.dist).await;
    assert_eq!(
        c,
        json!({ "limitFen": "100000", "overrideFen": "0", "reservedFen": "0", "openArFen": "0", "availableFen": "100000" })
    );
    assert_eq!(override_entries(&app, &po).await, 0);
    let row = entities::credit_override::Entity::find_by_id(po.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.returned_fen, Some(50_000));
    assert!(row.returned_at.is_some());
    // A partly shipped order paid for what shipped keeps its override until the rest ships
    // and is paid.
    let (po2, lines2) = approved_order(&s, &[(serum, 6)]).await;
    finance
        .ok(GRANT, json!({ "po": po2, "a": 10_000, "r": "补货" }))
        .await;
    s.hq.ok(&allocate(), json!({ "id": po2 })).await;
    s.hq.ok(
        &ship(),
        json!({ "id": po2, "c": [carton(&lines2[0].0, codes, 10, 12)] }),
    )
    .await;
    pay(&finance, s.dist_id, 30_000, "OVR-3").await;
    assert_eq!(credit(&s.dist).await["overrideFen"], "10000");
    s.hq.ok(
        &ship(),
        json!({ "id": po2, "c": [carton(&lines2[0].0, codes, 13, 15)] }),
    )
    .await;
    pay(&finance, s.dist_id, 30_000, "OVR-4").await;
    assert_eq!(credit(&s.dist).await["overrideFen"], "0");
    assert_eq!(override_entries(&app, &po2).await, 0);
    app.stop().await;
}

/// On a freshly seeded demo (with the showcase): dist-demo's order went the whole way, its
/// packs were scanned inside and outside its territory, the must-confirm policy still blocks,
/// and dist-demo-2 (another territory) cannot see the order.
async fn the_demo_shows_a_shipped_order_its_scans_and_its_statement(backend: Backend) {
    let app = TestApp::builder(backend).full_demo().start().await;
    let dist = app.login_distributor("dist-demo").await;
    let orders = dist
        .ok(
            "{ purchaseOrders { nodes { id no status totalFen } } }",
            json!({}),
        )
        .await["purchaseOrders"]["nodes"]
        .clone();
    let order = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["status"] == "RECEIVED" || o["status"] == "SHIPPED")
        .unwrap_or_else(|| panic!("no shipped demo order: {orders}"))
        .clone();
    let f = dist
        .ok(
            "query($id: ID!) { purchaseOrderFulfilment(id: $id) { shipments { codeRanges { codeBatchId serialFrom serialTo } } } }",
            json!({ "id": order["id"] }),
        )
        .await["purchaseOrderFulfilment"]
        .clone();
    let range = &f["shipments"][0]["codeRanges"][0];
    assert_eq!(range["serialFrom"], 0, "{f}");
    assert_eq!(range["serialTo"], 17, "{f}");
    // 16 of those packs were scanned, each mapped to dist-demo by its shipment range.
    let batch: i64 = range["codeBatchId"].as_str().unwrap().parse().unwrap();
    let scanned = entities::scan_event::Entity::find()
        .filter(entities::scan_event::Column::BatchId.eq(batch))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(scanned.len(), 16);
    let dist_id = domain::b2b::packs::shipped_to(app.db(), batch, scanned[0].serial)
        .await
        .unwrap();
    let demo = entities::distributor::Entity::find()
        .filter(entities::distributor::Column::Code.eq("D-EAST-01"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dist_id, Some(demo.id));
    // Scans outside 上海: the seeded order's packs add 2 in 广东 and 1 in 北京 to the showcase's.
    let leaks = dist
        .ok("{ territoryLeakage { skuId province scans } }", json!({}))
        .await["territoryLeakage"]
        .clone();
    let leaked: i64 = leaks
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scans"].as_i64().unwrap())
        .sum();
    assert!(leaked >= 3, "{leaks}");
    let advice = dist
        .ok(
            "{ replenishmentSuggestions(first: 100) { nodes { skuId scans ordered suggestedQty } } }",
            json!({}),
        )
        .await["replenishmentSuggestions"]["nodes"]
        .clone();
    assert!(
        advice
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["scans"].as_i64().unwrap() >= 13 && s["suggestedQty"].as_i64().unwrap() > 0),
        "{advice}"
    );
    // The order is on this month's statement, and open.
    let month = app
        .state
        .clock
        .now()
        .with_timezone(&domain::platform::clock::DEFAULT_ZONE)
        .format("%Y-%m")
        .to_string();
    let st = dist.ok(&statement(), json!({ "m": month })).await["accountStatement"].clone();
    assert_balances(&st);
    assert_eq!(st["lines"][0]["kind"], "INVOICE");
    assert_eq!(st["lines"][0]["purchaseOrderNo"], order["no"]);
    // The must-confirm policy is still unconfirmed: ordering stays blocked in the demo.
    let policies = dist
        .ok("{ myPolicies { requiresAck acknowledgedAt } }", json!({}))
        .await["myPolicies"]
        .clone();
    assert!(
        policies
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["requiresAck"] == true && p["acknowledgedAt"].is_null()),
        "{policies}"
    );
    // Rebate activity: the receipt accrued tier A's volume rebate (3% of the order's value) and
    // the 13 scans of its packs inside 上海 the scan rebate (¥0.50 each; the showcase's own
    // scans of dist-demo's packs may add some).
    let rebates = dist
        .ok(
            "{ rebateAccount { accruedFen pendingFen ledger(first: 50) { nodes { kind amountFen sourceRef } } } }",
            json!({}),
        )
        .await["rebateAccount"]
        .clone();
    let ledger = rebates["ledger"]["nodes"].as_array().unwrap();
    let volume: Vec<&Value> = ledger
        .iter()
        .filter(|e| {
            e["kind"] == "ACCRUE" && e["sourceRef"].as_str().unwrap().starts_with("receipt:")
        })
        .collect();
    assert_eq!(volume.len(), 1, "{rebates}");
    let total = order["totalFen"]
        .as_i64()
        .expect("an order's totalFen is an Int");
    assert_eq!(
        fen(&volume[0]["amountFen"]),
        total * 300 / 10_000,
        "{rebates}"
    );
    let scans: i64 = ledger
        .iter()
        .filter(|e| e["kind"] == "ACCRUE" && e["sourceRef"].as_str().unwrap().starts_with("scan:"))
        .map(|e| fen(&e["amountFen"]))
        .sum();
    assert!(scans >= 13 * 50, "{rebates}");
    assert_eq!(
        fen(&rebates["pendingFen"]),
        total * 300 / 10_000 + scans,
        "{rebates}"
    );
    // dist-demo-2 exists, in another territory, and cannot see the order.
    let south = app.login_distributor("dist-demo-2").await;
    let hidden = south
        .err(
            "query($id: ID!) { purchaseOrder(id: $id) { id } }",
            json!({ "id": order["id"] }),
        )
        .await;
    assert_eq!(hidden, "NOT_FOUND");
    let theirs = south
        .ok("{ purchaseOrders { nodes { id } } }", json!({}))
        .await;
    assert_eq!(theirs["purchaseOrders"]["nodes"], json!([]));
    app.stop().await;
}

on_both_backends!(
    the_demo_shows_a_shipped_order_its_scans_and_its_statement,
    the_statement_balances_month_by_month_in_shanghai,
    the_statement_file_holds_the_statement,
    a_paid_shipped_order_gives_its_credit_override_back,
);
