//! Share posters: a member shares a product, a campaign or a bookable service as a PNG with
//! the target's picture and title, her nickname and a mini-program code whose scene is a signed
//! short token naming (kind, target, sharer), which [`resolve_share_scene`] reads back.
//!
//! A poster is named by the hash of everything drawn on it (template version, target and its
//! `updated_at`, its picture, the nickname, the scene): the same inputs give the stored poster,
//! cacheable forever (PUBLIC, content-addressed). Concurrent requests for one poster render it
//! once per replica (a per-key lock, then the database is read again); replicas racing each
//! other keep one row (unique cache key) and drop the loser's asset.
//!
//! Mini-program codes go through [`super::wxacode`], which stops asking WeChat for the rest of
//! the store day once it answered 45009; stored posters are still served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};
use wechat_integration::WxaCodeRequest;

use super::{MediaError, internal, port};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::platform::db::begin_write;
use entities::media_asset::{self, MediaClass, MediaPurpose, StoredVariant};
use entities::poster::{self, PosterKind};
use entities::typed::JsonText;
use entities::{booking_service, campaign, member, product, product_image};

/// The mini-program page a poster's code opens (it reads the scene and calls
/// `resolveShareScene`).
pub const SHARE_PAGE: &str = "pages/share/landing";

/// A poster as the member gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poster {
    pub url: String,
    pub width: i32,
    pub height: i32,
    pub scene: String,
    pub template_version: i32,
}

/// What a scanned poster code points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareScene {
    pub kind: PosterKind,
    pub target_id: i64,
    pub sharer_member_id: i64,
    /// as printed on the poster
    pub sharer_nickname: Option<String>,
}

/// Per-key locks of the posters being rendered on this replica.
#[derive(Debug, Default, Clone)]
pub struct PosterFlights {
    inner: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl PosterFlights {
    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_owned()).or_default().clone()
    }

    fn done(&self, key: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(key).is_some_and(|l| Arc::strong_count(l) <= 1) {
            map.remove(key);
        }
    }
}

const KIND_TAGS: [(PosterKind, char); 3] = [
    (PosterKind::Product, 'P'),
    (PosterKind::Campaign, 'C'),
    (PosterKind::BookingService, 'S'),
];

fn tag_of(kind: PosterKind) -> char {
    KIND_TAGS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or('P', |(_, t)| *t)
}

fn base36(mut n: u64) -> String {
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
    String::from_utf8(out).unwrap_or_default()
}

/// The scene of a poster's code: `<kind><target>.<sharer>.<tag>` (ids in base 36, an 8-byte
/// HMAC tag), at most 32 characters from WeChat's allowed set.
pub fn sign_scene(
    app: &AppState,
    kind: PosterKind,
    target_id: i64,
    member_id: i64,
) -> Result<String, MediaError> {
    let (Ok(t), Ok(m)) = (u64::try_from(target_id), u64::try_from(member_id)) else {
        return Err(MediaError::NotFound);
    };
    let body = format!("{}{}.{}", tag_of(kind), base36(t), base36(m));
    let scene = format!("{body}.{}", app.codes.tag("poster-scene", &body, 8));
    if scene.len() > 32 {
        return Err(internal("poster scene over 32 characters"));
    }
    Ok(scene)
}

fn parse_scene(app: &AppState, scene: &str) -> Option<(PosterKind, i64, i64)> {
    if scene.len() > 32 {
        return None;
    }
    let (body, tag) = scene.rsplit_once('.')?;
    if !app.codes.tag_matches("poster-scene", body, 8, tag) {
        return None;
    }
    let mut chars = body.chars();
    let first = chars.next()?;
    let kind = KIND_TAGS.iter().find(|(_, t)| *t == first)?.0;
    let (target, sharer) = chars.as_str().split_once('.')?;
    let target = i64::from_str_radix(target, 36).ok()?;
    let sharer = i64::from_str_radix(sharer, 36).ok()?;
    Some((kind, target, sharer))
}

