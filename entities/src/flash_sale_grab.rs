use sea_orm::entity::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum GrabStatus {
    /// Its order is unpaid or paid: the units count as sold.
    Held,
    /// Its order closed unpaid: the units went back to the sale.
    Released,
}

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
    pub status: GrabStatus,
    pub created_at: DateTimeUtc,
    pub released_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::Iterable;

    use super::*;

    #[test]
    fn stored_texts_are_the_ones_rows_hold() {
        let texts: Vec<String> = GrabStatus::iter().map(|s| s.to_value()).collect();
        assert_eq!(texts, ["HELD", "RELEASED"]);
    }
}
