use sea_orm::entity::prelude::*;

/// Units of one batch at one location: always the sum of that pair's stock movements,
/// kept in the same transaction as each movement so reads need no aggregation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_levels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub location_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub batch_id: i64,
    pub sku_id: i64,
    pub quantity: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::stock_batch::Entity",
        from = "Column::BatchId",
        to = "super::stock_batch::Column::Id"
    )]
    Batch,
}

impl Related<super::stock_batch::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Batch.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
