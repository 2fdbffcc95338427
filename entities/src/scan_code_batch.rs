use sea_orm::entity::prelude::*;

// What the first valid scan of a batch's code gives (also kept on each redemption).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum GiftKind {
    /// Points into the member's ledger.
    Points,
    /// A coupon of a template.
    Coupon,
    /// A sample collected at a store counter with a voucher.
    Sample,
}

/// A batch of pack codes (扫码有礼): the codes are derived from (id, serial) with a keyed MAC,
/// so only the batch is stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_code_batches")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub sku_id: i64,
    /// Serials run from 0 to code_count - 1.
    pub code_count: i64,
    pub stock_batch_id: Option<i64>,
    pub lot: Option<String>,
    /// The distributor the packs ship to.
    pub distributor_id: Option<i64>,
    /// Provinces the packs may be sold in, one per line; empty: anywhere.
    pub territory: String,
    /// The territory as GB/T 2260 codes, one per line; empty: anywhere.
    pub territory_codes: Option<String>,
    pub gift_kind: GiftKind,
    pub gift_points: i64,
    pub coupon_template_id: Option<i64>,
    pub sample_name: Option<String>,
    pub valid_from: DateTimeUtc,
    pub valid_until: DateTimeUtc,
    pub active: bool,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
