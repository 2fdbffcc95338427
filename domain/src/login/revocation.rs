//! Changes to an account take effect on its very next request, not its next refresh.
//!
//! Members have a stamp too, changed when their personal data is erased: a member's session
//! whose stamp differs reads the member row once and ends if the member was erased.
//!
//! Each staff and distributor account has a *stamp* in the key-value store
//! ([`keys::account_stamp`]): a random value replaced after every committed change to the account
//! (deactivation, role, store, password, its organisation switched off). A session keeps the stamp
//! it last saw. The access-token check reads the session and the stamp (two key-value reads, no
//! database): equal, the session's role and store are current; different, the account is read
//! from the database once, and the session is either rewritten with the account as it is now
//! (a new role or store shows on that same request) or revoked (inactive account or organisation,
//! or a password changed after the session began).
//!
//! Why a stamp rather than a list of each account's sessions to delete: one key per account,
//! one write per change, no set to keep in step with expiring sessions. A lost stamp (evicted,
//! expired) differs from the one a session holds, which only costs one database read: stamps
//! are random, never counters, so a lost one can never come back equal to an old one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entities::{distributor, distributor_account, member, staff_account};
use rand::RngCore;
use sea_orm::{ActiveEnum, EntityTrait};

use super::sessions::{self, SessionRecord};
use crate::AppState;
use crate::auth::{Audience, AuthError};
use crate::platform::kv::keys;

pub(super) async fn stamp(
    app: &AppState,
    audience: Audience,
    id: i64,
) -> Result<Option<String>, AuthError> {
    Ok(app
        .kv
        .get(&keys::account_stamp(audience.as_str(), id))
        .await?
        .map(|raw| String::from_utf8_lossy(&raw).into_owned()))
}

/// Marks an account as changed: each of its sessions is checked against the database on its
/// next request. Call after the change is committed.
pub async fn account_changed(
    app: &AppState,
    audience: Audience,
    account_id: i64,
) -> Result<(), AuthError> {
    let mut buf = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    app.kv
        .set(
            &keys::account_stamp(audience.as_str(), account_id),
            URL_SAFE_NO_PAD.encode(buf).as_bytes(),
            Some(app.settings.auth.refresh_ttl),
        )
        .await?;
    Ok(())
}

/// The session record an account may hold now, for a session that began at `created_at`; an
/// error says why it may not. The stamp is read before the account, so a change committed
/// after the read leaves the record with a stamp that is already stale.
pub(super) async fn current_record(
    app: &AppState,
    audience: Audience,
    subject: i64,
    created_at: DateTime<Utc>,
) -> Result<SessionRecord, AuthError> {
    let stamp = stamp(app, audience, subject).await?;
    let mut record = SessionRecord {
        audience,
        subject,
        role: None,
        store_id: None,
        distributor_id: None,
        created_at,
        wechat_session_key: None,
        stamp,
        must_change_password: false,
        privacy_version: None,
    };
    let changed_at = match audience {
        Audience::Consumer => return Err(AuthError::Internal("no account for members".into())),
        Audience::Staff => {
            let row = staff_account::Entity::find_by_id(subject)
                .one(&app.db)
                .await?
                .filter(|r| r.active)
                .ok_or(AuthError::AccountDisabled)?;
            record.role = Some(row.role.to_value());
            record.store_id = row.store_id;
            record.must_change_password = row.must_change_password;
            row.password_changed_at
        }
        Audience::Distributor => {
            let row = distributor_account::Entity::find_by_id(subject)
                .one(&app.db)
                .await?
                .filter(|r| r.active)
                .ok_or(AuthError::AccountDisabled)?;
            distributor::Entity::find_by_id(row.distributor_id)
                .one(&app.db)
                .await?
                .filter(|d| d.active)
                .ok_or(AuthError::AccountDisabled)?;
            record.role = Some(row.role.to_value());
            record.distributor_id = Some(row.distributor_id);
            record.must_change_password = row.must_change_password;
            row.password_changed_at
        }
    };
    if changed_at.is_some_and(|at| at > created_at) {
        // The password changed (or was reset) after this session began.
        return Err(AuthError::Unauthenticated);
    }
    Ok(record)
}

/// A loaded session as it may be used now: unchanged while the account's stamp (`current`,
/// read with the session) is the one it saw, otherwise rewritten from the database or revoked.
pub(super) async fn confirm(
    app: &AppState,
    sid: &str,
    record: SessionRecord,
    current: Option<String>,
) -> Result<SessionRecord, AuthError> {
    if current == record.stamp {
        return Ok(record);
    }
    if record.audience == Audience::Consumer {
        return confirm_member(app, sid, record, current).await;
    }
    match current_record(app, record.audience, record.subject, record.created_at).await {
        Ok(fresh) => {
            sessions::store(app, sid, &fresh).await?;
            Ok(fresh)
        }
        Err(err @ (AuthError::AccountDisabled | AuthError::Unauthenticated)) => {
            sessions::revoke(app, sid).await?;
            Err(err)
        }
        Err(err) => Err(err),
    }
}

/// A member's session after the member's stamp changed (their data was erased, or a stamp was
/// lost): a member that is gone or erased ends the session; otherwise it carries on with the
/// new stamp (and everything else it held, such as the WeChat session key).
async fn confirm_member(
    app: &AppState,
    sid: &str,
    mut record: SessionRecord,
    current: Option<String>,
) -> Result<SessionRecord, AuthError> {
    let present = member::Entity::find_by_id(record.subject)
        .one(&app.db)
        .await?
        .is_some_and(|m| m.erased_at.is_none());
    if !present {
        sessions::revoke(app, sid).await?;
        return Err(AuthError::Unauthenticated);
    }
    record.stamp = current;
    sessions::store(app, sid, &record).await?;
    Ok(record)
}

/// After the caller changed their own password: their current session carries on (as if it
/// began now), every other session of the account ends on its next request.
pub async fn keep_session_after_password_change(
    app: &AppState,
    audience: Audience,
    subject: i64,
    session_id: &str,
    changed_at: DateTime<Utc>,
) -> Result<(), AuthError> {
    account_changed(app, audience, subject).await?;
    let record = current_record(app, audience, subject, changed_at).await?;
    sessions::store(app, session_id, &record).await
}
