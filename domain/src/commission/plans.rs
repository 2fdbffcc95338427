//! `upsertCommissionPlan` (HQ): a new version of the plan of a store, or of the brand-wide plan,
//! in force from a month. A version never changes a locked month: it must start after every
//! month already locked in its scope. Bad input stores nothing.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{CommissionError, Plan, Rule, invalid, month_bounds};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::error::UniqueViolation;
use entities::commission_plan::{self, TierMode};
use entities::commission_plan_rule::{self, Bracket, CommissionItemKind, CommissionMethod};
use entities::typed::JsonText;
use entities::{commission_month, store};

/// One rule as HQ writes it.
#[derive(Debug, Clone)]
pub struct RuleInput {
    pub item_kind: CommissionItemKind,
    pub base: commission_plan_rule::CommissionBase,
    pub method: CommissionMethod,
    pub rate_bp: Option<i32>,
    pub brackets: Vec<Bracket>,
}

/// A plan version as HQ writes it.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// None: brand-wide.
    pub store_id: Option<i64>,
    /// `YYYY-MM`.
    pub effective_month: String,
    pub name: String,
    pub tier_mode: TierMode,
    pub designated_share_bp: i32,
    pub assistant_share_bp: i32,
    pub base_salary_rate_bp: i32,
    pub rules: Vec<RuleInput>,
}

const MAX_BRACKETS: usize = 20;

fn rate_ok(bp: i32) -> bool {
    (0..=10_000).contains(&bp)
}

fn check_rule(rule: &RuleInput) -> Result<(), CommissionError> {
    match rule.method {
        CommissionMethod::Flat => {
            if !rule.brackets.is_empty() {
                return Err(invalid("a FLAT rule has a rate and no brackets"));
            }
            match rule.rate_bp {
                Some(bp) if rate_ok(bp) => Ok(()),
                _ => Err(invalid("a rate is between 0 and 10,000 basis points")),
            }
        }
        CommissionMethod::Tiered => {
            if rule.rate_bp.is_some() {
                return Err(invalid("a TIERED rule has brackets and no single rate"));
            }
            if rule.brackets.is_empty() || rule.brackets.len() > MAX_BRACKETS {
                return Err(invalid("a TIERED rule has 1 to 20 brackets"));
            }
            if rule.brackets[0].from_fen != 0 {
                return Err(invalid("the first bracket starts at 0"));
            }
            if rule
                .brackets
                .windows(2)
                .any(|w| w[1].from_fen <= w[0].from_fen)
            {
                return Err(invalid("brackets start in ascending order"));
            }
            if rule.brackets.iter().any(|b| !rate_ok(b.rate_bp)) {
                return Err(invalid("a rate is between 0 and 10,000 basis points"));
            }
            if rule.brackets.iter().any(|b| b.from_fen > 100_000_000_000) {
                return Err(invalid("a bracket starts at most at ¥1,000,000,000"));
            }
            Ok(())
        }
    }
}

pub(super) fn check(input: &PlanInput) -> Result<(), CommissionError> {
    month_bounds(&input.effective_month)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(invalid("a plan name is 1 to 60 characters"));
    }
    if !rate_ok(input.designated_share_bp) || !rate_ok(input.assistant_share_bp) {
        return Err(invalid("a share is between 0 and 10,000 basis points"));
    }
    if input.designated_share_bp + input.assistant_share_bp != 10_000 {
        return Err(invalid(
            "the designated and assistant shares must add up to 10,000 basis points",
        ));
    }
    if !rate_ok(input.base_salary_rate_bp) {
        return Err(invalid("a rate is between 0 and 10,000 basis points"));
    }
    if input.rules.is_empty() {
        return Err(invalid("a plan has at least one rule"));
    }
    let rules = &input.rules;
    if (1..rules.len()).any(|i| rules[..i].iter().any(|r| r.item_kind == rules[i].item_kind)) {
        return Err(invalid("one rule per item kind"));
    }
    input.rules.iter().try_for_each(check_rule)
}

pub(super) fn scope_of(store_id: Option<i64>) -> String {
    store_id.map_or_else(|| "BRAND".to_owned(), |id| format!("STORE:{id}"))
}

