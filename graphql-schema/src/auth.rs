//! Login, refresh and logout for each audience.

use async_graphql::{Context, ID, Object, SimpleObject};
use domain::auth::{Audience, StaffRole};
use domain::login::{self, IssuedSession, StaffAccount};

use crate::context::{app, meta, principal, staff};
use crate::error::ApiResult;
use crate::members::Member;
use crate::scalars::DateTime;

/// A fresh pair of tokens.
#[derive(SimpleObject)]
pub struct SessionTokens {
    pub access_token: String,
    pub access_token_expires_at: DateTime,
    pub refresh_token: String,
}

impl From<IssuedSession> for SessionTokens {
    fn from(s: IssuedSession) -> Self {
        Self {
            access_token: s.access_token,
            access_token_expires_at: s.access_expires_at.into(),
            refresh_token: s.refresh_token,
        }
    }
}

#[derive(SimpleObject)]
pub struct ConsumerLogin {
    pub access_token: String,
    pub access_token_expires_at: DateTime,
    pub refresh_token: String,
    pub member: Member,
}

#[derive(SimpleObject)]
pub struct StaffLogin {
    pub access_token: String,
    pub access_token_expires_at: DateTime,
    pub refresh_token: String,
    pub staff: Staff,
}

/// A staff account: HQ, finance, store manager or beauty advisor.
#[derive(SimpleObject)]
pub struct Staff {
    pub id: ID,
    pub username: String,
    pub display_name: String,
    pub role: StaffRole,
    pub store_id: Option<ID>,
    /// A switched-off account cannot sign in; its sessions were ended.
    pub active: bool,
    /// Still on a one-time password: nothing but changeMyPassword until it is changed.
    pub must_change_password: bool,
    /// The mobile number, masked (138****0001).
    pub phone_masked: Option<String>,
    pub created_at: DateTime,
}

impl From<StaffAccount> for Staff {
    fn from(a: StaffAccount) -> Self {
        Self {
            id: a.id.into(),
            username: a.username,
            display_name: a.display_name,
            role: a.role,
            store_id: a.store_id.map(Into::into),
            active: a.active,
            must_change_password: a.must_change_password,
            phone_masked: a.phone_masked,
            created_at: a.created_at.into(),
        }
    }
}

async fn refresh(
    ctx: &Context<'_>,
    audience: Audience,
    refresh_token: String,
) -> ApiResult<SessionTokens> {
    Ok(login::refresh(app(ctx), audience, &refresh_token)
        .await?
        .into())
}

async fn logout(ctx: &Context<'_>) -> ApiResult<bool> {
    login::logout(app(ctx), principal(ctx).await?).await?;
    Ok(true)
}

#[derive(Default)]
pub struct ConsumerAuthMutation;

#[Object]
impl ConsumerAuthMutation {
    /// Exchanges a wx.login code for a session; the member is created on first login.
    async fn login(&self, ctx: &Context<'_>, code: String) -> ApiResult<ConsumerLogin> {
        let (session, member) = login::consumer_login(app(ctx), &code).await?;
        Ok(ConsumerLogin {
            access_token: session.access_token,
            access_token_expires_at: session.access_expires_at.into(),
            refresh_token: session.refresh_token,
            member: member.into(),
        })
    }

    /// Rotates the refresh token. Using an old one ends the session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> ApiResult<SessionTokens> {
        refresh(ctx, Audience::Consumer, refresh_token).await
    }

    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        logout(ctx).await
    }
}

#[derive(Default)]
pub struct StaffAuthQuery;

#[Object]
impl StaffAuthQuery {
    /// The signed-in staff account.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Staff> {
        Ok(login::staff_account(app(ctx), staff(ctx).await?)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct StaffAuthMutation;

#[Object]
impl StaffAuthMutation {
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> ApiResult<StaffLogin> {
        let (session, account) =
            login::staff_login(app(ctx), meta(ctx)?, &username, &password).await?;
        Ok(StaffLogin {
            access_token: session.access_token,
            access_token_expires_at: session.access_expires_at.into(),
            refresh_token: session.refresh_token,
            staff: account.into(),
        })
    }

    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> ApiResult<SessionTokens> {
        refresh(ctx, Audience::Staff, refresh_token).await
    }

    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        logout(ctx).await
    }
}

#[derive(Default)]
pub struct DistributorAuthMutation;

#[Object]
impl DistributorAuthMutation {
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> ApiResult<crate::distributors::DistributorLogin> {
        let app = app(ctx);
        let (session, account) =
            login::distributor_login(app, meta(ctx)?, &username, &password).await?;
        Ok(crate::distributors::DistributorLogin {
            access_token: session.access_token,
            access_token_expires_at: session.access_expires_at.into(),
            refresh_token: session.refresh_token,
            account: account.into(),
        })
    }

    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> ApiResult<SessionTokens> {
        refresh(ctx, Audience::Distributor, refresh_token).await
    }

    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        logout(ctx).await
    }
}
