//! Inventory turnover (issue 17): the nightly snapshot values each location's stock at the cost
//! of the day (once a day however often it runs); turnover days = average stock value ÷ COGS
//! per day; expiry losses count only units written off on or after their batch's expiry, at
//! the snapshot's cost; HQ any location, a manager her store's, a BA none; the same turnover
//! as the TURNOVER_DAYS report metric, by store and by day.

use std::sync::Arc;

use domain::inventory;
use domain::orders::PaymentMethod;
use domain::platform::clock::ManualClock;
use domain::reports;
use entities::{location, stock_batch};
use rouge_tests::fixtures;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const REPORT: &str = "query($q: ReportQuery!) { salesReport(query: $q) {
  rows { keys { key } values { metric number } } } }";
const TURNOVER: &str = "query($l: ID!, $f: Date!, $t: Date!) { inventoryTurnover(locationId: $l, from: $f, to: $t) {
  locationId snapshotDays averageStockValueFen cogsFen turnoverDays expiryLossUnits expiryLossFen definition } }";

async fn stock_value_turnover_days_and_expiry_losses(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-01")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let (serum_cost, cream_cost) = (29_900 / 4, 19_900 / 4);
    let expiring = inventory::receive(
        &app.state,
        &cat.hq,
        inventory::Receipt {
            location_id: cat.store_location,
            sku_id: cat.serum_sku,
            lot: "LEXP".into(),
            manufactured_on: fixtures::date("2025-09-01"),
            expires_on: fixtures::date("2026-09-03"),
            quantity: 5,
        },
    )
    .await
    .unwrap();
    let written = reports::snapshot_stock_values(&app.state).await.unwrap();
    assert!(written >= 4, "both SKUs at the store and the warehouse");
    assert_eq!(
        reports::snapshot_stock_values(&app.state).await.unwrap(),
        0,
        "once a day"
    );
    let day1 = 25 * serum_cost + 20 * cream_cost;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let member: i64 = app.login_member("rita").await.1.parse().unwrap();
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 2)],
        PaymentMethod::Cash,
    )
    .await;
    clock.set(fixtures::shanghai_noon("2026-09-02"));
    reports::snapshot_stock_values(&app.state).await.unwrap();
    let day2 = 23 * serum_cost + 20 * cream_cost;
    // 4 September: what is left of the expired lot is written off, and one good unit damaged.
    clock.set(fixtures::shanghai_noon("2026-09-04"));
    let left = stock_batch::Entity::find_by_id(expiring.batch_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let good = stock_batch::Entity::find()
        .filter(stock_batch::Column::SkuId.eq(cat.serum_sku))
        .filter(stock_batch::Column::ExpiresOn.eq(fixtures::date("2029-01-01")))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let _ = left;
    inventory::adjust(
        &app.state,
        &cat.hq,
        cat.store_location,
        expiring.batch_id,
        -3,
        "expired",
    )
    .await
    .unwrap();
    inventory::adjust(
        &app.state,
        &cat.hq,
        cat.store_location,
        good.id,
        -1,
        "damaged",
    )
    .await
    .unwrap();
    let hq = app.login_staff("hq-demo").await;
    let ask = |f: &str, t: &str| json!({ "l": cat.store_location.to_string(), "f": f, "t": t });
    let t = hq.ok(TURNOVER, ask("2026-09-01", "2026-09-02")).await["inventoryTurnover"].clone();
    assert_eq!(t["snapshotDays"], 2);
    // The demo store holds other stock too: read the day values, check what moved between them.
    let value_on = |day: &str| {
        let db = app.db().clone();
        let day = fixtures::date(day);
        let loc = cat.store_location;
        async move {
            entities::stock_value_day::Entity::find()
                .filter(entities::stock_value_day::Column::LocationId.eq(loc))
                .filter(entities::stock_value_day::Column::BusinessDate.eq(day))
                .all(&db)
                .await
                .unwrap()
                .iter()
                .map(|r| r.value_fen)
                .sum::<i64>()
        }
    };
    let (v1, v2) = (value_on("2026-09-01").await, value_on("2026-09-02").await);
    assert_eq!(
        v1 - v2,
        day1 - day2,
        "two serums sold between the snapshots"
    );
    let average = (v1 + v2) / 2;
    assert_eq!(t["averageStockValueFen"], average.to_string());
    assert_eq!(t["cogsFen"], (2 * serum_cost).to_string());
    #[allow(clippy::cast_precision_loss)]
    let expected = average as f64 / (2.0 * serum_cost as f64 / 2.0);
    assert!((t["turnoverDays"].as_f64().unwrap() - expected).abs() < 1e-9);
    // The same figure as a report metric: by store, and by day (the first day sold two serums,
    // the second nothing: null, never a division by zero).
    let report = |group_by: Value| {
        let q = json!({ "metrics": ["TURNOVER_DAYS", "MARGIN"], "groupBy": group_by,
            "from": "2026-09-01", "to": "2026-09-02" });
        let hq = &hq;
        async move { hq.ok(REPORT, json!({ "q": q })).await["salesReport"]["rows"].clone() }
    };
    let store = cat.store_id.to_string();
    let turnover_of = |rows: &Value, keys: &[&str]| -> Value {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| {
                let k: Vec<&str> = r["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k["key"].as_str().unwrap())
                    .collect();
                k == keys
            })
            .unwrap_or_else(|| panic!("no row {keys:?} in {rows}"))["values"][0]["number"]
            .clone()
    };
    let by_store = report(json!(["STORE"])).await;
    let got = turnover_of(&by_store, &[&store]).as_f64().unwrap();
    assert!((got - expected).abs() < 1e-9, "{got} against {expected}");
    let by_day = report(json!(["DAY", "STORE"])).await;
    #[allow(clippy::cast_precision_loss)]
    let first_day = v1 as f64 / (2.0 * serum_cost as f64);
    let got = turnover_of(&by_day, &["2026-09-01", &store])
        .as_f64()
        .unwrap();
    assert!((got - first_day).abs() < 1e-9, "{got} against {first_day}");
    assert!(turnover_of(&by_day, &["2026-09-02", &store]).is_null());
    let by_category = json!({ "metrics": ["TURNOVER_DAYS"], "groupBy": ["CATEGORY"],
        "from": "2026-09-01", "to": "2026-09-02" });
    assert_eq!(
        hq.err(REPORT, json!({ "q": by_category })).await,
        "BAD_USER_INPUT"
    );
    assert!(
        t["definition"]
            .as_str()
            .unwrap()
            .contains("average stock value")
    );
    assert_eq!(t["expiryLossUnits"], 0, "nothing expired by then");
    let later = hq.ok(TURNOVER, ask("2026-09-01", "2026-09-05")).await["inventoryTurnover"].clone();
    assert_eq!(
        later["expiryLossUnits"], 3,
        "the damaged good unit is no expiry loss"
    );
    assert_eq!(later["expiryLossFen"], (3 * serum_cost).to_string());
    // Nothing sold, no snapshot: null, never a division by zero.
    let empty = hq.ok(TURNOVER, ask("2026-10-01", "2026-10-05")).await["inventoryTurnover"].clone();
    assert!(empty["turnoverDays"].is_null());
    assert!(empty["averageStockValueFen"].is_null());
    // Who may ask.
    let other_store = fixtures::staff_principal(&app, "ba-bj-demo")
        .await
        .store_id
        .unwrap();
    let other_loc = location::Entity::find()
        .filter(location::Column::StoreId.eq(other_store))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    let manager = app.login_staff("manager-demo").await;
    manager.ok(TURNOVER, ask("2026-09-01", "2026-09-02")).await;
    let theirs = json!({ "l": other_loc.to_string(), "f": "2026-09-01", "t": "2026-09-02" });
    assert_eq!(manager.err(TURNOVER, theirs).await, "FORBIDDEN");
    let ba_gql = app.login_staff("ba-demo").await;
    assert_eq!(
        ba_gql.err(TURNOVER, ask("2026-09-01", "2026-09-02")).await,
        "FORBIDDEN"
    );
    let nowhere = json!({ "l": "999999", "f": "2026-09-01", "t": "2026-09-02" });
    assert_eq!(hq.err(TURNOVER, nowhere).await, "NOT_FOUND");
    assert_eq!(
        hq.err(TURNOVER, ask("2026-09-02", "2026-09-01")).await,
        "BAD_USER_INPUT"
    );
}

on_both_backends!(stock_value_turnover_days_and_expiry_losses);
