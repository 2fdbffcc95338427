//! The key-value counters of a sale: what the database says they are, warming them before the
//! start (and whenever the store lost them), giving units back, and the periodic warm task.

use std::collections::BTreeMap;
use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{FlashSalesError, counters_down, sale_row, tickets, units};
use crate::AppState;
use crate::platform::jobs::{PeriodicTask, TaskError};
use crate::platform::kv::FlashCounters;
use crate::platform::kv::keys;
use entities::{flash_sale, flash_sale_quota};

/// What the database says the counters are.
pub(super) async fn truth<C: ConnectionTrait>(
    db: &C,
    sale: &flash_sale::Model,
) -> Result<FlashCounters, FlashSalesError> {
    let members: Vec<(i64, i32)> = flash_sale_quota::Entity::find()
        .select_only()
        .column(flash_sale_quota::Column::MemberId)
        .column(flash_sale_quota::Column::Units)
        .filter(flash_sale_quota::Column::SaleId.eq(sale.id))
        .filter(flash_sale_quota::Column::Units.gt(0))
        .order_by_asc(flash_sale_quota::Column::MemberId)
        .into_tuple()
        .all(db)
        .await?;
    // Tickets whose order is not written yet hold their units too (the counters took them;
    // no quota or unit row shows them yet).
    let pending = tickets::pending_units(db, sale.id).await?;
    let in_tickets: i64 = pending.iter().map(|(_, u)| u).sum();
    let mut members: BTreeMap<i64, i64> = members
        .into_iter()
        .map(|(m, u)| (m, i64::from(u)))
        .collect();
    for (m, u) in pending {
        *members.entry(m).or_default() += u;
    }
    let stock_left = if sale.units_at.is_some() {
        // The unit rows no order holds, less the pending tickets' (units of orders being
        // written included: their tickets are still pending until the order commits).
        (units::free(db, sale.id).await? - in_tickets).max(0)
    } else {
        i64::from(sale.stock) - members.values().sum::<i64>()
    };
    Ok(FlashCounters {
        stock_left,
        starts_at_ms: sale.starts_at.timestamp_millis(),
        ends_at_ms: sale.ends_at.timestamp_millis(),
        per_member_limit: i64::from(sale.per_member_limit),
        members: members.into_iter().filter(|(_, u)| *u > 0).collect(),
    })
}

/// [`truth`] read in one snapshot. Its reads (quotas, pending tickets, free units) must agree:
/// an order written between two of them would otherwise count its units in neither place, or in
/// both, and the counters rebuilt from it would be wrong.
pub(super) async fn truth_now(
    db: &sea_orm::DatabaseConnection,
    sale: &flash_sale::Model,
) -> Result<FlashCounters, FlashSalesError> {
    let txn = crate::platform::db::begin_snapshot_read(db).await?;
    let counters = truth(&txn, sale).await?;
    txn.commit().await?;
    Ok(counters)
}

/// How long counters live: past the end by the payment time-out (units of unpaid orders come
/// back) and a day to spare.
fn counters_ttl(app: &AppState, sale: &flash_sale::Model) -> Duration {
    let until = sale.ends_at + app.settings.orders.payment_timeout + chrono::Duration::days(1);
    (until - app.clock.now())
        .to_std()
        .unwrap_or(Duration::from_secs(3600))
        .max(Duration::from_secs(3600))
}

/// Sets the sale's units aside (once) and loads its counters from the database when the store
/// does not have them. Returns whether the counters were written.
pub async fn warm(app: &AppState, sale: &flash_sale::Model) -> Result<bool, FlashSalesError> {
    let sale = &units::set_aside(app, sale).await?;
    let counters = truth_now(&app.db, sale).await?;
    app.kv
        .flash_load(
            &keys::flash_sale_counters(sale.id),
            &counters,
            counters_ttl(app, sale),
        )
        .await
        .map_err(counters_down)
}

pub(super) async fn give_back_units(
    app: &AppState,
    sale_id: i64,
    member_id: i64,
    units: i64,
    forget_key: Option<&str>,
) {
    if let Err(e) = app
        .kv
        .flash_adjust(
            &keys::flash_sale_counters(sale_id),
            member_id,
            units,
            forget_key,
        )
        .await
    {
        // The reconcile task brings the counters back to the database's truth.
        tracing::warn!(sale_id, member_id, units, error = %e, "could not give flash-sale units back");
    }
}

/// The sale's counters and the database's view, for checks and reports.
pub async fn counters_and_truth(
    app: &AppState,
    sale_id: i64,
) -> Result<(Option<FlashCounters>, FlashCounters), FlashSalesError> {
    let sale = sale_row(app, sale_id).await?;
    let counters = app
        .kv
        .flash_counters(&keys::flash_sale_counters(sale_id))
        .await
        .map_err(counters_down)?;
    Ok((counters, truth_now(&app.db, &sale).await?))
}

/// Sales whose counters matter now: starting soon, live, or ended less than the payment
/// time-out ago (their unpaid orders may still give units back).
pub(super) async fn active_sales(
    app: &AppState,
) -> Result<Vec<flash_sale::Model>, FlashSalesError> {
    let now = app.clock.now();
    Ok(flash_sale::Entity::find()
        .filter(flash_sale::Column::StartsAt.lte(now + app.settings.flash_sales.warm_ahead))
        .filter(
            flash_sale::Column::EndsAt
                .gt(now - app.settings.orders.payment_timeout - chrono::Duration::minutes(5)),
        )
        .order_by_asc(flash_sale::Column::Id)
        .limit(500)
        .all(&app.db)
        .await?)
}

/// Warms the counters of sales about to start (and of live ones the store lost).
pub async fn warm_upcoming(app: &AppState) -> Result<u64, FlashSalesError> {
    let mut warmed = 0;
    for sale in active_sales(app).await? {
        if warm(app, &sale).await? {
            warmed += 1;
        }
    }
    Ok(warmed)
}

/// Scheduled: warm flash-sale counters ahead of the start.
pub struct WarmFlashSales;

#[async_trait::async_trait]
impl PeriodicTask for WarmFlashSales {
    fn name(&self) -> &'static str {
        "warm-flash-sales"
    }
    fn every(&self) -> Duration {
        Duration::from_secs(15)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(warm_upcoming(app).await?)
    }
}
