//! Uploading: bytes in, a stored asset out, or a refusal (BAD_USER_INPUT with the reason) that
//! stored nothing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use super::{Asset, MediaError, MediaPurpose, invalid, port};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use entities::media_asset::{self, MediaClass, StoredVariant};
use entities::member;
use entities::typed::JsonText;

/// Who uploads, and for skin photos whose photo it is.
#[derive(Debug, Clone, Copy)]
pub enum Uploader<'a> {
    Staff {
        staff: &'a StaffPrincipal,
        member_id: Option<i64>,
    },
}

/// Runs intake on the bounded pool, stores the variants in the purpose's class and records the
/// asset. PRODUCT_IMAGE needs catalog rights; SKIN_PHOTO a member (with sensitive-data consent:
/// checked again when the photo is recorded) and the right to keep skin photos.
#[tracing::instrument(skip_all, err, fields(purpose = ?purpose, bytes = bytes.len()))]
pub async fn upload(
    app: &AppState,
    uploader: Uploader<'_>,
    purpose: MediaPurpose,
    bytes: media::bytes::Bytes,
) -> Result<Asset, MediaError> {
    let Uploader::Staff { staff, member_id } = uploader;
    let owner = match purpose {
        MediaPurpose::ProductImage => {
            staff.require(Permission::ManageCatalog)?;
            if member_id.is_some() {
                return Err(invalid("a product image belongs to no member"));
            }
            None
        }
        MediaPurpose::MarketingMaterial => {
            staff.require(Permission::ManageB2b)?;
            if member_id.is_some() {
                return Err(invalid("a marketing material belongs to no member"));
            }
            None
        }
        MediaPurpose::Wxacode | MediaPurpose::Poster => {
            return Err(invalid(
                "mini-program codes and posters are made by Rouge, not uploaded",
            ));
        }
        MediaPurpose::SkinPhoto => {
            staff.require(Permission::KeepSkinPhotos)?;
            let id = member_id.ok_or_else(|| invalid("a skin photo needs the member"))?;
            let row = member::Entity::find_by_id(id).one(&app.db).await?;
            match row {
                Some(m) if m.erased_at.is_none() => {}
                _ => return Err(MediaError::NotFound),
            }
            super::skin_photos::require_access(app, staff, id).await?;
            Some(id)
        }
    };
    let processed = port(app).processor.process(bytes).await?;
    store_processed(app, purpose, owner, Some(staff.staff_id), None, &processed).await
}

/// Stores processed variants in the class the owner decides (a member: SENSITIVE under her
/// prefix; none: PUBLIC) and records the asset; on a failed insert the objects go too.
pub(super) async fn store_processed(
    app: &AppState,
    purpose: MediaPurpose,
    owner: Option<i64>,
    by_staff: Option<i64>,
    by_member: Option<i64>,
    processed: &media::Processed,
) -> Result<Asset, MediaError> {
    let port = port(app);
    let store_err = |e: media::StorageError| MediaError::Storage(e.to_string());
    let (class, variants, key_prefix, wrapped_key) = match owner {
        // distributor materials: random keys, signed links only
        None if purpose == MediaPurpose::MarketingMaterial => (
            MediaClass::Private,
            port.store.put_private(processed).await.map_err(store_err)?,
            None,
            None,
        ),
        None => (
            MediaClass::Public,
            port.store.put_public(processed).await.map_err(store_err)?,
            None,
            None,
        ),
        Some(member_id) => {
            let put = port
                .store
                .put_sensitive(&owner_segment(member_id), processed)
                .await
                .map_err(store_err)?;
            (
                MediaClass::Sensitive,
                put.variants,
                Some(put.prefix),
                Some(STANDARD.encode(put.wrapped_key)),
            )
        }
    };
    let variants: Vec<StoredVariant> = variants
        .into_iter()
        .map(|v| StoredVariant {
            label: v.label,
            width: v.width,
            height: v.height,
            key: v.key,
            bytes: v.bytes,
        })
        .collect();
    let row = media_asset::ActiveModel {
        class: Set(class),
        purpose: Set(purpose),
        owner_member_id: Set(owner),
        uploaded_by_staff_id: Set(by_staff),
        uploaded_by_member_id: Set(by_member),
        source_mime: Set(processed.source.as_str().to_owned()),
        width: Set(i32::try_from(processed.width).unwrap_or(i32::MAX)),
        height: Set(i32::try_from(processed.height).unwrap_or(i32::MAX)),
        variants: Set(JsonText(variants)),
        key_prefix: Set(key_prefix.clone()),
        wrapped_key: Set(wrapped_key),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await;
    match row {
        Ok(row) => Ok(Asset::from_row(&row, port)),
        Err(e) => {
            // Nothing half-stored: a SENSITIVE asset without its key row is unreadable anyway,
            // but its objects go too.
            if let Some(prefix) = key_prefix {
                let _ = port.store.delete_prefix(&prefix).await;
            }
            Err(e.into())
        }
    }
}

/// The key segment a member's SENSITIVE objects live under.
pub(super) fn owner_segment(member_id: i64) -> String {
    format!("m{member_id}")
}

/// Stores a mini-program code Rouge fetched from WeChat as a PUBLIC asset (it is printed on
/// displays): the same intake as uploads, content-addressed variants.
pub async fn store_wxacode(
    app: &AppState,
    staff: &StaffPrincipal,
    jpeg: Vec<u8>,
) -> Result<Asset, MediaError> {
    staff.require(Permission::ManageScanCodes)?;
    let processed = port(app).processor.process(jpeg.into()).await?;
    store_processed(
        app,
        MediaPurpose::Wxacode,
        None,
        Some(staff.staff_id),
        None,
        &processed,
    )
    .await
}
