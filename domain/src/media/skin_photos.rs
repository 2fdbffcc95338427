//! Members' skin photos (sensitive personal data, PIPL art. 28/29): recorded by a BA of the
//! member's store or her exclusive BA, only with the member's sensitive-data consent; every
//! staff read mints 5-minute links and is audited; erasure deletes rows, wrapped keys and
//! objects.
//!
//! "The member's store": the store of her exclusive BA, or a store she booked a service at.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;

use super::{MediaError, MediaPurpose, SkinArea, VariantLink, invalid, load_asset, port};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{AuthError, MemberPrincipal, Permission, StaffPrincipal, StaffRole};
use crate::platform::error::UniqueViolation;
use crate::platform::page::{IdKey, Keyset, Page};
use crate::{AppState, RequestMeta};
use entities::member_consent::{self, ConsentKind};
use entities::{booking, media_asset, member, skin_photo, staff_account};

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

#[derive(Debug, Clone)]
pub struct NewSkinPhoto {
    pub member_id: i64,
    pub asset_id: i64,
    pub area: SkinArea,
    pub taken_at: DateTime<Utc>,
    pub note: Option<String>,
}

/// A skin photo with freshly minted links (valid until `expires_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkinPhoto {
    pub id: i64,
    pub member_id: i64,
    pub area: SkinArea,
    pub taken_at: DateTime<Utc>,
    pub note: Option<String>,
    pub width: i32,
    pub height: i32,
    /// smallest first
    pub variants: Vec<VariantLink>,
    pub expires_at: DateTime<Utc>,
}

/// Whether `staff` may keep and see this member's skin photos: HQ; her exclusive BA; staff of
/// her exclusive BA's store; staff of a store she booked at.
pub(super) async fn require_access(
    app: &AppState,
    staff: &StaffPrincipal,
    member_id: i64,
) -> Result<(), MediaError> {
    if staff.role == StaffRole::Hq {
        return Ok(());
    }
    let m = member::Entity::find_by_id(member_id)
        .one(&app.db)
        .await?
        .filter(|m| m.erased_at.is_none())
        .ok_or(MediaError::NotFound)?;
    if m.exclusive_ba_id == Some(staff.staff_id) {
        return Ok(());
    }
    let Some(store_id) = staff.store_id else {
        return Err(AuthError::Forbidden.into());
    };
    if let Some(ba) = m.exclusive_ba_id {
        let ba_store = staff_account::Entity::find_by_id(ba)
            .one(&app.db)
            .await?
            .and_then(|b| b.store_id);
        if ba_store == Some(store_id) {
            return Ok(());
        }
    }
    let booked = booking::Entity::find()
        .filter(booking::Column::MemberId.eq(member_id))
        .filter(booking::Column::StoreId.eq(store_id))
        .count(&app.db)
        .await?;
    if booked > 0 {
        return Ok(());
    }
    Err(AuthError::Forbidden.into())
}

/// The member's open sensitive-data consent to the current text (as `privacy` decides it;
/// read here directly because privacy calls into media on withdrawal).
pub(super) async fn has_sensitive_consent(
    app: &AppState,
    member_id: i64,
) -> Result<bool, MediaError> {
    let open = member_consent::Entity::find()
        .filter(member_consent::Column::MemberId.eq(member_id))
        .filter(member_consent::Column::Kind.eq(ConsentKind::SensitiveData))
        .filter(member_consent::Column::WithdrawnAt.is_null())
        .order_by_desc(member_consent::Column::Id)
        .one(&app.db)
        .await?;
    Ok(open.is_some_and(|c| c.version == app.settings.privacy.sensitive_version))
}

#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id = new.member_id))]
pub async fn record_skin_photo(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    new: NewSkinPhoto,
) -> Result<SkinPhoto, MediaError> {
    staff.require(Permission::KeepSkinPhotos)?;
    let note = new
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(invalid("a note has at most 500 characters"));
    }
    let now = app.clock.now();
    if new.taken_at > now + Duration::minutes(5) {
        return Err(invalid("a photo cannot be taken in the future"));
    }
    require_access(app, staff, new.member_id).await?;
    if !has_sensitive_consent(app, new.member_id).await? {
        return Err(MediaError::NoConsent);
    }
    let asset = load_asset(&app.db, new.asset_id).await?;
    // Another member's (or a product's) upload is not found here.
    if asset.purpose != MediaPurpose::SkinPhoto || asset.owner_member_id != Some(new.member_id) {
        return Err(MediaError::NotFound);
    }
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let row = skin_photo::ActiveModel {
        member_id: Set(new.member_id),
        asset_id: Set(new.asset_id),
        area: Set(new.area),
        taken_at: Set(new.taken_at),
        note: Set(note),
        store_id: Set(staff.store_id),
        recorded_by_staff_id: Set(staff.staff_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| MediaError::AssetInUse)?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberSkinPhotoRecord,
        (SubjectKind::Member, Some(new.member_id)),
        json!({ "skinPhotoId": row.id }),
    )
    .await?;
    txn.commit().await?;
    mint(app, row, &asset)
}

