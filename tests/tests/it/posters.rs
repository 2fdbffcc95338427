//! Share posters end to end: drawn once however many ask at the same time, cached by what is
//! drawn on them, nicknames of rare ideographs and emoji never blank, the code's scene resolves
//! back, and WeChat's daily code quota (45009) stops new codes for the day while stored posters
//! keep being served.

use entities::media_asset::{self, MediaPurpose};
use entities::{booking_service, member, poster, product};
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};
use wechat_integration::fake::{Fault, FaultScope};

const SHARE: &str = "mutation($k: PosterKind!, $t: ID!) { sharePoster(kind: $k, targetId: $t) { url width height scene templateVersion } }";
const RESOLVE: &str =
    "query($s: String!) { resolveShareScene(scene: $s) { kind targetId sharerNickname } }";

fn reason(body: &Value) -> (String, String) {
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or("none").to_owned(),
        ext["reason"].as_str().unwrap_or("none").to_owned(),
    )
}

async fn set_nickname(app: &TestApp, openid_user: &str, nickname: &str) -> i64 {
    let openid = wechat_integration::fake::FakeWeChat::openid_for(openid_user);
    let m = member::Entity::find()
        .filter(member::Column::Openid.eq(openid))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let id = m.id;
    let mut am = m.into_active_model();
    am.nickname = Set(Some(nickname.to_owned()));
    am.update(app.db()).await.unwrap();
    id
}

