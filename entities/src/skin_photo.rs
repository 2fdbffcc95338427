use sea_orm::entity::prelude::*;

/// The part of the face or body a skin photo shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum SkinArea {
    FullFace,
    Forehead,
    Cheeks,
    Nose,
    Chin,
    EyeArea,
    Neck,
    Hands,
}

/// A skin photo a BA took of a member (sensitive personal data, PIPL art. 28).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "skin_photos")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub member_id: i64,
    pub asset_id: i64,
    pub area: SkinArea,
    pub taken_at: DateTimeUtc,
    pub note: Option<String>,
    pub store_id: Option<i64>,
    pub recorded_by_staff_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
