//! Bearer tokens back to who is calling.

use sea_orm::ActiveEnum;

use super::{revocation, sessions};
use crate::AppState;
use crate::auth::{
    Audience, AuthError, DistributorPrincipal, MemberPrincipal, Principal, StaffPrincipal,
    StaffRole,
};

/// Who is calling, and whether they must change a one-time password before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub principal: Principal,
    pub password_change_required: bool,
}

/// Resolves a bearer token for an endpoint's audience into who is calling, checking that the
/// session still exists and that the account has not changed since the session last looked
/// (see [`revocation`]). A session whose role this release does not know is refused.
pub async fn authenticate(
    app: &AppState,
    audience: Audience,
    bearer: &str,
) -> Result<Authenticated, AuthError> {
    let token = app
        .tokens
        .verify(bearer, audience, app.clock.now())
        .ok_or(AuthError::Unauthenticated)?;
    let record = sessions::load(app, &token.session_id)
        .await?
        .filter(|r| r.audience == audience && r.subject == token.subject)
        .ok_or(AuthError::Unauthenticated)?;
    let record = revocation::confirm(app, &token.session_id, record).await?;
    let session_id = token.session_id;
    let principal = match audience {
        Audience::Consumer => Principal::Member(MemberPrincipal {
            member_id: record.subject,
            session_id,
        }),
        Audience::Staff => Principal::Staff(StaffPrincipal {
            staff_id: record.subject,
            role: record
                .role
                .as_ref()
                .and_then(|role| StaffRole::try_from_value(role).ok())
                .ok_or(AuthError::Unauthenticated)?,
            store_id: record.store_id,
            session_id,
        }),
        Audience::Distributor => Principal::Distributor(DistributorPrincipal {
            account_id: record.subject,
            distributor_id: record.distributor_id.ok_or(AuthError::Unauthenticated)?,
            session_id,
        }),
    };
    Ok(Authenticated {
        principal,
        password_change_required: record.must_change_password,
    })
}
