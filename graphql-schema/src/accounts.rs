//! Staff and distributor accounts: HQ and store managers manage staff, HQ manages distributor
//! organisations and their accounts, a distributor OWNER her own team; everyone changes their
//! own password. Who may call what is `crate::access`; the services check again and scope.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::accounts::{self, StaffFilter};
use domain::auth::{DistributorRole, StaffRole};

use crate::auth::Staff;
use crate::context::{app, distributor, meta, staff};
use crate::distributors::{Distributor, DistributorAccount};
use crate::error::{ApiResult, parse_id};
use crate::pagination;

#[derive(InputObject)]
pub struct CreateStaffAccountInput {
    /// 3 to 64 lower-case letters, digits, '.', '-' or '_'.
    pub username: String,
    pub display_name: String,
    pub role: StaffRole,
    /// Required for MANAGER and BA; left out for HQ and FINANCE.
    pub store_id: Option<ID>,
    /// A mobile number (stored encrypted).
    pub phone: Option<String>,
}

/// Only the fields given change. A role of HQ or FINANCE leaves the store.
#[derive(InputObject)]
pub struct UpdateStaffAccountInput {
    pub display_name: Option<String>,
    pub role: Option<StaffRole>,
    pub store_id: Option<ID>,
}

/// An account and its one-time password, shown this once: hand it over in person. The account
/// can do nothing but changeMyPassword until it is changed.
#[derive(SimpleObject)]
pub struct StaffAccountPassword {
    pub account: Staff,
    pub one_time_password: String,
}

#[derive(SimpleObject)]
pub struct DistributorAccountPassword {
    pub account: DistributorAccount,
    pub one_time_password: String,
}

