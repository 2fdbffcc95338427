//! Rollups kept current from the facts: the worker takes the dirty days and recomputes each
//! whole — (day, store, BA, channel), (day, store, SKU, channel), (day, store, channel,
//! category) and the month rows of the
//! members who bought that day (the only member-month rows the day's facts touch; facts are
//! never deleted) — then clears the day's mark only if no fact came since it looked. A fact
//! committed during a recompute leaves the mark standing, so its day is recomputed again: the
//! fact is counted exactly once, never lost, never doubled (a recompute replaces, never adds).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::SalesError;
use crate::AppState;
use crate::platform::db;
use crate::platform::jobs::{PeriodicTask, TaskError};
use entities::order::Channel;
use entities::sales_fact::{self, SalesEvent};
use entities::{
    sales_dirty_day, sales_member_month, sales_rollup_ba_day, sales_rollup_category_day,
    sales_rollup_sku_day,
};

#[derive(Default)]
struct Sums {
    orders: BTreeSet<i64>,
    units: i64,
    net_fen: i64,
    cost_fen: i64,
    coupon_discount_fen: i64,
}

impl Sums {
    fn add(&mut self, f: &sales_fact::Model) {
        if f.event != SalesEvent::Refund {
            self.orders.insert(f.order_id);
        }
        self.units += i64::from(f.quantity);
        self.net_fen += f.net_fen;
        self.cost_fen += f.cost_fen;
        self.coupon_discount_fen += f.coupon_discount_fen;
    }
    fn orders(&self) -> i64 {
        i64::try_from(self.orders.len()).unwrap_or(i64::MAX)
    }
}

/// Member ids bound in one query (well under SQLite's parameter limit).
const MEMBERS_PER_QUERY: usize = 2_000;

/// (store, SKU, channel, category): a SKU-day row.
type SkuKey = (i64, i64, &'static str, i64);

fn channel_key(c: Channel) -> &'static str {
    c.as_str()
}

/// The first and last day of the month of `day`, and its `YYYY-MM` key.
fn month_of(day: NaiveDate) -> (NaiveDate, NaiveDate, String) {
    let (first, last) = crate::platform::clock::month_bounds(day);
    (first, last, first.format("%Y-%m").to_string())
}

