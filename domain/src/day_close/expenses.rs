//! A manager records a store expense (费用) on an open business day; a closed day takes none
//! (CONFLICT: record it on an open day). Shown in the day and the month.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::{DayCloseError, invalid, store_for, today};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::{db, validate};
pub use entities::store_expense::ExpenseCategory;
use entities::{store_day_close, store_expense};

/// The most one expense may be: ¥1,000,000.
pub const MAX_EXPENSE_FEN: i64 = 100_000_000;

/// An expense to record.
#[derive(Debug, Clone)]
pub struct NewExpense {
    pub store_id: i64,
    pub date: NaiveDate,
    pub category: ExpenseCategory,
    pub amount_fen: i64,
    pub note: Option<String>,
}

/// A recorded expense.
#[derive(Debug, Clone)]
pub struct Expense {
    pub id: i64,
    pub store_id: i64,
    pub date: NaiveDate,
    pub category: ExpenseCategory,
    pub amount_fen: i64,
    pub note: Option<String>,
    pub recorded_by: i64,
    pub created_at: DateTime<Utc>,
}

impl From<store_expense::Model> for Expense {
    fn from(m: store_expense::Model) -> Self {
        Self {
            id: m.id,
            store_id: m.store_id,
            date: m.business_date,
            category: m.category,
            amount_fen: m.amount_fen,
            note: m.note,
            recorded_by: m.recorded_by,
            created_at: m.created_at,
        }
    }
}

/// Records an expense (the store's manager, or HQ).
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id = input.store_id))]
pub async fn record_store_expense(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewExpense,
) -> Result<Expense, DayCloseError> {
    let store = store_for(&app.db, staff, Permission::CloseStoreDay, input.store_id).await?;
    if !(1..=MAX_EXPENSE_FEN).contains(&input.amount_fen) {
        return Err(invalid("an expense is between 1 fen and ¥1,000,000"));
    }
    let note = input
        .note
        .as_deref()
        .map(|n| validate::text("note", n, 200))
        .transpose()
        .map_err(invalid)?;
    let now = app.clock.now();
    if input.date > today(&store, now) {
        return Err(DayCloseError::FutureDay);
    }
    let txn = db::begin_write(&app.db).await?;
    let closed = store_day_close::Entity::find()
        .filter(store_day_close::Column::StoreId.eq(store.id))
        .filter(store_day_close::Column::BusinessDate.eq(input.date))
        .one(&txn)
        .await?;
    if closed.is_some() {
        return Err(DayCloseError::DayClosed);
    }
    let row = store_expense::ActiveModel {
        store_id: Set(store.id),
        business_date: Set(input.date),
        category: Set(input.category),
        amount_fen: Set(input.amount_fen),
        note: Set(note),
        recorded_by: Set(staff.staff_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(row.into())
}
