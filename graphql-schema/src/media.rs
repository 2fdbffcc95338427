//! Media: staff uploads (GraphQL multipart), product pictures and members' skin photos.
//! Stored images are the media crate's re-encoded variants; links to PUBLIC ones are immutable,
//! links to skin photos are minted per read, expire after 5 minutes and every staff mint is
//! audited.

use std::collections::HashMap;

use async_graphql::connection::Connection;
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, Object, SimpleObject, Upload};
use domain::media::{self, MediaPurpose, SkinArea};
use domain::platform::page::{IdKey, Keyset};

use crate::catalog::CatalogLoader;
use crate::context::{app, member, meta, staff};
use crate::error::{ApiError, ApiResult, parse_id};
use crate::pagination;
use crate::scalars::DateTime;

/// A stored image as the uploader sees it.
#[derive(SimpleObject)]
pub struct MediaAsset {
    pub id: ID,
    pub purpose: MediaPurpose,
    /// Upright size of the uploaded image, in pixels.
    pub width: i32,
    pub height: i32,
    /// Immutable links for product images (largest first); empty for skin photos, whose links
    /// are minted per read.
    pub variants: Vec<MediaVariant>,
}

impl From<media::Asset> for MediaAsset {
    fn from(a: media::Asset) -> Self {
        Self {
            id: a.id.into(),
            purpose: a.purpose,
            width: a.width,
            height: a.height,
            variants: a.public_variants.into_iter().map(Into::into).collect(),
        }
    }
}

/// One stored size of an image.
#[derive(SimpleObject)]
pub struct MediaVariant {
    pub width: i32,
    pub height: i32,
    pub url: String,
}

impl From<media::VariantLink> for MediaVariant {
    fn from(v: media::VariantLink) -> Self {
        Self {
            width: i32::try_from(v.width).unwrap_or(i32::MAX),
            height: i32::try_from(v.height).unwrap_or(i32::MAX),
            url: v.url,
        }
    }
}

/// A picture of a product.
pub struct ProductImage(pub media::ProductImage);

#[Object]
impl ProductImage {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// The link for a display width in pixels (snapped up to a stored width: 256, 512 or
    /// 1080); immutable and cacheable forever.
    async fn url(&self, #[graphql(default = 512)] width: i32) -> ApiResult<String> {
        let width = u32::try_from(width)
            .ok()
            .filter(|w| (1..=4096).contains(w))
            .ok_or_else(|| ApiError::bad_input("width must be between 1 and 4096"))?;
        self.0
            .url(width)
            .map(|v| v.url.clone())
            .ok_or_else(|| ApiError::bad_input("the image has no stored sizes"))
    }
    /// Upright size of the uploaded image.
    async fn width(&self) -> i32 {
        self.0.width
    }
    async fn height(&self) -> i32 {
        self.0.height
    }
    /// Text for screen readers.
    async fn alt(&self) -> &str {
        &self.0.alt
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImagesOf(pub i64);

impl Loader<ImagesOf> for CatalogLoader {
    type Value = Vec<media::ProductImage>;
    type Error = ApiError;

    async fn load(&self, keys: &[ImagesOf]) -> Result<HashMap<ImagesOf, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = media::images_of_products(&self.0, &ids).await?;
        Ok(found.into_iter().map(|(k, v)| (ImagesOf(k), v)).collect())
    }
}

/// A product's pictures in display order (one query per page of products).
pub(crate) async fn product_images(
    loader: &async_graphql::dataloader::DataLoader<CatalogLoader>,
    product_id: i64,
) -> ApiResult<Vec<ProductImage>> {
    Ok(loader
        .load_one(ImagesOf(product_id))
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(ProductImage)
        .collect())
}

/// A member's skin photo with links minted for this read.
#[derive(SimpleObject)]
pub struct SkinPhoto {
    pub id: ID,
    pub member_id: ID,
    pub area: SkinArea,
    pub taken_at: DateTime,
    pub note: Option<String>,
    pub width: i32,
    pub height: i32,
    /// Signed links, smallest first, valid until `expiresAt`.
    pub variants: Vec<MediaVariant>,
    pub expires_at: DateTime,
}

impl From<media::SkinPhoto> for SkinPhoto {
    fn from(p: media::SkinPhoto) -> Self {
        Self {
            id: p.id.into(),
            member_id: p.member_id.into(),
            area: p.area,
            taken_at: DateTime(p.taken_at),
            note: p.note,
            width: p.width,
            height: p.height,
            variants: p.variants.into_iter().map(Into::into).collect(),
            expires_at: DateTime(p.expires_at),
        }
    }
}

fn photos(
    page: domain::platform::page::Page<media::SkinPhoto>,
    keyset: &Keyset<IdKey>,
) -> Connection<String, SkinPhoto> {
    pagination::connection(page, keyset, |p| p.id, SkinPhoto::from)
}

fn ids(list: &[ID]) -> ApiResult<Vec<i64>> {
    list.iter().map(parse_id).collect()
}

#[derive(Default)]
pub struct StaffMediaQuery;

#[Object]
impl StaffMediaQuery {
    /// A member's skin photos, newest first. Each read mints 5-minute links and is audited
    /// (`member.skin_photo.read`, one entry per photo). HQ, the member's exclusive BA, or staff
    /// of her store.
    async fn member_skin_photos(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, SkinPhoto>> {
        let staff = staff(ctx).await?;
        let page = pagination::staff_keyset(
            staff,
            &[domain::auth::Permission::KeepSkinPhotos],
            first,
            after.as_deref(),
        )?;
        let list =
            media::member_skin_photos(app(ctx), staff, meta(ctx)?, parse_id(&member_id)?, page)
                .await?;
        Ok(photos(list, &page))
    }
}

#[derive(Default)]
pub struct StaffMediaMutation;

#[Object]
impl StaffMediaMutation {
    /// Uploads an image (GraphQL multipart request, at most 10 MiB, header `x-rouge-client`
    /// required). JPEG, PNG or WebP only, at most 8,192 px a side and 40 MP; stored as JPEG
    /// variants 1080/512/256 px wide with no metadata. PRODUCT_IMAGE needs catalog rights;
    /// SKIN_PHOTO names the member (stored encrypted under her keys; record it with
    /// `recordSkinPhoto`).
    async fn upload_media(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        purpose: MediaPurpose,
        member_id: Option<ID>,
    ) -> ApiResult<MediaAsset> {
        let staff = staff(ctx).await?;
        let member_id = member_id.as_ref().map(parse_id).transpose()?;
        let value = file
            .value(ctx)
            .map_err(|_| ApiError::bad_input("the file part of the request is missing"))?;
        let uploader = media::Uploader::Staff { staff, member_id };
        Ok(media::upload(app(ctx), uploader, purpose, value.content)
            .await?
            .into())
    }

