use sea_orm::entity::prelude::*;

/// An automation HQ switched on (birthday greeting, follow-up, repurchase, win-back): each day it creates
/// a campaign that goes through the same dispatcher, consents and caps.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_automations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    pub enabled: bool,
    pub template_id: String,
    pub template_values: String,
    pub page: String,
    /// FOLLOW_UP: days after the purchase; REPURCHASE: days ahead of the due day; WIN_BACK:
    /// days between two win-backs.
    pub days: i32,
    pub coupon_template_id: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
