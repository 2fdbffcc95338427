//! Signing in and staying signed in: WeChat login for members, passwords for staff and
//! distributors (throttled), sessions in the key-value store, access and refresh tokens.
//! Who a signed-in caller is and what they may do is [`crate::auth`]; this module turns
//! credentials and tokens into those principals.

mod authenticate;
mod consumer;
mod credentials;
mod distributor;
mod passwords;
mod refresh;
mod revocation;
mod sessions;
mod staff;
mod throttle;

use chrono::{DateTime, Utc};

pub use authenticate::{Authenticated, authenticate};
pub use consumer::consumer_login;
pub use distributor::{DistributorAccount, distributor_account, distributor_login};
pub use passwords::{hash as hash_password, hash_async as hash_password_async};
pub use refresh::{logout, refresh};
pub use revocation::{account_changed, keep_session_after_password_change};
pub use sessions::SessionRecord;
pub use staff::{StaffAccount, staff_account, staff_login};

use crate::AppState;
use crate::auth::{AccessToken, AuthError};

/// Checks a password against a stored argon2 hash (off the async workers).
pub async fn verify_password(password: &str, hash: &str) -> bool {
    passwords::verify(password.to_owned(), Some(hash.to_owned())).await
}

/// What a successful login or refresh hands to the client.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
}

/// Signs an access token for a session and pairs it with the session's refresh token.
async fn issue(
    app: &AppState,
    record: &SessionRecord,
    sid: String,
    refresh_token: String,
) -> Result<IssuedSession, AuthError> {
    let now = app.clock.now();
    let ttl = app.settings.auth.access_ttl;
    let access_token = app
        .tokens
        .issue(
            &AccessToken {
                audience: record.audience,
                subject: record.subject,
                session_id: sid,
            },
            now,
            ttl,
        )
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(IssuedSession {
        access_token,
        access_expires_at: now + ttl,
        refresh_token,
    })
}

/// Lifetimes and login throttling. A successful login does not clear the failure counts on
/// purpose: knowing one password must not reset the budget for guessing others.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub access_ttl: chrono::Duration,
    pub refresh_ttl: std::time::Duration,
    pub login_failures_per_account: u32,
    /// Failed logins per client address, across accounts.
    pub login_failures_per_address: u32,
    pub login_failure_window: std::time::Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_ttl: chrono::Duration::minutes(15),
            refresh_ttl: std::time::Duration::from_secs(30 * 24 * 3600),
            login_failures_per_account: 5,
            login_failures_per_address: 50,
            login_failure_window: std::time::Duration::from_secs(15 * 60),
        }
    }
}
