//! The mini-program access token (WECHAT.md §2): one per app id, fetched with
//! /cgi-bin/stable_token, cached (in Redis when several replicas run), refreshed about five
//! minutes before it expires by a single caller while the others wait for it.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Where the access token is kept between calls (and between replicas).
#[async_trait]
pub trait AccessTokenCache: Send + Sync + 'static {
    async fn get(&self, app_id: &str) -> Option<CachedToken>;
    async fn put(&self, app_id: &str, token: &CachedToken);
    /// Drops the cached token only if it is still `token` (another caller may have replaced it).
    async fn invalidate_if(&self, app_id: &str, token: &str);
}

/// The in-process cache, for a single replica.
#[derive(Default)]
pub struct MemoryTokenCache {
    tokens: Mutex<HashMap<String, CachedToken>>,
}

#[async_trait]
impl AccessTokenCache for MemoryTokenCache {
    async fn get(&self, app_id: &str) -> Option<CachedToken> {
        self.tokens.lock().ok()?.get(app_id).cloned()
    }

    async fn put(&self, app_id: &str, token: &CachedToken) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(app_id.to_owned(), token.clone());
        }
    }

    async fn invalidate_if(&self, app_id: &str, token: &str) {
        if let Ok(mut tokens) = self.tokens.lock()
            && tokens.get(app_id).is_some_and(|t| t.token == token)
        {
            tokens.remove(app_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(t: &str) -> CachedToken {
        CachedToken {
            token: t.into(),
            expires_at: Utc::now() + chrono::Duration::hours(2),
        }
    }

    #[tokio::test]
    async fn invalidates_only_the_token_that_failed() {
        let cache = MemoryTokenCache::default();
        cache.put("wx1", &token("new")).await;
        cache.put("wx2", &token("other")).await;
        // A caller that failed with an older token must not drop the newer one.
        cache.invalidate_if("wx1", "old").await;
        assert_eq!(
            cache.get("wx1").await.map(|t| t.token).as_deref(),
            Some("new")
        );
        cache.invalidate_if("wx1", "new").await;
        assert_eq!(cache.get("wx1").await, None);
        assert_eq!(
            cache.get("wx2").await.map(|t| t.token).as_deref(),
            Some("other")
        );
    }
}
