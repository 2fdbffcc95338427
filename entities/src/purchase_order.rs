use sea_orm::entity::prelude::*;

/// Where a purchase order (B2B 订货单) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum PoStatus {
    Submitted,
    Approved,
    Rejected,
    Allocated,
    PartiallyShipped,
    Shipped,
    Received,
    Cancelled,
}

/// A distributor's purchase order, priced by one price-list version and bound to the hash of
/// the quote it was submitted with.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchase_orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub no: String,
    pub distributor_id: i64,
    pub status: PoStatus,
    pub quote_hash: String,
    pub price_list_id: i64,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    /// Credit this order holds (0 for prepaid distributors).
    pub credit_reserved_fen: i64,
    /// Rebate (返利) spent on this order: held at submit, used at shipment, given back when
    /// it is cancelled or rejected.
    pub rebate_used_fen: i64,
    pub idempotency_key: String,
    /// The distributor account that submitted it.
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
