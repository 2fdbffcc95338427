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

on_both_backends!(
    a_poster_is_drawn_once_and_cached_by_its_inputs,
    the_daily_code_quota_stops_new_posters_but_not_stored_ones
);
