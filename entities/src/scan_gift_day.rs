use sea_orm::entity::prelude::*;

/// The scan gifts a member received on a store day (Asia/Shanghai, `YYYY-MM-DD`): the daily
/// gift cap's count, raised by one in each first scan's transaction.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_gift_days")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    pub gifts: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
