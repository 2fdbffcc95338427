use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wechat_integration::{AccessTokenCache, CachedToken};

use super::KeyValueStore;

/// Keeps the WeChat access token in the key-value store, so every replica uses the same token
/// (each fetch of a new token invalidates the previous one after five minutes).
pub struct KvAccessTokenCache {
    kv: Arc<dyn KeyValueStore>,
}

impl KvAccessTokenCache {
    pub fn new(kv: Arc<dyn KeyValueStore>) -> Self {
        Self { kv }
    }

    fn key(app_id: &str) -> String {
        super::keys::wechat_access_token(app_id)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    token: String,
    expires_at: DateTime<Utc>,
}

#[async_trait]
impl AccessTokenCache for KvAccessTokenCache {
    async fn get(&self, app_id: &str) -> Option<CachedToken> {
        let raw = match self.kv.get(&Self::key(app_id)).await {
            Ok(raw) => raw?,
            Err(err) => {
                tracing::warn!(error = %err, "access-token cache unavailable");
                return None;
            }
        };
        let stored: Stored = serde_json::from_slice(&raw).ok()?;
        Some(CachedToken {
            token: stored.token,
            expires_at: stored.expires_at,
        })
    }

    async fn put(&self, app_id: &str, token: &CachedToken) {
        let ttl = (token.expires_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::from_secs(1));
        let stored = Stored {
            token: token.token.clone(),
            expires_at: token.expires_at,
        };
        let Ok(raw) = serde_json::to_vec(&stored) else {
            return;
        };
        if let Err(err) = self.kv.set(&Self::key(app_id), &raw, Some(ttl)).await {
            tracing::warn!(error = %err, "could not cache the access token");
        }
    }

    async fn invalidate_if(&self, app_id: &str, token: &str) {
        let key = Self::key(app_id);
        let raw = match self.kv.get(&key).await {
            Ok(Some(raw)) => raw,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, "could not invalidate the access token");
                return;
            }
        };
        if serde_json::from_slice::<Stored>(&raw).is_ok_and(|stored| stored.token == token) {
            // Deletes only the exact value just read: a newer token another replica stored in
            // between stays (a plain delete would throw it away and force one more fetch, which
            // invalidates the token every other replica is using).
            if let Err(err) = self.kv.delete_if_equals(&key, &raw).await {
                tracing::warn!(error = %err, "could not invalidate the access token");
            }
        }
    }
}
