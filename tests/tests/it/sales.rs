//! Sales facts, rollups and reports (issue 17): one fact per line however often WeChat tells
//! us, the cost at sale kept, business days in Asia/Shanghai, refunds on their own day (or the
//! sale's), every bucket present, a fact racing its day's recompute counted once, rollups =
//! facts = payments − refunds, and who may read what.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use domain::orders::{self, PaymentMethod};
use domain::payments::{self, NotifyOutcome};
use domain::platform::clock::ManualClock;
use domain::{catalog, sales};
use entities::sales_fact::{self, SalesEvent};
use entities::{order, sales_dirty_day, sales_rollup_ba_day, sales_rollup_sku_day};
use rouge_tests::fixtures::{self, Catalog};
use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use wechat_integration::NotificationHeaders;

const REPORT: &str = "query($q: ReportQuery!) { salesReport(query: $q) {
  dimensions metrics returnsBasis
  rows { keys { dimension key label } values { metric fen number } }
  totals { metric fen number }
  previousTotals { metric fen number }
  change { metric number }
  definitions { metric unit additive text } } }";

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
}

async fn member_id(app: &TestApp, name: &str) -> i64 {
    app.login_member(name).await.1.parse().unwrap()
}

async fn facts_of(app: &TestApp, order_id: i64) -> Vec<sales_fact::Model> {
    sales_fact::Entity::find()
        .filter(sales_fact::Column::OrderId.eq(order_id))
        .all(app.db())
        .await
        .unwrap()
}

fn fen(v: &Value) -> Option<i64> {
    v["fen"].as_str().map(|s| s.parse().unwrap())
}

/// The value of `metric` in a list of values.
fn value<'a>(values: &'a Value, metric: &str) -> &'a Value {
    values
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} in {values}"))
}

fn money(values: &Value, metric: &str) -> i64 {
    fen(value(values, metric)).unwrap_or_else(|| panic!("{metric} has no fen: {values}"))
}

fn number(values: &Value, metric: &str) -> f64 {
    value(values, metric)["number"].as_f64().unwrap()
}

async fn report(gql: &Gql, q: Value) -> Value {
    gql.ok(REPORT, json!({ "q": q })).await["salesReport"].clone()
}

