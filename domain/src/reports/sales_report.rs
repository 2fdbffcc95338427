//! `sales_report`: the sales facts of a date range (business days, Asia/Shanghai) grouped by up
//! to three dimensions. Every time bucket of the range is present, zero when nothing sold, so
//! the buckets of an additive metric always add up to the total; distinct counts are counted
//! per bucket and for the total, never summed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
};

use super::aggregate::{self, Agg, Ask, ReportSource};
use super::metrics::{Dimension, Metric, MetricDefinition, ReturnsBasis, api_name, definitions};
use super::{ReportsError, invalid};
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use crate::platform::regions::RegionCode;
use entities::{campaign, category, coupon_template, product, sku, staff_account, store, tier};

/// The longest range a report covers.
pub(super) const MAX_DAYS: i64 = 366 * 2;
/// The most rows a report returns.
const MAX_ROWS: usize = 10_000;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportQuery {
    pub metrics: Vec<Metric>,
    pub group_by: Vec<Dimension>,
    /// First and last business day, both included.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only these stores (a manager: her own, which is also the default).
    pub store_ids: Option<Vec<i64>>,
    /// Also the same figures for the period of the same length just before.
    pub compare: bool,
    pub basis: ReturnsBasis,
}

/// One grouping key of a row: the stable key and what people read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReportKey {
    pub key: String,
    pub label: String,
}

/// One metric's figure: money in fen, other figures as numbers; `None` where the metric has
/// no value (a ratio on a zero base).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportValue {
    pub metric: Metric,
    pub fen: Option<i64>,
    pub number: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub keys: Vec<ReportKey>,
    pub values: Vec<ReportValue>,
    /// With `compare`: the same keys in the previous period (its bucket at the same position),
    /// and the relative change (null on a zero base).
    pub previous: Option<Vec<ReportValue>>,
    pub change: Option<Vec<ReportValue>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportResult {
    pub dimensions: Vec<Dimension>,
    pub metrics: Vec<Metric>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub basis: ReturnsBasis,
    /// In order: time buckets oldest first, then keys.
    pub rows: Vec<ReportRow>,
    pub totals: Vec<ReportValue>,
    /// The previous period's totals and the change against it (`number`: the relative change,
    /// 0.25 for +25 %, null on a zero base), when asked.
    pub previous_totals: Option<Vec<ReportValue>>,
    pub change: Option<Vec<ReportValue>>,
    pub definitions: Vec<MetricDefinition>,
    /// Where the figures were read from.
    pub source: ReportSource,
}

/// One metric's figure from a group's sums.
#[allow(clippy::cast_precision_loss)]
fn value(a: &Agg, metric: Metric, days: i64) -> ReportValue {
    let margin = a.net_fen - a.cost_fen;
    let ratio = |num: i64, den: i64, scale: f64| match den {
        0 => None,
        den => Some(num as f64 * scale / den as f64),
    };
    let (fen, number) = match metric {
        Metric::NetRevenue => (Some(a.net_fen), None),
        Metric::Margin => (Some(margin), None),
        Metric::CouponDiscount => (Some(a.coupon_fen), None),
        Metric::AverageOrderValue => match a.orders {
            0 => (None, None),
            n => (Some(a.net_fen / n), None),
        },
        Metric::MarginPct => (None, ratio(margin, a.net_fen, 100.0)),
        Metric::Orders => (None, Some(a.orders as f64)),
        Metric::Units => (None, Some(a.units as f64)),
        Metric::Members => (None, Some(a.members as f64)),
        Metric::NewMembers => (None, Some(a.new_members as f64)),
        Metric::RepurchaseRate => (None, ratio(a.repeaters, a.buyers, 100.0)),
        Metric::CouponRedemptions => (None, Some(a.coupon_orders as f64)),
        Metric::CouponRoi => (
            None,
            ratio(a.coupon_net_fen - a.coupon_cost_fen, a.coupon_fen, 1.0),
        ),
        Metric::BookingsRedeemed => (None, Some(a.bookings_redeemed as f64)),
        Metric::TurnoverDays => (None, turnover_days(a, days)),
    };
    ReportValue {
        metric,
        fen,
        number,
    }
}

/// A group's figures; `days`: how many days of its bucket lie within the range.
fn values(a: &Agg, metrics: &[Metric], days: i64) -> Vec<ReportValue> {
    metrics.iter().map(|m| value(a, *m, days)).collect()
}

