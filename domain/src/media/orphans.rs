//! Uploads nobody used: a product image never attached to a product, a skin photo never
//! recorded, a marketing material never attached to a policy, a day after the upload. The
//! cleanup task deletes the asset row (only while it is still unused: the same conditions in
//! the DELETE, so an attach racing it either wins or fails on its foreign key) and then its
//! objects — a PUBLIC object only when no other asset stores the same content-addressed key.

use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::cleanup::forget_objects;
use crate::AppState;
use entities::media_asset::{self, MediaClass, MediaPurpose};
use entities::{policy_material, product_image, skin_photo};

/// How long an upload may wait to be used.
pub const ORPHAN_AFTER_HOURS: i64 = 24;

/// Orphans handled per pass.
const BATCH: u64 = 100;

fn used_by(
    table: impl sea_orm::sea_query::IntoTableRef,
    col: impl sea_orm::sea_query::IntoColumnRef,
) -> SelectStatement {
    Query::select().column(col).from(table).to_owned()
}

/// An asset of a purpose that must be used, that nothing uses.
fn unused() -> Condition {
    Condition::all()
        .add(media_asset::Column::Purpose.is_in([
            MediaPurpose::ProductImage,
            MediaPurpose::SkinPhoto,
            MediaPurpose::MarketingMaterial,
        ]))
        .add(media_asset::Column::Id.not_in_subquery(used_by(
            product_image::Entity,
            product_image::Column::AssetId,
        )))
        .add(
            media_asset::Column::Id
                .not_in_subquery(used_by(skin_photo::Entity, skin_photo::Column::AssetId)),
        )
        .add(media_asset::Column::Id.not_in_subquery(used_by(
            policy_material::Entity,
            policy_material::Column::AssetId,
        )))
}

/// Deletes uploads left unused for a day; returns how many.
pub(super) async fn collect_orphans(app: &AppState) -> Result<u64, sea_orm::DbErr> {
    let cutoff = app.clock.now() - chrono::Duration::hours(ORPHAN_AFTER_HOURS);
    let stale = media_asset::Entity::find()
        .filter(unused())
        .filter(media_asset::Column::CreatedAt.lt(cutoff))
        .order_by_asc(media_asset::Column::Id)
        .limit(BATCH)
        .all(&app.db)
        .await?;
    let mut done = 0;
    for asset in stale {
        let gone = media_asset::Entity::delete_many()
            .filter(media_asset::Column::Id.eq(asset.id))
            .filter(unused())
            .exec(&app.db)
            .await?;
        if gone.rows_affected != 1 {
            continue;
        }
        done += 1;
        match (asset.class, &asset.key_prefix) {
            (MediaClass::Sensitive, Some(prefix)) => {
                forget_objects(app, &format!("{prefix}/")).await;
            }
            _ => {
                for v in asset.variants.iter() {
                    if asset.class == MediaClass::Public && shared(app, &v.key).await? {
                        continue;
                    }
                    forget_objects(app, &v.key).await;
                }
            }
        }
    }
    Ok(done)
}

/// Whether another asset stores this (content-addressed) key too.
async fn shared(app: &AppState, key: &str) -> Result<bool, sea_orm::DbErr> {
    Ok(media_asset::Entity::find()
        .filter(media_asset::Column::Variants.like(format!("%\"{key}\"%")))
        .count(&app.db)
        .await?
        > 0)
}
