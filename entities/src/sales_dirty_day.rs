use sea_orm::entity::prelude::*;

/// A business day whose rollups are stale: written with every fact of that day. The
/// generation grows with each fact, so a recompute clears only the mark it saw.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sales_dirty_days")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub business_date: Date,
    pub generation: i64,
    pub marked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
