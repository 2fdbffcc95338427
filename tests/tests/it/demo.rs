//! The demo as `serve` runs it: consents members record reach the fake WeChat (so campaigns and
//! booking reminders send), every demo store is bookable and ba-demo serves the demo member's
//! booking, and the showcase gives each flow something to show.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use domain::campaigns::dispatch::Dispatcher;
use domain::campaigns::{
    self, CampaignInput, CampaignSettings, DeliveryReason, KeyKind, QuietHours, TemplateKey,
};
use domain::platform::clock::ManualClock;
use entities::campaign::SegmentRule;
use entities::campaign_delivery;
use rouge_tests::{Backend, Gql, TestApp, fixtures, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use wechat_integration::fake::FakeWeChat;

const TPL: &str = "tpl_demo_news";
const RECORD: &str = "mutation($t: String!, $a: SubscriptionAnswer!) { recordSubscriptions(results: [{ templateId: $t, answer: $a }]) { templateId remaining } }";
const SLOTS: &str = "query($s: ID!, $v: ID!, $f: Date!) { availableSlots(storeId: $s, serviceId: $v, from: $f, days: 2) { startsAt baIds } }";
const BOOK: &str = "mutation($i: BookServiceInput!, $k: String!) { bookService(input: $i, idempotencyKey: $k) { id status startsAt } }";

/// Monday 7 December 2026, 09:00 in Shanghai: the demo is seeded then, its stores open at 10:00.
fn monday_morning() -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, 12, 7, 9, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

async fn start(backend: Backend, consents: bool, full: bool) -> TestApp {
    let mut b = TestApp::builder(backend).clock(Arc::new(ManualClock::new(monday_morning())));
    if consents {
        b = b.demo_consents();
    }
    if full {
        b = b.full_demo();
    }
    b.start().await
}

async fn store_ids(app: &TestApp) -> BTreeMap<String, String> {
    let data = app.consumer().ok("{ stores { id code } }", json!({})).await;
    data["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["code"].as_str().unwrap().to_owned(),
                s["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn service_id(me: &Gql, store: &str, code: &str) -> String {
    let data = me
        .ok(
            "query($s: ID!) { bookingServices(storeId: $s) { id code } }",
            json!({ "s": store }),
        )
        .await;
    data["bookingServices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == code)
        .unwrap_or_else(|| panic!("no service {code} at store {store}: {data}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn slots(me: &Gql, store: &str, service: &str) -> Vec<Value> {
    let data = me
        .ok(
            SLOTS,
            json!({ "s": store, "v": service, "f": "2026-12-07" }),
        )
        .await;
    data["availableSlots"].as_array().unwrap().clone()
}

/// Lily books the first slot of the SH001 make-up lesson (Monday 10:00).
async fn lily_books_at_sh001(app: &TestApp, lily: &Gql) -> Value {
    let stores = store_ids(app).await;
    let sh = &stores["SH001"];
    let service = service_id(lily, sh, "MAKEUP-SH001").await;
    let first = slots(lily, sh, &service).await[0]["startsAt"].clone();
    lily.ok(
        BOOK,
        json!({ "i": { "storeId": sh, "serviceId": service, "startsAt": first },
                "k": uuid::Uuid::new_v4().simple().to_string() }),
    )
    .await["bookService"]
        .clone()
}

async fn every_demo_store_is_bookable_and_ba_demo_serves_the_booking(backend: Backend) {
    let app = start(backend, false, false).await;
    let stores = store_ids(&app).await;
    let (lily, _) = app.login_member("demo-lily").await;
    for (store, own) in [
        ("SH001", "MAKEUP-SH001"),
        ("BJ001", "MAKEUP-BJ001"),
        ("GZ001", "FACIAL-GZ001"),
    ] {
        let id = &stores[store];
        for code in [own, "SKIN-TEST"] {
            let service = service_id(&lily, id, code).await;
            let open = slots(&lily, id, &service).await;
            assert!(!open.is_empty(), "{store} {code} has no slots");
            assert!(
                open.iter()
                    .all(|s| !s["baIds"].as_array().unwrap().is_empty()),
                "{store} {code}"
            );
        }
    }

    // The demo member books at ba-demo's store; ba-demo checks her in and redeems it.
    let booking = lily_books_at_sh001(&app, &lily).await;
    assert_eq!(
        DateTime::parse_from_rfc3339(booking["startsAt"].as_str().unwrap()).unwrap(),
        monday_morning() + chrono::Duration::hours(1)
    );
    let code = lily
        .ok(
            "query($b: ID!) { bookingCheckInCode(bookingId: $b) { code } }",
            json!({ "b": booking["id"] }),
        )
        .await["bookingCheckInCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let ba = app.login_staff("ba-demo").await;
    let checked = ba
        .ok(
            "mutation($c: String!) { checkInBooking(code: $c) { id status } }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(checked["checkInBooking"]["status"], "CHECKED_IN");
    let redeemed = ba
        .ok(
            "mutation($b: ID!) { redeemBooking(bookingId: $b, productsUsed: []) { status } }",
            json!({ "b": booking["id"] }),
        )
        .await;
    assert_eq!(redeemed["redeemBooking"]["status"], "REDEEMED");
    // Her store's manager sees it on the day.
    let manager = app.login_staff("manager-demo").await;
    let day = manager
        .ok(
            "query($s: ID!) { storeBookingDay(storeId: $s, date: \"2026-12-07\") { bookings { status } } }",
            json!({ "s": stores["SH001"] }),
        )
        .await;
    let statuses: Vec<&Value> = day["storeBookingDay"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["bookings"].as_array().unwrap())
        .map(|b| &b["status"])
        .collect();
    assert_eq!(statuses, [&json!("REDEEMED")]);
}

fn campaign_input() -> CampaignInput {
    let midnight = chrono::NaiveTime::from_hms_opt(0, 0, 0).unwrap();
    CampaignInput {
        name: "冬季焕新".into(),
        segment: SegmentRule::everyone(),
        template_id: TPL.into(),
        values: [("thing1".to_owned(), "冬季焕新礼遇".to_owned())].into(),
        page: "pages/campaign/index".into(),
        coupon_template_id: None,
        start_at: None,
        quiet_hours: Some(QuietHours {
            start: midnight,
            end: midnight,
        }),
        zone: None,
        cap: Some((0, 7)),
        attribution_days: Some(7),
    }
}

/// HQ registers the template, sends a campaign to every member, and the dispatcher runs once.
async fn campaign_to_everyone(app: &TestApp) -> i64 {
    let hq = fixtures::staff_principal(app, "hq-demo").await;
    let key = TemplateKey {
        key: "thing1".into(),
        kind: KeyKind::parse("thing").unwrap(),
        label: String::new(),
    };
    campaigns::register_template(&app.state, &hq, TPL, "活动通知", vec![key])
        .await
        .unwrap();
    let c = campaigns::create(&app.state, &hq, campaign_input())
        .await
        .unwrap();
    campaigns::schedule(&app.state, &hq, c.id, None)
        .await
        .unwrap();
    let settings = CampaignSettings {
        rate_per_second: None,
        batch_size: 200,
        concurrency: 4,
        lanes: 1,
        ..Default::default()
    };
    Dispatcher::with_settings("w", settings)
        .run_due(&app.state, None)
        .await
        .unwrap();
    c.id
}

async fn delivery_reason(app: &TestApp, campaign: i64, member: &str) -> Option<DeliveryReason> {
    campaign_delivery::Entity::find()
        .filter(campaign_delivery::Column::CampaignId.eq(campaign))
        .filter(campaign_delivery::Column::MemberId.eq(member.parse::<i64>().unwrap()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .reason
}

async fn recorded_consents_reach_the_fake_wechat_on_the_demo(backend: Backend) {
    let app = start(backend, true, false).await;
    let lily_openid = FakeWeChat::openid_for("demo-lily");
    let (lily, _) = app.login_member("demo-lily").await;
    lily.ok(RECORD, json!({ "t": TPL, "a": "ACCEPT" })).await;
    assert_eq!(app.wechat.consents(&lily_openid, TPL), 1);
    // A ban (the member switched the template off) clears what the fake holds.
    lily.ok(RECORD, json!({ "t": "tpl_other", "a": "ACCEPT" }))
        .await;
    lily.ok(RECORD, json!({ "t": "tpl_other", "a": "BAN" }))
        .await;
    assert_eq!(app.wechat.consents(&lily_openid, "tpl_other"), 0);

    // A campaign to every member: only Lily consented, and the fake accepts her message.
    campaign_to_everyone(&app).await;
    let sent: Vec<_> = app
        .wechat
        .sent_messages()
        .into_iter()
        .filter(|m| m.template_id == TPL)
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].touser, lily_openid);
    assert_eq!(sent[0].data["thing1"], "冬季焕新礼遇");
    assert_eq!(
        app.wechat.consents(&lily_openid, TPL),
        0,
        "one consent, one send"
    );

    // Booking reminders: she accepts them, books, and the reminder goes out.
    let reminder = app.state.settings.booking.reminder_template_id.clone();
    lily.ok(
        "mutation { subscribeBookingReminders(answer: ACCEPT) }",
        json!({}),
    )
    .await;
    assert_eq!(app.wechat.consents(&lily_openid, &reminder), 1);
    lily_books_at_sh001(&app, &lily).await;
    assert_eq!(
        domain::booking::send_reminders(&app.state).await.unwrap(),
        1
    );
    let reminders: Vec<_> = app
        .wechat
        .sent_messages()
        .into_iter()
        .filter(|m| m.template_id == reminder)
        .collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].touser, lily_openid);
}

/// Without the demo's sink (live WeChat learns consents from the mini-program, not from Rouge),
/// a consent Rouge counted but WeChat never saw is refused by WeChat, as before.
async fn without_the_demo_sink_the_fake_refuses_as_before(backend: Backend) {
    let app = start(backend, false, false).await;
    let lily_openid = FakeWeChat::openid_for("demo-lily");
    let (lily, lily_id) = app.login_member("demo-lily").await;
    lily.ok(RECORD, json!({ "t": TPL, "a": "ACCEPT" })).await;
    assert_eq!(app.wechat.consents(&lily_openid, TPL), 0);
    let campaign = campaign_to_everyone(&app).await;
    assert!(
        app.wechat
            .sent_messages()
            .iter()
            .all(|m| m.template_id != TPL)
    );
    assert_eq!(
        delivery_reason(&app, campaign, &lily_id).await,
        Some(DeliveryReason::ConsentExhausted)
    );
}

async fn counter_location(app: &TestApp, hq: &Gql, store: &str) -> String {
    let stores = store_ids(app).await;
    let data = hq.ok("{ locations { id storeId } }", json!({})).await;
    data["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["storeId"] == json!(stores[store]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The showcase (seeded by `serve` with the base): a live and an upcoming flash sale with a
/// paid grab shipping to an address, an in-store coupon Lily holds, low stock and a lot near
/// expiry at SH001, and members across regions whose scans give regional insight rows. Seeding
/// again changes nothing.
async fn the_showcase_gives_every_flow_something_to_show(backend: Backend) {
    let app = start(backend, false, true).await;
    let hq = app.login_staff("hq-demo").await;

    let (mei, mei_id) = app.login_member("demo-mei").await;
    let sales = mei
        .ok("{ flashSales { nodes { title status sold } } }", json!({}))
        .await;
    let statuses: Vec<&Value> = sales["flashSales"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["status"])
        .collect();
    assert!(statuses.contains(&&json!("LIVE")), "{sales}");
    assert!(statuses.contains(&&json!("SCHEDULED")), "{sales}");

    // 小美's grab: paid, delivered from the warehouse to her address (stored encrypted).
    let orders = mei
        .ok(
            "{ myOrders { nodes { orderNo status fulfilment discounts { kind } delivery { recipient district } } } }",
            json!({}),
        )
        .await;
    let order = &orders["myOrders"]["nodes"][0];
    assert_eq!(order["delivery"]["district"], "静安区");
    assert_eq!(order["status"], "PAID");
    assert_eq!(order["fulfilment"], "DELIVERY");
    assert_eq!(order["discounts"][0]["kind"], "FLASH_SALE");
    let row = entities::order::Entity::find()
        .filter(entities::order::Column::OrderNo.eq(order["orderNo"].as_str().unwrap()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.member_id.to_string(), mei_id);
    let address: Value = serde_json::from_str(
        &app.state
            .pii
            .decrypt(row.delivery_address.as_deref().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(address["recipient"], "小美");
    assert_eq!(address["district"], "静安区");

    // Lily holds the in-store coupon; ba-demo reads its code at the counter.
    let (lily, _) = app.login_member("demo-lily").await;
    let coupons = lily
        .ok(
            "{ myCoupons(status: AVAILABLE) { nodes { id template { name channels } } } }",
            json!({}),
        )
        .await;
    let counter = coupons["myCoupons"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["template"]["channels"] == json!(["IN_STORE"]))
        .unwrap_or_else(|| panic!("no in-store coupon: {coupons}"));
    let code = lily
        .ok(
            "query($c: ID!) { couponCode(couponId: $c) { code } }",
            json!({ "c": counter["id"] }),
        )
        .await["couponCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let ba = app.login_staff("ba-demo").await;
    let inspected = ba
        .ok(
            "query($c: String!) { inspectCouponCode(code: $c) { status template { name } } }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(inspected["inspectCouponCode"]["status"], "AVAILABLE");
    assert_eq!(
        inspected["inspectCouponCode"]["template"]["name"],
        "门店专享满200减30"
    );

    // Low stock and a lot near expiry at SH001's counter.
    let location = counter_location(&app, &hq, "SH001").await;
    let stock = app
        .login_staff("manager-demo")
        .await
        .ok(
            "query($l: ID!) { lowStock(locationId: $l) { nodes { skuId onHand safetyStock } } nearExpiry(locationId: $l) { nodes { lot quantity } } }",
            json!({ "l": location }),
        )
        .await;
    let low = stock["lowStock"]["nodes"].as_array().unwrap();
    assert_eq!(low.len(), 1, "{stock}");
    assert_eq!(low[0]["onHand"], domain::seed::LOW_STOCK_SKU.1);
    assert_eq!(
        stock["nearExpiry"]["nodes"],
        json!([{ "lot": domain::seed::NEAR_EXPIRY_LOT.1, "quantity": 6 }])
    );

    // Regional insight: the distributor's territory (Shanghai) passes the minimum group size,
    // by province and by age band; HQ sees scans outside it as cross-territory.
    let dist = app.login_distributor("dist-demo").await;
    for group in ["PROVINCE", "AGE_BAND", "SKIN_TYPE"] {
        let rows = dist
            .ok(
                &format!("{{ regionalInsight(groupBy: [{group}]) {{ province ageBand skinType members }} }}"),
                json!({}),
            )
            .await;
        let rows = rows["regionalInsight"].as_array().unwrap().clone();
        assert!(!rows.is_empty(), "{group}");
        assert!(
            rows.iter().all(|r| r["members"].as_i64().unwrap() >= 10),
            "{rows:?}"
        );
    }
    let cross = hq
        .ok("{ crossTerritoryReport { province scans } }", json!({}))
        .await;
    assert_eq!(
        cross["crossTerritoryReport"].as_array().unwrap().len(),
        2,
        "{cross}"
    );

    // Today's RFM segment counts are there (the seed runs the members' insights once).
    let today = domain::sales::business_date(app.state.clock.now(), None).to_string();
    let counts = hq
        .ok(
            "query($d: Date!) { rfmSegmentCounts(grain: DAY, from: $d, to: $d) {
               countedOn segments { segment members } } }",
            json!({ "d": today }),
        )
        .await["rfmSegmentCounts"][0]
        .clone();
    assert_eq!(counts["countedOn"], today.as_str(), "{counts}");
    let counted: i64 = counts["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["members"].as_i64().unwrap())
        .sum();
    let with_insights = entities::member_insight::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len();
    assert_eq!(counted, with_insights as i64, "every member in one segment");
    let members = entities::member::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len();
    assert!(members >= 10 + domain::seed::DEMO_MEMBERS.len());
    // Seeding again (a second `rouge seed --demo`) finds it there and adds nothing.
    assert!(
        !domain::seed::demo(&app.state, FakeWeChat::openid_for)
            .await
            .unwrap()
    );
    assert_eq!(
        entities::member::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .len(),
        members
    );
}

/// A demo restarted on its database: the new fake WeChat starts empty and is given the consents
/// Rouge counted, so what members granted before the restart still sends.
async fn a_restarted_demo_gives_the_new_fake_the_counted_consents(backend: Backend) {
    let app = start(backend, true, false).await;
    let (lily, _) = app.login_member("demo-lily").await;
    lily.ok(RECORD, json!({ "t": TPL, "a": "ACCEPT" })).await;
    lily.ok(RECORD, json!({ "t": TPL, "a": "ACCEPT" })).await;
    let config = api::config::Config::default();
    let (_state, wiring) = api::state_from_config(&config, app.db().clone(), &app.base_url)
        .await
        .unwrap();
    let fake = wiring.fake.clone().unwrap();
    assert_eq!(fake.consents(&FakeWeChat::openid_for("demo-lily"), TPL), 2);
    assert_eq!(fake.consents(&FakeWeChat::openid_for("demo-mei"), TPL), 0);
    wiring.shutdown().await;
}

on_both_backends!(
    a_restarted_demo_gives_the_new_fake_the_counted_consents,
    the_showcase_gives_every_flow_something_to_show,
    every_demo_store_is_bookable_and_ba_demo_serves_the_booking,
    recorded_consents_reach_the_fake_wechat_on_the_demo,
    without_the_demo_sink_the_fake_refuses_as_before,
);
