//! Sessions live in the key-value store, so logout and revocation take effect on the next request.
//!
//! A refresh token is `<session id>.<secret>`; the store keeps only the SHA-256 of the current
//! secret. Refreshing swaps it atomically for a new one. Presenting an older secret means the
//! token was copied: the whole session (the token family) is revoked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::{Audience, AuthError};
use crate::platform::kv::CasOutcome;
use crate::platform::kv::keys;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub audience: Audience,
    /// Member id, staff account id or distributor account id.
    pub subject: i64,
    pub role: Option<String>,
    pub store_id: Option<i64>,
    pub distributor_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// WeChat's session_key: kept server-side to decrypt legacy encryptedData; never returned.
    pub wechat_session_key: Option<String>,
    /// The account's revocation stamp when the record was last checked (see `revocation`).
    #[serde(default)]
    pub stamp: Option<String>,
    /// A one-time password: only changing it is allowed until then.
    #[serde(default)]
    pub must_change_password: bool,
    /// A member's session: the privacy policy version it has seen accepted (see
    /// [`crate::privacy`]); until it is the current one, the database is asked on each request.
    #[serde(default)]
    pub privacy_version: Option<String>,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn digest(secret: &str) -> Vec<u8> {
    hex::encode(Sha256::digest(secret.as_bytes())).into_bytes()
}

/// Stores a new session and returns its id and first refresh token.
pub(super) async fn create(
    app: &AppState,
    record: &SessionRecord,
) -> Result<(String, String), AuthError> {
    let sid = random_token(16);
    let secret = random_token(32);
    let ttl = app.settings.auth.refresh_ttl;
    let raw = serde_json::to_vec(record).map_err(|e| AuthError::Internal(e.to_string()))?;
    app.kv.set(&keys::session(&sid), &raw, Some(ttl)).await?;
    app.kv
        .set(&keys::session_refresh(&sid), &digest(&secret), Some(ttl))
        .await?;
    Ok((sid.clone(), format!("{sid}.{secret}")))
}

pub(super) async fn load(app: &AppState, sid: &str) -> Result<Option<SessionRecord>, AuthError> {
    let Some(raw) = app.kv.get(&keys::session(sid)).await? else {
        return Ok(None);
    };
    parse(&raw).map(Some)
}

/// A session record as stored.
pub(super) fn parse(raw: &[u8]) -> Result<SessionRecord, AuthError> {
    serde_json::from_slice(raw).map_err(|e| AuthError::Internal(e.to_string()))
}

/// Rewrites a session record (its refresh lifetime restarts).
pub(super) async fn store(
    app: &AppState,
    sid: &str,
    record: &SessionRecord,
) -> Result<(), AuthError> {
    let raw = serde_json::to_vec(record).map_err(|e| AuthError::Internal(e.to_string()))?;
    app.kv
        .set(
            &keys::session(sid),
            &raw,
            Some(app.settings.auth.refresh_ttl),
        )
        .await?;
    Ok(())
}

pub(super) async fn revoke(app: &AppState, sid: &str) -> Result<(), AuthError> {
    app.kv
        .delete(&[&keys::session(sid), &keys::session_refresh(sid)])
        .await?;
    Ok(())
}

/// Swaps the presented refresh token for a new one; returns the session id, its record and
/// the new refresh token.
pub(super) async fn rotate(
    app: &AppState,
    audience: Audience,
    refresh_token: &str,
) -> Result<(String, SessionRecord, String), AuthError> {
    let (sid, secret) = refresh_token
        .split_once('.')
        .filter(|(sid, secret)| !sid.is_empty() && !secret.is_empty())
        .ok_or(AuthError::InvalidRefreshToken)?;
    // A token presented at another audience's endpoint is refused before it is touched.
    let record = load(app, sid)
        .await?
        .filter(|r| r.audience == audience)
        .ok_or(AuthError::InvalidRefreshToken)?;
    let new_secret = random_token(32);
    let ttl = app.settings.auth.refresh_ttl;
    match app
        .kv
        .compare_and_swap(
            &keys::session_refresh(sid),
            &digest(secret),
            &digest(&new_secret),
            ttl,
        )
        .await?
    {
        CasOutcome::Swapped => {
            store(app, sid, &record).await?;
            Ok((sid.to_owned(), record, format!("{sid}.{new_secret}")))
        }
        CasOutcome::Mismatch => {
            tracing::warn!(session = sid, "refresh token reused; revoking the session");
            revoke(app, sid).await?;
            Err(AuthError::RefreshReuse)
        }
        CasOutcome::Missing => Err(AuthError::InvalidRefreshToken),
    }
}
