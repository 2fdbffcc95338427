//! Staff accounts: created with a one-time password (or, for the first administrator and the
//! demo, a chosen one), renamed, moved, promoted, switched off and on, reset. HQ manages
//! everyone; a store manager only the BAs of her own store, and never creates HQ, finance or
//! manager accounts. Nobody switches off or changes the role of their own account.

use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use serde_json::json;

use super::{AccountsError, changes, display_name, hash, passwords, phone, username};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Audience, Permission, StaffPrincipal, StaffRole};
use crate::login::{self, StaffAccount};
use crate::platform::error::UniqueViolation;
use crate::platform::page::{IdKey, Keyset, Page};
use crate::{AppState, RequestMeta};
use entities::{staff_account, store};

#[derive(Debug, Clone)]
pub struct NewStaffAccount {
    pub username: String,
    pub display_name: String,
    pub role: StaffRole,
    /// Required for MANAGER and BA, refused for HQ and FINANCE.
    pub store_id: Option<i64>,
    pub phone: Option<String>,
}

/// What an update changes; `None` keeps the value. A new role of HQ or FINANCE drops the store.
#[derive(Debug, Clone, Default)]
pub struct StaffUpdate {
    pub display_name: Option<String>,
    pub role: Option<StaffRole>,
    pub store_id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct StaffFilter {
    pub store_id: Option<i64>,
    pub role: Option<StaffRole>,
    pub active: Option<bool>,
}

/// What the audit log keeps of an account (never the password or its hash).
#[derive(Serialize)]
struct Snapshot {
    username: String,
    display_name: String,
    role: String,
    store_id: Option<i64>,
    active: bool,
    phone: Option<String>,
}

impl From<&staff_account::Model> for Snapshot {
    fn from(r: &staff_account::Model) -> Self {
        Self {
            username: r.username.clone(),
            display_name: r.display_name.clone(),
            role: r.role.to_value(),
            store_id: r.store_id,
            active: r.active,
            phone: r.phone_masked.clone(),
        }
    }
}

/// HQ and finance belong to no store; managers and BAs to exactly one that exists.
async fn check_store<C: ConnectionTrait>(
    db: &C,
    role: StaffRole,
    store_id: Option<i64>,
) -> Result<Option<i64>, AccountsError> {
    match (role, store_id) {
        (StaffRole::Hq | StaffRole::Finance, None) => Ok(None),
        (StaffRole::Hq | StaffRole::Finance, Some(_)) => Err(AccountsError::Invalid(
            "HQ and FINANCE accounts belong to no store: leave storeId out".into(),
        )),
        (StaffRole::Manager | StaffRole::Ba, None) => Err(AccountsError::Invalid(
            "MANAGER and BA accounts need a storeId".into(),
        )),
        (StaffRole::Manager | StaffRole::Ba, Some(id)) => {
            store::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(AccountsError::StoreNotFound)?;
            Ok(Some(id))
        }
    }
}

/// The one path every staff account is created through (GraphQL, `rouge admin create`, the
/// demo): checks, insert, audit entry, in the caller's transaction.
async fn insert<C: ConnectionTrait>(
    db: &C,
    app: &AppState,
    meta: &RequestMeta,
    actor: Actor,
    input: &NewStaffAccount,
    (password_hash, must_change): (String, bool),
) -> Result<StaffAccount, AccountsError> {
    let name = username(&input.username)?;
    let display = display_name(&input.display_name)?;
    let phone = phone(app, input.phone.as_deref())?;
    let store_id = check_store(db, input.role, input.store_id).await?;
    let taken = staff_account::Entity::find()
        .filter(staff_account::Column::Username.eq(&name))
        .one(db)
        .await?
        .is_some();
    if taken {
        return Err(AccountsError::UsernameTaken(name));
    }
    let now = app.clock.now();
    let row = staff_account::ActiveModel {
        username: Set(name.clone()),
        password_hash: Set(password_hash),
        display_name: Set(display),
        role: Set(input.role),
        store_id: Set(store_id),
        active: Set(true),
        created_at: Set(now),
        must_change_password: Set(must_change),
        password_changed_at: Set(Some(now)),
        phone_cipher: Set(phone.as_ref().map(|p| p.0.clone())),
        phone_masked: Set(phone.map(|p| p.1)),
        ..Default::default()
    }
    .insert(db)
    .await
    .on_unique_violation(|| AccountsError::UsernameTaken(name))?;
    audit::record(
        db,
        app,
        meta,
        actor,
        Action::StaffCreate,
        (SubjectKind::StaffAccount, Some(row.id)),
        json!({ "before": null, "after": Snapshot::from(&row), "oneTimePassword": must_change }),
    )
    .await?;
    Ok(row.into())
}

/// May `who` manage an account that is (or would become) `role` at `store_id`?
fn may_manage(
    who: &StaffPrincipal,
    role: StaffRole,
    store_id: Option<i64>,
) -> Result<(), AccountsError> {
    who.require(Permission::ManageStaff)?;
    match who.role {
        StaffRole::Hq => Ok(()),
        _ if role == StaffRole::Ba && store_id.is_some() && store_id == who.store_id => Ok(()),
        _ => Err(AccountsError::NotAllowed(
            "a store manager manages the BAs of her own store only",
        )),
    }
}

/// HQ or a store manager creates an account; the one-time password is returned once.
pub async fn create_staff_account(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    input: NewStaffAccount,
) -> Result<(StaffAccount, String), AccountsError> {
    may_manage(who, input.role, input.store_id)?;
    let one_time = passwords::one_time();
    let hashed = hash(&one_time).await?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let account = insert(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        &input,
        (hashed, true),
    )
    .await?;
    txn.commit().await?;
    Ok((account, one_time))
}

/// `rouge admin create`: an HQ (or FINANCE) account with a password its owner chose, on any
/// database, production included. Weak passwords and taken usernames change nothing.
pub async fn create_first_admin(
    app: &AppState,
    input: NewStaffAccount,
    password: &str,
) -> Result<StaffAccount, AccountsError> {
    if !matches!(input.role, StaffRole::Hq | StaffRole::Finance) {
        return Err(AccountsError::Invalid(
            "the command line creates HQ or FINANCE accounts; store staff are created with createStaffAccount".into(),
        ));
    }
    let name = username(&input.username)?;
    if let Some(why) = passwords::weakness(&name, password) {
        return Err(AccountsError::WeakPassword(why));
    }
    let hashed = hash(password).await?;
    let meta = RequestMeta {
        request_id: "cli:admin-create".into(),
        client_ip: None,
    };
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let account = insert(&txn, app, &meta, Actor::System, &input, (hashed, false)).await?;
    txn.commit().await?;
    Ok(account)
}

/// The demo's accounts: the same path, a known (already hashed) password, no forced change.
pub async fn seed_staff_account<C: ConnectionTrait>(
    db: &C,
    app: &AppState,
    input: NewStaffAccount,
    password_hash: &str,
) -> Result<StaffAccount, AccountsError> {
    let meta = RequestMeta {
        request_id: "seed:demo".into(),
        client_ip: None,
    };
    insert(
        db,
        app,
        &meta,
        Actor::System,
        &input,
        (password_hash.to_owned(), false),
    )
    .await
}

/// HQ sees every account; a manager those of her own store.
pub async fn list_staff(
    app: &AppState,
    who: &StaffPrincipal,
    filter: &StaffFilter,
    page: Keyset<IdKey>,
) -> Result<Page<StaffAccount>, AccountsError> {
    who.require(Permission::ManageStaff)?;
    let mut query = staff_account::Entity::find();
    if who.role != StaffRole::Hq {
        if filter.store_id.is_some_and(|s| Some(s) != who.store_id) {
            return Err(AccountsError::NotAllowed(
                "a store manager sees the staff of her own store only",
            ));
        }
        query = query.filter(staff_account::Column::StoreId.eq(who.store_id));
    }
    if let Some(store) = filter.store_id {
        query = query.filter(staff_account::Column::StoreId.eq(store));
    }
    if let Some(role) = filter.role {
        query = query.filter(staff_account::Column::Role.eq(role));
    }
    if let Some(active) = filter.active {
        query = query.filter(staff_account::Column::Active.eq(active));
    }
    if let Some(after) = page.after {
        query = query.filter(staff_account::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(staff_account::Column::Id)
        .limit(page.fetch())
        .all(&app.db)
        .await?;
    Ok(page.page(rows).map(Into::into))
}

async fn target<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<staff_account::Model, AccountsError> {
    staff_account::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AccountsError::NotFound)
}

fn not_self(who: &StaffPrincipal, id: i64, what: &'static str) -> Result<(), AccountsError> {
    if who.staff_id == id {
        Err(AccountsError::NotAllowed(what))
    } else {
        Ok(())
    }
}

/// Renames, moves or promotes an account; its sessions see the change on their next request.
pub async fn update_staff_account(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    id: i64,
    update: StaffUpdate,
) -> Result<StaffAccount, AccountsError> {
    who.require(Permission::ManageStaff)?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = target(&txn, id).await?;
    may_manage(who, before.role, before.store_id)?;
    let role = update.role.unwrap_or(before.role);
    if role != before.role {
        not_self(who, id, "ask another HQ account to change your own role")?;
    }
    let store_id = match role {
        StaffRole::Hq | StaffRole::Finance => None,
        _ => update.store_id.or(before.store_id),
    };
    let store_id = check_store(&txn, role, store_id).await?;
    may_manage(who, role, store_id)?;
    let mut row: staff_account::ActiveModel = before.clone().into();
    if let Some(name) = &update.display_name {
        row.display_name = Set(display_name(name)?);
    }
    row.role = Set(role);
    row.store_id = Set(store_id);
    let after = row.update(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        Action::StaffUpdate,
        (SubjectKind::StaffAccount, Some(id)),
        changes(&Snapshot::from(&before), &Snapshot::from(&after)),
    )
    .await?;
    txn.commit().await?;
    login::account_changed(app, Audience::Staff, id).await?;
    Ok(after.into())
}

/// Switches an account off (its sessions are refused at once) or back on.
pub async fn set_staff_active(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    id: i64,
    active: bool,
) -> Result<StaffAccount, AccountsError> {
    who.require(Permission::ManageStaff)?;
    not_self(who, id, "you cannot switch your own account off or on")?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = target(&txn, id).await?;
    may_manage(who, before.role, before.store_id)?;
    let mut row: staff_account::ActiveModel = before.clone().into();
    row.active = Set(active);
    let after = row.update(&txn).await?;
    let action = if active {
        Action::StaffReactivate
    } else {
        Action::StaffDeactivate
    };
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        action,
        (SubjectKind::StaffAccount, Some(id)),
        changes(&Snapshot::from(&before), &Snapshot::from(&after)),
    )
    .await?;
    txn.commit().await?;
    login::account_changed(app, Audience::Staff, id).await?;
    Ok(after.into())
}

/// A new one-time password for someone else's account; all its sessions end.
pub async fn reset_staff_password(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    id: i64,
) -> Result<(StaffAccount, String), AccountsError> {
    who.require(Permission::ManageStaff)?;
    not_self(who, id, "change your own password with changeMyPassword")?;
    let one_time = passwords::one_time();
    let hashed = hash(&one_time).await?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = target(&txn, id).await?;
    may_manage(who, before.role, before.store_id)?;
    let mut row: staff_account::ActiveModel = before.into();
    row.password_hash = Set(hashed);
    row.must_change_password = Set(true);
    row.password_changed_at = Set(Some(app.clock.now()));
    let after = row.update(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        Action::StaffPasswordReset,
        (SubjectKind::StaffAccount, Some(id)),
        json!({ "before": null, "after": { "oneTimePassword": true } }),
    )
    .await?;
    txn.commit().await?;
    login::account_changed(app, Audience::Staff, id).await?;
    Ok((after.into(), one_time))
}

/// The caller's own password: the current one, then a new one that meets the rules. This
/// session carries on; the account's other sessions end.
pub async fn change_my_password(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    old: &str,
    new: &str,
) -> Result<(), AccountsError> {
    let row = target(&app.db, who.staff_id).await?;
    super::check_current_password(app, Audience::Staff, who.staff_id, old, &row.password_hash)
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
    let mut active: staff_account::ActiveModel = row.into();
    active.password_hash = Set(hashed);
    active.must_change_password = Set(false);
    active.password_changed_at = Set(Some(now));
    active.update(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        Action::StaffPasswordChange,
        (SubjectKind::StaffAccount, Some(who.staff_id)),
        json!({ "before": null, "after": { "oneTimePassword": false } }),
    )
    .await?;
    txn.commit().await?;
    login::keep_session_after_password_change(
        app,
        Audience::Staff,
        who.staff_id,
        &who.session_id,
        now,
    )
    .await?;
    Ok(())
}
