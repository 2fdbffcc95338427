//! Direct uploads from the mini-program: a single-use ticket names a server-chosen key, the
//! exact size and SHA-256 the client declared, and lasts ten minutes. The client PUTs the raw
//! bytes to the ticket's URL (a presigned S3 PUT, or Rouge's own `/media/upload/<id>` route in
//! the embedded default); `completeUpload` checks size and hash, runs the same intake as staff
//! uploads, stores the derivatives and deletes the raw original. A refusal stores no asset and
//! leaves no raw object behind; the ticket cannot be used again.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use super::upload::store_processed;
use super::{Asset, MediaError, MediaPurpose, invalid, port};
use crate::AppState;
use crate::auth::MemberPrincipal;
use entities::upload_ticket::{self, TicketState};

/// How long a ticket (and its upload URL) lasts.
pub const TICKET_TTL_SECS: i64 = 600;

/// Open tickets a member may hold at once.
pub const MAX_OPEN_TICKETS: u64 = 10;

/// The types a ticket may declare (the bytes are sniffed again at completion).
const CONTENT_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub purpose: MediaPurpose,
    pub content_type: String,
    pub byte_size: i64,
    /// lowercase or uppercase hex
    pub sha256: String,
}

/// What the client needs to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTicket {
    pub id: i64,
    pub method: &'static str,
    pub url: String,
    /// headers the PUT must carry
    pub headers: Vec<(String, String)>,
    pub max_bytes: i64,
    pub expires_at: DateTime<Utc>,
}

/// A PUT to Rouge's own upload route that passed its signature check.
#[derive(Debug, Clone)]
pub struct UploadSlot {
    pub key: String,
    pub max_bytes: usize,
}

fn check_new(app: &AppState, new: &NewTicket) -> Result<String, MediaError> {
    if !CONTENT_TYPES.contains(&new.content_type.as_str()) {
        return Err(invalid(
            "contentType must be image/jpeg, image/png or image/webp",
        ));
    }
    let cap = i64::try_from(port(app).processor.limits().max_bytes).unwrap_or(i64::MAX);
    if new.byte_size < 1 || new.byte_size > cap {
        return Err(MediaError::Rejected(media::IntakeError::TooManyBytes {
            max: usize::try_from(cap).unwrap_or(usize::MAX),
        }));
    }
    let sha = new.sha256.trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("sha256 must be 64 hex digits"));
    }
    Ok(sha)
}

