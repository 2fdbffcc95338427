//! Checked GraphQL documents kept by their exact text.
//!
//! The apps send the same few dozen operations (with variables) thousands of times a second;
//! parsing and checking each one again is the bulk of the server's own work on a cheap request
//! (a scan, a grab). A document that passed the parse and the size limits is kept here, so the
//! next request with the same text starts from a copy of it. Validation against the schema
//! still runs for every request (it depends on the variables). Only small documents are kept
//! and the whole is bounded by bytes, so a client sending endless distinct texts cannot grow it.

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;

/// The most the kept documents (with their texts) are counted at.
const MAX_BYTES: u64 = 4 * 1024 * 1024;
/// A parsed document's size as a multiple of its text (a generous estimate).
const PARSED_PER_TEXT_BYTE: usize = 8;

pub struct CheckedDocuments {
    entries: moka::future::Cache<Arc<str>, Arc<ExecutableDocument>>,
}

impl Default for CheckedDocuments {
    fn default() -> Self {
        Self {
            entries: moka::future::Cache::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|text: &Arc<str>, _: &Arc<ExecutableDocument>| {
                    u32::try_from(text.len() * (1 + PARSED_PER_TEXT_BYTE) + 64).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

impl CheckedDocuments {
    /// A copy of the document checked earlier for exactly this text.
    pub async fn get(&self, text: &str) -> Option<ExecutableDocument> {
        self.entries.get(text).await.map(|doc| (*doc).clone())
    }

    /// Keeps a document that passed the checks for this text.
    pub async fn keep(&self, text: &str, doc: &ExecutableDocument) {
        self.entries
            .insert(Arc::from(text), Arc::new(doc.clone()))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kept_document_comes_back_for_the_same_text_only() {
        let kept = CheckedDocuments::default();
        let text = "query { products(first: 20) { edges { node { id } } } }";
        assert!(kept.get(text).await.is_none());
        let doc = async_graphql::parser::parse_query(text).expect("parses");
        kept.keep(text, &doc).await;
        let again = kept.get(text).await.expect("kept");
        assert_eq!(format!("{again:?}"), format!("{doc:?}"));
        assert!(
            kept.get("query { products(first: 21) { edges { node { id } } } }")
                .await
                .is_none()
        );
    }
}
