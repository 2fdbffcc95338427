//! Bookings not checked in by the end of their slot become no-shows (a periodic task).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::cells::release_member_cells;
use super::{BookingError, BookingStatus};
use crate::AppState;
use crate::platform::db;
use crate::platform::jobs::{PeriodicTask, TaskError};
use entities::booking;

/// Bookings not checked in by the end of their slot become no-shows, and the member's time they
/// held is freed, a page at a time. Safe to run twice; a check-in racing it wins or loses as a
/// whole (the status is changed only from BOOKED).
pub async fn mark_no_shows(app: &AppState) -> Result<u64, BookingError> {
    const PAGE: u64 = 500;
    let now = app.clock.now();
    let mut marked = 0;
    loop {
        let txn = db::begin_write(&app.db).await?;
        let due: Vec<i64> = booking::Entity::find()
            .select_only()
            .column(booking::Column::Id)
            .filter(booking::Column::Status.eq(BookingStatus::Booked))
            .filter(booking::Column::EndsAt.lte(now))
            .order_by_asc(booking::Column::Id)
            .limit(PAGE)
            .into_tuple()
            .all(&txn)
            .await?;
        if due.is_empty() {
            return Ok(marked);
        }
        let res = booking::Entity::update_many()
            .col_expr(booking::Column::Status, Expr::value(BookingStatus::NoShow))
            .col_expr(booking::Column::UpdatedAt, Expr::value(now))
            .filter(booking::Column::Id.is_in(due.clone()))
            .filter(booking::Column::Status.eq(BookingStatus::Booked))
            .exec(&txn)
            .await?;
        let no_shows: Vec<i64> = booking::Entity::find()
            .select_only()
            .column(booking::Column::Id)
            .filter(booking::Column::Id.is_in(due.clone()))
            .filter(booking::Column::Status.eq(BookingStatus::NoShow))
            .into_tuple()
            .all(&txn)
            .await?;
        release_member_cells(&txn, no_shows).await?;
        txn.commit().await?;
        marked += res.rows_affected;
        if (due.len() as u64) < PAGE {
            return Ok(marked);
        }
    }
}

pub struct MarkNoShows;

#[async_trait::async_trait]
impl PeriodicTask for MarkNoShows {
    fn name(&self) -> &'static str {
        "booking-no-shows"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(mark_no_shows(app).await?)
    }
}