/// The bucket a day falls in: its day, the Monday of its ISO week, or its month.
pub(super) fn bucket(dim: Dimension, day: NaiveDate) -> NaiveDate {
    match dim {
        Dimension::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        Dimension::Month => day.with_day(1).unwrap_or(day),
        _ => day,
    }
}

/// How many days of the bucket starting `start` lie within `from..=to` (the whole range
/// without a time dimension).
fn bucket_days(time: Option<Dimension>, start: NaiveDate, from: NaiveDate, to: NaiveDate) -> i64 {
    let Some(t) = time else {
        return (to - from).num_days() + 1;
    };
    let mut day = start.max(from);
    let mut n = 0;
    while day <= to && bucket(t, day) == start {
        n += 1;
        day += Duration::days(1);
    }
    n
}

/// Stock turnover days of a group over `days` days: its average snapshot value ÷ its cost of
/// goods sold per day.
#[allow(clippy::cast_precision_loss)]
fn turnover_days(a: &Agg, days: i64) -> Option<f64> {
    if a.stock_days <= 0 || a.cost_fen <= 0 || days <= 0 {
        return None;
    }
    let average = a.stock_value_fen / a.stock_days;
    Some(average as f64 / (a.cost_fen as f64 / days as f64))
}

pub(super) fn bucket_key(dim: Dimension, start: NaiveDate) -> ReportKey {
    match dim {
        Dimension::Week => {
            let w = start.iso_week();
            ReportKey {
                key: start.to_string(),
                label: format!("{}-W{:02}", w.year(), w.week()),
            }
        }
        Dimension::Month => {
            let m = start.format("%Y-%m").to_string();
            ReportKey {
                key: m.clone(),
                label: m,
            }
        }
        _ => ReportKey {
            key: start.to_string(),
            label: start.to_string(),
        },
    }
}

/// Every bucket of the range, oldest first.
pub(super) fn buckets(dim: Dimension, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut all = Vec::new();
    let mut day = from;
    while day <= to {
        let b = bucket(dim, day);
        if all.last() != Some(&b) {
            all.push(b);
        }
        day += Duration::days(1);
    }
    all
}

/// The stores the caller may see, narrowed by the query; FORBIDDEN for a store not hers.
pub(super) fn scope(
    staff: &StaffPrincipal,
    asked: Option<&[i64]>,
) -> Result<Option<Vec<i64>>, ReportsError> {
    staff.require(Permission::ViewSalesReports)?;
    if staff.sees_every_store() {
        return Ok(asked.map(<[i64]>::to_vec));
    }
    let own = staff.store_id.ok_or(AuthError::Forbidden)?;
    match asked {
        Some(ids) if ids.iter().any(|id| *id != own) => Err(AuthError::Forbidden.into()),
        _ => Ok(Some(vec![own])),
    }
}

pub(super) fn check(staff: &StaffPrincipal, q: &ReportQuery) -> Result<(), ReportsError> {
    if q.metrics.is_empty() {
        return Err(invalid("ask for at least one metric"));
    }
    if q.group_by.len() > 3 {
        return Err(invalid("group by at most three dimensions"));
    }
    let mut seen = BTreeSet::new();
    for d in &q.group_by {
        if !seen.insert(format!("{d:?}")) {
            return Err(invalid("a dimension is named twice"));
        }
    }
    if q.group_by.iter().filter(|d| d.is_time()).count() > 1 {
        return Err(invalid("group by one of day, week or month"));
    }
    for m in &q.metrics {
        if let Some(allowed) = m.dimensions()
            && let Some(d) = q.group_by.iter().find(|d| !allowed.contains(d))
        {
            let allowed: Vec<String> = allowed.iter().map(api_name).collect();
            return Err(invalid(format!(
                "{} cannot be grouped by {}: group it by {}",
                api_name(m),
                api_name(d),
                allowed.join(", ")
            )));
        }
    }
    if q.to < q.from {
        return Err(invalid("the range ends before it starts"));
    }
    if (q.to - q.from).num_days() >= MAX_DAYS {
        return Err(invalid("a report covers at most two years"));
    }
    // Finance sees the money, not who the members are or how many.
    let about_members = [Metric::Members, Metric::NewMembers, Metric::RepurchaseRate];
    if staff.role == StaffRole::Finance
        && (q.metrics.iter().any(|m| about_members.contains(m))
            || q.group_by
                .iter()
                .any(|d| matches!(d, Dimension::Tier | Dimension::RfmSegment)))
    {
        return Err(AuthError::Forbidden.into());
    }
    Ok(())
}

