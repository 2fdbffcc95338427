use std::collections::BTreeMap;

use sea_orm::entity::prelude::*;

use crate::typed::JsonText;

/// The automations HQ can switch on; each creates a campaign of the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum AutomationKind {
    /// Members whose birthday is today.
    Birthday,
    /// Members who bought `days` days ago.
    FollowUp,
    /// Members whose own buying cycle for a category comes due in `days` days (0: today) and
    /// who have not bought it again since.
    Repurchase,
    /// At-risk members, at most one win-back per `days` days.
    WinBack,
}

/// An automation HQ switched on (birthday greeting, follow-up, repurchase, win-back): each day it creates
/// a campaign that goes through the same dispatcher, consents and caps.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_automations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: AutomationKind,
    pub enabled: bool,
    pub template_id: String,
    pub template_values: JsonText<BTreeMap<String, String>>,
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
