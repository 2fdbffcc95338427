//! Bearer tokens back to who is calling.

use sea_orm::ActiveEnum;

use super::revocation;
use super::sessions::{self, SessionRecord};
use crate::AppState;
use crate::auth::{
    Audience, AuthError, DistributorPrincipal, MemberPrincipal, Principal, StaffPrincipal,
    StaffRole,
};
use crate::platform::kv::keys;

/// Who is calling, and whether they must change a one-time password (staff, distributors) or
/// accept the current privacy policy (members) before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub principal: Principal,
    pub password_change_required: bool,
    pub consent_required: bool,
}

/// Whether a member's session may act: once the session has seen the current policy version
/// accepted it keeps it (no database read); until then the database is asked on each request,
/// and an acceptance (made on this or another device) is written into the session.
async fn consent_required(
    app: &AppState,
    sid: &str,
    record: &mut SessionRecord,
) -> Result<bool, AuthError> {
    let current = &app.settings.privacy.policy_version;
    if record.privacy_version.as_ref() == Some(current) {
        return Ok(false);
    }
    if !crate::privacy::has_accepted_policy(&app.db, record.subject, current).await? {
        return Ok(true);
    }
    record.privacy_version = Some(current.clone());
    sessions::store(app, sid, record).await?;
    Ok(false)
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
    // The session and its account's stamp in one round trip: the token names the subject.
    let (raw, stamp) = app
        .kv
        .get_two(
            &keys::session(&token.session_id),
            &keys::account_stamp(audience.as_str(), token.subject),
        )
        .await?;
    let record = raw
        .map(|raw| sessions::parse(&raw))
        .transpose()?
        .filter(|r| r.audience == audience && r.subject == token.subject)
        .ok_or(AuthError::Unauthenticated)?;
    let stamp = stamp.map(|raw| String::from_utf8_lossy(&raw).into_owned());
    let mut record = revocation::confirm(app, &token.session_id, record, stamp).await?;
    let consent_required = audience == Audience::Consumer
        && consent_required(app, &token.session_id, &mut record).await?;
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
        consent_required,
    })
}
