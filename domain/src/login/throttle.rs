//! The budget of password attempts per account name and per client address, reserved before the
//! password is checked. Each reservation is one atomic increment that returns the new count
//! (a Lua script on Redis, one lock in process), so parallel attempts can never all read a count
//! under the limit and all go on: exactly `limit` attempts pass per window. A correct password
//! gives its reservation back; a wrong one keeps it (it is a failure).

use super::AuthSettings;
use crate::auth::{Audience, AuthError};
use crate::platform::kv::keys;
use crate::{AppState, RequestMeta};

pub(super) struct Throttle {
    keys: Vec<String>,
}

impl Throttle {
    pub(super) async fn reserve(
        app: &AppState,
        audience: Audience,
        username: &str,
        meta: &RequestMeta,
    ) -> Result<Self, AuthError> {
        let limits = &app.settings.auth;
        let mut taken = Self { keys: Vec::new() };
        for (scope, key, limit) in throttle_keys(audience, username, meta, limits) {
            let count = match app.kv.incr_window(&key, limits.login_failure_window).await {
                Ok(count) => count,
                Err(err) => {
                    taken.release(app).await;
                    return Err(err.into());
                }
            };
            if count > i64::from(limit) {
                // The attempt does not happen: the budgets already taken for it are given back.
                taken.release(app).await;
                if count == i64::from(limit) + 1 {
                    // Once per window and key: a flood of refused attempts writes one entry.
                    throttled(app, meta, audience, username, scope).await?;
                }
                return Err(AuthError::Throttled);
            }
            taken.keys.push(key);
        }
        Ok(taken)
    }

    pub(super) async fn release(self, app: &AppState) {
        for key in &self.keys {
            if let Err(err) = app.kv.decr_window(key).await {
                tracing::warn!(error = %err, "could not give back a login attempt");
            }
        }
    }
}

async fn throttled(
    app: &AppState,
    meta: &RequestMeta,
    audience: Audience,
    username: &str,
    scope: &str,
) -> Result<(), AuthError> {
    crate::audit::record(
        &app.db,
        app,
        meta,
        crate::audit::Actor::System,
        crate::audit::Action::LoginThrottled,
        (super::credentials::subject_kind(audience), None),
        serde_json::json!({
            "audience": audience.as_str(),
            "scope": scope,
            "username": (scope == "account").then_some(username),
        }),
    )
    .await?;
    Ok(())
}

fn throttle_keys(
    audience: Audience,
    username: &str,
    meta: &RequestMeta,
    limits: &AuthSettings,
) -> Vec<(&'static str, String, u32)> {
    let mut keys = vec![(
        "account",
        keys::login_failures(audience.as_str(), username),
        limits.login_failures_per_account,
    )];
    if let Some(ip) = meta.client_ip {
        // An address may fail for many accounts (an office NAT), so its limit is higher.
        keys.push((
            "address",
            keys::login_failures_from(ip),
            limits.login_failures_per_address,
        ));
    }
    keys
}
