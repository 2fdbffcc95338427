//! Refresh-token rotation and logout.

use entities::{distributor_account, staff_account};
use sea_orm::{ActiveEnum, EntityTrait};

use super::{IssuedSession, issue, sessions};
use crate::AppState;
use crate::auth::{Audience, AuthError, Principal};

/// Rotates a refresh token. Staff and distributor accounts are re-read, so a disabled account
/// or a changed role takes effect at the latest on the next refresh.
#[tracing::instrument(skip_all, err)]
pub async fn refresh(
    app: &AppState,
    audience: Audience,
    refresh_token: &str,
) -> Result<IssuedSession, AuthError> {
    if refresh_token.len() > 256 {
        return Err(AuthError::InvalidRefreshToken);
    }
    let (sid, mut record, new_refresh) = sessions::rotate(app, audience, refresh_token).await?;
    match audience {
        Audience::Consumer => {}
        Audience::Staff => {
            let row = staff_account::Entity::find_by_id(record.subject)
                .one(&app.db)
                .await?;
            let Some(row) = row.filter(|r| r.active) else {
                sessions::revoke(app, &sid).await?;
                return Err(AuthError::AccountDisabled);
            };
            record.role = Some(row.role.to_value());
            record.store_id = row.store_id;
            sessions::store(app, &sid, &record).await?;
        }
        Audience::Distributor => {
            let row = distributor_account::Entity::find_by_id(record.subject)
                .one(&app.db)
                .await?;
            if !row.is_some_and(|r| r.active) {
                sessions::revoke(app, &sid).await?;
                return Err(AuthError::AccountDisabled);
            }
        }
    }
    issue(app, &record, sid, new_refresh).await
}

pub async fn logout(app: &AppState, principal: &Principal) -> Result<(), AuthError> {
    sessions::revoke(app, principal.session_id()).await
}
