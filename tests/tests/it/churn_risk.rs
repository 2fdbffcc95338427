//! Churn risk (issue 17): members past their own buying cycle (the mean gap between their
//! purchase days, as the repurchase reminder computes it), most overdue first, with the
//! reason; a manager sees her store, HQ any; finance and BAs are refused.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use domain::auth::StaffPrincipal;
use domain::orders::{self, LineInput, PaymentMethod};
use domain::platform::clock::ManualClock;
use rouge_tests::fixtures;
use rouge_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

const CHURN: &str = "query($s: ID, $first: Int, $after: String) {
  churnRisk(storeId: $s, first: $first, after: $after) {
    edges { cursor node { memberId purchaseDays lastPurchase usualCycleDays due daysOverdue reason } }
    pageInfo { hasNextPage endCursor } } }";

fn noon(day: &str) -> DateTime<Utc> {
    let d = fixtures::date(day);
    Utc.from_utc_datetime(&d.and_hms_opt(4, 0, 0).unwrap())
}

async fn sell_on(
    app: &TestApp,
    clock: &ManualClock,
    ba: &StaffPrincipal,
    member: i64,
    sku: i64,
    day: &str,
) {
    clock.set(noon(day));
    orders::record_in_store_sale(
        &app.state,
        ba,
        member,
        &[LineInput {
            sku_id: sku,
            quantity: 1,
        }],
        PaymentMethod::Cash,
        true,
        &format!("key-{}", uuid::Uuid::new_v4().simple()),
    )
    .await
    .unwrap();
}

