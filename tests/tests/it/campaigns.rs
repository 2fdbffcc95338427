//! Campaigns: values checked before any send, segments run as SQL, the dispatcher's
//! exactly-once delivery across a stop and a kill, counted consents, quiet hours and caps in
//! Asia/Shanghai, WeChat's 45011/45009/-1/5xx, attribution, the coupon hook and automations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use domain::auth::{StaffPrincipal, StaffRole};
use domain::campaigns::dispatch::Dispatcher;
use domain::campaigns::{
    self, AutomationKind, CampaignInput, CampaignSettings, DeliveryReason, DeliveryState, KeyKind,
    Lifecycle, QuietHours, RfmSegment, SegmentRule, TemplateKey, automations, insights, segments,
};
use domain::members::{SkinConcern, SkinType};
use domain::platform::clock::{Clock, ManualClock};
use entities::{
    campaign, campaign_delivery, member, member_tag, order, order_line, subscription_consent,
};
use rouge_tests::{Backend, TestApp, eventually, fixtures, on_both_backends};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::json;
use wechat_integration::fake::{Fault, FaultScope};

const TPL: &str = "tpl_campaign";

fn hq() -> StaffPrincipal {
    StaffPrincipal {
        staff_id: 1,
        role: StaffRole::Hq,
        store_id: None,
        session_id: "test".into(),
    }
}

fn openid(i: i64) -> String {
    format!("o{i:027}")
}

/// Noon in Shanghai on 1 December 2026 (04:00 UTC): outside the default quiet hours.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 4, 0, 0).unwrap()
}

fn settings() -> CampaignSettings {
    CampaignSettings {
        rate_per_second: None,
        batch_size: 200,
        concurrency: 16,
        lanes: 1,
        ..Default::default()
    }
}

async fn start(backend: Backend, clock: Arc<ManualClock>) -> TestApp {
    let app = TestApp::builder(backend).clock(clock).empty().start().await;
    register_template(&app).await;
    app
}

async fn register_template(app: &TestApp) {
    campaigns::register_template(
        &app.state,
        &hq(),
        TPL,
        "活动通知",
        vec![
            key("thing1", "thing"),
            key("name2", "name"),
            key("time3", "time"),
        ],
    )
    .await
    .unwrap();
}

fn key(k: &str, kind: &str) -> TemplateKey {
    TemplateKey {
        key: k.into(),
        kind: KeyKind::parse(kind).unwrap(),
        label: String::new(),
    }
}

