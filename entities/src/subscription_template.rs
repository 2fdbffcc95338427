use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::typed::JsonText;

/// One key of a template and the kind of value it takes (WECHAT.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateKey {
    /// e.g. `thing1`: the kind followed by a number.
    pub key: String,
    pub kind: String,
    #[serde(default)]
    pub label: String,
}

/// A subscription-message template HQ registered (WECHAT.md §4): its keys and their kinds,
/// so every campaign's values are checked before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscription_templates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// WeChat's template id.
    #[sea_orm(unique)]
    pub template_id: String,
    pub title: String,
    /// Stored as a JSON array of {"key": "thing1", "kind": "thing", "label": "..."}.
    pub keys: JsonText<Vec<TemplateKey>>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
