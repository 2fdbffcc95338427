//! Distributor B2B insight (issue 15): per-order credit overrides and finance's exposure view,
//! policies addressed by distributor kind and region with 政策执行率, territory leakage from
//! consumer scans of a distributor's own packs, and replenishment advice with its arithmetic.

use chrono::{Duration, Utc};
use domain::RequestMeta;
use domain::auth::MemberPrincipal;
use domain::scan_codes::{self as scan, Gift};
use rouge_tests::{Backend, Gql, TestApp, fixtures, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

const TIER: &str =
    "mutation($i: DistributorTierInput!) { upsertDistributorTier(input: $i) { id code } }";
const ASSIGN: &str =
    "mutation($d: ID!, $t: ID!) { assignDistributorTier(distributorId: $d, tierId: $t) { id } }";
const PUBLISH: &str = "mutation($t: ID!, $f: Date!, $items: [PriceListItemInput!]!) {
  publishPriceList(tierId: $t, validFrom: $f, items: $items) { id version } }";
const TERMS: &str = "mutation($d: ID!, $t: CreditTermsInput!, $r: String!) {
  setCreditTerms(distributorId: $d, terms: $t, reason: $r) { limitFen } }";
const QUOTE: &str = "query($i: PurchaseOrderInput!) { quotePurchaseOrder(input: $i) {
  hash totalFen discountFen creditSufficient gifts { skuId qty } } }";
const SUBMIT: &str = "mutation($i: PurchaseOrderInput!, $h: String!, $k: String!) {
  submitPurchaseOrder(input: $i, quoteHash: $h, idempotencyKey: $k) { id status totalFen } }";
const UPDATE: &str = "mutation($id: ID!, $i: PurchaseOrderInput!, $h: String!) {
  updatePurchaseOrder(id: $id, input: $i, quoteHash: $h) { status totalFen } }";
const CANCEL: &str = "mutation($id: ID!) { cancelPurchaseOrder(id: $id) { status } }";
const CREDIT: &str = "{ myCredit { limitFen overrideFen reservedFen availableFen } }";
const GRANT: &str = "mutation($po: ID!, $a: Fen!, $r: String!) {
  grantCreditOverride(purchaseOrderId: $po, amountFen: $a, reason: $r) {
    purchaseOrderId amountFen reason returnedFen credit { overrideFen availableFen } } }";
const EXPOSURE: &str = "query($first: Int, $after: String) { creditExposure(first: $first, after: $after) {
  nodes { distributorId code limitFen overrideFen reservedFen openArFen availableFen prepaid utilisationPercent }
  pageInfo { hasNextPage endCursor } } }";
const POLICY: &str = "mutation($i: PolicyInput!) { createPolicy(input: $i) {
  id distributorKind regions } }";
const MY_POLICIES: &str = "{ myPolicies { id } }";
const ACK: &str = "mutation($p: ID!) { acknowledgePolicy(policyId: $p) { id acknowledgedAt } }";
const KIND: &str =
    "mutation($d: ID!, $k: DistributorKind!) { setDistributorKind(distributorId: $d, kind: $k) }";
const EXECUTION: &str = "query($p: ID!) { policyExecution(policyId: $p) {
  policyId distributorsInScope acknowledged ordered orders giftUnits discountFen } }";
const LEAKAGE: &str = "query($f: Date, $t: Date) { territoryLeakage(from: $f, to: $t) {
  skuId provinceCode province scans } }";
const STAFF_LEAKAGE: &str = "query($d: ID!, $f: Date, $t: Date) {
  distributorTerritoryLeakage(distributorId: $d, from: $f, to: $t) { skuId provinceCode scans } }";
const SUGGEST: &str = "query($w: Int, $c: Int, $l: Int, $first: Int, $after: String) {
  replenishmentSuggestions(windowDays: $w, coverDays: $c, leadTimeDays: $l, first: $first, after: $after) {
    nodes { skuId suggestedQty scans ordered dailyDemand needed inTransit caseSize moq explain }
    pageInfo { hasNextPage endCursor } } }";

