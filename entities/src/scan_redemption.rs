use sea_orm::entity::prelude::*;

pub use crate::scan_code_batch::GiftKind;

/// A redeemed pack code: at most one row per (batch_id, serial).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_redemptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub batch_id: i64,
    pub serial: i64,
    pub member_id: i64,
    pub sku_id: i64,
    /// Coarse region of the first scan (province and city only).
    pub province: Option<String>,
    pub city: Option<String>,
    /// GB/T 2260 code of the region (the city when known, else the province).
    pub region_code: Option<String>,
    /// Scanned outside the territory the batch shipped to (窜货).
    pub cross_territory: bool,
    pub gift_kind: GiftKind,
    pub gift_points: i64,
    /// For SAMPLE gifts: the voucher the member shows at the counter.
    #[sea_orm(unique)]
    pub voucher_code: Option<String>,
    pub voucher_redeemed_at: Option<DateTimeUtc>,
    pub voucher_redeemed_by: Option<i64>,
    pub voucher_store_id: Option<i64>,
    pub redeemed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
