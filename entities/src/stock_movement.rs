use sea_orm::entity::prelude::*;

/// What moved stock, for the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum MovementKind {
    Receipt,
    Adjustment,
    TransferOut,
    TransferIn,
    /// Units set aside for an online order (they leave the sellable stock at once).
    OrderReserve,
    /// An unpaid order closed: its units come back.
    OrderRelease,
    InStoreSale,
    /// Goods returned with a refund.
    Return,
    /// Units allocated to a distributor's purchase order (B2B), leaving the warehouse's stock.
    B2bAllocate,
    /// Units set aside for a flash sale when it is warmed (its orders claim them).
    FlashSaleReserve,
    /// A settled flash sale's unclaimed units back to the warehouse.
    FlashSaleReturn,
    /// Units a distributor returned after receipt, back into the batch they were shipped from.
    B2bReturn,
}

/// One change of stock: the ledger the on-hand figures are the sum of.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_movements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub location_id: i64,
    pub batch_id: i64,
    pub sku_id: i64,
    pub delta: i64,
    pub kind: MovementKind,
    pub reference: Option<String>,
    pub staff_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
