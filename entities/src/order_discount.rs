use sea_orm::entity::prelude::*;

// What a discount line is for: the tier's member price, a coupon, or a flash-sale price.
// (A plain comment: the published SDL lists the GraphQL enum bare.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum DiscountKind {
    Tier,
    Coupon,
    FlashSale,
}

/// One discount on an order (tier member price, a coupon, a flash-sale price), shown as its own line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_discounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub kind: DiscountKind,
    pub label: String,
    pub amount_fen: i64,
    /// The coupon or flash sale behind the discount.
    pub reference: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
