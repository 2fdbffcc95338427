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
        format!("wechat:access-token:{app_id}")
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
        if self
            .get(app_id)
            .await
            .is_some_and(|cached| cached.token == token)
            && let Err(err) = self.kv.delete(&[&Self::key(app_id)]).await
        {
            tracing::warn!(error = %err, "could not invalidate the access token");
        }
    }
}
