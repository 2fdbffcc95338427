use sea_orm::entity::prelude::*;

use crate::media_asset::MediaPurpose;

/// Where a direct-upload ticket stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum TicketState {
    /// Issued; the client may upload to its key until it expires.
    Issued,
    /// Claimed by `completeUpload`, being checked and processed.
    Processing,
    /// Processed into an asset; the raw upload is deleted.
    Completed,
    /// Refused at completion (size, hash or intake); the raw upload is deleted.
    Rejected,
    /// Ran out unfinished; the worker deleted its raw upload.
    Expired,
}

/// A single-use ticket for a direct upload: the server chose the key, the client declared the
/// size and SHA-256, and the ticket lasts ten minutes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "upload_tickets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub purpose: MediaPurpose,
    pub member_id: i64,
    /// `incoming/<random>`: the only key the ticket's upload URL accepts
    #[sea_orm(unique)]
    pub storage_key: String,
    pub content_type: String,
    /// the exact size the upload must have (its cap)
    pub byte_size: i64,
    /// lowercase hex SHA-256 the upload must have
    pub sha256: String,
    pub state: TicketState,
    pub asset_id: Option<i64>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
