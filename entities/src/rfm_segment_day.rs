use sea_orm::entity::prelude::*;

use crate::member_insight::RfmSegment;

/// How many members were in each RFM segment when the nightly insights ran on a business day,
/// per store of the member's exclusive BA (0 = none): segment counts over time.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rfm_segment_days")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub business_date: Date,
    pub store_id: i64,
    pub segment: RfmSegment,
    pub members: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
