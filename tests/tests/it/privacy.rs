//! Members' data rights (PIPL): the privacy policy gate, and the separate consent to
//! sensitive personal data (skin concerns, allergies) that a withdrawal erases at once.

use domain::privacy::{ConsentKind, DEFAULT_POLICY_VERSION, DEFAULT_SENSITIVE_VERSION};
use entities::{member_allergy, member_consent};
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

const ACCEPT: &str = "mutation($v: String!) { acceptPrivacyPolicy(version: $v) { privacyPolicyVersion privacyPolicyAcceptedAt privacyPolicyCurrent } }";
const GRANT: &str = "mutation($v: String!) { grantSensitiveDataConsent(version: $v) { sensitiveDataVersion sensitiveDataConsent } }";
const WITHDRAW: &str =
    "mutation { withdrawSensitiveDataConsent { sensitiveDataVersion sensitiveDataConsent } }";
const UPDATE: &str = "mutation($i: ProfileInput!) { updateMyProfile(input: $i) { skinType skinConcerns allergies } }";
const BA_EDIT: &str = "mutation($id: ID!, $i: SkinProfileInput!) { updateMemberSkinProfile(memberId: $id, input: $i) { skinConcerns allergies } }";

fn reason(body: &Value) -> (&str, &str) {
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or("none"),
        ext["reason"].as_str().unwrap_or("none"),
    )
}

fn member_id(id: &str) -> i64 {
    id.parse().unwrap()
}

async fn consents(app: &TestApp, id: i64) -> Vec<member_consent::Model> {
    member_consent::Entity::find()
        .filter(member_consent::Column::MemberId.eq(id))
        .all(app.db())
        .await
        .unwrap()
}

