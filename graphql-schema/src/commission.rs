//! Commission (业绩提成, issue 18): HQ's versioned plans (`upsertCommissionPlan`), BAs' monthly
//! inputs (`setCommissionInputs`), `previewCommission`, `lockCommissionMonth` (HQ, finance),
//! `commissionStatement` (HQ, finance, the store's manager) and `myCommission` (the BA's own).
//! Every line says where it comes from, its base, share, rate and amount; money is `Fen`.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject};
use domain::commission::{
    self, Bracket, CommissionBase, CommissionItemKind, CommissionLineKind, CommissionMethod,
    CommissionSource, SplitRole, StatementStatus, TierMode,
};
use domain::platform::page::Page;

use crate::context::{app, staff};
use crate::error::{ApiResult, parse_id};
use crate::pagination;
use crate::scalars::{Date, DateTime, Fen};

/// Where a commission statement stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum CommissionStatus {
    /// Computed with a plan version on trial; nothing written.
    Preview,
    /// The month is open: computed live with the plan in force, it changes until locked.
    Open,
    /// Written by `lockCommissionMonth`; never changes (later refunds are adjustments in the
    /// next open month).
    Locked,
}

impl From<StatementStatus> for CommissionStatus {
    fn from(s: StatementStatus) -> Self {
        match s {
            StatementStatus::Preview => Self::Preview,
            StatementStatus::Open => Self::Open,
            StatementStatus::Locked => Self::Locked,
        }
    }
}

/// From `fromFen` of a BA's month base on, `rateBp` (basis points: 500 = 5%).
#[derive(InputObject)]
pub struct CommissionBracketInput {
    pub from_fen: Fen,
    pub rate_bp: i32,
}

/// One rule: per item kind, a base and a FLAT rate or TIERED brackets.
#[derive(InputObject)]
pub struct CommissionRuleInput {
    pub item_kind: CommissionItemKind,
    pub base: CommissionBase,
    pub method: CommissionMethod,
    /// FLAT only: the rate in basis points.
    pub rate_bp: Option<i32>,
    /// TIERED only: the brackets, the first from 0, ascending.
    #[graphql(default)]
    pub brackets: Vec<CommissionBracketInput>,
}

/// A new plan version.
#[derive(InputObject)]
pub struct CommissionPlanInput {
    /// The store it is for; none: brand-wide (stores without their own plan).
    pub store_id: Option<ID>,
    /// The first month (`YYYY-MM`) it applies to; after every locked month of its scope.
    pub effective_from: String,
    pub name: String,
    /// How TIERED rules read their brackets.
    pub tier_mode: TierMode,
    /// The designated (指定) BA's share of a line another BA served, in basis points.
    pub designated_share_bp: i32,
    /// The serving (assistant) BA's share; the two add up to 10000.
    pub assistant_share_bp: i32,
    /// The part of a BA's base salary paid as bonus (seed 004: 2000 = 20%).
    #[graphql(default)]
    pub base_salary_rate_bp: i32,
    pub rules: Vec<CommissionRuleInput>,
}

/// A bracket of a TIERED rule.
#[derive(SimpleObject)]
pub struct CommissionBracket {
    pub from_fen: Fen,
    pub rate_bp: i32,
}

/// A rule of a plan version.
#[derive(SimpleObject)]
pub struct CommissionRule {
    pub item_kind: CommissionItemKind,
    pub base: CommissionBase,
    pub method: CommissionMethod,
    pub rate_bp: Option<i32>,
    pub brackets: Vec<CommissionBracket>,
}

/// One version of a commission plan.
#[derive(SimpleObject)]
pub struct CommissionPlan {
    pub id: ID,
    /// None: brand-wide.
    pub store_id: Option<ID>,
    pub version: i32,
    /// `YYYY-MM`.
    pub effective_from: String,
    pub name: String,
    pub tier_mode: TierMode,
    pub designated_share_bp: i32,
    pub assistant_share_bp: i32,
    pub base_salary_rate_bp: i32,
    pub rules: Vec<CommissionRule>,
    pub created_at: DateTime,
}

impl From<commission::Plan> for CommissionPlan {
    fn from(p: commission::Plan) -> Self {
        Self {
            id: p.id.into(),
            store_id: p.store_id.map(Into::into),
            version: p.version,
            effective_from: p.effective_month,
            name: p.name,
            tier_mode: p.tier_mode,
            designated_share_bp: p.designated_share_bp,
            assistant_share_bp: p.assistant_share_bp,
            base_salary_rate_bp: p.base_salary_rate_bp,
            rules: p
                .rules
                .into_iter()
                .map(|r| CommissionRule {
                    item_kind: r.item_kind,
                    base: r.base,
                    method: r.method,
                    rate_bp: r.rate_bp,
                    brackets: r
                        .brackets
                        .into_iter()
                        .map(|b| CommissionBracket {
                            from_fen: Fen(b.from_fen),
                            rate_bp: b.rate_bp,
                        })
                        .collect(),
                })
                .collect(),
            created_at: p.created_at.into(),
        }
    }
}

