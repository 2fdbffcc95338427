//! Points and tiers.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::platform::page::{IdKey, Keyset, Page};
use domain::{auth::Permission, loyalty};

use crate::context::{app, member, public_read, staff};
use crate::error::{ApiResult, parse_id};
use crate::members::Tier;
use crate::pagination;
use crate::scalars::{DateTime, Fen};

#[derive(SimpleObject)]
pub struct PointsEntry {
    pub id: ID,
    pub delta: i64,
    pub reason: loyalty::PointsReason,
    pub reference: Option<String>,
    /// When the points of an earning entry expire.
    pub expires_at: Option<DateTime>,
    /// What is left of an earning entry.
    pub remaining: i64,
    pub created_at: DateTime,
}

fn entries(
    list: Page<loyalty::PointsEntry>,
    page: &Keyset<IdKey>,
) -> Connection<String, PointsEntry> {
    pagination::connection(
        list,
        page,
        |e| e.id,
        |e| PointsEntry {
            id: e.id.into(),
            delta: e.delta,
            reason: e.reason,
            reference: e.reference,
            expires_at: e.expires_at.map(Into::into),
            remaining: e.remaining,
            created_at: e.created_at.into(),
        },
    )
}

#[derive(Default)]
pub struct LoyaltyQuery;

#[Object]
impl LoyaltyQuery {
    /// The tiers and what they give.
    async fn tiers(&self, ctx: &Context<'_>) -> ApiResult<Vec<Tier>> {
        public_read(ctx).await?;
        Ok(loyalty::tiers(app(ctx))
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct ConsumerLoyaltyQuery;

#[Object]
impl ConsumerLoyaltyQuery {
    /// The member's points ledger, newest first.
    async fn my_points_ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, PointsEntry>> {
        let me = member(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        Ok(entries(
            loyalty::ledger(app(ctx), me.member_id, page).await?,
            &page,
        ))
    }
}

#[derive(Default)]
pub struct StaffLoyaltyQuery;

#[Object]
impl StaffLoyaltyQuery {
    async fn member_points_ledger(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, PointsEntry>> {
        let staff = staff(ctx).await?;
        staff
            .require(Permission::ReadMembers)
            .map_err(crate::error::ApiError::from)?;
        let page = pagination::keyset(first, after.as_deref())?;
        Ok(entries(
            loyalty::ledger(app(ctx), parse_id(&member_id)?, page).await?,
            &page,
        ))
    }
}

#[derive(InputObject)]
pub struct TierInput {
    pub code: String,
    pub name: String,
    pub rank: i32,
    pub threshold_fen: Fen,
    #[graphql(default = 100)]
    pub points_multiplier_pct: i32,
    #[graphql(default)]
    pub discount_pct: i32,
}

#[derive(Default)]
pub struct StaffLoyaltyMutation;

#[Object]
impl StaffLoyaltyMutation {
    /// Creates or changes a tier (HQ).
    async fn upsert_tier(&self, ctx: &Context<'_>, input: TierInput) -> ApiResult<Tier> {
        let staff = staff(ctx).await?;
        let tier = loyalty::Tier {
            code: input.code,
            name: input.name,
            rank: input.rank,
            threshold_fen: input.threshold_fen.0,
            points_multiplier_pct: input.points_multiplier_pct,
            discount_pct: input.discount_pct,
        };
        Ok(loyalty::upsert_tier(app(ctx), staff, tier).await?.into())
    }

    /// Spends a member's points on a reward at the counter; returns the new balance.
    async fn redeem_points(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        points: i64,
        reward: String,
        idempotency_key: String,
    ) -> ApiResult<i64> {
        let staff = staff(ctx).await?;
        Ok(loyalty::redeem(
            app(ctx),
            staff,
            parse_id(&member_id)?,
            points,
            &reward,
            &idempotency_key,
        )
        .await?)
    }
}
