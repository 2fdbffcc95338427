//! A member's media when she is erased or withdraws her sensitive-data consent: her skin photos
//! and SENSITIVE assets (rows and wrapped keys), her share posters and their assets, and every
//! object they stored — the skin photos' ciphertext under `sensitive/m<id>/` and the posters'
//! PUBLIC PNGs, which show her nickname in plain pixels.
//!
//! The objects to delete are queued (`media_deletions`) inside the caller's transaction, so a
//! crash right after the commit loses nothing: the worker's cleanup deletes whatever
//! [`purge_member_objects`] did not get to.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::upload::owner_segment;
use crate::AppState;
use entities::media_asset::{self, MediaClass};
use entities::{media_deletion, poster, skin_photo};

/// The objects an erasure queued: deleted by [`purge_member_objects`] after the commit.
#[derive(Debug, Default)]
#[must_use = "delete the objects after the commit: purge_member_objects"]
pub struct MemberObjects {
    /// (queue row id, object key or prefix ending in `/`)
    queued: Vec<(i64, String)>,
}

impl MemberObjects {
    /// The keys (and prefixes) queued for deletion.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.queued.iter().map(|(_, k)| k.as_str())
    }
}

/// Deletes the member's skin photos, posters and assets (rows and wrapped keys) inside the
/// caller's transaction and queues their objects for deletion in it. Once committed the
/// SENSITIVE objects cannot be opened any more; call [`purge_member_objects`] after the commit
/// to delete the objects at once.
pub async fn erase_member_media<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<MemberObjects, sea_orm::DbErr> {
    skin_photo::Entity::delete_many()
        .filter(skin_photo::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    // her share posters carry her nickname (their assets are hers, below)
    poster::Entity::delete_many()
        .filter(poster::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    let hers = media_asset::Entity::find()
        .filter(media_asset::Column::OwnerMemberId.eq(member_id))
        .all(db)
        .await?;
    media_asset::Entity::delete_many()
        .filter(media_asset::Column::OwnerMemberId.eq(member_id))
        .exec(db)
        .await?;
    let mut keys = Vec::new();
    if let Ok(prefix) = media::MediaStore::sensitive_owner_prefix(&owner_segment(member_id)) {
        keys.push(format!("{prefix}/"));
    }
    for asset in &hers {
        if asset.class == MediaClass::Sensitive {
            continue; // under her prefix above
        }
        for v in asset.variants.iter() {
            // content-addressed: another asset storing the same bytes keeps the object
            if !keys.contains(&v.key) && !shared(db, &v.key).await? {
                keys.push(v.key.clone());
            }
        }
    }
    let mut queued = Vec::with_capacity(keys.len());
    for key in keys {
        let row = media_deletion::ActiveModel {
            object_key: Set(key.clone()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_error: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        queued.push((row.id, key));
    }
    Ok(MemberObjects { queued })
}

/// Whether an asset still stores this (content-addressed) key.
async fn shared<C: ConnectionTrait>(db: &C, key: &str) -> Result<bool, sea_orm::DbErr> {
    Ok(media_asset::Entity::find()
        .filter(media_asset::Column::Variants.like(format!("%\"{key}\"%")))
        .one(db)
        .await?
        .is_some())
}

/// Deletes the objects [`erase_member_media`] queued (after its transaction committed). A
/// failure is logged and left in the queue for the worker: the rows are gone already, the
/// SENSITIVE objects are ciphertext without a key.
pub async fn purge_member_objects(app: &AppState, objects: MemberObjects) {
    for (id, key) in objects.queued {
        match super::cleanup::delete(app, &key).await {
            Ok(()) => {
                if let Err(e) = media_deletion::Entity::delete_by_id(id).exec(&app.db).await {
                    tracing::warn!(key, error = %e, "deleted, but the queue row stays (harmless)");
                }
            }
            Err(e) => {
                tracing::warn!(key, error = %e, "object not deleted; the cleanup task retries");
            }
        }
    }
}
