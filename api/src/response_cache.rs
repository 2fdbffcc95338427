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
//!
//! On the staff endpoint, dashboards repeat the same sales reports while the sales stay as they
//! were; resolving a report of hundreds of rows costs more than reading it. A staff answer is
//! kept when:
//! - the request is a single query whose root fields are all `salesReport` ([`REPORT_ROOTS`])
//!   and names none of the metrics or dimensions read from tables as they are now
//!   (`domain::reports::live_names`: bookings, stock values, members' current tier and
//!   segment; the same list the domain's own answer cache keeps out);
//! - keyed by the staff member (her token is checked first, every time; an answer is never
//!   served to anyone else), the body, the language and the highest sales fact id
//!   (`domain::reports::facts_version`): facts are only appended, so a new sale makes a new key;
//! - for [`REPORT_TTL`], the bound `domain::reports::ANSWER_TTL` also sets: a fact committing
//!   out of id order, or a renamed store, shows within it.

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
/// How long a staff member's report answer is kept.
pub const REPORT_TTL: Duration = domain::reports::ANSWER_TTL;
/// Staff root fields whose answers depend on the caller and the sales facts only.
const REPORT_ROOTS: &[&str] = &["salesReport", "__typename"];
/// Names of the report metrics and dimensions read from tables as they are now, from the
/// domain: a request holding any (in its query or variables) is never kept.
static LIVE_WORDS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(domain::reports::live_names);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResponseKey {
    generation: u64,
    /// The staff member the answer is for (0: anonymous).
    owner: i64,
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
        Self::new(RESPONSE_TTL)
    }
}

impl ResponseCache {
    /// A cache keeping answers for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: moka::future::Cache::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|k: &ResponseKey, v: &Kept| {
                    u32::try_from(k.body.len() + v.json.len() + v.label.len() + 64)
                        .unwrap_or(u32::MAX)
                })
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The key of a staff member's report request at a sales version, when small enough.
    pub fn staff_key(
        staff_id: i64,
        version: i64,
        locale: Locale,
        body: &Bytes,
    ) -> Option<ResponseKey> {
        (body.len() <= MAX_REQUEST_BYTES).then(|| ResponseKey {
            generation: u64::try_from(version).unwrap_or(0),
            owner: staff_id,
            locale,
            body: body.clone(),
        })
    }

    /// The key of a request that may be answered from the cache: anonymous, small enough.
    pub fn key(
        generation: u64,
        anonymous: bool,
        locale: Locale,
        body: &Bytes,
    ) -> Option<ResponseKey> {
        (anonymous && body.len() <= MAX_REQUEST_BYTES).then(|| ResponseKey {
            generation,
            owner: 0,
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

impl ResponseKey {
    /// Whether the key is a staff member's (looked up after her token was checked).
    pub const fn is_owned(&self) -> bool {
        self.owner != 0
    }
}

/// Whether an anonymous request's answer may be kept: one query (no mutation, no subscription)
/// whose root selections are all catalog reads, named directly (no fragments at the root).
/// Some(the operation's name) when it may.
pub fn cacheable(request: &async_graphql::Request) -> Option<Option<String>> {
    kept_roots(request, CACHEABLE_ROOTS)
}

/// Whether a staff request's answer may be kept: one query of sales reports only, naming
/// nothing read as it is now (`body` is the request as sent, variables included).
pub fn report_cacheable(request: &async_graphql::Request, body: &[u8]) -> Option<Option<String>> {
    let holds = |word: &str| body.windows(word.len()).any(|part| part == word.as_bytes());
    // Every other staff request leaves here, before the query is parsed a second time.
    if !holds("salesReport") || LIVE_WORDS.iter().any(|w| holds(w)) {
        return None;
    }
    kept_roots(request, REPORT_ROOTS)
}

fn kept_roots(request: &async_graphql::Request, roots: &[&str]) -> Option<Option<String>> {
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
    let only_roots =
        operation
            .node
            .selection_set
            .node
            .items
            .iter()
            .all(|selection| match &selection.node {
                Selection::Field(field) => roots.contains(&field.node.name.node.as_str()),
                Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
            });
    only_roots.then_some(name)
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
    fn only_report_queries_naming_nothing_live_are_kept_for_staff() {
        let kept = |query: &str, variables: &str| {
            let body = format!("{{\"query\":{query:?},\"variables\":{variables}}}");
            super::report_cacheable(&req(query), body.as_bytes()).is_some()
        };
        let report = "query($q: ReportQuery!) { salesReport(query: $q) { totals { fen } } }";
        assert!(kept(report, r#"{"q":{"metrics":["NET_REVENUE"]}}"#));
        assert!(!kept(report, r#"{"q":{"metrics":["BOOKINGS_REDEEMED"]}}"#));
        assert!(!kept(report, r#"{"q":{"groupBy":["TIER"]}}"#));
        assert!(!kept(
            "{ salesReport(query: {metrics: [TURNOVER_DAYS]}) { totals { fen } } }",
            "{}"
        ));
        assert!(!kept(
            "{ salesReport(query: {metrics: [UNITS]}) { totals { fen } } myPerformance(month: \"2026-09\") { orders } }",
            "{}"
        ));
        assert!(!kept(
            "mutation { setBaTarget(baId: 1, month: \"2026-09\", targetFen: \"1\") { staffId } }",
            "{}"
        ));
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