fn values() -> BTreeMap<String, String> {
    [
        ("thing1", "冬季焕新礼遇"),
        ("name2", "{{nickname}}"),
        ("time3", "2026-12-01 ~ 2026-12-31"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn no_quiet() -> Option<QuietHours> {
    let midnight = chrono::NaiveTime::from_hms_opt(0, 0, 0).unwrap();
    Some(QuietHours {
        start: midnight,
        end: midnight,
    })
}

fn input(name: &str, segment: SegmentRule) -> CampaignInput {
    CampaignInput {
        name: name.into(),
        segment,
        template_id: TPL.into(),
        values: values(),
        page: "pages/campaign/index".into(),
        coupon_template_id: None,
        start_at: None,
        quiet_hours: no_quiet(),
        zone: None,
        cap: Some((0, 7)),
        attribution_days: Some(7),
    }
}

async fn launch(app: &TestApp, input: CampaignInput) -> i64 {
    let c = campaigns::create(&app.state, &hq(), input).await.unwrap();
    campaigns::schedule(&app.state, &hq(), c.id, None)
        .await
        .unwrap();
    c.id
}

/// Members written straight into the database, many rows per statement; `consents(i)` unused
/// consents for TPL, counted by Rouge and by the fake alike.
async fn bulk_members(
    app: &TestApp,
    range: std::ops::Range<i64>,
    marketing: impl Fn(i64) -> bool,
    consents: impl Fn(i64) -> i32,
) -> Vec<i64> {
    let now = app.state.clock.now();
    let all: Vec<i64> = range.collect();
    for chunk in all.chunks(500) {
        let rows = chunk.iter().map(|&i| member::ActiveModel {
            member_code: Set(format!("M{i:09}")),
            openid: Set(openid(i)),
            unionid: Set(None),
            nickname: Set(Some(format!("会员{}", i % 1000))),
            gender: Set(entities::member::Gender::Female),
            birthday: Set(None),
            region_province: Set(Some("上海".into())),
            region_city: Set(Some("上海".into())),
            region_district: Set(None),
            skin_type: Set(None),
            skin_concerns: Set(0),
            marketing_consent: Set(marketing(i)),
            marketing_consent_at: Set(None),
            phone_cipher: Set(None),
            phone_index: Set(None),
            phone_masked: Set(None),
            tier_code: Set("MEMBER".into()),
            cumulative_spend_fen: Set(0),
            exclusive_ba_id: Set(None),
            profile_updated_at: Set(None),
            profile_updated_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        member::Entity::insert_many(rows)
            .exec_without_returning(app.db())
            .await
            .unwrap();
    }
    let openids: Vec<String> = all.iter().map(|&i| openid(i)).collect();
    let mut ids = Vec::new();
    for chunk in openids.chunks(500) {
        let rows = member::Entity::find()
            .filter(member::Column::Openid.is_in(chunk.to_vec()))
            .all(app.db())
            .await
            .unwrap();
        let by_openid: HashMap<String, i64> = rows.into_iter().map(|m| (m.openid, m.id)).collect();
        ids.extend(chunk.iter().map(|o| by_openid[o]));
    }
    let mut consent_rows = Vec::new();
    for (&i, &id) in all.iter().zip(&ids) {
        let n = consents(i);
        if n > 0 {
            consent_rows.push(subscription_consent::ActiveModel {
                member_id: Set(id),
                template_id: Set(TPL.into()),
                remaining: Set(n),
                updated_at: Set(now),
            });
            app.wechat
                .add_consents(&openid(i), TPL, u32::try_from(n).unwrap());
        }
    }
    for chunk in consent_rows.chunks(1000) {
        subscription_consent::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(app.db())
            .await
            .unwrap();
    }
    ids
}

async fn add_consents(app: &TestApp, range: std::ops::Range<i64>, ids: &[i64], n: i32) {
    for (i, id) in range.zip(ids) {
        subscription_consent::Entity::update_many()
            .col_expr(
                subscription_consent::Column::Remaining,
                sea_orm::sea_query::Expr::col(subscription_consent::Column::Remaining).add(n),
            )
            .filter(subscription_consent::Column::MemberId.eq(*id))
            .exec(app.db())
            .await
            .unwrap();
        app.wechat
            .add_consents(&openid(i), TPL, u32::try_from(n).unwrap());
    }
}

async fn remaining(app: &TestApp, member_id: i64) -> i32 {
    domain::subscriptions::remaining(app.db(), member_id, TPL)
        .await
        .unwrap()
}

async fn deliveries(app: &TestApp, campaign_id: i64) -> Vec<campaign_delivery::Model> {
    campaign_delivery::Entity::find()
        .filter(campaign_delivery::Column::CampaignId.eq(campaign_id))
        .all(app.db())
        .await
        .unwrap()
}

async fn status(app: &TestApp, campaign_id: i64) -> String {
    campaign::Entity::find_by_id(campaign_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .status
        .to_value()
}

// ------------------------------------------------------------------------------------------

/// Kill the worker halfway through a 10,000-member campaign and restart it: every eligible
/// member gets exactly one message. First a worker that stops part-way (between batches),
/// then one killed mid-batch (only the groups handed to WeChat when it died are in doubt and never
/// resent; the rest of its batch, consents given back, goes to the next worker), then a fresh one.
async fn concurrent_campaign_resumes_after_a_stop_and_a_kill(backend: Backend) {
    const N: i64 = 10_000;
    let clock = Arc::new(ManualClock::new(noon()));
    let app = start(backend, clock.clone()).await;
    let marketing = |i: i64| i % 17 != 0;
    let consents = |i: i64| i32::from(i % 10 != 0);
    let ids = bulk_members(&app, 0..N, marketing, consents).await;
    let eligible: HashSet<String> = (0..N)
        .filter(|&i| marketing(i) && consents(i) > 0)
        .map(openid)
        .collect();
    let id = launch(&app, input("十万火急", SegmentRule::everyone())).await;
    let settings = settings();

    // A worker that stops after 4,000 sends.
    let first = Dispatcher::with_settings("w1", settings.clone())
        .run_due(&app.state, Some(4_000))
        .await
        .unwrap();
    assert_eq!(first.sent, 4_000);
    assert_eq!(app.wechat.sent_count(), 4_000);

    // A worker killed mid-batch.
    let state = app.state.clone();
    let s2 = settings.clone();
    let killed = tokio::spawn(async move {
        Dispatcher::with_settings("w2", s2)
            .run_due(&state, None)
            .await
    });
    let fake = app.wechat.clone();
    eventually(120, "the second worker to be halfway", || {
        let fake = fake.clone();
        async move { fake.sent_count() >= 5_500 }
    })
    .await;
    killed.abort();
    let _ = killed.await;
    assert_ne!(status(&app, id).await, "COMPLETED");

    // Its claim runs out; a fresh worker finishes the campaign.
    clock.advance(Duration::seconds(settings.claim_secs + 1));
    Dispatcher::with_settings("w3", settings.clone())
        .run_due(&app.state, None)
        .await
        .unwrap();
    assert_eq!(status(&app, id).await, "COMPLETED");

    let rows = deliveries(&app, id).await;
    assert_eq!(rows.len(), N as usize, "one delivery row per member");
    let in_doubt: HashSet<i64> = rows
        .iter()
        .filter(|r| r.reason == Some(DeliveryReason::InDoubt))
        .map(|r| r.member_id)
        .collect();
    assert!(
        in_doubt.len() <= 3 * settings.concurrency,
        "at most the groups in flight are in doubt, not the whole batch: {}",
        in_doubt.len()
    );
    let openid_of: HashMap<i64, String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, openid(i as i64)))
        .collect();
    let in_doubt: HashSet<String> = in_doubt.iter().map(|m| openid_of[m].clone()).collect();
    let received = app.wechat.sent_per_user();
    assert!(
        received.values().all(|n| *n == 1),
        "nobody gets a message twice"
    );
    assert_eq!(app.wechat.duplicate_recipients(), (0, 0));
    for o in &eligible {
        assert!(
            received.get(o) == Some(&1) || in_doubt.contains(o),
            "{o} is eligible and got nothing"
        );
    }
    for o in received.keys() {
        assert!(eligible.contains(o), "{o} was not eligible");
    }
    let report = campaigns::report_of(&app.state, id).await.unwrap();
    assert_eq!(report.audience, N);
    assert_eq!(report.pending, 0);
    let in_doubt_eligible = in_doubt.intersection(&eligible).count();
    assert_eq!(
        report.sent as usize + in_doubt_eligible,
        eligible.len(),
        "every eligible member is SENT or in doubt: {report:?}"
    );
}

on_both_backends!(concurrent_campaign_resumes_after_a_stop_and_a_kill);

/// Two consents allow two campaigns, not three; 43101 from WeChat zeroes the count.
async fn consents_bound_the_campaigns_a_member_gets(backend: Backend) {
    let clock = Arc::new(ManualClock::new(noon()));
    let app = start(backend, clock).await;
    // Member 0: two consents. Member 1: Rouge counts three, WeChat knows none (43101).
    let ids = bulk_members(&app, 0..2, |_| true, |i| if i == 0 { 2 } else { 3 }).await;
    // The helper told the fake 3 for member 1 too: use them up on WeChat's side only.
    let fake_left = app.wechat.consents(&openid(1), TPL);
    for _ in 0..fake_left {
        let msg = wechat_integration::SubscribeMessage {
            touser: openid(1),
            template_id: TPL.into(),
            data: [("thing1".to_owned(), "占位".to_owned())]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        app.state.wechat.send_subscribe_message(&msg).await.unwrap();
    }
    let before = app.wechat.sent_count();
    let mut campaigns_ids = Vec::new();
    for name in ["一", "二", "三"] {
        campaigns_ids.push(launch(&app, input(name, SegmentRule::everyone())).await);
    }
    Dispatcher::with_settings("w", settings())
        .run_due(&app.state, None)
        .await
        .unwrap();
    let received = app.wechat.sent_per_user();
    assert_eq!(
        received.get(&openid(0)),
        Some(&2),
        "two consents, two messages"
    );
    assert_eq!(app.wechat.sent_count() - before, 2);
    assert_eq!(remaining(&app, ids[0]).await, 0);
    assert_eq!(remaining(&app, ids[1]).await, 0, "43101 zeroes the count");

    let third = deliveries(&app, campaigns_ids[2]).await;
    let m0 = third.iter().find(|d| d.member_id == ids[0]).unwrap();
    assert_eq!(
        (m0.state, m0.reason),
        (DeliveryState::Skipped, Some(DeliveryReason::NoConsent))
    );
    let first = deliveries(&app, campaigns_ids[0]).await;
    let m1 = first.iter().find(|d| d.member_id == ids[1]).unwrap();
    assert_eq!(
        (m1.state, m1.reason),
        (
            DeliveryState::Failed,
            Some(DeliveryReason::ConsentExhausted)
        )
    );
    for c in &campaigns_ids[1..] {
        let rows = deliveries(&app, *c).await;
        let m1 = rows.iter().find(|d| d.member_id == ids[1]).unwrap();
        assert_eq!(m1.reason, Some(DeliveryReason::NoConsent));
    }
}

on_both_backends!(consents_bound_the_campaigns_a_member_gets);

/// Quiet hours (21:00–09:00 by default) and the cap hold in Asia/Shanghai.
async fn quiet_hours_and_caps_hold_in_shanghai(backend: Backend) {
    // 22:30 in Shanghai.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 14, 30, 0).unwrap(),
    ));
    let app = start(backend, clock.clone()).await;
    let ids = bulk_members(&app, 0..1, |_| true, |_| 5).await;
    let capped = |name: &str| CampaignInput {
        quiet_hours: None,
        cap: Some((2, 7)),
        ..input(name, SegmentRule::everyone())
    };
    let first = launch(&app, capped("夜间")).await;
    let w = Dispatcher::with_settings("w", settings());
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, 0);
    // 08:59 the next morning: still quiet.
    clock.set(Utc.with_ymd_and_hms(2026, 12, 2, 0, 59, 0).unwrap());
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, 0);
    assert_eq!(app.wechat.sent_count(), 0);
    // 09:00 in Shanghai.
    clock.set(Utc.with_ymd_and_hms(2026, 12, 2, 1, 0, 0).unwrap());
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, 1);
    assert_eq!(status(&app, first).await, "COMPLETED");

    // The cap: two messages per seven days across campaigns.
    let second = launch(&app, capped("第二")).await;
    let third = launch(&app, capped("第三")).await;
    let r = w.run_due(&app.state, None).await.unwrap();
    assert_eq!((r.sent, r.skipped), (1, 1));
    assert_eq!(deliveries(&app, second).await[0].state, DeliveryState::Sent);
    assert_eq!(
        deliveries(&app, third).await[0].reason,
        Some(DeliveryReason::OverCap)
    );
    assert_eq!(
        remaining(&app, ids[0]).await,
        3,
        "a capped member keeps the consent"
    );
    // A week later the cap has room again.
    clock.advance(Duration::days(7) + Duration::minutes(1));
    launch(&app, capped("第四")).await;
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, 1);
    assert_eq!(app.wechat.sent_count(), 3);
}

