use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::typed::JsonText;

/// How an asset is stored and served (see the media crate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum MediaClass {
    /// Content-addressed, served unsigned and cacheable forever (product images).
    Public,
    /// Random keys, signed expiring downloads.
    Private,
    /// Random keys, encrypted per asset, each read through a freshly minted, audited URL.
    Sensitive,
}

/// What an upload is for; decides its class and who may use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum MediaPurpose {
    /// A picture of a product (PUBLIC).
    ProductImage,
    /// A member's skin photo (SENSITIVE).
    SkinPhoto,
    /// A mini-program code Rouge fetched from WeChat for a display (PUBLIC); never uploaded.
    Wxacode,
    /// A share poster Rouge drew (PUBLIC PNG, owned by the member whose nickname is on it);
    /// never uploaded.
    Poster,
    /// An image HQ attaches to a B2B policy for distributors (PRIVATE, signed downloads).
    MarketingMaterial,
}

/// One stored derivative of an asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVariant {
    /// the fixed width it was built for (1080, 512 or 256)
    pub label: u32,
    pub width: u32,
    pub height: u32,
    pub key: String,
    pub bytes: u64,
}

/// An image Rouge decoded, re-encoded and stored as fixed-width variants.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media_assets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub class: MediaClass,
    pub purpose: MediaPurpose,
    /// the member the asset is about (SENSITIVE), for erasure
    pub owner_member_id: Option<i64>,
    pub uploaded_by_staff_id: Option<i64>,
    pub uploaded_by_member_id: Option<i64>,
    /// the sniffed type of the upload (the stored variants are JPEG)
    pub source_mime: String,
    pub width: i32,
    pub height: i32,
    pub variants: JsonText<Vec<StoredVariant>>,
    /// SENSITIVE only: where its objects live and its data key wrapped by the master key
    pub key_prefix: Option<String>,
    pub wrapped_key: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
