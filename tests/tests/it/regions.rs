//! Regions compared as GB/T 2260 codes: 上海, 上海市, Shanghai and 310000 are one region; a
//! district is inside its city, a city inside its province; unknown provinces are refused.

use chrono::{Duration, Utc};
use domain::RequestMeta;
use domain::auth::MemberPrincipal;
use domain::scan_codes as scan;
use rouge_tests::{Backend, Gql, TestApp, fixtures, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

const CREATE: &str = "mutation($i: CreateCodeBatchInput!) { createCodeBatch(input: $i) { id territory territoryCodes } }";
const SCAN: &str = "mutation($c: String!, $r: ScanRegionInput) {
  scanCode(code: $c, region: $r) { status firstScanProvince firstScanCity firstScanRegionCode } }";

async fn dist_id(app: &TestApp) -> i64 {
    entities::distributor_account::Entity::find()
        .filter(entities::distributor_account::Column::Username.eq("dist-demo"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .distributor_id
}

async fn create_batch(hq: &Gql, sku: i64, extra: Value) -> (i64, Value) {
    let now = Utc::now();
    let mut input = json!({
        "name": "地区测试", "skuId": sku.to_string(), "count": 100,
        "gift": { "kind": "POINTS", "points": 10 },
        "validFrom": (now - Duration::hours(1)).to_rfc3339(),
        "validUntil": (now + Duration::days(30)).to_rfc3339(),
    });
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let batch = hq.ok(CREATE, json!({ "i": input })).await["createCodeBatch"].clone();
    (batch["id"].as_str().unwrap().parse().unwrap(), batch)
}

fn code(app: &TestApp, batch: i64, serial: i64) -> String {
    scan::code_for(&app.state.settings.scan.key, batch, serial).unwrap()
}

async fn flags(app: &TestApp) -> Vec<(i64, Option<String>)> {
    entities::scan_redemption::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.cross_territory)
        .map(|r| (r.serial, r.region_code))
        .collect()
}

async fn spellings_of_one_region_match_and_others_are_flagged(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let hq = app.login_staff("hq-demo").await;
    let dist = dist_id(&app).await;
    // The demo distributor's region is 上海市: its batches carry the province code.
    let (sh, batch) = create_batch(
        &hq,
        cat.serum_sku,
        json!({ "distributorId": dist.to_string() }),
    )
    .await;
    assert_eq!(batch["territoryCodes"], json!(["310000"]));
    let (_, named) = create_batch(
        &hq,
        cat.serum_sku,
        json!({ "territory": ["shanghai", "上海"] }),
    )
    .await;
    assert_eq!(named["territoryCodes"], json!(["310000"]));
    assert_eq!(named["territory"], json!(["上海市"]));

    let (me, _) = app.login_member("region-walker").await;
    // 上海 (short name) in a batch for 上海市: the same place, not cross-territory.
    let r = me
        .ok(
            SCAN,
            json!({ "c": code(&app, sh, 0), "r": { "province": "上海", "city": "上海" } }),
        )
        .await["scanCode"]
        .clone();
    assert_eq!(r["status"], "REDEEMED");
    assert_eq!(r["firstScanRegionCode"], "310100");
    assert_eq!(r["firstScanProvince"], "上海市");
    // A district code inside the city inside the province.
    let r = me
        .ok(
            SCAN,
            json!({ "c": code(&app, sh, 1), "r": { "province": "Shanghai", "city": "310101" } }),
        )
        .await["scanCode"]
        .clone();
    assert_eq!(r["firstScanRegionCode"], "310101");
    assert!(flags(&app).await.is_empty(), "{:?}", flags(&app).await);
    // Beijing is outside.
    me.ok(
        SCAN,
        json!({ "c": code(&app, sh, 2), "r": { "province": "北京", "city": "北京市" } }),
    )
    .await;
    assert_eq!(flags(&app).await, vec![(2, Some("110100".to_owned()))]);
    let report = hq
        .ok(
            "{ crossTerritoryReport { distributorId province provinceCode scans } }",
            json!({}),
        )
        .await;
    assert_eq!(
        report["crossTerritoryReport"],
        json!([{ "distributorId": dist.to_string(), "province": "北京市", "provinceCode": "110000", "scans": 1 }])
    );

    // A city territory: Shenzhen matches its own city only.
    let (sz, batch) = create_batch(&hq, cat.serum_sku, json!({ "territory": ["深圳"] })).await;
    assert_eq!(batch["territoryCodes"], json!(["440300"]));
    me.ok(
        SCAN,
        json!({ "c": code(&app, sz, 0), "r": { "province": "广东省", "city": "深圳市" } }),
    )
    .await;
    me.ok(
        SCAN,
        json!({ "c": code(&app, sz, 1), "r": { "province": "guangdong", "city": "广州" } }),
    )
    .await;
    let flagged: Vec<Option<String>> = flags(&app).await.into_iter().map(|f| f.1).collect();
    assert_eq!(flagged, vec![Some("110100".into()), Some("440100".into())]);

    // An unknown province is refused and nothing is written.
    let before = entities::scan_event::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    let body = me
        .raw(
            SCAN,
            json!({ "c": code(&app, sh, 3), "r": { "province": "火星", "city": "上海" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("火星")
    );
    assert_eq!(
        entities::scan_event::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        before
    );
    // An unknown territory entry too.
    let body = hq
        .raw(
            CREATE,
            json!({ "i": { "name": "x", "skuId": cat.serum_sku.to_string(), "count": 1,
                "territory": ["Atlantis"], "gift": { "kind": "POINTS", "points": 1 },
                "validFrom": Utc::now().to_rfc3339(),
                "validUntil": (Utc::now() + Duration::days(1)).to_rfc3339() } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );

    // HQ insight groups by code: the two Shanghai spellings are one group.
    let rows = hq
        .ok(
            "{ scanInsight(groupBy: [PROVINCE]) { province provinceCode scans } }",
            json!({}),
        )
        .await;
    let sh_rows: Vec<&Value> = rows["scanInsight"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["provinceCode"] == "310000")
        .collect();
    assert_eq!(sh_rows.len(), 1, "{rows}");
    assert_eq!(sh_rows[0]["province"], "上海市");
    assert_eq!(sh_rows[0]["scans"], 2);
    app.stop().await;
}

/// Twelve members in Shanghai spelled two ways: grouped by code they form one group of twelve,
/// which the distributor (minimum ten) sees; by name they would be two groups of six, hidden.
async fn regional_insight_groups_by_code(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let hq = app.login_staff("hq-demo").await;
    let dist = dist_id(&app).await;
    let (batch, _) = create_batch(
        &hq,
        cat.serum_sku,
        json!({ "distributorId": dist.to_string() }),
    )
    .await;
    let now = Utc::now();
    for i in 0..12_i64 {
        let id = entities::member::Entity::insert(entities::member::ActiveModel {
            member_code: Set(format!(
                "RG{i}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            )),
            openid: Set(format!("region-{i}-{}", uuid::Uuid::new_v4().simple())),
            gender: Set(domain::members::Gender::Unknown),
            // Half have only a legacy profile region by short name (no code stored).
            region_province: Set((i % 2 == 0).then(|| "上海".to_owned())),
            skin_concerns: Set(0),
            marketing_consent: Set(false),
            tier_code: Set("MEMBER".into()),
            cumulative_spend_fen: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap()
        .last_insert_id;
        let region = (i % 2 == 1).then(|| scan::ScanRegion {
            province: "310000".into(),
            city: Some("黄浦区".into()),
        });
        let out = scan::scan(
            &app.state,
            &MemberPrincipal {
                member_id: id,
                session_id: "t".into(),
            },
            &RequestMeta::default(),
            scan::ScanInput {
                code: code(&app, batch, i),
                survey: Default::default(),
                region,
            },
        )
        .await
        .unwrap();
        assert_eq!(out.status, scan::ScanStatus::Redeemed);
    }
    let gql = app.login_distributor("dist-demo").await;
    let rows = gql
        .ok(
            "{ regionalInsight(groupBy: [PROVINCE]) { province provinceCode scans members } }",
            json!({}),
        )
        .await;
    assert_eq!(
        rows["regionalInsight"],
        json!([{ "province": "上海市", "provinceCode": "310000", "scans": 12, "members": 12 }])
    );
    // Filters take any spelling or a code, and stay inside the territory.
    for f in ["Shanghai", "310000"] {
        let rows = gql
            .ok(
                "query($p: [String!]) { regionalInsight(groupBy: [PROVINCE], filter: { provinces: $p }) { scans } }",
                json!({ "p": [f] }),
            )
            .await;
        assert_eq!(rows["regionalInsight"], json!([{ "scans": 12 }]), "{f}");
    }
    let rows = gql
        .ok(
            "{ regionalInsight(groupBy: [PROVINCE], filter: { provinces: [\"北京\"] }) { scans } }",
            json!({}),
        )
        .await;
    assert_eq!(rows["regionalInsight"], json!([]));
    app.stop().await;
}

on_both_backends!(
    spellings_of_one_region_match_and_others_are_flagged,
    regional_insight_groups_by_code
);

/// The migration fills the new code columns from the names already stored.
async fn the_migration_backfills_codes_from_names(backend: Backend) {
    use sea_orm_migration::MigratorTrait;
    let app = TestApp::start(backend).await;
    let now = Utc::now();
    entities::member::Entity::insert(entities::member::ActiveModel {
        member_code: Set("BACKFILL1".into()),
        openid: Set("backfill-1".into()),
        gender: Set(domain::members::Gender::Unknown),
        region_province: Set(Some("广东".into())),
        region_city: Set(Some("深圳市".into())),
        skin_concerns: Set(0),
        marketing_consent: Set(false),
        tier_code: Set("MEMBER".into()),
        cumulative_spend_fen: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
    rouge_tests::migrate_down_to_before(app.db(), "m0010_region_codes").await;
    entities::migration::Migrator::up(app.db(), None)
        .await
        .unwrap();
    let member = entities::member::Entity::find()
        .filter(entities::member::Column::Openid.eq("backfill-1"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(member.region_code.as_deref(), Some("440300"));
    let dist = entities::distributor::Entity::find_by_id(dist_id(&app).await)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dist.region_codes.as_deref(), Some("310000"));
    app.stop().await;
}

on_both_backends!(the_migration_backfills_codes_from_names);
