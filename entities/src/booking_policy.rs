use sea_orm::entity::prelude::*;

/// A store's booking policy (the settings' defaults when a store has none).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "booking_policies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub store_id: i64,
    /// Slot grid, in minutes from local midnight.
    pub slot_minutes: i32,
    /// Members may cancel or reschedule up to this long before the start.
    pub cancel_cutoff_minutes: i32,
    /// How many days ahead members may book.
    pub horizon_days: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