struct Setup {
    hq: Gql,
    finance: Gql,
    dist: Gql,
    tier: String,
    dist_id: i64,
    dist2_id: i64,
    serum: i64,
    cream: i64,
}

fn today() -> chrono::NaiveDate {
    Utc::now()
        .with_timezone(&domain::platform::clock::DEFAULT_ZONE)
        .date_naive()
}

async fn distributor_id(app: &TestApp, code: &str) -> i64 {
    entities::distributor::Entity::find()
        .filter(entities::distributor::Column::Code.eq(code))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

fn order(lines: &[(i64, i64)]) -> Value {
    json!({ "lines": lines.iter().map(|(s, q)| json!({ "skuId": s.to_string(), "qty": q })).collect::<Vec<_>>() })
}

fn reason(body: &Value) -> String {
    body["errors"][0]["extensions"]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {body}"))
        .to_owned()
}

/// A fresh tier (serum ¥250 from 12 in cases of 6; cream ¥100 from 20 in cases of 20) with
/// dist-demo (上海) and dist-demo-2 (广东) on it, dist-demo with `limit` fen of credit.
async fn setup(app: &TestApp, limit: i64) -> Setup {
    let cat = fixtures::catalog(app, 100).await;
    let hq = app.login_staff("hq-demo").await;
    let code = format!("T{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let tier = hq
        .ok(TIER, json!({ "i": { "code": code, "name": "金牌" } }))
        .await["upsertDistributorTier"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dist_id = distributor_id(app, "D-EAST-01").await;
    let dist2_id = distributor_id(app, "D-SOUTH-01").await;
    for d in [dist_id, dist2_id] {
        hq.ok(ASSIGN, json!({ "d": d.to_string(), "t": tier }))
            .await;
    }
    let items = json!([
        { "skuId": cat.serum_sku.to_string(), "moq": 12, "caseSize": 6,
          "ladder": [ { "minQty": 12, "unitPriceFen": 25_000 } ] },
        { "skuId": cat.cream_sku.to_string(), "moq": 20, "caseSize": 20,
          "ladder": [ { "minQty": 20, "unitPriceFen": 10_000 } ] },
    ]);
    hq.ok(
        PUBLISH,
        json!({ "t": tier, "f": today().to_string(), "items": items }),
    )
    .await;
    let finance = app.login_staff("finance-demo").await;
    finance
        .ok(
            TERMS,
            json!({ "d": dist_id.to_string(), "t": { "limitFen": limit, "paymentTermDays": 30, "graceDays": 7 }, "r": "年度授信" }),
        )
        .await;
    Setup {
        hq,
        finance,
        dist: app.login_distributor("dist-demo").await,
        tier,
        dist_id,
        dist2_id,
        serum: cat.serum_sku,
        cream: cat.cream_sku,
    }
}

async fn submit(dist: &Gql, input: &Value, key: &str) -> Value {
    let quote = dist.ok(QUOTE, json!({ "i": input })).await["quotePurchaseOrder"].clone();
    dist.ok(SUBMIT, json!({ "i": input, "h": quote["hash"], "k": key }))
        .await["submitPurchaseOrder"]
        .clone()
}

async fn credit_row(app: &TestApp, dist: i64) -> entities::credit_account::Model {
    entities::credit_account::Entity::find_by_id(dist)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn credit_override_lets_one_order_through_and_goes_back_when_it_ends(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 1_000_000).await;
    // 24 serums = ¥6,000 of a ¥10,000 limit.
    let po = submit(&s.dist, &order(&[(s.serum, 24)]), "override-0001").await;
    let po_id = po["id"].as_str().unwrap().to_owned();
    // Doubling it is beyond the credit: refused, nothing moves.
    let bigger = order(&[(s.serum, 48)]);
    let quote = s.dist.ok(QUOTE, json!({ "i": bigger })).await["quotePurchaseOrder"].clone();
    assert_eq!(quote["creditSufficient"], false);
    let refused = s
        .dist
        .raw(
            UPDATE,
            json!({ "id": po_id, "i": bigger, "h": quote["hash"] }),
        )
        .await;
    assert_eq!(reason(&refused), "CREDIT_LIMIT_EXCEEDED");
    // A BA may not grant; a bad amount is refused and changes nothing.
    let ba = app.login_staff("ba-demo").await;
    let denied = ba
        .err(GRANT, json!({ "po": po_id, "a": 800_000, "r": "大促" }))
        .await;
    assert_eq!(denied, "FORBIDDEN");
    let bad = s
        .finance
        .err(GRANT, json!({ "po": po_id, "a": 0, "r": "大促" }))
        .await;
    assert_eq!(bad, "BAD_USER_INPUT");
    assert_eq!(credit_row(&app, s.dist_id).await.override_fen, 0);
    let missing = s
        .finance
        .err(GRANT, json!({ "po": "999999999", "a": 1, "r": "大促" }))
        .await;
    assert_eq!(missing, "NOT_FOUND");
    // Finance lets this order through.
    let granted = s
        .finance
        .ok(
            GRANT,
            json!({ "po": po_id, "a": "800000", "r": "双11备货，总经理批准" }),
        )
        .await["grantCreditOverride"]
        .clone();
    assert_eq!(granted["amountFen"], "800000");
    assert_eq!(granted["credit"]["overrideFen"], "800000");
    assert_eq!(granted["returnedFen"], Value::Null);
    let again = s
        .finance
        .raw(GRANT, json!({ "po": po_id, "a": 1, "r": "再来" }))
        .await;
    assert_eq!(reason(&again), "CREDIT_OVERRIDE_EXISTS");
    let quote = s.dist.ok(QUOTE, json!({ "i": bigger })).await["quotePurchaseOrder"].clone();
    assert_eq!(quote["creditSufficient"], true);
    let edited = s
        .dist
        .ok(
            UPDATE,
            json!({ "id": po_id, "i": bigger, "h": quote["hash"] }),
        )
        .await;
    assert_eq!(edited["updatePurchaseOrder"]["totalFen"], 1_200_000);
    // Finance's exposure view: limit, override, reserved, available, utilisation.
    let exposure = s.finance.ok(EXPOSURE, json!({ "first": 100 })).await;
    let want = s.dist_id.to_string();
    let nodes = exposure["creditExposure"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let mine = nodes.iter().find(|n| n["distributorId"] == want).unwrap();
    assert_eq!(mine["code"], "D-EAST-01");
    assert_eq!(mine["limitFen"], "1000000");
    assert_eq!(mine["overrideFen"], "800000");
    assert_eq!(mine["reservedFen"], "1200000");
    assert_eq!(mine["openArFen"], "0");
    assert_eq!(mine["availableFen"], "600000");
    assert_eq!(mine["prepaid"], false);
    assert_eq!(mine["utilisationPercent"], 66.7);
    // Paged by distributor id.
    let one = s.finance.ok(EXPOSURE, json!({ "first": 1 })).await;
    if nodes.len() > 1 {
        assert_eq!(one["creditExposure"]["pageInfo"]["hasNextPage"], true);
    }
    assert_eq!(ba.err(EXPOSURE, json!({})).await, "FORBIDDEN");
    let audited = entities::audit_log::Entity::find()
        .filter(
            entities::audit_log::Column::Action
                .eq(entities::audit_log::Action::DistributorCreditOverride),
        )
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert!(format!("{:?}", audited[0].detail).contains("双11备货"));
    // The order ends: its credit and the override both go back; the ledger says so.
    s.dist.ok(CANCEL, json!({ "id": po_id })).await;
    let row = credit_row(&app, s.dist_id).await;
    assert_eq!((row.override_fen, row.reserved_fen), (0, 0));
    let adjust: i64 = entities::credit_entry::Entity::find()
        .filter(entities::credit_entry::Column::DistributorId.eq(s.dist_id))
        .filter(entities::credit_entry::Column::SourceRef.starts_with(format!("override:{po_id}")))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|e| e.amount_fen)
        .sum();
    assert_eq!(adjust, 0);
    let closed = entities::credit_override::Entity::find_by_id(po_id.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.returned_fen, Some(800_000));
    // An ended order takes no override.
    let late = s
        .finance
        .raw(GRANT, json!({ "po": po_id, "a": 1, "r": "晚了" }))
        .await;
    assert_eq!(reason(&late), "PO_WRONG_STATE");
    let credit = s.dist.ok(CREDIT, json!({})).await;
    assert_eq!(credit["myCredit"]["availableFen"], "1000000");
    app.stop().await;
}

fn window() -> (String, String) {
    (
        (Utc::now() - Duration::hours(1)).to_rfc3339(),
        (Utc::now() + Duration::days(30)).to_rfc3339(),
    )
}

async fn policies_reach_only_their_kind_and_region_and_report_execution(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 10_000_000).await;
    s.finance
        .ok(
            TERMS,
            json!({ "d": s.dist2_id.to_string(), "t": { "limitFen": 10_000_000, "paymentTermDays": 30, "graceDays": 7 }, "r": "授信" }),
        )
        .await;
    let dist2 = app.login_distributor("dist-demo-2").await;
    let (from, to) = window();
    let create = |input: Value| {
        let hq = s.hq.clone();
        async move { hq.ok(POLICY, json!({ "i": input })).await["createPolicy"].clone() }
    };
    // 华南 only, must confirm.
    let south = create(json!({ "name": "华南满5000减200", "kind": "ORDER_REDUCTION", "tierId": s.tier,
        "validFrom": from, "validTo": to, "requiresAck": true, "thresholdFen": 500_000, "offFen": 20_000,
        "regions": ["广东"] }))
    .await;
    assert_eq!(south["regions"], json!(["广东省"]));
    // Agents only.
    let agents = create(
        json!({ "name": "代理商订12送1", "kind": "BUY_N_GET_M", "tierId": s.tier,
        "validFrom": from, "validTo": to, "skuId": s.serum.to_string(), "buy": 12,
        "giftSkuId": s.serum.to_string(), "get": 1, "distributorKind": "AGENT" }),
    )
    .await;
    assert_eq!(agents["distributorKind"], "AGENT");
    // 上海 distributors (经销商), must confirm.
    let east = create(json!({ "name": "华东满1000减50", "kind": "ORDER_REDUCTION", "tierId": s.tier,
        "validFrom": from, "validTo": to, "requiresAck": true, "thresholdFen": 100_000, "offFen": 5_000,
        "regions": ["310000"], "distributorKind": "DISTRIBUTOR" }))
    .await;
    // An unknown region is refused and creates nothing.
    let before = entities::b2b_policy::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len();
    let bad = s
        .hq
        .err(
            POLICY,
            json!({ "i": { "name": "x", "kind": "ORDER_REDUCTION", "tierId": s.tier, "validFrom": from,
                "validTo": to, "thresholdFen": 100, "offFen": 1, "regions": ["火星"] } }),
        )
        .await;
    assert_eq!(bad, "BAD_USER_INPUT");
    let after = entities::b2b_policy::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len();
    assert_eq!(before, after);
    // dist-demo (上海, 经销商) sees only the east policy; the others are not found.
    let ids = |v: Value| -> Vec<Value> {
        v["myPolicies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect()
    };
    assert_eq!(
        ids(s.dist.ok(MY_POLICIES, json!({})).await),
        vec![east["id"].clone()]
    );
    for p in [&south, &agents] {
        assert_eq!(s.dist.err(ACK, json!({ "p": p["id"] })).await, "NOT_FOUND");
    }
    // dist-demo-2 (广东) becomes an agent: it sees the south and agent policies, not the east.
    let ba = app.login_staff("ba-demo").await;
    assert_eq!(
        ba.err(KIND, json!({ "d": s.dist2_id.to_string(), "k": "AGENT" }))
            .await,
        "FORBIDDEN"
    );
    s.hq.ok(KIND, json!({ "d": s.dist2_id.to_string(), "k": "AGENT" }))
        .await;
    let mut seen = ids(dist2.ok(MY_POLICIES, json!({})).await);
    seen.sort_by_key(Value::to_string);
    let mut want = vec![south["id"].clone(), agents["id"].clone()];
    want.sort_by_key(Value::to_string);
    assert_eq!(seen, want);
    assert_eq!(
        dist2.err(ACK, json!({ "p": east["id"] })).await,
        "NOT_FOUND"
    );
    // Orders under the policies.
    s.dist.ok(ACK, json!({ "p": east["id"] })).await;
    let placed = submit(&s.dist, &order(&[(s.serum, 24)]), "policy-0001").await;
    assert_eq!(placed["totalFen"], 24 * 25_000 - 5_000);
    let cancelled = submit(&s.dist, &order(&[(s.serum, 12)]), "policy-0002").await;
    s.dist.ok(CANCEL, json!({ "id": cancelled["id"] })).await;
    dist2.ok(ACK, json!({ "p": south["id"] })).await;
    let quote = dist2
        .ok(QUOTE, json!({ "i": order(&[(s.serum, 24)]) }))
        .await["quotePurchaseOrder"]
        .clone();
    assert_eq!(
        quote["gifts"],
        json!([{ "skuId": s.serum.to_string(), "qty": 2 }])
    );
    assert_eq!(quote["discountFen"], 20_000);
    submit(&dist2, &order(&[(s.serum, 24)]), "policy-0003").await;
    // 政策执行率.
    let exec = |p: &Value| {
        let hq = s.hq.clone();
        let p = p["id"].clone();
        async move { hq.ok(EXECUTION, json!({ "p": p })).await["policyExecution"].clone() }
    };
    let e = exec(&east).await;
    assert_eq!(
        (
            &e["distributorsInScope"],
            &e["acknowledged"],
            &e["ordered"],
            &e["orders"],
            &e["discountFen"],
            &e["giftUnits"]
        ),
        (
            &json!(1),
            &json!(1),
            &json!(1),
            &json!(1),
            &json!("5000"),
            &json!(0)
        ),
        "{e}"
    );
    let a = exec(&agents).await;
    assert_eq!(
        (
            &a["distributorsInScope"],
            &a["acknowledged"],
            &a["ordered"],
            &a["giftUnits"]
        ),
        (&json!(1), &json!(0), &json!(1), &json!(2)),
        "{a}"
    );
    let so = exec(&south).await;
    assert_eq!(
        (
            &so["distributorsInScope"],
            &so["acknowledged"],
            &so["discountFen"]
        ),
        (&json!(1), &json!(1), &json!("20000")),
        "{so}"
    );
    assert_eq!(
        ba.err(EXECUTION, json!({ "p": east["id"] })).await,
        "FORBIDDEN"
    );
    assert_eq!(
        s.hq.err(EXECUTION, json!({ "p": "999999999" })).await,
        "NOT_FOUND"
    );
    app.stop().await;
}

/// A batch of `count` serum pack codes shipping to `distributor`.
pub(crate) async fn batch_for(app: &TestApp, sku: i64, distributor: i64, count: i64) -> i64 {
    let hq = fixtures::staff_principal(app, "hq-demo").await;
    let now = Utc::now();
    scan::create_batch(
        &app.state,
        &hq,
        scan::NewBatch {
            name: "窜货测试".into(),
            sku_id: sku,
            count,
            stock_batch_id: None,
            distributor_id: Some(distributor),
            territory: vec![],
            gift: Gift::Points(1),
            valid_from: now - Duration::hours(1),
            valid_until: now + Duration::days(30),
            active: true,
        },
    )
    .await
    .unwrap()
    .id
}

pub(crate) async fn member(app: &TestApp, tag: &str) -> i64 {
    let now = Utc::now();
    let tag = format!("{tag}-{}", uuid::Uuid::new_v4().simple());
    entities::member::Entity::insert(entities::member::ActiveModel {
        member_code: Set(format!("L{}", &tag[..20.min(tag.len())])),
        openid: Set(format!("leak-{tag}")),
        gender: Set(entities::member::Gender::Unknown),
        skin_concerns: Set(0),
        marketing_consent: Set(false),
        tier_code: Set("MEMBER".into()),
        cumulative_spend_fen: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap()
    .last_insert_id
}

/// Member `who` scans pack `serial` of `batch` in (province, city).
pub(crate) async fn scan_pack(app: &TestApp, who: i64, batch: i64, serial: i64, at: (&str, &str)) {
    let code = scan::code_for(&app.state.settings.scan.key, batch, serial).unwrap();
    scan::scan(
        &app.state,
        &MemberPrincipal {
            member_id: who,
            session_id: "leak".into(),
        },
        &RequestMeta::default(),
        scan::ScanInput {
            code,
            survey: scan::Survey::default(),
            region: Some(scan::ScanRegion {
                province: at.0.into(),
                city: Some(at.1.into()),
            }),
        },
    )
    .await
    .unwrap();
}

async fn territory_leakage_counts_own_packs_scanned_outside(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let d1 = distributor_id(&app, "D-EAST-01").await;
    let d2 = distributor_id(&app, "D-SOUTH-01").await;
    let mine = batch_for(&app, cat.serum_sku, d1, 20).await;
    let theirs = batch_for(&app, cat.serum_sku, d2, 20).await;
    let m = member(&app, "a").await;
    let other = member(&app, "b").await;
    // dist-demo's territory is 上海: three inside, two in 广州, one in 杭州.
    let places = [
        ("上海", "上海市"),
        ("上海", "上海市"),
        ("上海", "上海市"),
        ("广东", "广州"),
        ("广东", "深圳"),
        ("浙江", "杭州"),
    ];
    for (serial, at) in places.iter().enumerate() {
        scan_pack(&app, m, mine, serial as i64, *at).await;
    }
    // A second scan of a leaked pack (another member, in 广东) is the same pack: not counted.
    scan_pack(&app, other, mine, 3, ("广东", "广州")).await;
    // dist-demo-2's packs scanned in 浙江 are its leakage, not dist-demo's.
    scan_pack(&app, other, theirs, 0, ("浙江", "杭州")).await;
    let dist = app.login_distributor("dist-demo").await;
    let day = today().to_string();
    let rows = dist.ok(LEAKAGE, json!({ "f": day, "t": day })).await["territoryLeakage"].clone();
    let sku = cat.serum_sku.to_string();
    assert_eq!(
        rows,
        json!([
            { "skuId": sku, "provinceCode": "440000", "province": "广东省", "scans": 2 },
            { "skuId": sku, "provinceCode": "330000", "province": "浙江省", "scans": 1 },
        ])
    );
    // Another window, nothing; a window the wrong way round is refused.
    let tomorrow = (today() + Duration::days(1)).to_string();
    let empty = dist.ok(LEAKAGE, json!({ "f": tomorrow })).await;
    assert_eq!(empty["territoryLeakage"], json!([]));
    let bad = dist.err(LEAKAGE, json!({ "f": tomorrow, "t": day })).await;
    assert_eq!(bad, "BAD_USER_INPUT");
    // dist-demo-2 (广东) sees its own 浙江 scan only: dist-demo's packs in 广东 are not its.
    let dist2 = app.login_distributor("dist-demo-2").await;
    let rows2 = dist2.ok(LEAKAGE, json!({})).await["territoryLeakage"].clone();
    assert_eq!(
        rows2,
        json!([{ "skuId": sku, "provinceCode": "330000", "province": "浙江省", "scans": 1 }])
    );
    // HQ reads any distributor's; a BA may not.
    let hq = app.login_staff("hq-demo").await;
    let staff_rows =
        hq.ok(STAFF_LEAKAGE, json!({ "d": d1.to_string() })).await["distributorTerritoryLeakage"]
            .clone();
    assert_eq!(staff_rows.as_array().unwrap().len(), 2);
    assert_eq!(staff_rows[0]["scans"], 2);
    let ba = app.login_staff("ba-demo").await;
    assert_eq!(
        ba.err(STAFF_LEAKAGE, json!({ "d": d1.to_string() })).await,
        "FORBIDDEN"
    );
    app.stop().await;
}

async fn replenishment_shows_its_arithmetic(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 10_000_000).await;
    let mine = batch_for(&app, s.serum, s.dist_id, 20).await;
    let m = member(&app, "r").await;
    // Ten consumer first scans of dist-demo's serum packs today.
    for serial in 0..10 {
        scan_pack(&app, m, mine, serial, ("上海", "上海市")).await;
    }
    let params = json!({ "w": 7, "c": 14, "l": 7 });
    let first = s.dist.ok(SUGGEST, params.clone()).await["replenishmentSuggestions"].clone();
    let serum = &first["nodes"][0];
    assert_eq!(serum["skuId"], s.serum.to_string());
    // max(10 scans, 0 ordered) = 10 over 7 days; × (14 + 7) = 30; nothing in transit; cases
    // of 6 → 30 (above the MOQ of 12).
    assert_eq!(
        (
            &serum["scans"],
            &serum["ordered"],
            &serum["needed"],
            &serum["inTransit"],
            &serum["suggestedQty"]
        ),
        (&json!(10), &json!(0), &json!(30), &json!(0), &json!(30)),
        "{serum}"
    );
    assert_eq!(serum["dailyDemand"], 1.43);
    assert!(serum["explain"].as_str().unwrap().contains("在途 0"));
    let cream = &first["nodes"][1];
    assert_eq!(cream["suggestedQty"], 0);
    // An order of 12: demand is now the 12 ordered → 36 needed, 12 in transit → 24.
    submit(&s.dist, &order(&[(s.serum, 12)]), "replenish-0001").await;
    let after = s.dist.ok(SUGGEST, params.clone()).await["replenishmentSuggestions"].clone();
    let serum = &after["nodes"][0];
    assert_eq!(
        (
            &serum["ordered"],
            &serum["needed"],
            &serum["inTransit"],
            &serum["suggestedQty"]
        ),
        (&json!(12), &json!(36), &json!(12), &json!(24)),
        "{serum}"
    );
    // A gap of one unit still orders the MOQ in whole cases.
    let small = s
        .dist
        .ok(SUGGEST, json!({ "w": 28, "c": 1, "l": 0 }))
        .await["replenishmentSuggestions"]["nodes"][0]
        .clone();
    // ⌈12 × 1 / 28⌉ = 1 needed, 12 in transit: nothing.
    assert_eq!(
        (&small["needed"], &small["suggestedQty"]),
        (&json!(1), &json!(0))
    );
    // Paged by SKU; bad parameters are refused.
    let page = s.dist.ok(SUGGEST, json!({ "first": 1 })).await["replenishmentSuggestions"].clone();
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let next = s
        .dist
        .ok(
            SUGGEST,
            json!({ "first": 1, "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        next["replenishmentSuggestions"]["nodes"][0]["skuId"],
        s.cream.to_string()
    );
    assert_eq!(
        s.dist.err(SUGGEST, json!({ "w": 0 })).await,
        "BAD_USER_INPUT"
    );
    // dist-demo-2 on the same list has no scans and no orders: nothing suggested.
    let dist2 = app.login_distributor("dist-demo-2").await;
    let theirs = dist2.ok(SUGGEST, params).await["replenishmentSuggestions"]["nodes"][0].clone();
    assert_eq!(
        (&theirs["scans"], &theirs["suggestedQty"]),
        (&json!(0), &json!(0))
    );
    app.stop().await;
}

on_both_backends!(
    credit_override_lets_one_order_through_and_goes_back_when_it_ends,
    policies_reach_only_their_kind_and_region_and_report_execution,
    territory_leakage_counts_own_packs_scanned_outside,
    replenishment_shows_its_arithmetic,
);
