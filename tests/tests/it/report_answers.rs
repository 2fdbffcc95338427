//! Report answers kept while the sales stay as they were (issue 17, dashboards): asked again,
//! a report reads one index and answers the same; a new sale shows at once; the same query
//! narrowed to another store gets its own answer; answers that read bookings or stock are read
//! each time. Over HTTP, a kept answer goes to its staff member only, follows new sales, and a
//! signed-out token is refused before anything kept is looked at.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use domain::inventory;
use domain::orders::PaymentMethod;
use domain::platform::clock::ManualClock;
use domain::reports::{self, Dimension, Metric, ReportQuery, ReportResult, ReturnsBasis};
use entities::location;
use rouge_tests::fixtures;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

fn query(metrics: Vec<Metric>, group_by: Vec<Dimension>) -> ReportQuery {
    ReportQuery {
        metrics,
        group_by,
        from: fixtures::date("2026-09-01"),
        to: fixtures::date("2026-09-30"),
        store_ids: None,
        compare: true,
        basis: ReturnsBasis::ReturnDate,
    }
}

fn net(r: &ReportResult) -> i64 {
    r.totals[0].fen.unwrap()
}

async fn a_report_asked_again_is_kept_until_the_next_sale(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::builder(backend)
        .clock(clock.clone())
        .count_queries(counter.clone())
        .start()
        .await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let bj_ba = fixtures::staff_principal(&app, "ba-bj-demo").await;
    let member: i64 = app.login_member("vera").await.1.parse().unwrap();
    let sale = |who| {
        let (app, cat) = (&app, &cat);
        async move {
            fixtures::counter_sale(app, who, member, &[(cat.serum_sku, 1)], PaymentMethod::Cash)
                .await
                .total_fen
        }
    };
    let first = sale(&ba).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let q = query(
        vec![Metric::NetRevenue, Metric::Orders, Metric::Members],
        vec![Dimension::Day, Dimension::Store],
    );
    let ask = |who| {
        let (app, q) = (&app, &q);
        async move { reports::sales_report(&app.state, who, q).await.unwrap() }
    };
    let read = ask(&hq).await;
    assert_eq!(net(&read), first);
    let before = counter.load(Ordering::SeqCst);
    let again = ask(&hq).await;
    assert_eq!(
        counter.load(Ordering::SeqCst) - before,
        1,
        "asked again: only the highest fact id is read"
    );
    assert_eq!(again, read);
    // A second sale shows at once; the same query narrowed to another store is its own answer.
    let second = sale(&ba).await;
    let before = counter.load(Ordering::SeqCst);
    let after_sale = ask(&hq).await;
    assert!(counter.load(Ordering::SeqCst) - before > 1, "read again");
    assert_eq!(net(&after_sale), first + second);
    let mut elsewhere = q.clone();
    elsewhere.store_ids = Some(vec![bj_ba.store_id.unwrap()]);
    let theirs = reports::sales_report(&app.state, &hq, &elsewhere)
        .await
        .unwrap();
    assert_eq!(net(&theirs), 0);
    let manager = fixtures::staff_principal(&app, "manager-demo").await;
    assert_eq!(net(&ask(&manager).await), first + second);
    assert_eq!(net(&ask(&hq).await), first + second);
    // Bookings are read as they are now: never kept.
    let bookings = query(vec![Metric::BookingsRedeemed], vec![Dimension::Store]);
    reports::sales_report(&app.state, &hq, &bookings)
        .await
        .unwrap();
    let before = counter.load(Ordering::SeqCst);
    reports::sales_report(&app.state, &hq, &bookings)
        .await
        .unwrap();
    assert!(
        counter.load(Ordering::SeqCst) - before > 1,
        "bookings read again"
    );
}

const REPORT: &str = "query($q: ReportQuery!) { salesReport(query: $q) { totals { metric fen } rows { keys { key } values { fen } } } }";

/// The net revenue total of a `salesReport` answer.
fn total(answer: &Value) -> i64 {
    answer["salesReport"]["totals"][0]["fen"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn kept_answers_go_to_their_staff_member_only_and_follow_new_sales(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let bj_ba = fixtures::staff_principal(&app, "ba-bj-demo").await;
    let bj_location = location::Entity::find()
        .filter(location::Column::StoreId.eq(bj_ba.store_id.unwrap()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    inventory::receive(
        &app.state,
        &cat.hq,
        inventory::Receipt {
            location_id: bj_location,
            sku_id: cat.serum_sku,
            lot: "LBJ".into(),
            manufactured_on: fixtures::date("2026-01-01"),
            expires_on: fixtures::date("2028-01-01"),
            quantity: 5,
        },
    )
    .await
    .unwrap();
    let member: i64 = app.login_member("wendy").await.1.parse().unwrap();
    let sell = |who| {
        let (app, cat) = (&app, &cat);
        async move {
            fixtures::counter_sale(app, who, member, &[(cat.serum_sku, 1)], PaymentMethod::Cash)
                .await
                .total_fen
        }
    };
    let here = sell(&ba).await;
    let there = sell(&bj_ba).await;
    // The same request body from HQ and from the first store's manager.
    let vars = json!({ "q": { "metrics": ["NET_REVENUE"], "groupBy": ["STORE"],
        "from": "2026-09-01", "to": "2026-09-30" } });
    let hq = app.login_staff("hq-demo").await;
    let manager = app.login_staff("manager-demo").await;
    assert_eq!(total(&hq.ok(REPORT, vars.clone()).await), here + there);
    let kept = hq.ok(REPORT, vars.clone()).await;
    assert_eq!(total(&kept), here + there);
    assert_eq!(
        total(&manager.ok(REPORT, vars.clone()).await),
        here,
        "the manager gets her store's answer, never HQ's kept one"
    );
    // A new sale shows at once to both.
    let more = sell(&ba).await;
    assert_eq!(
        total(&hq.ok(REPORT, vars.clone()).await),
        here + there + more
    );
    assert_eq!(total(&manager.ok(REPORT, vars.clone()).await), here + more);
    // A signed-out token is refused even though its answer is kept.
    hq.ok("mutation { logout }", json!({})).await;
    assert_eq!(hq.err(REPORT, vars).await, "UNAUTHENTICATED");
}

on_both_backends!(
    a_report_asked_again_is_kept_until_the_next_sale,
    kept_answers_go_to_their_staff_member_only_and_follow_new_sales,
);
