use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable};

/// The skill codes a BA must all have for a service, stored as they always were: the codes
/// joined with commas (empty text for none). Skill codes are the store's own words (checked
/// as codes when written, so they hold no comma), not a fixed vocabulary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkillList(pub Vec<String>);

impl SkillList {
    fn parse(text: &str) -> Self {
        Self(
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn into_inner(self) -> Vec<String> {
        self.0
    }
}

impl std::ops::Deref for SkillList {
    type Target = Vec<String>;
    fn deref(&self) -> &Vec<String> {
        &self.0
    }
}

impl From<Vec<String>> for SkillList {
    fn from(skills: Vec<String>) -> Self {
        Self(skills)
    }
}

impl From<SkillList> for Value {
    fn from(value: SkillList) -> Self {
        Value::String(Some(value.0.join(",")))
    }
}

impl TryGetable for SkillList {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        String::try_get_by(res, index).map(|text| Self::parse(&text))
    }
}

impl ValueType for SkillList {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::String(Some(text)) => Ok(Self::parse(&text)),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "SkillList".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::Text
    }
}

impl Nullable for SkillList {
    fn null() -> Value {
        Value::String(None)
    }
}

/// A service members book at a store (skin test, facial, makeup lesson).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "booking_services")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The store that offers it; none for every store (defined by HQ).
    pub store_id: Option<i64>,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub duration_minutes: i32,
    /// Time the BA needs after the service (cleaning up) before the next booking.
    pub buffer_minutes: i32,
    /// 0 for a free service.
    pub price_fen: i64,
    /// Comma-separated skill codes a BA must all have.
    pub required_skills: SkillList,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_are_stored_comma_separated() {
        let skills = SkillList(vec!["FACIAL".into(), "MAKEUP".into()]);
        let value = Value::from(skills.clone());
        assert_eq!(value, Value::String(Some("FACIAL,MAKEUP".into())));
        assert_eq!(<SkillList as ValueType>::try_from(value).unwrap(), skills);
        assert_eq!(
            Value::from(SkillList::default()),
            Value::String(Some(String::new()))
        );
        assert!(
            <SkillList as ValueType>::try_from(Value::String(Some(String::new())))
                .unwrap()
                .is_empty()
        );
    }
}
