//! A distributor OWNER manages her own organisation's accounts (BUYER and VIEWER) and nothing
//! else; every account changes its own password.

use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;

use super::distributors::{AccountSnapshot, accounts_of, insert_account};
use super::{AccountsError, changes, hash, passwords};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Audience, DistributorPrincipal, DistributorRole};
use crate::login::{self, DistributorAccount};
use crate::{AppState, RequestMeta};
use entities::distributor_account;

/// The caller's own account, which must be an active OWNER of its organisation.
async fn owner(
    app: &AppState,
    who: &DistributorPrincipal,
) -> Result<distributor_account::Model, AccountsError> {
    let me = distributor_account::Entity::find_by_id(who.account_id)
        .one(&app.db)
        .await?
        .filter(|a| a.active && a.distributor_id == who.distributor_id)
        .ok_or(AccountsError::NotFound)?;
    if me.role == DistributorRole::Owner {
        Ok(me)
    } else {
        Err(AccountsError::NotAllowed(
            "only the organisation's OWNER manages its accounts",
        ))
    }
}

pub async fn my_team(
    app: &AppState,
    who: &DistributorPrincipal,
) -> Result<Vec<DistributorAccount>, AccountsError> {
    owner(app, who).await?;
    accounts_of(&app.db, who.distributor_id).await
}

/// A BUYER or VIEWER account in the owner's organisation, with a one-time password.
pub async fn create_team_account(
    app: &AppState,
    meta: &RequestMeta,
    who: &DistributorPrincipal,
    (name, display): (&str, &str),
    role: DistributorRole,
) -> Result<(DistributorAccount, String), AccountsError> {
    owner(app, who).await?;
    if role == DistributorRole::Owner {
        return Err(AccountsError::NotAllowed(
            "OWNER accounts are opened by the brand's HQ",
        ));
    }
    let one_time = passwords::one_time();
    let hashed = hash(&one_time).await?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let account = insert_account(
        &txn,
        app,
        meta,
        Actor::Distributor(who.account_id),
        (who.distributor_id, name, display, role),
        (hashed, true),
    )
    .await?;
    txn.commit().await?;
    Ok((account, one_time))
}

/// Switches off a BUYER or VIEWER of the owner's own organisation (another organisation's
/// accounts are not found).
pub async fn deactivate_team_account(
    app: &AppState,
    meta: &RequestMeta,
    who: &DistributorPrincipal,
    id: i64,
) -> Result<DistributorAccount, AccountsError> {
    owner(app, who).await?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = distributor_account::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|a| a.distributor_id == who.distributor_id)
        .ok_or(AccountsError::NotFound)?;
    if before.role == DistributorRole::Owner {
        return Err(AccountsError::NotAllowed(
            "OWNER accounts are switched off by the brand's HQ",
        ));
    }
    let mut row: distributor_account::ActiveModel = before.clone().into();
    row.active = Set(false);
    let after = row.update(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Distributor(who.account_id),
        Action::DistributorAccountDeactivate,
        (SubjectKind::DistributorAccount, Some(id)),
        changes(
            &AccountSnapshot::from(&before),
            &AccountSnapshot::from(&after),
        ),
    )
    .await?;
    txn.commit().await?;
    login::account_changed(app, Audience::Distributor, id).await?;
    Ok(after.into())
}

/// A distributor account's own password (as `change_my_password` for staff).
pub async fn change_distributor_password(
    app: &AppState,
    meta: &RequestMeta,
    who: &DistributorPrincipal,
    old: &str,
    new: &str,
) -> Result<(), AccountsError> {
    let row = distributor_account::Entity::find_by_id(who.account_id)
        .one(&app.db)
        .await?
        .ok_or(AccountsError::NotFound)?;
    super::check_current_password(
        app,
        Audience::Distributor,
        who.account_id,
        old,
        &row.password_hash,
    )
    .await?;
    if let Some(why) = passwords::weakness(&row.username, new) {
        return Err(AccountsError::WeakPassword(why));
    }
    if old == new {
        return Err(AccountsError::WeakPassword(
            "the new password must differ from the current one".into(),
        ));
    }
    let hashed = hash(new).await?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let mut active: distributor_account::ActiveModel = row.into();
    active.password_hash = Set(hashed);
    active.must_change_password = Set(false);
    active.password_changed_at = Set(Some(now));
    active.update(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Distributor(who.account_id),
        Action::DistributorAccountPasswordChange,
        (SubjectKind::DistributorAccount, Some(who.account_id)),
        json!({ "before": null, "after": { "oneTimePassword": false } }),
    )
    .await?;
    txn.commit().await?;
    login::keep_session_after_password_change(
        app,
        Audience::Distributor,
        who.account_id,
        &who.session_id,
        now,
    )
    .await?;
    Ok(())
}
