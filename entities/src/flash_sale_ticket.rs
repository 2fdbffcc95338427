use sea_orm::entity::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[cfg_attr(feature = "graphql", graphql(name = "FlashSaleTicketStatus"))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum TicketStatus {
    /// The member won the units; the order is being written.
    Pending,
    /// The order is written (see the order).
    Ordered,
    /// The order could not be written (see `failure`); the units went back to the sale.
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[cfg_attr(feature = "graphql", graphql(name = "FlashSaleTicketFailure"))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum TicketFailure {
    /// The sale had no free unit left for the ticket (the counters had granted more than the
    /// database holds, e.g. rebuilt while grabs were in flight).
    SoldOut,
    /// The member already held as many units as one member may.
    LimitReached,
    /// The sale (or its SKU) is gone or was settled before the order could be written.
    SaleClosed,
}

/// A grab ticket: the answer a winner gets at once. The units are the member's from then on;
/// the order is written by a background writer, exactly once per ticket (it is marked ORDERED
/// with its order in the order's own transaction). Unique per (sale, member, idempotency key),
/// so a retried grab finds its ticket.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "flash_sale_tickets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sale_id: i64,
    pub member_id: i64,
    pub quantity: i32,
    pub idempotency_key: String,
    pub status: TicketStatus,
    pub failure: Option<TicketFailure>,
    pub order_id: Option<i64>,
    /// Passes that found too few free units for the ticket (another writer may have held them).
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    /// When the order is expected to exist (the stated time after the grab).
    pub order_due_at: DateTimeUtc,
    /// When the order was written (or the ticket failed).
    pub written_at: Option<DateTimeUtc>,
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
        let texts: Vec<String> = TicketStatus::iter().map(|s| s.to_value()).collect();
        assert_eq!(texts, ["PENDING", "ORDERED", "FAILED"]);
        let texts: Vec<String> = TicketFailure::iter().map(|s| s.to_value()).collect();
        assert_eq!(texts, ["SOLD_OUT", "LIMIT_REACHED", "SALE_CLOSED"]);
    }
}
