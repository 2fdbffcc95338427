use sea_orm::entity::prelude::*;

/// A sellable variant of a product: shade (色号) and size (规格), with price and cost in fen.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "skus")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    #[sea_orm(unique)]
    pub code: String,
    #[sea_orm(unique)]
    pub barcode: Option<String>,
    pub shade: Option<String>,
    pub size: Option<String>,
    pub price_fen: i64,
    pub cost_fen: i64,
    /// Below this many units at a location, the SKU shows on the low-stock list.
    pub safety_stock: i32,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
