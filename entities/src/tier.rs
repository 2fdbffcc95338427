use sea_orm::entity::prelude::*;

/// A membership tier (会员等级) HQ configures; members move up by cumulative spend.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tiers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// Order of tiers, lowest first.
    pub rank: i32,
    /// Cumulative spend from which a member holds this tier.
    pub threshold_fen: i64,
    /// Points earned per yuan spent, in percent (100 = 1 point per yuan).
    pub points_multiplier_pct: i32,
    /// Member price discount in percent off (0 = none).
    pub discount_pct: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