/// A signed TRANSACTION.SUCCESS notification (a fresh notification id each call).
fn payment(
    app: &TestApp,
    out_trade_no: &str,
    transaction_id: &str,
    amount_fen: i64,
) -> (NotificationHeaders, Vec<u8>) {
    let at = Utc::now();
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

async fn a_payment_told_fifteen_times_and_five_at_once_writes_one_fact_per_line(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 20).await;
    let (me, _) = app.login_member("fiona").await;
    let input = json!({ "lines": [
        { "skuId": cat.serum_sku.to_string(), "quantity": 2 },
        { "skuId": cat.cream_sku.to_string(), "quantity": 1 } ],
        "pickupStoreId": cat.store_id.to_string() });
    let placed = me
        .ok(
            "mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id orderNo totalFen } }",
            json!({ "i": input, "k": key() }),
        )
        .await["placeOrder"]
        .clone();
    let order_id: i64 = placed["id"].as_str().unwrap().parse().unwrap();
    let order_no = placed["orderNo"].as_str().unwrap();
    let total = placed["totalFen"].as_i64().unwrap();
    let (headers, body) = payment(&app, order_no, "4200000000000000000171", total);
    let mut applied = 0;
    for _ in 0..15 {
        if payments::handle_notification(&app.state, &headers, &body)
            .await
            .unwrap()
            == NotifyOutcome::Applied
        {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    // Five more notifications of the same payment (new ids), at once.
    let more: Vec<_> = (0..5)
        .map(|_| payment(&app, order_no, "4200000000000000000171", total))
        .collect();
    let outcomes = futures::future::join_all(
        more.iter()
            .map(|(h, b)| payments::handle_notification(&app.state, h, b)),
    )
    .await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let facts = facts_of(&app, order_id).await;
    assert_eq!(facts.len(), 2, "one fact per line: {facts:?}");
    assert!(facts.iter().all(|f| f.event == SalesEvent::Sale));
    assert_eq!(facts.iter().map(|f| f.net_fen).sum::<i64>(), total);
    assert_eq!(facts.iter().map(|f| f.quantity).sum::<i32>(), 3);
    assert_eq!(
        facts.iter().map(|f| f.cost_fen).sum::<i64>(),
        2 * 7_475 + 4_975,
        "cost at sale"
    );
    assert!(facts.iter().all(|f| f.store_id == Some(cat.store_id)));
    assert_eq!(
        sales_dirty_day::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        1,
        "the day is marked for its rollups"
    );
}

async fn a_skus_later_cost_leaves_the_margin_of_earlier_sales_alone(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let hq = app.login_staff("hq-demo").await;
    let member = member_id(&app, "gina").await;
    let sale = fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let q = json!({ "metrics": ["NET_REVENUE", "MARGIN", "MARGIN_PCT", "UNITS"],
        "from": "2026-09-10", "to": "2026-09-10" });
    let before = report(&hq, q.clone()).await;
    assert_eq!(money(&before["totals"], "MARGIN"), sale.total_fen - 7_475);
    catalog::update_sku(
        &app.state,
        &cat.hq,
        cat.serum_sku,
        catalog::SkuChanges {
            cost_fen: Some(20_000),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let after = report(&hq, q.clone()).await;
    assert_eq!(after["totals"], before["totals"], "history keeps its cost");
    // A sale after the change carries the new cost.
    let second = fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let now = report(&hq, q).await;
    assert_eq!(
        money(&now["totals"], "MARGIN"),
        sale.total_fen - 7_475 + second.total_fen - 20_000
    );
}

async fn half_past_eleven_on_30_september_in_shanghai_is_september(backend: Backend) {
    let at = Utc.with_ymd_and_hms(2026, 9, 30, 15, 30, 0).unwrap();
    let clock = Arc::new(ManualClock::new(at));
    let app = TestApp::builder(backend).clock(clock).start().await;
    let cat = fixtures::catalog(&app, 5).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let hq = app.login_staff("hq-demo").await;
    let member = member_id(&app, "hana").await;
    let sale = fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.cream_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let facts = facts_of(&app, sale.id).await;
    assert_eq!(facts[0].business_date, fixtures::date("2026-09-30"));
    assert_eq!(facts[0].occurred_at, at);
    let r = report(
        &hq,
        json!({ "metrics": ["UNITS", "NET_REVENUE"], "groupBy": ["MONTH"],
            "from": "2026-09-01", "to": "2026-10-31" }),
    )
    .await;
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "both months present: {rows:?}");
    assert_eq!(rows[0]["keys"][0]["key"], "2026-09");
    assert_eq!(number(&rows[0]["values"], "UNITS"), 1.0);
    assert_eq!(money(&rows[0]["values"], "NET_REVENUE"), sale.total_fen);
    assert_eq!(rows[1]["keys"][0]["key"], "2026-10");
    assert_eq!(number(&rows[1]["values"], "UNITS"), 0.0);
}

async fn a_refund_counts_on_its_own_day_or_on_the_sales(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let manager = fixtures::staff_principal(&app, "manager-demo").await;
    let member = member_id(&app, "iris").await;
    // A sale and its full refund in September: nothing sold in September.
    let first = fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1), (cat.cream_sku, 2)],
        PaymentMethod::Cash,
    )
    .await;
    payments::refund_order(&app.state, &manager, first.id, None, None)
        .await
        .unwrap();
    // Sessions last less than the weeks this test moves the clock: HQ signs in for each look.
    let month = |basis: &str| {
        json!({ "metrics": ["NET_REVENUE", "MARGIN", "UNITS", "ORDERS", "NEW_MEMBERS"], "groupBy": ["MONTH"],
            "from": "2026-09-01", "to": "2026-10-31", "returnsBasis": basis })
    };
    let r = report(&app.login_staff("hq-demo").await, month("RETURN_DATE")).await;
    let sep = &r["rows"][0]["values"];
    assert_eq!(money(sep, "NET_REVENUE"), 0);
    assert_eq!(money(sep, "MARGIN"), 0);
    assert_eq!(number(sep, "UNITS"), 0.0);
    assert_eq!(number(sep, "ORDERS"), 1.0, "the order was made");
    assert_eq!(
        number(sep, "NEW_MEMBERS"),
        1.0,
        "her first purchase, refunded or not"
    );
    // A sale on the 20th refunded in October.
    clock.set(fixtures::shanghai_noon("2026-09-20"));
    let second = fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let margin = second.total_fen - 7_475;
    let september =
        report(&app.login_staff("hq-demo").await, month("RETURN_DATE")).await["rows"][0].clone();
    clock.set(fixtures::shanghai_noon("2026-10-05"));
    payments::refund_order(&app.state, &manager, second.id, None, None)
        .await
        .unwrap();
    let r = report(&app.login_staff("hq-demo").await, month("RETURN_DATE")).await;
    assert_eq!(r["rows"][0], september, "September stays as it was");
    let (sep, oct) = (&r["rows"][0]["values"], &r["rows"][1]["values"]);
    assert_eq!(money(sep, "NET_REVENUE"), second.total_fen);
    assert_eq!(money(sep, "MARGIN"), margin);
    assert_eq!(money(oct, "NET_REVENUE"), -second.total_fen);
    assert_eq!(money(oct, "MARGIN"), -margin);
    assert_eq!(number(oct, "UNITS"), -1.0);
    assert_eq!(
        number(sep, "NEW_MEMBERS"),
        1.0,
        "new once, on her first day"
    );
    assert_eq!(number(oct, "NEW_MEMBERS"), 0.0);
    assert_eq!(money(&r["totals"], "NET_REVENUE"), 0);
    let r = report(&app.login_staff("hq-demo").await, month("SALE_DATE")).await;
    assert_eq!(r["returnsBasis"], "SALE_DATE");
    let (sep, oct) = (&r["rows"][0]["values"], &r["rows"][1]["values"]);
    assert_eq!(money(sep, "NET_REVENUE"), 0, "netted in the sale's month");
    assert_eq!(money(sep, "MARGIN"), 0);
    assert_eq!(number(sep, "UNITS"), 0.0);
    assert_eq!(money(oct, "NET_REVENUE"), 0);
    let refunds: Vec<sales_fact::Model> = facts_of(&app, second.id)
        .await
        .into_iter()
        .filter(|f| f.event == SalesEvent::Refund)
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].business_date, fixtures::date("2026-10-05"));
    assert_eq!(refunds[0].sale_date, fixtures::date("2026-09-20"));
}

