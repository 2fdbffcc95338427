//! A small GraphQL client for tests: posts operations, returns data, and checks error codes.

use serde_json::{Value, json};

#[derive(Clone)]
pub struct Gql {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Gql {
    pub fn new(http: reqwest::Client, url: String) -> Self {
        Self {
            http,
            url,
            token: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Posts one operation and returns the whole response body.
    pub async fn raw(&self, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        resp.json().await.expect("JSON body")
    }

    /// The data of an operation that must succeed.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.raw(query, variables).await;
        assert!(
            body.get("errors")
                .is_none_or(|e| e.as_array().is_some_and(Vec::is_empty)),
            "expected success, got {body}"
        );
        body["data"].clone()
    }

    /// The `extensions.code` of the first error of an operation that must fail.
    pub async fn err(&self, query: &str, variables: Value) -> String {
        let body = self.raw(query, variables).await;
        code_of(&body).unwrap_or_else(|| panic!("expected an error, got {body}"))
    }
}

pub fn code_of(body: &Value) -> Option<String> {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}
