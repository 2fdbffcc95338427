//! Report metrics read beside the sales facts (issue 17): bookings redeemed count on the
//! store's business day of the redemption for the BA who redeemed them, grouped by time, store
//! and BA only, and a BA's month shows them with her repurchase rate.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::booking::BookingStatus;
use domain::orders::PaymentMethod;
use domain::platform::clock::ManualClock;
use entities::{booking, booking_service};
use rouge_tests::fixtures;
use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

const REPORT: &str = "query($q: ReportQuery!) { salesReport(query: $q) {
  servedFrom rows { keys { dimension key } values { metric number } }
  totals { metric number } definitions { metric unit additive } } }";

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// A booking of the demo skin test at `store` with `ba`, in `status`, redeemed at `at`.
async fn booking_at(
    app: &TestApp,
    store: i64,
    ba: i64,
    redeemed: Option<(DateTime<Utc>, Option<i64>)>,
) {
    let service = booking_service::Entity::find()
        .filter(booking_service::Column::Code.eq("SKIN-TEST"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let member: i64 = app
        .login_member(&format!("b{}", uuid::Uuid::new_v4().simple()))
        .await
        .1
        .parse()
        .unwrap();
    let starts_at = redeemed.map_or_else(|| utc(2026, 10, 1, 2, 0), |(at, _)| at);
    booking::ActiveModel {
        member_id: Set(member),
        store_id: Set(store),
        service_id: Set(service.id),
        ba_id: Set(ba),
        starts_at: Set(starts_at - Duration::minutes(30)),
        ends_at: Set(starts_at),
        holds_until: Set(starts_at + Duration::minutes(10)),
        status: Set(if redeemed.is_some() {
            BookingStatus::Redeemed
        } else {
            BookingStatus::Booked
        }),
        price_fen: Set(0),
        idempotency_key: Set(uuid::Uuid::new_v4().to_string()),
        request_hash: Set("x".into()),
        checked_in_at: Set(redeemed.map(|r| r.0)),
        checked_in_by: Set(redeemed.and_then(|r| r.1)),
        redeemed_at: Set(redeemed.map(|r| r.0)),
        redeemed_by: Set(redeemed.and_then(|r| r.1)),
        products_used: Set(None),
        notes: Set(None),
        cancelled_at: Set(None),
        reminder_sent_at: Set(None),
        reminder_outcome: Set(None),
        created_at: Set(starts_at - Duration::days(1)),
        updated_at: Set(starts_at),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
}

/// The BOOKINGS_REDEEMED figure of each row, keyed by its keys joined with '/'.
async fn bookings_by(
    gql: &Gql,
    group_by: &[&str],
    from: &str,
    to: &str,
) -> (Vec<(String, f64)>, Value) {
    let q = json!({ "metrics": ["BOOKINGS_REDEEMED", "NET_REVENUE"], "groupBy": group_by, "from": from, "to": to });
    let r = gql.ok(REPORT, json!({ "q": q })).await["salesReport"].clone();
    let rows = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let keys: Vec<&str> = row["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["key"].as_str().unwrap())
                .collect();
            (keys.join("/"), row["values"][0]["number"].as_f64().unwrap())
        })
        .collect();
    (rows, r)
}

async fn bookings_redeemed_count_on_the_stores_day_for_the_ba_who_redeemed(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-10-02")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let bj_ba = fixtures::staff_principal(&app, "ba-bj-demo").await;
    let (sh, bj) = (ba.store_id.unwrap(), bj_ba.store_id.unwrap());
    // 23:30 on 30 September in Shanghai, then half past midnight: two business days.
    booking_at(
        &app,
        sh,
        ba.staff_id,
        Some((utc(2026, 9, 30, 15, 30), Some(ba.staff_id))),
    )
    .await;
    booking_at(
        &app,
        sh,
        ba.staff_id,
        Some((utc(2026, 9, 30, 16, 30), Some(ba.staff_id))),
    )
    .await;
    // No redeeming BA recorded: the booked BA's.
    booking_at(&app, sh, ba.staff_id, Some((utc(2026, 10, 1, 4, 0), None))).await;
    booking_at(
        &app,
        bj,
        bj_ba.staff_id,
        Some((utc(2026, 10, 1, 4, 0), Some(bj_ba.staff_id))),
    )
    .await;
    // Booked, not redeemed: not counted.
    booking_at(&app, sh, ba.staff_id, None).await;

    let hq = app.login_staff("hq-demo").await;
    let (rows, r) = bookings_by(&hq, &["DAY", "STORE"], "2026-09-30", "2026-10-01").await;
    assert_eq!(
        r["servedFrom"], "BA_ROLLUP",
        "bookings do not push the sales to the facts"
    );
    let count = |rows: &[(String, f64)], key: &str| {
        rows.iter()
            .find(|(k, _)| k == key)
            .map(|(_, n)| *n)
            .unwrap_or_else(|| panic!("no row {key}: {rows:?}"))
    };
    assert_eq!(count(&rows, &format!("2026-09-30/{sh}")), 1.0);
    assert_eq!(count(&rows, &format!("2026-10-01/{sh}")), 2.0);
    assert_eq!(count(&rows, &format!("2026-10-01/{bj}")), 1.0);
    assert_eq!(r["totals"][0]["number"], 4.0);
    let sum: f64 = rows.iter().map(|(_, n)| n).sum();
    assert_eq!(sum, 4.0, "buckets add up to the total");
    let definition = &r["definitions"][0];
    assert_eq!(
        (
            definition["metric"].as_str(),
            definition["unit"].as_str(),
            definition["additive"].as_bool()
        ),
        (Some("BOOKINGS_REDEEMED"), Some("COUNT"), Some(true))
    );
    let (rows, _) = bookings_by(&hq, &["BA"], "2026-09-30", "2026-10-01").await;
    assert_eq!(count(&rows, &ba.staff_id.to_string()), 3.0);
    assert_eq!(count(&rows, &bj_ba.staff_id.to_string()), 1.0);
    let (rows, _) = bookings_by(&hq, &["MONTH"], "2026-09-01", "2026-10-31").await;
    assert_eq!(
        rows,
        vec![("2026-09".to_owned(), 1.0), ("2026-10".to_owned(), 3.0)]
    );
    // Bookings have no SKU or channel.
    for dim in ["SKU", "CHANNEL"] {
        let q = json!({ "metrics": ["BOOKINGS_REDEEMED"], "groupBy": [dim], "from": "2026-09-30", "to": "2026-10-01" });
        assert_eq!(
            hq.err(REPORT, json!({ "q": q })).await,
            "BAD_USER_INPUT",
            "{dim}"
        );
    }
    // A manager sees her store's.
    let manager = app.login_staff("manager-demo").await;
    let (_, r) = bookings_by(&manager, &[], "2026-09-30", "2026-10-01").await;
    assert_eq!(r["totals"][0]["number"], 3.0);

    // Her month: two members in October, one of whom came back; bookings she redeemed.
    let (a, b): (i64, i64) = (
        app.login_member("nadia").await.1.parse().unwrap(),
        app.login_member("oona").await.1.parse().unwrap(),
    );
    for member in [a, a, b] {
        fixtures::counter_sale(
            &app,
            &ba,
            member,
            &[(cat.serum_sku, 1)],
            PaymentMethod::Cash,
        )
        .await;
    }
    domain::sales::recompute_dirty_days(&app.state, 100)
        .await
        .unwrap();
    let perf = "query($m: String!) { myPerformance(month: $m) { orders members repurchaseRatePct bookingsRedeemed } }";
    let me = app.login_staff("ba-demo").await;
    let october = me.ok(perf, json!({ "m": "2026-10" })).await["myPerformance"].clone();
    assert_eq!(
        october,
        json!({ "orders": 3, "members": 2, "repurchaseRatePct": 50.0, "bookingsRedeemed": 2 })
    );
    let september = me.ok(perf, json!({ "m": "2026-09" })).await["myPerformance"].clone();
    assert_eq!(
        september,
        json!({ "orders": 0, "members": 0, "repurchaseRatePct": null, "bookingsRedeemed": 1 })
    );
}

on_both_backends!(bookings_redeemed_count_on_the_stores_day_for_the_ba_who_redeemed);