async fn the_privacy_policy_gates_everything_until_accepted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (me, id) = app.login_member_without_consent("gated").await;

    // Everything but the policy, its acceptance and the session is refused, and changes nothing.
    for (query, vars) in [
        ("{ me { id } }", json!({})),
        ("{ myCoupons { nodes { id } } }", json!({})),
        (UPDATE, json!({ "i": { "nickname": "Gated" } })),
    ] {
        let body = me.raw(query, vars).await;
        assert_eq!(
            reason(&body),
            ("FORBIDDEN", "CONSENT_REQUIRED"),
            "{query}: {body}"
        );
    }
    // Her data rights do not wait for her acceptance: she may take her data and leave.
    let export = me.ok("{ exportMyData }", json!({})).await;
    assert!(export["exportMyData"].is_object(), "{export}");
    let policy = me.ok("{ privacyPolicy { version url } }", json!({})).await;
    assert_eq!(policy["privacyPolicy"]["version"], DEFAULT_POLICY_VERSION);
    assert!(
        policy["privacyPolicy"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    // Only the version shown may be accepted.
    let body = me.raw(ACCEPT, json!({ "v": "2020-01-01" })).await;
    assert_eq!(reason(&body), ("BAD_USER_INPUT", "POLICY_VERSION_OUTDATED"));
    assert!(consents(&app, member_id(&id)).await.is_empty());

    let accepted = me.ok(ACCEPT, json!({ "v": DEFAULT_POLICY_VERSION })).await;
    assert_eq!(
        accepted["acceptPrivacyPolicy"]["privacyPolicyCurrent"],
        true
    );
    assert!(accepted["acceptPrivacyPolicy"]["privacyPolicyAcceptedAt"].is_string());
    // The same token works on its very next request; accepting again keeps one record.
    let data = me
        .ok(
            "{ me { id nickname consents { privacyPolicyVersion } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["me"]["id"], id);
    assert_eq!(
        data["me"]["nickname"],
        Value::Null,
        "the refused update changed nothing"
    );
    assert_eq!(
        data["me"]["consents"]["privacyPolicyVersion"],
        DEFAULT_POLICY_VERSION
    );
    me.ok(ACCEPT, json!({ "v": DEFAULT_POLICY_VERSION })).await;
    let rows = consents(&app, member_id(&id)).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].kind, ConsentKind::PrivacyPolicy);
    assert_eq!(rows[0].version, DEFAULT_POLICY_VERSION);
    assert!(rows[0].withdrawn_at.is_none());

    // A new session of the same member is not asked again.
    let (again, again_id) = app.login_member_without_consent("gated").await;
    assert_eq!(again_id, id);
    again.ok("{ me { id } }", json!({})).await;

    // Someone who accepted only an older version is asked again.
    let (old, old_id) = app.login_member_without_consent("accepted-long-ago").await;
    member_consent::ActiveModel {
        member_id: Set(member_id(&old_id)),
        kind: Set(ConsentKind::PrivacyPolicy),
        version: Set("2020-01-01".into()),
        granted_at: Set(chrono::Utc::now()),
        withdrawn_at: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    let body = old.raw("{ me { id } }", json!({})).await;
    assert_eq!(reason(&body), ("FORBIDDEN", "CONSENT_REQUIRED"));
}

async fn sensitive_data_needs_its_own_consent(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (me, id) = app.login_member_without_consent("sensitive").await;
    me.ok(ACCEPT, json!({ "v": DEFAULT_POLICY_VERSION })).await;
    let ba = app.login_staff("ba-demo").await;
    let ba_sees = |ba: &rouge_tests::Gql, id: String| {
        let ba = ba.clone();
        async move {
            ba.ok(
                "query($id: ID!) { member(id: $id) { consents { sensitiveDataConsent } skinConcerns allergies } }",
                json!({ "id": id }),
            )
            .await["member"]
                .clone()
        }
    };
    assert_eq!(
        ba_sees(&ba, id.clone()).await["consents"]["sensitiveDataConsent"],
        false
    );

    // Without the consent neither the member nor the BA can store concerns or allergies;
    // the skin type alone is fine, and nothing of a refused write is kept.
    let body = me
        .raw(
            UPDATE,
            json!({ "i": { "skinType": "DRY", "allergies": ["fragrance"] } }),
        )
        .await;
    assert_eq!(reason(&body), ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"));
    let body = me
        .raw(UPDATE, json!({ "i": { "skinConcerns": ["ACNE"] } }))
        .await;
    assert_eq!(reason(&body), ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"));
    let body = ba
        .raw(
            BA_EDIT,
            json!({ "id": id, "i": { "allergies": ["LINALOOL"] } }),
        )
        .await;
    assert_eq!(reason(&body), ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"));
    let data = me.ok(UPDATE, json!({ "i": { "skinType": "DRY" } })).await;
    assert_eq!(data["updateMyProfile"]["skinType"], "DRY");
    assert_eq!(data["updateMyProfile"]["allergies"], json!([]));

    let sensitive = me
        .ok("{ sensitiveDataPolicy { version url purpose } }", json!({}))
        .await;
    assert_eq!(
        sensitive["sensitiveDataPolicy"]["version"],
        DEFAULT_SENSITIVE_VERSION
    );
    assert!(sensitive["sensitiveDataPolicy"]["purpose"].is_string());
    let body = me.raw(GRANT, json!({ "v": "old" })).await;
    assert_eq!(reason(&body), ("BAD_USER_INPUT", "POLICY_VERSION_OUTDATED"));
    let granted = me
        .ok(GRANT, json!({ "v": DEFAULT_SENSITIVE_VERSION }))
        .await;
    assert_eq!(
        granted["grantSensitiveDataConsent"]["sensitiveDataConsent"],
        true
    );

    me.ok(
        UPDATE,
        json!({ "i": { "skinConcerns": ["ACNE", "REDNESS"] } }),
    )
    .await;
    let data = ba
        .ok(
            BA_EDIT,
            json!({ "id": id, "i": { "allergies": ["LINALOOL"] } }),
        )
        .await;
    assert_eq!(
        data["updateMemberSkinProfile"]["allergies"],
        json!(["LINALOOL"])
    );
    let seen = ba_sees(&ba, id.clone()).await;
    assert_eq!(seen["consents"]["sensitiveDataConsent"], true);
    assert_eq!(seen["skinConcerns"], json!(["ACNE", "REDNESS"]));

    // Withdrawing erases concerns and allergies at once; the BA sees it on her next read.
    let withdrawn = me.ok(WITHDRAW, json!({})).await;
    assert_eq!(
        withdrawn["withdrawSensitiveDataConsent"]["sensitiveDataConsent"],
        false
    );
    assert_eq!(
        withdrawn["withdrawSensitiveDataConsent"]["sensitiveDataVersion"],
        Value::Null
    );
    let seen = ba_sees(&ba, id.clone()).await;
    assert_eq!(seen["consents"]["sensitiveDataConsent"], false);
    assert_eq!(seen["skinConcerns"], json!([]));
    assert_eq!(seen["allergies"], json!([]));
    let left = member_allergy::Entity::find()
        .filter(member_allergy::Column::MemberId.eq(member_id(&id)))
        .all(app.db())
        .await
        .unwrap();
    assert!(left.is_empty());
    let body = ba
        .raw(
            BA_EDIT,
            json!({ "id": id, "i": { "allergies": ["LINALOOL"] } }),
        )
        .await;
    assert_eq!(reason(&body), ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"));
    // The record of what was agreed stays, closed.
    let rows = consents(&app, member_id(&id)).await;
    let sensitive: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == ConsentKind::SensitiveData)
        .collect();
    assert_eq!(sensitive.len(), 1);
    assert!(sensitive[0].withdrawn_at.is_some());
}

/// Every `memberId` in the document, wherever it is nested.
fn member_ids(v: &Value, out: &mut Vec<i64>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "memberId" {
                    out.extend(v.as_i64());
                }
                member_ids(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| member_ids(v, out)),
        _ => {}
    }
}

/// The records of each kind made for the exported member, with their key values.
struct Made {
    sale_order: i64,
    coupon: i64,
    coupon_template: String,
    booking: i64,
    service: i64,
    flash_sale: i64,
    flash_order: i64,
    scan_batch: i64,
    campaign: i64,
}

const COUPON_NAME: &str = "导出测试券";
const CAMPAIGN_NAME: &str = "导出测试活动";

/// A claimed coupon, a booking, a flash-sale grab (and its order), a scan and a campaign
/// message for the member, each through the service that makes it (the booking and the
/// delivery row, which need a store's week and a dispatcher, are written as those write them).
async fn one_of_each(
    app: &TestApp,
    cat: &rouge_tests::fixtures::Catalog,
    me: &rouge_tests::Gql,
    id: i64,
    sale_order: i64,
) -> Made {
    use chrono::Duration;
    use domain::auth::MemberPrincipal;
    use domain::campaigns::{self, CampaignInput, KeyKind, SegmentRule, TemplateKey};
    let now = app.state.clock.now();
    let hq = app.login_staff("hq-demo").await;
    let template = hq
        .ok(
            "mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) { id } }",
            json!({ "i": { "name": COUPON_NAME, "kind": "CASH", "amountFen": 1_500, "totalQuantity": 10,
                           "perMemberLimit": 1, "validDays": 30, "stacksWithCoupons": true } }),
        )
        .await["createCouponTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let coupon: i64 = me
        .ok(
            "mutation($t: ID!, $k: String!) { claimCoupon(templateId: $t, idempotencyKey: $k) { id } }",
            json!({ "t": template, "k": uuid::Uuid::new_v4().to_string() }),
        )
        .await["claimCoupon"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let service =
        entities::booking_service::Entity::insert(entities::booking_service::ActiveModel {
            store_id: Set(None),
            code: Set("EXPORT-FACIAL".into()),
            name: Set("导出护理".into()),
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
        .last_insert_id;
    let starts_at = now + Duration::days(2);
    let booking = entities::booking::Entity::insert(entities::booking::ActiveModel {
        member_id: Set(id),
        store_id: Set(cat.store_id),
        service_id: Set(service),
        ba_id: Set(cat.hq.staff_id),
        starts_at: Set(starts_at),
        ends_at: Set(starts_at + Duration::hours(1)),
        holds_until: Set(starts_at + Duration::hours(1)),
        status: Set(entities::booking::BookingStatus::Booked),
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
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap()
    .last_insert_id;

    let principal = MemberPrincipal {
        member_id: id,
        session_id: "export-test".into(),
    };
    let sale = domain::flash_sales::schedule_flash_sale(
        &app.state,
        &cat.hq,
        domain::flash_sales::NewFlashSale {
            title: "导出秒杀".into(),
            sku_id: cat.cream_sku,
            price_fen: 9_900,
            stock: 5,
            per_member_limit: 1,
            starts_at: now - Duration::minutes(1),
            ends_at: now + Duration::hours(1),
        },
    )
    .await
    .unwrap()
    .id;
    // The grab answers with a ticket; its order follows from the writer.
    let ticket =
        domain::flash_sales::grab_flash_sale(&app.state, &principal, sale, 1, "export-grab")
            .await
            .unwrap();
    let flash_order = domain::flash_sales::flash_sale_order(&app.state, &principal, ticket.id)
        .await
        .unwrap()
        .0
        .order_id
        .expect("the ticket's order is written within its stated time");

    use domain::scan_codes as scan;
    let batch = scan::create_batch(
        &app.state,
        &cat.hq,
        scan::NewBatch {
            name: "导出扫码".into(),
            sku_id: cat.serum_sku,
            count: 3,
            stock_batch_id: None,
            distributor_id: None,
            territory: vec!["上海市".into()],
            gift: scan::Gift::Points(50),
            valid_from: now - Duration::hours(1),
            valid_until: now + Duration::days(30),
            active: true,
        },
    )
    .await
    .unwrap()
    .id;
    let code = scan::code_for(&app.state.settings.scan.key, batch, 1).unwrap();
    scan::scan(
        &app.state,
        &principal,
        &domain::RequestMeta::default(),
        scan::ScanInput {
            code,
            survey: Default::default(),
            region: Some(scan::ScanRegion {
                province: "上海市".into(),
                city: Some("上海市".into()),
            }),
        },
    )
    .await
    .unwrap();

    campaigns::register_template(
        &app.state,
        &cat.hq,
        "tpl_export",
        "活动通知",
        vec![TemplateKey {
            key: "thing1".into(),
            kind: KeyKind::parse("thing").unwrap(),
            label: String::new(),
        }],
    )
    .await
    .unwrap();
    let campaign = campaigns::create(
        &app.state,
        &cat.hq,
        CampaignInput {
            name: CAMPAIGN_NAME.into(),
            segment: SegmentRule::everyone(),
            template_id: "tpl_export".into(),
            values: [("thing1".to_owned(), "冬季礼遇".to_owned())].into(),
            page: "pages/campaign/index".into(),
            coupon_template_id: None,
            start_at: None,
            quiet_hours: None,
            zone: None,
            cap: None,
            attribution_days: Some(7),
        },
    )
    .await
    .unwrap()
    .id;
    entities::campaign_delivery::Entity::insert(entities::campaign_delivery::ActiveModel {
        campaign_id: Set(campaign),
        member_id: Set(id),
        state: Set(entities::campaign_delivery::DeliveryState::Sent),
        reason: Set(None),
        attempts: Set(1),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        sent_at: Set(Some(now)),
        attribution_until: Set(Some(now + Duration::days(7))),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
    Made {
        sale_order,
        coupon,
        coupon_template: template,
        booking,
        service,
        flash_sale: sale,
        flash_order,
        scan_batch: batch,
        campaign,
    }
}

/// Each record made by [`one_of_each`] is in the document with its key values.
fn check_one_of_each(doc: &Value, made: &Made) {
    let find = |list: &Value, id: i64| -> Value {
        list.as_array()
            .unwrap_or_else(|| panic!("not a list: {list}"))
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {list}"))
    };
    let coupon = find(&doc["coupons"], made.coupon);
    assert_eq!(
        coupon["templateId"].to_string(),
        made.coupon_template,
        "{coupon}"
    );
    assert_eq!(coupon["templateName"], COUPON_NAME);
    assert_eq!(coupon["status"], "AVAILABLE");
    let booking = find(&doc["bookings"], made.booking);
    assert_eq!(booking["serviceId"], made.service);
    assert_eq!(booking["status"], "BOOKED");
    let grab = doc["flashSaleGrabs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["saleId"] == made.flash_sale)
        .cloned()
        .expect("the grab");
    assert_eq!(grab["orderId"], made.flash_order);
    assert_eq!(grab["quantity"], 1);
    assert!(
        doc["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == made.flash_order && o["totalFen"] == 9_900)
    );
    let redemption = &doc["scans"]["redemptions"][0];
    assert_eq!(redemption["batchId"], made.scan_batch);
    assert_eq!(redemption["serial"], 1);
    assert_eq!(redemption["giftPoints"], 50);
    assert_eq!(redemption["province"], "上海市");
    let event = &doc["scans"]["events"][0];
    assert_eq!(event["batchId"], made.scan_batch);
    assert_eq!(event["outcome"], "REDEEMED");
    let message = &doc["campaignMessages"][0];
    assert_eq!(message["campaignId"], made.campaign);
    assert_eq!(message["campaignName"], CAMPAIGN_NAME);
    assert_eq!(message["state"], "SENT");
    assert!(
        doc["pointsLedger"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["delta"] == 50),
        "the scan's points"
    );
}

async fn export_holds_everything_and_only_hers(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = rouge_tests::fixtures::catalog(&app, 20).await;
    let (me, id) = app.login_member("exporter").await;
    me.ok(
        "mutation { updateMyProfile(input: { nickname: \"Export Me\", birthday: \"1990-01-02\", skinConcerns: [ACNE], allergies: [\"LINALOOL\"] }) { id } }",
        json!({}),
    )
    .await;
    me.ok(
        "mutation { bindPhone(code: \"test:13722223333:p1\") { phoneMasked } }",
        json!({}),
    )
    .await;
    let ba = app.login_staff("ba-demo").await;
    ba.ok(
        "mutation($id: ID!) { addMemberTag(memberId: $id, name: \"VIP-EXPORT\") { name } }",
        json!({ "id": id }),
    )
    .await;
    ba.ok(
        "query($id: ID!) { member(id: $id) { phone } }",
        json!({ "id": id }),
    )
    .await;
    let sale = "mutation($m: ID!, $l: [OrderLineInput!]!, $k: String!) {
      recordInStoreSale(memberId: $m, lines: $l, paymentMethod: CASH, acknowledgeAllergens: true, idempotencyKey: $k) { id } }";
    let lines = json!([{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }]);
    let sale_order: i64 = ba
        .ok(
            sale,
            json!({ "m": id, "l": lines, "k": uuid::Uuid::new_v4().to_string() }),
        )
        .await["recordInStoreSale"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let made = one_of_each(&app, &cat, &me, member_id(&id), sale_order).await;
    // Someone else's data never shows.
    let (other, other_id) = app.login_member("not-exported").await;
    other
        .ok(
            "mutation { updateMyProfile(input: { nickname: \"Someone Else\" }) { id } }",
            json!({}),
        )
        .await;
    ba.ok(
        sale,
        json!({ "m": other_id, "l": lines, "k": uuid::Uuid::new_v4().to_string() }),
    )
    .await;

    let doc = me.ok("{ exportMyData }", json!({})).await["exportMyData"].clone();
    assert_eq!(doc["format"], domain::privacy::EXPORT_FORMAT);
    assert_eq!(doc["member"]["id"], member_id(&id));
    assert_eq!(doc["member"]["nickname"], "Export Me");
    assert_eq!(doc["member"]["birthday"], "1990-01-02");
    assert_eq!(doc["member"]["phone"], "+8613722223333");
    assert_eq!(doc["member"]["skinConcerns"], json!(["ACNE"]));
    assert_eq!(doc["allergies"], json!(["LINALOOL"]));
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "VIP-EXPORT")
    );
    let policies = doc["consents"]["policies"].as_array().unwrap();
    for kind in ["PRIVACY_POLICY", "SENSITIVE_DATA"] {
        assert!(
            policies
                .iter()
                .any(|c| c["kind"] == kind && c["version"].is_string()),
            "{kind}: {policies:?}"
        );
    }
    let orders = doc["orders"].as_array().unwrap();
    assert_eq!(
        orders.len(),
        2,
        "the sale and the flash-sale order: {orders:?}"
    );
    let sold = orders
        .iter()
        .find(|o| o["id"] == made.sale_order)
        .expect("the in-store sale");
    assert_eq!(sold["totalFen"], 29_900);
    assert_eq!(sold["lines"].as_array().unwrap().len(), 1);
    assert_eq!(sold["lines"][0]["skuId"], cat.serum_sku);
    assert_eq!(sold["lines"][0]["quantity"], 1);
    assert!(
        !doc["pointsLedger"].as_array().unwrap().is_empty(),
        "points earned on the sale"
    );
    check_one_of_each(&doc, &made);
    let access = doc["staffAccess"].as_array().unwrap();
    assert!(
        access
            .iter()
            .any(|a| a["staff"] == "静安美容顾问" && a["action"] == "member.phone.read"),
        "{access:?}"
    );
    let mut ids = Vec::new();
    member_ids(&doc, &mut ids);
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|m| *m == member_id(&id)), "{ids:?}");
    let text = doc.to_string();
    for absent in [
        "Someone Else",
        "idempotency_key",
        "idempotencyKey",
        "phoneCipher",
        "phone_cipher",
        "phone_index",
        "openid",
    ] {
        assert!(!text.contains(absent), "{absent} in {text}");
    }
    // The export is audited, and customer service writes the same document.
    let out = std::env::temp_dir().join(format!("export-{}.json", uuid::Uuid::new_v4()));
    api::members_export::write(&app.state, member_id(&id), "ticket 7", &out)
        .await
        .unwrap();
    let mut written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    std::fs::remove_file(&out).unwrap();
    let mut shown = doc.clone();
    written["generatedAt"] = Value::Null;
    shown["generatedAt"] = Value::Null;
    // The first export's audit entry shows in the second only as a non-staff entry: none.
    assert_eq!(written, shown);
    let exports = entities::audit_log::Entity::find()
        .filter(
            entities::audit_log::Column::Action.eq(entities::audit_log::Action::MemberDataExport),
        )
        .filter(entities::audit_log::Column::SubjectId.eq(member_id(&id)))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(exports.len(), 2);
}

async fn export_count(app: &TestApp, id: i64) -> usize {
    entities::audit_log::Entity::find()
        .filter(
            entities::audit_log::Column::Action.eq(entities::audit_log::Action::MemberDataExport),
        )
        .filter(entities::audit_log::Column::SubjectId.eq(id))
        .all(app.db())
        .await
        .unwrap()
        .len()
}

async fn exports_are_limited_per_member_per_day(backend: Backend) {
    use chrono::TimeZone;
    use domain::platform::clock::{DEFAULT_ZONE, ManualClock};
    // 23:30 in Shanghai: the store's day ends in half an hour (15:30 UTC).
    let late = DEFAULT_ZONE
        .with_ymd_and_hms(2026, 12, 6, 23, 30, 0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = std::sync::Arc::new(ManualClock::new(late));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let limit = domain::privacy::DEFAULT_EXPORTS_PER_DAY;
    let (me, id) = app.login_member("exports-a-lot").await;
    let (other, _) = app.login_member("exports-once").await;
    for _ in 0..limit {
        me.ok("{ exportMyData }", json!({})).await;
    }
    let body = me.raw("{ exportMyData }", json!({})).await;
    assert_eq!(
        reason(&body),
        ("RATE_LIMITED", "EXPORT_LIMIT_REACHED"),
        "{body}"
    );
    assert!(body["data"].is_null() || body["data"]["exportMyData"].is_null());
    assert_eq!(
        export_count(&app, member_id(&id)).await,
        limit as usize,
        "a refused export is not made"
    );
    // Another member is not counted against her; customer service is not limited.
    other.ok("{ exportMyData }", json!({})).await;
    domain::privacy::export_for_request(&app.state, member_id(&id), "ticket 9")
        .await
        .unwrap();
    // A new day in Shanghai (00:30, still the same UTC day) starts at zero.
    clock.advance(chrono::Duration::hours(1));
    let (me, _) = app.login_member("exports-a-lot").await;
    me.ok("{ exportMyData }", json!({})).await;
    assert_eq!(export_count(&app, member_id(&id)).await, limit as usize + 2);
}

/// The document's shape: every value replaced by its JSON type, lists by their first item.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::Null => json!("null"),
        Value::Bool(_) => json!("boolean"),
        Value::Number(n) if n.is_i64() => json!("integer"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
    }
}

/// Keys are camelCase; times (`…At`, `…Until`, `…Deadline`) are RFC 3339 in UTC; flags are
/// booleans.
fn check_types(v: &Value, path: &str) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{path}.{k}");
                assert!(!k.contains('_'), "{here}: not camelCase");
                let timed = ["At", "Until", "Deadline"]
                    .iter()
                    .any(|end| k.ends_with(end));
                if timed && !v.is_null() {
                    let text = v.as_str().unwrap_or_else(|| panic!("{here}: {v}"));
                    assert!(
                        text.ends_with('Z')
                            && chrono::DateTime::parse_from_rfc3339(text).is_ok()
                            && text.len() == "2026-12-05T12:00:00.000000Z".len(),
                        "{here}: {text}"
                    );
                }
                for flag in ["active", "marketingConsent", "crossTerritory"] {
                    if k == flag {
                        assert!(v.is_boolean(), "{here}: {v}");
                    }
                }
                check_types(v, &here);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| check_types(v, path)),
        _ => {}
    }
}

/// The same records on SQLite and PostgreSQL export to documents of the same shape.
async fn filled_export(backend: Backend) -> Value {
    let app = TestApp::start(backend).await;
    let cat = rouge_tests::fixtures::catalog(&app, 20).await;
    let (me, id) = app.login_member("shape").await;
    me.ok(
        "mutation { updateMyProfile(input: { nickname: \"Shape\", birthday: \"1991-03-04\", marketingConsent: true, skinConcerns: [ACNE], allergies: [\"LINALOOL\"] }) { id } }",
        json!({}),
    )
    .await;
    let ba = app.login_staff("ba-demo").await;
    ba.ok(
        "mutation($id: ID!) { addMemberTag(memberId: $id, name: \"SHAPE\") { name } }",
        json!({ "id": id }),
    )
    .await;
    ba.ok(
        "query($id: ID!) { member(id: $id) { phone } }",
        json!({ "id": id }),
    )
    .await;
    let sale: i64 = ba
        .ok(
            "mutation($m: ID!, $l: [OrderLineInput!]!, $k: String!) { recordInStoreSale(memberId: $m, lines: $l, paymentMethod: CASH, acknowledgeAllergens: true, idempotencyKey: $k) { id } }",
            json!({ "m": id, "l": [{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }], "k": uuid::Uuid::new_v4().to_string() }),
        )
        .await["recordInStoreSale"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    one_of_each(&app, &cat, &me, member_id(&id), sale).await;
    me.ok("{ exportMyData }", json!({})).await["exportMyData"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn export_has_the_same_shape_on_both_databases() {
    let (embedded, production) = tokio::join!(
        filled_export(Backend::Embedded),
        filled_export(Backend::Production)
    );
    for doc in [&embedded, &production] {
        check_types(doc, "");
        assert_eq!(doc["format"], "rouge.member-export/2");
    }
    assert_eq!(shape(&embedded), shape(&production));
    // The stored values read the same too (ids and times aside).
    assert_eq!(
        embedded["member"]["birthday"],
        production["member"]["birthday"]
    );
    assert_eq!(
        embedded["orders"][0]["status"],
        production["orders"][0]["status"]
    );
}

on_both_backends!(
    the_privacy_policy_gates_everything_until_accepted,
    sensitive_data_needs_its_own_consent,
    export_holds_everything_and_only_hers,
    exports_are_limited_per_member_per_day
);
