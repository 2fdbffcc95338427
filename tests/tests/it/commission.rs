//! Commission (issue 18): shares that do not add up are refused and store nothing; a statement's
//! lines add up to its total in fen (amounts that do not divide evenly); seed 004's formula
//! (基础工资×20% + 销售额×5% + 评价加分); a refund after the lock is an adjustment in the next
//! month and the locked statement stays as it was; who may read whose commission; two locks at
//! once write one set of statements, and locking reads and writes in a fixed number of queries
//! whatever the number of BAs; principal paid back takes the top-up commission back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use domain::accounts::{NewStaffAccount, create_staff_account};
use domain::auth::{StaffPrincipal, StaffRole};
use domain::commission;
use domain::orders::PaymentMethod;
use domain::platform::clock::ManualClock;
use domain::{DomainError, ErrorCode, RequestMeta, members, payments, stored_value};
use entities::sales_fact;
use entities::{
    commission_line, commission_month, commission_plan, commission_plan_rule, commission_statement,
};
use rouge_tests::fixtures::{self, Catalog};
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const UPSERT: &str = "mutation($i: CommissionPlanInput!) { upsertCommissionPlan(input: $i) {
  id version effectiveFrom tierMode designatedShareBp assistantShareBp baseSalaryRateBp
  rules { itemKind base method rateBp brackets { fromFen rateBp } } } }";
const INPUTS: &str = "mutation($s: ID!, $m: String!, $b: Fen!, $r: Fen!) {
  setCommissionInputs(staffId: $s, month: $m, baseSalaryFen: $b, ratingBonusFen: $r) { staffId baseSalaryFen } }";
const LINES: &str = "staffId month status planVersion totalFen lineCount
  lines(first: 100) { nodes { position source sourceId kind itemKind split businessDate baseFen shareBp rateBp amountFen ruleLabel } }";
const LOCK: &str = "mutation($m: String!, $s: ID!) { lockCommissionMonth(month: $m, storeId: $s) {
  status totalFen statementCount statements(first: 100) { nodes { staffId totalFen lineCount } } } }";

fn statement_query() -> String {
    format!(
        "query($s: ID!, $m: String!) {{ commissionStatement(staffId: $s, month: $m) {{ {LINES} }} }}"
    )
}

fn my_query() -> String {
    format!("query($m: String!) {{ myCommission(month: $m) {{ {LINES} }} }}")
}

fn fen(v: &Value) -> i64 {
    v.as_str()
        .unwrap_or_else(|| panic!("not a Fen: {v}"))
        .parse()
        .unwrap()
}

/// The net of an order's facts.
async fn net_of(app: &TestApp, order_id: i64) -> Vec<i64> {
    sales_fact::Entity::find()
        .filter(sales_fact::Column::OrderId.eq(order_id))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.net_fen)
        .collect()
}

fn flat_plan(store: Option<i64>, from: &str, designated: i32, assistant: i32, rate: i32) -> Value {
    json!({
        "storeId": store.map(|s| s.to_string()),
        "effectiveFrom": from,
        "name": "门店提成",
        "tierMode": "WHOLE_MONTH",
        "designatedShareBp": designated,
        "assistantShareBp": assistant,
        "baseSalaryRateBp": 2000,
        "rules": [{ "itemKind": "PRODUCT", "base": "NET_REVENUE", "method": "FLAT", "rateBp": rate }],
    })
}

async fn upsert(gql: &Gql, input: Value) -> Value {
    gql.ok(UPSERT, json!({ "i": input })).await["upsertCommissionPlan"].clone()
}

/// Each statement's lines add up to its total.
fn assert_adds_up(statement: &Value) {
    let lines = statement["lines"]["nodes"].as_array().unwrap();
    let sum: i64 = lines.iter().map(|l| fen(&l["amountFen"])).sum();
    assert_eq!(
        sum,
        fen(&statement["totalFen"]),
        "Σ lines = total: {statement}"
    );
    assert_eq!(
        statement["lineCount"].as_i64().unwrap() as usize,
        lines.len()
    );
}

/// A second BA at the catalog's store (SH001).
async fn second_ba(app: &TestApp, cat: &Catalog, name: &str) -> i64 {
    let (account, _) = create_staff_account(
        &app.state,
        &RequestMeta::default(),
        &cat.hq,
        NewStaffAccount {
            username: name.into(),
            display_name: name.into(),
            role: StaffRole::Ba,
            store_id: Some(cat.store_id),
            phone: None,
        },
    )
    .await
    .unwrap();
    account.id
}

