use sea_orm::entity::prelude::*;

/// One successful grab of a flash sale and the order it created. Unique per (sale, member,
/// idempotency key), so a retried grab finds its first order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "flash_sale_grabs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sale_id: i64,
    pub member_id: i64,
    #[sea_orm(unique)]
    pub order_id: i64,
    pub quantity: i32,
    pub idempotency_key: String,
    /// HELD (its order is unpaid or paid) or RELEASED (its order closed unpaid).
    pub status: String,
    pub created_at: DateTimeUtc,
    pub released_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