/// The report: rows, totals, the comparison if asked, and every metric's definition.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn sales_report(
    app: &AppState,
    staff: &StaffPrincipal,
    q: &ReportQuery,
) -> Result<ReportResult, ReportsError> {
    check(staff, q)?;
    let stores = scope(staff, q.store_ids.as_deref())?;
    let source = ReportSource::for_query(&q.metrics, &q.group_by, q.basis);
    app.caches
        .reports
        .answer(app, q, stores.as_deref(), source)
        .await
}

/// The single group of an ungrouped query.
fn total_of(groups: &aggregate::Groups) -> Agg {
    groups
        .values()
        .flat_map(BTreeMap::values)
        .next()
        .copied()
        .unwrap_or_default()
}

/// The single group of an ungrouped query, or the total read again for a grouped one
/// (distinct counts are never summed over groups) from `total_source`.
async fn total_for<C: ConnectionTrait>(
    db: &C,
    (ask, total_source): (&Ask<'_>, ReportSource),
    q: &ReportQuery,
    groups: &aggregate::Groups,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Agg, ReportsError> {
    if q.group_by.is_empty() {
        return Ok(total_of(groups));
    }
    let whole = Ask {
        source: total_source,
        ..*ask
    };
    Ok(total_of(
        &aggregate::grouped(db, &whole, &[], from, to).await?,
    ))
}

/// The period of the same length just before the query's.
fn previous_range(q: &ReportQuery) -> (NaiveDate, NaiveDate) {
    let days = (q.to - q.from).num_days() + 1;
    (q.from - Duration::days(days), q.from - Duration::days(1))
}

/// The period of the same length just before: its groups, its time buckets and its total.
async fn previous_period<C: ConnectionTrait>(
    db: &C,
    (ask, total_source): (&Ask<'_>, ReportSource),
    q: &ReportQuery,
    time: Option<Dimension>,
) -> Result<(aggregate::Groups, Vec<NaiveDate>, Agg), ReportsError> {
    let (pfrom, pto) = previous_range(q);
    let rows = aggregate::grouped(db, ask, &q.group_by, pfrom, pto).await?;
    let buckets = time.map_or_else(|| vec![pfrom], |t| buckets(t, pfrom, pto));
    let total = total_for(db, (ask, total_source), q, &rows, (pfrom, pto)).await?;
    Ok((rows, buckets, total))
}

/// One snapshot for every statement of a report, so its rows, total and comparison agree. On
/// PostgreSQL, distinct counts and the repurchase grouping sort up to a million rows: they are
/// given memory to sort in, and no JIT compilation (it costs more than it saves on them).
async fn report_snapshot(app: &AppState) -> Result<DatabaseTransaction, ReportsError> {
    let txn = crate::platform::db::begin_snapshot_read(&app.db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL work_mem = '64MB'")
            .await?;
        txn.execute_unprepared("SET LOCAL jit = off").await?;
    }
    Ok(txn)
}

/// The report read from `source` (tests compare sources; callers use [`sales_report`]).
pub async fn sales_report_from(
    app: &AppState,
    q: &ReportQuery,
    stores: Option<&[i64]>,
    source: ReportSource,
) -> Result<ReportResult, ReportsError> {
    let ask = Ask {
        basis: q.basis,
        stores,
        metrics: &q.metrics,
        source,
    };
    // A grouped report's total needs no grouping: the cheapest source without the groups (the
    // BA-day rollup counts orders across categories and products once), unless the caller
    // chose the source itself (tests that compare sources read the facts throughout).
    let total_source = if source == ReportSource::for_query(&q.metrics, &q.group_by, q.basis) {
        ReportSource::for_query(&q.metrics, &[], q.basis)
    } else {
        source
    };
    let time = q.group_by.iter().copied().find(|d| d.is_time());
    let others: Vec<Dimension> = q
        .group_by
        .iter()
        .copied()
        .filter(|d| !d.is_time())
        .collect();
    let txn = report_snapshot(app).await?;
    let mut groups = aggregate::grouped(&txn, &ask, &q.group_by, q.from, q.to).await?;
    if groups.is_empty() && others.is_empty() {
        groups.insert(Vec::new(), BTreeMap::new());
    }
    let time_buckets = time.map_or_else(|| vec![q.from], |t| buckets(t, q.from, q.to));
    if groups.len().saturating_mul(time_buckets.len()) > MAX_ROWS {
        return Err(invalid(format!(
            "the report has more than {MAX_ROWS} rows: narrow the range or the grouping"
        )));
    }
    let total = total_for(&txn, (&ask, total_source), q, &groups, (q.from, q.to)).await?;
    let previous = if q.compare {
        Some(previous_period(&txn, (&ask, total_source), q, time).await?)
    } else {
        None
    };
    txn.commit().await?;
    let labels = Labels::load(app, &others, &groups).await?;
    let mut out = Vec::new();
    for (key, by_time) in &groups {
        for (i, b) in time_buckets.iter().enumerate() {
            let acc = by_time.get(b).copied().unwrap_or_default();
            let mut keys = Vec::with_capacity(q.group_by.len());
            let mut other = others.iter().zip(key);
            for d in &q.group_by {
                if d.is_time() {
                    keys.push(bucket_key(*d, *b));
                } else if let Some((d, k)) = other.next() {
                    keys.push(labels.key(*d, k));
                }
            }
            let current = values(&acc, &q.metrics, bucket_days(time, *b, q.from, q.to));
            // The same keys in the previous period; its i-th time bucket for the i-th.
            let (previous, change) = match &previous {
                Some((rows, pbuckets, _)) => {
                    let before = pbuckets
                        .get(i)
                        .and_then(|pb| rows.get(key).and_then(|t| t.get(pb)))
                        .copied()
                        .unwrap_or_default();
                    let (pfrom, pto) = previous_range(q);
                    let before = pbuckets
                        .get(i)
                        .map(|pb| values(&before, &q.metrics, bucket_days(time, *pb, pfrom, pto)));
                    let change = before
                        .as_ref()
                        .map(|p| current.iter().zip(p).map(|(c, p)| changed(c, p)).collect());
                    (before, change)
                }
                None => (None, None),
            };
            out.push(ReportRow {
                keys,
                values: current,
                previous,
                change,
            });
        }
    }
    if time.is_some() {
        // Time first, so a chart reads the series in order.
        out.sort_by_key(|row| time_first(&q.group_by, row));
    }
    let range_days = (q.to - q.from).num_days() + 1;
    let totals = values(&total, &q.metrics, range_days);
    let (previous_totals, change) = match previous {
        Some((_, _, prev)) => {
            let prev = values(&prev, &q.metrics, range_days);
            let change = totals
                .iter()
                .zip(&prev)
                .map(|(c, p)| changed(c, p))
                .collect();
            (Some(prev), Some(change))
        }
        None => (None, None),
    };
    Ok(ReportResult {
        dimensions: q.group_by.clone(),
        metrics: q.metrics.clone(),
        from: q.from,
        to: q.to,
        basis: q.basis,
        rows: out,
        totals,
        previous_totals,
        change,
        definitions: definitions(&q.metrics),
        source,
    })
}

fn time_first(dims: &[Dimension], row: &ReportRow) -> Vec<String> {
    let mut k: Vec<String> = dims
        .iter()
        .zip(&row.keys)
        .filter(|(d, _)| d.is_time())
        .map(|(_, k)| k.key.clone())
        .collect();
    k.extend(
        dims.iter()
            .zip(&row.keys)
            .filter(|(d, _)| !d.is_time())
            .map(|(_, k)| k.label.clone()),
    );
    k
}

/// The relative change from `p` to `c`: null on a zero (or missing) base, never ÷ 1.
#[allow(clippy::cast_precision_loss)]
fn changed(c: &ReportValue, p: &ReportValue) -> ReportValue {
    let as_f = |v: &ReportValue| v.fen.map(|f| f as f64).or(v.number);
    let number = match (as_f(c), as_f(p)) {
        (Some(c), Some(p)) if p != 0.0 => Some((c - p) / p.abs()),
        _ => None,
    };
    ReportValue {
        metric: c.metric,
        fen: None,
        number,
    }
}

/// Names for the ids in the rows.
#[derive(Default)]
struct Labels {
    names: HashMap<(Dimension, String), String>,
}

impl Labels {
    async fn load(
        app: &AppState,
        dims: &[Dimension],
        groups: &aggregate::Groups,
    ) -> Result<Self, ReportsError> {
        let mut labels = Self::default();
        for (i, d) in dims.iter().enumerate() {
            let ids: Vec<i64> = groups
                .keys()
                .filter_map(|k| k.get(i).and_then(|s| s.parse().ok()))
                .collect();
            let named: Vec<(i64, String)> = match d {
                Dimension::Store => store::Entity::find()
                    .filter(store::Column::Id.is_in(ids))
                    .all(&app.db)
                    .await?
                    .into_iter()
                    .map(|s| (s.id, s.name))
                    .collect(),
                Dimension::Ba => staff_account::Entity::find()
                    .filter(staff_account::Column::Id.is_in(ids))
                    .all(&app.db)
                    .await?
                    .into_iter()
                    .map(|s| (s.id, s.display_name))
                    .collect(),
                Dimension::Category => category::Entity::find()
                    .filter(category::Column::Id.is_in(ids))
                    .all(&app.db)
                    .await?
                    .into_iter()
                    .map(|c| (c.id, c.name))
                    .collect(),
                Dimension::Sku => {
                    let skus = sku::Entity::find()
                        .filter(sku::Column::Id.is_in(ids))
                        .all(&app.db)
                        .await?;
                    let products: HashMap<i64, String> = product::Entity::find()
                        .filter(product::Column::Id.is_in(skus.iter().map(|s| s.product_id)))
                        .all(&app.db)
                        .await?
                        .into_iter()
                        .map(|p| (p.id, p.name))
                        .collect();
                    skus.into_iter()
                        .map(|s| {
                            let name = products.get(&s.product_id).cloned().unwrap_or_default();
                            (s.id, format!("{name} {}", s.code))
                        })
                        .collect()
                }
                Dimension::Product => product::Entity::find()
                    .filter(product::Column::Id.is_in(ids))
                    .all(&app.db)
                    .await?
                    .into_iter()
                    .map(|p| (p.id, p.name))
                    .collect(),
                Dimension::Campaign => campaign::Entity::find()
                    .filter(campaign::Column::Id.is_in(ids))
                    .all(&app.db)
                    .await?
                    .into_iter()
                    .map(|c| (c.id, c.name))
                    .collect(),
                Dimension::CouponTemplate => coupon_template::Entity::find()
                    .filter(coupon_template::Column::Id.is_in(ids))
                    .all(&app.db)
                    .await?
                    .into_iter()
                    .map(|c| (c.id, c.name))
                    .collect(),
                Dimension::Tier => {
                    for t in tier::Entity::find().all(&app.db).await? {
                        labels.names.insert((*d, t.code), t.name);
                    }
                    Vec::new()
                }
                Dimension::Province => {
                    for key in groups.keys().filter_map(|k| k.get(i)) {
                        let name = RegionCode::parse_stored(key).and_then(|c| c.names().0);
                        if let Some(name) = name {
                            labels.names.insert((*d, key.clone()), name.to_owned());
                        }
                    }
                    Vec::new()
                }
                _ => Vec::new(),
            };
            for (id, name) in named {
                labels.names.insert((*d, id.to_string()), name);
            }
        }
        Ok(labels)
    }

    fn key(&self, d: Dimension, key: &str) -> ReportKey {
        let label = match (d, key) {
            (_, "") => "—".to_owned(),
            (Dimension::Channel, k) => k.to_owned(),
            (d, k) => self
                .names
                .get(&(d, k.to_owned()))
                .cloned()
                .unwrap_or_else(|| k.to_owned()),
        };
        ReportKey {
            key: key.to_owned(),
            label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_of_a_range_is_there_once() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (from, to) = (d("2026-09-03"), d("2026-11-02"));
        assert_eq!(buckets(Dimension::Day, from, to).len(), 61);
        assert_eq!(buckets(Dimension::Month, from, to).len(), 3);
        let weeks = buckets(Dimension::Week, from, to);
        assert_eq!(weeks.first(), Some(&d("2026-08-31")));
        assert_eq!(weeks.len(), 10);
    }
}