async fn shares_that_do_not_add_up_are_refused_and_nothing_is_stored(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    for (designated, assistant) in [(6000, 3000), (7000, 3001), (10_001, -1)] {
        let body = hq
            .raw(
                UPSERT,
                json!({ "i": flat_plan(None, "2026-09", designated, assistant, 500) }),
            )
            .await;
        assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    }
    // Other bad plans: a TIERED rule not from 0, two rules for one kind.
    let mut bad = flat_plan(None, "2026-09", 7000, 3000, 500);
    bad["rules"] = json!([{ "itemKind": "PRODUCT", "base": "MARGIN", "method": "TIERED",
        "brackets": [{ "fromFen": "100", "rateBp": 300 }] }]);
    assert_eq!(
        code_of(&hq.raw(UPSERT, json!({ "i": bad })).await).as_deref(),
        Some("BAD_USER_INPUT")
    );
    let mut twice = flat_plan(None, "2026-09", 7000, 3000, 500);
    twice["rules"] = json!([
        { "itemKind": "PRODUCT", "base": "NET_REVENUE", "method": "FLAT", "rateBp": 500 },
        { "itemKind": "PRODUCT", "base": "MARGIN", "method": "FLAT", "rateBp": 500 }]);
    assert_eq!(
        code_of(&hq.raw(UPSERT, json!({ "i": twice })).await).as_deref(),
        Some("BAD_USER_INPUT")
    );
    assert_eq!(
        commission_plan::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        commission_plan_rule::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    // A good plan is version 1, the next version of the same scope 2.
    let first = upsert(&hq, flat_plan(None, "2026-09", 7000, 3000, 500)).await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["rules"][0]["rateBp"], 500);
    let mut tiered = flat_plan(None, "2026-10", 5000, 5000, 0);
    tiered["tierMode"] = json!("MARGINAL");
    tiered["rules"] = json!([{ "itemKind": "TOP_UP", "base": "NET_REVENUE", "method": "TIERED",
        "brackets": [{ "fromFen": "0", "rateBp": 100 }, { "fromFen": "1000000", "rateBp": 200 }] }]);
    let second = upsert(&hq, tiered).await;
    assert_eq!(second["version"], 2);
    assert_eq!(second["tierMode"], "MARGINAL");
    assert_eq!(second["rules"][0]["brackets"][1]["fromFen"], "1000000");
    // Only HQ writes plans.
    let ba = app.login_staff("ba-demo").await;
    let body = ba
        .raw(
            UPSERT,
            json!({ "i": flat_plan(None, "2026-11", 7000, 3000, 500) }),
        )
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("FORBIDDEN"));
}

