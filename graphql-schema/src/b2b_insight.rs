//! Distributor B2B insight: finance's credit exposure and per-order credit overrides, policy
//! scope by distributor kind and region with HQ's 政策执行率, territory leakage (窜货) and the
//! distributor's replenishment advice. Thin: the rules live in `domain::b2b`.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, SimpleObject};
use domain::auth::Permission;
use domain::b2b::{self, DistributorKind};

use crate::b2b::CreditStatus;
use crate::context::{app, distributor, meta, staff};
use crate::error::{ApiResult, parse_id};
use crate::pagination;
use crate::scalars::{Date, DateTime, Fen};

/// One distributor's credit exposure (信用敞口).
#[derive(SimpleObject)]
pub struct CreditExposure {
    pub distributor_id: ID,
    pub code: String,
    pub name: String,
    pub limit_fen: Fen,
    /// Credit granted above the limit to live orders.
    pub override_fen: Fen,
    /// Held by submitted orders not yet invoiced.
    pub reserved_fen: Fen,
    pub open_ar_fen: Fen,
    /// limit + override - reserved - open receivables.
    pub available_fen: Fen,
    /// Pays before shipping (款到发货): orders take no credit.
    pub prepaid: bool,
    /// (reserved + open receivables) / (limit + override) in percent, one decimal; null when
    /// there is no limit.
    pub utilisation_percent: Option<f64>,
}

impl From<b2b::CreditExposure> for CreditExposure {
    fn from(c: b2b::CreditExposure) -> Self {
        Self {
            distributor_id: c.distributor_id.into(),
            code: c.code,
            name: c.name,
            limit_fen: Fen(c.limit_fen),
            override_fen: Fen(c.override_fen),
            reserved_fen: Fen(c.reserved_fen),
            open_ar_fen: Fen(c.open_ar_fen),
            available_fen: Fen(c.available_fen),
            prepaid: c.prepaid,
            utilisation_percent: c.utilisation_percent,
        }
    }
}

/// Credit above the limit granted to one purchase order, given back when the order ends.
#[derive(SimpleObject)]
pub struct CreditOverride {
    pub purchase_order_id: ID,
    pub distributor_id: ID,
    pub amount_fen: Fen,
    pub reason: String,
    pub granted_at: DateTime,
    /// What was given back when the order ended (null while it lives).
    pub returned_fen: Option<Fen>,
    /// The distributor's credit after the grant.
    pub credit: CreditStatus,
}

impl From<b2b::CreditOverride> for CreditOverride {
    fn from(o: b2b::CreditOverride) -> Self {
        Self {
            purchase_order_id: o.purchase_order_id.into(),
            distributor_id: o.distributor_id.into(),
            amount_fen: Fen(o.amount_fen),
            reason: o.reason,
            granted_at: o.granted_at.into(),
            returned_fen: o.returned_fen.map(Fen),
            credit: o.credit.into(),
        }
    }
}

/// 政策执行率 of one policy.
#[derive(SimpleObject)]
pub struct PolicyExecution {
    pub policy_id: ID,
    /// Active distributors the policy is addressed to (tier, kind, region).
    pub distributors_in_scope: i32,
    /// Of those, how many confirmed it.
    pub acknowledged: i32,
    /// Of those, how many placed an order the policy applied to (cancelled and rejected
    /// orders left out).
    pub ordered: i32,
    /// Orders the policy applied to.
    pub orders: i32,
    /// Gift units it added (搭赠).
    pub gift_units: i32,
    /// Discount it gave (满减).
    pub discount_fen: Fen,
}

fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<b2b::PolicyExecution> for PolicyExecution {
    fn from(p: b2b::PolicyExecution) -> Self {
        Self {
            policy_id: p.policy_id.into(),
            distributors_in_scope: int(p.distributors_in_scope),
            acknowledged: int(p.acknowledged),
            ordered: int(p.ordered),
            orders: int(p.orders),
            gift_units: int(p.gift_units),
            discount_fen: Fen(p.discount_fen),
        }
    }
}

/// Own packs first scanned outside the territory (窜货), per province and SKU: counts only.
#[derive(SimpleObject)]
pub struct LeakageRow {
    pub sku_id: ID,
    /// GB/T 2260 code of the province.
    pub province_code: String,
    pub province: Option<String>,
    pub scans: i32,
}

impl From<b2b::LeakageRow> for LeakageRow {
    fn from(r: b2b::LeakageRow) -> Self {
        Self {
            sku_id: r.sku_id.into(),
            province_code: r.province_code,
            province: r.province,
            scans: int(r.scans),
        }
    }
}

/// A replenishment suggestion (补货建议) for one SKU, with its arithmetic.
#[derive(SimpleObject)]
pub struct ReplenishmentSuggestion {
    pub sku_id: ID,
    pub suggested_qty: i32,
    /// Consumer first scans of the distributor's own packs in the window.
    pub scans: i32,
    /// Units the distributor ordered in the window (gifts left out).
    pub ordered: i32,
    pub window_days: i32,
    /// max(scans, ordered) / windowDays, two decimals.
    pub daily_demand: f64,
    pub cover_days: i32,
    pub lead_time_days: i32,
    /// ⌈max(scans, ordered) × (coverDays + leadTimeDays) / windowDays⌉.
    pub needed: i32,
    /// Units on orders not yet received.
    pub in_transit: i32,
    pub case_size: i32,
    pub moq: i32,
    /// The arithmetic in words (Chinese).
    pub explain: String,
}