/// A day's facts summed per (store, BA, channel), (store, SKU, channel, category) and (store,
/// channel, category).
#[derive(Default)]
struct DayRollups {
    by_ba: BTreeMap<(i64, i64, &'static str), (Channel, Sums)>,
    by_sku: BTreeMap<SkuKey, (Channel, i64, Sums)>,
    by_category: BTreeMap<(i64, &'static str, i64), (Channel, Sums)>,
}

impl DayRollups {
    fn of(facts: &[sales_fact::Model]) -> Self {
        let mut rows = Self::default();
        for f in facts {
            let store = f.store_id.unwrap_or(0);
            let ch = channel_key(f.channel);
            rows.by_ba
                .entry((store, f.ba_id.unwrap_or(0), ch))
                .or_insert_with(|| (f.channel, Sums::default()))
                .1
                .add(f);
            rows.by_sku
                .entry((store, f.sku_id, ch, f.category_id))
                .or_insert_with(|| (f.channel, f.product_id, Sums::default()))
                .2
                .add(f);
            rows.by_category
                .entry((store, ch, f.category_id))
                .or_insert_with(|| (f.channel, Sums::default()))
                .1
                .add(f);
        }
        rows
    }

    /// Replaces the day's rows of the three rollups with these.
    async fn replace(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        day: NaiveDate,
    ) -> Result<(), SalesError> {
        sales_rollup_ba_day::Entity::delete_many()
            .filter(sales_rollup_ba_day::Column::BusinessDate.eq(day))
            .exec(txn)
            .await?;
        sales_rollup_sku_day::Entity::delete_many()
            .filter(sales_rollup_sku_day::Column::BusinessDate.eq(day))
            .exec(txn)
            .await?;
        sales_rollup_category_day::Entity::delete_many()
            .filter(sales_rollup_category_day::Column::BusinessDate.eq(day))
            .exec(txn)
            .await?;
        let ba_rows: Vec<_> = self
            .by_ba
            .iter()
            .map(
                |((store, ba, _), (channel, s))| sales_rollup_ba_day::ActiveModel {
                    business_date: Set(day),
                    store_id: Set(*store),
                    ba_id: Set(*ba),
                    channel: Set(*channel),
                    orders: Set(s.orders()),
                    units: Set(s.units),
                    net_fen: Set(s.net_fen),
                    cost_fen: Set(s.cost_fen),
                    coupon_discount_fen: Set(s.coupon_discount_fen),
                    ..Default::default()
                },
            )
            .collect();
        insert_in_chunks(txn, ba_rows).await?;
        let sku_rows: Vec<_> = self
            .by_sku
            .iter()
            .map(|((store, sku, _, category), (channel, product, s))| {
                sales_rollup_sku_day::ActiveModel {
                    business_date: Set(day),
                    store_id: Set(*store),
                    sku_id: Set(*sku),
                    channel: Set(*channel),
                    product_id: Set(*product),
                    category_id: Set(*category),
                    units: Set(s.units),
                    net_fen: Set(s.net_fen),
                    cost_fen: Set(s.cost_fen),
                    coupon_discount_fen: Set(s.coupon_discount_fen),
                    ..Default::default()
                }
            })
            .collect();
        insert_in_chunks(txn, sku_rows).await?;
        let category_rows: Vec<_> = self
            .by_category
            .iter()
            .map(
                |((store, _, category), (channel, s))| sales_rollup_category_day::ActiveModel {
                    business_date: Set(day),
                    store_id: Set(*store),
                    channel: Set(*channel),
                    category_id: Set(*category),
                    orders: Set(s.orders()),
                    units: Set(s.units),
                    net_fen: Set(s.net_fen),
                    cost_fen: Set(s.cost_fen),
                    coupon_discount_fen: Set(s.coupon_discount_fen),
                    ..Default::default()
                },
            )
            .collect();
        insert_in_chunks(txn, category_rows).await
    }
}

/// Recomputes one day's rollups now.
pub async fn recompute_day(app: &AppState, day: NaiveDate) -> Result<bool, SalesError> {
    recompute_day_with(app, day, || async {}).await
}

/// Recomputes one day's rollups, running `between` after the facts were read and before the
/// rollups are written (tests drive the race with it). True when the day's mark was cleared.
pub async fn recompute_day_with<F, Fut>(
    app: &AppState,
    day: NaiveDate,
    between: F,
) -> Result<bool, SalesError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let generation: Option<i64> = sales_dirty_day::Entity::find_by_id(day)
        .one(&app.db)
        .await?
        .map(|d| d.generation);
    let (first, last, month) = month_of(day);
    let facts = sales_fact::Entity::find()
        .filter(sales_fact::Column::BusinessDate.eq(day))
        .order_by_asc(sales_fact::Column::Id)
        .all(&app.db)
        .await?;
    let members: Vec<i64> = facts
        .iter()
        .map(|f| f.member_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let by_member = month_of_members(app, (first, last), &members).await?;
    let rows = DayRollups::of(&facts);
    between().await;
    let txn = db::begin_write(&app.db).await?;
    rows.replace(&txn, day).await?;
    replace_members(&txn, &month, &members, &by_member).await?;
    // Clear the mark only if no fact came since it was read.
    let cleared = match generation {
        Some(g) => {
            sales_dirty_day::Entity::delete_many()
                .filter(sales_dirty_day::Column::BusinessDate.eq(day))
                .filter(sales_dirty_day::Column::Generation.eq(g))
                .exec(&txn)
                .await?
                .rows_affected
                == 1
        }
        None => false,
    };
    txn.commit().await?;
    Ok(cleared)
}

/// Inserts rollup rows 500 to a statement (well under SQLite's parameter limit).
async fn insert_in_chunks<A>(
    txn: &sea_orm::DatabaseTransaction,
    rows: Vec<A>,
) -> Result<(), SalesError>
where
    A: sea_orm::ActiveModelTrait + Clone + Send,
{
    for chunk in rows.chunks(500) {
        <A::Entity as EntityTrait>::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// The month's sums of `members` (each store apart), from their facts of the month.
async fn month_of_members(
    app: &AppState,
    (first, last): (NaiveDate, NaiveDate),
    members: &[i64],
) -> Result<BTreeMap<(i64, i64), Sums>, SalesError> {
    let mut by_member: BTreeMap<(i64, i64), Sums> = BTreeMap::new();
    for chunk in members.chunks(MEMBERS_PER_QUERY) {
        for f in sales_fact::Entity::find()
            .filter(sales_fact::Column::BusinessDate.between(first, last))
            .filter(sales_fact::Column::MemberId.is_in(chunk.to_vec()))
            .all(&app.db)
            .await?
        {
            by_member
                .entry((f.store_id.unwrap_or(0), f.member_id))
                .or_default()
                .add(&f);
        }
    }
    Ok(by_member)
}

/// The month's rows of `members`, replaced.
async fn replace_members(
    txn: &sea_orm::DatabaseTransaction,
    month: &str,
    members: &[i64],
    by_member: &BTreeMap<(i64, i64), Sums>,
) -> Result<(), SalesError> {
    for chunk in members.chunks(MEMBERS_PER_QUERY) {
        sales_member_month::Entity::delete_many()
            .filter(sales_member_month::Column::Month.eq(month))
            .filter(sales_member_month::Column::MemberId.is_in(chunk.to_vec()))
            .exec(txn)
            .await?;
    }
    let member_rows: Vec<_> = by_member
        .iter()
        .map(|((store, member), s)| sales_member_month::ActiveModel {
            month: Set(month.to_owned()),
            store_id: Set(*store),
            member_id: Set(*member),
            orders: Set(s.orders()),
            net_fen: Set(s.net_fen),
            ..Default::default()
        })
        .collect();
    insert_in_chunks(txn, member_rows).await?;
    Ok(())
}

/// Recomputes up to `limit` dirty days, oldest mark first; returns how many were recomputed.
pub async fn recompute_dirty_days(app: &AppState, limit: u64) -> Result<u64, SalesError> {
    let days: Vec<NaiveDate> = sales_dirty_day::Entity::find()
        .select_only()
        .column(sales_dirty_day::Column::BusinessDate)
        .order_by_asc(sales_dirty_day::Column::MarkedAt)
        .limit(limit)
        .into_tuple()
        .all(&app.db)
        .await?;
    let mut done = 0;
    for day in days {
        recompute_day(app, day).await?;
        done += 1;
    }
    Ok(done)
}

/// Scheduled: the dirty days' rollups, every 20 seconds (fact → rollup within a minute).
pub struct RollupSales;

#[async_trait::async_trait]
impl PeriodicTask for RollupSales {
    fn name(&self) -> &'static str {
        "rollup-sales"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(20)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(recompute_dirty_days(app, 200).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_where_they_end() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            month_of(d(2026, 2, 14)),
            (d(2026, 2, 1), d(2026, 2, 28), "2026-02".into())
        );
        assert_eq!(
            month_of(d(2026, 12, 31)),
            (d(2026, 12, 1), d(2026, 12, 31), "2026-12".into())
        );
    }
}