async fn seed_004s_formula_and_lines_that_add_up_to_the_total(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 30).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let manager = fixtures::staff_principal(&app, "manager-demo").await;
    let helper = second_ba(&app, &cat, "ba-helper").await;
    let regular: i64 = app.login_member("nora").await.1.parse().unwrap();
    let devoted: i64 = app.login_member("olga").await.1.parse().unwrap();
    // olga's designated BA is the helper; ba-demo serves her: the helper 66.67%, ba-demo 33.33%.
    members::assign_exclusive_ba(
        &app.state,
        &manager,
        &RequestMeta::default(),
        devoted,
        Some(helper),
    )
    .await
    .unwrap();
    let hq = app.login_staff("hq-demo").await;
    // Seed 004: 基础工资 ¥5,000 × 20% + 销售额 × 5% + 评价加分 ¥80.
    let plan = upsert(
        &hq,
        flat_plan(Some(cat.store_id), "2026-09", 6667, 3333, 500),
    )
    .await;
    hq.ok(
        INPUTS,
        json!({ "s": ba.staff_id.to_string(), "m": "2026-09", "b": "500000", "r": "8000" }),
    )
    .await;
    let mut own = Vec::new();
    for _ in 0..2 {
        let sale = fixtures::counter_sale(
            &app,
            &ba,
            regular,
            &[(cat.serum_sku, 1), (cat.cream_sku, 1)],
            PaymentMethod::Cash,
        )
        .await;
        own.extend(net_of(&app, sale.id).await);
    }
    let mut split = Vec::new();
    for _ in 0..3 {
        let sale = fixtures::counter_sale(
            &app,
            &ba,
            devoted,
            &[(cat.serum_sku, 1)],
            PaymentMethod::Cash,
        )
        .await;
        split.extend(net_of(&app, sale.id).await);
    }
    // The exact figures, in 1/10⁸ fen.
    let exact = |net: i64, share: i64| i128::from(net) * i128::from(share) * 500;
    assert!(
        split.iter().any(|n| exact(*n, 3333) % 100_000_000 != 0),
        "the split amounts do not divide evenly: {split:?}"
    );
    let round = |x: i128| {
        let (q, r) = (x.div_euclid(100_000_000), x.rem_euclid(100_000_000));
        i64::try_from(if 2 * r >= 100_000_000 { q + 1 } else { q }).unwrap()
    };
    let sales_part: i128 = own.iter().map(|n| exact(*n, 10_000)).sum::<i128>()
        + split.iter().map(|n| exact(*n, 3333)).sum::<i128>();
    let expected_ba = 100_000 + round(sales_part) + 8_000;
    let helper_part: i128 = split.iter().map(|n| exact(*n, 6667)).sum();
    let manager_gql = app.login_staff("manager-demo").await;
    let mine = manager_gql
        .ok(
            &statement_query(),
            json!({ "s": ba.staff_id.to_string(), "m": "2026-09" }),
        )
        .await["commissionStatement"]
        .clone();
    assert_eq!(mine["status"], "OPEN");
    assert_eq!(fen(&mine["totalFen"]), expected_ba, "{mine}");
    assert_adds_up(&mine);
    let lines = mine["lines"]["nodes"].as_array().unwrap();
    assert_eq!(lines.len(), own.len() + split.len() + 2);
    let base = lines.iter().find(|l| l["source"] == "BASE_SALARY").unwrap();
    assert_eq!(
        (fen(&base["amountFen"]), base["rateBp"].as_i64()),
        (100_000, Some(2000))
    );
    let bonus = lines
        .iter()
        .find(|l| l["source"] == "RATING_BONUS")
        .unwrap();
    assert_eq!(fen(&bonus["amountFen"]), 8_000);
    let assisted: Vec<&Value> = lines.iter().filter(|l| l["split"] == "ASSISTANT").collect();
    assert_eq!(assisted.len(), 3);
    assert!(
        assisted
            .iter()
            .all(|l| l["shareBp"] == 3333 && l["rateBp"] == 500 && l["kind"] == "EARNED")
    );
    assert!(lines[0]["ruleLabel"].as_str().unwrap().contains("5.00%"));
    // The helper's statement: only her designated share.
    let theirs = manager_gql
        .ok(
            &statement_query(),
            json!({ "s": helper.to_string(), "m": "2026-09" }),
        )
        .await["commissionStatement"]
        .clone();
    assert_eq!(fen(&theirs["totalFen"]), round(helper_part));
    assert_adds_up(&theirs);
    assert!(
        theirs["lines"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["split"] == "DESIGNATED")
    );
    // The preview with the same plan says the same; the BA sees her own as HQ does.
    let preview = manager_gql
        .ok(
            "query($p: ID!, $s: ID!) { previewCommission(planId: $p, month: \"2026-09\", storeId: $s) {
              status totalFen statements(first: 50) { nodes { staffId totalFen } } } }",
            json!({ "p": plan["id"], "s": cat.store_id.to_string() }),
        )
        .await["previewCommission"]
        .clone();
    assert_eq!(preview["status"], "PREVIEW");
    assert_eq!(fen(&preview["totalFen"]), expected_ba + round(helper_part));
    let me = app.login_staff("ba-demo").await;
    let own_view = me.ok(&my_query(), json!({ "m": "2026-09" })).await["myCommission"].clone();
    assert_eq!(own_view, mine);
}

