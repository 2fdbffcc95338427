//! Bringing the counters back to the database's truth, per sale and periodically for every
//! active one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use super::counters::{active_sales, truth_now};
use super::{FlashSalesError, counters_down, sale_row, units, writer};
use crate::AppState;
use crate::platform::jobs::{PeriodicTask, TaskError};
use crate::platform::kv::keys;

/// Differences between counters and database seen by earlier passes: member id -> (counter
/// units minus database units, when first seen in Unix milliseconds).
type Suspects = BTreeMap<i64, (i64, i64)>;

/// Brings one sale's counters to the database's truth. A member's difference is corrected only
/// when it was already seen at least the grace period before (a grab between its counter step
/// and its order's commit is not a difference), and only by what both passes saw. Returns how
/// many members were corrected.
pub async fn reconcile(app: &AppState, sale_id: i64) -> Result<u64, FlashSalesError> {
    let sale = sale_row(app, sale_id).await?;
    // `sold` is settled here in bulk, not by every winner's order.
    units::settle_sold(app, &sale).await?;
    let key = keys::flash_sale_counters(sale_id);
    let Some(counters) = app.kv.flash_counters(&key).await.map_err(counters_down)? else {
        return Ok(0);
    };
    let truth = truth_now(&app.db, &sale).await?;
    let kv: HashMap<i64, i64> = counters.members.iter().copied().collect();
    let db: HashMap<i64, i64> = truth.members.iter().copied().collect();
    let suspects_key = keys::flash_sale_suspects(sale_id);
    let now_ms = app.clock.now().timestamp_millis();
    let previous: Suspects = app
        .kv
        .get(&suspects_key)
        .await
        .map_err(counters_down)?
        .and_then(|v| serde_json::from_slice(&v).ok())
        .unwrap_or_default();
    let grace_ms = app.settings.flash_sales.reconcile_grace.num_milliseconds();
    let mut corrected = 0;
    let mut pending = Suspects::new();
    let members: BTreeSet<i64> = kv.keys().chain(db.keys()).copied().collect();
    for member in members {
        let d = kv.get(&member).copied().unwrap_or(0) - db.get(&member).copied().unwrap_or(0);
        if d == 0 {
            continue;
        }
        match previous.get(&member) {
            Some((seen, since)) if seen.signum() == d.signum() => {
                let by = d.signum() * std::cmp::min(d.abs(), seen.abs());
                if since + grace_ms <= now_ms {
                    // Positive: the counters hold units no order has; they go back to the pool.
                    app.kv
                        .flash_adjust(&key, member, by, None)
                        .await
                        .map_err(counters_down)?;
                    tracing::warn!(
                        sale_id,
                        member_id = member,
                        units = by,
                        "flash-sale counters corrected to the database"
                    );
                    corrected += 1;
                } else {
                    pending.insert(member, (by, *since));
                }
            }
            _ => {
                pending.insert(member, (d, now_ms));
            }
        }
    }
    if pending.is_empty() {
        app.kv
            .delete(&[&suspects_key])
            .await
            .map_err(counters_down)?;
    } else {
        app.kv
            .set(
                &suspects_key,
                &serde_json::to_vec(&pending).unwrap_or_default(),
                Some(Duration::from_secs(3600)),
            )
            .await
            .map_err(counters_down)?;
    }
    let held: i64 = counters.members.iter().map(|(_, u)| u).sum();
    let db_held: i64 = truth.members.iter().map(|(_, u)| u).sum();
    if pending.is_empty() && counters.stock_left + held != truth.stock_left + db_held {
        tracing::error!(
            sale_id,
            left = counters.stock_left,
            held,
            db_left = truth.stock_left,
            db_held,
            "flash-sale counters do not add up to the sale's units"
        );
    }
    Ok(corrected)
}

/// Writes the orders of tickets left pending, reconciles every active sale's counters with the
/// database (settling `sold`), and settles the
/// sales that ended with their payment time-out: their unclaimed units go back to the
/// warehouse.
pub async fn reconcile_active(app: &AppState) -> Result<u64, FlashSalesError> {
    // Tickets left without their order (a crash between ticket and order) first: their units
    // then show where they belong.
    writer::write_pending_orders(app).await?;
    let mut corrected = 0;
    for sale in active_sales(app).await? {
        corrected += reconcile(app, sale.id).await?;
    }
    for sale in units::unsettled(app).await? {
        let returned = units::settle_units(app, &sale).await?;
        units::settle_sold(app, &sale).await?;
        tracing::info!(sale_id = sale.id, returned, "flash sale settled");
    }
    Ok(corrected)
}

/// Scheduled: bring flash-sale counters back to the database's truth.
pub struct ReconcileFlashSales;

#[async_trait::async_trait]
impl PeriodicTask for ReconcileFlashSales {
    fn name(&self) -> &'static str {
        "reconcile-flash-sales"
    }
    fn every(&self) -> Duration {
        Duration::from_secs(20)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(reconcile_active(app).await?)
    }
}
