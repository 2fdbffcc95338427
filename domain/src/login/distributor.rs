//! Distributor accounts log in with a username and password; their account as the app shows it.

use entities::distributor_account;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::credentials::check_password;
use super::{IssuedSession, issue, revocation, sessions};
use crate::auth::{Audience, AuthError, DistributorPrincipal, DistributorRole};
use crate::{AppState, RequestMeta};

#[derive(Debug, Clone)]
pub struct DistributorAccount {
    pub id: i64,
    pub distributor_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: DistributorRole,
    pub active: bool,
    pub must_change_password: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<distributor_account::Model> for DistributorAccount {
    fn from(row: distributor_account::Model) -> Self {
        Self {
            id: row.id,
            distributor_id: row.distributor_id,
            username: row.username,
            display_name: row.display_name,
            role: row.role,
            active: row.active,
            must_change_password: row.must_change_password,
            created_at: row.created_at,
        }
    }
}

#[tracing::instrument(skip_all, err, fields(username = %username))]
pub async fn distributor_login(
    app: &AppState,
    meta: &RequestMeta,
    username: &str,
    password: &str,
) -> Result<(IssuedSession, DistributorAccount), AuthError> {
    let account = distributor_account::Entity::find()
        .filter(distributor_account::Column::Username.eq(username))
        .one(&app.db);
    let row = check_password(
        app,
        meta,
        Audience::Distributor,
        (username, password),
        account,
        |r| (r.id, r.password_hash.clone(), r.active),
    )
    .await?;
    // Refused here when the organisation is switched off.
    let record =
        revocation::current_record(app, Audience::Distributor, row.id, app.clock.now()).await?;
    let (sid, refresh) = sessions::create(app, &record).await?;
    Ok((issue(app, &record, sid, refresh).await?, row.into()))
}

pub async fn distributor_account(
    app: &AppState,
    distributor: &DistributorPrincipal,
) -> Result<DistributorAccount, AuthError> {
    let row = distributor_account::Entity::find_by_id(distributor.account_id)
        .one(&app.db)
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    Ok(row.into())
}