async fn a_refund_after_the_lock_is_an_adjustment_next_month_and_the_locked_statement_stays(
    backend: Backend,
) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let manager = fixtures::staff_principal(&app, "manager-demo").await;
    let member: i64 = app.login_member("pia").await.1.parse().unwrap();
    upsert(
        &app.login_staff("hq-demo").await,
        flat_plan(None, "2026-09", 7000, 3000, 500),
    )
    .await;
    let sale = fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let net: i64 = net_of(&app, sale.id).await.iter().sum();
    let store = cat.store_id.to_string();
    // September is not over: it cannot be locked yet.
    let finance = app.login_staff("finance-demo").await;
    let body = finance
        .raw(LOCK, json!({ "m": "2026-09", "s": store }))
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    clock.set(fixtures::shanghai_noon("2026-10-02"));
    let finance = app.login_staff("finance-demo").await;
    let locked = finance
        .ok(LOCK, json!({ "m": "2026-09", "s": store }))
        .await["lockCommissionMonth"]
        .clone();
    assert_eq!(locked["status"], "LOCKED");
    let q = statement_query();
    let vars = json!({ "s": ba.staff_id.to_string(), "m": "2026-09" });
    let before = finance.ok(&q, vars.clone()).await["commissionStatement"].clone();
    assert_eq!(before["status"], "LOCKED");
    assert_adds_up(&before);
    let earned = fen(&before["totalFen"]);
    assert_eq!(earned, (net * 500 + 5_000) / 10_000, "{before}");
    // Locking again changes nothing and answers the same month.
    let again = finance
        .ok(LOCK, json!({ "m": "2026-09", "s": store }))
        .await["lockCommissionMonth"]
        .clone();
    assert_eq!(again, locked);
    // A locked month takes no new plan version and no new inputs.
    let hq = app.login_staff("hq-demo").await;
    let body = hq
        .raw(
            UPSERT,
            json!({ "i": flat_plan(None, "2026-09", 5000, 5000, 900) }),
        )
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("CONFLICT"), "{body}");
    let body = hq
        .raw(
            INPUTS,
            json!({ "s": ba.staff_id.to_string(), "m": "2026-09", "b": "1", "r": "1" }),
        )
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("CONFLICT"), "{body}");
    // The sale is refunded in October.
    clock.set(fixtures::shanghai_noon("2026-10-05"));
    payments::refund_order(&app.state, &manager, sale.id, None, None)
        .await
        .unwrap();
    let finance = app.login_staff("finance-demo").await;
    let after = finance.ok(&q, vars).await["commissionStatement"].clone();
    assert_eq!(after, before, "the locked statement is unchanged");
    let october = finance
        .ok(&q, json!({ "s": ba.staff_id.to_string(), "m": "2026-10" }))
        .await["commissionStatement"]
        .clone();
    assert_eq!(october["status"], "OPEN");
    assert_adds_up(&october);
    let lines = october["lines"]["nodes"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{october}");
    assert_eq!(lines[0]["kind"], "ADJUSTMENT");
    assert_eq!(fen(&lines[0]["baseFen"]), -net);
    assert_eq!(fen(&lines[0]["amountFen"]), -earned);
    assert!(lines[0]["ruleLabel"].as_str().unwrap().contains("2026-09"));
    // Still one set of statements for September.
    assert_eq!(
        commission_month::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        1
    );
}

async fn who_may_read_whose_commission(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 10).await;
    let other = second_ba(&app, &cat, "ba-other").await;
    upsert(
        &app.login_staff("hq-demo").await,
        flat_plan(None, "2026-09", 7000, 3000, 500),
    )
    .await;
    let q = statement_query();
    let of_other = json!({ "s": other.to_string(), "m": "2026-09" });
    // A BA sees her own, never another BA's.
    let ba = app.login_staff("ba-demo").await;
    ba.ok(&my_query(), json!({ "m": "2026-09" })).await;
    assert_eq!(
        code_of(&ba.raw(&q, of_other.clone()).await).as_deref(),
        Some("FORBIDDEN")
    );
    // The store's manager, finance and HQ see it.
    for who in ["manager-demo", "finance-demo", "hq-demo"] {
        let gql = app.login_staff(who).await;
        let s = gql.ok(&q, of_other.clone()).await["commissionStatement"].clone();
        assert_eq!(s["staffId"], other.to_string(), "{who}");
    }
    // A manager of another store is refused, for the statement and the store's preview.
    let bj = entities::store::Entity::find()
        .filter(entities::store::Column::Code.eq("BJ001"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let bj_manager = StaffPrincipal {
        staff_id: fixtures::staff_principal(&app, "manager-demo")
            .await
            .staff_id,
        role: StaffRole::Manager,
        store_id: Some(bj.id),
        session_id: "fixture".into(),
    };
    let refused = commission::commission_statement(&app.state, &bj_manager, other, "2026-09")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden);
    let plan = commission_plan::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let refused =
        commission::preview_commission(&app.state, &bj_manager, plan.id, "2026-09", cat.store_id)
            .await
            .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden);
    // Someone who is not a BA, or no one: not found.
    let hq = app.login_staff("hq-demo").await;
    let body = hq
        .raw(
            &q,
            json!({ "s": cat.hq.staff_id.to_string(), "m": "2026-09" }),
        )
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("NOT_FOUND"));
    let body = hq
        .raw(&q, json!({ "s": other.to_string(), "m": "2026-9" }))
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"));
}

