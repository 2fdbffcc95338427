//! Media end to end: staff multipart uploads (guarded before the body is read), product
//! pictures served immutable, skin photos (consent, store scope, audited link mints, signed
//! links refused once altered or expired, erasure leaving nothing under the member's keys).

use entities::audit_log::{self, Action};
use entities::{media_asset, member, skin_photo, staff_account};
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use serde_json::{Value, json};

const UPLOAD: &str = "mutation($file: Upload!, $p: MediaPurpose!, $m: ID) { uploadMedia(file: $file, purpose: $p, memberId: $m) { id purpose width height variants { width height url } } }";
const RECORD: &str = "mutation($m: ID!, $a: ID!, $t: DateTime!) { recordSkinPhoto(memberId: $m, assetId: $a, area: CHEEKS, takenAt: $t, note: \"before\") { id area variants { width url } expiresAt } }";
const PHOTOS: &str =
    "query($m: ID!) { memberSkinPhotos(memberId: $m) { nodes { id variants { width url } } } }";

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 255) as u8, (y % 255) as u8, 128])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A GraphQL multipart request (operations, map, one file), as the staff app sends it.
fn multipart(query: &str, variables: Value, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "rougeboundary7MA4YWxkTrZu0gW";
    let operations = json!({ "query": query, "variables": variables }).to_string();
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
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    app: &TestApp,
    token: Option<&str>,
    client_header: bool,
    variables: Value,
    file: &[u8],
) -> (u16, Value) {
    let (content_type, body) = multipart(UPLOAD, variables, file);
    let mut req = app
        .http
        .post(format!("{}/graphql/staff", app.base_url))
        .header("content-type", content_type)
        .body(body);
    if client_header {
        req = req.header("x-rouge-client", "staff-app/1");
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let closes = resp
        .headers()
        .get("connection")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let body = resp.json().await.unwrap_or(Value::Null);
    // A refusal answered before the body is read whole closes the connection, so a keep-alive
    // client never reuses one the server drops; an accepted upload keeps it.
    assert_eq!(
        closes,
        status != 200,
        "Connection: close on status {status}"
    );
    (status, body)
}

fn reason(body: &Value) -> (&str, &str) {
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or("none"),
        ext["reason"].as_str().unwrap_or("none"),
    )
}

async fn get(app: &TestApp, url: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{url}", app.base_url))
        .send()
        .await
        .unwrap()
}

async fn product_pictures_are_uploaded_attached_and_served_immutable(backend: Backend) {
    product_pictures_are_uploaded_attached_and_served_immutable_on(TestApp::start(backend).await)
        .await;
}

