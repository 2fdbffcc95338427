//! `previewCommission`: a store's month computed with a given plan version (one in force or
//! one HQ is trying), nothing written. HQ and finance any store, a manager her own.

use super::compute::{self, Draft};
use super::{CommissionError, Month, Plan, Statement, StatementStatus, gather, month_bounds};
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal};

/// Turns the computed drafts into a month.
pub(super) fn month_of_drafts(
    store_id: i64,
    month: &str,
    plan: &Plan,
    status: StatementStatus,
    drafts: Vec<Draft>,
) -> Month {
    let statements: Vec<Statement> = drafts
        .into_iter()
        .map(|d| Statement {
            staff_id: d.staff_id,
            staff_name: d.staff_name,
            store_id,
            month: month.to_owned(),
            status,
            plan_id: plan.id,
            plan_version: plan.version,
            total_fen: d.total_fen,
            locked_at: None,
            lines: d.lines,
        })
        .collect();
    Month {
        store_id,
        month: month.to_owned(),
        status,
        plan_id: plan.id,
        plan_version: plan.version,
        total_fen: statements.iter().map(|s| s.total_fen).sum(),
        locked_at: None,
        statements,
    }
}

/// Computes a store's month with `plan` (nothing is written).
pub(super) async fn compute_month<C: sea_orm::ConnectionTrait>(
    db: &C,
    store_id: i64,
    month: &str,
    plan: &Plan,
    status: StatementStatus,
) -> Result<Month, CommissionError> {
    let store = gather::store(db, store_id).await?;
    let people = gather::people(db, store_id, month).await?;
    let items = gather::items(db, &store, month).await?;
    let drafts = compute::statements(plan, &people, &items);
    Ok(month_of_drafts(store_id, month, plan, status, drafts))
}

/// Every BA's statement of the store's month under plan version `plan_id`.
pub async fn preview_commission(
    app: &AppState,
    staff: &StaffPrincipal,
    plan_id: i64,
    month: &str,
    store_id: i64,
) -> Result<Month, CommissionError> {
    staff.require(Permission::ViewCommission)?;
    if !staff.sees_every_store() && staff.store_id != Some(store_id) {
        return Err(AuthError::Forbidden.into());
    }
    month_bounds(month)?;
    gather::store(&app.db, store_id).await?;
    let plan = super::plans::load_plan(&app.db, plan_id)
        .await?
        .filter(|p| p.store_id.is_none_or(|s| s == store_id))
        .ok_or(CommissionError::NotFound("commission plan"))?;
    compute_month(&app.db, store_id, month, &plan, StatementStatus::Preview).await
}