/// Writes a new version of the plan of `input.store_id` (or the brand's).
pub async fn upsert_commission_plan(
    app: &AppState,
    staff: &StaffPrincipal,
    input: PlanInput,
) -> Result<Plan, CommissionError> {
    staff.require(Permission::ManageCommission)?;
    check(&input)?;
    if let Some(id) = input.store_id {
        store::Entity::find_by_id(id)
            .one(&app.db)
            .await?
            .ok_or(CommissionError::NotFound("store"))?;
    }
    let scope = scope_of(input.store_id);
    let txn = crate::platform::db::begin_write(&app.db).await?;
    // The latest month locked where this version would apply.
    let mut locked = commission_month::Entity::find()
        .select_only()
        .column(commission_month::Column::Month)
        .order_by_desc(commission_month::Column::Month)
        .limit(1);
    if let Some(id) = input.store_id {
        locked = locked.filter(commission_month::Column::StoreId.eq(id));
    }
    let latest: Option<String> = locked.into_tuple().one(&txn).await?;
    if let Some(latest) = latest.filter(|m| *m >= input.effective_month) {
        return Err(CommissionError::MonthLocked(latest));
    }
    let version: Option<i32> = commission_plan::Entity::find()
        .select_only()
        .column_as(commission_plan::Column::Version.max(), "v")
        .filter(commission_plan::Column::Scope.eq(scope.as_str()))
        .into_tuple::<Option<i32>>()
        .one(&txn)
        .await?
        .flatten();
    let now = app.clock.now();
    let plan = commission_plan::ActiveModel {
        scope: Set(scope),
        store_id: Set(input.store_id),
        version: Set(version.unwrap_or(0) + 1),
        effective_month: Set(input.effective_month.clone()),
        name: Set(input.name.trim().to_owned()),
        tier_mode: Set(input.tier_mode),
        designated_share_bp: Set(input.designated_share_bp),
        assistant_share_bp: Set(input.assistant_share_bp),
        base_salary_rate_bp: Set(input.base_salary_rate_bp),
        created_by: Set(staff.staff_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| CommissionError::VersionRace)?;
    commission_plan_rule::Entity::insert_many(input.rules.iter().map(|r| {
        commission_plan_rule::ActiveModel {
            plan_id: Set(plan.id),
            item_kind: Set(r.item_kind),
            base: Set(r.base),
            method: Set(r.method),
            rate_bp: Set(r.rate_bp),
            brackets: Set((!r.brackets.is_empty()).then(|| JsonText(r.brackets.clone()))),
            ..Default::default()
        }
    }))
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    load_plan(&app.db, plan.id)
        .await?
        .ok_or(CommissionError::NotFound("commission plan"))
}

/// A plan version with its rules.
pub(super) async fn load_plan<C: sea_orm::ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<Plan>, CommissionError> {
    let Some(plan) = commission_plan::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let rules = commission_plan_rule::Entity::find()
        .filter(commission_plan_rule::Column::PlanId.eq(id))
        .order_by_asc(commission_plan_rule::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(rule_of)
        .collect();
    Ok(Some(plan_of(plan, rules)))
}

/// A stored rule.
pub(super) fn rule_of(r: commission_plan_rule::Model) -> Rule {
    Rule {
        item_kind: r.item_kind,
        base: r.base,
        method: r.method,
        rate_bp: r.rate_bp,
        brackets: r.brackets.map(JsonText::into_inner).unwrap_or_default(),
    }
}

/// A stored plan version with its rules.
pub(super) fn plan_of(plan: commission_plan::Model, rules: Vec<Rule>) -> Plan {
    Plan {
        id: plan.id,
        store_id: plan.store_id,
        version: plan.version,
        effective_month: plan.effective_month,
        name: plan.name,
        tier_mode: plan.tier_mode,
        designated_share_bp: plan.designated_share_bp,
        assistant_share_bp: plan.assistant_share_bp,
        base_salary_rate_bp: plan.base_salary_rate_bp,
        rules,
        created_at: plan.created_at,
    }
}

/// The version in force at a store in a month: the store's own latest version that has started,
/// else the brand's.
pub(super) async fn plan_in_force<C: sea_orm::ConnectionTrait>(
    db: &C,
    store_id: i64,
    month: &str,
) -> Result<Plan, CommissionError> {
    for scope in [scope_of(Some(store_id)), scope_of(None)] {
        let found = commission_plan::Entity::find()
            .filter(commission_plan::Column::Scope.eq(scope))
            .filter(commission_plan::Column::EffectiveMonth.lte(month))
            .order_by_desc(commission_plan::Column::EffectiveMonth)
            .order_by_desc(commission_plan::Column::Version)
            .one(db)
            .await?;
        if let Some(p) = found {
            return load_plan(db, p.id)
                .await?
                .ok_or(CommissionError::NotFound("commission plan"));
        }
    }
    Err(CommissionError::NotFound("commission plan"))
}