/// Reads a poster code's scene back. A scene Rouge did not sign → `SHARE_SCENE_INVALID`.
pub async fn resolve_share_scene(
    app: &AppState,
    _me: &MemberPrincipal,
    scene: &str,
) -> Result<ShareScene, MediaError> {
    let (kind, target_id, sharer) =
        parse_scene(app, scene.trim()).ok_or(MediaError::SceneInvalid)?;
    let nickname = member::Entity::find_by_id(sharer)
        .one(&app.db)
        .await?
        .filter(|m| m.erased_at.is_none())
        .and_then(|m| m.nickname);
    Ok(ShareScene {
        kind,
        target_id,
        sharer_member_id: sharer,
        sharer_nickname: nickname,
    })
}

/// What is drawn for a target, and what versions it.
struct Target {
    title: String,
    label: &'static str,
    updated_at: DateTime<Utc>,
    /// the stored key of its largest picture and the asset it belongs to
    picture: Option<(i64, String)>,
}

async fn load_target(app: &AppState, kind: PosterKind, id: i64) -> Result<Target, MediaError> {
    match kind {
        PosterKind::Product => {
            let p = product::Entity::find_by_id(id)
                .one(&app.db)
                .await?
                .filter(|p| p.active)
                .ok_or(MediaError::NotFound)?;
            let first = product_image::Entity::find()
                .filter(product_image::Column::ProductId.eq(id))
                .order_by_asc(product_image::Column::Position)
                .order_by_asc(product_image::Column::Id)
                .one(&app.db)
                .await?;
            let picture = match first {
                Some(img) => media_asset::Entity::find_by_id(img.asset_id)
                    .one(&app.db)
                    .await?
                    .and_then(|a| {
                        let key = a.variants.iter().max_by_key(|v| v.label)?.key.clone();
                        Some((a.id, key))
                    }),
                None => None,
            };
            Ok(Target {
                title: p.name,
                label: "好物推荐",
                updated_at: p.updated_at,
                picture,
            })
        }
        PosterKind::Campaign => {
            use entities::campaign::CampaignStatus as S;
            let c = campaign::Entity::find_by_id(id)
                .one(&app.db)
                .await?
                .filter(|c| matches!(c.status, S::Scheduled | S::Running))
                .ok_or(MediaError::NotFound)?;
            Ok(Target {
                title: c.name,
                label: "限时活动",
                updated_at: c.updated_at,
                picture: None,
            })
        }
        PosterKind::BookingService => {
            let s = booking_service::Entity::find_by_id(id)
                .one(&app.db)
                .await?
                .filter(|s| s.active)
                .ok_or(MediaError::NotFound)?;
            Ok(Target {
                title: s.name,
                label: "到店服务",
                updated_at: s.updated_at,
                picture: None,
            })
        }
    }
}

