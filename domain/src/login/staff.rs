//! Staff log in with a username and password; their account as the app shows it.

use entities::staff_account;
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter};

use super::credentials::check_password;
use super::sessions::{self, SessionRecord};
use super::{IssuedSession, issue};
use crate::auth::{Audience, AuthError, StaffPrincipal, StaffRole};
use crate::{AppState, RequestMeta};

#[derive(Debug, Clone)]
pub struct StaffAccount {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: StaffRole,
    pub store_id: Option<i64>,
}

impl From<staff_account::Model> for StaffAccount {
    fn from(row: staff_account::Model) -> Self {
        Self {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role: row.role,
            store_id: row.store_id,
        }
    }
}

/// The session a staff account signs in to: its role and store travel with the session.
pub(super) fn session_for(account: &StaffAccount, app: &AppState) -> SessionRecord {
    SessionRecord {
        audience: Audience::Staff,
        subject: account.id,
        role: Some(account.role.to_value()),
        store_id: account.store_id,
        distributor_id: None,
        created_at: app.clock.now(),
        wechat_session_key: None,
    }
}

#[tracing::instrument(skip_all, err, fields(username = %username))]
pub async fn staff_login(
    app: &AppState,
    meta: &RequestMeta,
    username: &str,
    password: &str,
) -> Result<(IssuedSession, StaffAccount), AuthError> {
    let account = staff_account::Entity::find()
        .filter(staff_account::Column::Username.eq(username))
        .one(&app.db);
    let row = check_password(
        app,
        meta,
        Audience::Staff,
        (username, password),
        account,
        |r| (r.password_hash.clone(), r.active),
    )
    .await?;
    let account = StaffAccount::from(row);
    let record = session_for(&account, app);
    let (sid, refresh) = sessions::create(app, &record).await?;
    Ok((issue(app, &record, sid, refresh).await?, account))
}

pub async fn staff_account(
    app: &AppState,
    staff: &StaffPrincipal,
) -> Result<StaffAccount, AuthError> {
    let row = staff_account::Entity::find_by_id(staff.staff_id)
        .one(&app.db)
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    Ok(row.into())
}
