//! The distributor's own organisation and account.

use crate::scalars::{DateTime, Fen};
use async_graphql::{Context, ID, Object, SimpleObject};
use domain::{distributors, login};

use crate::context::{app, distributor};
use crate::error::ApiResult;

#[derive(SimpleObject)]
pub struct DistributorAccount {
    pub id: ID,
    pub username: String,
    pub display_name: String,
    pub role: domain::auth::DistributorRole,
    pub active: bool,
    /// Still on a one-time password: nothing but changeMyPassword until it is changed.
    pub must_change_password: bool,
    pub created_at: DateTime,
}

impl From<login::DistributorAccount> for DistributorAccount {
    fn from(a: login::DistributorAccount) -> Self {
        Self {
            id: a.id.into(),
            username: a.username,
            display_name: a.display_name,
            role: a.role,
            active: a.active,
            must_change_password: a.must_change_password,
            created_at: a.created_at.into(),
        }
    }
}

/// A distributor organisation (经销商).
#[derive(SimpleObject)]
pub struct Distributor {
    pub id: ID,
    pub code: String,
    pub name: String,
    /// A, B or C.
    pub level: String,
    pub region: String,
    /// The territory as GB/T 2260 codes.
    pub region_codes: Vec<String>,
    pub credit_limit_fen: Fen,
    /// A switched-off distributor's accounts are all refused.
    pub active: bool,
    pub contact_name: Option<String>,
    /// The contact's mobile number, masked.
    pub contact_phone_masked: Option<String>,
}

impl From<distributors::Distributor> for Distributor {
    fn from(d: distributors::Distributor) -> Self {
        Self {
            id: d.id.into(),
            code: d.code,
            name: d.name,
            level: d.level,
            region_codes: d.region_codes.iter().map(ToString::to_string).collect(),
            region: d.region,
            credit_limit_fen: d.credit_limit_fen.into(),
            active: d.active,
            contact_name: d.contact_name,
            contact_phone_masked: d.contact_phone_masked,
        }
    }
}

#[derive(SimpleObject)]
pub struct DistributorLogin {
    pub access_token: String,
    pub access_token_expires_at: DateTime,
    pub refresh_token: String,
    pub account: DistributorAccount,
}

#[derive(SimpleObject)]
pub struct DistributorMe {
    pub account: DistributorAccount,
    pub distributor: Distributor,
}

#[derive(Default)]
pub struct DistributorOwnQuery;

#[Object]
impl DistributorOwnQuery {
    /// The signed-in account and its organisation.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<DistributorMe> {
        let who = distributor(ctx).await?;
        let app = app(ctx);
        Ok(DistributorMe {
            account: login::distributor_account(app, who).await?.into(),
            distributor: distributors::own(app, who).await?.into(),
        })
    }
}
