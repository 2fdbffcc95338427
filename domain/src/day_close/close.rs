//! The manager closes her store's business day (日结): the day's takings by tender, refunds,
//! top-ups and expenses, with the adjustments it carries, frozen; the cash counted against
//! the cash expected, the difference with its reason. Closing a closed day is CONFLICT; of two
//! closes at once one wins (unique store and day), the other is CONFLICT.

use chrono::NaiveDate;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::view::{StoreDay, closed_day, live_day};
use super::{DayCloseError, DayFigures, Snapshot, invalid, store_for, today};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::error::UniqueViolation;
use crate::platform::{db, validate};
use entities::{store_day_close, store_day_close_item};

/// The most cash a drawer is counted at: ¥10,000,000.
const MAX_COUNTED_FEN: i64 = 1_000_000_000;

/// What the manager says when closing a day.
#[derive(Debug, Clone)]
pub struct CloseDay {
    pub store_id: i64,
    pub date: NaiveDate,
    pub counted_cash_fen: i64,
    pub note: Option<String>,
    /// Required when the counted cash differs from the expected.
    pub difference_reason: Option<String>,
}

fn text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, DayCloseError> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| validate::text(field, v, max))
        .transpose()
        .map_err(invalid)
}

/// Closes a store's business day (its manager, or HQ). Today may be closed early: what is
/// recorded after the close for today is an adjustment on the next open day.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id = input.store_id))]
pub async fn close_store_day(
    app: &AppState,
    staff: &StaffPrincipal,
    input: CloseDay,
) -> Result<StoreDay, DayCloseError> {
    let store = store_for(&app.db, staff, Permission::CloseStoreDay, input.store_id).await?;
    if !(0..=MAX_COUNTED_FEN).contains(&input.counted_cash_fen) {
        return Err(invalid("counted cash is between 0 and ¥10,000,000"));
    }
    let note = text("note", input.note.as_deref(), 500)?;
    let reason = text("differenceReason", input.difference_reason.as_deref(), 200)?;
    let now = app.clock.now();
    if input.date > today(&store, now) {
        return Err(DayCloseError::FutureDay);
    }
    let txn = db::begin_write(&app.db).await?;
    let existing = store_day_close::Entity::find()
        .filter(store_day_close::Column::StoreId.eq(store.id))
        .filter(store_day_close::Column::BusinessDate.eq(input.date))
        .one(&txn)
        .await?;
    if existing.is_some() {
        return Err(DayCloseError::AlreadyClosed);
    }
    let live = live_day(&txn, &store, input.date).await?;
    let mut snapshot = Snapshot::default();
    for e in &live.own {
        snapshot.own.plus(&e.figures);
    }
    let mut adjustments = DayFigures::default();
    for e in &live.adjustments {
        adjustments.plus(&e.figures);
    }
    snapshot.adjustments = adjustments;
    let expected = snapshot.own.cash_fen() + snapshot.adjustments.cash_fen();
    let difference = input.counted_cash_fen - expected;
    if difference != 0 && reason.is_none() {
        return Err(DayCloseError::DifferenceReasonRequired {
            difference_fen: difference,
        });
    }
    let figures = serde_json::to_string(&snapshot)
        .map_err(|e| DayCloseError::Corrupt(format!("day figures: {e}")))?;
    let close = store_day_close::ActiveModel {
        store_id: Set(store.id),
        business_date: Set(input.date),
        figures: Set(figures),
        expected_cash_fen: Set(expected),
        counted_cash_fen: Set(input.counted_cash_fen),
        difference_fen: Set(difference),
        difference_reason: Set(reason),
        note: Set(note),
        closed_by: Set(staff.staff_id),
        closed_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| DayCloseError::AlreadyClosed)?;
    let items: Vec<store_day_close_item::ActiveModel> = live
        .own
        .iter()
        .chain(live.adjustments.iter())
        .map(|e| store_day_close_item::ActiveModel {
            close_id: Set(close.id),
            store_id: Set(store.id),
            kind: Set(e.kind),
            ref_id: Set(e.ref_id),
            event_date: Set(e.date),
            reference: Set(e.reference.clone()),
            amount_fen: Set(e.amount_fen),
            ..Default::default()
        })
        .collect();
    for chunk in items.chunks(500) {
        store_day_close_item::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await
            .on_unique_violation(|| DayCloseError::AlreadyClosed)?;
    }
    txn.commit().await?;
    closed_day(&app.db, close).await
}
