use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::typed::JsonText;

/// The kind of value a template key takes (WECHAT.md §4), stored in the template's JSON as
/// WeChat spells it (`thing`, `character_string`, ...); a kind Rouge does not know fails the
/// read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Thing,
    Number,
    Letter,
    Symbol,
    CharacterString,
    Time,
    Date,
    Amount,
    PhoneNumber,
    CarNumber,
    Name,
    Phrase,
}

impl KeyKind {
    pub const ALL: [Self; 12] = [
        Self::Thing,
        Self::Number,
        Self::Letter,
        Self::Symbol,
        Self::CharacterString,
        Self::Time,
        Self::Date,
        Self::Amount,
        Self::PhoneNumber,
        Self::CarNumber,
        Self::Name,
        Self::Phrase,
    ];

    /// WeChat's name of the kind (the stored text; a key is this name followed by a number).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Thing => "thing",
            Self::Number => "number",
            Self::Letter => "letter",
            Self::Symbol => "symbol",
            Self::CharacterString => "character_string",
            Self::Time => "time",
            Self::Date => "date",
            Self::Amount => "amount",
            Self::PhoneNumber => "phone_number",
            Self::CarNumber => "car_number",
            Self::Name => "name",
            Self::Phrase => "phrase",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One key of a template and the kind of value it takes (WECHAT.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateKey {
    /// e.g. `thing1`: the kind followed by a number.
    pub key: String,
    pub kind: KeyKind,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_kinds_are_stored_as_wechat_spells_them() {
        for kind in KeyKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(kind.as_str().to_owned())
            );
            assert_eq!(KeyKind::parse(kind.as_str()), Some(kind));
        }
        let stored = r#"[{"key":"thing1","kind":"thing","label":"活动"},{"key":"character_string2","kind":"character_string","label":""}]"#;
        let keys: Vec<TemplateKey> = serde_json::from_str(stored).unwrap();
        assert_eq!(keys[1].kind, KeyKind::CharacterString);
        assert_eq!(serde_json::to_string(&keys).unwrap(), stored);
        assert!(serde_json::from_str::<Vec<TemplateKey>>(r#"[{"key":"x1","kind":"x"}]"#).is_err());
    }
}
