//! Bearer tokens back to who is calling.

use sea_orm::ActiveEnum;

use super::sessions;
use crate::AppState;
use crate::auth::{
    Audience, AuthError, DistributorPrincipal, MemberPrincipal, Principal, StaffPrincipal,
    StaffRole,
};

/// Resolves a bearer token for an endpoint's audience into who is calling, checking that the
/// session still exists. A session whose role this release does not know is refused.
pub async fn authenticate(
    app: &AppState,
    audience: Audience,
    bearer: &str,
) -> Result<Principal, AuthError> {
    let token = app
        .tokens
        .verify(bearer, audience, app.clock.now())
        .ok_or(AuthError::Unauthenticated)?;
    let record = sessions::load(app, &token.session_id)
        .await?
        .filter(|r| r.audience == audience && r.subject == token.subject)
        .ok_or(AuthError::Unauthenticated)?;
    let session_id = token.session_id;
    Ok(match audience {
        Audience::Consumer => Principal::Member(MemberPrincipal {
            member_id: record.subject,
            session_id,
        }),
        Audience::Staff => Principal::Staff(StaffPrincipal {
            staff_id: record.subject,
            role: record
                .role
                .and_then(|role| StaffRole::try_from_value(&role).ok())
                .ok_or(AuthError::Unauthenticated)?,
            store_id: record.store_id,
            session_id,
        }),
        Audience::Distributor => Principal::Distributor(DistributorPrincipal {
            account_id: record.subject,
            distributor_id: record.distributor_id.ok_or(AuthError::Unauthenticated)?,
            session_id,
        }),
    })
}
