//! Serving stored objects (the api crate's `/media/<key>` route): PUBLIC keys as they are;
//! PRIVATE and SENSITIVE keys only with an unexpired signature over the key (403 otherwise);
//! SENSITIVE objects opened with their asset's wrapped key, which erasure deletes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{MediaError, port};
use crate::AppState;
use entities::media_asset;

/// An object ready to send.
#[derive(Debug)]
pub struct Served {
    pub bytes: media::bytes::Bytes,
    pub content_type: &'static str,
    /// PUBLIC: content-addressed, cacheable forever; otherwise `private, no-store`.
    pub immutable: bool,
}

/// What Rouge stored under `key`: images are always re-encoded as JPEG; report exports (PRIVATE)
/// are CSV or XLSX, named by their extension.
fn content_type(key: &str) -> &'static str {
    if key.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else if key.ends_with(".png") {
        // share posters Rouge drew
        "image/png"
    } else if key.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "image/jpeg"
    }
}

pub async fn serve(
    app: &AppState,
    key: &str,
    expires: Option<i64>,
    signature: Option<&str>,
) -> Result<Served, MediaError> {
    let port = port(app);
    let class = port
        .store
        .authorize(key, expires, signature, app.clock.now().timestamp())
        .map_err(|e| match e {
            media::SignatureError::Expired => MediaError::LinkExpired,
            media::SignatureError::BadSignature => MediaError::LinkInvalid,
        })?;
    let not_found = |e: media::StorageError| match e {
        media::StorageError::NotFound | media::StorageError::BadKey => MediaError::NotFound,
        other => MediaError::Storage(other.to_string()),
    };
    let bytes = match class {
        media::StorageClass::Public | media::StorageClass::Private => {
            port.store.get(key).await.map_err(not_found)?
        }
        media::StorageClass::Sensitive => {
            // sensitive/<owner>/<asset>/<width>.jpg.enc: the asset's prefix is three segments
            let prefix: Vec<&str> = key.splitn(4, '/').take(3).collect();
            if prefix.len() != 3 {
                return Err(MediaError::NotFound);
            }
            let prefix = prefix.join("/");
            let asset = media_asset::Entity::find()
                .filter(media_asset::Column::KeyPrefix.eq(prefix.clone()))
                .one(&app.db)
                .await?
                .ok_or(MediaError::NotFound)?;
            let wrapped = asset
                .wrapped_key
                .as_deref()
                .and_then(|w| STANDARD.decode(w).ok())
                .ok_or(MediaError::NotFound)?;
            media::bytes::Bytes::from(
                port.store
                    .get_sensitive(key, &prefix, &wrapped)
                    .await
                    .map_err(not_found)?,
            )
        }
    };
    Ok(Served {
        bytes,
        content_type: content_type(key),
        immutable: class == media::StorageClass::Public,
    })
}