/// Issues a ticket for one of the member's own uploads. SKIN_PHOTO needs her current
/// sensitive-data consent; product images are staff work.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id, purpose = ?new.purpose))]
pub async fn create_upload_ticket(
    app: &AppState,
    me: &MemberPrincipal,
    new: NewTicket,
) -> Result<UploadTicket, MediaError> {
    match new.purpose {
        MediaPurpose::SkinPhoto => {
            if !super::skin_photos::has_sensitive_consent(app, me.member_id).await? {
                return Err(MediaError::NoConsent);
            }
        }
        MediaPurpose::ProductImage
        | MediaPurpose::Wxacode
        | MediaPurpose::Poster
        | MediaPurpose::MarketingMaterial => {
            return Err(crate::auth::AuthError::Forbidden.into());
        }
    }
    let sha256 = check_new(app, &new)?;
    let now = app.clock.now();
    let open = upload_ticket::Entity::find()
        .filter(upload_ticket::Column::MemberId.eq(me.member_id))
        .filter(upload_ticket::Column::State.eq(TicketState::Issued))
        .filter(upload_ticket::Column::ExpiresAt.gt(now))
        .count(&app.db)
        .await?;
    if open >= MAX_OPEN_TICKETS {
        return Err(MediaError::TooManyTickets);
    }
    let key = media::MediaStore::incoming_key();
    let expires_at = now + Duration::seconds(TICKET_TTL_SECS);
    let target = port(app)
        .store
        .upload_target(&key, expires_at.timestamp(), now.timestamp())
        .await
        .map_err(|e| MediaError::Storage(e.to_string()))?;
    let row = upload_ticket::ActiveModel {
        purpose: Set(new.purpose),
        member_id: Set(me.member_id),
        storage_key: Set(key),
        content_type: Set(new.content_type.clone()),
        byte_size: Set(new.byte_size),
        sha256: Set(sha256),
        state: Set(TicketState::Issued),
        asset_id: Set(None),
        expires_at: Set(expires_at),
        created_at: Set(now),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    Ok(UploadTicket {
        id: row.id,
        method: target.method,
        url: target.url,
        headers: vec![("content-type".to_owned(), new.content_type)],
        max_bytes: new.byte_size,
        expires_at,
    })
}

/// Checks a PUT to `/media/upload/<id>`: signed for PUT, unexpired, for a ticket still open.
/// Any other key, a forged or expired link, or a finished ticket → [`MediaError::LinkInvalid`]
/// / [`MediaError::LinkExpired`] (403).
pub async fn authorize_put(
    app: &AppState,
    id: &str,
    expires: Option<i64>,
    sig: Option<&str>,
) -> Result<UploadSlot, MediaError> {
    let now = app.clock.now();
    let key = port(app)
        .store
        .authorize_upload(id, expires, sig, now.timestamp())
        .map_err(|e| match e {
            media::SignatureError::Expired => MediaError::LinkExpired,
            media::SignatureError::BadSignature => MediaError::LinkInvalid,
        })?;
    let ticket = upload_ticket::Entity::find()
        .filter(upload_ticket::Column::StorageKey.eq(key.clone()))
        .one(&app.db)
        .await?
        .ok_or(MediaError::LinkInvalid)?;
    if ticket.state != TicketState::Issued {
        return Err(MediaError::LinkInvalid);
    }
    if ticket.expires_at <= now {
        return Err(MediaError::LinkExpired);
    }
    Ok(UploadSlot {
        key,
        max_bytes: usize::try_from(ticket.byte_size).unwrap_or(0),
    })
}

/// Stores the raw bytes of an authorized PUT (read by the caller under `slot.max_bytes`).
pub async fn store_put(
    app: &AppState,
    slot: &UploadSlot,
    bytes: media::bytes::Bytes,
) -> Result<(), MediaError> {
    port(app)
        .store
        .put_raw(&slot.key, bytes)
        .await
        .map_err(|e| MediaError::Storage(e.to_string()))
}

async fn set_state(
    app: &AppState,
    id: i64,
    from: TicketState,
    to: TicketState,
    asset_id: Option<i64>,
) -> Result<bool, MediaError> {
    let finished = (to != TicketState::Issued).then(|| app.clock.now());
    let updated = upload_ticket::Entity::update_many()
        .col_expr(upload_ticket::Column::State, Expr::value(to))
        .col_expr(upload_ticket::Column::FinishedAt, Expr::value(finished))
        .col_expr(upload_ticket::Column::AssetId, Expr::value(asset_id))
        .filter(upload_ticket::Column::Id.eq(id))
        .filter(upload_ticket::Column::State.eq(from))
        .exec(&app.db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Finishes a ticket: the raw upload must have the declared size and SHA-256, then goes
/// through intake; the asset is stored in the purpose's class and the raw object deleted.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id, ticket_id))]
pub async fn complete_upload(
    app: &AppState,
    me: &MemberPrincipal,
    ticket_id: i64,
) -> Result<Asset, MediaError> {
    let ticket = upload_ticket::Entity::find_by_id(ticket_id)
        .one(&app.db)
        .await?
        .filter(|t| t.member_id == me.member_id)
        .ok_or(MediaError::NotFound)?;
    if ticket.state != TicketState::Issued {
        return Err(MediaError::TicketUsed);
    }
    if ticket.expires_at <= app.clock.now() {
        return Err(MediaError::TicketExpired);
    }
    if ticket.purpose == MediaPurpose::SkinPhoto
        && !super::skin_photos::has_sensitive_consent(app, me.member_id).await?
    {
        return Err(MediaError::NoConsent);
    }
    // Single use: only one completion claims the ticket.
    if !set_state(
        app,
        ticket.id,
        TicketState::Issued,
        TicketState::Processing,
        None,
    )
    .await?
    {
        return Err(MediaError::TicketUsed);
    }
    match finish(app, me, &ticket).await {
        Ok(asset) => {
            set_state(
                app,
                ticket.id,
                TicketState::Processing,
                TicketState::Completed,
                Some(asset.id),
            )
            .await?;
            super::cleanup::forget_objects(app, &ticket.storage_key).await;
            Ok(asset)
        }
        Err(MediaError::UploadMissing) => {
            // nothing uploaded yet: the client may still upload and try again
            set_state(
                app,
                ticket.id,
                TicketState::Processing,
                TicketState::Issued,
                None,
            )
            .await?;
            Err(MediaError::UploadMissing)
        }
        Err(e) => {
            set_state(
                app,
                ticket.id,
                TicketState::Processing,
                TicketState::Rejected,
                None,
            )
            .await?;
            super::cleanup::forget_objects(app, &ticket.storage_key).await;
            Err(e)
        }
    }
}

async fn finish(
    app: &AppState,
    me: &MemberPrincipal,
    ticket: &upload_ticket::Model,
) -> Result<Asset, MediaError> {
    let store = &port(app).store;
    let storage = |e: media::StorageError| MediaError::Storage(e.to_string());
    let size = store
        .size_of(&ticket.storage_key)
        .await
        .map_err(storage)?
        .ok_or(MediaError::UploadMissing)?;
    if i64::try_from(size).unwrap_or(i64::MAX) != ticket.byte_size {
        return Err(MediaError::SizeMismatch {
            declared: ticket.byte_size,
        });
    }
    let bytes = store.get(&ticket.storage_key).await.map_err(|e| match e {
        media::StorageError::NotFound => MediaError::UploadMissing,
        other => storage(other),
    })?;
    // Hashing up to the byte cap is CPU work: on the image threads, off the request workers.
    let hashed = bytes.clone();
    let digest = port(app)
        .processor
        .run(move || hex::encode(Sha256::digest(&hashed)))
        .await?;
    if digest != ticket.sha256 {
        return Err(MediaError::HashMismatch);
    }
    let processed = port(app).processor.process(bytes).await?;
    let owner = match ticket.purpose {
        MediaPurpose::SkinPhoto => Some(me.member_id),
        MediaPurpose::ProductImage
        | MediaPurpose::Wxacode
        | MediaPurpose::Poster
        | MediaPurpose::MarketingMaterial => None,
    };
    store_processed(
        app,
        ticket.purpose,
        owner,
        None,
        Some(me.member_id),
        &processed,
    )
    .await
}
