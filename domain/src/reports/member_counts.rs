//! Member counts read from kept rows instead of every fact where the kept rows answer exactly:
//! - NEW_MEMBERS: a member is new on her first purchase day (`member_first_purchases`, kept with
//!   the facts). Over all stores and grouped by time alone that is a count of first days; any
//!   other grouping or a store scope joins her first day's facts.
//! - MEMBERS by month (and store), on the RETURN_DATE basis: `sales_member_months` (one row per
//!   month, store and member, kept by the rollup worker) for every month wholly inside the range
//!   with no day waiting for its recompute; the other months from the facts. Each month is read
//!   from one of the two, never both, so nobody is counted twice.

use chrono::{Duration, NaiveDate};
use sea_orm::ConnectionTrait;

use super::ReportsError;
use super::aggregate::{
    Agg, Ask, Binds, Days, Groups, Keys, ReportSource, date_col, filter, joins, key_expr, run,
};
use super::metrics::{Dimension, Metric, ReturnsBasis};
use crate::platform::clock::month_bounds;

/// Copies one figure of `part` into the matching groups.
fn set_into(part: Groups, groups: &mut Groups, field: fn(&mut Agg) -> &mut i64) {
    for (k, by_time) in part {
        for (bucket, mut agg) in by_time {
            let value = *field(&mut agg);
            *field(
                groups
                    .entry(k.clone())
                    .or_default()
                    .entry(bucket)
                    .or_default(),
            ) = value;
        }
    }
}

/// Members whose first purchase with the brand is in the group.
pub(super) async fn new_members<C: ConnectionTrait>(
    db: &C,
    ask: &Ask<'_>,
    dims: &[Dimension],
    from: NaiveDate,
    to: NaiveDate,
    groups: &mut Groups,
) -> Result<(), ReportsError> {
    let backend = db.get_database_backend();
    let mut b = Binds::new(backend);
    let time_only = dims.iter().all(|d| d.is_time());
    let (sql, keys) = if ask.stores.is_none() && time_only {
        // Every kept first day has a SALE or GIFT fact on it (on either basis: a sale's sale
        // date is its business date), so counting first days is exact.
        let keys = Keys::new(backend, ReportSource::Facts, dims, "f.first_day");
        let sql = format!(
            "SELECT {}CAST(COUNT(*) AS BIGINT) AS new_members FROM member_first_purchases f \
             WHERE f.first_day BETWEEN {} AND {}{}",
            keys.select(),
            b.bind(from),
            b.bind(to),
            keys.group_by(""),
        );
        (sql, keys)
    } else {
        let date_col = date_col(ask.basis);
        let keys = Keys::new(backend, ReportSource::Facts, dims, date_col);
        let mut sql = format!(
            "SELECT {}COUNT(DISTINCT f.member_id) AS new_members FROM sales_facts f \
             JOIN member_first_purchases fm ON fm.member_id = f.member_id \
             AND fm.first_day = f.business_date{}",
            keys.select(),
            joins(ReportSource::Facts, dims),
        );
        sql.push_str(&filter(&mut b, date_col, from, to, ask.stores, &Days::All));
        sql.push_str(" AND f.event <> 'REFUND'");
        sql.push_str(&keys.group_by(""));
        (sql, keys)
    };
    let mut part = Groups::new();
    run(db, sql, b.values, &keys, from, &mut part).await?;
    set_into(part, groups, |a| &mut a.new_members);
    Ok(())
}

/// Whether MEMBERS is read apart, by month from the member-month rows: grouped by month and at
/// most the store, on the RETURN_DATE basis (the rows are by business day), and not with the
/// repurchase rate (whose buyers are the members already).
pub(super) fn months_answer_members(
    metrics: &[Metric],
    dims: &[Dimension],
    basis: ReturnsBasis,
) -> bool {
    basis == ReturnsBasis::ReturnDate
        && metrics.contains(&Metric::Members)
        && !metrics.contains(&Metric::RepurchaseRate)
        && dims.contains(&Dimension::Month)
        && dims
            .iter()
            .all(|d| matches!(d, Dimension::Month | Dimension::Store))
}

/// MEMBERS by month (and store): whole months with no `dirty` day from `sales_member_months`,
/// the other days of the range from the facts.
pub(super) async fn members_by_month<C: ConnectionTrait>(
    db: &C,
    ask: &Ask<'_>,
    dims: &[Dimension],
    (from, to): (NaiveDate, NaiveDate),
    dirty: &[NaiveDate],
    groups: &mut Groups,
) -> Result<(), ReportsError> {
    let backend = db.get_database_backend();
    let mut kept_months: Vec<String> = Vec::new();
    let mut fact_days: Vec<NaiveDate> = Vec::new();
    let mut day = from;
    while day <= to {
        let (first, last) = month_bounds(day);
        let whole = first >= from && last <= to;
        if whole && !dirty.iter().any(|d| *d >= first && *d <= last) {
            kept_months.push(first.format("%Y-%m").to_string());
        } else {
            let mut d = day;
            while d <= last.min(to) {
                fact_days.push(d);
                d += Duration::days(1);
            }
        }
        day = last + Duration::days(1);
    }
    let mut part = Groups::new();
    if !kept_months.is_empty() {
        let mut b = Binds::new(backend);
        // The month is kept as `YYYY-MM`; its bucket is its first day.
        let month_key = "(f.month || '-01')";
        let mut exprs = Vec::new();
        if dims.contains(&Dimension::Store) {
            // Store 0 is "no store", as in the rollups.
            exprs.push(key_expr(ReportSource::BaRollup, Dimension::Store));
        }
        exprs.push(month_key.to_owned());
        let keys = Keys {
            exprs,
            time: Some(Dimension::Month),
        };
        let months: Vec<String> = kept_months.iter().map(|m| b.bind(m.clone())).collect();
        let mut sql = format!(
            "SELECT {}CAST(COUNT(DISTINCT f.member_id) AS BIGINT) AS members \
             FROM sales_member_months f WHERE f.orders > 0 AND f.month IN ({})",
            keys.select(),
            months.join(", "),
        );
        sql.push_str(&b.store_clause(ask.stores));
        sql.push_str(&keys.group_by(""));
        run(db, sql, b.values, &keys, from, &mut part).await?;
    }
    if !fact_days.is_empty() {
        let mut b = Binds::new(backend);
        let date_col = date_col(ask.basis);
        let keys = Keys::new(backend, ReportSource::Facts, dims, date_col);
        let mut sql = format!(
            "SELECT {}COUNT(DISTINCT f.member_id) AS members FROM sales_facts f",
            keys.select(),
        );
        sql.push_str(&filter(
            &mut b,
            date_col,
            from,
            to,
            ask.stores,
            &Days::Only(&fact_days),
        ));
        sql.push_str(" AND f.event <> 'REFUND'");
        sql.push_str(&keys.group_by(""));
        run(db, sql, b.values, &keys, from, &mut part).await?;
    }
    set_into(part, groups, |a| &mut a.members);
    Ok(())
}
