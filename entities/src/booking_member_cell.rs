use sea_orm::entity::prelude::*;

/// One 5-minute cell of a member's time held by a booking that is BOOKED or CHECKED_IN (its
/// service, not the BA's buffer); the primary key makes two bookings of one member at the same
/// time impossible, whatever the concurrency.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "booking_member_cells")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: i64,
    /// Minutes since the Unix epoch divided by 5.
    #[sea_orm(primary_key, auto_increment = false)]
    pub cell: i64,
    pub booking_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