    /// Appends uploaded product images to a product, one alt text per image.
    async fn attach_product_images(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        asset_ids: Vec<ID>,
        alt_texts: Vec<String>,
    ) -> ApiResult<Vec<ProductImage>> {
        let staff = staff(ctx).await?;
        let list = media::attach_product_images(
            app(ctx),
            staff,
            parse_id(&product_id)?,
            &ids(&asset_ids)?,
            &alt_texts,
        )
        .await?;
        Ok(list.into_iter().map(ProductImage).collect())
    }

    /// Puts a product's pictures in this order (name each exactly once).
    async fn reorder_product_images(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        image_ids: Vec<ID>,
    ) -> ApiResult<Vec<ProductImage>> {
        let staff = staff(ctx).await?;
        let list = media::reorder_product_images(
            app(ctx),
            staff,
            parse_id(&product_id)?,
            &ids(&image_ids)?,
        )
        .await?;
        Ok(list.into_iter().map(ProductImage).collect())
    }

    /// Takes a picture off its product; returns the product's remaining pictures.
    async fn remove_product_image(
        &self,
        ctx: &Context<'_>,
        image_id: ID,
    ) -> ApiResult<Vec<ProductImage>> {
        let staff = staff(ctx).await?;
        let list = media::remove_product_image(app(ctx), staff, parse_id(&image_id)?).await?;
        Ok(list.into_iter().map(ProductImage).collect())
    }

    /// Records an uploaded SKIN_PHOTO of the member. Needs her sensitive-data consent; HQ, her
    /// exclusive BA or staff of her store.
    async fn record_skin_photo(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        asset_id: ID,
        area: SkinArea,
        taken_at: DateTime,
        note: Option<String>,
    ) -> ApiResult<SkinPhoto> {
        let staff = staff(ctx).await?;
        let new = media::NewSkinPhoto {
            member_id: parse_id(&member_id)?,
            asset_id: parse_id(&asset_id)?,
            area,
            taken_at: taken_at.0,
            note,
        };
        Ok(media::record_skin_photo(app(ctx), staff, meta(ctx)?, new)
            .await?
            .into())
    }