on_both_backends!(quiet_hours_and_caps_hold_in_shanghai);

/// 45011 backs off, 45009 stops for the day, -1 and 5xx retry; nothing is lost or doubled.
async fn wechat_faults_back_off_stop_and_retry(backend: Backend) {
    const N: i64 = 20;
    let clock = Arc::new(ManualClock::new(noon()));
    let app = start(backend, clock.clone()).await;
    let ids = bulk_members(&app, 0..N, |_| true, |_| 1).await;
    let settings = CampaignSettings {
        concurrency: 1,
        batch_size: 5,
        ..settings()
    };
    let w = Dispatcher::with_settings("w", settings.clone());

    // 45011: back off, then carry on.
    let a = launch(&app, input("限流", SegmentRule::everyone())).await;
    app.wechat
        .set_fault_times(FaultScope::SubscribeSend, Some(Fault::RateLimited), Some(1));
    let r = w.run_due(&app.state, None).await.unwrap();
    assert!(r.rate_limited);
    assert_eq!(r.sent, 0);
    assert_eq!(
        w.run_due(&app.state, None).await.unwrap().sent,
        0,
        "backing off"
    );
    clock.advance(Duration::seconds(settings.rate_limit_backoff_secs + 1));
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, N as u64);
    assert_eq!(status(&app, a).await, "COMPLETED");
    for id in &ids {
        assert_eq!(remaining(&app, *id).await, 0);
    }

    // 45009: stop for the day (every campaign), go on after local midnight.
    add_consents(&app, 0..N, &ids, 1).await;
    let b = launch(&app, input("配额", SegmentRule::everyone())).await;
    app.wechat
        .set_fault_times(FaultScope::SubscribeSend, Some(Fault::DailyQuota), Some(1));
    let r = w.run_due(&app.state, None).await.unwrap();
    assert!(r.day_stopped);
    assert_eq!(r.sent, 0);
    clock.advance(Duration::hours(6));
    let r = w.run_due(&app.state, None).await.unwrap();
    assert!(r.day_stopped, "still the same day in Shanghai");
    assert_eq!(r.sent, 0);
    // 00:00 on 2 December in Shanghai.
    clock.set(Utc.with_ymd_and_hms(2026, 12, 1, 16, 0, 0).unwrap());
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, N as u64);
    assert_eq!(status(&app, b).await, "COMPLETED");

    // -1 twice and one 502: retried after a back-off, none lost.
    clock.set(Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap());
    add_consents(&app, 0..N, &ids, 1).await;
    let c = launch(&app, input("重试", SegmentRule::everyone())).await;
    app.wechat
        .set_fault_times(FaultScope::SubscribeSend, Some(Fault::Busy), Some(2));
    let r = w.run_due(&app.state, None).await.unwrap();
    assert_eq!((r.sent, r.deferred), (N as u64 - 2, 2));
    app.wechat
        .set_fault_times(FaultScope::SubscribeSend, Some(Fault::ServerError), Some(1));
    assert_eq!(
        w.run_due(&app.state, None).await.unwrap().sent,
        0,
        "not due yet"
    );
    clock.advance(Duration::seconds(settings.retry_backoff_secs + 1));
    let r = w.run_due(&app.state, None).await.unwrap();
    assert_eq!((r.sent, r.deferred), (1, 1), "the 502 is retried too");
    clock.advance(Duration::seconds(settings.retry_backoff_secs * 2 + 1));
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, 1);
    assert_eq!(status(&app, c).await, "COMPLETED");

    let received = app.wechat.sent_per_user();
    assert_eq!(received.len(), N as usize);
    assert!(received.values().all(|n| *n == 3), "{received:?}");
    for id in [a, b, c] {
        let r = campaigns::report_of(&app.state, id).await.unwrap();
        assert_eq!((r.sent, r.failed, r.pending), (N, 0, 0), "{r:?}");
    }
}

on_both_backends!(wechat_faults_back_off_stop_and_retry);

const CREATE: &str = "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id status quietHours { start end } capMessages } }";

