//! A password login's checks, the same for staff and distributors. Every failure is audited
//! (who was tried, from where, why), never with the password that was tried.

use serde_json::json;

use super::passwords;
use super::throttle::Throttle;
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Audience, AuthError};
use crate::{AppState, RequestMeta};

fn valid_credentials_shape(username: &str, password: &str) -> bool {
    (1..=64).contains(&username.len()) && (1..=256).contains(&password.len())
}

/// Shape, throttle, the account's hash (a dummy one when there is no account, so timing reveals
/// nothing), active.
pub(super) async fn check_password<T>(
    app: &AppState,
    meta: &RequestMeta,
    audience: Audience,
    (username, password): (&str, &str),
    account: impl std::future::Future<Output = Result<Option<T>, sea_orm::DbErr>>,
    id_hash_and_active: impl Fn(&T) -> (i64, String, bool),
) -> Result<T, AuthError> {
    if !valid_credentials_shape(username, password) {
        return Err(AuthError::BadCredentials);
    }
    let throttle = Throttle::reserve(app, audience, username, meta).await?;
    let row = match account.await {
        Ok(row) => row,
        Err(err) => {
            throttle.release(app).await;
            return Err(err.into());
        }
    };
    let stored = row.as_ref().map(&id_hash_and_active);
    let ok = passwords::verify(
        password.to_owned(),
        stored.as_ref().map(|(_, h, _)| h.clone()),
    )
    .await;
    match (row, stored) {
        (Some(row), Some((_, _, true))) if ok => {
            throttle.release(app).await;
            Ok(row)
        }
        (Some(_), Some((id, _, false))) if ok => {
            throttle.release(app).await;
            failed(
                app,
                meta,
                audience,
                Some((id, username)),
                "ACCOUNT_DISABLED",
            )
            .await?;
            Err(AuthError::AccountDisabled)
        }
        (_, Some((id, _, _))) => {
            failed(app, meta, audience, Some((id, username)), "WRONG_PASSWORD").await?;
            Err(AuthError::BadCredentials)
        }
        _ => {
            // The name typed is not kept: people type passwords into the username field.
            failed(app, meta, audience, None, "UNKNOWN_ACCOUNT").await?;
            Err(AuthError::BadCredentials)
        }
    }
}

pub(super) fn subject_kind(audience: Audience) -> SubjectKind {
    match audience {
        Audience::Distributor => SubjectKind::DistributorAccount,
        _ => SubjectKind::StaffAccount,
    }
}

async fn failed(
    app: &AppState,
    meta: &RequestMeta,
    audience: Audience,
    account: Option<(i64, &str)>,
    reason: &str,
) -> Result<(), AuthError> {
    audit::record(
        &app.db,
        app,
        meta,
        Actor::System,
        Action::LoginFailed,
        (subject_kind(audience), account.map(|(id, _)| id)),
        json!({
            "audience": audience.as_str(),
            "username": account.map(|(_, name)| name),
            "reason": reason,
        }),
    )
    .await?;
    Ok(())
}
