use sea_orm::entity::prelude::*;

/// What a share poster advertises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum PosterKind {
    /// An active product.
    Product,
    /// A scheduled or running campaign.
    Campaign,
    /// An active in-store service that can be booked.
    BookingService,
}

/// A rendered share poster: the hash of its inputs (template version, target and its version,
/// the sharer's nickname, the mini-program scene) names it; the PNG is a PUBLIC media asset.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "posters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub cache_key: String,
    pub kind: PosterKind,
    pub target_id: i64,
    /// the member who shares it (her nickname is on it)
    pub member_id: i64,
    pub template_version: i32,
    pub scene: String,
    pub asset_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
