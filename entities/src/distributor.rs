use sea_orm::entity::prelude::*;

/// What kind of channel partner a distributor is; policies can be addressed to one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum DistributorKind {
    /// 经销商: buys and resells in its territory.
    Distributor,
    /// 代理商: an agent for a region.
    Agent,
    /// KA 直供: a key account (department-store or chain group) supplied directly.
    KeyAccount,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "distributors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// A, B or C: decides the price list and policies.
    pub level: String,
    /// The territory the distributor sells in (province name).
    pub region: String,
    /// The territory as GB/T 2260 codes, one per line (filled from `region`).
    pub region_codes: Option<String>,
    pub credit_limit_fen: i64,
    pub created_at: DateTimeUtc,
    /// A deactivated distributor's accounts are all refused.
    pub active: bool,
    pub contact_name: Option<String>,
    /// The contact's phone number, encrypted (`PiiCipher`), and its masked form.
    pub contact_phone_cipher: Option<String>,
    pub contact_phone_masked: Option<String>,
    /// The B2B tier whose price list the distributor orders from.
    pub tier_id: Option<i64>,
    /// Days of shelf life a batch must still have to be allocated to this distributor.
    pub min_shelf_life_days: Option<i32>,
    /// 经销商 / 代理商 / KA (policies may be addressed to one kind).
    pub kind: DistributorKind,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
