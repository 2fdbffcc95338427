//! Media: the port to the `media` crate (intake, storage classes, signed URLs) and the records
//! Rouge keeps of what it stored: assets, product pictures and members' skin photos.
//!
//! - Uploads ([`upload`]) are decoded and re-encoded by the media crate on its bounded pool; a
//!   refusal stores nothing. Product images are PUBLIC (content-addressed, served unsigned);
//!   skin photos are SENSITIVE (random keys under the member's prefix, sealed with a data key
//!   that only the database holds, wrapped by the master key).
//! - Objects are served by the api crate under [`MEDIA_PATH`] through [`serve`]: PUBLIC keys
//!   as they are, the others only with an unexpired HMAC signature over the key.
//! - Skin photos ([`skin_photos`]) need the member's sensitive-data consent; every staff read
//!   mints fresh 5-minute links and writes an audit entry; withdrawing the consent or erasing
//!   the member deletes rows, wrapped keys and objects ([`erase_member_media`]).

mod cleanup;
mod member_erasure;
mod orphans;
mod posters;
mod product_images;
mod serve;
mod skin_photos;
mod tickets;
mod upload;
pub mod wxacode;

use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::AppState;
use crate::auth::AuthError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use entities::media_asset;

pub use cleanup::MediaCleanup;
pub use entities::media_asset::{MediaClass, MediaPurpose};
pub use entities::poster::PosterKind;
pub use entities::skin_photo::SkinArea;
pub use member_erasure::{MemberObjects, erase_member_media, purge_member_objects};
pub use posters::{
    Poster, PosterFlights, SHARE_PAGE, ShareScene, resolve_share_scene, share_poster, sign_scene,
};
pub(crate) use product_images::add_seed_picture;
pub use product_images::{
    ProductImage, attach_product_images, images_of_products, remove_product_image,
    reorder_product_images,
};
pub use serve::{Served, serve};
pub use skin_photos::{
    NewSkinPhoto, SkinPhoto, erase_skin_photo, member_skin_photos, my_skin_photos,
    record_skin_photo,
};
pub use tickets::{
    MAX_OPEN_TICKETS, NewTicket, TICKET_TTL_SECS, UploadSlot, UploadTicket, authorize_put,
    complete_upload, create_upload_ticket, store_put,
};
pub use upload::{Uploader, store_wxacode, upload};

/// Where the api crate serves stored objects.
pub const MEDIA_PATH: &str = "/media";

/// How long a signed link to a PRIVATE or SENSITIVE object stays valid.
pub const SIGNED_URL_TTL_SECS: i64 = 300;

/// The media crate as the services use it. Built once at start-up (api) or per test.
#[derive(Clone)]
pub struct MediaPort {
    pub store: media::MediaStore,
    pub processor: media::Processor,
    pub url_ttl_secs: i64,
    /// share posters being rendered on this replica (one render per poster at a time)
    pub poster_flights: PosterFlights,
}

impl std::fmt::Debug for MediaPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaPort({:?})", self.store)
    }
}

impl MediaPort {
    /// Objects under a local folder (the embedded default).
    pub fn local(
        dir: &std::path::Path,
        signing_key: &[u8],
        master_key: &[u8],
        limits: media::IntakeLimits,
    ) -> Result<Self, MediaError> {
        let master = media::MasterKey::from_bytes(master_key).map_err(internal)?;
        let store =
            media::MediaStore::local(dir, media::UrlSigner::new(signing_key), master, MEDIA_PATH)
                .map_err(internal)?;
        Ok(Self::with_store(store, limits))
    }

    /// An S3-compatible bucket (objects there, direct uploads to presigned PUT URLs).
    pub fn s3(
        options: &media::S3Options,
        signing_key: &[u8],
        master_key: &[u8],
        limits: media::IntakeLimits,
    ) -> Result<Self, MediaError> {
        let master = media::MasterKey::from_bytes(master_key).map_err(internal)?;
        let store = media::MediaStore::s3(
            options,
            media::UrlSigner::new(signing_key),
            master,
            MEDIA_PATH,
        )
        .map_err(internal)?;
        Ok(Self::with_store(store, limits))
    }

    /// Any object store (in memory for tests, S3 in production).
    pub fn with_object_store(
        object_store: Arc<dyn media::object_store::ObjectStore>,
        signing_key: &[u8],
        master_key: &[u8],
        limits: media::IntakeLimits,
    ) -> Result<Self, MediaError> {
        let master = media::MasterKey::from_bytes(master_key).map_err(internal)?;
        let store = media::MediaStore::new(
            object_store,
            media::UrlSigner::new(signing_key),
            master,
            MEDIA_PATH,
        );
        Ok(Self::with_store(store, limits))
    }

    /// Objects in memory with fixed keys: tests and benchmarks only.
    pub fn in_memory() -> Self {
        let store = media::MediaStore::new(
            Arc::new(media::object_store::memory::InMemory::new()),
            media::UrlSigner::new(b"rouge-test-media-signing-key-32-bytes!"),
            // a fixed 32-byte key: cannot fail
            match media::MasterKey::from_bytes(&[9u8; 32]) {
                Ok(k) => k,
                Err(_) => unreachable!("32 bytes"),
            },
            MEDIA_PATH,
        );
        Self::with_store(store, media::IntakeLimits::default())
    }

