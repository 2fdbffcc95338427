//! Refresh-token rotation and logout.

use super::{IssuedSession, issue, revocation, sessions};
use crate::AppState;
use crate::auth::{Audience, AuthError, Principal};

/// Rotates a refresh token. Staff and distributor accounts are re-read, like on any request
/// after a change (see [`revocation`]).
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
    if audience == Audience::Consumer {
        // An erased member's sessions end here too.
        let current = revocation::stamp(app, audience, record.subject).await?;
        record = revocation::confirm(app, &sid, record, current).await?;
    } else {
        match revocation::current_record(app, audience, record.subject, record.created_at).await {
            Ok(fresh) => record = fresh,
            Err(err @ (AuthError::AccountDisabled | AuthError::Unauthenticated)) => {
                sessions::revoke(app, &sid).await?;
                return Err(err);
            }
            Err(err) => return Err(err),
        }
        sessions::store(app, &sid, &record).await?;
    }
    issue(app, &record, sid, new_refresh).await
}

pub async fn logout(app: &AppState, principal: &Principal) -> Result<(), AuthError> {
    sessions::revoke(app, principal.session_id()).await
}