async fn two_locks_at_once_write_one_set_of_statements(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let member: i64 = app.login_member("queenie").await.1.parse().unwrap();
    upsert(
        &app.login_staff("hq-demo").await,
        flat_plan(None, "2026-09", 7000, 3000, 500),
    )
    .await;
    second_ba(&app, &cat, "ba-race").await;
    for _ in 0..3 {
        fixtures::counter_sale(
            &app,
            &ba,
            member,
            &[(cat.serum_sku, 1), (cat.cream_sku, 1)],
            PaymentMethod::Cash,
        )
        .await;
    }
    clock.set(fixtures::shanghai_noon("2026-10-01"));
    let finance = fixtures::staff_principal(&app, "finance-demo").await;
    let (a, b) = tokio::join!(
        commission::lock_commission_month(&app.state, &finance, "2026-09", cat.store_id),
        commission::lock_commission_month(&app.state, &finance, "2026-09", cat.store_id),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b, "both answer the one set of statements");
    assert_eq!(
        commission_month::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        1
    );
    let statements = commission_statement::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(statements as usize, a.statements.len());
    // ba-demo, the manager and the second BA of SH001.
    assert_eq!(a.statements.len(), 3);
    let lines = commission_line::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(
        lines as usize,
        a.statements.iter().map(|s| s.lines.len()).sum::<usize>()
    );
    assert!(lines >= 6);
    let total: i64 = a.statements.iter().map(|s| s.total_fen).sum();
    assert_eq!(a.total_fen, total);
    assert!(total > 0);
}

async fn locking_takes_the_same_queries_for_few_and_many_bas(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-08-10")));
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::builder(backend)
        .clock(clock.clone())
        .count_queries(counter.clone())
        .start()
        .await;
    let cat = fixtures::catalog(&app, 10).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let member: i64 = app.login_member("rita").await.1.parse().unwrap();
    upsert(
        &app.login_staff("hq-demo").await,
        flat_plan(None, "2026-08", 7000, 3000, 500),
    )
    .await;
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    clock.set(fixtures::shanghai_noon("2026-09-10"));
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    clock.set(fixtures::shanghai_noon("2026-10-10"));
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    clock.set(fixtures::shanghai_noon("2026-11-02"));
    let finance = fixtures::staff_principal(&app, "finance-demo").await;
    // Both measured months follow a locked month, so both look for facts committed after that
    // lock (one query whatever the number of BAs).
    commission::lock_commission_month(&app.state, &finance, "2026-08", cat.store_id)
        .await
        .unwrap();
    let mut queries = Vec::new();
    for (month, more) in [("2026-09", 0), ("2026-10", 40)] {
        for i in 0..more {
            second_ba(&app, &cat, &format!("ba-many-{i}")).await;
        }
        counter.store(0, Ordering::SeqCst);
        let done = commission::lock_commission_month(&app.state, &finance, month, cat.store_id)
            .await
            .unwrap();
        queries.push(counter.load(Ordering::SeqCst));
        assert_eq!(done.statements.len(), 2 + more);
    }
    assert_eq!(queries[0], queries[1], "one set-based pass: {queries:?}");
}

/// The month each SALES_FACT line of the store's written statements is in, per fact.
async fn locked_fact_lines(app: &TestApp) -> Vec<(i64, String)> {
    let months: std::collections::HashMap<i64, String> = commission_statement::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.month))
        .collect();
    commission_line::Entity::find()
        .filter(commission_line::Column::Source.eq(commission_line::CommissionSource::SalesFact))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.source_id.unwrap(), months[&l.statement_id].clone()))
        .collect()
}

