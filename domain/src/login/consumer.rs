//! Members log in with a wx.login code.

use super::sessions::{self, SessionRecord};
use super::{IssuedSession, issue};
use crate::auth::{Audience, AuthError, wechat_code_error};
use crate::{AppState, members};

/// Logs a member in with a wx.login code, creating the member on first sight.
#[tracing::instrument(skip_all, err)]
pub async fn consumer_login(
    app: &AppState,
    code: &str,
) -> Result<(IssuedSession, members::Member), AuthError> {
    if code.is_empty() || code.len() > 128 {
        return Err(AuthError::InvalidWeChatCode);
    }
    let wx = app
        .wechat
        .code_to_session(code)
        .await
        .map_err(wechat_code_error)?;
    let member = members::find_or_create_by_openid(app, &wx.openid, wx.unionid.as_deref())
        .await
        .map_err(|e| match e {
            members::MembersError::Store(s) => AuthError::Store(s),
            other => AuthError::Internal(other.to_string()),
        })?;
    let record = SessionRecord {
        audience: Audience::Consumer,
        subject: member.id,
        role: None,
        store_id: None,
        distributor_id: None,
        created_at: app.clock.now(),
        wechat_session_key: Some(secrecy::ExposeSecret::expose_secret(&wx.session_key).to_owned()),
        stamp: None,
        must_change_password: false,
        privacy_version: None,
    };
    let (sid, refresh) = sessions::create(app, &record).await?;
    Ok((issue(app, &record, sid, refresh).await?, member))
}