/// HQ registers a template; a campaign whose values break a key's rule is refused before
/// anything is sent, naming the key; the life cycle moves only along its arrows.
async fn campaign_values_are_checked_before_any_send(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    hq.ok(
        "mutation($i: RegisterSubscriptionTemplateInput!) { registerSubscriptionTemplate(input: $i) { id keys { key kind } } }",
        json!({ "i": { "templateId": TPL, "title": "活动通知", "keys": [
            { "key": "thing1", "kind": "thing" }, { "key": "name2", "kind": "name" }, { "key": "amount3", "kind": "amount" }
        ] } }),
    )
    .await;
    let mismatch = hq.raw(
        "mutation($i: RegisterSubscriptionTemplateInput!) { registerSubscriptionTemplate(input: $i) { id } }",
        json!({ "i": { "templateId": "tpl_other", "title": "x", "keys": [{ "key": "thing1", "kind": "amount" }] } }),
    ).await;
    assert_eq!(
        rouge_tests::graphql::code_of(&mismatch).as_deref(),
        Some("BAD_USER_INPUT")
    );

    let campaign = |thing: &str, amount: &str| {
        json!({ "i": {
            "name": "双十二",
            "segment": { "all": [{ "marketingConsent": true }, { "any": [{ "tiers": ["MEMBER"] }, { "skinTypes": ["OILY"] }] }] },
            "templateId": TPL,
            "values": [
                { "key": "thing1", "value": thing },
                { "key": "name2", "value": "{{nickname}}" },
                { "key": "amount3", "value": amount }
            ],
            "page": "pages/campaign/index",
            "cap": { "messages": 3, "days": 7 }
        } })
    };
    for (vars, key) in [
        (campaign(&"超".repeat(21), "¥50"), "thing1"),
        (campaign("冬季礼遇", "五十元"), "amount3"),
        (campaign("{{birthday}}", "¥50"), "thing1"),
    ] {
        let body = hq.raw(CREATE, vars).await;
        assert_eq!(
            rouge_tests::graphql::code_of(&body).as_deref(),
            Some("BAD_USER_INPUT")
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(key), "{message}");
    }
    assert_eq!(
        campaign::Entity::find().count(app.db()).await.unwrap(),
        0,
        "nothing was created"
    );

    let made = hq.ok(CREATE, campaign("冬季礼遇", "¥50")).await;
    assert_eq!(made["createCampaign"]["status"], "DRAFT");
    assert_eq!(
        made["createCampaign"]["quietHours"],
        json!({ "start": "21:00", "end": "09:00" })
    );
    let id = made["createCampaign"]["id"].as_str().unwrap().to_owned();
    let step = |op: &str| format!("mutation($id: ID!) {{ {op}(id: $id) {{ status }} }}");
    let v = json!({ "id": id });
    assert_eq!(
        hq.ok(&step("scheduleCampaign"), v.clone()).await["scheduleCampaign"]["status"],
        "SCHEDULED"
    );
    assert_eq!(
        hq.ok(&step("pauseCampaign"), v.clone()).await["pauseCampaign"]["status"],
        "PAUSED"
    );
    assert_eq!(
        hq.ok(&step("resumeCampaign"), v.clone()).await["resumeCampaign"]["status"],
        "SCHEDULED"
    );
    assert_eq!(
        hq.ok(&step("cancelCampaign"), v.clone()).await["cancelCampaign"]["status"],
        "CANCELLED"
    );
    assert_eq!(hq.err(&step("resumeCampaign"), v.clone()).await, "CONFLICT");
    Dispatcher::with_settings("w", settings())
        .run_due(&app.state, None)
        .await
        .unwrap();
    assert_eq!(app.wechat.sent_count(), 0);

    // The preview counts in the database and masks the sample.
    let preview = hq
        .ok(
            "query($r: SegmentRuleInput!) { previewSegment(rule: $r) { count sample { id nickname memberCode } } }",
            json!({ "r": { "all": [{ "marketingConsent": true }, { "not": { "tags": ["无此标签"] } }] } }),
        )
        .await;
    // Every demo member consents and none carries the tag.
    let count = preview["previewSegment"]["count"].as_u64().unwrap();
    assert_eq!(count, domain::seed::DEMO_MEMBERS.len() as u64);
    let sample = preview["previewSegment"]["sample"].as_array().unwrap();
    assert_eq!(sample.len() as u64, count);
    for m in sample {
        assert!(m["nickname"].as_str().unwrap().contains('*'), "{m}");
    }
    let report = hq
        .ok(
            "query($id: ID!) { campaignReport(id: $id) { audience sent failed orders revenueFen } }",
            v,
        )
        .await;
    assert_eq!(report["campaignReport"]["sent"], 0);
}

on_both_backends!(campaign_values_are_checked_before_any_send);

struct Shopper {
    id: i64,
}