async fn a_sale_committed_after_its_month_was_locked_is_carried_once(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 60).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let member: i64 = app.login_member("rosa").await.1.parse().unwrap();
    upsert(
        &app.login_staff("hq-demo").await,
        flat_plan(None, "2026-09", 10_000, 0, 500),
    )
    .await;
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let finance = fixtures::staff_principal(&app, "finance-demo").await;
    // Sales started a second before midnight race the lock taken at midnight: those that
    // read the clock before it moved are September's, committed before or after the lock.
    let last_second = fixtures::shanghai_noon("2026-09-30") + chrono::Duration::seconds(43_199);
    clock.set(last_second);
    let cream = [(cat.cream_sku, 1)];
    let sales = futures::future::join_all(
        (0..12).map(|_| fixtures::counter_sale(&app, &ba, member, &cream, PaymentMethod::Cash)),
    );
    let lock = async {
        clock.set(last_second + chrono::Duration::seconds(2));
        commission::lock_commission_month(&app.state, &finance, "2026-09", cat.store_id).await
    };
    let (_, september) = tokio::join!(sales, lock);
    let september = september.unwrap();
    // And one recorded surely after the lock: its clock read before midnight.
    clock.set(last_second);
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    clock.set(fixtures::shanghai_noon("2026-10-03"));
    let september_facts: Vec<sales_fact::Model> = sales_fact::Entity::find()
        .filter(sales_fact::Column::BusinessDate.lt(fixtures::date("2026-10-01")))
        .all(app.db())
        .await
        .unwrap();
    let seen: std::collections::HashSet<i64> = locked_fact_lines(&app)
        .await
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let late: Vec<&sales_fact::Model> = september_facts
        .iter()
        .filter(|f| !seen.contains(&f.id))
        .collect();
    assert!(
        !late.is_empty(),
        "the sale after the lock is September's and unseen"
    );
    // October (open) carries each late fact as one ADJUSTMENT line; September is unchanged.
    let gql = app.login_staff("finance-demo").await;
    let q = statement_query();
    let vars = |m: &str| json!({ "s": ba.staff_id.to_string(), "m": m });
    let october = gql.ok(&q, vars("2026-10")).await["commissionStatement"].clone();
    assert_adds_up(&october);
    let adjustments: Vec<&Value> = october["lines"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "ADJUSTMENT")
        .collect();
    let mut carried: Vec<i64> = adjustments
        .iter()
        .map(|l| l["sourceId"].as_str().unwrap().parse().unwrap())
        .collect();
    carried.sort_unstable();
    let mut expected: Vec<i64> = late.iter().map(|f| f.id).collect();
    expected.sort_unstable();
    assert_eq!(carried, expected, "{october}");
    for line in &adjustments {
        let id: i64 = line["sourceId"].as_str().unwrap().parse().unwrap();
        let fact = late.iter().find(|f| f.id == id).unwrap();
        assert!(
            line["ruleLabel"].as_str().unwrap().contains("2026-09"),
            "{line}"
        );
        // 5% of the fact, give or take the fen the largest remainder moves.
        let exact = fact.net_fen * 500;
        assert!(
            (fen(&line["amountFen"]) * 10_000 - exact).abs() <= 10_000,
            "{line}"
        );
    }
    let again = gql.ok(&q, vars("2026-09")).await["commissionStatement"].clone();
    let in_september = september
        .statements
        .iter()
        .find(|s| s.staff_id == ba.staff_id)
        .unwrap();
    assert_eq!(fen(&again["totalFen"]), in_september.total_fen);
    assert_eq!(
        again["lines"]["nodes"].as_array().unwrap().len(),
        in_september.lines.len()
    );
    // Once October is locked, each September fact is in exactly one locked month.
    clock.set(fixtures::shanghai_noon("2026-11-02"));
    commission::lock_commission_month(&app.state, &finance, "2026-10", cat.store_id)
        .await
        .unwrap();
    let lines = locked_fact_lines(&app).await;
    for f in &september_facts {
        let months: Vec<&String> = lines
            .iter()
            .filter(|(id, _)| *id == f.id)
            .map(|(_, m)| m)
            .collect();
        assert_eq!(months.len(), 1, "fact {} counted once: {months:?}", f.id);
    }
    // November carries nothing from September or October.
    let gql = app.login_staff("finance-demo").await;
    let november = gql.ok(&q, vars("2026-11")).await["commissionStatement"].clone();
    assert!(
        november["lines"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["kind"] != "ADJUSTMENT"),
        "{november}"
    );
}

/// A counter top-up of `amount_fen` in cash by `ba` for `member`.
async fn top_up(app: &TestApp, ba: &StaffPrincipal, member: i64, amount_fen: i64) {
    stored_value::record_counter_top_up(
        &app.state,
        ba,
        stored_value::CounterTopUp {
            member_id: member,
            plan_id: None,
            amount_fen: Some(amount_fen),
            tender: PaymentMethod::Cash,
        },
        &format!("top-up-{}", uuid::Uuid::new_v4().simple()),
    )
    .await
    .unwrap();
}