fn mint(
    app: &AppState,
    row: skin_photo::Model,
    asset: &media_asset::Model,
) -> Result<SkinPhoto, MediaError> {
    let port = port(app);
    let expires_at = app.clock.now() + Duration::seconds(port.url_ttl_secs);
    let mut variants: Vec<VariantLink> = asset
        .variants
        .iter()
        .map(|v| VariantLink {
            width: v.width,
            height: v.height,
            url: port.store.url(&v.key, expires_at.timestamp()),
        })
        .collect();
    variants.sort_by_key(|v| v.width);
    Ok(SkinPhoto {
        id: row.id,
        member_id: row.member_id,
        area: row.area,
        taken_at: row.taken_at,
        note: row.note,
        width: asset.width,
        height: asset.height,
        variants,
        expires_at,
    })
}

async fn page_of(
    app: &AppState,
    member_id: i64,
    page: Keyset<IdKey>,
) -> Result<Page<(skin_photo::Model, media_asset::Model)>, MediaError> {
    let mut query = skin_photo::Entity::find()
        .filter(skin_photo::Column::MemberId.eq(member_id))
        .order_by_desc(skin_photo::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(skin_photo::Column::Id.lt(after));
    }
    let rows = page.page(query.all(&app.db).await?);
    let assets =
        super::assets_by_ids(&app.db, rows.items.iter().map(|r| r.asset_id).collect()).await?;
    rows.try_map(|r| {
        let asset = assets
            .iter()
            .find(|a| a.id == r.asset_id)
            .cloned()
            .ok_or(MediaError::NotFound)?;
        Ok((r, asset))
    })
}

/// A member's skin photos for staff, newest first; each photo's links are minted for this read
/// and the mint is audited (one entry per photo) before the links are returned.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id))]
pub async fn member_skin_photos(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
    page: Keyset<IdKey>,
) -> Result<Page<SkinPhoto>, MediaError> {
    staff.require(Permission::KeepSkinPhotos)?;
    require_access(app, staff, member_id).await?;
    let rows = page_of(app, member_id, page).await?;
    let expires_at = app.clock.now() + Duration::seconds(port(app).url_ttl_secs);
    let txn = crate::platform::db::begin_write(&app.db).await?;
    for (row, _) in &rows.items {
        audit::record(
            &txn,
            app,
            meta,
            Actor::Staff(staff.staff_id),
            Action::MemberSkinPhotoRead,
            (SubjectKind::Member, Some(member_id)),
            json!({ "skinPhotoId": row.id, "linksExpireAt": expires_at }),
        )
        .await?;
    }
    txn.commit().await?;
    rows.try_map(|(row, asset)| mint(app, row, &asset))
}

/// The member's own skin photos (her own data: not audited).
pub async fn my_skin_photos(
    app: &AppState,
    me: &MemberPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<SkinPhoto>, MediaError> {
    let rows = page_of(app, me.member_id, page).await?;
    rows.try_map(|(row, asset)| mint(app, row, &asset))
}

/// Deletes one skin photo: its row, its asset (with the wrapped key) and its objects.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, skin_photo_id = id))]
pub async fn erase_skin_photo(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    id: i64,
) -> Result<bool, MediaError> {
    staff.require(Permission::KeepSkinPhotos)?;
    let row = skin_photo::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(MediaError::NotFound)?;
    require_access(app, staff, row.member_id).await?;
    let asset = load_asset(&app.db, row.asset_id).await?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    skin_photo::Entity::delete_by_id(id).exec(&txn).await?;
    media_asset::Entity::delete_by_id(asset.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberSkinPhotoErase,
        (SubjectKind::Member, Some(row.member_id)),
        json!({ "skinPhotoId": id }),
    )
    .await?;
    txn.commit().await?;
    if let Some(prefix) = asset.key_prefix {
        super::cleanup::forget_objects(app, &format!("{prefix}/")).await;
    }
    Ok(true)
}
