use sea_orm::entity::prelude::*;

/// A service members book at a store (skin test, facial, makeup lesson).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "booking_services")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The store that offers it; none for every store (defined by HQ).
    pub store_id: Option<i64>,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub duration_minutes: i32,
    /// Time the BA needs after the service (cleaning up) before the next booking.
    pub buffer_minutes: i32,
    /// 0 for a free service.
    pub price_fen: i64,
    /// Comma-separated skill codes a BA must all have.
    pub required_skills: String,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
