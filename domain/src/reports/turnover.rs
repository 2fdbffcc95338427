//! Inventory turnover: the worker snapshots every location's stock each business day, valued
//! at each SKU's cost at that time (`stock_value_days`, one set-based INSERT … SELECT);
//! turnover days over a range = the average of the day values ÷ the cost of goods sold per
//! day (the sales facts' cost at sale, refunds netted). Expiry losses: units written off by a
//! negative adjustment on or after their batch's expiry date, valued at the SKU's cost in the
//! latest snapshot up to that day (today's cost when there is none).

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::aggregate::{Binds, Groups, Keys, run, time_expr};
use super::metrics::Dimension;
use super::{ReportsError, invalid};
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal};
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::jobs::{PeriodicTask, TaskError};
use entities::stock_movement::{self, MovementKind};
use entities::{location, sales_fact, sku, stock_batch, stock_value_day};

/// What turnover days means, returned with every answer.
pub const TURNOVER_DEFINITION: &str = "Turnover days = average stock value ÷ cost of goods sold per day. Stock value: the location's stock as snapshotted each business day, at each SKU's cost at that time, averaged over the days of the range with a snapshot. Cost of goods sold: the cost at sale of the units sold at the location's store (online orders without a store for a warehouse) over the range, minus refunds, ÷ the days of the range. Null when nothing was sold or no snapshot exists. Expiry losses: units written off by a negative adjustment on or after their batch's expiry date, at the SKU's cost in the latest snapshot up to that day.";

/// Adds each group's snapshotted stock values, for TURNOVER_DAYS (by time, store and SKU; the
/// query was checked). A store's stock is that of its locations; warehouses count under no
/// store.
pub(super) async fn stock_values_into<C: ConnectionTrait>(
    db: &C,
    stores: Option<&[i64]>,
    dims: &[Dimension],
    from: NaiveDate,
    to: NaiveDate,
    groups: &mut Groups,
) -> Result<(), ReportsError> {
    let backend = db.get_database_backend();
    let mut exprs: Vec<String> = dims
        .iter()
        .filter(|d| !d.is_time())
        .map(|d| match d {
            Dimension::Store => "COALESCE(CAST(l.store_id AS TEXT), '')".to_owned(),
            Dimension::Sku => "CAST(v.sku_id AS TEXT)".to_owned(),
            _ => "''".to_owned(),
        })
        .collect();
    let time = dims.iter().copied().find(|d| d.is_time());
    if let Some(t) = time {
        exprs.push(time_expr(backend, t, "v.business_date"));
    }
    let keys = Keys { exprs, time };
    let mut b = Binds::new(backend);
    let mut sql = format!(
        "SELECT {}CAST(COALESCE(SUM(v.value_fen), 0) AS BIGINT) AS stock_value_fen, \
         CAST(COUNT(DISTINCT v.business_date) AS BIGINT) AS stock_days \
         FROM stock_value_days v JOIN locations l ON l.id = v.location_id \
         WHERE v.business_date BETWEEN {} AND {}",
        keys.select(),
        b.bind(from),
        b.bind(to)
    );
    if let Some(ids) = stores {
        let list: Vec<String> = ids.iter().map(|id| b.bind(*id)).collect();
        if list.is_empty() {
            sql.push_str(" AND 1 = 0");
        } else {
            sql.push_str(&format!(" AND l.store_id IN ({})", list.join(", ")));
        }
    }
    sql.push_str(&keys.group_by(""));
    let mut part = Groups::new();
    run(db, sql, b.values, &keys, from, &mut part).await?;
    for (k, by_time) in part {
        for (at, agg) in by_time {
            let slot = groups.entry(k.clone()).or_default().entry(at).or_default();
            slot.stock_value_fen = agg.stock_value_fen;
            slot.stock_days = agg.stock_days;
        }
    }
    Ok(())
}

/// The longest range asked at once.
const MAX_DAYS: i64 = 366 * 2;

#[derive(Debug, Clone, PartialEq)]
pub struct InventoryTurnover {
    pub location_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Days of the range with a snapshot.
    pub snapshot_days: i64,
    pub average_stock_value_fen: Option<i64>,
    pub cogs_fen: i64,
    pub turnover_days: Option<f64>,
    pub expiry_loss_units: i64,
    pub expiry_loss_fen: i64,
    pub definition: &'static str,
}

/// Takes today's snapshot (business day in Asia/Shanghai) unless it exists; returns the rows
/// written.
pub async fn snapshot_stock_values(app: &AppState) -> Result<u64, ReportsError> {
    let now = app.clock.now();
    let day = now.with_timezone(&DEFAULT_ZONE).date_naive();
    let backend = app.db.get_database_backend();
    let (p1, p2) = match backend {
        sea_orm::DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let sql = format!(
        "INSERT INTO stock_value_days \
           (business_date, location_id, sku_id, quantity, unit_cost_fen, value_fen, taken_at) \
         SELECT {p1}, l.location_id, l.sku_id, CAST(SUM(l.quantity) AS BIGINT), s.cost_fen, \
           CAST(SUM(l.quantity) * s.cost_fen AS BIGINT), {p2} \
         FROM stock_levels l JOIN skus s ON s.id = l.sku_id WHERE 1 = 1 \
         GROUP BY l.location_id, l.sku_id, s.cost_fen \
         ON CONFLICT (location_id, sku_id, business_date) DO NOTHING"
    );
    let res = app
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            vec![day.into(), now.into()],
        ))
        .await?;
    Ok(res.rows_affected())
}

