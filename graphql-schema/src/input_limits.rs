//! The ceiling on every string a client sends, checked once per operation before validation
//! and execution: each string in the variables and each string literal in the document
//! (through input objects and lists, in arguments, directives and variable defaults) meets
//! [`domain::platform::validate::within_ceiling`]. Fields with tighter rules check them in the domain; this
//! guard means no field can be forgotten.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{Directive, ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{
    ErrorExtensionValues, Positioned, ServerError, ServerResult, Value, Variables,
};
use domain::ErrorCode;
use domain::platform::validate::within_ceiling;

/// Adds the check to a schema.
pub struct InputCeiling;

impl ExtensionFactory for InputCeiling {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(InputCeilingExtension)
    }
}

struct InputCeilingExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for InputCeilingExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        for (name, value) in variables.iter() {
            check_value(&format!("${name}"), value).map_err(bad_input)?;
        }
        let doc = next.run(ctx, query, variables).await?;
        check_document(&doc).map_err(bad_input)?;
        Ok(doc)
    }
}

fn bad_input(message: String) -> ServerError {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", ErrorCode::BadUserInput.as_str());
    extensions.set("reason", "INPUT_TOO_LARGE");
    let mut error = ServerError::new(message, None);
    error.extensions = Some(extensions);
    error
}

fn check_document(doc: &ExecutableDocument) -> Result<(), String> {
    for (_, op) in doc.operations.iter() {
        for var in &op.node.variable_definitions {
            if let Some(default) = &var.node.default_value {
                check_value(&format!("${}", var.node.name.node), &default.node)?;
            }
            check_directives("", &var.node.directives)?;
        }
        check_directives("", &op.node.directives)?;
        check_selection_set("", &op.node.selection_set.node)?;
    }
    for fragment in doc.fragments.values() {
        check_directives("", &fragment.node.directives)?;
        check_selection_set("", &fragment.node.selection_set.node)?;
    }
    Ok(())
}

fn check_selection_set(parent: &str, set: &SelectionSet) -> Result<(), String> {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => check_field(parent, &field.node)?,
            Selection::FragmentSpread(spread) => check_directives(parent, &spread.node.directives)?,
            Selection::InlineFragment(inline) => {
                check_directives(parent, &inline.node.directives)?;
                check_selection_set(parent, &inline.node.selection_set.node)?;
            }
        }
    }
    Ok(())
}

fn check_field(parent: &str, field: &Field) -> Result<(), String> {
    let path = join(parent, field.name.node.as_str());
    for (name, value) in &field.arguments {
        check_value(&join(&path, name.node.as_str()), &{
            let Ok(v) = value.node.clone().into_const_with(null_variable);
            v
        })?;
    }
    check_directives(&path, &field.directives)?;
    check_selection_set(&path, &field.selection_set.node)
}

fn check_directives(parent: &str, directives: &[Positioned<Directive>]) -> Result<(), String> {
    for d in directives {
        let path = join(parent, &format!("@{}", d.node.name.node));
        for (name, value) in &d.node.arguments {
            check_value(&join(&path, name.node.as_str()), &{
                let Ok(v) = value.node.clone().into_const_with(null_variable);
                v
            })?;
        }
    }
    Ok(())
}

/// Variables inside a literal are checked on their own; here they count as null.
fn null_variable(_: async_graphql::Name) -> Result<Value, std::convert::Infallible> {
    Ok(Value::Null)
}

fn check_value(path: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::String(s) => within_ceiling(path, s),
        Value::Enum(e) => within_ceiling(path, e.as_str()),
        Value::List(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_value(&format!("{path}[{i}]"), v)),
        Value::Object(fields) => fields
            .iter()
            .try_for_each(|(k, v)| check_value(&join(path, k.as_str()), v)),
        Value::Binary(b) if b.len() > domain::platform::validate::MAX_ANY_STRING_CHARS => {
            Err(format!("{path} is too long"))
        }
        _ => Ok(()),
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_strings_are_checked_with_their_path() {
        let v = Value::from_json(serde_json::json!({
            "delivery": { "district": "区".repeat(5_000), "detail": "x" },
            "tags": ["a", "b"],
        }))
        .unwrap();
        let err = check_value("placeOrder.input", &v).unwrap_err();
        assert!(err.contains("placeOrder.input.delivery.district"), "{err}");
        let ok = Value::from_json(serde_json::json!({ "tags": ["a", "b"] })).unwrap();
        assert!(check_value("x", &ok).is_ok());
        let deep = Value::List(vec![Value::List(vec![Value::String("a\u{0}".into())])]);
        assert!(check_value("x", &deep).unwrap_err().contains("x[0][0]"));
    }
}