async fn product_pictures_are_uploaded_attached_and_served_immutable_on(app: TestApp) {
    let hq = app.login_staff("hq-demo").await;
    let token = hq.token().unwrap().to_owned();
    let vars = json!({ "file": null, "p": "PRODUCT_IMAGE" });

    // Refused before anything is stored: no client header (cross-site form), no or a bad token,
    // not an image whatever its name says.
    let (status, _) = upload(&app, Some(&token), false, vars.clone(), &png(64, 64)).await;
    assert_eq!(status, 400);
    let (status, _) = upload(&app, None, true, vars.clone(), &png(64, 64)).await;
    assert_eq!(status, 401);
    let (status, _) = upload(&app, Some("forged"), true, vars.clone(), &png(64, 64)).await;
    assert_eq!(status, 401);
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
    let (_, body) = upload(&app, Some(&token), true, vars.clone(), html).await;
    assert_eq!(
        reason(&body),
        ("BAD_USER_INPUT", "UNSUPPORTED_TYPE"),
        "{body}"
    );
    let mut bomb = png(1, 1);
    bomb[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let (_, body) = upload(&app, Some(&token), true, vars.clone(), &bomb).await;
    assert_eq!(
        reason(&body),
        ("BAD_USER_INPUT", "IMAGE_TOO_LARGE"),
        "{body}"
    );
    // over the body cap
    let (status, _) = upload(
        &app,
        Some(&token),
        true,
        vars.clone(),
        &vec![0u8; 11 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(
        media_asset::Entity::find().count(app.db()).await.unwrap(),
        0
    );
    // a BA may upload, but not a product image
    let ba = app.login_staff("ba-demo").await;
    let (_, body) = upload(&app, ba.token(), true, vars.clone(), &png(64, 64)).await;
    assert_eq!(reason(&body).0, "FORBIDDEN", "{body}");

    let (status, body) = upload(&app, Some(&token), true, vars.clone(), &png(1600, 800)).await;
    assert_eq!(status, 200, "{body}");
    let asset = &body["data"]["uploadMedia"];
    assert_eq!(
        (asset["width"].as_i64(), asset["height"].as_i64()),
        (Some(1600), Some(800))
    );
    let widths: Vec<i64> = asset["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["width"].as_i64().unwrap())
        .collect();
    assert_eq!(widths, [1080, 512, 256]);
    let asset_id = asset["id"].as_str().unwrap().to_owned();
    let (_, second) = upload(&app, Some(&token), true, vars, &png(300, 300)).await;
    let second_id = second["data"]["uploadMedia"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let product = hq
        .ok("{ products(first: 1) { nodes { id } } }", json!({}))
        .await["products"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    const ATTACH: &str = "mutation($p: ID!, $a: [ID!]!, $t: [String!]!) { attachProductImages(productId: $p, assetIds: $a, altTexts: $t) { id alt position } }";
    assert_eq!(
        ba.err(
            ATTACH,
            json!({ "p": product, "a": [asset_id], "t": ["正面"] })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        hq.err(ATTACH, json!({ "p": product, "a": [asset_id], "t": [] }))
            .await,
        "BAD_USER_INPUT"
    );
    let attached = hq
        .ok(
            ATTACH,
            json!({ "p": product, "a": [asset_id, second_id], "t": ["正面", "质地"] }),
        )
        .await;
    let images = attached["attachProductImages"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    let (first_image, second_image) = (images[0]["id"].clone(), images[1]["id"].clone());
    // the same asset twice on one product: CONFLICT
    assert_eq!(
        hq.err(
            ATTACH,
            json!({ "p": product, "a": [asset_id], "t": ["again"] })
        )
        .await,
        "CONFLICT"
    );
    hq.ok(
        "mutation($p: ID!, $i: [ID!]!) { reorderProductImages(productId: $p, imageIds: $i) { id } }",
        json!({ "p": product, "i": [second_image, first_image] }),
    )
    .await;

    // the mini-program sees them in order, a width snapped up to a stored one
    let (member, _) = app.login_member("media-viewer").await;
    let seen = member
        .ok(
            "query($id: ID!) { product(id: $id) { images { alt width height url(width: 300) big: url(width: 2000) } } }",
            json!({ "id": product }),
        )
        .await;
    let shown = seen["product"]["images"].as_array().unwrap();
    assert_eq!(shown[0]["alt"], "质地");
    assert_eq!(shown[1]["alt"], "正面");
    assert_eq!(
        (shown[1]["width"].as_i64(), shown[1]["height"].as_i64()),
        (Some(1600), Some(800))
    );
    let url = shown[1]["url"].as_str().unwrap();
    assert!(url.starts_with("/media/public/"), "{url}");
    let resp = get(&app, url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(
        resp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let served = image::load_from_memory(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!((served.width(), served.height()), (512, 256));
    let big = shown[1]["big"].as_str().unwrap();
    let served = image::load_from_memory(&get(&app, big).await.bytes().await.unwrap()).unwrap();
    assert_eq!(served.width(), 1080);

    hq.ok(
        "mutation($i: ID!) { removeProductImage(imageId: $i) { id } }",
        json!({ "i": first_image }),
    )
    .await;
    let seen = member
        .ok(
            "query($id: ID!) { product(id: $id) { images { alt } } }",
            json!({ "id": product }),
        )
        .await;
    assert_eq!(seen["product"]["images"], json!([{ "alt": "质地" }]));
}

async fn staff_id(app: &TestApp, username: &str) -> i64 {
    staff_account::Entity::find()
        .filter(staff_account::Column::Username.eq(username))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn set_exclusive_ba(app: &TestApp, member_id: i64, ba: i64) {
    let mut row = member::Entity::find_by_id(member_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    row.exclusive_ba_id = Set(Some(ba));
    row.update(app.db()).await.unwrap();
}

async fn objects_of(app: &TestApp, member_id: i64) -> Vec<String> {
    let prefix = media::MediaStore::sensitive_owner_prefix(&format!("m{member_id}")).unwrap();
    app.state.media.store.list(&prefix).await.unwrap()
}

/// A member with her exclusive BA at SH001 and one recorded skin photo.
async fn member_with_photo(
    app: &TestApp,
    who: &str,
) -> (rouge_tests::Gql, i64, Value, rouge_tests::Gql) {
    let (me, id) = app.login_member(who).await;
    let member_id: i64 = id.parse().unwrap();
    set_exclusive_ba(app, member_id, staff_id(app, "ba-demo").await).await;
    let ba = app.login_staff("ba-demo").await;
    let (status, body) = upload(
        app,
        ba.token(),
        true,
        json!({ "file": null, "p": "SKIN_PHOTO", "m": id }),
        &png(900, 1200),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let asset = &body["data"]["uploadMedia"];
    assert_eq!(
        asset["variants"],
        json!([]),
        "no unsigned link to a skin photo"
    );
    let photo = ba
        .ok(
            RECORD,
            json!({ "m": id, "a": asset["id"], "t": "2026-12-01T10:00:00.000Z" }),
        )
        .await["recordSkinPhoto"]
        .clone();
    (me, member_id, photo, ba)
}

async fn skin_photos_are_scoped_audited_signed_and_withdrawn(backend: Backend) {
    skin_photos_are_scoped_audited_signed_and_withdrawn_on(TestApp::start(backend).await).await;
}

async fn skin_photos_are_scoped_audited_signed_and_withdrawn_on(app: TestApp) {
    let (me, member_id, photo, ba) = member_with_photo(&app, "skin-photo-member").await;
    let id = member_id.to_string();
    assert_eq!(photo["area"], "CHEEKS");
    let url = photo["variants"][1]["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("/media/sensitive/m{member_id}/")),
        "{url}"
    );
    // stored encrypted, readable through the minted link
    let objects = objects_of(&app, member_id).await;
    assert_eq!(objects.len(), 3);
    let raw = app.state.media.store.get(&objects[0]).await.unwrap();
    assert!(!raw.starts_with(&[0xFF, 0xD8]), "not a plain JPEG at rest");
    let resp = get(&app, &url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "private, no-store");
    let img = image::load_from_memory(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(img.width(), 512);
    // altered or expired links: 403
    let tampered = url.replace("/512.jpg.enc", "/1080.jpg.enc");
    assert_eq!(get(&app, &tampered).await.status(), 403);
    let bad_sig = format!("{}x", &url[..url.len() - 1]);
    assert_eq!(get(&app, &bad_sig).await.status(), 403);
    let key = url.trim_start_matches("/media/").split('?').next().unwrap();
    assert_eq!(get(&app, &format!("/media/{key}")).await.status(), 403);
    let past = chrono::Utc::now().timestamp() - 1;
    let expired = app.state.media.store.url(key, past);
    assert_eq!(get(&app, &expired).await.status(), 403);

    // another store's BA: FORBIDDEN, for reading, recording and uploading
    let gz = app.login_staff("ba-gz-demo").await;
    let body = gz.raw(PHOTOS, json!({ "m": id })).await;
    assert_eq!(reason(&body).0, "FORBIDDEN", "{body}");
    let (_, body) = upload(
        &app,
        gz.token(),
        true,
        json!({ "file": null, "p": "SKIN_PHOTO", "m": id }),
        &png(64, 64),
    )
    .await;
    assert_eq!(reason(&body).0, "FORBIDDEN", "{body}");
    // the manager of her store may
    let manager = app.login_staff("manager-demo").await;
    manager.ok(PHOTOS, json!({ "m": id })).await;

    // every staff read mints fresh links and is audited, one entry per photo
    let before = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(Action::MemberSkinPhotoRead))
        .filter(audit_log::Column::SubjectId.eq(member_id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(before, 1, "the manager's read");
    for _ in 0..2 {
        let list = ba.ok(PHOTOS, json!({ "m": id })).await;
        assert_eq!(
            list["memberSkinPhotos"]["nodes"].as_array().unwrap().len(),
            1
        );
    }
    let after = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(Action::MemberSkinPhotoRead))
        .filter(audit_log::Column::SubjectId.eq(member_id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(after, 3);
    let mine = me
        .ok("{ mySkinPhotos { nodes { id note } } }", json!({}))
        .await;
    assert_eq!(mine["mySkinPhotos"]["nodes"][0]["note"], "before");

    // without the sensitive-data consent nothing is recorded
    let (_, other) = app.login_member_without_consent("no-consent").await;
    let other_id: i64 = other.parse().unwrap();
    set_exclusive_ba(&app, other_id, staff_id(&app, "ba-demo").await).await;
    let (_, body) = upload(
        &app,
        ba.token(),
        true,
        json!({ "file": null, "p": "SKIN_PHOTO", "m": other }),
        &png(64, 64),
    )
    .await;
    let asset = body["data"]["uploadMedia"]["id"].clone();
    let body = ba
        .raw(
            RECORD,
            json!({ "m": other, "a": asset, "t": "2026-12-01T10:00:00.000Z" }),
        )
        .await;
    assert_eq!(
        reason(&body),
        ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"),
        "{body}"
    );
    // another member's upload is not found for this member
    let body = ba
        .raw(
            RECORD,
            json!({ "m": id, "a": asset, "t": "2026-12-01T10:00:00.000Z" }),
        )
        .await;
    assert_eq!(reason(&body).0, "NOT_FOUND", "{body}");

    // withdrawing the consent removes the photos: rows, keys, objects
    me.ok(
        "mutation { withdrawSensitiveDataConsent { sensitiveDataConsent } }",
        json!({}),
    )
    .await;
    assert!(objects_of(&app, member_id).await.is_empty());
    assert_eq!(
        skin_photo::Entity::find()
            .filter(skin_photo::Column::MemberId.eq(member_id))
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        media_asset::Entity::find()
            .filter(media_asset::Column::OwnerMemberId.eq(member_id))
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    assert_eq!(get(&app, &url).await.status(), 404);
}

/// Sets the member's nickname and has her share a poster of the first product; its PNG link.
async fn poster_with_nickname(
    app: &TestApp,
    me: &rouge_tests::Gql,
    member_id: i64,
    nickname: &str,
) -> String {
    let mut m = member::Entity::find_by_id(member_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    m.nickname = Set(Some(nickname.to_owned()));
    m.update(app.db()).await.unwrap();
    let page = me
        .ok(
            "{ products(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let product = page["products"]["edges"][0]["node"]["id"].clone();
    let poster = me
        .ok(
            "mutation($t: ID!) { sharePoster(kind: PRODUCT, targetId: $t) { url } }",
            json!({ "t": product }),
        )
        .await;
    let url = poster["sharePoster"]["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/media/public/") && url.ends_with(".png"),
        "{url}"
    );
    url
}

async fn erasing_a_member_leaves_nothing_under_her_keys(backend: Backend) {
    erasing_a_member_leaves_nothing_under_her_keys_on(TestApp::start(backend).await).await;
}

async fn erasing_a_member_leaves_nothing_under_her_keys_on(app: TestApp) {
    let (me, member_id, photo, ba) = member_with_photo(&app, "erased-photo-member").await;
    let (kept, keep_id, _, _) = member_with_photo(&app, "kept-photo-member").await;
    // both share a poster: a PUBLIC PNG that shows each one's nickname
    let mine = poster_with_nickname(&app, &me, member_id, "要被删除的小雅").await;
    let theirs = poster_with_nickname(&app, &kept, keep_id, "留下的小美").await;
    assert_ne!(mine, theirs);
    for url in [&mine, &theirs] {
        assert_eq!(get(&app, url).await.status(), 200);
    }
    let url = photo["variants"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(get(&app, &url).await.status(), 200);
    let hq = app.login_staff("hq-demo").await;
    hq.ok(
        "mutation($id: ID!, $r: String!) { eraseMember(id: $id, reason: $r) }",
        json!({ "id": member_id.to_string(), "r": "PIPL request #7" }),
    )
    .await;
    assert!(objects_of(&app, member_id).await.is_empty());
    // her poster's PNG is gone from the store (not only its rows), the other member's stays
    let public = app.state.media.store.list("public").await.unwrap();
    let key_of = |url: &str| url.trim_start_matches("/media/").to_owned();
    assert!(!public.contains(&key_of(&mine)), "{mine} still stored");
    assert!(public.contains(&key_of(&theirs)), "{theirs} was deleted");
    assert_eq!(get(&app, &mine).await.status(), 404);
    assert_eq!(get(&app, &theirs).await.status(), 200);
    assert_eq!(
        entities::poster::Entity::find()
            .filter(entities::poster::Column::MemberId.eq(member_id))
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    // nothing left waiting: every queued deletion went through at once
    assert_eq!(
        entities::media_deletion::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        media_asset::Entity::find()
            .filter(media_asset::Column::OwnerMemberId.eq(member_id))
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    assert_eq!(get(&app, &url).await.status(), 404);
    // the other member's photo is untouched
    assert_eq!(objects_of(&app, keep_id).await.len(), 3);
    let list = ba.ok(PHOTOS, json!({ "m": keep_id.to_string() })).await;
    let photo_id = list["memberSkinPhotos"]["nodes"][0]["id"].clone();
    ba.ok(
        "mutation($id: ID!) { eraseSkinPhoto(id: $id) }",
        json!({ "id": photo_id }),
    )
    .await;
    assert!(objects_of(&app, keep_id).await.is_empty());
}

const TICKET: &str = "mutation($p: MediaPurpose!, $t: String!, $n: Int!, $h: String!) { createUploadTicket(purpose: $p, contentType: $t, byteSize: $n, sha256: $h) { id method url headers { name value } maxBytes expiresAt } }";
const COMPLETE: &str = "mutation($id: ID!) { completeUpload(ticketId: $id) { id purpose width height variants { url } } }";

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn ticket_for(me: &rouge_tests::Gql, bytes: &[u8], sha: &str) -> Value {
    me.ok(
        TICKET,
        json!({ "p": "SKIN_PHOTO", "t": "image/png", "n": bytes.len(), "h": sha }),
    )
    .await["createUploadTicket"]
        .clone()
}

/// A PUT to a ticket's URL (Rouge's own route, or a presigned S3 URL).
async fn put(app: &TestApp, url: &str, body: Vec<u8>) -> u16 {
    let url = if url.starts_with('/') {
        format!("{}{url}", app.base_url)
    } else {
        url.to_owned()
    };
    app.http
        .put(url)
        .header("content-type", "image/png")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn ticket_key(app: &TestApp, ticket: &Value) -> String {
    let id: i64 = ticket["id"].as_str().unwrap().parse().unwrap();
    entities::upload_ticket::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .storage_key
}

async fn assets_of(app: &TestApp, member_id: i64) -> u64 {
    media_asset::Entity::find()
        .filter(media_asset::Column::OwnerMemberId.eq(member_id))
        .count(app.db())
        .await
        .unwrap()
}

async fn direct_uploads_take_a_single_use_ticket(backend: Backend) {
    let clock = std::sync::Arc::new(domain::platform::clock::ManualClock::new(chrono::Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    direct_uploads_on(app, clock).await;
}

async fn direct_uploads_on(
    app: TestApp,
    clock: std::sync::Arc<domain::platform::clock::ManualClock>,
) {
    let (me, id) = app.login_member("ticket-member").await;
    let member_id: i64 = id.parse().unwrap();
    let photo = png(900, 1200);
    let sha = sha256_hex(&photo);

    // Bad input is refused and issues nothing.
    for (t, n, h) in [
        ("image/svg+xml", photo.len(), sha.as_str()),
        ("image/png", 0, sha.as_str()),
        ("image/png", 21 * 1024 * 1024, sha.as_str()),
        ("image/png", photo.len(), "xyz"),
    ] {
        let body = me
            .raw(TICKET, json!({ "p": "SKIN_PHOTO", "t": t, "n": n, "h": h }))
            .await;
        assert_eq!(reason(&body).0, "BAD_USER_INPUT", "{body}");
    }
    let body = me
        .raw(
            TICKET,
            json!({ "p": "PRODUCT_IMAGE", "t": "image/png", "n": 10, "h": sha }),
        )
        .await;
    assert_eq!(reason(&body).0, "FORBIDDEN", "{body}");
    assert_eq!(
        entities::upload_ticket::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    // Without her sensitive-data consent there is no skin photo upload.
    let (shy, _) = app.login_member_without_consent("ticket-shy-member").await;
    shy.ok(
        "mutation($v: String!) { acceptPrivacyPolicy(version: $v) { privacyPolicyCurrent } }",
        json!({ "v": domain::privacy::DEFAULT_POLICY_VERSION }),
    )
    .await;
    let body = shy
        .raw(
            TICKET,
            json!({ "p": "SKIN_PHOTO", "t": "image/png", "n": photo.len(), "h": sha }),
        )
        .await;
    assert_eq!(
        reason(&body),
        ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"),
        "{body}"
    );

    let ticket = ticket_for(&me, &photo, &sha).await;
    assert_eq!(ticket["method"], "PUT");
    assert_eq!(ticket["maxBytes"], photo.len());
    assert_eq!(ticket["headers"][0]["name"], "content-type");
    let url = ticket["url"].as_str().unwrap().to_owned();
    let key = ticket_key(&app, &ticket).await;
    assert!(key.starts_with("incoming/"), "{key}");
    let store = &app.state.media.store;

    // Completing before the upload: nothing there yet, the ticket stays usable.
    let body = me.raw(COMPLETE, json!({ "id": ticket["id"] })).await;
    assert_eq!(
        reason(&body),
        ("BAD_USER_INPUT", "UPLOAD_MISSING"),
        "{body}"
    );

    // The client never chooses the key: another id with the ticket's signature, no signature,
    // or any other path → 403, nothing stored.
    let query = url.split_once('?').unwrap().1;
    for forged in [
        format!("/media/upload/chosenbyclient?{query}"),
        "/media/upload/chosenbyclient".to_owned(),
        format!("/media/sensitive/m{member_id}/x/512.jpg.enc?{query}"),
        format!("/media/public/evil.jpg?{query}"),
    ] {
        assert_eq!(put(&app, &forged, photo.clone()).await, 403, "{forged}");
    }
    if store.presigns_uploads() {
        // the store checks the signature: the presigned query on another key → 403
        let own = key.strip_prefix("incoming/").unwrap();
        let forged = url.replace(own, "chosenbyclient");
        assert_ne!(forged, url);
        assert_eq!(put(&app, &forged, photo.clone()).await, 403, "{forged}");
    }
    assert!(store.list("incoming").await.unwrap().is_empty());
    if !store.presigns_uploads() {
        // Rouge's own route reads no more than the declared size.
        let mut bigger = photo.clone();
        bigger.push(0);
        assert_eq!(put(&app, &url, bigger).await, 413);
        assert_eq!(store.size_of(&key).await.unwrap(), None);
    }
    assert_eq!(put(&app, &url, photo.clone()).await, 200);
    assert_eq!(store.size_of(&key).await.unwrap(), Some(photo.len() as u64));

    // Another member's ticket is not found and changes nothing.
    let (other, _) = app.login_member("ticket-other-member").await;
    let body = other.raw(COMPLETE, json!({ "id": ticket["id"] })).await;
    assert_eq!(reason(&body).0, "NOT_FOUND", "{body}");

    // Two completions at once: exactly one asset.
    let (a, b) = tokio::join!(
        me.raw(COMPLETE, json!({ "id": ticket["id"] })),
        me.raw(COMPLETE, json!({ "id": ticket["id"] }))
    );
    let (done, refused) = if a["errors"].is_null() {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(reason(&refused), ("CONFLICT", "TICKET_USED"), "{refused}");
    let asset = &done["data"]["completeUpload"];
    assert_eq!(asset["purpose"], "SKIN_PHOTO", "{done}");
    assert_eq!(
        (asset["width"].as_i64(), asset["height"].as_i64()),
        (Some(900), Some(1200))
    );
    assert_eq!(
        asset["variants"],
        json!([]),
        "no unsigned link to a skin photo"
    );
    // derivatives stored encrypted under her keys, the raw original gone
    assert_eq!(objects_of(&app, member_id).await.len(), 3);
    assert_eq!(store.size_of(&key).await.unwrap(), None);
    assert_eq!(assets_of(&app, member_id).await, 1);
    // reused: refused, and the URL no longer takes a PUT
    let body = me.raw(COMPLETE, json!({ "id": ticket["id"] })).await;
    assert_eq!(reason(&body), ("CONFLICT", "TICKET_USED"), "{body}");
    if !store.presigns_uploads() {
        assert_eq!(put(&app, &url, photo.clone()).await, 403);
    }
    // Her exclusive BA records the photo she uploaded herself.
    set_exclusive_ba(&app, member_id, staff_id(&app, "ba-demo").await).await;
    let ba = app.login_staff("ba-demo").await;
    let recorded = ba
        .ok(
            RECORD,
            json!({ "m": id, "a": asset["id"], "t": "2026-12-01T10:00:00.000Z" }),
        )
        .await;
    assert_eq!(recorded["recordSkinPhoto"]["area"], "CHEEKS");

    // A hash that does not match: refused, raw object deleted, no asset, ticket spent.
    let other_photo = png(640, 480);
    let wrong = ticket_for(&me, &other_photo, &sha).await;
    let wrong_key = ticket_key(&app, &wrong).await;
    assert_eq!(
        put(&app, wrong["url"].as_str().unwrap(), other_photo.clone()).await,
        200
    );
    let body = me.raw(COMPLETE, json!({ "id": wrong["id"] })).await;
    assert_eq!(
        reason(&body),
        ("BAD_USER_INPUT", "UPLOAD_HASH_MISMATCH"),
        "{body}"
    );
    assert_eq!(store.size_of(&wrong_key).await.unwrap(), None);
    let body = me.raw(COMPLETE, json!({ "id": wrong["id"] })).await;
    assert_eq!(reason(&body), ("CONFLICT", "TICKET_USED"), "{body}");

    // An object over its cap (a presigned PUT cannot cap the size): refused and deleted.
    let capped = ticket_for(&me, &other_photo, &sha256_hex(&other_photo)).await;
    let capped_key = ticket_key(&app, &capped).await;
    let mut bigger = other_photo.clone();
    bigger.extend_from_slice(&[0; 4096]);
    store.put_raw(&capped_key, bigger.into()).await.unwrap();
    let body = me.raw(COMPLETE, json!({ "id": capped["id"] })).await;
    assert_eq!(
        reason(&body),
        ("BAD_USER_INPUT", "UPLOAD_SIZE_MISMATCH"),
        "{body}"
    );
    assert_eq!(store.size_of(&capped_key).await.unwrap(), None);

    // Not an image whatever the ticket said: intake refuses, nothing kept.
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec();
    let fake = me
        .ok(
            TICKET,
            json!({ "p": "SKIN_PHOTO", "t": "image/png", "n": html.len(), "h": sha256_hex(&html) }),
        )
        .await["createUploadTicket"]
        .clone();
    assert_eq!(put(&app, fake["url"].as_str().unwrap(), html).await, 200);
    let body = me.raw(COMPLETE, json!({ "id": fake["id"] })).await;
    assert_eq!(
        reason(&body),
        ("BAD_USER_INPUT", "UNSUPPORTED_TYPE"),
        "{body}"
    );
    assert!(store.list("incoming").await.unwrap().is_empty());

    // Expired after ten minutes: refused, with the upload already there.
    let late = ticket_for(&me, &other_photo, &sha256_hex(&other_photo)).await;
    assert_eq!(
        put(&app, late["url"].as_str().unwrap(), other_photo.clone()).await,
        200
    );
    clock.advance(chrono::Duration::seconds(601));
    let body = me.raw(COMPLETE, json!({ "id": late["id"] })).await;
    assert_eq!(reason(&body), ("EXPIRED", "TICKET_EXPIRED"), "{body}");
    if !store.presigns_uploads() {
        assert_eq!(
            put(&app, late["url"].as_str().unwrap(), other_photo).await,
            403
        );
    }
    assert_eq!(
        assets_of(&app, member_id).await,
        1,
        "only the one completed upload"
    );
}

/// The storage behaviours against the real S3-protocol server `scripts/test` starts (SigV4 on
/// every request, presigned URLs checked for signature and expiry): a bucket per test.
async fn storage_behaviours_on_the_s3_server(backend: Backend) {
    let s3 = || TestApp::builder(backend).media(rouge_tests::s3_media());
    let app = s3().start().await;
    assert!(app.state.media.store.presigns_uploads());
    // put/get/delete, immutable public pictures
    product_pictures_are_uploaded_attached_and_served_immutable_on(app).await;
    // signed downloads, tampered/expired links, erasure leaves nothing under her prefix
    skin_photos_are_scoped_audited_signed_and_withdrawn_on(s3().start().await).await;
    erasing_a_member_leaves_nothing_under_her_keys_on(s3().start().await).await;
    // direct upload with a presigned PUT
    let clock = std::sync::Arc::new(domain::platform::clock::ManualClock::new(chrono::Utc::now()));
    direct_uploads_on(s3().clock(clock.clone()).start().await, clock).await;

    // A presigned PUT expires on the server: valid for one second, then 403.
    let app = s3().start().await;
    let store = &app.state.media.store;
    let key = media::MediaStore::incoming_key();
    let now = chrono::Utc::now().timestamp();
    let target = store.upload_target(&key, now + 1, now).await.unwrap();
    assert_eq!(put(&app, &target.url, png(8, 8)).await, 200);
    assert!(store.size_of(&key).await.unwrap().is_some());
    rouge_tests::eventually(10, "the presigned PUT expires", || {
        let url = target.url.clone();
        let app = &app;
        async move { put(app, &url, png(8, 8)).await == 403 }
    })
    .await;
    // and a download with a presigned GET of ours is refused without credentials
    let direct = target.url.split('?').next().unwrap().to_owned();
    assert_eq!(
        app.http
            .get(&direct)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403,
        "the bucket is not public"
    );
}

/// A fresh full demo shows every product with a picture (made at seed time, stored through the
/// intake), and each size's link answers 200 with a JPEG.
async fn the_demo_catalog_has_pictures(backend: Backend) {
    let app = TestApp::builder(backend).full_demo().start().await;
    let data = app
        .consumer()
        .ok(
            "{ products(first: 50) { nodes { name images { alt width height small: url(width: 256) large: url(width: 1080) } } } }",
            json!({}),
        )
        .await;
    let nodes = data["products"]["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    for p in nodes {
        let images = p["images"].as_array().unwrap();
        assert_eq!(images.len(), 1, "{p}");
        let img = &images[0];
        assert_eq!(img["alt"], p["name"]);
        assert_eq!(
            (img["width"].as_i64(), img["height"].as_i64()),
            (Some(800), Some(800))
        );
        for size in ["small", "large"] {
            let resp = get(&app, img[size].as_str().unwrap()).await;
            assert_eq!(resp.status(), 200, "{p}");
            let bytes = resp.bytes().await.unwrap();
            assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
        }
    }
}

/// The worker's media cleanup: a ticket left unfinished has its raw upload removed once it ran
/// out, and a queued deletion is retried with backoff until the store confirms.
async fn cleanup_removes_stale_uploads_and_retries_deletions(backend: Backend) {
    use entities::media_deletion;
    let clock = std::sync::Arc::new(domain::platform::clock::ManualClock::new(chrono::Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let (me, _) = app.login_member("cleanup-member").await;
    let photo = png(64, 64);
    let ticket = ticket_for(&me, &photo, &sha256_hex(&photo)).await;
    let key = ticket_key(&app, &ticket).await;
    assert_eq!(
        put(&app, ticket["url"].as_str().unwrap(), photo.clone()).await,
        200
    );
    let fresh = ticket_for(&me, &photo, &sha256_hex(&photo)).await;
    let fresh_key = ticket_key(&app, &fresh).await;
    let store = &app.state.media.store;
    let task = domain::media::MediaCleanup;

    // still running: untouched
    clock.advance(chrono::Duration::seconds(300));
    api::worker::run_task_now(&app.state, &task).await.unwrap();
    assert!(store.size_of(&key).await.unwrap().is_some());
    // ran out (and the grace minute passed): raw upload gone, ticket EXPIRED, not completable
    store
        .put_raw(&fresh_key, photo.clone().into())
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(361));
    assert_eq!(
        api::worker::run_task_now(&app.state, &task).await.unwrap(),
        2
    );
    assert_eq!(store.size_of(&key).await.unwrap(), None);
    assert_eq!(store.size_of(&fresh_key).await.unwrap(), None);
    let row = entities::upload_ticket::Entity::find_by_id(
        ticket["id"].as_str().unwrap().parse::<i64>().unwrap(),
    )
    .one(app.db())
    .await
    .unwrap()
    .unwrap();
    assert_eq!(row.state, entities::upload_ticket::TicketState::Expired);
    let body = me.raw(COMPLETE, json!({ "id": ticket["id"] })).await;
    assert_eq!(reason(&body), ("CONFLICT", "TICKET_USED"), "{body}");

    // A queued deletion: retried until it succeeds; one that keeps failing backs off.
    store
        .put_raw("private/orphan/512.jpg", png(8, 8).into())
        .await
        .unwrap();
    let now = app.state.clock.now();
    for key in ["private/orphan/", "private/bad//key.jpg"] {
        media_deletion::ActiveModel {
            object_key: Set(key.to_owned()),
            attempts: Set(1),
            next_attempt_at: Set(now),
            last_error: Set(Some("store unavailable".into())),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(app.db())
        .await
        .unwrap();
    }
    assert_eq!(
        api::worker::run_task_now(&app.state, &task).await.unwrap(),
        1
    );
    assert!(store.list("private/orphan").await.unwrap().is_empty());
    let left = media_deletion::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(left.len(), 1, "the deleted one leaves the queue");
    assert_eq!(left[0].object_key, "private/bad//key.jpg");
    assert_eq!(left[0].attempts, 2);
    assert!(left[0].next_attempt_at > now, "backs off");
    // not due yet: not tried again
    api::worker::run_task_now(&app.state, &task).await.unwrap();
    let again = media_deletion::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 2);
    clock.advance(chrono::Duration::minutes(5));
    api::worker::run_task_now(&app.state, &task).await.unwrap();
    let again = media_deletion::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 3);
}

/// `createScanWxacodeAsset`: the mini-program code for a display is a stored PUBLIC image with
/// immutable links (the base64 field stays, deprecated); HQ only.
async fn the_scan_wxacode_is_a_stored_image(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    const ASSET: &str = "mutation($s: String) { createScanWxacodeAsset(storeCode: $s, page: \"pages/scan/index\") { id purpose width height variants { width url } } }";
    let asset = hq.ok(ASSET, json!({ "s": "SH001" })).await["createScanWxacodeAsset"].clone();
    assert_eq!(asset["purpose"], "WXACODE");
    let variants = asset["variants"].as_array().unwrap();
    assert!(!variants.is_empty(), "{asset}");
    for v in variants {
        let url = v["url"].as_str().unwrap();
        assert!(url.starts_with("/media/public/"), "{url}");
        let resp = get(&app, url).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(resp.bytes().await.unwrap().starts_with(&[0xFF, 0xD8]));
    }
    // the same code again: content-addressed, the same links
    let again = hq.ok(ASSET, json!({ "s": "SH001" })).await["createScanWxacodeAsset"].clone();
    assert_eq!(again["variants"], asset["variants"]);
    let ba = app.login_staff("ba-demo").await;
    assert_eq!(ba.err(ASSET, json!({ "s": "SH001" })).await, "FORBIDDEN");
    // nobody uploads a mini-program code
    let (status, body) = upload(
        &app,
        hq.token(),
        true,
        json!({ "file": null, "p": "WXACODE" }),
        &png(64, 64),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reason(&body).0, "BAD_USER_INPUT", "{body}");
}

on_both_backends!(
    the_scan_wxacode_is_a_stored_image,
    cleanup_removes_stale_uploads_and_retries_deletions,
    the_demo_catalog_has_pictures,
    storage_behaviours_on_the_s3_server,
    direct_uploads_take_a_single_use_ticket,
    product_pictures_are_uploaded_attached_and_served_immutable,
    skin_photos_are_scoped_audited_signed_and_withdrawn,
    erasing_a_member_leaves_nothing_under_her_keys
);