/// Scheduled: today's stock values, taken by the first run of each business day.
pub struct SnapshotStockValues;

#[async_trait::async_trait]
impl PeriodicTask for SnapshotStockValues {
    fn name(&self) -> &'static str {
        "stock-value-snapshot"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(3_600)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(snapshot_stock_values(app).await?)
    }
}

/// Turnover and expiry losses of one location: HQ and finance any, a manager her store's.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn inventory_turnover(
    app: &AppState,
    staff: &StaffPrincipal,
    location_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<InventoryTurnover, ReportsError> {
    staff.require(Permission::ViewSalesReports)?;
    if to < from {
        return Err(invalid("the range ends before it starts"));
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_DAYS {
        return Err(invalid("a turnover covers at most two years"));
    }
    let loc = location::Entity::find_by_id(location_id)
        .one(&app.db)
        .await?
        .ok_or(ReportsError::NotFound("location"))?;
    if !staff.sees_every_store() && (staff.store_id.is_none() || loc.store_id != staff.store_id) {
        return Err(AuthError::Forbidden.into());
    }
    let snapshots: Vec<(NaiveDate, i64, i64)> = stock_value_day::Entity::find()
        .select_only()
        .column(stock_value_day::Column::BusinessDate)
        .column(stock_value_day::Column::SkuId)
        .column(stock_value_day::Column::ValueFen)
        .filter(stock_value_day::Column::LocationId.eq(location_id))
        .filter(stock_value_day::Column::BusinessDate.between(from, to))
        .into_tuple()
        .all(&app.db)
        .await?;
    let snapshot_days = {
        let mut d: Vec<NaiveDate> = snapshots.iter().map(|s| s.0).collect();
        d.sort_unstable();
        d.dedup();
        i64::try_from(d.len()).unwrap_or(i64::MAX)
    };
    let total_value: i64 = snapshots.iter().map(|s| s.2).sum();
    let average = (snapshot_days > 0).then(|| total_value / snapshot_days);
    let mut cogs = sales_fact::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(\"sales_facts\".\"cost_fen\"), 0) AS BIGINT)"),
            "cogs",
        )
        .filter(sales_fact::Column::BusinessDate.between(from, to));
    cogs = match loc.store_id {
        Some(store) => cogs.filter(sales_fact::Column::StoreId.eq(store)),
        None => cogs.filter(sales_fact::Column::StoreId.is_null()),
    };
    let cogs_fen: i64 = cogs.into_tuple().one(&app.db).await?.unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let turnover_days = match average {
        Some(avg) if cogs_fen > 0 => Some(avg as f64 / (cogs_fen as f64 / days as f64)),
        _ => None,
    };
    let (expiry_loss_units, expiry_loss_fen) = expiry_losses(app, location_id, from, to).await?;
    Ok(InventoryTurnover {
        location_id,
        from,
        to,
        snapshot_days,
        average_stock_value_fen: average,
        cogs_fen,
        turnover_days,
        expiry_loss_units,
        expiry_loss_fen,
        definition: TURNOVER_DEFINITION,
    })
}

/// Midnight of a business day, in UTC.
fn midnight_utc(day: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let local = day.and_time(chrono::NaiveTime::MIN);
    DEFAULT_ZONE
        .from_local_datetime(&local)
        .earliest()
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&chrono::Utc))
}

/// Units written off on or after their expiry in the range, and their value at cost.
async fn expiry_losses(
    app: &AppState,
    location_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(i64, i64), ReportsError> {
    let start = midnight_utc(from);
    let end = midnight_utc(to + chrono::Duration::days(1));
    let moves = stock_movement::Entity::find()
        .filter(stock_movement::Column::LocationId.eq(location_id))
        .filter(stock_movement::Column::Kind.eq(MovementKind::Adjustment))
        .filter(stock_movement::Column::Delta.lt(0))
        .filter(stock_movement::Column::CreatedAt.gte(start))
        .filter(stock_movement::Column::CreatedAt.lt(end))
        .limit(10_000)
        .all(&app.db)
        .await?;
    if moves.is_empty() {
        return Ok((0, 0));
    }
    let expiry: HashMap<i64, NaiveDate> = stock_batch::Entity::find()
        .filter(stock_batch::Column::Id.is_in(moves.iter().map(|m| m.batch_id)))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|b| (b.id, b.expires_on))
        .collect();
    let today_cost: HashMap<i64, i64> = sku::Entity::find()
        .filter(sku::Column::Id.is_in(moves.iter().map(|m| m.sku_id)))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.cost_fen))
        .collect();
    let (mut units, mut fen) = (0, 0);
    for m in moves {
        let day = m.created_at.with_timezone(&DEFAULT_ZONE).date_naive();
        if expiry.get(&m.batch_id).is_none_or(|e| *e > day) {
            continue;
        }
        let snap_cost: Option<i64> = stock_value_day::Entity::find()
            .select_only()
            .column(stock_value_day::Column::UnitCostFen)
            .filter(stock_value_day::Column::LocationId.eq(location_id))
            .filter(stock_value_day::Column::SkuId.eq(m.sku_id))
            .filter(stock_value_day::Column::BusinessDate.lte(day))
            .order_by_desc(stock_value_day::Column::BusinessDate)
            .into_tuple()
            .one(&app.db)
            .await?;
        let cost = snap_cost
            .or_else(|| today_cost.get(&m.sku_id).copied())
            .unwrap_or(0);
        units += -m.delta;
        fen += -m.delta * cost;
    }
    Ok((units, fen))
}