async fn members_past_their_cycle_are_listed_most_overdue_first(backend: Backend) {
    let clock = Arc::new(ManualClock::new(noon("2026-08-01")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let id = |s: String| s.parse::<i64>().unwrap();
    let (a, b, c, d) = (
        id(app.login_member("ada").await.1),
        id(app.login_member("bea").await.1),
        id(app.login_member("cai").await.1),
        id(app.login_member("dot").await.1),
    );
    // d: every 10 days in August, due 31 August: 30 days overdue on 30 September.
    for day in ["2026-08-01", "2026-08-11", "2026-08-21"] {
        sell_on(&app, &clock, &ba, d, cat.serum_sku, day).await;
    }
    // a: 1 and 11 September (twice on the 11th: one purchase day), due the 21st: 9 overdue.
    for day in ["2026-09-01", "2026-09-11", "2026-09-11"] {
        sell_on(&app, &clock, &ba, a, cat.cream_sku, day).await;
    }
    // b: due on the 30th itself: not overdue. c: one purchase, no cycle yet.
    sell_on(&app, &clock, &ba, b, cat.serum_sku, "2026-09-20").await;
    sell_on(&app, &clock, &ba, b, cat.serum_sku, "2026-09-25").await;
    sell_on(&app, &clock, &ba, c, cat.serum_sku, "2026-08-01").await;
    clock.set(noon("2026-09-30"));

    let manager = app.login_staff("manager-demo").await;
    let first = manager.ok(CHURN, json!({ "first": 1 })).await["churnRisk"].clone();
    let edges = first["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    let top = &edges[0]["node"];
    assert_eq!(top["memberId"], d.to_string());
    assert_eq!(top["purchaseDays"], 3);
    assert_eq!(top["lastPurchase"], "2026-08-21");
    assert_eq!(top["usualCycleDays"], 10);
    assert_eq!(top["due"], "2026-08-31");
    assert_eq!(top["daysOverdue"], 30);
    assert_eq!(
        top["reason"],
        "last purchase 2026-08-21, usually every 10 days, 30 days overdue"
    );
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let next = manager
        .ok(
            CHURN,
            json!({ "first": 10, "after": first["pageInfo"]["endCursor"] }),
        )
        .await["churnRisk"]
        .clone();
    let rest: Vec<_> = next["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(rest[0]["memberId"], a.to_string());
    assert_eq!(rest[0]["purchaseDays"], 2);
    assert_eq!(rest[0]["daysOverdue"], 9);
    assert_eq!(next["pageInfo"]["hasNextPage"], false);

    // HQ any store: the same members at the demo store, none at another.
    let hq = app.login_staff("hq-demo").await;
    let at_store =
        hq.ok(CHURN, json!({ "s": cat.store_id.to_string() })).await["churnRisk"]["edges"]
            .as_array()
            .unwrap()
            .len();
    assert_eq!(at_store, 2);
    let other_store = fixtures::staff_principal(&app, "ba-bj-demo")
        .await
        .store_id
        .unwrap();
    let elsewhere =
        hq.ok(CHURN, json!({ "s": other_store.to_string() })).await["churnRisk"]["edges"]
            .as_array()
            .unwrap()
            .len();
    assert_eq!(elsewhere, 0);
    assert_eq!(
        manager
            .err(CHURN, json!({ "s": other_store.to_string() }))
            .await,
        "FORBIDDEN"
    );
    let finance = app.login_staff("finance-demo").await;
    assert_eq!(finance.err(CHURN, json!({})).await, "FORBIDDEN");
    let ba_gql = app.login_staff("ba-demo").await;
    assert_eq!(ba_gql.err(CHURN, json!({})).await, "FORBIDDEN");
    let _ = (b, c);
}

const RFM: &str = "query($s: ID, $g: Dimension!, $from: Date!, $to: Date!) {
  rfmSegmentCounts(storeId: $s, grain: $g, from: $from, to: $to) {
    bucket { key label } countedOn segments { segment members } } }";

/// The members of `segment` in a bucket of `rfmSegmentCounts` (null when it has no counts).
fn members_in(bucket: &serde_json::Value, segment: &str) -> serde_json::Value {
    bucket["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["segment"] == segment)
        .map(|s| s["members"].clone())
        .unwrap()
}

/// RFM segment counts over time (issue 17): each nightly insights run keeps the day's counts per
/// store of the member's exclusive BA; a day, week or month shows its last counted day (never a
/// sum), every bucket is there (without counts: null), a manager sees her store's members, HQ
/// all or one store, finance and BAs are refused, and bad input is BAD_USER_INPUT.
async fn rfm_segment_counts_follow_the_nightly_insights(backend: Backend) {
    use domain::platform::clock::Clock;
    use entities::member_insight::{self, RfmSegment};
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
        Set,
    };
    let clock = Arc::new(ManualClock::new(noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let id = |s: String| s.parse::<i64>().unwrap();
    let (eva, fay) = (
        id(app.login_member("eva").await.1),
        id(app.login_member("fay").await.1),
    );
    // Eva is the demo BA's member; Fay has no exclusive BA.
    let mut row = entities::member::Entity::find_by_id(eva)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    row.exclusive_ba_id = Set(Some(ba.staff_id));
    row.update(app.db()).await.unwrap();
    sell_on(&app, &clock, &ba, eva, cat.serum_sku, "2026-09-10").await;
    sell_on(&app, &clock, &ba, fay, cat.serum_sku, "2026-09-10").await;

    // The night of 11 September: both bought within 30 days (PROMISING).
    clock.set(noon("2026-09-11"));
    domain::campaigns::insights::recompute(&app.state, clock.now())
        .await
        .unwrap();
    let count_now = |segment: RfmSegment| {
        let app = &app;
        async move {
            member_insight::Entity::find()
                .filter(member_insight::Column::RfmSegment.eq(segment))
                .count(app.db())
                .await
                .unwrap()
        }
    };
    let promising_then = count_now(RfmSegment::Promising).await;
    let prospects_then = count_now(RfmSegment::Prospect).await;
    assert!(promising_then >= 2);
    // 40 days on, run twice the same day (the second replaces the first): both HIBERNATING.
    clock.set(noon("2026-10-20"));
    domain::campaigns::insights::recompute(&app.state, clock.now())
        .await
        .unwrap();
    domain::campaigns::insights::recompute(&app.state, clock.now())
        .await
        .unwrap();
    let hibernating_later = count_now(RfmSegment::Hibernating).await;
    assert!(hibernating_later >= 2);

    let hq = app.login_staff("hq-demo").await;
    let days = hq
        .ok(
            RFM,
            json!({ "g": "DAY", "from": "2026-09-10", "to": "2026-10-20" }),
        )
        .await["rfmSegmentCounts"]
        .clone();
    let days = days.as_array().unwrap();
    assert_eq!(days.len(), 41, "every day of the range");
    assert!(days[0]["countedOn"].is_null());
    assert_eq!(members_in(&days[0], "PROMISING"), serde_json::Value::Null);
    assert_eq!(days[1]["countedOn"], "2026-09-11");
    assert_eq!(members_in(&days[1], "PROMISING"), promising_then);
    assert_eq!(members_in(&days[1], "PROSPECT"), prospects_then);
    assert_eq!(days[1]["segments"].as_array().unwrap().len(), 6);
    assert_eq!(members_in(&days[40], "HIBERNATING"), hibernating_later);
    assert_eq!(
        members_in(&days[40], "PROMISING"),
        count_now(RfmSegment::Promising).await
    );
    // A month shows its last counted day, not a sum of days.
    let months = hq
        .ok(
            RFM,
            json!({ "g": "MONTH", "from": "2026-09-01", "to": "2026-11-30" }),
        )
        .await["rfmSegmentCounts"]
        .clone();
    let months = months.as_array().unwrap();
    assert_eq!(months.len(), 3);
    assert_eq!(months[0]["bucket"]["key"], "2026-09");
    assert_eq!(months[0]["countedOn"], "2026-09-11");
    assert_eq!(members_in(&months[0], "PROMISING"), promising_then);
    assert_eq!(months[1]["countedOn"], "2026-10-20");
    assert_eq!(members_in(&months[1], "HIBERNATING"), hibernating_later);
    assert!(months[2]["countedOn"].is_null());

    // The manager's store: Eva only (her exclusive BA works there); HQ asking for it agrees.
    let manager = app.login_staff("manager-demo").await;
    let own = manager
        .ok(
            RFM,
            json!({ "g": "WEEK", "from": "2026-10-19", "to": "2026-10-20" }),
        )
        .await["rfmSegmentCounts"][0]
        .clone();
    assert_eq!(own["countedOn"], "2026-10-20");
    assert_eq!(members_in(&own, "HIBERNATING"), 1);
    let same = hq
        .ok(
            RFM,
            json!({ "s": cat.store_id.to_string(), "g": "WEEK", "from": "2026-10-19", "to": "2026-10-20" }),
        )
        .await["rfmSegmentCounts"][0]
        .clone();
    assert_eq!(same, own);
    let other_store = fixtures::staff_principal(&app, "ba-bj-demo")
        .await
        .store_id
        .unwrap();
    let q = |s: Option<String>, g: &str, from: &str, to: &str| json!({ "s": s, "g": g, "from": from, "to": to });
    assert_eq!(
        manager
            .err(
                RFM,
                q(
                    Some(other_store.to_string()),
                    "DAY",
                    "2026-10-01",
                    "2026-10-20"
                )
            )
            .await,
        "FORBIDDEN"
    );
    let finance = app.login_staff("finance-demo").await;
    assert_eq!(
        finance
            .err(RFM, q(None, "DAY", "2026-10-01", "2026-10-20"))
            .await,
        "FORBIDDEN"
    );
    let ba_gql = app.login_staff("ba-demo").await;
    assert_eq!(
        ba_gql
            .err(RFM, q(None, "DAY", "2026-10-01", "2026-10-20"))
            .await,
        "FORBIDDEN"
    );
    for bad in [
        q(None, "STORE", "2026-10-01", "2026-10-20"),
        q(None, "DAY", "2026-10-20", "2026-10-01"),
        q(None, "DAY", "2024-01-01", "2026-10-20"),
    ] {
        assert_eq!(hq.err(RFM, bad).await, "BAD_USER_INPUT");
    }
}

on_both_backends!(
    members_past_their_cycle_are_listed_most_overdue_first,
    rfm_segment_counts_follow_the_nightly_insights,
);
