//! Consents as given and withdrawn: one row per grant, closed by a withdrawal.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::{ConsentKind, PrivacyError};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::platform::error::StoreError;
use entities::{member, member_allergy, member_consent};

/// The consents a member holds now, as the member and the BA see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentStatus {
    /// The privacy policy version last accepted (maybe an older one), and when.
    pub privacy_version: Option<String>,
    pub privacy_accepted_at: Option<DateTime<Utc>>,
    /// Whether the accepted version is the current one.
    pub privacy_current: bool,
    /// The sensitive-data consent in force (none after a withdrawal), and when it was given.
    pub sensitive_version: Option<String>,
    pub sensitive_granted_at: Option<DateTime<Utc>>,
    /// Whether skin concerns and allergies may be stored now (consent to the current text).
    pub sensitive_current: bool,
}

async fn open_consent<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    kind: ConsentKind,
) -> Result<Option<member_consent::Model>, StoreError> {
    Ok(member_consent::Entity::find()
        .filter(member_consent::Column::MemberId.eq(member_id))
        .filter(member_consent::Column::Kind.eq(kind))
        .filter(member_consent::Column::WithdrawnAt.is_null())
        .order_by_desc(member_consent::Column::Id)
        .one(db)
        .await?)
}

/// Whether the member accepted `version` of the privacy policy.
pub async fn has_accepted_policy<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    version: &str,
) -> Result<bool, StoreError> {
    Ok(open_consent(db, member_id, ConsentKind::PrivacyPolicy)
        .await?
        .is_some_and(|c| c.version == version))
}

/// Whether skin concerns and allergies of the member may be stored: consent to the current
/// sensitive-data text, not withdrawn.
pub async fn has_sensitive_consent<C: ConnectionTrait>(
    db: &C,
    app: &AppState,
    member_id: i64,
) -> Result<bool, StoreError> {
    Ok(open_consent(db, member_id, ConsentKind::SensitiveData)
        .await?
        .is_some_and(|c| c.version == app.settings.privacy.sensitive_version))
}

/// The member's consents now.
pub async fn consent_status(app: &AppState, member_id: i64) -> Result<ConsentStatus, PrivacyError> {
    let privacy = open_consent(&app.db, member_id, ConsentKind::PrivacyPolicy).await?;
    let sensitive = open_consent(&app.db, member_id, ConsentKind::SensitiveData).await?;
    let s = &app.settings.privacy;
    Ok(ConsentStatus {
        privacy_current: privacy
            .as_ref()
            .is_some_and(|c| c.version == s.policy_version),
        privacy_version: privacy.as_ref().map(|c| c.version.clone()),
        privacy_accepted_at: privacy.map(|c| c.granted_at),
        sensitive_current: sensitive
            .as_ref()
            .is_some_and(|c| c.version == s.sensitive_version),
        sensitive_version: sensitive.as_ref().map(|c| c.version.clone()),
        sensitive_granted_at: sensitive.map(|c| c.granted_at),
    })
}

/// Records a consent to `version` of a text whose current version is `current`; giving it
/// again is a no-op.
async fn grant(
    app: &AppState,
    me: &MemberPrincipal,
    kind: ConsentKind,
    version: &str,
    current: &str,
) -> Result<ConsentStatus, PrivacyError> {
    if version != current {
        return Err(PrivacyError::OutdatedVersion);
    }
    let held = open_consent(&app.db, me.member_id, kind).await?;
    if held.is_none_or(|c| c.version != current) {
        let txn = crate::platform::db::begin_write(&app.db).await?;
        // A newer version replaces the older one.
        close(&txn, me.member_id, kind, app.clock.now()).await?;
        member_consent::ActiveModel {
            member_id: Set(me.member_id),
            kind: Set(kind),
            version: Set(current.to_owned()),
            granted_at: Set(app.clock.now()),
            withdrawn_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
    }
    consent_status(app, me.member_id).await
}

async fn close<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    kind: ConsentKind,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    member_consent::Entity::update_many()
        .col_expr(member_consent::Column::WithdrawnAt, Expr::value(at))
        .filter(member_consent::Column::MemberId.eq(member_id))
        .filter(member_consent::Column::Kind.eq(kind))
        .filter(member_consent::Column::WithdrawnAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The member accepts the current privacy policy (`version` must be the one `privacyPolicy`
/// shows, so nobody accepts a text they were not shown).
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn accept_privacy_policy(
    app: &AppState,
    me: &MemberPrincipal,
    version: &str,
) -> Result<ConsentStatus, PrivacyError> {
    let current = app.settings.privacy.policy_version.clone();
    grant(app, me, ConsentKind::PrivacyPolicy, version, &current).await
}

/// The member consents to the storing of sensitive personal data (skin concerns, allergies).
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn grant_sensitive_data_consent(
    app: &AppState,
    me: &MemberPrincipal,
    version: &str,
) -> Result<ConsentStatus, PrivacyError> {
    let current = app.settings.privacy.sensitive_version.clone();
    grant(app, me, ConsentKind::SensitiveData, version, &current).await
}

/// The member withdraws the sensitive-data consent: skin concerns and allergies are deleted in
/// the same transaction. The member row is written first, so a profile write racing with this
/// one (which writes the row before checking the consent) waits for it and then sees no consent.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn withdraw_sensitive_data_consent(
    app: &AppState,
    me: &MemberPrincipal,
) -> Result<ConsentStatus, PrivacyError> {
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    member::Entity::update_many()
        .col_expr(member::Column::SkinConcerns, Expr::value(0))
        .col_expr(member::Column::UpdatedAt, Expr::value(now))
        .filter(member::Column::Id.eq(me.member_id))
        .exec(&txn)
        .await?;
    member_allergy::Entity::delete_many()
        .filter(member_allergy::Column::MemberId.eq(me.member_id))
        .exec(&txn)
        .await?;
    let objects = crate::media::erase_member_media(&txn, me.member_id, now).await?;
    close(&txn, me.member_id, ConsentKind::SensitiveData, now).await?;
    txn.commit().await?;
    crate::media::purge_member_objects(app, objects).await;
    consent_status(app, me.member_id).await
}

/// The demo's members as if they had accepted the current policy and consented to sensitive
/// data in the mini-program (`rouge seed --demo` only), so demo logins work at once.
pub async fn record_demo_consents<C: ConnectionTrait>(
    db: &C,
    app: &AppState,
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let s = &app.settings.privacy;
    for (kind, version) in [
        (ConsentKind::PrivacyPolicy, &s.policy_version),
        (ConsentKind::SensitiveData, &s.sensitive_version),
    ] {
        member_consent::ActiveModel {
            member_id: Set(member_id),
            kind: Set(kind),
            version: Set(version.clone()),
            granted_at: Set(now),
            withdrawn_at: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}
