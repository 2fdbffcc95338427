//! Staff log in with a username and password; their account as the app shows it.

use entities::staff_account;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::credentials::check_password;
use super::{IssuedSession, issue, revocation, sessions};
use crate::auth::{Audience, AuthError, StaffPrincipal, StaffRole};
use crate::{AppState, RequestMeta};

#[derive(Debug, Clone)]
pub struct StaffAccount {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: StaffRole,
    pub store_id: Option<i64>,
    pub active: bool,
    /// A one-time password that must be changed before anything else.
    pub must_change_password: bool,
    pub phone_masked: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<staff_account::Model> for StaffAccount {
    fn from(row: staff_account::Model) -> Self {
        Self {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role: row.role,
            store_id: row.store_id,
            active: row.active,
            must_change_password: row.must_change_password,
            phone_masked: row.phone_masked,
            created_at: row.created_at,
        }
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
        |r| (r.id, r.password_hash.clone(), r.active),
    )
    .await?;
    let account = StaffAccount::from(row);
    // Role, store and flags as the database has them now, with the account's current stamp.
    let record =
        revocation::current_record(app, Audience::Staff, account.id, app.clock.now()).await?;
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
