//! What a resolver knows about its request: the app, who is calling (resolved lazily, once),
//! and the request id and address for audit entries and throttling.

use std::sync::Arc;

use async_graphql::Context;
use domain::auth::{
    self, Audience, DistributorPrincipal, MemberPrincipal, Principal, StaffPrincipal,
};
use domain::{AppState, RequestMeta};
use tokio::sync::OnceCell;

use crate::error::{ApiError, ApiResult};

/// Put into every request's data by the HTTP layer.
pub struct RequestContext {
    pub audience: Audience,
    pub bearer: Option<String>,
    pub meta: RequestMeta,
    principal: OnceCell<Result<Principal, ApiError>>,
    /// The calling member's allergies, read once per request for every product's warnings.
    pub(crate) member_allergies: OnceCell<Result<Vec<String>, ApiError>>,
}

impl RequestContext {
    pub fn new(audience: Audience, bearer: Option<String>, meta: RequestMeta) -> Self {
        Self {
            audience,
            bearer,
            meta,
            principal: OnceCell::new(),
            member_allergies: OnceCell::new(),
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

/// Who is calling; the token is checked against the session store the first time it is needed.
pub(crate) async fn principal<'a>(ctx: &Context<'a>) -> ApiResult<&'a Principal> {
    let request = request(ctx)?;
    let app = app(ctx);
    request
        .principal
        .get_or_init(|| async {
            let bearer = request
                .bearer
                .as_deref()
                .ok_or_else(ApiError::unauthenticated)?;
            auth::authenticate(app, request.audience, bearer)
                .await
                .map_err(ApiError::from)
        })
        .await
        .as_ref()
        .map_err(Clone::clone)
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

/// The caller when there may be none (public reads): `None` without a valid token.
pub(crate) async fn maybe_principal<'a>(ctx: &Context<'a>) -> Option<&'a Principal> {
    let has_token = request(ctx).ok()?.bearer.is_some();
    if !has_token {
        return None;
    }
    principal(ctx).await.ok()
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