/// One explained line of a statement.
#[derive(SimpleObject)]
pub struct CommissionLine {
    /// Order within the statement.
    pub position: i32,
    pub source: CommissionSource,
    /// The sales fact, top-up or booking (none for base salary and rating bonus).
    pub source_id: Option<ID>,
    pub kind: CommissionLineKind,
    pub item_kind: Option<CommissionItemKind>,
    pub split: SplitRole,
    /// The business day (store zone) of the sale, refund, top-up or service.
    pub business_date: Option<Date>,
    /// The whole line's base (net revenue or margin, principal, service price, base salary).
    pub base_fen: Fen,
    /// This BA's share of it, in basis points.
    pub share_bp: i32,
    /// The rate applied (none when a MARGINAL line crosses brackets: see the label).
    pub rate_bp: Option<i32>,
    /// Rounded by largest remainder: the lines add up to the statement's total.
    pub amount_fen: Fen,
    /// The rule in words (Chinese), e.g. "产品 · 净销售额 × 5.00%".
    pub rule_label: String,
}

impl From<commission::Line> for CommissionLine {
    fn from(l: commission::Line) -> Self {
        Self {
            position: l.position,
            source: l.source,
            source_id: l.source_id.map(Into::into),
            kind: l.kind,
            item_kind: l.item_kind,
            split: l.split,
            business_date: l.business_date.map(Date),
            base_fen: Fen(l.base_fen),
            share_bp: l.share_bp,
            rate_bp: l.rate_bp,
            amount_fen: Fen(l.amount_fen),
            rule_label: l.rule_label,
        }
    }
}

/// A BA's commission for a month at her store.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct CommissionStatement {
    pub staff_id: ID,
    pub staff_name: String,
    pub store_id: ID,
    /// `YYYY-MM`.
    pub month: String,
    pub status: CommissionStatus,
    pub plan_id: ID,
    pub plan_version: i32,
    /// Σ lines, exactly.
    pub total_fen: Fen,
    pub locked_at: Option<DateTime>,
    pub line_count: i32,
    #[graphql(skip)]
    pub all_lines: Vec<commission::Line>,
}

#[ComplexObject]
impl CommissionStatement {
    /// The lines in order.
    async fn lines(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, CommissionLine>> {
        let page = pagination::keyset::<i64>(first, after.as_deref())?;
        let list = Page::of_list(self.all_lines.clone(), &page, |l| i64::from(l.position));
        Ok(pagination::connection(
            list,
            &page,
            |l| i64::from(l.position),
            CommissionLine::from,
        ))
    }
}

impl From<commission::Statement> for CommissionStatement {
    fn from(s: commission::Statement) -> Self {
        Self {
            staff_id: s.staff_id.into(),
            staff_name: s.staff_name,
            store_id: s.store_id.into(),
            month: s.month,
            status: s.status.into(),
            plan_id: s.plan_id.into(),
            plan_version: s.plan_version,
            total_fen: Fen(s.total_fen),
            locked_at: s.locked_at.map(Into::into),
            line_count: i32::try_from(s.lines.len()).unwrap_or(i32::MAX),
            all_lines: s.lines,
        }
    }
}

/// A store's month: every BA's statement.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct CommissionMonth {
    pub store_id: ID,
    pub month: String,
    pub status: CommissionStatus,
    pub plan_id: ID,
    pub plan_version: i32,
    /// Σ statements.
    pub total_fen: Fen,
    pub locked_at: Option<DateTime>,
    pub statement_count: i32,
    #[graphql(skip)]
    pub all_statements: Vec<commission::Statement>,
}

#[ComplexObject]
impl CommissionMonth {
    /// The statements by staff id.
    async fn statements(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, CommissionStatement>> {
        let page = pagination::keyset::<i64>(first, after.as_deref())?;
        let list = Page::of_list(self.all_statements.clone(), &page, |s| s.staff_id);
        Ok(pagination::connection(
            list,
            &page,
            |s| s.staff_id,
            CommissionStatement::from,
        ))
    }
}

impl From<commission::Month> for CommissionMonth {
    fn from(m: commission::Month) -> Self {
        Self {
            store_id: m.store_id.into(),
            month: m.month,
            status: m.status.into(),
            plan_id: m.plan_id.into(),
            plan_version: m.plan_version,
            total_fen: Fen(m.total_fen),
            locked_at: m.locked_at.map(Into::into),
            statement_count: i32::try_from(m.statements.len()).unwrap_or(i32::MAX),
            all_statements: m.statements,
        }
    }
}

/// A BA's figures for a month besides sales (seed 004: 基础工资, 评价加分).
#[derive(SimpleObject)]
pub struct CommissionInputs {
    pub staff_id: ID,
    pub month: String,
    pub base_salary_fen: Fen,
    pub rating_bonus_fen: Fen,
}

#[derive(Default)]
pub struct StaffCommissionQuery;

#[Object]
impl StaffCommissionQuery {
    /// A store's month computed with a plan version, nothing written (HQ and finance any store,
    /// a manager her own).
    async fn preview_commission(
        &self,
        ctx: &Context<'_>,
        plan_id: ID,
        month: String,
        store_id: ID,
    ) -> ApiResult<CommissionMonth> {
        let staff = staff(ctx).await?;
        let (plan, store) = (parse_id(&plan_id)?, parse_id(&store_id)?);
        Ok(
            commission::preview_commission(app(ctx), staff, plan, &month, store)
                .await?
                .into(),
        )
    }

