//! Scan-for-gift end to end: batches, scans, exactly-once gifts under concurrency, guessing,
//! fraud flags and de-identified insight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, Utc};
use domain::auth::{DistributorPrincipal, MemberPrincipal};
use domain::platform::error::StoreError;
use domain::scan_codes::{self as scan, Gift, ScanError, ScanStatus};
use domain::{AppState, RequestMeta};
use futures::StreamExt;
use rouge_tests::fixtures::{self, Catalog};
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::json;

const CREATE: &str = "mutation($i: CreateCodeBatchInput!) { createCodeBatch(input: $i) {
  id count lot territory distributorId active gift { kind points couponTemplateId sampleName } } }";
const SCAN: &str = "mutation($c: String!, $s: ScanSurveyInput, $r: ScanRegionInput) {
  scanCode(code: $c, survey: $s, region: $r) { status skuId lot voucherCode firstScannedAt
  firstScanProvince firstScanCity redeemedByYou gift { kind points sampleName } } }";

async fn dist_id(app: &TestApp) -> i64 {
    entities::distributor_account::Entity::find()
        .filter(entities::distributor_account::Column::Username.eq("dist-demo"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .distributor_id
}

fn batch_input(cat: &Catalog, count: i64, gift: Gift) -> scan::NewBatch {
    let now = Utc::now();
    scan::NewBatch {
        name: "春季精华扫码有礼".into(),
        sku_id: cat.serum_sku,
        count,
        stock_batch_id: None,
        distributor_id: None,
        territory: vec!["上海市".into()],
        gift,
        valid_from: now - Duration::hours(1),
        valid_until: now + Duration::days(30),
        active: true,
    }
}

fn code(app: &TestApp, batch: i64, serial: i64) -> String {
    scan::code_for(&app.state.settings.scan.key, batch, serial).unwrap()
}

/// Members written straight into the database (many, fast), optionally with a region.
async fn make_members(app: &TestApp, n: usize, tag: &str, province: Option<&str>) -> Vec<i64> {
    let now = Utc::now();
    let tag = format!("{tag}{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let rows: Vec<entities::member::ActiveModel> = (0..n)
        .map(|i| entities::member::ActiveModel {
            member_code: Set(format!("S{tag}{i}")),
            openid: Set(format!("scan-{tag}-{i}")),
            gender: Set(entities::member::Gender::Unknown),
            region_province: Set(province.map(str::to_owned)),
            region_city: Set(province.map(str::to_owned)),
            skin_concerns: Set(0),
            marketing_consent: Set(false),
            tier_code: Set("MEMBER".into()),
            cumulative_spend_fen: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(500) {
        entities::member::Entity::insert_many(chunk.to_vec())
            .exec(app.db())
            .await
            .unwrap();
    }
    let mut ids: Vec<i64> = entities::member::Entity::find()
        .filter(entities::member::Column::Openid.starts_with(format!("scan-{tag}-")))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids.len(), n);
    ids
}

fn principal(member_id: i64) -> MemberPrincipal {
    MemberPrincipal {
        member_id,
        session_id: "scan-test".into(),
    }
}

async fn scan_as(
    app: &AppState,
    member_id: i64,
    code: &str,
    survey: scan::Survey,
    region: Option<(&str, &str)>,
) -> Result<scan::ScanOutcome, ScanError> {
    scan::scan(
        app,
        &principal(member_id),
        &RequestMeta::default(),
        scan::ScanInput {
            code: code.to_owned(),
            survey,
            region: region.map(|(p, c)| scan::ScanRegion {
                province: p.into(),
                city: Some(c.into()),
            }),
        },
    )
    .await
}

async fn counts(app: &TestApp) -> (u64, u64, u64) {
    let redemptions = entities::scan_redemption::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    let events = entities::scan_event::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    let gifts = entities::points_ledger::Entity::find()
        .filter(entities::points_ledger::Column::Reason.eq("SCAN_GIFT"))
        .count(app.db())
        .await
        .unwrap();
    (redemptions, events, gifts)
}

/// HQ creates a batch over GraphQL; the first scan redeems and grants points once; later scans
/// answer "already redeemed" with when and where; another member's scan is flagged; a scan
/// outside the territory is reported as cross-territory; samples are collected at the counter;
/// coupon gifts issue a coupon with the redemption.
async fn scan_for_gift_end_to_end(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let hq = app.login_staff("hq-demo").await;
    let ba = app.login_staff("ba-demo").await;
    let lot = entities::stock_batch::Entity::find()
        .filter(entities::stock_batch::Column::SkuId.eq(cat.serum_sku))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let dist = dist_id(&app).await;
    let now = Utc::now();
    let batch = hq
        .ok(
            CREATE,
            json!({ "i": {
                "name": "春季精华", "skuId": cat.serum_sku.to_string(), "count": 100,
                "stockBatchId": lot.id.to_string(), "distributorId": dist.to_string(),
                "gift": { "kind": "POINTS", "points": 50 },
                "validFrom": (now - Duration::hours(1)).to_rfc3339(),
                "validUntil": (now + Duration::days(30)).to_rfc3339(),
            }}),
        )
        .await["createCodeBatch"]
        .clone();
    assert_eq!(batch["lot"], lot.lot.as_str());
    assert_eq!(
        batch["territory"],
        json!(["上海市"]),
        "the distributor's region"
    );
    assert_eq!(batch["gift"]["points"], 50);
    let batch_id: i64 = batch["id"].as_str().unwrap().parse().unwrap();
    // The BA may not create batches.
    let refused = ba
        .raw(
            CREATE,
            json!({ "i": {
                "name": "x", "skuId": cat.serum_sku.to_string(), "count": 1,
                "gift": { "kind": "POINTS", "points": 1 },
                "validFrom": now.to_rfc3339(), "validUntil": (now + Duration::days(1)).to_rfc3339(),
            }}),
        )
        .await;
    assert_eq!(code_of(&refused).as_deref(), Some("FORBIDDEN"));

    let (alice, alice_id) = app.login_member("scan-alice").await;
    let (bob, _) = app.login_member("scan-bob").await;
    let c0 = code(&app, batch_id, 0);
    let first = alice
        .ok(
            SCAN,
            json!({ "c": c0, "s": { "ageBand": "AGE_25_29", "skinType": "DRY", "whereBought": "BRAND_STORE" },
                    "r": { "province": "上海市", "city": "上海市" } }),
        )
        .await["scanCode"]
        .clone();
    assert_eq!(first["status"], "REDEEMED");
    assert_eq!(first["gift"]["points"], 50);
    assert_eq!(first["lot"], lot.lot.as_str());
    let ledger = alice
        .ok("{ myPointsLedger { nodes { delta reason } } }", json!({}))
        .await;
    assert_eq!(
        ledger["myPointsLedger"]["nodes"],
        json!([{ "delta": 50, "reason": "SCAN_GIFT" }])
    );
    // Printed codes are read leniently (lower case, dashes).
    let printed = format!("{}-{}", &c0[..10], &c0[10..]).to_lowercase();
    let again = alice.ok(SCAN, json!({ "c": printed })).await["scanCode"].clone();
    assert_eq!(again["status"], "ALREADY_REDEEMED");
    assert_eq!(again["redeemedByYou"], true);
    let other = bob.ok(SCAN, json!({ "c": c0 })).await["scanCode"].clone();
    assert_eq!(other["status"], "ALREADY_REDEEMED");
    assert_eq!(other["redeemedByYou"], false);
    assert_eq!(other["firstScanCity"], "上海市");
    assert_eq!(other["firstScannedAt"], first["firstScannedAt"]);
    let ledger = alice
        .ok("{ myPointsLedger { nodes { delta } } }", json!({}))
        .await;
    assert_eq!(
        ledger["myPointsLedger"]["nodes"].as_array().unwrap().len(),
        1
    );
    let flagged = hq
        .ok(
            "{ flaggedScans(flag: OTHER_MEMBER) { nodes { batchId serial flag } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        flagged["flaggedScans"]["nodes"],
        json!([{ "batchId": batch_id.to_string(), "serial": 0, "flag": "OTHER_MEMBER" }])
    );

    // Scanned in Guangdong: outside the territory the batch shipped to.
    let far = bob
        .ok(
            SCAN,
            json!({ "c": code(&app, batch_id, 1), "r": { "province": "广东省", "city": "深圳市" } }),
        )
        .await["scanCode"]
        .clone();
    assert_eq!(far["status"], "REDEEMED");
    let report = hq
        .ok(
            "{ crossTerritoryReport { distributorId province skuId scans } }",
            json!({}),
        )
        .await;
    assert_eq!(
        report["crossTerritoryReport"],
        json!([{ "distributorId": dist.to_string(), "province": "广东省",
                 "skuId": cat.serum_sku.to_string(), "scans": 1 }])
    );
    let insight = hq
        .ok(
            "{ scanInsight(groupBy: [PROVINCE, DAY]) { province period scans gifts members } }",
            json!({}),
        )
        .await;
    let rows = insight["scanInsight"].as_array().unwrap();
    let sh = rows.iter().find(|r| r["province"] == "上海市").unwrap();
    assert_eq!(
        (
            sh["scans"].as_i64(),
            sh["gifts"].as_i64(),
            sh["members"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    // The later scans stated no region (and the members have none in their profile).
    let unknown = rows.iter().find(|r| r["province"].is_null()).unwrap();
    assert_eq!(
        (
            unknown["scans"].as_i64(),
            unknown["gifts"].as_i64(),
            unknown["members"].as_i64()
        ),
        (Some(2), Some(0), Some(2))
    );

    // A sample: a voucher for the member, redeemed once at the counter.
    let hq_p = fixtures::staff_principal(&app, "hq-demo").await;
    let sample = scan::create_batch(
        &app.state,
        &hq_p,
        batch_input(
            &cat,
            10,
            Gift::Sample {
                name: "精华小样 5ml".into(),
            },
        ),
    )
    .await
    .unwrap();
    let got = alice
        .ok(SCAN, json!({ "c": code(&app, sample.id, 3) }))
        .await["scanCode"]
        .clone();
    assert_eq!(got["gift"]["sampleName"], "精华小样 5ml");
    let voucher = got["voucherCode"].as_str().unwrap().to_owned();
    let mine = alice
        .ok(
            "{ mySampleVouchers { nodes { code redeemedAt } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["mySampleVouchers"]["nodes"],
        json!([{ "code": voucher, "redeemedAt": null }])
    );
    let redeem = "mutation($c: String!) { redeemSampleVoucher(code: $c) { code sampleName redeemedAt storeId } }";
    let done = ba.ok(redeem, json!({ "c": voucher })).await;
    assert_eq!(done["redeemSampleVoucher"]["sampleName"], "精华小样 5ml");
    assert!(done["redeemSampleVoucher"]["storeId"].is_string());
    assert_eq!(
        code_of(&ba.raw(redeem, json!({ "c": voucher })).await).as_deref(),
        Some("CONFLICT")
    );
    assert_eq!(
        code_of(&ba.raw(redeem, json!({ "c": "SVNOSUCHVOUCHER" })).await).as_deref(),
        Some("NOT_FOUND")
    );

    // A coupon gift: the coupon and the redemption commit together; when the template runs
    // out, the scan is refused with SOLD_OUT and the code stays for later. A batch cannot name
    // a template that does not exist.
    assert!(matches!(
        scan::create_batch(
            &app.state,
            &hq_p,
            batch_input(
                &cat,
                10,
                Gift::Coupon {
                    template_id: 999_999
                }
            ),
        )
        .await,
        Err(ScanError::InvalidInput(_))
    ));
    let template = domain::coupons::create_template(
        &app.state,
        &hq_p,
        domain::coupons::NewTemplate {
            name: "扫码礼 10元".into(),
            kind: domain::coupons::CouponKind::Cash,
            threshold_fen: None,
            reduction_fen: None,
            percent_off: None,
            cap_fen: None,
            amount_fen: Some(1_000),
            gift_sku_id: None,
            total_quantity: 1,
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
    let coupon = scan::create_batch(
        &app.state,
        &hq_p,
        batch_input(
            &cat,
            10,
            Gift::Coupon {
                template_id: template.id,
            },
        ),
    )
    .await
    .unwrap();
    let got = alice
        .ok(SCAN, json!({ "c": code(&app, coupon.id, 0) }))
        .await["scanCode"]
        .clone();
    assert_eq!(got["status"], "REDEEMED");
    assert_eq!(got["gift"]["kind"], "COUPON");
    let alice_id: i64 = alice_id.parse().unwrap();
    let held = entities::coupon::Entity::find()
        .filter(entities::coupon::Column::MemberId.eq(alice_id))
        .filter(entities::coupon::Column::TemplateId.eq(template.id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].source, entities::coupon::CouponSource::Scan);
    // The only copy is gone: the next code is refused and stays unredeemed.
    let before = counts(&app).await;
    let refused = alice
        .raw(SCAN, json!({ "c": code(&app, coupon.id, 1) }))
        .await;
    assert_eq!(code_of(&refused).as_deref(), Some("SOLD_OUT"));
    assert_eq!(counts(&app).await, before);
    assert_eq!(
        entities::scan_redemption::Entity::find()
            .filter(entities::scan_redemption::Column::BatchId.eq(coupon.id))
            .count(app.db())
            .await
            .unwrap(),
        1
    );

    // A mini-program code for the batch's display, through the (fake) WeChat.
    let wxa = hq
        .ok(
            "mutation($b: ID) { createScanWxacode(batchId: $b, page: \"pages/scan/index\") }",
            json!({ "b": batch_id.to_string() }),
        )
        .await;
    assert!(wxa["createScanWxacode"].as_str().unwrap().len() > 100);
}

/// Malformed, unknown, expired, not-yet-started and inactive-batch codes answer with clear
/// codes and change nothing.
async fn bad_codes_answer_clearly_and_change_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 0).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let (member, _) = app.login_member("scan-careful").await;
    let live = scan::create_batch(&app.state, &hq, batch_input(&cat, 5, Gift::Points(10)))
        .await
        .unwrap();
    let mut expired = batch_input(&cat, 5, Gift::Points(10));
    expired.valid_from = Utc::now() - Duration::days(10);
    expired.valid_until = Utc::now() - Duration::days(1);
    let expired = scan::create_batch(&app.state, &hq, expired).await.unwrap();
    let mut later = batch_input(&cat, 5, Gift::Points(10));
    later.valid_from = Utc::now() + Duration::days(1);
    later.valid_until = Utc::now() + Duration::days(10);
    let later = scan::create_batch(&app.state, &hq, later).await.unwrap();
    let inactive = scan::create_batch(&app.state, &hq, batch_input(&cat, 5, Gift::Points(10)))
        .await
        .unwrap();
    scan::set_batch_active(&app.state, &hq, inactive.id, false)
        .await
        .unwrap();
    let forged =
        scan::PackCodeKey::new(b"someone else's key").code(u32::try_from(live.id).unwrap(), 1);
    let before = counts(&app).await;
    for (text, expected) in [
        ("not a code".to_owned(), "BAD_USER_INPUT"),
        ("ABC".to_owned(), "BAD_USER_INPUT"),
        (format!("{}0", code(&app, live.id, 0)), "BAD_USER_INPUT"),
        (forged, "NOT_FOUND"),
        (code(&app, live.id, 5), "NOT_FOUND"),
        (code(&app, 999_999, 0), "NOT_FOUND"),
        (code(&app, expired.id, 0), "EXPIRED"),
        (code(&app, later.id, 0), "CONFLICT"),
        (code(&app, inactive.id, 0), "CONFLICT"),
    ] {
        let answer = member.raw(SCAN, json!({ "c": text })).await;
        assert_eq!(
            code_of(&answer).as_deref(),
            Some(expected),
            "{text}: {answer}"
        );
    }
    assert_eq!(counts(&app).await, before, "nothing changed");
    assert_eq!(before, (0, 0, 0));
    // The live batch still works.
    let ok = member
        .ok(SCAN, json!({ "c": code(&app, live.id, 0) }))
        .await;
    assert_eq!(ok["scanCode"]["status"], "REDEEMED");
}

/// Codes each scanned by 5 members at once: exactly one gift and one points entry per code.
/// PostgreSQL takes 10,000 codes (50,000 scans). SQLite has one writer, and its busy handler
/// makes the waiting writers sleep and retry, so under a loaded CI machine 50,000 scans once took
/// over ten minutes: it takes 2,000 codes (10,000 scans, 40 in flight), which still races five
/// members on every code.
async fn concurrent_scans_redeem_each_code_once(backend: Backend) {
    let codes: i64 = match backend {
        Backend::Embedded => 2_000,
        Backend::Production => 10_000,
    };
    const PER_CODE: i64 = 5;
    // Each member contends for 10 codes: within the daily cap and the per-minute limit.
    let member_count = codes / 2;
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 0).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let batch = scan::create_batch(&app.state, &hq, batch_input(&cat, codes, Gift::Points(7)))
        .await
        .unwrap();
    let members = Arc::new(
        make_members(
            &app,
            usize::try_from(member_count).unwrap(),
            "conc",
            Some("上海市"),
        )
        .await,
    );
    let redeemed = Arc::new(AtomicUsize::new(0));
    let already = Arc::new(AtomicUsize::new(0));
    let state = app.state.clone();
    let parallel = match backend {
        Backend::Embedded => 8,
        Backend::Production => 24,
    };
    futures::stream::iter(0..codes)
        .for_each_concurrent(parallel, |serial| {
            let (state, members, redeemed, already) = (
                state.clone(),
                members.clone(),
                redeemed.clone(),
                already.clone(),
            );
            async move {
                let code = scan::code_for(&state.settings.scan.key, batch.id, serial).unwrap();
                let tasks: Vec<_> = (0..PER_CODE)
                    .map(|k| {
                        let member = members
                            [usize::try_from((serial * PER_CODE + k) % member_count).unwrap()];
                        let (state, code) = (state.clone(), code.clone());
                        tokio::spawn(async move {
                            let region = Some(("上海市", "上海市"));
                            scan_as(&state, member, &code, scan::Survey::default(), region).await
                        })
                    })
                    .collect();
                let mut winners = 0;
                for t in tasks {
                    match t.await.unwrap() {
                        Ok(o) if o.status == ScanStatus::Redeemed => {
                            winners += 1;
                            redeemed.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {
                            already.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("scan of serial {serial} failed: {e:?}"),
                    }
                }
                assert_eq!(winners, 1, "serial {serial}");
            }
        })
        .await;
    let codes = u64::try_from(codes).unwrap();
    assert_eq!(redeemed.load(Ordering::Relaxed) as u64, codes);
    assert_eq!(already.load(Ordering::Relaxed) as u64, codes * 4);
    let (redemptions, events, gifts) = counts(&app).await;
    assert_eq!(
        (redemptions, events, gifts),
        (codes, codes * 5, codes),
        "one redemption and one gift per code"
    );
    let gifted = entities::scan_event::Entity::find()
        .filter(entities::scan_event::Column::Gifted.eq(1))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(gifted, codes);
    let keys: std::collections::HashSet<String> = entities::points_ledger::Entity::find()
        .filter(entities::points_ledger::Column::Reason.eq("SCAN_GIFT"))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            assert_eq!(e.delta, 7);
            e.idempotency_key
        })
        .collect();
    assert_eq!(keys.len() as u64, codes, "no code granted twice");
}

/// 10,000 random guesses by one member find nothing and end throttled; a valid code still
/// works for others (and the guesser stays throttled even with a valid one).
async fn guessing_is_throttled(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 0).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let batch = scan::create_batch(&app.state, &hq, batch_input(&cat, 1_000, Gift::Points(5)))
        .await
        .unwrap();
    let ids = make_members(&app, 2, "guess", None).await;
    let (guesser, honest) = (ids[0], ids[1]);
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut not_found = 0;
    let mut throttled = 0;
    let mut last = None;
    for _ in 0..10_000 {
        let random = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
        let guess: String = random
            .iter()
            .flat_map(|u| u.as_bytes().iter().copied())
            .take(25)
            .map(|b| char::from(ALPHABET[usize::from(b) % 32]))
            .collect();
        match scan_as(&app.state, guesser, &guess, scan::Survey::default(), None).await {
            Ok(o) => panic!("a guess found a code: {o:?}"),
            Err(ScanError::UnknownCode) => not_found += 1,
            Err(e @ (ScanError::Throttled | ScanError::Blocked)) => {
                throttled += 1;
                last = Some(e);
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    let limit = usize::try_from(app.state.settings.scan.unknown_throttle).unwrap();
    assert_eq!((not_found, throttled), (limit, 10_000 - limit));
    assert_eq!(
        domain::DomainError::code(&last.unwrap()),
        domain::ErrorCode::RateLimited
    );
    let valid = code(&app, batch.id, 0);
    let ok = scan_as(&app.state, honest, &valid, scan::Survey::default(), None)
        .await
        .unwrap();
    assert_eq!(ok.status, ScanStatus::Redeemed);
    assert!(matches!(
        scan_as(
            &app.state,
            guesser,
            &code(&app, batch.id, 1),
            scan::Survey::default(),
            None
        )
        .await,
        Err(ScanError::Throttled)
    ));
    assert_eq!(counts(&app).await, (1, 1, 1));
}

/// A distributor sees only its territory and only groups of at least 10 members; HQ sees all.
async fn distributor_insight_is_deidentified_and_scoped(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 0).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let dist = dist_id(&app).await;
    let mut input = batch_input(&cat, 200, Gift::Points(5));
    input.distributor_id = Some(dist);
    input.territory = vec![];
    let batch = scan::create_batch(&app.state, &hq, input).await.unwrap();
    assert_eq!(batch.territory, vec!["上海市".to_owned()]);
    let shanghai = make_members(&app, 17, "sh", Some("上海市")).await;
    let guangdong = make_members(&app, 12, "gd", Some("广东省")).await;
    let mut serial = 0;
    for (i, m) in shanghai.iter().enumerate() {
        // 12 DRY members, 5 OILY ones (a group too small to share).
        let skin = if i < 12 {
            domain::members::SkinType::Dry
        } else {
            domain::members::SkinType::Oily
        };
        let survey = scan::Survey {
            age_band: Some(scan::AgeBand::From25To29),
            skin_type: Some(skin),
            where_bought: None,
        };
        scan_as(&app.state, *m, &code(&app, batch.id, serial), survey, None)
            .await
            .unwrap();
        serial += 1;
    }
    for m in &guangdong {
        let survey = scan::Survey {
            skin_type: Some(domain::members::SkinType::Dry),
            ..Default::default()
        };
        let o = scan_as(
            &app.state,
            *m,
            &code(&app, batch.id, serial),
            survey,
            Some(("广东省", "广州市")),
        )
        .await
        .unwrap();
        assert_eq!(o.status, ScanStatus::Redeemed);
        serial += 1;
    }
    let who = DistributorPrincipal {
        account_id: 0,
        distributor_id: dist,
        session_id: "t".into(),
    };
    use scan::InsightGroup as G;
    for groups in [
        vec![G::Province, G::SkinType],
        vec![G::SkinType],
        vec![G::AgeBand, G::SkinType, G::Day],
        vec![G::City, G::Sku, G::Lot, G::Month],
        vec![],
    ] {
        let rows =
            scan::regional_insight(&app.state, &who, &scan::InsightFilter::default(), &groups)
                .await
                .unwrap();
        for r in &rows {
            assert!(r.members >= 10, "{groups:?}: {r:?}");
            if let Some(p) = &r.province {
                assert_eq!(p, "上海市");
            }
            assert_ne!(r.city.as_deref(), Some("广州市"));
        }
        let total: i64 = rows.iter().map(|r| r.scans).sum();
        assert!(total <= 17, "{groups:?}: only Shanghai scans, got {total}");
    }
    let by_skin = scan::regional_insight(
        &app.state,
        &who,
        &scan::InsightFilter::default(),
        &[G::SkinType],
    )
    .await
    .unwrap();
    assert_eq!(by_skin.len(), 1);
    assert_eq!(by_skin[0].skin_type, Some(domain::members::SkinType::Dry));
    assert_eq!((by_skin[0].scans, by_skin[0].members), (12, 12));
    // Asking for another territory gives nothing.
    let other = scan::regional_insight(
        &app.state,
        &who,
        &scan::InsightFilter {
            provinces: vec!["广东省".into()],
            ..Default::default()
        },
        &[G::Province],
    )
    .await
    .unwrap();
    assert!(other.is_empty());
    // HQ sees every group, small ones too.
    let all = scan::scan_insight(
        &app.state,
        &hq,
        &scan::InsightFilter::default(),
        &[G::Province, G::SkinType],
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all.iter()
            .any(|r| r.skin_type == Some(domain::members::SkinType::Oily) && r.members == 5)
    );
    // Guangdong scans of a Shanghai batch are cross-territory (窜货).
    let report = scan::cross_territory_report(&app.state, &hq, None, None)
        .await
        .unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].distributor_id, Some(dist));
    assert_eq!(report[0].province.as_deref(), Some("广东省"));
    assert_eq!(report[0].scans, 12);
    // Over GraphQL, the distributor gets the same de-identified rows.
    let gql = app.login_distributor("dist-demo").await;
    let rows = gql
        .ok(
            "{ regionalInsight(groupBy: [PROVINCE, SKIN_TYPE]) { province skinType scans members } }",
            json!({}),
        )
        .await;
    assert_eq!(
        rows["regionalInsight"],
        json!([{ "province": "上海市", "skinType": "DRY", "scans": 12, "members": 12 }])
    );
}

/// The daily gift cap stops a member's gifts for the day and leaves the code for someone else.
async fn daily_gift_cap(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 0).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let batch = scan::create_batch(&app.state, &hq, batch_input(&cat, 100, Gift::Points(1)))
        .await
        .unwrap();
    let ids = make_members(&app, 2, "cap", None).await;
    let cap = app.state.settings.scan.daily_gift_cap;
    for serial in 0..cap {
        scan_as(
            &app.state,
            ids[0],
            &code(&app, batch.id, serial),
            scan::Survey::default(),
            None,
        )
        .await
        .unwrap();
    }
    let over = scan_as(
        &app.state,
        ids[0],
        &code(&app, batch.id, cap),
        scan::Survey::default(),
        None,
    )
    .await;
    assert!(matches!(over, Err(ScanError::DailyCapReached)), "{over:?}");
    let other = scan_as(
        &app.state,
        ids[1],
        &code(&app, batch.id, cap),
        scan::Survey::default(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(other.status, ScanStatus::Redeemed);
}

/// One member scans cap + 8 different codes at once: exactly `cap` are redeemed with their
/// points, the rest are refused over the cap and their codes stay unredeemed (another member
/// redeems one after).
async fn concurrent_scans_keep_the_daily_gift_cap(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 0).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let batch = scan::create_batch(&app.state, &hq, batch_input(&cat, 100, Gift::Points(3)))
        .await
        .unwrap();
    let ids = make_members(&app, 2, "capc", None).await;
    let cap = app.state.settings.scan.daily_gift_cap;
    let member = ids[0];
    let tasks: Vec<_> = (0..cap + 8)
        .map(|serial| {
            let (state, code) = (app.state.clone(), code(&app, batch.id, serial));
            tokio::spawn(async move {
                scan_as(&state, member, &code, scan::Survey::default(), None)
                    .await
                    .map(|_| serial)
            })
        })
        .collect();
    let (mut redeemed, mut refused) = (Vec::new(), Vec::new());
    for t in tasks {
        match t.await.unwrap() {
            Ok(serial) => redeemed.push(serial),
            Err(ScanError::DailyCapReached) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    for serial in 0..cap + 8 {
        if !redeemed.contains(&serial) {
            refused.push(serial);
        }
    }
    assert_eq!(redeemed.len() as i64, cap);
    let points: i64 = entities::points_ledger::Entity::find()
        .filter(entities::points_ledger::Column::MemberId.eq(ids[0]))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|e| e.delta)
        .sum();
    assert_eq!(points, 3 * cap, "one gift per redeemed code");
    let other = scan_as(
        &app.state,
        ids[1],
        &code(&app, batch.id, refused[0]),
        scan::Survey::default(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        other.status,
        ScanStatus::Redeemed,
        "a refused code stays free"
    );
}

/// A batch whose stored gift kind Rouge does not know is an error, never read as a default:
/// scanning its codes answers INTERNAL (without the cause) and writes nothing; HQ's list of
/// batches is refused the same way.
async fn unknown_stored_gift_kind_is_an_error(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 0).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let batch = scan::create_batch(&app.state, &hq, batch_input(&cat, 5, Gift::Points(10)))
        .await
        .unwrap();
    let done = app
        .db()
        .execute_unprepared(&format!(
            "UPDATE scan_code_batches SET gift_kind = 'VOUCHER' WHERE id = {}",
            batch.id
        ))
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    let (member, member_id) = app.login_member("scan-unknown-kind").await;
    let member_id: i64 = member_id.parse().unwrap();
    let coupons = || async {
        entities::coupon::Entity::find()
            .count(app.db())
            .await
            .unwrap()
    };
    let before = (counts(&app).await, coupons().await);
    assert_eq!(before.0, (0, 0, 0));

    let answer = member
        .raw(SCAN, json!({ "c": code(&app, batch.id, 0) }))
        .await;
    assert_eq!(code_of(&answer).as_deref(), Some("INTERNAL"), "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("VOUCHER"), "{message}");
    // The domain says why: the stored value does not read.
    let direct = scan_as(
        &app.state,
        member_id,
        &code(&app, batch.id, 1),
        scan::Survey::default(),
        None,
    )
    .await;
    assert!(
        matches!(
            direct,
            Err(ScanError::Store(StoreError::Db(DbErr::Type(_))))
        ),
        "{direct:?}"
    );
    assert_eq!(
        (counts(&app).await, coupons().await),
        before,
        "nothing changed"
    );

    let listed = app
        .login_staff("hq-demo")
        .await
        .raw("{ codeBatches { nodes { id gift { kind } } } }", json!({}))
        .await;
    assert_eq!(code_of(&listed).as_deref(), Some("INTERNAL"), "{listed}");
}

/// The statements a scan costs (issue 19): a repeat scan reads the redemption and keeps its
/// event, two statements and no transaction; a first scan (points gift, stated region) six
/// (the read, the member lock, the claim, the day's count, the points entry, the event) plus
/// its BEGIN and COMMIT. Counted with the database's statement callback.
async fn statements_per_scan(backend: Backend) {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::builder(backend)
        .count_queries(counter.clone())
        .start()
        .await;
    let cat = fixtures::catalog(&app, 0).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let batch = scan::create_batch(&app.state, &hq, batch_input(&cat, 10, Gift::Points(5)))
        .await
        .unwrap();
    let ids = make_members(&app, 2, "stmts", None).await;
    let region = Some(("上海市", "上海市"));
    // Warm the per-replica batch cache (one read per batch and replica).
    let warm = scan_as(
        &app.state,
        ids[0],
        &code(&app, batch.id, 9),
        Default::default(),
        region,
    )
    .await
    .unwrap();
    assert_eq!(warm.status, ScanStatus::Redeemed);

    counter.store(0, Ordering::SeqCst);
    let first = scan_as(
        &app.state,
        ids[0],
        &code(&app, batch.id, 0),
        Default::default(),
        region,
    )
    .await
    .unwrap();
    let first_statements = counter.load(Ordering::SeqCst);
    assert_eq!(first.status, ScanStatus::Redeemed);

    counter.store(0, Ordering::SeqCst);
    let repeat = scan_as(
        &app.state,
        ids[1],
        &code(&app, batch.id, 0),
        Default::default(),
        region,
    )
    .await
    .unwrap();
    let repeat_statements = counter.load(Ordering::SeqCst);
    assert_eq!(repeat.status, ScanStatus::AlreadyRedeemed);
    eprintln!("statements: first scan {first_statements}, repeat scan {repeat_statements}");
    assert_eq!(
        repeat_statements, 2,
        "a repeat scan: the read and the event"
    );
    // PostgreSQL: the read, then the claim, the day's count, the points and the event as one
    // statement. SQLite has no writing common table expressions: those four one by one.
    let expected_first = match backend {
        Backend::Production => 2,
        Backend::Embedded => 5,
    };
    assert_eq!(
        first_statements, expected_first,
        "a first scan: the read, then the claim, count, points and event"
    );
    let (redemptions, events, gifts) = counts(&app).await;
    assert_eq!((redemptions, events, gifts), (2, 3, 2));

    // Whichever path wrote them, the rows are those of `loyalty::earn` and the event builder: a
    // lot spendable in full for the points' validity from the scan, and a gifted event.
    let redeemed_at = first.first_scanned_at;
    let entry = entities::points_ledger::Entity::find()
        .filter(
            entities::points_ledger::Column::IdempotencyKey.eq(format!("scan-gift:{}:0", batch.id)),
        )
        .one(app.db())
        .await
        .unwrap()
        .expect("the first scan's points entry");
    assert_eq!(
        (entry.member_id, entry.delta, entry.remaining),
        (ids[0], 5, 5)
    );
    assert_eq!(entry.reference, Some(format!("scan:{}:0", batch.id)));
    assert_eq!(entry.created_at, redeemed_at);
    assert_eq!(
        entry.expires_at,
        Some(redeemed_at + app.state.settings.loyalty.points_validity)
    );
    let event = entities::scan_event::Entity::find()
        .filter(entities::scan_event::Column::BatchId.eq(batch.id))
        .filter(entities::scan_event::Column::Serial.eq(0))
        .filter(entities::scan_event::Column::MemberId.eq(ids[0]))
        .one(app.db())
        .await
        .unwrap()
        .expect("the first scan's event");
    assert_eq!(
        (event.outcome, event.gifted, event.sku_id, event.scanned_at),
        (
            entities::scan_event::ScanEventOutcome::Redeemed,
            1,
            cat.serum_sku,
            redeemed_at
        )
    );
    assert_eq!(event.province.as_deref(), Some("上海市"));
}

on_both_backends!(
    scan_for_gift_end_to_end,
    bad_codes_answer_clearly_and_change_nothing,
    concurrent_scans_redeem_each_code_once,
    guessing_is_throttled,
    distributor_insight_is_deidentified_and_scoped,
    daily_gift_cap,
    concurrent_scans_keep_the_daily_gift_cap,
    unknown_stored_gift_kind_is_an_error,
    statements_per_scan,
);
