//! Typed columns: how statuses, kinds and JSON documents are stored (copy this pattern).
//!
//! **Statuses, kinds, sources, channels, reasons** are string-backed sea-orm active enums,
//! declared in the entity file of their table and re-exported by the domain module that owns
//! them. The stored text is the variant name in SCREAMING_SNAKE_CASE, so changing a `String`
//! column to an enum needs no migration:
//!
//! ```ignore
//! #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
//! #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
//! #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "SCREAMING_SNAKE_CASE")]
//! pub enum CampaignStatus { Draft, Scheduled, /* ... */ }
//! ```
//!
//! - Reading a row whose column holds a value the enum does not know fails with
//!   `DbErr::Type` (the domain maps it to INTERNAL and logs it); nothing is read as a default.
//! - Filters take the enum: `Column::Status.eq(CampaignStatus::Running)`,
//!   `Expr::value(CampaignStatus::Paused)`; `to_value()` gives the stored text where a string is
//!   needed (messages, report keys).
//! - GraphQL enums are the same types: with the `graphql` feature (graphql-schema turns it on)
//!   they derive `async_graphql::Enum`, whose names are the variant names in
//!   SCREAMING_SNAKE_CASE too, and doc comments become the descriptions. No mirror enum, no
//!   `From` mirror impls. Use `#[cfg_attr(feature = "graphql", graphql(name = "..."))]` when the
//!   GraphQL type name differs from the Rust name.
//!
//! **Lists and objects stored as JSON text** are [`JsonText<T>`]: the column stays TEXT on both
//! databases (sea-orm's own JSON support binds `json`/`jsonb` on PostgreSQL, which a TEXT
//! column refuses), the value is `T`, and text that does not parse as `T` fails the read with
//! `DbErr::Type`, like an unknown enum value.

use std::ops::{Deref, DerefMut};

/// `to_value()` (the stored text) and `try_from_value()` for crates above that do not depend on
/// sea-orm themselves.
pub use sea_orm::ActiveEnum;

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, Value, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbErr, QueryResult, TryGetError, TryGetable};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value stored as JSON in a TEXT column (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonText<T>(pub T);

impl<T> JsonText<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for JsonText<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for JsonText<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for JsonText<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, DbErr> {
    serde_json::from_str(text).map_err(|e| {
        DbErr::Type(format!(
            "stored JSON is not a {}: {e}",
            std::any::type_name::<T>()
        ))
    })
}

impl<T: Serialize> From<JsonText<T>> for Value {
    fn from(value: JsonText<T>) -> Self {
        // Serializing plain data (maps with string keys, lists, structs) does not fail.
        Value::String(serde_json::to_string(&value.0).ok())
    }
}

impl<T: DeserializeOwned> TryGetable for JsonText<T> {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        let text = String::try_get_by(res, index)?;
        decode(&text).map(Self).map_err(TryGetError::DbErr)
    }
}

impl<T: DeserializeOwned> ValueType for JsonText<T> {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::String(Some(text)) => decode(&text).map(Self).map_err(|_| ValueTypeErr),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        format!("JsonText<{}>", std::any::type_name::<T>())
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::Text
    }
}

impl<T> Nullable for JsonText<T> {
    fn null() -> Value {
        Value::String(None)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn json_text_round_trips_as_text_and_refuses_what_does_not_parse() {
        let map = BTreeMap::from([("thing1".to_owned(), "冬季".to_owned())]);
        let value = Value::from(JsonText(map.clone()));
        assert_eq!(value, Value::String(Some(r#"{"thing1":"冬季"}"#.into())));
        let back: JsonText<BTreeMap<String, String>> = ValueType::try_from(value).unwrap();
        assert_eq!(back.0, map);
        let bad: Result<JsonText<BTreeMap<String, String>>, _> =
            ValueType::try_from(Value::String(Some("[1]".into())));
        assert!(bad.is_err());
    }
}
