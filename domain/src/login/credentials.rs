//! A password login's checks, the same for staff and distributors.

use super::passwords;
use super::throttle::Throttle;
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
    hash_and_active: impl Fn(&T) -> (String, bool),
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
    let stored = row.as_ref().map(&hash_and_active);
    let ok = passwords::verify(password.to_owned(), stored.as_ref().map(|(h, _)| h.clone())).await;
    match (row, stored) {
        (Some(row), Some((_, active))) if ok => {
            throttle.release(app).await;
            if active {
                Ok(row)
            } else {
                Err(AuthError::AccountDisabled)
            }
        }
        _ => Err(AuthError::BadCredentials),
    }
}
