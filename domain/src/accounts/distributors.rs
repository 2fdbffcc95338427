//! Distributor organisations and their accounts, as HQ manages them. Switching an organisation
//! off refuses all its accounts on their next request.

use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use serde_json::json;

use super::{AccountsError, changes, display_name, hash, passwords, phone, username};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Audience, DistributorRole, Permission, StaffPrincipal};
use crate::distributors::Distributor;
use crate::login::{self, DistributorAccount};
use crate::platform::error::UniqueViolation;
use crate::platform::page::{IdKey, Keyset, Page};
use crate::platform::regions::{self, RegionCode};
use crate::platform::validate;
use crate::{AppState, RequestMeta};
use entities::{distributor, distributor_account};

/// A new organisation (经销商).
#[derive(Debug, Clone)]
pub struct DistributorInput {
    pub code: String,
    pub name: String,
    /// A, B or C.
    pub level: String,
    /// Provinces, cities or districts, by name or GB/T 2260 code.
    pub territory: Vec<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
}

/// What an update changes; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct DistributorUpdate {
    pub name: Option<String>,
    pub level: Option<String>,
    pub territory: Option<Vec<String>>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
}

/// An organisation as HQ sees it, with its accounts' count.
pub type DistributorDetails = Distributor;

#[derive(Serialize)]
struct OrgSnapshot {
    code: String,
    name: String,
    level: String,
    territory: Option<String>,
    active: bool,
    contact_name: Option<String>,
    contact_phone: Option<String>,
}

impl From<&distributor::Model> for OrgSnapshot {
    fn from(r: &distributor::Model) -> Self {
        Self {
            code: r.code.clone(),
            name: r.name.clone(),
            level: r.level.clone(),
            territory: r.region_codes.clone(),
            active: r.active,
            contact_name: r.contact_name.clone(),
            contact_phone: r.contact_phone_masked.clone(),
        }
    }
}

fn level(raw: &str) -> Result<String, AccountsError> {
    let v = raw.trim().to_uppercase();
    if matches!(v.as_str(), "A" | "B" | "C") {
        Ok(v)
    } else {
        Err(AccountsError::Invalid("level must be A, B or C".into()))
    }
}

/// Territory entries to (display names, stored codes).
fn territory(entries: &[String]) -> Result<(String, String), AccountsError> {
    if entries.is_empty() || entries.len() > 50 {
        return Err(AccountsError::Invalid(
            "territory lists 1 to 50 regions".into(),
        ));
    }
    let mut codes: Vec<RegionCode> = entries
        .iter()
        .map(|e| regions::territory_entry(e).map_err(AccountsError::Invalid))
        .collect::<Result<_, _>>()?;
    codes.sort();
    codes.dedup();
    let names: Vec<String> = codes
        .iter()
        .map(|c| match c.names() {
            (_, Some(city)) => city.to_owned(),
            (Some(province), None) => province.to_owned(),
            (None, None) => c.to_string(),
        })
        .collect();
    let stored: Vec<String> = codes.iter().map(ToString::to_string).collect();
    Ok((names.join("、"), stored.join("\n")))
}

fn contact_name(raw: Option<&str>) -> Result<Option<String>, AccountsError> {
    validate::field_opt(validate::FieldKind::Name, "contactName", raw)
        .map_err(AccountsError::Invalid)
}

pub async fn create_distributor(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    input: DistributorInput,
) -> Result<Distributor, AccountsError> {
    who.require(Permission::ManageDistributors)?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let row = insert_distributor(&txn, app, meta, Actor::Staff(who.staff_id), input).await?;
    txn.commit().await?;
    Ok(Distributor::from_row(row))
}

async fn insert_distributor<C: ConnectionTrait>(
    db: &C,
    app: &AppState,
    meta: &RequestMeta,
    actor: Actor,
    input: DistributorInput,
) -> Result<distributor::Model, AccountsError> {
    let code = validate::code("code", &input.code, 32).map_err(AccountsError::Invalid)?;
    let name = validate::field(validate::FieldKind::Name, "name", &input.name, None)
        .map_err(AccountsError::Invalid)?;
    let (region, codes) = territory(&input.territory)?;
    let phone = phone(app, input.contact_phone.as_deref())?;
    let taken = distributor::Entity::find()
        .filter(distributor::Column::Code.eq(&code))
        .one(db)
        .await?
        .is_some();
    if taken {
        return Err(AccountsError::CodeTaken(code));
    }
    let row = distributor::ActiveModel {
        code: Set(code.clone()),
        name: Set(name),
        level: Set(level(&input.level)?),
        region: Set(region),
        region_codes: Set(Some(codes)),
        credit_limit_fen: Set(0),
        created_at: Set(app.clock.now()),
        active: Set(true),
        contact_name: Set(contact_name(input.contact_name.as_deref())?),
        contact_phone_cipher: Set(phone.as_ref().map(|p| p.0.clone())),
        contact_phone_masked: Set(phone.map(|p| p.1)),
        ..Default::default()
    }
    .insert(db)
    .await
    .on_unique_violation(|| AccountsError::CodeTaken(code))?;
    audit::record(
        db,
        app,
        meta,
        actor,
        Action::DistributorCreate,
        (SubjectKind::Distributor, Some(row.id)),
        json!({ "before": null, "after": OrgSnapshot::from(&row) }),
    )
    .await?;
    Ok(row)
}