/// The lines of a statement with a TOP_UP item kind, as (kind, base, amount, label).
fn top_up_lines(statement: &Value) -> Vec<(String, i64, i64, String)> {
    statement["lines"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["itemKind"] == "TOP_UP")
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                fen(&l["baseFen"]),
                fen(&l["amountFen"]),
                l["ruleLabel"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn principal_paid_back_takes_the_top_up_commission_back_in_its_month(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    second_ba(&app, &cat, "ba-top-ups").await;
    let helper = fixtures::staff_principal(&app, "ba-top-ups").await;
    let ada: i64 = app.login_member("ada").await.1.parse().unwrap();
    let bea: i64 = app.login_member("bea").await.1.parse().unwrap();
    let mut plan = flat_plan(None, "2026-09", 7000, 3000, 500);
    plan["rules"] = json!([
        { "itemKind": "PRODUCT", "base": "NET_REVENUE", "method": "FLAT", "rateBp": 500 },
        { "itemKind": "TOP_UP", "base": "NET_REVENUE", "method": "FLAT", "rateBp": 300 },
    ]);
    upsert(&app.login_staff("hq-demo").await, plan).await;
    // September: ada tops up ¥1,000 with ba-demo, then ¥500 with the helper, and spends some.
    top_up(&app, &ba, ada, 100_000).await;
    clock.set(fixtures::shanghai_noon("2026-09-12"));
    top_up(&app, &helper, ada, 50_000).await;
    clock.set(fixtures::shanghai_noon("2026-09-15"));
    let spent = fixtures::counter_sale(
        &app,
        &ba,
        ada,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Balance,
    )
    .await
    .total_fen;
    assert!((1..50_000).contains(&spent), "{spent}");
    clock.set(fixtures::shanghai_noon("2026-10-02"));
    let store = cat.store_id.to_string();
    let finance = app.login_staff("finance-demo").await;
    finance
        .ok(LOCK, json!({ "m": "2026-09", "s": store }))
        .await;
    let q = statement_query();
    let vars = |staff: i64, month: &str| json!({ "s": staff.to_string(), "m": month });
    let mut september = Vec::new();
    for who in [ba.staff_id, helper.staff_id] {
        let s = finance.ok(&q, vars(who, "2026-09")).await["commissionStatement"].clone();
        assert_eq!(top_up_lines(&s).len(), 1, "{s}");
        september.push(s);
    }
    // October: bea tops up ¥200 with ba-demo and has it paid back days later; ada has the
    // principal she has left paid back.
    clock.set(fixtures::shanghai_noon("2026-10-03"));
    top_up(&app, &ba, bea, 20_000).await;
    let pay_back = "mutation($m: ID!, $k: String!) { returnMemberPrincipal(memberId: $m, idempotencyKey: $k) }";
    clock.set(fixtures::shanghai_noon("2026-10-05"));
    let manager = app.login_staff("manager-demo").await;
    let back = manager
        .ok(pay_back, json!({ "m": ada.to_string(), "k": "ada-back" }))
        .await;
    let ada_back = 150_000 - spent;
    assert_eq!(fen(&back["returnMemberPrincipal"]), ada_back);
    clock.set(fixtures::shanghai_noon("2026-10-06"));
    let manager = app.login_staff("manager-demo").await;
    manager
        .ok(pay_back, json!({ "m": bea.to_string(), "k": "bea-back" }))
        .await;
    // Asked again, nothing more is paid back or taken back.
    let body = manager
        .raw(pay_back, json!({ "m": ada.to_string(), "k": "ada-back" }))
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    let finance = app.login_staff("finance-demo").await;
    // The newest top-up (the helper's ¥500) is paid back whole, ba-demo's for the rest.
    let helper_october =
        finance.ok(&q, vars(helper.staff_id, "2026-10")).await["commissionStatement"].clone();
    assert_adds_up(&helper_october);
    let lines = top_up_lines(&helper_october);
    assert_eq!(lines.len(), 1, "{helper_october}");
    assert_eq!(
        (lines[0].0.as_str(), lines[0].1, lines[0].2),
        ("ADJUSTMENT", -50_000, -1_500)
    );
    assert!(
        lines[0].3.contains("已锁定月份 2026-09 的储值本金退还"),
        "{lines:?}"
    );
    let ba_october =
        finance.ok(&q, vars(ba.staff_id, "2026-10")).await["commissionStatement"].clone();
    assert_adds_up(&ba_october);
    let mut lines = top_up_lines(&ba_october);
    lines.sort();
    let taken = (100_000 - spent) * 3;
    let taken = (taken + 50) / 100;
    let kinds: Vec<(&str, i64, i64)> = lines
        .iter()
        .map(|(k, b, a, _)| (k.as_str(), *b, *a))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("ADJUSTMENT", -(100_000 - spent), -taken),
            ("CLAWBACK", -20_000, -600),
            ("EARNED", 20_000, 600),
        ],
        "{ba_october}"
    );
    assert!(lines[1].3.starts_with("储值本金退还追回"), "{lines:?}");
    assert_eq!(fen(&ba_october["totalFen"]), -taken);
    // September's locked statements did not move.
    for (who, before) in [ba.staff_id, helper.staff_id].into_iter().zip(&september) {
        let after = finance.ok(&q, vars(who, "2026-09")).await["commissionStatement"].clone();
        assert_eq!(&after, before);
    }
}