async fn shopper(
    app: &TestApp,
    code: &str,
    edit: impl FnOnce(&mut member::ActiveModel),
) -> Shopper {
    let now = app.state.clock.now();
    let mut row = member::ActiveModel {
        member_code: Set(code.into()),
        openid: Set(format!("o{code:0>27}")),
        unionid: Set(None),
        nickname: Set(Some("顾客".into())),
        gender: Set(entities::member::Gender::Female),
        birthday: Set(None),
        region_province: Set(None),
        region_city: Set(None),
        region_district: Set(None),
        skin_type: Set(None),
        skin_concerns: Set(0),
        marketing_consent: Set(true),
        marketing_consent_at: Set(None),
        phone_cipher: Set(None),
        phone_index: Set(None),
        phone_masked: Set(None),
        tier_code: Set("MEMBER".into()),
        cumulative_spend_fen: Set(0),
        exclusive_ba_id: Set(None),
        profile_updated_at: Set(None),
        profile_updated_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    edit(&mut row);
    let id = member::Entity::insert(row)
        .exec(app.db())
        .await
        .unwrap()
        .last_insert_id;
    member_tag::Entity::insert(member_tag::ActiveModel {
        member_id: Set(id),
        name: Set("seg-test".into()),
        source: Set(entities::member_tag::TagSource::Manual),
        created_by: Set(None),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
    Shopper { id }
}

async fn paid_order(
    app: &TestApp,
    location: i64,
    member_id: i64,
    sku_id: i64,
    total: i64,
    paid_at: DateTime<Utc>,
) {
    let no = format!("T{}", uuid::Uuid::new_v4().simple());
    let order_id = order::Entity::insert(order::ActiveModel {
        order_no: Set(no.chars().take(30).collect()),
        member_id: Set(member_id),
        channel: Set(order::Channel::InStore),
        fulfilment: Set(order::FulfilmentKind::Counter),
        store_id: Set(None),
        location_id: Set(location),
        status: Set(order::OrderStatus::Paid),
        subtotal_fen: Set(total),
        discount_fen: Set(0),
        total_fen: Set(total),
        refunded_fen: Set(0),
        payment_method: Set(Some(order::PaymentMethod::Cash)),
        transaction_id: Set(None),
        ba_id: Set(None),
        idempotency_key: Set(None),
        request_hash: Set(None),
        delivery_address: Set(None),
        pay_deadline: Set(None),
        paid_at: Set(Some(paid_at)),
        closed_at: Set(None),
        created_at: Set(paid_at),
        updated_at: Set(paid_at),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap()
    .last_insert_id;
    order_line::Entity::insert(order_line::ActiveModel {
        order_id: Set(order_id),
        sku_id: Set(sku_id),
        product_name: Set("x".into()),
        sku_label: Set("x".into()),
        quantity: Set(1),
        unit_price_fen: Set(total),
        discount_fen: Set(0),
        line_total_fen: Set(total),
        refunded_quantity: Set(0),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
}

/// Segment rules run as SQL on both databases; lifecycle and RFM come from the nightly job;
/// orders by recipients within the window count to the campaign (last touch).
async fn segments_run_in_sql_and_orders_are_attributed(backend: Backend) {
    let clock = Arc::new(ManualClock::new(noon()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    register_template(&app).await;
    let cat = fixtures::catalog(&app, 50).await;
    let now = clock.now();
    let day = |d: i64| now - Duration::days(d);
    let m1 = shopper(&app, "S1", |m| {
        m.skin_type = Set(Some(domain::members::SkinType::Oily));
        m.skin_concerns = Set(domain::members::SkinConcern::to_bits(&[
            domain::members::SkinConcern::Acne,
            domain::members::SkinConcern::Pores,
        ]));
        m.region_province = Set(Some("上海".into()));
        m.birthday = Set(NaiveDate::from_ymd_opt(1990, 3, 15));
    })
    .await;
    let m2 = shopper(&app, "S2", |m| {
        m.skin_type = Set(Some(domain::members::SkinType::Dry));
        m.skin_concerns = Set(domain::members::SkinConcern::to_bits(&[
            domain::members::SkinConcern::Ageing,
        ]));
        m.region_province = Set(Some("北京".into()));
        m.birthday = Set(NaiveDate::from_ymd_opt(1985, 12, 1));
        m.marketing_consent = Set(false);
        m.created_at = Set(now - Duration::days(400));
    })
    .await;
    let m3 = shopper(&app, "S3", |m| {
        m.skin_type = Set(Some(domain::members::SkinType::Sensitive));
        m.region_province = Set(Some("上海".into()));
    })
    .await;
    paid_order(
        &app,
        cat.store_location,
        m1.id,
        cat.serum_sku,
        29_900,
        day(10),
    )
    .await;
    paid_order(
        &app,
        cat.store_location,
        m1.id,
        cat.cream_sku,
        19_900,
        day(60),
    )
    .await;
    paid_order(
        &app,
        cat.store_location,
        m2.id,
        cat.cream_sku,
        19_900,
        day(120),
    )
    .await;
    insights::recompute(&app.state, now).await.unwrap();

    let tagged = |rule: SegmentRule| SegmentRule::All {
        rules: vec![
            SegmentRule::Tag {
                names: vec!["seg-test".into()],
            },
            rule,
        ],
    };
    let select = |rule: SegmentRule| {
        let app = &app;
        async move {
            let p = segments::preview(&app.state, &tagged(rule), 20)
                .await
                .unwrap();
            let ids: HashSet<i64> = p.sample.iter().map(|m| m.member_id).collect();
            assert_eq!(p.count as usize, ids.len());
            ids
        }
    };
    let set = |list: &[&Shopper]| list.iter().map(|s| s.id).collect::<HashSet<i64>>();
    use SegmentRule as R;
    assert_eq!(select(R::everyone()).await, set(&[&m1, &m2, &m3]));
    assert_eq!(
        select(R::SkinType {
            types: vec![SkinType::Oily]
        })
        .await,
        set(&[&m1])
    );
    assert_eq!(
        select(R::SkinConcern {
            concerns: vec![SkinConcern::Ageing, SkinConcern::Acne]
        })
        .await,
        set(&[&m1, &m2])
    );
    assert_eq!(
        select(R::Region {
            province: "上海".into(),
            city: None
        })
        .await,
        set(&[&m1, &m3])
    );
    assert_eq!(
        select(R::BirthdayMonth {
            months: vec![3, 12]
        })
        .await,
        set(&[&m1, &m2])
    );
    assert_eq!(
        select(R::MarketingConsent { value: false }).await,
        set(&[&m2])
    );
    assert_eq!(
        select(R::LastPurchaseAfter { at: day(30) }).await,
        set(&[&m1])
    );
    assert_eq!(
        select(R::LastPurchaseBefore { at: day(30) }).await,
        set(&[&m2])
    );
    assert_eq!(
        select(R::BoughtProduct {
            product_ids: vec![cat.serum]
        })
        .await,
        set(&[&m1])
    );
    assert_eq!(
        select(R::BoughtCategory {
            category_ids: vec![cat.category]
        })
        .await,
        set(&[&m1, &m2])
    );
    assert_eq!(
        select(R::Any {
            rules: vec![
                R::SkinType {
                    types: vec![SkinType::Sensitive]
                },
                R::Not {
                    rule: Box::new(R::MarketingConsent { value: true })
                },
            ]
        })
        .await,
        set(&[&m2, &m3])
    );
    assert_eq!(
        select(R::Lifecycle {
            stages: vec![Lifecycle::Active]
        })
        .await,
        set(&[&m1])
    );
    assert_eq!(
        select(R::Lifecycle {
            stages: vec![Lifecycle::AtRisk]
        })
        .await,
        set(&[&m2])
    );
    assert_eq!(
        select(R::Lifecycle {
            stages: vec![Lifecycle::New]
        })
        .await,
        set(&[&m3])
    );
    assert_eq!(
        select(R::Rfm {
            segments: vec![RfmSegment::Prospect]
        })
        .await,
        set(&[&m3])
    );
    assert_eq!(
        select(R::Tier {
            codes: vec!["MEMBER".into()]
        })
        .await,
        set(&[&m1, &m2, &m3])
    );

    // Attribution: a campaign to m1 and m3; m1 buys two days later and again after the window.
    for s in [&m1, &m3] {
        subscription_consent::Entity::insert(subscription_consent::ActiveModel {
            member_id: Set(s.id),
            template_id: Set(TPL.into()),
            remaining: Set(1),
            updated_at: Set(now),
        })
        .exec_without_returning(app.db())
        .await
        .unwrap();
    }
    app.wechat.add_consents(&format!("o{:0>27}", "S1"), TPL, 1);
    app.wechat.add_consents(&format!("o{:0>27}", "S3"), TPL, 1);
    let id = launch(
        &app,
        input("回购", tagged(R::MarketingConsent { value: true })),
    )
    .await;
    let r = Dispatcher::with_settings("w", settings())
        .run_due(&app.state, None)
        .await
        .unwrap();
    assert_eq!(r.sent, 2);
    let page = app
        .wechat
        .sent_messages()
        .last()
        .and_then(|m| m.page.clone())
        .unwrap();
    assert_eq!(page, format!("pages/campaign/index?campaign={id}"));
    paid_order(
        &app,
        cat.store_location,
        m1.id,
        cat.serum_sku,
        29_900,
        now + Duration::days(2),
    )
    .await;
    paid_order(
        &app,
        cat.store_location,
        m1.id,
        cat.serum_sku,
        10_000,
        now + Duration::days(10),
    )
    .await;
    paid_order(
        &app,
        cat.store_location,
        m2.id,
        cat.cream_sku,
        19_900,
        now + Duration::days(1),
    )
    .await;
    let report = campaigns::report_of(&app.state, id).await.unwrap();
    assert_eq!((report.audience, report.sent), (2, 2));
    assert_eq!(
        (report.orders, report.revenue_fen),
        (1, 29_900),
        "{report:?}"
    );
}

on_both_backends!(segments_run_in_sql_and_orders_are_attributed);

/// A campaign with a coupon issues one copy to each recipient just before the message (which
/// names it); when the template runs out the rest are skipped with their consent given back,
/// a second dispatch gives nothing twice, and the report counts the copies. A campaign cannot
/// name a template that does not exist.
async fn a_coupon_campaign_issues_one_coupon_per_recipient(backend: Backend) {
    let clock = Arc::new(ManualClock::new(noon()));
    let app = start(backend, clock).await;
    let ids = bulk_members(&app, 0..5, |_| true, |_| 1).await;
    let missing = campaigns::create(
        &app.state,
        &hq(),
        CampaignInput {
            coupon_template_id: Some(999_999),
            ..input("送券", SegmentRule::everyone())
        },
    )
    .await;
    assert!(matches!(
        missing,
        Err(campaigns::CampaignsError::InvalidInput(_))
    ));
    let coupon = domain::coupons::create_template(
        &app.state,
        &hq(),
        domain::coupons::NewTemplate {
            name: "冬季礼券".into(),
            kind: domain::coupons::CouponKind::Cash,
            threshold_fen: None,
            reduction_fen: None,
            percent_off: None,
            cap_fen: None,
            amount_fen: Some(2_000),
            gift_sku_id: None,
            total_quantity: 3,
            per_member_limit: 1,
            validity: domain::coupons::Validity::DaysFromIssue(30),
            scope: domain::coupons::Scope::default(),
            stacks_with_coupons: true,
            stacks_with_flash_sale: false,
            birthday: false,
        },
    )
    .await
    .unwrap();
    let mut with_coupon = values();
    with_coupon.insert("thing1".into(), "{{coupon}}".into());
    let id = launch(
        &app,
        CampaignInput {
            coupon_template_id: Some(coupon.id),
            values: with_coupon,
            ..input("送券", SegmentRule::everyone())
        },
    )
    .await;
    let dispatcher = Dispatcher::with_settings("w", settings());
    dispatcher.run_due(&app.state, None).await.unwrap();
    dispatcher.run_due(&app.state, None).await.unwrap();

    let sent = app.wechat.sent_messages();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|m| m.data["thing1"] == "冬季礼券"));
    let holders: HashSet<i64> = entities::coupon::Entity::find()
        .filter(entities::coupon::Column::TemplateId.eq(coupon.id))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            assert_eq!(c.source, entities::coupon::CouponSource::Campaign);
            c.member_id
        })
        .collect();
    assert_eq!(holders.len(), 3);
    for member_id in &ids {
        // Recipients used their consent; the skipped kept theirs.
        let expected = if holders.contains(member_id) { 0 } else { 1 };
        assert_eq!(remaining(&app, *member_id).await, expected);
    }
    let report = campaigns::report_of(&app.state, id).await.unwrap();
    assert_eq!((report.sent, report.coupons_issued), (3, 3), "{report:?}");
    assert_eq!(
        report.skipped_by_reason,
        vec![("COUPON_SOLD_OUT".to_owned(), 2)]
    );
}

on_both_backends!(a_coupon_campaign_issues_one_coupon_per_recipient);

/// The birthday automation creates one campaign a day that goes through the dispatcher.
async fn birthday_automation_greets_once_a_day(backend: Backend) {
    let clock = Arc::new(ManualClock::new(noon()));
    let app = start(backend, clock.clone()).await;
    let ids = bulk_members(&app, 0..3, |_| true, |_| 2).await;
    // Member 0 was born on 1 December (today in Shanghai).
    member::Entity::update_many()
        .col_expr(
            member::Column::Birthday,
            sea_orm::sea_query::Expr::value(NaiveDate::from_ymd_opt(1995, 12, 1)),
        )
        .filter(member::Column::Id.eq(ids[0]))
        .exec(app.db())
        .await
        .unwrap();
    automations::configure(
        &app.state,
        &hq(),
        automations::Automation {
            kind: AutomationKind::Birthday,
            enabled: true,
            template_id: TPL.into(),
            values: values(),
            page: "pages/birthday/index".into(),
            days: 0,
            coupon_template_id: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(automations::run(&app.state).await.unwrap(), 1);
    assert_eq!(automations::run(&app.state).await.unwrap(), 0, "once a day");
    let w = Dispatcher::with_settings("w", settings());
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, 1);
    let received = app.wechat.sent_per_user();
    assert_eq!(received.get(&openid(0)), Some(&1));
    assert_eq!(received.len(), 1);
    let made = campaign::Entity::find()
        .filter(campaign::Column::Kind.eq("BIRTHDAY"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(made, 1);
}

on_both_backends!(birthday_automation_greets_once_a_day);

/// Two workers on one campaign at once share it through their claims: nobody gets two.
async fn concurrent_workers_share_a_campaign(backend: Backend) {
    const N: i64 = 3_000;
    let clock = Arc::new(ManualClock::new(noon()));
    let app = start(backend, clock).await;
    bulk_members(&app, 0..N, |_| true, |_| 1).await;
    let id = launch(&app, input("并发", SegmentRule::everyone())).await;
    let settings = CampaignSettings {
        batch_size: 50,
        audience_page: 500,
        lanes: 2,
        ..settings()
    };
    let a = Dispatcher::with_settings("a", settings.clone());
    let b = Dispatcher::with_settings("b", settings);
    let (ra, rb) = tokio::join!(a.run_due(&app.state, None), b.run_due(&app.state, None));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.sent + rb.sent, N as u64);
    if backend == Backend::Production {
        assert!(
            ra.sent > 0 && rb.sent > 0,
            "both workers took part: {ra:?} {rb:?}"
        );
    }
    assert_eq!(app.wechat.duplicate_recipients(), (0, 0));
    assert_eq!(app.wechat.sent_count(), N as u64);
    assert_eq!(status(&app, id).await, "COMPLETED");
}

on_both_backends!(concurrent_workers_share_a_campaign);

// ------------------------------------------------------------------------------------------
// Booking history and the repurchase reminder

/// A local time in Shanghai.
fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    domain::platform::clock::DEFAULT_ZONE
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

async fn booking_service(app: &TestApp, code: &str) -> i64 {
    let now = app.state.clock.now();
    entities::booking_service::Entity::insert(entities::booking_service::ActiveModel {
        store_id: Set(None),
        code: Set(code.into()),
        name: Set(format!("服务{code}")),
        duration_minutes: Set(60),
        buffer_minutes: Set(0),
        price_fen: Set(0),
        required_skills: Set(Default::default()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap()
    .last_insert_id
}

async fn booked(
    app: &TestApp,
    cat: &fixtures::Catalog,
    member_id: i64,
    service_id: i64,
    starts_at: DateTime<Utc>,
    status: &str,
) {
    entities::booking::Entity::insert(entities::booking::ActiveModel {
        member_id: Set(member_id),
        store_id: Set(cat.store_id),
        service_id: Set(service_id),
        ba_id: Set(cat.hq.staff_id),
        starts_at: Set(starts_at),
        ends_at: Set(starts_at + Duration::hours(1)),
        holds_until: Set(starts_at + Duration::hours(1)),
        status: Set(domain::booking::BookingStatus::try_from_value(&status.to_owned()).unwrap()),
        price_fen: Set(0),
        idempotency_key: Set(uuid::Uuid::new_v4().to_string()),
        request_hash: Set("x".into()),
        checked_in_at: Set(None),
        checked_in_by: Set(None),
        redeemed_at: Set(None),
        redeemed_by: Set(None),
        products_used: Set(None),
        notes: Set(None),
        cancelled_at: Set(None),
        reminder_sent_at: Set(None),
        reminder_outcome: Set(None),
        created_at: Set(starts_at - Duration::days(1)),
        updated_at: Set(starts_at),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
}

const PREVIEW: &str =
    "query($r: SegmentRuleInput!) { previewSegment(rule: $r) { count sample { id } } }";

/// The booking-history rule selects by service, status (redeemed, no-show, any not
/// cancelled) and local days in Shanghai, counted by `previewSegment`; inverted days and an
/// unknown service are refused.
async fn booking_history_selects_the_right_members(backend: Backend) {
    let clock = Arc::new(ManualClock::new(noon()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 5).await;
    let facial = booking_service(&app, "SEG-FACIAL").await;
    let lesson = booking_service(&app, "SEG-LESSON").await;
    let redeemed = shopper(&app, "BK1", |_| {}).await;
    let no_show = shopper(&app, "BK2", |_| {}).await;
    let lesson_only = shopper(&app, "BK3", |_| {}).await;
    let cancelled = shopper(&app, "BK4", |_| {}).await;
    let none = shopper(&app, "BK5", |_| {}).await;
    for (member_id, service_id, starts_at, status) in [
        (
            redeemed.id,
            facial,
            shanghai(2026, 11, 20, 14, 0),
            "REDEEMED",
        ),
        (no_show.id, facial, shanghai(2026, 11, 25, 10, 0), "NO_SHOW"),
        // 00:30 on 30 November in Shanghai is still 29 November in UTC.
        (
            lesson_only.id,
            lesson,
            shanghai(2026, 11, 30, 0, 30),
            "REDEEMED",
        ),
        (
            cancelled.id,
            facial,
            shanghai(2026, 11, 21, 15, 0),
            "CANCELLED",
        ),
    ] {
        booked(&app, &cat, member_id, service_id, starts_at, status).await;
    }

    let gql = app.login_staff("hq-demo").await;
    let select = |rule: serde_json::Value| {
        let gql = &gql;
        async move {
            let body = gql
                .ok(
                    PREVIEW,
                    json!({ "r": { "all": [{ "tags": ["seg-test"] }, rule] } }),
                )
                .await;
            let ids: HashSet<i64> = body["previewSegment"]["sample"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().parse().unwrap())
                .collect();
            let count = body["previewSegment"]["count"].as_u64().unwrap();
            assert_eq!(count as usize, ids.len(), "{body}");
            ids
        }
    };
    let set = |list: &[&Shopper]| list.iter().map(|s| s.id).collect::<HashSet<i64>>();
    let facial_id = facial.to_string();
    assert_eq!(
        select(json!({ "booked": { "serviceId": facial_id, "status": "REDEEMED" } })).await,
        set(&[&redeemed])
    );
    assert_eq!(
        select(json!({ "booked": { "serviceId": facial_id, "status": "NO_SHOW" } })).await,
        set(&[&no_show])
    );
    assert_eq!(
        select(json!({ "booked": { "serviceId": facial_id } })).await,
        set(&[&redeemed, &no_show]),
        "any status but cancelled"
    );
    assert_eq!(
        select(json!({ "booked": { "serviceId": facial_id, "status": "CANCELLED" } })).await,
        set(&[&cancelled])
    );
    assert_eq!(
        select(json!({ "booked": {} })).await,
        set(&[&redeemed, &no_show, &lesson_only])
    );
    assert_eq!(
        select(json!({ "booked": { "status": "REDEEMED" } })).await,
        set(&[&redeemed, &lesson_only])
    );
    assert_eq!(
        select(json!({ "not": { "booked": {} } })).await,
        set(&[&cancelled, &none])
    );
    // Local days in Shanghai: `since` is inclusive, `before` exclusive.
    assert_eq!(
        select(json!({ "booked": { "status": "REDEEMED", "since": "2026-11-30" } })).await,
        set(&[&lesson_only])
    );
    assert_eq!(
        select(json!({ "booked": { "status": "REDEEMED", "before": "2026-11-30" } })).await,
        set(&[&redeemed])
    );
    assert_eq!(
        select(json!({ "booked": { "since": "2026-11-20", "before": "2026-11-21" } })).await,
        set(&[&redeemed])
    );
    assert_eq!(
        select(json!({ "booked": { "since": "2026-11-21", "before": "2026-11-30" } })).await,
        set(&[&no_show])
    );

    // Inverted (or empty) day ranges and an unknown service are refused.
    for rule in [
        json!({ "booked": { "since": "2026-11-30", "before": "2026-11-01" } }),
        json!({ "booked": { "since": "2026-11-30", "before": "2026-11-30" } }),
        json!({ "booked": { "serviceId": "999999" } }),
        json!({ "any": [{ "booked": { "serviceId": "999999", "status": "REDEEMED" } }] }),
    ] {
        assert_eq!(
            gql.err(PREVIEW, json!({ "r": rule })).await,
            "BAD_USER_INPUT",
            "{rule}"
        );
    }
    // A campaign on an unknown service is refused too.
    assert!(matches!(
        campaigns::create(
            &app.state,
            &hq(),
            input(
                "预约回访",
                SegmentRule::Booked {
                    service_id: Some(999_999),
                    status: None,
                    since: None,
                    before: None,
                },
            ),
        )
        .await,
        Err(campaigns::CampaignsError::InvalidInput(_))
    ));
}

on_both_backends!(booking_history_selects_the_right_members);

/// An order of one SKU at a local time, in a status.
async fn bought(
    app: &TestApp,
    cat: &fixtures::Catalog,
    member: &Shopper,
    sku_id: i64,
    at: DateTime<Utc>,
    status: &str,
) {
    paid_order(app, cat.store_location, member.id, sku_id, 10_000, at).await;
    if status != "PAID" {
        let last = order::Entity::find()
            .filter(order::Column::MemberId.eq(member.id))
            .all(app.db())
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .max()
            .unwrap();
        order::Entity::update_many()
            .col_expr(
                order::Column::Status,
                sea_orm::sea_query::Expr::value(status),
            )
            .filter(order::Column::Id.eq(last))
            .exec(app.db())
            .await
            .unwrap();
    }
}

/// The repurchase reminder: members whose own cycle for a category comes due `days` ahead of
/// today (Shanghai) get one message through the dispatcher; members not due, with a single
/// purchase day, who re-bought, whose only "second purchase" was refunded in full, whose
/// purchases are in different categories, or who bought today do not.
async fn repurchase_automation_reminds_members_due(backend: Backend) {
    let clock = Arc::new(ManualClock::new(noon()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    register_template(&app).await;
    let skin = fixtures::catalog(&app, 50).await;
    let other = fixtures::catalog(&app, 50).await;
    // Today is 1 December 2026 in Shanghai; with 3 days of lead the due day is 4 December.
    let consent = |s: &Shopper, code: &str| {
        let app = &app;
        let (id, code) = (s.id, code.to_owned());
        async move {
            subscription_consent::Entity::insert(subscription_consent::ActiveModel {
                member_id: Set(id),
                template_id: Set(TPL.into()),
                remaining: Set(3),
                updated_at: Set(app.state.clock.now()),
            })
            .exec_without_returning(app.db())
            .await
            .unwrap();
            app.wechat.add_consents(&format!("o{code:0>27}"), TPL, 3);
        }
    };
    let mut members = Vec::new();
    for code in [
        "RP1", "RP2", "RP3", "RP4", "RP5", "RP6", "RP7", "RP8", "RP9",
    ] {
        let s = shopper(&app, code, |m| {
            if code == "RP9" {
                m.marketing_consent = Set(false);
            }
        })
        .await;
        consent(&s, code).await;
        members.push(s);
    }
    let [
        regular,
        not_due,
        single,
        rebought,
        refunded,
        mixed,
        other_cat,
        today_buyer,
        no_marketing,
    ] = <[Shopper; 9]>::try_from(members).ok().unwrap();

    for (category, member, sku_id, at, status) in [
        // Regular: 3 Sep, 2 Oct (twice that day; 07:00 local is 1 Oct in UTC) and 3 Nov: 61 days
        // over 2 gaps = a cycle of 30.5, rounded to 31: due 4 December.
        (
            &skin,
            &regular,
            skin.serum_sku,
            shanghai(2026, 9, 3, 15, 0),
            "PAID",
        ),
        (
            &skin,
            &regular,
            skin.cream_sku,
            shanghai(2026, 10, 2, 7, 0),
            "PAID",
        ),
        (
            &skin,
            &regular,
            skin.serum_sku,
            shanghai(2026, 10, 2, 23, 30),
            "PARTIALLY_REFUNDED",
        ),
        (
            &skin,
            &regular,
            skin.serum_sku,
            shanghai(2026, 11, 3, 0, 30),
            "PAID",
        ),
        // Not due: 5 Oct and 4 Nov, a 30-day cycle due 4 December... plus one day: due 5 December.
        (
            &skin,
            &not_due,
            skin.serum_sku,
            shanghai(2026, 10, 6, 12, 0),
            "PAID",
        ),
        (
            &skin,
            &not_due,
            skin.serum_sku,
            shanghai(2026, 11, 5, 12, 0),
            "PAID",
        ),
        // A single purchase day (two orders on 4 November).
        (
            &skin,
            &single,
            skin.serum_sku,
            shanghai(2026, 11, 4, 10, 0),
            "PAID",
        ),
        (
            &skin,
            &single,
            skin.cream_sku,
            shanghai(2026, 11, 4, 20, 0),
            "PAID",
        ),
        // Due 4 December on 5 Oct / 4 Nov, but bought again on 28 November.
        (
            &skin,
            &rebought,
            skin.serum_sku,
            shanghai(2026, 10, 5, 12, 0),
            "PAID",
        ),
        (
            &skin,
            &rebought,
            skin.serum_sku,
            shanghai(2026, 11, 4, 12, 0),
            "PAID",
        ),
        (
            &skin,
            &rebought,
            skin.cream_sku,
            shanghai(2026, 11, 28, 12, 0),
            "PAID",
        ),
        // The second purchase was refunded in full (and an unpaid one does not count either).
        (
            &skin,
            &refunded,
            skin.serum_sku,
            shanghai(2026, 10, 5, 12, 0),
            "PAID",
        ),
        (
            &skin,
            &refunded,
            skin.serum_sku,
            shanghai(2026, 11, 4, 12, 0),
            "REFUNDED",
        ),
        (
            &skin,
            &refunded,
            skin.serum_sku,
            shanghai(2026, 11, 4, 13, 0),
            "CLOSED",
        ),
        // One purchase in each of two categories: no cycle in either.
        (
            &skin,
            &mixed,
            skin.serum_sku,
            shanghai(2026, 10, 5, 12, 0),
            "PAID",
        ),
        (
            &other,
            &mixed,
            other.serum_sku,
            shanghai(2026, 11, 4, 12, 0),
            "PAID",
        ),
        // Regular in the other category (plus one skincare purchase): due 4 December.
        (
            &skin,
            &other_cat,
            skin.serum_sku,
            shanghai(2026, 11, 20, 12, 0),
            "PAID",
        ),
        (
            &other,
            &other_cat,
            other.cream_sku,
            shanghai(2026, 10, 5, 12, 0),
            "PAID",
        ),
        (
            &other,
            &other_cat,
            other.serum_sku,
            shanghai(2026, 11, 4, 12, 0),
            "PAID",
        ),
        // A 3-day cycle ending this morning is due in 3 days, but they bought today.
        (
            &skin,
            &today_buyer,
            skin.serum_sku,
            shanghai(2026, 11, 28, 12, 0),
            "PAID",
        ),
        (
            &skin,
            &today_buyer,
            skin.serum_sku,
            shanghai(2026, 12, 1, 10, 0),
            "PAID",
        ),
        // Due, but without marketing consent.
        (
            &skin,
            &no_marketing,
            skin.serum_sku,
            shanghai(2026, 10, 5, 12, 0),
            "PAID",
        ),
        (
            &skin,
            &no_marketing,
            skin.serum_sku,
            shanghai(2026, 11, 4, 12, 0),
            "PAID",
        ),
    ] {
        bought(&app, category, member, sku_id, at, status).await;
    }

    // The rule itself, as previewSegment counts it.
    let due = |on: &str, category_id: Option<i64>| {
        let app = &app;
        let on = fixtures::date(on);
        async move {
            let rule = SegmentRule::All {
                rules: vec![
                    SegmentRule::Tag {
                        names: vec!["seg-test".into()],
                    },
                    SegmentRule::RepurchaseDue {
                        on,
                        category_id,
                        not_bought_since: None,
                    },
                ],
            };
            let p = segments::preview(&app.state, &rule, 20).await.unwrap();
            let ids: HashSet<i64> = p.sample.iter().map(|m| m.member_id).collect();
            assert_eq!(p.count as usize, ids.len());
            ids
        }
    };
    let set = |list: &[&Shopper]| list.iter().map(|s| s.id).collect::<HashSet<i64>>();
    assert_eq!(
        due("2026-12-04", None).await,
        set(&[&regular, &other_cat, &today_buyer, &no_marketing])
    );
    assert_eq!(
        due("2026-12-04", Some(skin.category)).await,
        set(&[&regular, &today_buyer, &no_marketing])
    );
    assert_eq!(
        due("2026-12-04", Some(other.category)).await,
        set(&[&other_cat])
    );
    assert_eq!(due("2026-12-03", None).await, set(&[]));
    assert_eq!(due("2026-12-05", None).await, set(&[&not_due]));
    // 5 Oct, 4 Nov, 28 Nov: 54 days over 2 gaps, due 25 December.
    assert_eq!(due("2026-12-25", None).await, set(&[&rebought]));
    let hq_gql = app.login_staff("hq-demo").await;
    let body = hq_gql
        .ok(
            PREVIEW,
            json!({ "r": { "all": [{ "tags": ["seg-test"] }, { "repurchaseDue": { "on": "2026-12-04", "notBoughtSince": "2026-12-01" } }] } }),
        )
        .await;
    assert_eq!(body["previewSegment"]["count"], 3, "{body}");
    assert_eq!(
        hq_gql
            .err(
                PREVIEW,
                json!({ "r": { "repurchaseDue": { "on": "2026-12-04", "categoryId": "999999" } } }),
            )
            .await,
        "BAD_USER_INPUT"
    );

    // The automation: one campaign a day, through the dispatcher.
    automations::configure(
        &app.state,
        &hq(),
        automations::Automation {
            kind: AutomationKind::Repurchase,
            enabled: true,
            template_id: TPL.into(),
            values: values(),
            page: "pages/repurchase/index".into(),
            days: 3,
            coupon_template_id: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(automations::run(&app.state).await.unwrap(), 1);
    assert_eq!(automations::run(&app.state).await.unwrap(), 0, "once a day");
    let w = Dispatcher::with_settings("w", settings());
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, 2);
    let received: HashSet<String> = app.wechat.sent_per_user().into_keys().collect();
    let expected: HashSet<String> = ["RP1", "RP7"]
        .iter()
        .map(|c| format!("o{c:0>27}"))
        .collect();
    assert_eq!(received, expected);
    let made = campaign::Entity::find()
        .filter(campaign::Column::Kind.eq("REPURCHASE"))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(made.len(), 1);
    let report = campaigns::report_of(&app.state, made[0].id).await.unwrap();
    assert_eq!((report.audience, report.sent), (2, 2), "{report:?}");

    // The next day the member due on 5 December is reminded, and nobody twice.
    clock.advance(Duration::days(1));
    assert_eq!(automations::run(&app.state).await.unwrap(), 1);
    assert_eq!(w.run_due(&app.state, None).await.unwrap().sent, 1);
    let received = app.wechat.sent_per_user();
    assert_eq!(received.len(), 3);
    assert!(received.values().all(|&n| n == 1), "{received:?}");
    assert_eq!(received.get(&format!("o{:0>27}", "RP2")), Some(&1));
}

on_both_backends!(repurchase_automation_reminds_members_due);
