use sea_orm::entity::prelude::*;

/// A stored object (or a prefix ending in `/`) to delete, retried by the worker until the
/// store confirms.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media_deletions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub object_key: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