async fn products(app: &TestApp) -> Vec<i64> {
    product::Entity::find()
        .filter(product::Column::Active.eq(true))
        .order_by_asc(product::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect()
}

async fn poster_assets(app: &TestApp) -> u64 {
    media_asset::Entity::find()
        .filter(media_asset::Column::Purpose.eq(MediaPurpose::Poster))
        .count(app.db())
        .await
        .unwrap()
}

async fn fetch_png(app: &TestApp, url: &str) -> image::RgbImage {
    let resp = app
        .http
        .get(format!("{}{url}", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let bytes = resp.bytes().await.unwrap();
    image::load_from_memory(&bytes).unwrap().to_rgb8()
}

/// 200 concurrent requests for one poster: one render (one code from WeChat, one asset, one
/// row), every caller the same link; the PNG shows the product picture and a nickname made
/// only of 𠮷 and emoji is drawn (never blank); the scene resolves back to the target and the
/// sharer; a new nickname is a new poster.
async fn a_poster_is_drawn_once_and_cached_by_its_inputs(backend: Backend) {
    let app = TestApp::builder(backend).full_demo().start().await;
    let (me, _) = app.login_member("poster-fan").await;
    let member_id = set_nickname(&app, "poster-fan", "𠮷😀🎉👨‍👩‍👧").await;
    let product_id = products(&app).await[0];
    let vars = json!({ "k": "PRODUCT", "t": product_id.to_string() });
    assert_eq!(app.wechat.wxacode_calls(), 0);

    let calls = (0..200).map(|_| me.raw(SHARE, vars.clone()));
    let answers = futures::future::join_all(calls).await;
    let first = answers[0]["data"]["sharePoster"].clone();
    for a in &answers {
        assert_eq!(a["data"]["sharePoster"], first, "{a}");
    }
    assert_eq!(app.wechat.wxacode_calls(), 1, "one code for one poster");
    assert_eq!(poster_assets(&app).await, 1, "one render stored");
    assert_eq!(poster::Entity::find().count(app.db()).await.unwrap(), 1);
    assert_eq!(first["width"], 720);
    assert_eq!(first["height"], 1280);
    assert_eq!(first["templateVersion"], 1);
    let url = first["url"].as_str().unwrap();
    assert!(
        url.starts_with("/media/public/") && url.ends_with(".png"),
        "{url}"
    );

    let img = fetch_png(&app, url).await;
    assert_eq!(img.dimensions(), (720, 1280));
    let inked = media::poster::inked_pixels(&img, media::poster::NICKNAME_BOX);
    assert!(inked > 300, "nickname box nearly blank: {inked} pixels");
    // the product's picture fills its box (the demo picture is a gradient, not the background)
    assert!(media::poster::inked_pixels(&img, (60, 130, 600, 600)) > 150_000);

    // the code's scene: short, WeChat's alphabet, and it resolves back
    let scene = first["scene"].as_str().unwrap();
    assert!(scene.len() <= 32, "{scene}");
    wechat_integration::validate_scene(scene).unwrap();
    let resolved = me.ok(RESOLVE, json!({ "s": scene })).await["resolveShareScene"].clone();
    assert_eq!(resolved["kind"], "PRODUCT");
    assert_eq!(resolved["targetId"], product_id.to_string());
    assert_eq!(resolved["sharerNickname"], "𠮷😀🎉👨‍👩‍👧");
    let (other, _) = app.login_member("poster-friend").await;
    let seen = other.ok(RESOLVE, json!({ "s": scene })).await;
    assert_eq!(
        seen["resolveShareScene"]["targetId"],
        product_id.to_string()
    );
    // a scene Rouge did not sign, or one edited to name another sharer
    let forged = scene.replacen(&format!(".{}", base36(member_id)), ".zz", 1);
    for bad in [forged.as_str(), "P1.1.AAAAAAAAAAA", "", "nonsense"] {
        let body = other.raw(RESOLVE, json!({ "s": bad })).await;
        assert_eq!(
            reason(&body),
            ("BAD_USER_INPUT".into(), "SHARE_SCENE_INVALID".into()),
            "{bad}: {body}"
        );
    }

    // the same inputs again: the stored poster, no new code
    let again = me.ok(SHARE, vars.clone()).await["sharePoster"].clone();
    assert_eq!(again, first);
    assert_eq!(app.wechat.wxacode_calls(), 1);
    // another nickname is drawn anew
    set_nickname(&app, "poster-fan", "小玫").await;
    let renamed = me.ok(SHARE, vars.clone()).await["sharePoster"].clone();
    assert_ne!(renamed["url"], first["url"]);
    assert_eq!(app.wechat.wxacode_calls(), 2);
    assert_eq!(poster_assets(&app).await, 2);

    // a bookable service; unknown or inactive targets are NOT_FOUND and draw nothing
    let service = booking_service::Entity::find()
        .filter(booking_service::Column::Active.eq(true))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let svc = me
        .ok(
            SHARE,
            json!({ "k": "BOOKING_SERVICE", "t": service.id.to_string() }),
        )
        .await["sharePoster"]
        .clone();
    fetch_png(&app, svc["url"].as_str().unwrap()).await;
    for (kind, id) in [
        ("PRODUCT", 999_999),
        ("CAMPAIGN", 999_999),
        ("BOOKING_SERVICE", 999_999),
    ] {
        let body = me
            .raw(SHARE, json!({ "k": kind, "t": id.to_string() }))
            .await;
        assert_eq!(reason(&body).0, "NOT_FOUND", "{kind}: {body}");
    }
    assert_eq!(app.wechat.wxacode_calls(), 3);
}

fn base36(mut n: i64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// WeChat answers 45009: no more calls for the rest of the Shanghai day (even once WeChat
/// would answer again), new posters are LIMIT_REACHED `SHARE_CODE_QUOTA_REACHED`, stored ones
/// are still served; the next day codes are asked for again.
async fn the_daily_code_quota_stops_new_posters_but_not_stored_ones(backend: Backend) {
    // 2026-12-05 10:00 in Shanghai
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-05T10:00:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = std::sync::Arc::new(domain::platform::clock::ManualClock::new(start));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let (me, _) = app.login_member("quota-fan").await;
    set_nickname(&app, "quota-fan", "小雅").await;
    let ids = products(&app).await;
    let share = |id: i64| json!({ "k": "PRODUCT", "t": id.to_string() });

    let stored = me.ok(SHARE, share(ids[0])).await["sharePoster"].clone();
    assert_eq!(app.wechat.wxacode_calls(), 1);

    app.wechat
        .set_fault(FaultScope::WxaCode, Some(Fault::DailyQuota));
    let body = me.raw(SHARE, share(ids[1])).await;
    assert_eq!(
        reason(&body),
        ("LIMIT_REACHED".into(), "SHARE_CODE_QUOTA_REACHED".into()),
        "{body}"
    );
    assert_eq!(app.wechat.wxacode_calls(), 2);
    // WeChat would answer again, but Rouge does not ask today
    app.wechat.set_fault(FaultScope::WxaCode, None);
    clock.set(start + chrono::Duration::hours(13)); // 23:00 in Shanghai
    let (me, _) = app.login_member("quota-fan").await; // the morning's session has run out
    for id in [ids[1], ids[2]] {
        let body = me.raw(SHARE, share(id)).await;
        assert_eq!(reason(&body).1, "SHARE_CODE_QUOTA_REACHED", "{body}");
    }
    assert_eq!(
        app.wechat.wxacode_calls(),
        2,
        "no call after 45009 the same day"
    );
    // the stored poster is still served, link and picture
    let again = me.ok(SHARE, share(ids[0])).await["sharePoster"].clone();
    assert_eq!(again, stored);
    fetch_png(&app, stored["url"].as_str().unwrap()).await;
    assert_eq!(
        poster_assets(&app).await,
        1,
        "nothing stored for refused posters"
    );

    // the next Shanghai day (00:30 on the 6th) asks WeChat again
    clock.set(start + chrono::Duration::minutes(14 * 60 + 30));
    let (me, _) = app.login_member("quota-fan").await;
    let fresh = me.ok(SHARE, share(ids[1])).await["sharePoster"].clone();
    assert!(fresh["url"].as_str().unwrap().ends_with(".png"));
    assert_eq!(app.wechat.wxacode_calls(), 3);
}

/// Staff display codes (`createScanWxacodeAsset` and the deprecated `createScanWxacode`) share
/// the day's code quota with posters: a 45009 on a display code stops posters and display codes
/// alike until the next Shanghai day, without asking WeChat; stored codes and posters stay.
async fn staff_display_codes_honour_the_daily_code_quota(backend: Backend) {
    // 2026-12-05 10:00 in Shanghai
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-05T10:00:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = std::sync::Arc::new(domain::platform::clock::ManualClock::new(start));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    const ASSET: &str = "mutation($s: String) { createScanWxacodeAsset(storeCode: $s, page: \"pages/scan/index\") { id variants { url } } }";
    const BASE64: &str = "mutation($s: String) { createScanWxacode(storeCode: $s) }";
    let hq = app.login_staff("hq-demo").await;
    let stored = hq.ok(ASSET, json!({ "s": "SH001" })).await["createScanWxacodeAsset"].clone();
    assert_eq!(app.wechat.wxacode_calls(), 1);
    let (me, _) = app.login_member("quota-staff").await;
    let ids = products(&app).await;
    let share = |id: i64| json!({ "k": "PRODUCT", "t": id.to_string() });
    let poster = me.ok(SHARE, share(ids[0])).await["sharePoster"].clone();
    assert_eq!(app.wechat.wxacode_calls(), 2);

    // WeChat answers 45009 to a display code: refused with its reason, nothing stored
    app.wechat
        .set_fault(FaultScope::WxaCode, Some(Fault::DailyQuota));
    let assets_before = media_asset::Entity::find().count(app.db()).await.unwrap();
    let body = hq.raw(ASSET, json!({ "s": "SH002" })).await;
    assert_eq!(
        reason(&body),
        ("LIMIT_REACHED".into(), "WXACODE_QUOTA_REACHED".into()),
        "{body}"
    );
    assert_eq!(app.wechat.wxacode_calls(), 3);
    assert_eq!(
        media_asset::Entity::find().count(app.db()).await.unwrap(),
        assets_before
    );

    // the rest of the day nobody asks WeChat: display codes (both fields) and new posters
    app.wechat.set_fault(FaultScope::WxaCode, None);
    clock.set(start + chrono::Duration::hours(13)); // 23:00 in Shanghai
    let hq = app.login_staff("hq-demo").await;
    let (me, _) = app.login_member("quota-staff").await;
    for (query, vars) in [
        (ASSET, json!({ "s": "SH002" })),
        (BASE64, json!({ "s": "SH002" })),
        (ASSET, json!({ "s": "SH001" })),
    ] {
        let body = hq.raw(query, vars).await;
        assert_eq!(reason(&body).1, "WXACODE_QUOTA_REACHED", "{body}");
    }
    let body = me.raw(SHARE, share(ids[1])).await;
    assert_eq!(reason(&body).1, "SHARE_CODE_QUOTA_REACHED", "{body}");
    assert_eq!(
        app.wechat.wxacode_calls(),
        3,
        "no call after 45009 the same day"
    );
    // what was stored keeps working: the display code's links and the poster
    for v in stored["variants"].as_array().unwrap() {
        let resp = app
            .http
            .get(format!("{}{}", app.base_url, v["url"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(me.ok(SHARE, share(ids[0])).await["sharePoster"], poster);

    // the next Shanghai day (00:30 on the 6th) asks WeChat again
    clock.set(start + chrono::Duration::minutes(14 * 60 + 30));
    let hq = app.login_staff("hq-demo").await;
    let fresh = hq.ok(ASSET, json!({ "s": "SH002" })).await["createScanWxacodeAsset"].clone();
    assert!(!fresh["variants"].as_array().unwrap().is_empty(), "{fresh}");
    assert_eq!(app.wechat.wxacode_calls(), 4);
}

const UPLOAD: &str = "mutation($file: Upload!, $p: MediaPurpose!) { uploadMedia(file: $file, purpose: $p) { id purpose width height variants { url } } }";
const POLICY: &str = "mutation($i: PolicyInput!) { createPolicy(input: $i) { id } }";
const ATTACH: &str = "mutation($p: ID!, $a: ID!, $t: String!) { attachPolicyMaterial(policyId: $p, assetId: $a, title: $t) { id policyId title width height variants { width url } expiresAt } }";
const MATERIALS: &str = "query($p: ID!) { marketingMaterials(policyId: $p) { id title width variants { width height url } expiresAt } }";

/// A staff GraphQL multipart upload of one PNG (`uploadMedia`).
async fn upload_png(app: &TestApp, token: &str, purpose: &str) -> Value {
    let img = image::RgbImage::from_fn(300, 200, |x, y| {
        image::Rgb([(x % 255) as u8, (y % 255) as u8, 90])
    });
    let mut file = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut file),
            image::ImageFormat::Png,
        )
        .unwrap();
    let boundary = "rougeposterboundary42";
    let operations =
        json!({ "query": UPLOAD, "variables": { "file": null, "p": purpose } }).to_string();
    let mut body = Vec::new();
    for (name, value) in [
        ("operations", operations.as_str()),
        ("map", r#"{"0":["variables.file"]}"#),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"m.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.http
        .post(format!("{}/graphql/staff", app.base_url))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("x-rouge-client", "staff-app/1")
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// HQ uploads a MARKETING_MATERIAL (stored PRIVATE: no public links) and attaches it to
/// policies; a distributor the policy addresses lists it with signed 5-minute links that
/// download, unsigned or altered links are 403; a policy addressed to another kind of
/// distributor, or none at all, is NOT_FOUND; BAs cannot attach; bad input changes nothing.
async fn policy_materials_reach_only_the_distributors_a_policy_addresses(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let uploaded = upload_png(&app, hq.token().unwrap(), "MARKETING_MATERIAL").await;
    let asset = uploaded["data"]["uploadMedia"].clone();
    assert_eq!(asset["purpose"], "MARKETING_MATERIAL", "{uploaded}");
    assert_eq!(
        asset["variants"],
        json!([]),
        "a PRIVATE asset has no public links"
    );
    let asset_id = asset["id"].as_str().unwrap().to_owned();
    let stored = media_asset::Entity::find_by_id(asset_id.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.class, media_asset::MediaClass::Private);
    assert!(
        stored
            .variants
            .iter()
            .all(|v| v.key.starts_with("private/"))
    );

    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let to = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let policy = |name: &str, kind: Option<&str>| {
        json!({ "i": { "name": name, "kind": "ORDER_REDUCTION", "validFrom": from, "validTo": to,
            "priority": 1, "requiresAck": false, "thresholdFen": 100_000, "offFen": 5_000,
            "distributorKind": kind, "regions": [] } })
    };
    let everyone = hq.ok(POLICY, policy("春季满减", None)).await["createPolicy"]["id"].clone();
    let key_accounts =
        hq.ok(POLICY, policy("KA 专享", Some("KEY_ACCOUNT"))).await["createPolicy"]["id"].clone();

    let attached = hq
        .ok(
            ATTACH,
            json!({ "p": everyone, "a": asset_id, "t": "  春季陈列指引 " }),
        )
        .await["attachPolicyMaterial"]
        .clone();
    assert_eq!(attached["title"], "春季陈列指引");
    assert_eq!(attached["width"], 300);
    hq.ok(
        ATTACH,
        json!({ "p": key_accounts, "a": asset_id, "t": "KA 陈列" }),
    )
    .await;
    // refusals change nothing
    for (vars, code) in [
        (
            json!({ "p": everyone, "a": asset_id, "t": "again" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "p": everyone, "a": asset_id, "t": "   " }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "p": "999999", "a": asset_id, "t": "x" }),
            "NOT_FOUND",
        ),
        (
            json!({ "p": everyone, "a": "999999", "t": "x" }),
            "NOT_FOUND",
        ),
    ] {
        assert_eq!(hq.err(ATTACH, vars.clone()).await, code, "{vars}");
    }
    let ba = app.login_staff("ba-demo").await;
    assert_eq!(
        ba.err(ATTACH, json!({ "p": everyone, "a": asset_id, "t": "x" }))
            .await,
        "FORBIDDEN"
    );
    let ba_upload = upload_png(&app, ba.token().unwrap(), "MARKETING_MATERIAL").await;
    assert_eq!(reason(&ba_upload).0, "FORBIDDEN", "{ba_upload}");
    assert_eq!(
        entities::policy_material::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        2
    );

    let dist = app.login_distributor("dist-demo").await;
    let list = dist.ok(MATERIALS, json!({ "p": everyone })).await["marketingMaterials"].clone();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["title"], "春季陈列指引");
    let expires = chrono::DateTime::parse_from_rfc3339(list[0]["expiresAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let ttl = (expires - chrono::Utc::now()).num_seconds();
    assert!((200..=301).contains(&ttl), "links live 5 minutes: {ttl}");
    for v in list[0]["variants"].as_array().unwrap() {
        let url = v["url"].as_str().unwrap();
        assert!(
            url.starts_with("/media/private/") && url.contains("sig="),
            "{url}"
        );
        let resp = app
            .http
            .get(format!("{}{url}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.headers()["content-type"], "image/jpeg");
        let bare = url.split('?').next().unwrap();
        let altered = url.replace("sig=", "sig=A");
        for bad in [bare, altered.as_str()] {
            let resp = app
                .http
                .get(format!("{}{bad}", app.base_url))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 403, "{bad}");
        }
    }
    // a policy for key accounts only, and one that does not exist
    for p in [key_accounts.clone(), json!("999999")] {
        assert_eq!(
            dist.err(MATERIALS, json!({ "p": p })).await,
            "NOT_FOUND",
            "{p}"
        );
    }
}

/// Uploads nobody attached or recorded are collected by the media cleanup task a day later:
/// the row and its objects go, except a PUBLIC object another (attached) asset shares by
/// content; an attached upload and a younger orphan stay.
async fn unused_uploads_are_collected_after_a_day(backend: Backend) {
    let clock = std::sync::Arc::new(domain::platform::clock::ManualClock::new(chrono::Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let hq = app.login_staff("hq-demo").await;
    let token = hq.token().unwrap().to_owned();
    let id_of = |v: &Value| {
        v["data"]["uploadMedia"]["id"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    // the same bytes twice: the same content-addressed objects
    let orphan = id_of(&upload_png(&app, &token, "PRODUCT_IMAGE").await);
    let used = id_of(&upload_png(&app, &token, "PRODUCT_IMAGE").await);
    let material = id_of(&upload_png(&app, &token, "MARKETING_MATERIAL").await);
    const ATTACH_IMAGES: &str = "mutation($p: ID!, $a: [ID!]!, $t: [String!]!) { attachProductImages(productId: $p, assetIds: $a, altTexts: $t) { id } }";
    let product_id = products(&app).await[0];
    hq.ok(
        ATTACH_IMAGES,
        json!({ "p": product_id.to_string(), "a": [used.to_string()], "t": ["正面"] }),
    )
    .await;
    let keys = |id: i64| {
        let db = app.db().clone();
        async move {
            media_asset::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .variants
                .0
                .into_iter()
                .map(|v| v.key)
                .collect::<Vec<_>>()
        }
    };
    let (orphan_keys, used_keys, material_keys) =
        (keys(orphan).await, keys(used).await, keys(material).await);
    assert_eq!(orphan_keys, used_keys);
    clock.advance(chrono::Duration::hours(23));
    let hq = app.login_staff("hq-demo").await; // the morning's session has run out
    let young = id_of(&upload_png(&app, hq.token().unwrap(), "MARKETING_MATERIAL").await);

    let task = domain::media::MediaCleanup;
    api::worker::run_task_now(&app.state, &task).await.unwrap();
    let left = |id: i64| {
        let db = app.db().clone();
        async move {
            media_asset::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(
        left(orphan).await && left(material).await,
        "not a day old yet"
    );

    clock.advance(chrono::Duration::hours(2));
    api::worker::run_task_now(&app.state, &task).await.unwrap();
    assert!(!left(orphan).await, "unattached product image collected");
    assert!(!left(material).await, "unattached material collected");
    assert!(left(used).await && left(young).await);
    let store = &app.state.media.store;
    for key in &material_keys {
        assert_eq!(store.size_of(key).await.unwrap(), None, "{key} deleted");
    }
    for key in &used_keys {
        assert!(
            store.size_of(key).await.unwrap().is_some(),
            "{key} is shared and kept"
        );
        let resp = app
            .http
            .get(format!("{}/media/{key}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}

on_both_backends!(
    unused_uploads_are_collected_after_a_day,
    a_poster_is_drawn_once_and_cached_by_its_inputs,
    the_daily_code_quota_stops_new_posters_but_not_stored_ones,
    staff_display_codes_honour_the_daily_code_quota,
    policy_materials_reach_only_the_distributors_a_policy_addresses
);