/// A small seeded generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Sales on some days of September and October, a refund among them.
async fn with_sales_over_two_months(app: &TestApp, clock: &ManualClock, cat: &Catalog) {
    let ba = fixtures::staff_principal(app, "ba-demo").await;
    let manager = fixtures::staff_principal(app, "manager-demo").await;
    let member = member_id(app, "jade").await;
    let other = member_id(app, "kate").await;
    for (i, day) in [
        "2026-09-01",
        "2026-09-07",
        "2026-09-30",
        "2026-10-01",
        "2026-10-19",
    ]
    .iter()
    .enumerate()
    {
        clock.set(fixtures::shanghai_noon(day));
        let who = if i % 2 == 0 { member } else { other };
        let sale = fixtures::counter_sale(
            app,
            &ba,
            who,
            &[(cat.serum_sku, 1), (cat.cream_sku, 1)],
            PaymentMethod::Cash,
        )
        .await;
        if i == 3 {
            clock.set(fixtures::shanghai_noon("2026-10-12"));
            payments::refund_order(
                &app.state,
                &manager,
                sale.id,
                Some(vec![orders::RefundLine {
                    line_id: sale.lines[0].id,
                    quantity: 1,
                }]),
                None,
            )
            .await
            .unwrap();
        }
    }
}