async fn plan_versions_are_listed_newest_first_to_those_who_may_read_them(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let sh = fixtures::staff_principal(&app, "ba-demo")
        .await
        .store_id
        .unwrap();
    let bj = fixtures::staff_principal(&app, "ba-bj-demo")
        .await
        .store_id
        .unwrap();
    let hq = app.login_staff("hq-demo").await;
    let brand = upsert(&hq, flat_plan(None, "2026-09", 7000, 3000, 500)).await;
    let here = upsert(&hq, flat_plan(Some(sh), "2026-10", 6000, 4000, 600)).await;
    let there = upsert(&hq, flat_plan(Some(bj), "2026-10", 5000, 5000, 700)).await;
    let list = "query($s: ID, $f: Int, $a: String) { commissionPlans(storeId: $s, first: $f, after: $a) {
      nodes { id storeId version effectiveFrom rules { itemKind rateBp } } pageInfo { hasNextPage endCursor } } }";
    let ids = |v: &Value| -> Vec<Value> {
        v["commissionPlans"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect()
    };
    let all = hq.ok(list, json!({})).await;
    assert_eq!(
        ids(&all),
        vec![there["id"].clone(), here["id"].clone(), brand["id"].clone()]
    );
    assert_eq!(
        all["commissionPlans"]["nodes"][1]["rules"][0]["rateBp"],
        600
    );
    // Page by page.
    let first = hq.ok(list, json!({ "f": 1 })).await;
    assert_eq!(ids(&first), vec![there["id"].clone()]);
    assert_eq!(first["commissionPlans"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["commissionPlans"]["pageInfo"]["endCursor"].clone();
    let rest = hq.ok(list, json!({ "a": cursor })).await;
    assert_eq!(ids(&rest), vec![here["id"].clone(), brand["id"].clone()]);
    // One store: its own and the brand's.
    let one = hq.ok(list, json!({ "s": bj.to_string() })).await;
    assert_eq!(ids(&one), vec![there["id"].clone(), brand["id"].clone()]);
    // The manager: her store's and the brand's; another store's are refused; a BA none.
    let manager = app.login_staff("manager-demo").await;
    let mine = manager.ok(list, json!({})).await;
    assert_eq!(ids(&mine), vec![here["id"].clone(), brand["id"].clone()]);
    assert_eq!(
        manager.err(list, json!({ "s": bj.to_string() })).await,
        "FORBIDDEN"
    );
    let finance = app.login_staff("finance-demo").await;
    assert_eq!(ids(&finance.ok(list, json!({})).await).len(), 3);
    let ba = app.login_staff("ba-demo").await;
    assert_eq!(ba.err(list, json!({})).await, "FORBIDDEN");
}

on_both_backends!(
    shares_that_do_not_add_up_are_refused_and_nothing_is_stored,
    seed_004s_formula_and_lines_that_add_up_to_the_total,
    a_refund_after_the_lock_is_an_adjustment_next_month_and_the_locked_statement_stays,
    who_may_read_whose_commission,
    two_locks_at_once_write_one_set_of_statements,
    locking_takes_the_same_queries_for_few_and_many_bas,
    a_sale_committed_after_its_month_was_locked_is_carried_once,
    principal_paid_back_takes_the_top_up_commission_back_in_its_month,
    plan_versions_are_listed_newest_first_to_those_who_may_read_them,
);
