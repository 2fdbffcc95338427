//! Product pictures: PUBLIC assets attached to a product in display order, with alt texts.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use super::{MediaError, MediaPurpose, VariantLink, assets_by_ids, invalid, port};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::error::UniqueViolation;
use entities::{media_asset, product, product_image};

/// The most pictures a product may have.
pub const MAX_IMAGES: usize = 12;
/// The longest alt text, in characters.
pub const MAX_ALT_CHARS: usize = 200;

/// A picture of a product as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductImage {
    pub id: i64,
    pub product_id: i64,
    pub asset_id: i64,
    pub position: i32,
    pub alt: String,
    /// upright size of the uploaded image
    pub width: i32,
    pub height: i32,
    /// the stored sizes, smallest first
    pub variants: Vec<VariantLink>,
}

impl ProductImage {
    /// The link for a requested display width (snapped to a stored size).
    pub fn url(&self, width: u32) -> Option<&VariantLink> {
        self.variants
            .iter()
            .find(|v| v.width >= width)
            .or(self.variants.last())
    }
}

/// Appends PUBLIC product-image assets to a product, each with its alt text (one per asset).
#[tracing::instrument(skip_all, err, fields(product_id))]
pub async fn attach_product_images(
    app: &AppState,
    staff: &StaffPrincipal,
    product_id: i64,
    asset_ids: &[i64],
    alt_texts: &[String],
) -> Result<Vec<ProductImage>, MediaError> {
    staff.require(Permission::ManageCatalog)?;
    if asset_ids.is_empty() {
        return Err(invalid("name at least one asset"));
    }
    if asset_ids.len() != alt_texts.len() {
        return Err(invalid("give one alt text per asset"));
    }
    if alt_texts
        .iter()
        .any(|a| a.trim().is_empty() || a.chars().count() > MAX_ALT_CHARS)
    {
        return Err(invalid("each alt text has 1 to 200 characters"));
    }
    let mut seen = std::collections::HashSet::new();
    if !asset_ids.iter().all(|id| seen.insert(*id)) {
        return Err(invalid("an asset is named twice"));
    }
    product::Entity::find_by_id(product_id)
        .one(&app.db)
        .await?
        .ok_or(MediaError::NotFound)?;
    let assets = assets_by_ids(&app.db, asset_ids.to_vec()).await?;
    if assets.len() != asset_ids.len() {
        return Err(MediaError::NotFound);
    }
    if assets
        .iter()
        .any(|a| a.purpose != MediaPurpose::ProductImage)
    {
        return Err(invalid(
            "only product-image uploads can be attached to a product",
        ));
    }
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let existing = product_image::Entity::find()
        .filter(product_image::Column::ProductId.eq(product_id))
        .all(&txn)
        .await?;
    if existing.len() + asset_ids.len() > MAX_IMAGES {
        return Err(invalid("a product has at most 12 images"));
    }
    let mut position = existing.iter().map(|e| e.position).max().unwrap_or(-1);
    for (asset_id, alt) in asset_ids.iter().zip(alt_texts) {
        position += 1;
        product_image::ActiveModel {
            product_id: Set(product_id),
            asset_id: Set(*asset_id),
            position: Set(position),
            alt: Set(alt.trim().to_owned()),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .on_unique_violation(|| MediaError::AssetInUse)?;
    }
    txn.commit().await?;
    images_for(app, product_id).await
}

/// Puts the product's pictures in the given order (every picture named once).
pub async fn reorder_product_images(
    app: &AppState,
    staff: &StaffPrincipal,
    product_id: i64,
    image_ids: &[i64],
) -> Result<Vec<ProductImage>, MediaError> {
    staff.require(Permission::ManageCatalog)?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let existing = product_image::Entity::find()
        .filter(product_image::Column::ProductId.eq(product_id))
        .all(&txn)
        .await?;
    let mut want: Vec<i64> = image_ids.to_vec();
    want.sort_unstable();
    let mut have: Vec<i64> = existing.iter().map(|e| e.id).collect();
    have.sort_unstable();
    if existing.is_empty() {
        return Err(MediaError::NotFound);
    }
    if want != have {
        return Err(invalid("name every picture of the product exactly once"));
    }
    for (position, id) in image_ids.iter().enumerate() {
        product_image::Entity::update_many()
            .col_expr(
                product_image::Column::Position,
                Expr::value(position as i32),
            )
            .filter(product_image::Column::Id.eq(*id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    images_for(app, product_id).await
}

/// Takes a picture off its product (the stored objects stay: PUBLIC content may be shared).
pub async fn remove_product_image(
    app: &AppState,
    staff: &StaffPrincipal,
    image_id: i64,
) -> Result<Vec<ProductImage>, MediaError> {
    staff.require(Permission::ManageCatalog)?;
    let txn = app.db.begin().await?;
    let row = product_image::Entity::find_by_id(image_id)
        .one(&txn)
        .await?
        .ok_or(MediaError::NotFound)?;
    product_image::Entity::delete_by_id(image_id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    images_for(app, row.product_id).await
}

async fn images_for(app: &AppState, product_id: i64) -> Result<Vec<ProductImage>, MediaError> {
    Ok(images_of_products(app, &[product_id])
        .await?
        .remove(&product_id)
        .unwrap_or_default())
}

/// The pictures of several products at once (for the GraphQL loader), in display order.
pub async fn images_of_products(
    app: &AppState,
    product_ids: &[i64],
) -> Result<HashMap<i64, Vec<ProductImage>>, MediaError> {
    let rows = product_image::Entity::find()
        .filter(product_image::Column::ProductId.is_in(product_ids.to_vec()))
        .order_by_asc(product_image::Column::ProductId)
        .order_by_asc(product_image::Column::Position)
        .order_by_asc(product_image::Column::Id)
        .limit(product_ids.len() as u64 * MAX_IMAGES as u64)
        .all(&app.db)
        .await?;
    let assets: HashMap<i64, media_asset::Model> =
        assets_by_ids(&app.db, rows.iter().map(|r| r.asset_id).collect())
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
    let port = port(app);
    let mut out: HashMap<i64, Vec<ProductImage>> = HashMap::new();
    for r in rows {
        let Some(asset) = assets.get(&r.asset_id) else {
            continue;
        };
        let mut variants: Vec<VariantLink> = asset
            .variants
            .iter()
            .map(|v| VariantLink {
                width: v.width,
                height: v.height,
                url: port.store.url(&v.key, 0),
            })
            .collect();
        variants.sort_by_key(|v| v.width);
        out.entry(r.product_id).or_default().push(ProductImage {
            id: r.id,
            product_id: r.product_id,
            asset_id: r.asset_id,
            position: r.position,
            alt: r.alt,
            width: asset.width,
            height: asset.height,
            variants,
        });
    }
    Ok(out)
}

/// The demo seed's pictures: bytes through the normal intake, stored PUBLIC, attached as the
/// product's first picture.
pub(crate) async fn add_seed_picture(
    app: &AppState,
    product_id: i64,
    bytes: Vec<u8>,
    alt: &str,
) -> Result<(), MediaError> {
    let processed = port(app).processor.process(bytes.into()).await?;
    let asset = super::upload::store_processed(
        app,
        MediaPurpose::ProductImage,
        None,
        None,
        None,
        &processed,
    )
    .await?;
    product_image::ActiveModel {
        product_id: Set(product_id),
        asset_id: Set(asset.id),
        position: Set(0),
        alt: Set(alt.to_owned()),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    Ok(())
}