    fn with_store(store: media::MediaStore, limits: media::IntakeLimits) -> Self {
        Self {
            store,
            processor: media::Processor::beside_requests(limits),
            url_ttl_secs: SIGNED_URL_TTL_SECS,
            poster_flights: PosterFlights::default(),
        }
    }
}

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum MediaError {
    #[error("{0}")]
    Rejected(#[from] media::IntakeError),
    #[error("{0}")]
    InvalidInput(String),
    #[error("not found")]
    NotFound,
    #[error("the member has not consented to sensitive personal data")]
    NoConsent,
    #[error("this asset is already in use")]
    AssetInUse,
    #[error("the link has expired")]
    LinkExpired,
    #[error("the link is not valid")]
    LinkInvalid,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("media storage: {0}")]
    Storage(String),
    #[error("this upload ticket has been used")]
    TicketUsed,
    #[error("this upload ticket has expired")]
    TicketExpired,
    #[error("nothing has been uploaded for this ticket yet")]
    UploadMissing,
    #[error("the upload is not the declared {declared} bytes")]
    SizeMismatch { declared: i64 },
    #[error("the upload does not match the declared SHA-256")]
    HashMismatch,
    #[error("too many open upload tickets")]
    TooManyTickets,
    #[error("today's quota of mini-program codes is used up; try again tomorrow")]
    CodeQuotaReached,
    #[error("WeChat: {0}")]
    WeChat(String),
    #[error("this share code is not valid")]
    SceneInvalid,
}

crate::store_error_conversions!(MediaError);

impl DomainError for MediaError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Rejected(media::IntakeError::Internal(_)) | Self::Storage(_) => {
                ErrorCode::Internal
            }
            Self::Rejected(_)
            | Self::InvalidInput(_)
            | Self::UploadMissing
            | Self::SizeMismatch { .. }
            | Self::HashMismatch => ErrorCode::BadUserInput,
            Self::TicketUsed => ErrorCode::Conflict,
            Self::TicketExpired => ErrorCode::Expired,
            Self::TooManyTickets | Self::CodeQuotaReached => ErrorCode::LimitReached,
            Self::WeChat(_) => ErrorCode::Unavailable,
            Self::SceneInvalid => ErrorCode::BadUserInput,
            Self::NotFound => ErrorCode::NotFound,
            Self::NoConsent | Self::LinkInvalid => ErrorCode::Forbidden,
            Self::AssetInUse => ErrorCode::Conflict,
            Self::LinkExpired => ErrorCode::Expired,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> MediaError {
    MediaError::Storage(e.to_string())
}

fn invalid(msg: &str) -> MediaError {
    MediaError::InvalidInput(msg.to_owned())
}

/// One size of an asset as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantLink {
    pub width: u32,
    pub height: u32,
    pub url: String,
}

/// A stored asset as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: i64,
    pub class: MediaClass,
    pub purpose: MediaPurpose,
    pub width: i32,
    pub height: i32,
    /// PUBLIC only: the immutable links, largest first (others are minted per read)
    pub public_variants: Vec<VariantLink>,
}

impl Asset {
    fn from_row(row: &media_asset::Model, port: &MediaPort) -> Self {
        let public_variants = if row.class == MediaClass::Public {
            row.variants
                .iter()
                .map(|v| VariantLink {
                    width: v.width,
                    height: v.height,
                    url: port.store.url(&v.key, 0),
                })
                .collect()
        } else {
            Vec::new()
        };
        Self {
            id: row.id,
            class: row.class,
            purpose: row.purpose,
            width: row.width,
            height: row.height,
            public_variants,
        }
    }
}

/// Fresh signed links to a PRIVATE asset of `purpose` (for the capability that decided the
/// reader may see it, e.g. B2B materials), valid for [`SIGNED_URL_TTL_SECS`]; `None` when there
/// is no such asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateLinks {
    pub width: i32,
    pub height: i32,
    /// largest first
    pub variants: Vec<VariantLink>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

pub async fn private_links(
    app: &AppState,
    asset_id: i64,
    purpose: MediaPurpose,
) -> Result<Option<PrivateLinks>, sea_orm::DbErr> {
    let Some(asset) = media_asset::Entity::find_by_id(asset_id)
        .filter(media_asset::Column::Class.eq(MediaClass::Private))
        .filter(media_asset::Column::Purpose.eq(purpose))
        .one(&app.db)
        .await?
    else {
        return Ok(None);
    };
    let port = port(app);
    let expires_at = app.clock.now() + chrono::Duration::seconds(port.url_ttl_secs);
    let mut variants: Vec<VariantLink> = asset
        .variants
        .iter()
        .map(|v| VariantLink {
            width: v.width,
            height: v.height,
            url: port.store.url(&v.key, expires_at.timestamp()),
        })
        .collect();
    variants.sort_by_key(|v| std::cmp::Reverse(v.width));
    Ok(Some(PrivateLinks {
        width: asset.width,
        height: asset.height,
        variants,
        expires_at,
    }))
}

/// The variant to show for a requested width: the smallest fixed width at least as wide,
/// else the largest.
pub fn snap_width(
    variants: &[media_asset::StoredVariant],
    width: u32,
) -> Option<&media_asset::StoredVariant> {
    let mut sorted: Vec<&media_asset::StoredVariant> = variants.iter().collect();
    sorted.sort_by_key(|v| v.label);
    sorted
        .iter()
        .find(|v| v.label >= width)
        .or(sorted.last())
        .copied()
}

async fn load_asset<C: ConnectionTrait>(db: &C, id: i64) -> Result<media_asset::Model, MediaError> {
    media_asset::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(MediaError::NotFound)
}

async fn assets_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: Vec<i64>,
) -> Result<Vec<media_asset::Model>, MediaError> {
    Ok(media_asset::Entity::find()
        .filter(media_asset::Column::Id.is_in(ids))
        .all(db)
        .await?)
}

fn port(app: &AppState) -> &MediaPort {
    &app.media
}