#[derive(InputObject)]
pub struct CreateDistributorInput {
    /// Upper-case letters, digits, - or _, unique.
    pub code: String,
    pub name: String,
    /// A, B or C.
    pub level: String,
    /// Provinces, cities or districts, as names or GB/T 2260 codes.
    pub territory: Vec<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateDistributorInput {
    pub name: Option<String>,
    pub level: Option<String>,
    pub territory: Option<Vec<String>>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
}

fn optional_id(id: Option<&ID>) -> ApiResult<Option<i64>> {
    id.map(parse_id).transpose()
}

#[derive(Default)]
pub struct StaffAccountsQuery;

#[Object]
impl StaffAccountsQuery {
    /// Staff accounts by id: HQ every store's, a manager her own store's.
    async fn staff_accounts(
        &self,
        ctx: &Context<'_>,
        store_id: Option<ID>,
        role: Option<StaffRole>,
        active: Option<bool>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Staff>> {
        let who = staff(ctx).await?;
        let filter = StaffFilter {
            store_id: optional_id(store_id.as_ref())?,
            role,
            active,
        };
        let page = pagination::keyset(first, after.as_deref())?;
        let list = accounts::list_staff(app(ctx), who, &filter, page).await?;
        Ok(pagination::connection(list, &page, |a| a.id, Staff::from))
    }

    /// Distributor organisations by id (HQ and finance).
    async fn distributors(
        &self,
        ctx: &Context<'_>,
        active: Option<bool>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Distributor>> {
        let who = staff(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = accounts::list_distributors(app(ctx), who, active, page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |d| d.id,
            Distributor::from,
        ))
    }

    /// The accounts of one distributor organisation (HQ).
    async fn distributor_accounts(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
    ) -> ApiResult<Vec<DistributorAccount>> {
        let who = staff(ctx).await?;
        let rows =
            accounts::distributor_accounts(app(ctx), who, parse_id(&distributor_id)?).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct StaffAccountsMutation;

#[Object]
impl StaffAccountsMutation {
    /// Opens a staff account with a one-time password. A manager opens BA accounts at her own
    /// store only.
    async fn create_staff_account(
        &self,
        ctx: &Context<'_>,
        input: CreateStaffAccountInput,
    ) -> ApiResult<StaffAccountPassword> {
        let who = staff(ctx).await?;
        let new = accounts::NewStaffAccount {
            store_id: optional_id(input.store_id.as_ref())?,
            username: input.username,
            display_name: input.display_name,
            role: input.role,
            phone: input.phone,
        };
        let (account, password) =
            accounts::create_staff_account(app(ctx), meta(ctx)?, who, new).await?;
        Ok(StaffAccountPassword {
            account: account.into(),
            one_time_password: password,
        })
    }

    /// Renames, moves or promotes an account; it sees the change on its next request.
    async fn update_staff_account(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateStaffAccountInput,
    ) -> ApiResult<Staff> {
        let who = staff(ctx).await?;
        let update = accounts::StaffUpdate {
            display_name: input.display_name,
            role: input.role,
            store_id: optional_id(input.store_id.as_ref())?,
        };
        let account =
            accounts::update_staff_account(app(ctx), meta(ctx)?, who, parse_id(&id)?, update)
                .await?;
        Ok(account.into())
    }

    /// Switches an account off: its very next request is refused.
    async fn deactivate_staff_account(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Staff> {
        let who = staff(ctx).await?;
        let account =
            accounts::set_staff_active(app(ctx), meta(ctx)?, who, parse_id(&id)?, false).await?;
        Ok(account.into())
    }

    async fn reactivate_staff_account(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Staff> {
        let who = staff(ctx).await?;
        let account =
            accounts::set_staff_active(app(ctx), meta(ctx)?, who, parse_id(&id)?, true).await?;
        Ok(account.into())
    }

    /// A new one-time password for someone else's account; its sessions end.
    async fn reset_staff_password(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<StaffAccountPassword> {
        let who = staff(ctx).await?;
        let (account, password) =
            accounts::reset_staff_password(app(ctx), meta(ctx)?, who, parse_id(&id)?).await?;
        Ok(StaffAccountPassword {
            account: account.into(),
            one_time_password: password,
        })
    }

    /// The caller's own password (at least 10 characters, not the username, not a common
    /// one). This session carries on; the account's other sessions end.
    async fn change_my_password(
        &self,
        ctx: &Context<'_>,
        old_password: String,
        new_password: String,
    ) -> ApiResult<bool> {
        let who = staff(ctx).await?;
        accounts::change_my_password(app(ctx), meta(ctx)?, who, &old_password, &new_password)
            .await?;
        Ok(true)
    }

    /// Opens a distributor organisation (HQ).
    async fn create_distributor(
        &self,
        ctx: &Context<'_>,
        input: CreateDistributorInput,
    ) -> ApiResult<Distributor> {
        let who = staff(ctx).await?;
        let input = accounts::DistributorInput {
            code: input.code,
            name: input.name,
            level: input.level,
            territory: input.territory,
            contact_name: input.contact_name,
            contact_phone: input.contact_phone,
        };
        Ok(
            accounts::create_distributor(app(ctx), meta(ctx)?, who, input)
                .await?
                .into(),
        )
    }

    async fn update_distributor(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateDistributorInput,
    ) -> ApiResult<Distributor> {
        let who = staff(ctx).await?;
        let update = accounts::DistributorUpdate {
            name: input.name,
            level: input.level,
            territory: input.territory,
            contact_name: input.contact_name,
            contact_phone: input.contact_phone,
        };
        Ok(
            accounts::update_distributor(app(ctx), meta(ctx)?, who, parse_id(&id)?, update)
                .await?
                .into(),
        )
    }

    /// Switches an organisation off (all its accounts refused at once) or back on.
    async fn set_distributor_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> ApiResult<Distributor> {
        let who = staff(ctx).await?;
        Ok(
            accounts::set_distributor_active(app(ctx), meta(ctx)?, who, parse_id(&id)?, active)
                .await?
                .into(),
        )
    }

    /// Opens an account in a distributor organisation, with a one-time password.
    async fn create_distributor_account(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
        username: String,
        display_name: Option<String>,
        role: DistributorRole,
    ) -> ApiResult<DistributorAccountPassword> {
        let who = staff(ctx).await?;
        let display = display_name.unwrap_or_else(|| username.clone());
        let (account, password) = accounts::create_distributor_account(
            app(ctx),
            meta(ctx)?,
            who,
            (parse_id(&distributor_id)?, &username, &display),
            role,
        )
        .await?;
        Ok(DistributorAccountPassword {
            account: account.into(),
            one_time_password: password,
        })
    }

    /// Switches one distributor account off (HQ): its very next request is refused.
    async fn deactivate_distributor_account(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<DistributorAccount> {
        let who = staff(ctx).await?;
        let account = accounts::set_distributor_account_active(
            app(ctx),
            meta(ctx)?,
            who,
            parse_id(&id)?,
            false,
        )
        .await?;
        Ok(account.into())
    }

    async fn reactivate_distributor_account(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<DistributorAccount> {
        let who = staff(ctx).await?;
        let account = accounts::set_distributor_account_active(
            app(ctx),
            meta(ctx)?,
            who,
            parse_id(&id)?,
            true,
        )
        .await?;
        Ok(account.into())
    }

    /// A new one-time password for a distributor account (HQ); its sessions end.
    async fn reset_distributor_password(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<DistributorAccountPassword> {
        let who = staff(ctx).await?;
        let (account, password) =
            accounts::reset_distributor_password(app(ctx), meta(ctx)?, who, parse_id(&id)?).await?;
        Ok(DistributorAccountPassword {
            account: account.into(),
            one_time_password: password,
        })
    }
}

#[derive(Default)]
pub struct DistributorTeamQuery;

#[Object]
impl DistributorTeamQuery {
    /// The accounts of the caller's organisation (OWNER only).
    async fn my_team(&self, ctx: &Context<'_>) -> ApiResult<Vec<DistributorAccount>> {
        let who = distributor(ctx).await?;
        Ok(accounts::my_team(app(ctx), who)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct DistributorTeamMutation;

#[Object]
impl DistributorTeamMutation {
    /// A BUYER or VIEWER account in the caller's organisation (OWNER only), with a one-time
    /// password.
    async fn create_team_account(
        &self,
        ctx: &Context<'_>,
        username: String,
        display_name: String,
        role: DistributorRole,
    ) -> ApiResult<DistributorAccountPassword> {
        let who = distributor(ctx).await?;
        let (account, password) = accounts::create_team_account(
            app(ctx),
            meta(ctx)?,
            who,
            (&username, &display_name),
            role,
        )
        .await?;
        Ok(DistributorAccountPassword {
            account: account.into(),
            one_time_password: password,
        })
    }

    /// Switches off a BUYER or VIEWER of the caller's organisation (OWNER only).
    async fn deactivate_team_account(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<DistributorAccount> {
        let who = distributor(ctx).await?;
        Ok(
            accounts::deactivate_team_account(app(ctx), meta(ctx)?, who, parse_id(&id)?)
                .await?
                .into(),
        )
    }

    /// The caller's own password; this session carries on, the others end.
    async fn change_my_password(
        &self,
        ctx: &Context<'_>,
        old_password: String,
        new_password: String,
    ) -> ApiResult<bool> {
        let who = distributor(ctx).await?;
        accounts::change_distributor_password(
            app(ctx),
            meta(ctx)?,
            who,
            &old_password,
            &new_password,
        )
        .await?;
        Ok(true)
    }
}
