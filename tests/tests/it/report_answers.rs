//! Report answers kept while the sales stay as they were (issue 17, dashboards): asked again,
//! a report reads one index and answers the same; a new sale shows at once; the same query
//! narrowed to another store gets its own answer; answers that read bookings or stock are read each time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use domain::orders::PaymentMethod;
use domain::platform::clock::ManualClock;
use domain::reports::{self, Dimension, Metric, ReportQuery, ReportResult, ReturnsBasis};
use rouge_tests::fixtures;
use rouge_tests::{Backend, TestApp, on_both_backends};

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

on_both_backends!(a_report_asked_again_is_kept_until_the_next_sale);