async fn org<C: ConnectionTrait>(db: &C, id: i64) -> Result<distributor::Model, AccountsError> {
    distributor::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AccountsError::DistributorNotFound)
}

pub async fn update_distributor(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    id: i64,
    update: DistributorUpdate,
) -> Result<Distributor, AccountsError> {
    who.require(Permission::ManageDistributors)?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = org(&txn, id).await?;
    let mut row: distributor::ActiveModel = before.clone().into();
    if let Some(name) = &update.name {
        row.name = Set(
            validate::field(validate::FieldKind::Name, "name", name, None)
                .map_err(AccountsError::Invalid)?,
        );
    }
    if let Some(l) = &update.level {
        row.level = Set(level(l)?);
    }
    if let Some(t) = &update.territory {
        let (region, codes) = territory(t)?;
        row.region = Set(region);
        row.region_codes = Set(Some(codes));
    }
    if update.contact_name.is_some() {
        row.contact_name = Set(contact_name(update.contact_name.as_deref())?);
    }
    if update.contact_phone.is_some() {
        let phone = phone(app, update.contact_phone.as_deref())?;
        row.contact_phone_cipher = Set(phone.as_ref().map(|p| p.0.clone()));
        row.contact_phone_masked = Set(phone.map(|p| p.1));
    }
    let after = row.update(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        Action::DistributorUpdate,
        (SubjectKind::Distributor, Some(id)),
        changes(&OrgSnapshot::from(&before), &OrgSnapshot::from(&after)),
    )
    .await?;
    txn.commit().await?;
    Ok(Distributor::from_row(after))
}

/// Switches an organisation off (every account refused on its next request) or back on.
pub async fn set_distributor_active(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    id: i64,
    active: bool,
) -> Result<Distributor, AccountsError> {
    who.require(Permission::ManageDistributors)?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = org(&txn, id).await?;
    let mut row: distributor::ActiveModel = before.clone().into();
    row.active = Set(active);
    let after = row.update(&txn).await?;
    let action = if active {
        Action::DistributorReactivate
    } else {
        Action::DistributorDeactivate
    };
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        action,
        (SubjectKind::Distributor, Some(id)),
        changes(&OrgSnapshot::from(&before), &OrgSnapshot::from(&after)),
    )
    .await?;
    txn.commit().await?;
    let accounts = distributor_account::Entity::find()
        .filter(distributor_account::Column::DistributorId.eq(id))
        .all(&app.db)
        .await?;
    for account in accounts {
        login::account_changed(app, Audience::Distributor, account.id).await?;
    }
    Ok(Distributor::from_row(after))
}

