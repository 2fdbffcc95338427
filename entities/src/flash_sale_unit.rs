use sea_orm::entity::prelude::*;

/// One unit of a flash sale, set aside from the warehouse's stock (its batch) when the sale was
/// warmed. A winner's order claims a free one (`order_id` NULL → the order); an unpaid order that
/// closes frees it again; when the sale is settled the free ones go back to the warehouse and
/// their rows are deleted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "flash_sale_units")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sale_id: i64,
    pub batch_id: i64,
    pub order_id: Option<i64>,
    pub claimed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