fn cache_key(kind: PosterKind, target_id: i64, t: &Target, nickname: &str, scene: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        format!("v{}", media::poster::TEMPLATE_VERSION),
        format!("{kind:?}"),
        target_id.to_string(),
        t.updated_at.timestamp_micros().to_string(),
        t.picture
            .as_ref()
            .map_or_else(String::new, |(id, key)| format!("{id}:{key}")),
        t.title.clone(),
        nickname.to_owned(),
        scene.to_owned(),
    ] {
        h.update(part.len().to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

async fn cached(app: &AppState, key: &str, scene: &str) -> Result<Option<Poster>, MediaError> {
    let Some(row) = poster::Entity::find()
        .filter(poster::Column::CacheKey.eq(key))
        .one(&app.db)
        .await?
    else {
        return Ok(None);
    };
    let asset = super::load_asset(&app.db, row.asset_id).await?;
    Ok(to_poster(app, &asset, scene, row.template_version))
}

fn to_poster(
    app: &AppState,
    asset: &media_asset::Model,
    scene: &str,
    template_version: i32,
) -> Option<Poster> {
    let v = asset.variants.first()?;
    Some(Poster {
        url: port(app).store.url(&v.key, 0),
        width: asset.width,
        height: asset.height,
        scene: scene.to_owned(),
        template_version,
    })
}

/// The member's poster for a target: the stored one when nothing drawn on it changed,
/// otherwise rendered now (once per replica however many ask at the same time).
#[tracing::instrument(skip(app, me), err)]
pub async fn share_poster(
    app: &Arc<AppState>,
    me: &MemberPrincipal,
    kind: PosterKind,
    target_id: i64,
) -> Result<Poster, MediaError> {
    let member = member::Entity::find_by_id(me.member_id)
        .one(&app.db)
        .await?
        .filter(|m| m.erased_at.is_none())
        .ok_or(MediaError::NotFound)?;
    let nickname = member.nickname.unwrap_or_default();
    let target = load_target(app, kind, target_id).await?;
    let scene = sign_scene(app, kind, target_id, me.member_id)?;
    let key = cache_key(kind, target_id, &target, &nickname, &scene);
    if let Some(p) = cached(app, &key, &scene).await? {
        return Ok(p);
    }
    // The render runs in a task of its own that holds the key's lock: a caller that gives up
    // (the request timed out) does not abort it, so the callers after it find the poster
    // stored instead of drawing it again.
    let (app, member_id) = (Arc::clone(app), me.member_id);
    let task = tokio::spawn(async move {
        let flights = port(&app).poster_flights.clone();
        let lock = flights.lock_for(&key);
        let result = async {
            let _held = lock.lock().await;
            if let Some(p) = cached(&app, &key, &scene).await? {
                return Ok(p);
            }
            render_and_store(
                &app, member_id, kind, target_id, &target, &nickname, &scene, &key,
            )
            .await
        }
        .await;
        drop(lock);
        flights.done(&key);
        result
    });
    task.await.map_err(internal)?
}

#[allow(clippy::too_many_arguments)]
async fn render_and_store(
    app: &AppState,
    member_id: i64,
    kind: PosterKind,
    target_id: i64,
    target: &Target,
    nickname: &str,
    scene: &str,
    key: &str,
) -> Result<Poster, MediaError> {
    let code = super::wxacode::generate(
        app,
        &WxaCodeRequest {
            scene: scene.to_owned(),
            page: Some(SHARE_PAGE.to_owned()),
            check_path: false,
            env_version: None,
            width: Some(280),
        },
    )
    .await?;
    let store = &port(app).store;
    let picture = match &target.picture {
        Some((_, k)) => store.get(k).await.ok(),
        None => None,
    };
    let (label, title, nick) = (target.label, target.title.clone(), nickname.to_owned());
    let rendered = tokio::task::spawn_blocking(move || {
        media::poster::render(&media::poster::PosterContent {
            label,
            title: &title,
            nickname: &nick,
            picture: picture.as_deref(),
            code: &code,
        })
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    let (width, height) = (rendered.width, rendered.height);
    let stored = store
        .put_public_png(rendered.png, width, height)
        .await
        .map_err(internal)?;
    record(app, member_id, kind, target_id, scene, key, stored).await
}

/// Records the asset and the poster in one transaction; when another replica recorded the
/// same poster first, ours is rolled back and theirs returned.
async fn record(
    app: &AppState,
    member_id: i64,
    kind: PosterKind,
    target_id: i64,
    scene: &str,
    key: &str,
    stored: media::StoredVariant,
) -> Result<Poster, MediaError> {
    let now = app.clock.now();
    let txn = begin_write(&app.db).await?;
    let asset = media_asset::ActiveModel {
        class: Set(MediaClass::Public),
        purpose: Set(MediaPurpose::Poster),
        owner_member_id: Set(Some(member_id)),
        uploaded_by_staff_id: Set(None),
        uploaded_by_member_id: Set(None),
        source_mime: Set("image/png".to_owned()),
        width: Set(i32::try_from(stored.width).unwrap_or(i32::MAX)),
        height: Set(i32::try_from(stored.height).unwrap_or(i32::MAX)),
        variants: Set(JsonText(vec![StoredVariant {
            label: stored.label,
            width: stored.width,
            height: stored.height,
            key: stored.key,
            bytes: stored.bytes,
        }])),
        key_prefix: Set(None),
        wrapped_key: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let version = i32::try_from(media::poster::TEMPLATE_VERSION).unwrap_or(i32::MAX);
    let inserted = poster::Entity::insert(poster::ActiveModel {
        cache_key: Set(key.to_owned()),
        kind: Set(kind),
        target_id: Set(target_id),
        member_id: Set(member_id),
        template_version: Set(version),
        scene: Set(scene.to_owned()),
        asset_id: Set(asset.id),
        created_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(poster::Column::CacheKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        txn.rollback().await?;
        return cached(app, key, scene)
            .await?
            .ok_or_else(|| internal("poster vanished after a conflicting insert"));
    }
    txn.commit().await?;
    to_poster(app, &asset, scene, version).ok_or_else(|| internal("poster without a variant"))
}