/// HQ and finance: organisations by id, after the id the previous page ended at.
pub async fn list_distributors(
    app: &AppState,
    who: &StaffPrincipal,
    active: Option<bool>,
    page: Keyset<IdKey>,
) -> Result<Page<Distributor>, AccountsError> {
    who.require(Permission::ViewDistributors)?;
    let mut query = distributor::Entity::find();
    if let Some(active) = active {
        query = query.filter(distributor::Column::Active.eq(active));
    }
    if let Some(after) = page.after {
        query = query.filter(distributor::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(distributor::Column::Id)
        .limit(page.fetch())
        .all(&app.db)
        .await?;
    Ok(page.page(rows).map(Distributor::from_row))
}

/// HQ: the accounts of one organisation.
pub async fn distributor_accounts(
    app: &AppState,
    who: &StaffPrincipal,
    distributor_id: i64,
) -> Result<Vec<DistributorAccount>, AccountsError> {
    who.require(Permission::ManageDistributors)?;
    org(&app.db, distributor_id).await?;
    accounts_of(&app.db, distributor_id).await
}

pub(super) async fn accounts_of<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
) -> Result<Vec<DistributorAccount>, AccountsError> {
    Ok(distributor_account::Entity::find()
        .filter(distributor_account::Column::DistributorId.eq(distributor_id))
        .order_by_asc(distributor_account::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[derive(Serialize)]
pub(super) struct AccountSnapshot {
    username: String,
    display_name: String,
    role: String,
    distributor_id: i64,
    active: bool,
}

impl From<&distributor_account::Model> for AccountSnapshot {
    fn from(r: &distributor_account::Model) -> Self {
        Self {
            username: r.username.clone(),
            display_name: r.display_name.clone(),
            role: r.role.to_value(),
            distributor_id: r.distributor_id,
            active: r.active,
        }
    }
}

/// The one path every distributor account is created through (HQ, an owner, the demo).
pub(super) async fn insert_account<C: ConnectionTrait>(
    db: &C,
    app: &AppState,
    meta: &RequestMeta,
    actor: Actor,
    (distributor_id, name, display, role): (i64, &str, &str, DistributorRole),
    (password_hash, must_change): (String, bool),
) -> Result<DistributorAccount, AccountsError> {
    let name = username(name)?;
    let display = display_name(display)?;
    org(db, distributor_id).await?;
    let taken = distributor_account::Entity::find()
        .filter(distributor_account::Column::Username.eq(&name))
        .one(db)
        .await?
        .is_some();
    if taken {
        return Err(AccountsError::UsernameTaken(name));
    }
    let now = app.clock.now();
    let row = distributor_account::ActiveModel {
        distributor_id: Set(distributor_id),
        username: Set(name.clone()),
        password_hash: Set(password_hash),
        display_name: Set(display),
        active: Set(true),
        created_at: Set(now),
        role: Set(role),
        must_change_password: Set(must_change),
        password_changed_at: Set(Some(now)),
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
        Action::DistributorAccountCreate,
        (SubjectKind::DistributorAccount, Some(row.id)),
        json!({ "before": null, "after": AccountSnapshot::from(&row), "oneTimePassword": must_change }),
    )
    .await?;
    Ok(row.into())
}

/// HQ opens an account for an organisation; the one-time password is returned once.
pub async fn create_distributor_account(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    (distributor_id, name, display): (i64, &str, &str),
    role: DistributorRole,
) -> Result<(DistributorAccount, String), AccountsError> {
    who.require(Permission::ManageDistributors)?;
    let one_time = passwords::one_time();
    let hashed = hash(&one_time).await?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let account = insert_account(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        (distributor_id, name, display, role),
        (hashed, true),
    )
    .await?;
    txn.commit().await?;
    Ok((account, one_time))
}

/// The demo's organisation and its owner account, through the same paths as HQ's.
pub async fn seed_distributor<C: ConnectionTrait>(
    db: &C,
    app: &AppState,
    input: DistributorInput,
    (name, display): (&str, &str),
    password_hash: &str,
) -> Result<Distributor, AccountsError> {
    let meta = RequestMeta {
        request_id: "seed:demo".into(),
        client_ip: None,
    };
    let row = insert_distributor(db, app, &meta, Actor::System, input).await?;
    insert_account(
        db,
        app,
        &meta,
        Actor::System,
        (row.id, name, display, DistributorRole::Owner),
        (password_hash.to_owned(), false),
    )
    .await?;
    Ok(Distributor::from_row(row))
}

/// HQ switches one distributor account off (its sessions are refused at once) or back on.
pub async fn set_distributor_account_active(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    id: i64,
    active: bool,
) -> Result<DistributorAccount, AccountsError> {
    who.require(Permission::ManageDistributors)?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = account_row(&txn, id).await?;
    let mut row: distributor_account::ActiveModel = before.clone().into();
    row.active = Set(active);
    let after = row.update(&txn).await?;
    let action = if active {
        Action::DistributorAccountReactivate
    } else {
        Action::DistributorAccountDeactivate
    };
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        action,
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

/// HQ gives a distributor account a new one-time password (returned once); its sessions end.
pub async fn reset_distributor_password(
    app: &AppState,
    meta: &RequestMeta,
    who: &StaffPrincipal,
    id: i64,
) -> Result<(DistributorAccount, String), AccountsError> {
    who.require(Permission::ManageDistributors)?;
    let one_time = passwords::one_time();
    let hashed = hash(&one_time).await?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = account_row(&txn, id).await?;
    let mut row: distributor_account::ActiveModel = before.into();
    row.password_hash = Set(hashed);
    row.must_change_password = Set(true);
    row.password_changed_at = Set(Some(app.clock.now()));
    let after = row.update(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(who.staff_id),
        Action::DistributorAccountPasswordReset,
        (SubjectKind::DistributorAccount, Some(id)),
        json!({ "before": null, "after": { "oneTimePassword": true } }),
    )
    .await?;
    txn.commit().await?;
    login::account_changed(app, Audience::Distributor, id).await?;
    Ok((after.into(), one_time))
}

async fn account_row<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<distributor_account::Model, AccountsError> {
    distributor_account::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AccountsError::NotFound)
}
