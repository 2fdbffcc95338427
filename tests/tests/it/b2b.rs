//! Distributor B2B ordering (issue 15): tier prices and ladders in the catalog, quotes bound to
//! a hash, credit that cannot be overrun (64 concurrent submits), idempotent submits, and the
//! separation between organisations.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rouge_tests::{Backend, Gql, TestApp, fixtures, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const TIER: &str =
    "mutation($i: DistributorTierInput!) { upsertDistributorTier(input: $i) { id code } }";
const ASSIGN: &str =
    "mutation($d: ID!, $t: ID!) { assignDistributorTier(distributorId: $d, tierId: $t) { id } }";
const PUBLISH: &str = "mutation($t: ID!, $f: Date!, $items: [PriceListItemInput!]!) {
  publishPriceList(tierId: $t, validFrom: $f, items: $items) { id version itemCount } }";
const TERMS: &str = "mutation($d: ID!, $t: CreditTermsInput!, $r: String!) {
  setCreditTerms(distributorId: $d, terms: $t, reason: $r) { limitFen reservedFen availableFen } }";
const CATALOG: &str = "query($first: Int, $after: String) {
  b2bCatalog(first: $first, after: $after) {
    nodes { skuId unitPriceFen moq caseSize availability priceListVersion ladder { minQty unitPriceFen } }
    pageInfo { hasNextPage endCursor } } }";
const QUOTE: &str = "query($i: PurchaseOrderInput!) { quotePurchaseOrder(input: $i) {
  hash priceListVersion subtotalFen totalFen creditSufficient creditAfterFen
  lines { skuId qty unitPriceFen lineTotalFen availability } explain { kind amountFen } } }";
const SUBMIT: &str = "mutation($i: PurchaseOrderInput!, $h: String!, $k: String!) {
  submitPurchaseOrder(input: $i, quoteHash: $h, idempotencyKey: $k) {
    id no status totalFen creditReservedFen lines { skuId qty unitPriceFen } events { status } } }";
const CREDIT: &str = "{ myCredit { limitFen reservedFen availableFen } }";

struct Setup {
    hq: Gql,
    dist: Gql,
    tier: String,
    dist_id: i64,
    serum: i64,
    cream: i64,
}

fn today() -> String {
    chrono::Utc::now()
        .with_timezone(&domain::platform::clock::DEFAULT_ZONE)
        .date_naive()
        .to_string()
}

