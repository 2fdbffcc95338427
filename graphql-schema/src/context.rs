//! What a resolver knows about its request: the app, who is calling (resolved by the HTTP
//! layer before execution), and the request id and address for audit entries and throttling.

use std::sync::Arc;

use async_graphql::Context;
use domain::auth::{Audience, DistributorPrincipal, MemberPrincipal, Principal, StaffPrincipal};
use domain::{AppState, RequestMeta};
use tokio::sync::OnceCell;

use crate::error::{ApiError, ApiResult};

/// Put into every request's data by the HTTP layer.
pub struct RequestContext {
    pub audience: Audience,
    /// `None` when the request carried no token; a token that does not verify for the
    /// audience never gets this far.
    pub principal: Option<Principal>,
    pub meta: RequestMeta,
    /// The account still has a one-time password: only `Session` operations run
    /// (see [`crate::access`]).
    pub password_change_required: bool,
    /// A member who has not accepted the current privacy policy: only the operations of
    /// [`crate::access::CONSUMER_WITHOUT_CONSENT`] run.
    pub consent_required: bool,
    /// The calling member's allergies, read once per request for every product's warnings.
    pub(crate) member_allergies: OnceCell<Result<Vec<String>, ApiError>>,
}

impl RequestContext {
    pub fn new(audience: Audience, principal: Option<Principal>, meta: RequestMeta) -> Self {
        Self {
            audience,
            principal,
            meta,
            password_change_required: false,
            consent_required: false,
            member_allergies: OnceCell::new(),
        }
    }

    /// The context of a request whose token was checked by [`domain::login::authenticate`].
    pub fn authenticated(
        audience: Audience,
        caller: Option<domain::login::Authenticated>,
        meta: RequestMeta,
    ) -> Self {
        let password_change_required = caller.as_ref().is_some_and(|c| c.password_change_required);
        let consent_required = caller.as_ref().is_some_and(|c| c.consent_required);
        Self {
            password_change_required,
            consent_required,
            ..Self::new(audience, caller.map(|c| c.principal), meta)
        }
    }
}

pub(crate) fn app<'a>(ctx: &Context<'a>) -> &'a AppState {
    // The schema is always built with the app in its data (see `crate::build`).
    ctx.data_unchecked::<Arc<AppState>>()
}

pub(crate) fn request<'a>(ctx: &Context<'a>) -> ApiResult<&'a RequestContext> {
    ctx.data::<RequestContext>()
        .map_err(|_| ApiError::unauthenticated())
}

pub(crate) fn meta<'a>(ctx: &Context<'a>) -> ApiResult<&'a RequestMeta> {
    Ok(&request(ctx)?.meta)
}

/// Who is calling.
pub(crate) async fn principal<'a>(ctx: &Context<'a>) -> ApiResult<&'a Principal> {
    request(ctx)?
        .principal
        .as_ref()
        .ok_or_else(ApiError::unauthenticated)
}

pub(crate) async fn member<'a>(ctx: &Context<'a>) -> ApiResult<&'a MemberPrincipal> {
    match principal(ctx).await? {
        Principal::Member(p) => Ok(p),
        _ => Err(ApiError::unauthenticated()),
    }
}

pub(crate) async fn staff<'a>(ctx: &Context<'a>) -> ApiResult<&'a StaffPrincipal> {
    match principal(ctx).await? {
        Principal::Staff(p) => Ok(p),
        _ => Err(ApiError::unauthenticated()),
    }
}

pub(crate) async fn distributor<'a>(ctx: &Context<'a>) -> ApiResult<&'a DistributorPrincipal> {
    match principal(ctx).await? {
        Principal::Distributor(p) => Ok(p),
        _ => Err(ApiError::unauthenticated()),
    }
}

/// The caller when there may be none (public reads): `None` without a token.
pub(crate) async fn maybe_principal<'a>(ctx: &Context<'a>) -> Option<&'a Principal> {
    request(ctx).ok()?.principal.as_ref()
}

/// Reads that are public in the mini-program are still staff-only on the staff endpoint
/// (every staff operation needs a staff session).
pub(crate) async fn public_read(ctx: &Context<'_>) -> ApiResult<()> {
    if request(ctx)?.audience == Audience::Staff {
        staff(ctx).await?;
    } else if request(ctx)?.audience == Audience::Distributor {
        distributor(ctx).await?;
    }
    Ok(())
}