    /// Commission plan versions, newest first, with their rules (HQ and finance every plan; a
    /// manager her store's and the brand's). With `storeId`: that store's versions and the
    /// brand's.
    async fn commission_plans(
        &self,
        ctx: &Context<'_>,
        store_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, CommissionPlan>> {
        let staff = staff(ctx).await?;
        let store = store_id.as_ref().map(parse_id).transpose()?;
        let page = pagination::keyset::<i64>(first, after.as_deref())?;
        let plans = commission::commission_plans(app(ctx), staff, store, &page).await?;
        Ok(pagination::connection(plans, &page, |p| p.id, Into::into))
    }

    /// A BA's statement for a month (HQ and finance any BA, a manager her store's): locked as
    /// written, or computed live while the month is open.
    async fn commission_statement(
        &self,
        ctx: &Context<'_>,
        staff_id: ID,
        month: String,
    ) -> ApiResult<CommissionStatement> {
        let staff = staff(ctx).await?;
        let id = parse_id(&staff_id)?;
        Ok(
            commission::commission_statement(app(ctx), staff, id, &month)
                .await?
                .into(),
        )
    }

    /// The caller's own statement for a month.
    async fn my_commission(
        &self,
        ctx: &Context<'_>,
        month: String,
    ) -> ApiResult<CommissionStatement> {
        let staff = staff(ctx).await?;
        Ok(commission::my_commission(app(ctx), staff, &month)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct StaffCommissionMutation;

#[Object]
impl StaffCommissionMutation {
    /// Writes a new version of a store's (or the brand-wide) commission plan (HQ). Shares that
    /// do not add up to 10000 are refused and nothing is stored.
    async fn upsert_commission_plan(
        &self,
        ctx: &Context<'_>,
        input: CommissionPlanInput,
    ) -> ApiResult<CommissionPlan> {
        let staff = staff(ctx).await?;
        let store_id = input.store_id.as_ref().map(parse_id).transpose()?;
        let plan = commission::PlanInput {
            store_id,
            effective_month: input.effective_from,
            name: input.name,
            tier_mode: input.tier_mode,
            designated_share_bp: input.designated_share_bp,
            assistant_share_bp: input.assistant_share_bp,
            base_salary_rate_bp: input.base_salary_rate_bp,
            rules: input
                .rules
                .into_iter()
                .map(|r| commission::RuleInput {
                    item_kind: r.item_kind,
                    base: r.base,
                    method: r.method,
                    rate_bp: r.rate_bp,
                    brackets: r
                        .brackets
                        .into_iter()
                        .map(|b| Bracket {
                            from_fen: b.from_fen.0,
                            rate_bp: b.rate_bp,
                        })
                        .collect(),
                })
                .collect(),
        };
        Ok(commission::upsert_commission_plan(app(ctx), staff, plan)
            .await?
            .into())
    }

    /// Sets a BA's base salary and rating bonus for a month (HQ); a locked month is refused.
    async fn set_commission_inputs(
        &self,
        ctx: &Context<'_>,
        staff_id: ID,
        month: String,
        base_salary_fen: Fen,
        rating_bonus_fen: Fen,
    ) -> ApiResult<CommissionInputs> {
        let staff = staff(ctx).await?;
        let input = commission::CommissionInputs {
            staff_id: parse_id(&staff_id)?,
            month,
            base_salary_fen: base_salary_fen.0,
            rating_bonus_fen: rating_bonus_fen.0,
        };
        let set = commission::set_commission_inputs(app(ctx), staff, input).await?;
        Ok(CommissionInputs {
            staff_id: set.staff_id.into(),
            month: set.month,
            base_salary_fen: Fen(set.base_salary_fen),
            rating_bonus_fen: Fen(set.rating_bonus_fen),
        })
    }

    /// Locks a store's month once it is over (HQ, finance): every BA's statement is written and
    /// never changes. Locking again answers the same statements.
    async fn lock_commission_month(
        &self,
        ctx: &Context<'_>,
        month: String,
        store_id: ID,
    ) -> ApiResult<CommissionMonth> {
        let staff = staff(ctx).await?;
        let id = parse_id(&store_id)?;
        Ok(
            commission::lock_commission_month(app(ctx), staff, &month, id)
                .await?
                .into(),
        )
    }
}