impl From<b2b::Suggestion> for ReplenishmentSuggestion {
    fn from(s: b2b::Suggestion) -> Self {
        Self {
            sku_id: s.sku_id.into(),
            suggested_qty: int(s.suggested_qty),
            scans: int(s.scans),
            ordered: int(s.ordered),
            window_days: s.window_days,
            daily_demand: s.daily_demand,
            cover_days: s.cover_days,
            lead_time_days: s.lead_time_days,
            needed: int(s.needed),
            in_transit: int(s.in_transit),
            case_size: s.case_size,
            moq: s.moq,
            explain: s.explain,
        }
    }
}

#[derive(Default)]
pub struct StaffB2bInsightQuery;

#[Object]
impl StaffB2bInsightQuery {
    /// Every distributor with credit terms, by distributor id (HQ, finance).
    async fn credit_exposure(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, CreditExposure>> {
        let staff = staff(ctx).await?;
        let page =
            pagination::staff_keyset(staff, &[Permission::ManageCredit], first, after.as_deref())?;
        let list = b2b::credit_exposure(app(ctx), staff, page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |c| c.distributor_id,
            Into::into,
        ))
    }

    /// 政策执行率 of one policy (HQ).
    async fn policy_execution(
        &self,
        ctx: &Context<'_>,
        policy_id: ID,
    ) -> ApiResult<PolicyExecution> {
        let staff = staff(ctx).await?;
        Ok(
            b2b::policy_execution(app(ctx), staff, parse_id(&policy_id)?)
                .await?
                .into(),
        )
    }

    /// One distributor's own packs first scanned outside its territory, per province and SKU,
    /// most first; `from`/`to` are days in Asia/Shanghai, inclusive (HQ, finance).
    async fn distributor_territory_leakage(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
        from: Option<Date>,
        to: Option<Date>,
    ) -> ApiResult<Vec<LeakageRow>> {
        let staff = staff(ctx).await?;
        Ok(b2b::territory_leakage_for_staff(
            app(ctx),
            staff,
            parse_id(&distributor_id)?,
            from.map(|d| d.0),
            to.map(|d| d.0),
        )
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }
}

#[derive(Default)]
pub struct StaffB2bInsightMutation;

#[Object]
impl StaffB2bInsightMutation {
    /// Lets one live purchase order (SUBMITTED or APPROVED) hold `amountFen` more credit than
    /// the limit, with the reason (HQ, finance; audited). Given back when the order is
    /// cancelled or rejected. One per order.
    async fn grant_credit_override(
        &self,
        ctx: &Context<'_>,
        purchase_order_id: ID,
        amount_fen: Fen,
        reason: String,
    ) -> ApiResult<CreditOverride> {
        let staff = staff(ctx).await?;
        Ok(b2b::grant_credit_override(
            app(ctx),
            meta(ctx)?,
            staff,
            parse_id(&purchase_order_id)?,
            amount_fen.0,
            &reason,
        )
        .await?
        .into())
    }

    /// Sets what kind of channel partner a distributor is (HQ; audited); policies may be
    /// addressed to one kind.
    async fn set_distributor_kind(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
        kind: DistributorKind,
    ) -> ApiResult<DistributorKind> {
        let staff = staff(ctx).await?;
        Ok(b2b::set_distributor_kind(
            app(ctx),
            meta(ctx)?,
            staff,
            parse_id(&distributor_id)?,
            kind,
        )
        .await?)
    }
}

#[derive(Default)]
pub struct DistributorB2bInsightQuery;

#[Object]
impl DistributorB2bInsightQuery {
    /// The organisation's own packs first scanned outside its territory (窜货), per province
    /// and SKU, most first; `from`/`to` are days in Asia/Shanghai, inclusive. Counts only.
    async fn territory_leakage(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> ApiResult<Vec<LeakageRow>> {
        let who = distributor(ctx).await?;
        Ok(
            b2b::territory_leakage(app(ctx), who, from.map(|d| d.0), to.map(|d| d.0))
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        )
    }

    /// Replenishment advice per SKU on the organisation's price list, by SKU id, with the
    /// arithmetic: demand over the last `windowDays` days (own consumer scans or orders,
    /// whichever is larger), `coverDays` of stock to keep plus `leadTimeDays`, minus what is
    /// in transit, rounded up to whole cases and the MOQ.
    #[allow(clippy::too_many_arguments)]
    async fn replenishment_suggestions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 28)] window_days: Option<i32>,
        #[graphql(default = 14)] cover_days: Option<i32>,
        #[graphql(default = 3)] lead_time_days: Option<i32>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, ReplenishmentSuggestion>> {
        let who = distributor(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let d = b2b::ReplenishmentParams::default();
        let params = b2b::ReplenishmentParams {
            window_days: window_days.unwrap_or(d.window_days),
            cover_days: cover_days.unwrap_or(d.cover_days),
            lead_time_days: lead_time_days.unwrap_or(d.lead_time_days),
        };
        let list = b2b::replenishment_suggestions(app(ctx), who, params, page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |s| s.sku_id,
            Into::into,
        ))
    }
}