    /// Deletes a skin photo: its record, its data key and its stored objects.
    async fn erase_skin_photo(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let staff = staff(ctx).await?;
        Ok(media::erase_skin_photo(app(ctx), staff, meta(ctx)?, parse_id(&id)?).await?)
    }
}

#[derive(Default)]
pub struct ConsumerMediaQuery;

#[Object]
impl ConsumerMediaQuery {
    /// The signed-in member's skin photos, newest first, with 5-minute links.
    async fn my_skin_photos(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, SkinPhoto>> {
        let me = member(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = media::my_skin_photos(app(ctx), me, page).await?;
        Ok(photos(list, &page))
    }

    /// What a share poster's mini-program code points at: the landing page passes the `scene`
    /// it was opened with. A scene Rouge did not sign → BAD_USER_INPUT `SHARE_SCENE_INVALID`.
    async fn resolve_share_scene(&self, ctx: &Context<'_>, scene: String) -> ApiResult<ShareScene> {
        let me = member(ctx).await?;
        let s = media::resolve_share_scene(app(ctx), me, &scene).await?;
        Ok(ShareScene {
            kind: s.kind,
            target_id: s.target_id.into(),
            sharer_nickname: s.sharer_nickname,
        })
    }
}

/// A share poster: a PNG (720×1280) with the target's picture and title, the member's
/// nickname and a mini-program code. The link is immutable and cacheable forever.
#[derive(SimpleObject)]
pub struct Poster {
    pub url: String,
    pub width: i32,
    pub height: i32,
    /// the code's scene: a signed token naming the target and the sharer
    pub scene: String,
    pub template_version: i32,
}

/// The target of a share poster's code.
#[derive(SimpleObject)]
pub struct ShareScene {
    pub kind: media::PosterKind,
    pub target_id: ID,
    /// the nickname printed on the poster, when the sharer still has one
    pub sharer_nickname: Option<String>,
}

/// A header a direct upload must send.
#[derive(SimpleObject)]
pub struct UploadHeader {
    pub name: String,
    pub value: String,
}

/// A single-use ticket for one direct upload: send the raw bytes with `method` to `url`
/// (carrying `headers`) before `expiresAt`, exactly `maxBytes` long and with the SHA-256
/// declared, then call `completeUpload`.
#[derive(SimpleObject)]
pub struct UploadTicket {
    pub id: ID,
    pub method: String,
    pub url: String,
    pub headers: Vec<UploadHeader>,
    pub max_bytes: i64,
    pub expires_at: DateTime,
}

impl From<media::UploadTicket> for UploadTicket {
    fn from(t: media::UploadTicket) -> Self {
        Self {
            id: t.id.into(),
            method: t.method.to_owned(),
            url: t.url,
            headers: t
                .headers
                .into_iter()
                .map(|(name, value)| UploadHeader { name, value })
                .collect(),
            max_bytes: t.max_bytes,
            expires_at: DateTime(t.expires_at),
        }
    }
}

#[derive(Default)]
pub struct ConsumerMediaMutation;

#[Object]
impl ConsumerMediaMutation {
    /// Asks for a direct upload of one of her own images: SKIN_PHOTO (needs her sensitive-data
    /// consent; stored encrypted under her keys, for her BA to record). `contentType` is
    /// image/jpeg, image/png or image/webp; `byteSize` the exact size (at most 20 MiB);
    /// `sha256` the hex digest of the bytes. The ticket lasts 10 minutes and is single-use.
    async fn create_upload_ticket(
        &self,
        ctx: &Context<'_>,
        purpose: MediaPurpose,
        content_type: String,
        byte_size: i64,
        sha256: String,
    ) -> ApiResult<UploadTicket> {
        let me = member(ctx).await?;
        let new = media::NewTicket {
            purpose,
            content_type,
            byte_size,
            sha256,
        };
        Ok(media::create_upload_ticket(app(ctx), me, new).await?.into())
    }

    /// Finishes a direct upload: checks the uploaded bytes against the ticket's size and
    /// SHA-256, decodes and re-encodes them (the same checks as every upload), stores the sizes
    /// and deletes the raw upload. A used or expired ticket, a wrong size or hash, or a refused
    /// image stores nothing.
    async fn complete_upload(&self, ctx: &Context<'_>, ticket_id: ID) -> ApiResult<MediaAsset> {
        let me = member(ctx).await?;
        Ok(media::complete_upload(app(ctx), me, parse_id(&ticket_id)?)
            .await?
            .into())
    }

    /// Her share poster for an active product, a scheduled or running campaign or an active
    /// bookable service (NOT_FOUND otherwise). The same target, nickname and template give the
    /// stored poster. When WeChat's daily quota of mini-program codes is used up, stored
    /// posters are still returned and new ones answer LIMIT_REACHED
    /// `SHARE_CODE_QUOTA_REACHED` until the next day (Asia/Shanghai).
    async fn share_poster(
        &self,
        ctx: &Context<'_>,
        kind: media::PosterKind,
        target_id: ID,
    ) -> ApiResult<Poster> {
        let me = member(ctx).await?;
        let state = ctx.data_unchecked::<std::sync::Arc<domain::AppState>>();
        let p = media::share_poster(state, me, kind, parse_id(&target_id)?).await?;
        Ok(Poster {
            url: p.url,
            width: p.width,
            height: p.height,
            scene: p.scene,
            template_version: p.template_version,
        })
    }
}