async fn dist_demo_id(app: &TestApp) -> i64 {
    entities::distributor::Entity::find()
        .filter(entities::distributor::Column::Code.eq("D-EAST-01"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

fn items(serum: i64, cream: i64, serum_price: i64) -> Value {
    json!([
        { "skuId": serum.to_string(), "moq": 12, "caseSize": 6,
          "ladder": [ { "minQty": 12, "unitPriceFen": serum_price }, { "minQty": 60, "unitPriceFen": serum_price - 2_000 } ] },
        { "skuId": cream.to_string(), "moq": 20, "caseSize": 20,
          "ladder": [ { "minQty": 20, "unitPriceFen": 10_000 } ] },
    ])
}

/// A fresh tier with a price list for the test's two SKUs (100 units of each in the warehouse),
/// dist-demo on it with `limit` fen of credit.
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
    let dist_id = dist_demo_id(app).await;
    hq.ok(ASSIGN, json!({ "d": dist_id.to_string(), "t": tier }))
        .await;
    let list = hq
        .ok(
            PUBLISH,
            json!({ "t": tier, "f": today(), "items": items(cat.serum_sku, cat.cream_sku, 25_000) }),
        )
        .await;
    assert_eq!(list["publishPriceList"]["version"], 1);
    let finance = app.login_staff("finance-demo").await;
    finance
        .ok(
            TERMS,
            json!({ "d": dist_id.to_string(), "t": { "limitFen": limit, "paymentTermDays": 30, "graceDays": 7 }, "r": "年度授信" }),
        )
        .await;
    Setup {
        hq,
        dist: app.login_distributor("dist-demo").await,
        tier,
        dist_id,
        serum: cat.serum_sku,
        cream: cat.cream_sku,
    }
}

fn order(lines: &[(i64, i64)]) -> Value {
    json!({ "lines": lines.iter().map(|(s, q)| json!({ "skuId": s.to_string(), "qty": q })).collect::<Vec<_>>() })
}

async fn the_catalog_shows_tier_prices_ladders_and_bands(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 1_000_000).await;
    let first = s.dist.ok(CATALOG, json!({ "first": 1 })).await;
    let page = &first["b2bCatalog"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let serum = &page["nodes"][0];
    assert_eq!(serum["skuId"], s.serum.to_string());
    assert_eq!(serum["unitPriceFen"], 25_000);
    assert_eq!(serum["moq"], 12);
    assert_eq!(serum["caseSize"], 6);
    assert_eq!(
        serum["ladder"][1],
        json!({ "minQty": 60, "unitPriceFen": 23_000 })
    );
    // 100 units, cases of 6: at least ten cases.
    assert_eq!(serum["availability"], "IN_STOCK");
    let second = s
        .dist
        .ok(
            CATALOG,
            json!({ "first": 1, "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    let cream = &second["b2bCatalog"]["nodes"][0];
    assert_eq!(cream["skuId"], s.cream.to_string());
    // 100 units in cases of 20: fewer than ten cases.
    assert_eq!(cream["availability"], "LOW");
    assert_eq!(second["b2bCatalog"]["pageInfo"]["hasNextPage"], false);
    // Nothing the distributor sees is a count.
    assert!(!first.to_string().contains("\"100\""));
    // A BA may not publish prices; finance may not either.
    let ba = app.login_staff("ba-demo").await;
    let denied = ba
        .err(
            PUBLISH,
            json!({ "t": s.tier, "f": today(), "items": items(s.serum, s.cream, 1) }),
        )
        .await;
    assert_eq!(denied, "FORBIDDEN");
    // A ladder that does not rise is refused and changes nothing.
    let bad = json!([{ "skuId": s.serum.to_string(), "moq": 12, "caseSize": 6,
        "ladder": [ { "minQty": 12, "unitPriceFen": 100 }, { "minQty": 12, "unitPriceFen": 90 } ] }]);
    let refused =
        s.hq.err(PUBLISH, json!({ "t": s.tier, "f": today(), "items": bad }))
            .await;
    assert_eq!(refused, "BAD_USER_INPUT");
    let again = s.dist.ok(CATALOG, json!({ "first": 1 })).await;
    assert_eq!(again["b2bCatalog"]["nodes"][0]["priceListVersion"], 1);
    app.stop().await;
}

async fn a_quote_prices_ladders_and_submit_is_bound_to_it(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 10_000_000).await;
    // Two lines of one SKU are priced on their sum: 30 + 30 = 60 reaches the second step.
    let input = order(&[(s.serum, 30), (s.serum, 30), (s.cream, 20)]);
    let quote = s.dist.ok(QUOTE, json!({ "i": input })).await["quotePurchaseOrder"].clone();
    assert_eq!(quote["lines"][0]["qty"], 60);
    assert_eq!(quote["lines"][0]["unitPriceFen"], 23_000);
    assert_eq!(quote["totalFen"], 60 * 23_000 + 20 * 10_000);
    assert_eq!(quote["explain"][0]["kind"], "LADDER");
    assert_eq!(quote["explain"][0]["amountFen"], 60 * 2_000);
    assert_eq!(quote["creditSufficient"], true);
    // Bad quantities are refused with a reason.
    for (qty, reason) in [(6, "BELOW_MOQ"), (13, "NOT_WHOLE_CASES")] {
        let body = s
            .dist
            .raw(QUOTE, json!({ "i": order(&[(s.serum, qty)]) }))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["reason"], reason, "{body}");
    }
    // A new price list between quote and submit: CONFLICT, nothing taken.
    s.hq.ok(
        PUBLISH,
        json!({ "t": s.tier, "f": today(), "items": items(s.serum, s.cream, 24_000) }),
    )
    .await;
    let body = s
        .dist
        .raw(
            SUBMIT,
            json!({ "i": input, "h": quote["hash"], "k": "order-0001" }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["reason"], "QUOTE_CHANGED");
    let credit = s.dist.ok(CREDIT, json!({})).await;
    assert_eq!(credit["myCredit"]["reservedFen"], "0");
    // Quote again: the new version's price; submit; the same key answers the same order.
    let fresh = s.dist.ok(QUOTE, json!({ "i": input })).await["quotePurchaseOrder"].clone();
    assert_eq!(fresh["priceListVersion"], 2);
    assert_ne!(fresh["hash"], quote["hash"]);
    let total = fresh["totalFen"].as_i64().unwrap();
    let vars = json!({ "i": input, "h": fresh["hash"], "k": "order-0001" });
    let po = s.dist.ok(SUBMIT, vars.clone()).await["submitPurchaseOrder"].clone();
    assert_eq!(po["status"], "SUBMITTED");
    assert_eq!(po["creditReservedFen"], total);
    assert_eq!(po["events"][0]["status"], "SUBMITTED");
    let twin = s.dist.ok(SUBMIT, vars).await["submitPurchaseOrder"].clone();
    assert_eq!(twin["id"], po["id"]);
    let credit = s.dist.ok(CREDIT, json!({})).await;
    assert_eq!(credit["myCredit"]["reservedFen"], total.to_string());
    // The key with another quote is refused.
    let other = s
        .dist
        .ok(QUOTE, json!({ "i": order(&[(s.serum, 12)]) }))
        .await["quotePurchaseOrder"]["hash"]
        .clone();
    let reused = s
        .dist
        .raw(
            SUBMIT,
            json!({ "i": order(&[(s.serum, 12)]), "h": other, "k": "order-0001" }),
        )
        .await;
    assert_eq!(
        reused["errors"][0]["extensions"]["reason"],
        "IDEMPOTENCY_KEY_REUSED"
    );
    // The order and its list; another organisation's ids are not found.
    let list = s
        .dist
        .ok(
            "{ purchaseOrders(status: [SUBMITTED]) { nodes { id totalFen } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["purchaseOrders"]["nodes"][0]["id"], po["id"]);
    let south = app.login_distributor("dist-demo-2").await;
    let q = "query($id: ID!) { purchaseOrder(id: $id) { id } }";
    assert_eq!(south.err(q, json!({ "id": po["id"] })).await, "NOT_FOUND");
    let theirs = south
        .ok("{ purchaseOrders { nodes { id } } }", json!({}))
        .await;
    assert_eq!(theirs["purchaseOrders"]["nodes"], json!([]));
    assert_eq!(
        s.dist.ok(q, json!({ "id": po["id"] })).await["purchaseOrder"]["id"],
        po["id"]
    );
    let _ = s.dist_id;
    app.stop().await;
}

async fn concurrent_submits_never_pass_the_credit_limit(backend: Backend) {
    let app = TestApp::start(backend).await;
    // Each order is 12 x 25,000 = 300,000 fen: 30% of the limit.
    let s = setup(&app, 1_000_000).await;
    let input = order(&[(s.serum, 12)]);
    let quote = s.dist.ok(QUOTE, json!({ "i": input })).await["quotePurchaseOrder"].clone();
    assert_eq!(quote["totalFen"], 300_000);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let dist = s.dist.clone();
        let vars = json!({ "i": input, "h": quote["hash"], "k": format!("storm-key-{i}") });
        tasks.push(tokio::spawn(async move { dist.raw(SUBMIT, vars).await }));
    }
    let mut accepted = 0;
    for task in tasks {
        let body = task.await.unwrap();
        match body["errors"][0]["extensions"]["code"].as_str() {
            None => accepted += 1,
            Some(code) => assert!(
                matches!(code, "LIMIT_REACHED" | "CONFLICT"),
                "unexpected refusal {body}"
            ),
        }
    }
    assert_eq!(accepted, 3);
    let row = entities::credit_account::Entity::find_by_id(s.dist_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.reserved_fen, 900_000);
    assert!(row.reserved_fen + row.open_ar_fen <= row.limit_fen + row.override_fen);
    let ledger: i64 = entities::credit_entry::Entity::find()
        .filter(entities::credit_entry::Column::DistributorId.eq(s.dist_id))
        .filter(
            entities::credit_entry::Column::Kind
                .eq(entities::credit_entry::CreditEntryKind::Reserve),
        )
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|e| e.amount_fen)
        .sum();
    assert_eq!(ledger, row.reserved_fen);
    let orders = entities::purchase_order::Entity::find()
        .filter(entities::purchase_order::Column::DistributorId.eq(s.dist_id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(orders.len(), 3);
    // Lowering the limit below what is in use is refused and changes nothing.
    let finance = app.login_staff("finance-demo").await;
    let body = finance
        .raw(
            TERMS,
            json!({ "d": s.dist_id.to_string(), "t": { "limitFen": 500_000, "paymentTermDays": 30, "graceDays": 7 }, "r": "下调" }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "CREDIT_LIMIT_BELOW_EXPOSURE"
    );
    let credit = s.dist.ok(CREDIT, json!({})).await;
    assert_eq!(credit["myCredit"]["limitFen"], "1000000");
    // Terms changes are audited.
    let audit =
        s.hq.ok(
            "{ auditLog(filter: { action: DISTRIBUTOR_CREDIT_TERMS }) { nodes { action } } }",
            json!({}),
        )
        .await;
    assert_eq!(audit["auditLog"]["nodes"].as_array().unwrap().len(), 1);
    app.stop().await;
}

const APPROVE: &str = "mutation($id: ID!, $h: String!) {
  approvePurchaseOrder(id: $id, quoteHash: $h) { status quoteHash } }";
const UPDATE: &str = "mutation($id: ID!, $i: PurchaseOrderInput!, $h: String!) {
  updatePurchaseOrder(id: $id, input: $i, quoteHash: $h) { status totalFen quoteHash lines { qty } } }";
const CANCEL: &str =
    "mutation($id: ID!) { cancelPurchaseOrder(id: $id) { status events { status } } }";

fn reason(body: &Value) -> String {
    body["errors"][0]["extensions"]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {body}"))
        .to_owned()
}

async fn approval_binds_to_the_quote_and_cancel_gives_credit_back(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 10_000_000).await;
    let input = order(&[(s.serum, 12)]);
    let quote = s.dist.ok(QUOTE, json!({ "i": input })).await["quotePurchaseOrder"].clone();
    let po = s
        .dist
        .ok(
            SUBMIT,
            json!({ "i": input, "h": quote["hash"], "k": "po-a-0001" }),
        )
        .await["submitPurchaseOrder"]
        .clone();
    let id = po["id"].clone();
    // Two approvers at once: one transition, the other hears CONFLICT.
    let other_hq = app.login_staff("hq-demo").await;
    let (a, b) = tokio::join!(
        s.hq.raw(APPROVE, json!({ "id": id, "h": quote["hash"] })),
        other_hq.raw(APPROVE, json!({ "id": id, "h": quote["hash"] })),
    );
    let oks = [&a, &b].iter().filter(|r| r["errors"].is_null()).count();
    assert_eq!(oks, 1, "{a} {b}");
    let loser = if a["errors"].is_null() { &b } else { &a };
    assert_eq!(reason(loser), "PO_WRONG_STATE");
    // An edit after approval sends it back; the old hash no longer approves it.
    let bigger = order(&[(s.serum, 18)]);
    let new_quote = s.dist.ok(QUOTE, json!({ "i": bigger })).await["quotePurchaseOrder"].clone();
    let edited = s
        .dist
        .ok(
            UPDATE,
            json!({ "id": id, "i": bigger, "h": new_quote["hash"] }),
        )
        .await["updatePurchaseOrder"]
        .clone();
    assert_eq!(edited["status"], "SUBMITTED");
    assert_eq!(edited["totalFen"], 18 * 25_000);
    let stale =
        s.hq.raw(APPROVE, json!({ "id": id, "h": quote["hash"] }))
            .await;
    assert_eq!(reason(&stale), "QUOTE_CHANGED");
    let credit = s.dist.ok(CREDIT, json!({})).await;
    assert_eq!(credit["myCredit"]["reservedFen"], (18 * 25_000).to_string());
    let approved =
        s.hq.ok(APPROVE, json!({ "id": id, "h": new_quote["hash"] }))
            .await;
    assert_eq!(approved["approvePurchaseOrder"]["status"], "APPROVED");
    // Another organisation cannot cancel it; the owner can, once, and the credit comes back.
    let south = app.login_distributor("dist-demo-2").await;
    assert_eq!(south.err(CANCEL, json!({ "id": id })).await, "NOT_FOUND");
    let cancelled = s.dist.ok(CANCEL, json!({ "id": id })).await["cancelPurchaseOrder"].clone();
    assert_eq!(cancelled["status"], "CANCELLED");
    let history: Vec<&str> = cancelled["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        [
            "SUBMITTED",
            "APPROVED",
            "SUBMITTED",
            "APPROVED",
            "CANCELLED"
        ]
    );
    let again = s.dist.raw(CANCEL, json!({ "id": id })).await;
    assert_eq!(reason(&again), "PO_WRONG_STATE");
    let credit = s.dist.ok(CREDIT, json!({})).await;
    assert_eq!(credit["myCredit"]["reservedFen"], "0");
    let entries = entities::credit_entry::Entity::find()
        .filter(entities::credit_entry::Column::DistributorId.eq(s.dist_id))
        .all(app.db())
        .await
        .unwrap();
    let net: i64 = entries
        .iter()
        .map(|e| match e.kind {
            entities::credit_entry::CreditEntryKind::Reserve => e.amount_fen,
            entities::credit_entry::CreditEntryKind::Release => -e.amount_fen,
            _ => 0,
        })
        .sum();
    assert_eq!(net, 0);
    // The queue shows it to finance.
    let finance = app.login_staff("finance-demo").await;
    let queue = finance
        .ok(
            "{ purchaseOrderQueue(status: [CANCELLED]) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(queue["purchaseOrderQueue"]["nodes"][0]["id"], id);
    app.stop().await;
}

const POLICY: &str =
    "mutation($i: PolicyInput!) { createPolicy(input: $i) { id kind requiresAck } }";

async fn policies_give_floor_rounded_gifts_and_block_until_confirmed(backend: Backend) {
    let app = TestApp::start(backend).await;
    let s = setup(&app, 10_000_000).await;
    // Cream by the unit for this test.
    let list = json!([
        { "skuId": s.serum.to_string(), "moq": 12, "caseSize": 6, "ladder": [ { "minQty": 12, "unitPriceFen": 25_000 } ] },
        { "skuId": s.cream.to_string(), "moq": 1, "caseSize": 1, "ladder": [ { "minQty": 1, "unitPriceFen": 10_000 } ] },
    ]);
    s.hq.ok(PUBLISH, json!({ "t": s.tier, "f": today(), "items": list }))
        .await;
    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let to = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let gift = s
        .hq
        .ok(
            POLICY,
            json!({ "i": { "name": "订10送1", "kind": "BUY_N_GET_M", "tierId": s.tier, "validFrom": from,
                "validTo": to, "skuId": s.cream.to_string(), "buy": 10, "giftSkuId": s.cream.to_string(), "get": 1 } }),
        )
        .await;
    assert_eq!(gift["createPolicy"]["kind"], "BUY_N_GET_M");
    let reduction = s
        .hq
        .ok(
            POLICY,
            json!({ "i": { "name": "满1000减50", "kind": "ORDER_REDUCTION", "tierId": s.tier, "validFrom": from,
                "validTo": to, "priority": 1, "requiresAck": true, "thresholdFen": 100_000, "offFen": 5_000 } }),
        )
        .await["createPolicy"]["id"]
        .clone();
    // 15 units over two lines on "10 + 1": one gift, not 1.5 and not none.
    let input = order(&[(s.cream, 8), (s.cream, 7)]);
    let quote =
        s.dist.ok(QUOTE_WITH_POLICIES, json!({ "i": input })).await["quotePurchaseOrder"].clone();
    assert_eq!(
        quote["gifts"],
        json!([{ "skuId": s.cream.to_string(), "qty": 1 }])
    );
    assert_eq!(quote["discountFen"], 5_000);
    assert_eq!(quote["totalFen"], 150_000 - 5_000);
    let kinds: Vec<&str> = quote["explain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["BUY_N_GET_M", "ORDER_REDUCTION"]);
    assert_eq!(quote["unacknowledgedPolicyIds"], json!([reduction]));
    // Below the threshold: no gift.
    let small = s
        .dist
        .ok(QUOTE_WITH_POLICIES, json!({ "i": order(&[(s.cream, 9)]) }))
        .await;
    assert_eq!(small["quotePurchaseOrder"]["gifts"], json!([]));
    // The must-confirm policy blocks the order until it is confirmed.
    let blocked = s
        .dist
        .raw(
            SUBMIT,
            json!({ "i": input, "h": quote["hash"], "k": "policy-0001" }),
        )
        .await;
    assert_eq!(reason(&blocked), "POLICY_NOT_ACKNOWLEDGED");
    let south = app.login_distributor("dist-demo-2").await;
    let ack = "mutation($p: ID!) { acknowledgePolicy(policyId: $p) { id acknowledgedAt } }";
    assert_eq!(south.err(ack, json!({ "p": reduction })).await, "NOT_FOUND");
    let acked = s.dist.ok(ack, json!({ "p": reduction })).await;
    assert!(acked["acknowledgePolicy"]["acknowledgedAt"].is_string());
    let mine = s
        .dist
        .ok(
            "{ myPolicies { id requiresAck acknowledgedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["myPolicies"].as_array().unwrap().len(), 2);
    let fresh =
        s.dist.ok(QUOTE_WITH_POLICIES, json!({ "i": input })).await["quotePurchaseOrder"].clone();
    assert_eq!(fresh["unacknowledgedPolicyIds"], json!([]));
    assert_ne!(fresh["hash"], quote["hash"]);
    let po = s
        .dist
        .ok(
            "mutation($i: PurchaseOrderInput!, $h: String!, $k: String!) {
              submitPurchaseOrder(input: $i, quoteHash: $h, idempotencyKey: $k) { totalFen lines { skuId qty isGift } } }",
            json!({ "i": input, "h": fresh["hash"], "k": "policy-0001" }),
        )
        .await["submitPurchaseOrder"]
        .clone();
    assert_eq!(po["totalFen"], 145_000);
    let gifts: Vec<&Value> = po["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["isGift"] == true)
        .collect();
    assert_eq!(gifts.len(), 1);
    assert_eq!(gifts[0]["qty"], 1);
    app.stop().await;
}

const QUOTE_WITH_POLICIES: &str = "query($i: PurchaseOrderInput!) { quotePurchaseOrder(input: $i) {
  hash discountFen totalFen gifts { skuId qty } explain { kind policyId } unacknowledgedPolicyIds } }";

/// dist-demo's owner as the domain sees it.
async fn dist_demo_principal(app: &TestApp) -> domain::auth::DistributorPrincipal {
    let account = entities::distributor_account::Entity::find()
        .filter(entities::distributor_account::Column::Username.eq("dist-demo"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    domain::auth::DistributorPrincipal {
        account_id: account.id,
        distributor_id: account.distributor_id,
        session_id: "test".into(),
    }
}

/// A quote reads a fixed, small number of statements whatever its lines (the price lists and
/// policies come from the replica's pricing world), and a change to the pricing world made
/// behind the domain's back (a policy row written straight into the database) is in the very
/// next quote: the world is kept per pricing version, which database triggers bump.
async fn a_quote_reads_few_statements_and_never_an_old_pricing_world(backend: Backend) {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::builder(backend)
        .count_queries(counter.clone())
        .start()
        .await;
    let s = setup(&app, 10_000_000).await;
    let who = dist_demo_principal(&app).await;
    let line = |sku, qty| domain::b2b::LineInput { sku_id: sku, qty };
    let one = [line(s.serum, 12)];
    let two = [line(s.serum, 60), line(s.cream, 20)];
    let first = domain::b2b::quote_purchase_order(&app.state, &who, &one)
        .await
        .unwrap();
    let mut counts = Vec::new();
    for lines in [&one[..], &two[..]] {
        counter.store(0, Ordering::SeqCst);
        domain::b2b::quote_purchase_order(&app.state, &who, lines)
            .await
            .unwrap();
        counts.push(counter.load(Ordering::SeqCst));
    }
    // The distributor row with the pricing version, credit and rebate balance; the stock of
    // every SKU.
    assert_eq!(counts, vec![2, 2], "statements per quote");
    // Read in that statement, an organisation that is not there, or switched off, quotes nothing.
    let ghost = domain::auth::DistributorPrincipal {
        distributor_id: 999_999,
        ..who.clone()
    };
    let off = entities::distributor::ActiveModel {
        id: sea_orm::Set(who.distributor_id),
        active: sea_orm::Set(false),
        ..Default::default()
    };
    for (principal, switch_off) in [(&ghost, false), (&who, true)] {
        if switch_off {
            sea_orm::ActiveModelTrait::update(off.clone(), &app.state.db)
                .await
                .unwrap();
        }
        let refused = domain::b2b::quote_purchase_order(&app.state, principal, &one).await;
        assert!(
            matches!(refused, Err(domain::b2b::B2bError::NotFound("distributor"))),
            "{refused:?}"
        );
    }
    sea_orm::ActiveModelTrait::update(
        entities::distributor::ActiveModel {
            active: sea_orm::Set(true),
            ..off
        },
        &app.state.db,
    )
    .await
    .unwrap();
    // A 满减 written straight into the database for the test's tier.
    let now = chrono::Utc::now();
    let policy = entities::b2b_policy::ActiveModel {
        name: sea_orm::Set("直写满减".into()),
        kind: sea_orm::Set(entities::b2b_policy::PolicyKind::OrderReduction),
        rule: sea_orm::Set(
            entities::b2b_policy::PolicyRule::OrderReduction {
                threshold_fen: 100_000,
                off_fen: 5_000,
            }
            .into(),
        ),
        tier_id: sea_orm::Set(Some(s.tier.parse().unwrap())),
        valid_from: sea_orm::Set(now - chrono::Duration::days(1)),
        valid_to: sea_orm::Set(now + chrono::Duration::days(1)),
        priority: sea_orm::Set(0),
        requires_ack: sea_orm::Set(false),
        created_at: sea_orm::Set(now),
        distributor_kind: sea_orm::Set(None),
        region_codes: sea_orm::Set(None),
        ..Default::default()
    };
    sea_orm::ActiveModelTrait::insert(policy, app.db())
        .await
        .unwrap();
    let after = domain::b2b::quote_purchase_order(&app.state, &who, &one)
        .await
        .unwrap();
    assert_eq!(after.discount_fen, 5_000);
    assert_eq!(after.total_fen, first.total_fen - 5_000);
    assert_ne!(after.hash, first.hash);
    // So a submit with the quote from before is refused.
    let refused =
        domain::b2b::submit_purchase_order(&app.state, &who, &one, &first.hash, "order-stale-1")
            .await
            .unwrap_err();
    assert!(
        matches!(refused, domain::b2b::B2bError::QuoteChanged),
        "{refused:?}"
    );
    // Back to the fixed count once the new world is kept.
    counter.store(0, Ordering::SeqCst);
    domain::b2b::quote_purchase_order(&app.state, &who, &two)
        .await
        .unwrap();
    assert_eq!(counter.load(Ordering::SeqCst), 2);
    app.stop().await;
}

on_both_backends!(
    a_quote_reads_few_statements_and_never_an_old_pricing_world,
    policies_give_floor_rounded_gifts_and_block_until_confirmed,
    approval_binds_to_the_quote_and_cancel_gives_credit_back,
    the_catalog_shows_tier_prices_ladders_and_bands,
    a_quote_prices_ladders_and_submit_is_bound_to_it,
    concurrent_submits_never_pass_the_credit_limit,
);
