use sea_orm::entity::prelude::*;

/// One valid scan of a pack code (the first, which redeems it, and every later one), with the
/// coarse region and the optional mini-survey. Feeds insight and fraud flags.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub batch_id: i64,
    pub serial: i64,
    pub member_id: i64,
    pub sku_id: i64,
    pub lot: Option<String>,
    pub distributor_id: Option<i64>,
    pub province: Option<String>,
    pub city: Option<String>,
    /// GB/T 2260 code of the region (the city when known, else the province).
    pub region_code: Option<String>,
    pub age_band: Option<String>,
    pub skin_type: Option<String>,
    pub where_bought: Option<String>,
    /// REDEEMED (the first scan), REPEAT (the same member again) or OTHER_MEMBER.
    pub outcome: String,
    /// 1 when this scan granted the gift.
    pub gifted: i32,
    /// CROSS_TERRITORY or OTHER_MEMBER.
    pub flag: Option<String>,
    /// The store-zone date (YYYY-MM-DD), for grouping over time on both backends.
    pub day: String,
    pub scanned_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
