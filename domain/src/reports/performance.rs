//! BA and store performance for a month, from the (day, store, BA, channel) rollup, and BAs'
//! monthly targets. A BA sees only her own; a manager her store; HQ and finance every store.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use super::{ReportsError, invalid};
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use entities::sales_fact::{self, SalesEvent};
use entities::{ba_target, sales_rollup_ba_day, staff_account};

/// A BA's month.
#[derive(Debug, Clone, PartialEq)]
pub struct BaPerformance {
    pub staff_id: i64,
    pub display_name: String,
    pub store_id: Option<i64>,
    /// `YYYY-MM`.
    pub month: String,
    pub net_revenue_fen: i64,
    pub margin_fen: i64,
    pub orders: i64,
    pub units: i64,
    /// Distinct members she sold to in the month.
    pub members: i64,
    /// Of those members, the share who bought from her twice or more in the month (orders,
    /// not lines), × 100; null without members.
    pub repurchase_rate_pct: Option<f64>,
    /// Bookings she redeemed at the counter in the month.
    pub bookings_redeemed: i64,
    pub target_fen: Option<i64>,
    /// Net revenue ÷ target × 100; null without a target (or a zero one).
    pub attainment_pct: Option<f64>,
}

/// The first and last day of a `YYYY-MM` month.
fn month_range(month: &str) -> Result<(NaiveDate, NaiveDate), ReportsError> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| invalid("a month is written YYYY-MM"))?;
    if month.len() != 7 {
        return Err(invalid("a month is written YYYY-MM"));
    }
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    let next = next.ok_or_else(|| invalid("a month is written YYYY-MM"))?;
    Ok((first, next - Duration::days(1)))
}

async fn performance_of(
    app: &AppState,
    people: Vec<staff_account::Model>,
    month: &str,
) -> Result<Vec<BaPerformance>, ReportsError> {
    let (from, to) = month_range(month)?;
    let ids: Vec<i64> = people.iter().map(|p| p.id).collect();
    let rollups = sales_rollup_ba_day::Entity::find()
        .filter(sales_rollup_ba_day::Column::BusinessDate.between(from, to))
        .filter(sales_rollup_ba_day::Column::BaId.is_in(ids.clone()))
        .all(&app.db)
        .await?;
    let members: Vec<(i64, i64, i64)> = sales_fact::Entity::find()
        .select_only()
        .column(sales_fact::Column::BaId)
        .column(sales_fact::Column::MemberId)
        .column(sales_fact::Column::OrderId)
        .filter(sales_fact::Column::BusinessDate.between(from, to))
        .filter(sales_fact::Column::BaId.is_in(ids.clone()))
        .filter(sales_fact::Column::Event.ne(SalesEvent::Refund))
        .into_tuple()
        .all(&app.db)
        .await?;
    // BA → member → her orders with the BA.
    let mut served: BTreeMap<i64, BTreeMap<i64, BTreeSet<i64>>> = BTreeMap::new();
    for (ba, member, order) in members {
        served
            .entry(ba)
            .or_default()
            .entry(member)
            .or_default()
            .insert(order);
    }
    let mut stores: Vec<i64> = people.iter().filter_map(|p| p.store_id).collect();
    stores.sort_unstable();
    stores.dedup();
    let mut bookings: BTreeMap<i64, i64> = BTreeMap::new();
    for r in super::bookings_redeemed::redeemed(&app.db, Some(&stores), from, to).await? {
        *bookings.entry(r.ba_id).or_default() += 1;
    }
    let targets: BTreeMap<i64, i64> = ba_target::Entity::find()
        .filter(ba_target::Column::Month.eq(month))
        .filter(ba_target::Column::StaffId.is_in(ids))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|t| (t.staff_id, t.target_fen))
        .collect();
    Ok(people
        .into_iter()
        .map(|p| {
            let mine = rollups.iter().filter(|r| r.ba_id == p.id);
            let (mut net, mut cost, mut orders, mut units) = (0, 0, 0, 0);
            for r in mine {
                net += r.net_fen;
                cost += r.cost_fen;
                orders += r.orders;
                units += r.units;
            }
            let target_fen = targets.get(&p.id).copied();
            let mine = served.get(&p.id);
            let buyers = mine.map_or(0, BTreeMap::len);
            let repeaters = mine.map_or(0, |m| m.values().filter(|o| o.len() >= 2).count());
            #[allow(clippy::cast_precision_loss)]
            let repurchase_rate_pct =
                (buyers > 0).then(|| repeaters as f64 * 100.0 / buyers as f64);
            #[allow(clippy::cast_precision_loss)]
            let attainment_pct = target_fen
                .filter(|t| *t > 0)
                .map(|t| net as f64 * 100.0 / t as f64);
            BaPerformance {
                staff_id: p.id,
                display_name: p.display_name,
                store_id: p.store_id,
                month: month.to_owned(),
                net_revenue_fen: net,
                margin_fen: net - cost,
                orders,
                units,
                members: i64::try_from(buyers).unwrap_or(i64::MAX),
                repurchase_rate_pct,
                bookings_redeemed: bookings.get(&p.id).copied().unwrap_or(0),
                target_fen,
                attainment_pct,
            }
        })
        .collect())
}