async fn every_bucket_is_there_and_buckets_add_up_to_the_total(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-01")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 50).await;
    with_sales_over_two_months(&app, &clock, &cat).await;
    let hq = app.login_staff("hq-demo").await;
    let start = fixtures::date("2026-08-20");
    let mut rng = Rng(0x5eed_0017);
    for round in 0..6 {
        let from = start + Duration::days(i64::try_from(rng.below(40)).unwrap());
        let to = from + Duration::days(i64::try_from(rng.below(60)).unwrap());
        let grain = ["DAY", "WEEK", "MONTH"][usize::try_from(rng.below(3)).unwrap()];
        let extra: Vec<&str> = if round % 2 == 0 {
            vec!["CHANNEL"]
        } else {
            vec![]
        };
        let mut group = vec![grain];
        group.extend(extra.iter());
        let metrics = ["NET_REVENUE", "MARGIN", "UNITS", "COUPON_DISCOUNT"];
        let q = |g: &[&str]| json!({ "metrics": metrics, "groupBy": g, "from": from.to_string(), "to": to.to_string() });
        let grouped = report(&hq, q(&group)).await;
        let daily = report(&hq, q(&["DAY"])).await;
        let days = (to - from).num_days() + 1;
        assert_eq!(
            daily["rows"].as_array().unwrap().len(),
            usize::try_from(days).unwrap(),
            "every day of {from}..{to}"
        );
        for m in ["NET_REVENUE", "MARGIN", "COUPON_DISCOUNT"] {
            let sum = |r: &Value| -> i64 {
                r["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|row| money(&row["values"], m))
                    .sum()
            };
            assert_eq!(
                sum(&grouped),
                money(&grouped["totals"], m),
                "{grain} {m} {from}..{to}"
            );
            assert_eq!(
                sum(&daily),
                money(&grouped["totals"], m),
                "daily {m} {from}..{to}"
            );
        }
        let units: f64 = grouped["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| number(&row["values"], "UNITS"))
            .sum();
        assert_eq!(units, number(&grouped["totals"], "UNITS"));
        // Time buckets come oldest first.
        let keys: Vec<String> = grouped["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["keys"][0]["key"].as_str().unwrap().to_owned())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
    // The whole range: everything sold minus the refund.
    let all = report(
        &hq,
        json!({ "metrics": ["UNITS", "MEMBERS"], "groupBy": ["MONTH"], "from": "2026-09-01", "to": "2026-10-31",
            "compare": true }),
    )
    .await;
    assert_eq!(number(&all["totals"], "UNITS"), 9.0);
    assert_eq!(
        number(&all["totals"], "MEMBERS"),
        2.0,
        "distinct over the range"
    );
    let by_month: f64 = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| number(&r["values"], "MEMBERS"))
        .sum();
    assert_eq!(by_month, 4.0, "distinct members are not additive");
    assert!(
        value(&all["change"], "UNITS")["number"].is_null(),
        "no change on a zero base"
    );
    assert_eq!(all["definitions"].as_array().unwrap().len(), 2);
    assert_eq!(value(&all["definitions"], "MEMBERS")["additive"], false);
}

async fn a_fact_committed_during_its_days_recompute_is_counted_once(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let member = member_id(&app, "lena").await;
    let day = fixtures::date("2026-09-10");
    let first = fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let racing = std::sync::Mutex::new(None);
    let cleared = sales::recompute_day_with(&app.state, day, || async {
        // The recompute has read the facts; this sale commits before it writes.
        let sale = fixtures::counter_sale(
            &app,
            &ba,
            member,
            &[(cat.cream_sku, 1)],
            PaymentMethod::Cash,
        )
        .await;
        *racing.lock().unwrap() = Some(sale);
    })
    .await
    .unwrap();
    let second = racing.lock().unwrap().take().unwrap();
    assert!(
        !cleared,
        "a fact came during the recompute: the day stays dirty"
    );
    let rolled = |app: &TestApp| {
        let db = app.db().clone();
        async move {
            let rows = sales_rollup_ba_day::Entity::find()
                .filter(sales_rollup_ba_day::Column::BusinessDate.eq(day))
                .all(&db)
                .await
                .unwrap();
            (
                rows.iter().map(|r| r.net_fen).sum::<i64>(),
                rows.iter().map(|r| r.orders).sum::<i64>(),
            )
        }
    };
    assert_eq!(rolled(&app).await, (first.total_fen, 1));
    assert_eq!(
        sales::recompute_dirty_days(&app.state, 10).await.unwrap(),
        1
    );
    let both = (first.total_fen + second.total_fen, 2);
    assert_eq!(rolled(&app).await, both, "counted once");
    assert_eq!(
        sales_dirty_day::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        sales::recompute_dirty_days(&app.state, 10).await.unwrap(),
        0
    );
    sales::recompute_day(&app.state, day).await.unwrap();
    assert_eq!(rolled(&app).await, both, "a recompute replaces, never adds");
}

async fn rollups_facts_and_money_reconcile(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-01")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 400).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let manager = fixtures::staff_principal(&app, "manager-demo").await;
    let members = [member_id(&app, "mia").await, member_id(&app, "nora").await];
    let mut rng = Rng(0x0017_c0de);
    let mut sold: Vec<orders::Order> = Vec::new();
    for step in 0..30 {
        clock.set(
            fixtures::shanghai_noon("2026-09-01")
                + Duration::hours(i64::try_from(rng.below(24 * 20)).unwrap()),
        );
        if step > 3 && rng.below(3) == 0 {
            let o = &sold[usize::try_from(rng.below(sold.len() as u64)).unwrap()];
            let line = &o.lines[usize::try_from(rng.below(o.lines.len() as u64)).unwrap()];
            // Part of a line, or the rest of the order; refused when nothing is left.
            let lines = (rng.below(2) == 0).then(|| {
                vec![orders::RefundLine {
                    line_id: line.id,
                    quantity: 1,
                }]
            });
            let _ = payments::refund_order(&app.state, &manager, o.id, lines, None).await;
        } else {
            let who = members[usize::try_from(rng.below(2)).unwrap()];
            let mut lines = vec![(cat.serum_sku, i32::try_from(1 + rng.below(3)).unwrap())];
            if rng.below(2) == 0 {
                lines.push((cat.cream_sku, i32::try_from(1 + rng.below(4)).unwrap()));
            }
            sold.push(fixtures::counter_sale(&app, &ba, who, &lines, PaymentMethod::Cash).await);
        }
    }
    sales::recompute_dirty_days(&app.state, 100).await.unwrap();
    let orders = order::Entity::find().all(app.db()).await.unwrap();
    let money_in: i64 = orders.iter().map(|o| o.total_fen - o.refunded_fen).sum();
    let facts = sales_fact::Entity::find().all(app.db()).await.unwrap();
    let facts_net: i64 = facts.iter().map(|f| f.net_fen).sum();
    let ba_rows = sales_rollup_ba_day::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    let sku_rows = sales_rollup_sku_day::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert!(
        facts.iter().any(|f| f.event == SalesEvent::Refund),
        "some refunds"
    );
    assert_eq!(facts_net, money_in, "facts = payments − refunds");
    assert_eq!(ba_rows.iter().map(|r| r.net_fen).sum::<i64>(), facts_net);
    assert_eq!(sku_rows.iter().map(|r| r.net_fen).sum::<i64>(), facts_net);
    let units: i64 = facts.iter().map(|f| i64::from(f.quantity)).sum();
    assert_eq!(ba_rows.iter().map(|r| r.units).sum::<i64>(), units);
    assert_eq!(sku_rows.iter().map(|r| r.units).sum::<i64>(), units);
    let cost: i64 = facts.iter().map(|f| f.cost_fen).sum();
    assert_eq!(sku_rows.iter().map(|r| r.cost_fen).sum::<i64>(), cost);
    let hq = app.login_staff("hq-demo").await;
    let r = report(
        &hq,
        json!({ "metrics": ["NET_REVENUE"], "from": "2026-08-01", "to": "2026-10-31" }),
    )
    .await;
    assert_eq!(money(&r["totals"], "NET_REVENUE"), money_in);
}

async fn reports_are_scoped_by_role(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba_p = fixtures::staff_principal(&app, "ba-demo").await;
    let member = member_id(&app, "olga").await;
    let sale = fixtures::counter_sale(
        &app,
        &ba_p,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    sales::recompute_dirty_days(&app.state, 10).await.unwrap();
    let other_store = fixtures::staff_principal(&app, "ba-bj-demo")
        .await
        .store_id
        .unwrap();
    let q =
        json!({ "metrics": ["NET_REVENUE", "MEMBERS"], "from": "2026-09-01", "to": "2026-09-30" });
    let ba = app.login_staff("ba-demo").await;
    assert_eq!(ba.err(REPORT, json!({ "q": q })).await, "FORBIDDEN");
    let manager = app.login_staff("manager-demo").await;
    let mut other = q.clone();
    other["storeIds"] = json!([other_store.to_string()]);
    assert_eq!(
        manager.err(REPORT, json!({ "q": other })).await,
        "FORBIDDEN"
    );
    let own = report(&manager, q.clone()).await;
    assert_eq!(money(&own["totals"], "NET_REVENUE"), sale.total_fen);
    let finance = app.login_staff("finance-demo").await;
    assert_eq!(finance.err(REPORT, json!({ "q": q })).await, "FORBIDDEN");
    let money_only = json!({ "metrics": ["NET_REVENUE", "MARGIN"], "groupBy": ["STORE"],
        "from": "2026-09-01", "to": "2026-09-30" });
    let f = report(&finance, money_only).await;
    assert_eq!(money(&f["totals"], "NET_REVENUE"), sale.total_fen);
    // Too many dimensions is bad input.
    let wide = json!({ "metrics": ["UNITS"], "groupBy": ["DAY", "STORE", "SKU", "CHANNEL"],
        "from": "2026-09-01", "to": "2026-09-30" });
    let hq = app.login_staff("hq-demo").await;
    assert_eq!(hq.err(REPORT, json!({ "q": wide })).await, "BAD_USER_INPUT");
    // Performance: a BA her own; a manager her store; targets by the manager for her BAs only.
    let perf = "query($m: String!) { myPerformance(month: $m) { staffId netRevenueFen orders members targetFen attainmentPct } }";
    let mine = ba.ok(perf, json!({ "m": "2026-09" })).await["myPerformance"].clone();
    assert_eq!(mine["netRevenueFen"], sale.total_fen.to_string());
    assert_eq!(mine["orders"], 1);
    assert_eq!(mine["members"], 1);
    assert!(mine["targetFen"].is_null());
    let store_perf = "query($s: ID!, $m: String!) { storePerformance(storeId: $s, month: $m) { staffId netRevenueFen } }";
    assert_eq!(
        ba.err(
            store_perf,
            json!({ "s": cat.store_id.to_string(), "m": "2026-09" })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        manager
            .err(
                store_perf,
                json!({ "s": other_store.to_string(), "m": "2026-09" })
            )
            .await,
        "FORBIDDEN"
    );
    let team = manager
        .ok(
            store_perf,
            json!({ "s": cat.store_id.to_string(), "m": "2026-09" }),
        )
        .await["storePerformance"]
        .clone();
    assert!(
        team.as_array()
            .unwrap()
            .iter()
            .any(|p| p["staffId"] == mine["staffId"])
    );
    let target = "mutation($b: ID!, $m: String!, $t: Fen!) { setBaTarget(baId: $b, month: $m, targetFen: $t) { targetFen attainmentPct } }";
    let bj_ba = fixtures::staff_principal(&app, "ba-bj-demo").await.staff_id;
    assert_eq!(
        manager
            .err(
                target,
                json!({ "b": bj_ba.to_string(), "m": "2026-09", "t": "100000" })
            )
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        ba.err(
            target,
            json!({ "b": ba_p.staff_id.to_string(), "m": "2026-09", "t": "100000" })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        manager
            .err(
                target,
                json!({ "b": ba_p.staff_id.to_string(), "m": "2026-9", "t": "100000" })
            )
            .await,
        "BAD_USER_INPUT"
    );
    manager
        .ok(
            target,
            json!({ "b": ba_p.staff_id.to_string(), "m": "2026-09", "t": "100000" }),
        )
        .await;
    let mine = ba.ok(perf, json!({ "m": "2026-09" })).await["myPerformance"].clone();
    assert_eq!(mine["targetFen"], "100000");
    let pct = mine["attainmentPct"].as_f64().unwrap();
    #[allow(clippy::cast_precision_loss)]
    let expected = sale.total_fen as f64 * 100.0 / 100_000.0;
    assert!((pct - expected).abs() < 1e-9);
    let _ = NaiveDate::MIN;
}

on_both_backends!(
    a_payment_told_fifteen_times_and_five_at_once_writes_one_fact_per_line,
    a_skus_later_cost_leaves_the_margin_of_earlier_sales_alone,
    half_past_eleven_on_30_september_in_shanghai_is_september,
    a_refund_counts_on_its_own_day_or_on_the_sales,
    every_bucket_is_there_and_buckets_add_up_to_the_total,
    a_fact_committed_during_its_days_recompute_is_counted_once,
    rollups_facts_and_money_reconcile,
    reports_are_scoped_by_role,
);
