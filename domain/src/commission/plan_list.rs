//! `commissionPlans`: the versions of the commission plans, newest first, with their rules, so
//! finance and store managers can read which rules a month was computed with. HQ and finance
//! see every plan; a manager her store's and the brand's (the ones that can be in force for her
//! store); asked for one store, its own versions and the brand's.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::plans::{plan_of, rule_of, scope_of};
use super::{CommissionError, Plan, Rule};
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal};
use crate::platform::page::{Keyset, Page};
use entities::{commission_plan, commission_plan_rule};

/// Plan versions the caller may read (of `store_id` and the brand's when given), newest first,
/// paged by id.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn commission_plans(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: Option<i64>,
    page: &Keyset<i64>,
) -> Result<Page<Plan>, CommissionError> {
    staff.require(Permission::ViewCommission)?;
    let store_id = match (staff.sees_every_store(), store_id, staff.store_id) {
        (true, asked, _) => asked,
        (false, None, Some(own)) => Some(own),
        (false, Some(asked), Some(own)) if asked == own => Some(own),
        _ => return Err(AuthError::Forbidden.into()),
    };
    let mut q = commission_plan::Entity::find();
    if let Some(store) = store_id {
        q = q.filter(
            Condition::any()
                .add(commission_plan::Column::Scope.eq(scope_of(Some(store))))
                .add(commission_plan::Column::Scope.eq(scope_of(None))),
        );
    }
    if let Some(after) = page.after {
        q = q.filter(commission_plan::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(commission_plan::Column::Id)
        .limit(page.fetch())
        .all(&app.db)
        .await?;
    let page = page.page(rows);
    let mut rules: BTreeMap<i64, Vec<Rule>> = BTreeMap::new();
    for r in commission_plan_rule::Entity::find()
        .filter(commission_plan_rule::Column::PlanId.is_in(page.items.iter().map(|p| p.id)))
        .order_by_asc(commission_plan_rule::Column::Id)
        .all(&app.db)
        .await?
    {
        rules.entry(r.plan_id).or_default().push(rule_of(r));
    }
    Ok(page.map(|plan| {
        let own = rules.remove(&plan.id).unwrap_or_default();
        plan_of(plan, own)
    }))
}