/// The caller's own month.
pub async fn my_performance(
    app: &AppState,
    staff: &StaffPrincipal,
    month: &str,
) -> Result<BaPerformance, ReportsError> {
    staff.require(Permission::ViewOwnPerformance)?;
    let me = staff_account::Entity::find_by_id(staff.staff_id)
        .one(&app.db)
        .await?
        .ok_or(ReportsError::NotFound("staff"))?;
    performance_of(app, vec![me], month)
        .await?
        .pop()
        .ok_or(ReportsError::NotFound("staff"))
}

/// Every BA (and manager) of a store for a month.
pub async fn store_performance(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    month: &str,
) -> Result<Vec<BaPerformance>, ReportsError> {
    staff.require(Permission::ViewSalesReports)?;
    if !staff.sees_every_store() && staff.store_id != Some(store_id) {
        return Err(AuthError::Forbidden.into());
    }
    month_range(month)?;
    let people = staff_account::Entity::find()
        .filter(staff_account::Column::StoreId.eq(store_id))
        .filter(staff_account::Column::Role.is_in([StaffRole::Ba, StaffRole::Manager]))
        .all(&app.db)
        .await?;
    performance_of(app, people, month).await
}

/// Sets a BA's net revenue target for a month (HQ any store's, a manager her store's).
pub async fn set_ba_target(
    app: &AppState,
    staff: &StaffPrincipal,
    ba_id: i64,
    month: &str,
    target_fen: i64,
) -> Result<BaPerformance, ReportsError> {
    staff.require(Permission::SetSalesTargets)?;
    month_range(month)?;
    if !(0..=100_000_000_000).contains(&target_fen) {
        return Err(invalid("a target is between 0 and ¥1,000,000,000"));
    }
    let ba = staff_account::Entity::find_by_id(ba_id)
        .one(&app.db)
        .await?
        .filter(|s| matches!(s.role, StaffRole::Ba | StaffRole::Manager) && s.store_id.is_some())
        .ok_or(ReportsError::NotFound("BA"))?;
    if !staff.sees_every_store() && staff.store_id != ba.store_id {
        return Err(AuthError::Forbidden.into());
    }
    ba_target::Entity::insert(ba_target::ActiveModel {
        staff_id: Set(ba_id),
        month: Set(month.to_owned()),
        target_fen: Set(target_fen),
        set_by: Set(staff.staff_id),
        updated_at: Set(app.clock.now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([ba_target::Column::StaffId, ba_target::Column::Month])
            .update_columns([
                ba_target::Column::TargetFen,
                ba_target::Column::SetBy,
                ba_target::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await?;
    performance_of(app, vec![ba], month)
        .await?
        .pop()
        .ok_or(ReportsError::NotFound("BA"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_strictly() {
        assert!(month_range("2026-09").is_ok());
        assert!(month_range("2026-9").is_err());
        assert!(month_range("2026-13").is_err());
        let (a, b) = month_range("2024-02").unwrap();
        assert_eq!((b - a).num_days(), 28);
    }
}
