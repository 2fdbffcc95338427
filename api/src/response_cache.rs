//! A short-lived cache of whole answers to anonymous catalog reads on the consumer endpoint.
//!
//! The catalog list is the same for every anonymous visitor: parsing, validating and resolving
//! the same document thousands of times a second is work an answer kept for a second skips.
//! What is kept, and for whom:
//! - only requests without an `Authorization` header, so nothing member-specific (allergen
//!   warnings) is ever in a kept answer nor served to a member: a member's request always runs;
//! - only a single query whose root fields are all catalog reads ([`CACHEABLE_ROOTS`]), answered
//!   without errors;
//! - keyed by the exact request body (query, variables, operation name), the language of the
//!   messages, and this process's catalog version (bumped by every catalog write here, so such
//!   writes show at once in this replica);
//! - for [`RESPONSE_TTL`]: with the listing cache's own time to live, a stock or price change made
//!   elsewhere (another replica, an order taking stock) shows within [`MAX_STALENESS`];
//! - bounded by bytes ([`MAX_BYTES`]), so memory stays flat whatever the traffic.

use std::time::Duration;

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use bytes::Bytes;
use graphql_schema::locale::Locale;

/// How long an answer is kept.
pub const RESPONSE_TTL: Duration = Duration::from_secs(1);
/// The oldest catalog data an anonymous visitor may be shown: a kept answer built from a
/// listing page at the end of that page's life.
pub const MAX_STALENESS: Duration =
    Duration::from_secs(RESPONSE_TTL.as_secs() + domain::catalog::LISTING_TTL.as_secs());
/// The most the kept answers (with their keys) hold.
const MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Request bodies above this are not kept (what the apps send for a listing is far smaller).
const MAX_REQUEST_BYTES: usize = 4 * 1024;
/// Root fields whose answers depend on the catalog only (for an anonymous caller).
const CACHEABLE_ROOTS: &[&str] = &["products", "product", "sku", "categories", "__typename"];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResponseKey {
    generation: u64,
    locale: Locale,
    body: Bytes,
}

#[derive(Debug, Clone)]
pub struct Kept {
    pub json: Bytes,
    /// The operation's metrics label.
    pub label: String,
}

pub struct ResponseCache {
    entries: moka::future::Cache<ResponseKey, Kept>,
}

impl Default for ResponseCache {
    fn default() -> Self {
        Self {
            entries: moka::future::Cache::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|k: &ResponseKey, v: &Kept| {
                    u32::try_from(k.body.len() + v.json.len() + v.label.len() + 64)
                        .unwrap_or(u32::MAX)
                })
                .time_to_live(RESPONSE_TTL)
                .build(),
        }
    }
}

impl ResponseCache {
    /// The key of a request that may be answered from the cache: anonymous, small enough.
    pub fn key(
        generation: u64,
        anonymous: bool,
        locale: Locale,
        body: &Bytes,
    ) -> Option<ResponseKey> {
        (anonymous && body.len() <= MAX_REQUEST_BYTES).then(|| ResponseKey {
            generation,
            locale,
            body: body.clone(),
        })
    }

    pub async fn get(&self, key: &ResponseKey) -> Option<Kept> {
        self.entries.get(key).await
    }

    pub async fn keep(&self, key: ResponseKey, kept: Kept) {
        self.entries.insert(key, kept).await;
    }
}

/// Whether a request's answer may be kept: one query (no mutation, no subscription) whose root
/// selections are all catalog reads, named directly (no fragments at the root). Some(the
/// operation's name) when it may.
pub fn cacheable(request: &async_graphql::Request) -> Option<Option<String>> {
    let doc = async_graphql::parser::parse_query(&request.query).ok()?;
    let (name, operation) = match (&doc.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(op), name) => (name.map(str::to_owned), op),
        (DocumentOperations::Multiple(ops), Some(name)) => (Some(name.to_owned()), ops.get(name)?),
        // One named operation and no name asked for: that one (as GraphQL executes it).
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            let (name, op) = ops.iter().next()?;
            (Some(name.to_string()), op)
        }
        (DocumentOperations::Multiple(_), None) => return None,
    };
    if operation.node.ty != OperationType::Query {
        return None;
    }
    let catalog_only = operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .all(|selection| match &selection.node {
            Selection::Field(field) => CACHEABLE_ROOTS.contains(&field.node.name.node.as_str()),
            Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
        });
    catalog_only.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(query: &str) -> async_graphql::Request {
        async_graphql::Request::new(query)
    }

    fn cacheable(request: &async_graphql::Request) -> bool {
        super::cacheable(request).is_some()
    }

    #[test]
    fn only_catalog_queries_are_kept() {
        assert!(cacheable(&req(
            "{ products(first: 20) { nodes { id name } } }"
        )));
        assert!(cacheable(&req(
            "query Q($id: ID!) { product(id: $id) { id } categories { id } }"
        )));
        assert!(!cacheable(&req(
            "{ products { nodes { id } } currentFlashSales { id } }"
        )));
        assert!(!cacheable(&req(
            "mutation { login(code: \"x\") { accessToken } }"
        )));
        assert!(!cacheable(&req(
            "{ ...F } fragment F on Query { products { nodes { id } } }"
        )));
        assert!(!cacheable(&req("{ products {")));
        let mut named = req("query A { products { nodes { id } } } query B { me { id } }");
        assert!(!cacheable(&named));
        named.operation_name = Some("B".into());
        assert!(!cacheable(&named));
        named.operation_name = Some("A".into());
        assert!(cacheable(&named));
    }

    #[test]
    fn members_are_never_keyed() {
        let body = Bytes::from_static(b"{\"query\":\"{ products { nodes { id } } }\"}");
        assert!(ResponseCache::key(0, false, Locale::Zh, &body).is_none());
        assert!(ResponseCache::key(0, true, Locale::Zh, &body).is_some());
        let big = Bytes::from(vec![b' '; MAX_REQUEST_BYTES + 1]);
        assert!(ResponseCache::key(0, true, Locale::Zh, &big).is_none());
    }
}
