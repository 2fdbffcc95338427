//! `setCommissionInputs` (HQ): a BA's base salary and rating bonus for a month, the two figures
//! of seed 004's formula (基础工资×20% + 销售额×5% + 评价加分) that are not sales. A locked month's
//! inputs no longer change.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use super::{CommissionError, invalid, month_bounds};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal, StaffRole};
use entities::{commission_input, commission_month, staff_account};

/// A BA's inputs for a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionInputs {
    pub staff_id: i64,
    pub month: String,
    pub base_salary_fen: i64,
    pub rating_bonus_fen: i64,
}

const MAX_FEN: i64 = 100_000_000;

/// Sets (or replaces) a BA's inputs for a month.
pub async fn set_commission_inputs(
    app: &AppState,
    staff: &StaffPrincipal,
    input: CommissionInputs,
) -> Result<CommissionInputs, CommissionError> {
    staff.require(Permission::ManageCommission)?;
    month_bounds(&input.month)?;
    if !(0..=MAX_FEN).contains(&input.base_salary_fen)
        || !(0..=MAX_FEN).contains(&input.rating_bonus_fen)
    {
        return Err(invalid("an amount is between 0 and ¥1,000,000"));
    }
    let ba = staff_account::Entity::find_by_id(input.staff_id)
        .one(&app.db)
        .await?
        .filter(|s| matches!(s.role, StaffRole::Ba | StaffRole::Manager))
        .ok_or(CommissionError::NotFound("BA"))?;
    let store_id = ba.store_id.ok_or(CommissionError::NotFound("BA"))?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let locked = commission_month::Entity::find()
        .filter(commission_month::Column::StoreId.eq(store_id))
        .filter(commission_month::Column::Month.eq(input.month.as_str()))
        .one(&txn)
        .await?;
    if locked.is_some() {
        return Err(CommissionError::MonthLocked(input.month));
    }
    commission_input::Entity::insert(commission_input::ActiveModel {
        staff_id: Set(input.staff_id),
        month: Set(input.month.clone()),
        base_salary_fen: Set(input.base_salary_fen),
        rating_bonus_fen: Set(input.rating_bonus_fen),
        set_by: Set(staff.staff_id),
        updated_at: Set(app.clock.now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            commission_input::Column::StaffId,
            commission_input::Column::Month,
        ])
        .update_columns([
            commission_input::Column::BaseSalaryFen,
            commission_input::Column::RatingBonusFen,
            commission_input::Column::SetBy,
            commission_input::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(input)
}
