//! Cleaning up stored objects: a deletion queue (`media_deletions`) retried by the worker until
//! the store confirms, raw uploads of tickets that ran out unfinished, and uploads nobody used
//! within a day ([`super::orphans`]).
//!
//! Deleting an object happens after the database change that made it unreachable (an erased
//! photo, a refused or expired upload): [`forget_objects`] tries at once and queues the key on
//! failure; [`MediaCleanup`] retries the queue with backoff and expires stale tickets.

use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::port;
use crate::AppState;
use crate::platform::jobs::{PeriodicTask, TaskError};
use entities::media_deletion;
use entities::upload_ticket::{self, TicketState};

/// A ticket's raw upload is removed this long after the ticket ran out (a PUT started just
/// before the end may still be arriving).
const GRACE_SECS: i64 = 60;

/// Deletions handled per pass.
const BATCH: u64 = 200;

/// Deletes a key, or every key under a prefix ending in `/`.
pub(super) async fn delete(app: &AppState, key: &str) -> Result<(), media::StorageError> {
    let store = &port(app).store;
    match key.strip_suffix('/') {
        Some(prefix) => store.delete_prefix(prefix).await.map(|_| ()),
        None => store.delete(key).await,
    }
}

/// Deletes now; on failure queues the key for the worker (never fails the caller: the database
/// change that made the object unreachable has already committed).
pub(crate) async fn forget_objects(app: &AppState, key: &str) {
    let Err(e) = delete(app, key).await else {
        return;
    };
    tracing::warn!(key, error = %e, "object not deleted; queued for the cleanup task");
    let now = app.clock.now();
    let queued = media_deletion::ActiveModel {
        object_key: Set(key.to_owned()),
        attempts: Set(1),
        next_attempt_at: Set(now + backoff(1)),
        last_error: Set(Some(e.to_string())),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await;
    if let Err(e) = queued {
        tracing::error!(key, error = %e, "object deletion could not be queued");
    }
}

/// 1, 2, 4 ... minutes, at most an hour.
fn backoff(attempts: i32) -> chrono::Duration {
    let minutes = 1i64 << attempts.clamp(0, 6);
    chrono::Duration::minutes(minutes.min(60))
}

/// The worker's media cleanup: expires tickets left unfinished (deleting their raw uploads),
/// collects uploads left unused for a day and retries queued object deletions.
pub struct MediaCleanup;

#[async_trait]
impl PeriodicTask for MediaCleanup {
    fn name(&self) -> &'static str {
        "media.cleanup"
    }

    fn every(&self) -> Duration {
        Duration::from_secs(60)
    }

    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(expire_tickets(app).await?
            + super::orphans::collect_orphans(app).await?
            + retry_deletions(app).await?)
    }
}

async fn expire_tickets(app: &AppState) -> Result<u64, sea_orm::DbErr> {
    let cutoff = app.clock.now() - chrono::Duration::seconds(GRACE_SECS);
    // ISSUED past its end; PROCESSING long past it (a completion that crashed midway)
    let stale = upload_ticket::Entity::find()
        .filter(upload_ticket::Column::State.is_in([TicketState::Issued, TicketState::Processing]))
        .filter(upload_ticket::Column::ExpiresAt.lt(cutoff))
        .order_by_asc(upload_ticket::Column::Id)
        .limit(BATCH)
        .all(&app.db)
        .await?;
    let mut done = 0;
    for t in stale {
        if t.state == TicketState::Processing
            && t.expires_at >= cutoff - chrono::Duration::minutes(10)
        {
            continue;
        }
        let claimed = upload_ticket::Entity::update_many()
            .col_expr(
                upload_ticket::Column::State,
                Expr::value(TicketState::Expired),
            )
            .col_expr(
                upload_ticket::Column::FinishedAt,
                Expr::value(Some(app.clock.now())),
            )
            .filter(upload_ticket::Column::Id.eq(t.id))
            .filter(upload_ticket::Column::State.eq(t.state))
            .exec(&app.db)
            .await?;
        if claimed.rows_affected == 1 {
            forget_objects(app, &t.storage_key).await;
            done += 1;
        }
    }
    Ok(done)
}

async fn retry_deletions(app: &AppState) -> Result<u64, sea_orm::DbErr> {
    let now = app.clock.now();
    let due = media_deletion::Entity::find()
        .filter(media_deletion::Column::NextAttemptAt.lte(now))
        .order_by_asc(media_deletion::Column::Id)
        .limit(BATCH)
        .all(&app.db)
        .await?;
    let mut done = 0;
    for row in due {
        match delete(app, &row.object_key).await {
            Ok(()) => {
                media_deletion::Entity::delete_by_id(row.id)
                    .exec(&app.db)
                    .await?;
                done += 1;
            }
            Err(e) => {
                let attempts = row.attempts.saturating_add(1);
                let mut next = row.into_active_model();
                next.attempts = Set(attempts);
                next.next_attempt_at = Set(now + backoff(attempts));
                next.last_error = Set(Some(e.to_string()));
                next.update(&app.db).await?;
            }
        }
    }
    Ok(done)
}
