//! Demo data for the store day close (showcase only): yesterday at the demo store SH001 with a
//! supplies expense, closed by its manager with the cash counted ¥10 short (reason given).

use chrono::Days;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::SeedError;
use crate::AppState;
use crate::auth::StaffPrincipal;
use crate::day_close::{self, CloseDay, ExpenseCategory, NewExpense};
use entities::staff_account;

fn failed(e: impl std::fmt::Display) -> SeedError {
    SeedError::Sales(format!("demo day close: {e}"))
}

/// Closes yesterday at the manager's store (after the demo sales committed).
pub(super) async fn seed(app: &AppState) -> Result<(), SeedError> {
    let Some(manager) = staff_account::Entity::find()
        .filter(staff_account::Column::Username.eq("manager-demo"))
        .one(&app.db)
        .await?
    else {
        return Ok(());
    };
    let Some(store_id) = manager.store_id else {
        return Ok(());
    };
    let staff = StaffPrincipal {
        staff_id: manager.id,
        role: manager.role,
        store_id: Some(store_id),
        session_id: "seed".into(),
    };
    let today = crate::sales::business_date(app.clock.now(), None);
    let yesterday = today
        .checked_sub_days(Days::new(1))
        .ok_or_else(|| failed("date"))?;
    day_close::record_store_expense(
        app,
        &staff,
        NewExpense {
            store_id,
            date: yesterday,
            category: ExpenseCategory::Supplies,
            amount_fen: 12_800,
            note: Some("化妆棉、试用装小样瓶".into()),
        },
    )
    .await
    .map_err(failed)?;
    let day = day_close::store_day(app, &staff, store_id, yesterday)
        .await
        .map_err(failed)?;
    day_close::close_store_day(
        app,
        &staff,
        CloseDay {
            store_id,
            date: yesterday,
            counted_cash_fen: (day.expected_cash_fen - 1_000).max(0),
            note: Some("晚班清点，现金已存入保险柜".into()),
            difference_reason: Some("找零差错".into()),
        },
    )
    .await
    .map_err(failed)?;
    Ok(())
}
