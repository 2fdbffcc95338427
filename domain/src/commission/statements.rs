//! `commissionStatement(staffId, month)` (HQ and finance any BA, a manager her store's BAs) and
//! `myCommission(month)` (the BA's own): the locked statement as written, or, while the month
//! is open, the statement computed live with the plan in force.

use sea_orm::EntityTrait;

use super::lock::locked_month_of;
use super::preview::compute_month;
use super::{CommissionError, Statement, StatementStatus, month_bounds, plans};
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use entities::staff_account;

async fn statement_of(
    app: &AppState,
    ba: &staff_account::Model,
    month: &str,
) -> Result<Statement, CommissionError> {
    month_bounds(month)?;
    let store_id = ba.store_id.ok_or(CommissionError::NotFound("BA"))?;
    let found = match locked_month_of(&app.db, store_id, month, Some(ba.id)).await? {
        Some(locked) => locked,
        None => {
            let plan = plans::plan_in_force(&app.db, store_id, month).await?;
            compute_month(&app.db, store_id, month, &plan, StatementStatus::Open).await?
        }
    };
    let empty = Statement {
        staff_id: ba.id,
        staff_name: ba.display_name.clone(),
        store_id,
        month: month.to_owned(),
        status: found.status,
        plan_id: found.plan_id,
        plan_version: found.plan_version,
        total_fen: 0,
        locked_at: found.locked_at,
        lines: Vec::new(),
    };
    Ok(found
        .statements
        .into_iter()
        .find(|s| s.staff_id == ba.id)
        .unwrap_or(empty))
}

/// A BA's statement for a month.
pub async fn commission_statement(
    app: &AppState,
    staff: &StaffPrincipal,
    staff_id: i64,
    month: &str,
) -> Result<Statement, CommissionError> {
    staff.require(Permission::ViewCommission)?;
    month_bounds(month)?;
    let ba = staff_account::Entity::find_by_id(staff_id)
        .one(&app.db)
        .await?
        .filter(|s| matches!(s.role, StaffRole::Ba | StaffRole::Manager) && s.store_id.is_some())
        .ok_or(CommissionError::NotFound("BA"))?;
    if !staff.sees_every_store() && staff.store_id != ba.store_id {
        return Err(AuthError::Forbidden.into());
    }
    statement_of(app, &ba, month).await
}

/// The caller's own statement for a month.
pub async fn my_commission(
    app: &AppState,
    staff: &StaffPrincipal,
    month: &str,
) -> Result<Statement, CommissionError> {
    staff.require(Permission::ViewOwnPerformance)?;
    let me = staff_account::Entity::find_by_id(staff.staff_id)
        .one(&app.db)
        .await?
        .ok_or(CommissionError::NotFound("BA"))?;
    statement_of(app, &me, month).await
}
