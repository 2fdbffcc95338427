//! RFM segment counts over time: how many members each segment held, as the nightly insights
//! left them on a day (`rfm_segment_days`). A count is a level, not a flow: a week or a month
//! shows its last day with counts, never a sum over days. Every bucket of the range is there;
//! one without counts (before the first nightly run, or a night that did not run) says so.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use sea_orm::{ColumnTrait, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect};

use super::churn::store_scope;
use super::metrics::Dimension;
use super::sales_report::{MAX_DAYS, ReportKey, bucket_key, buckets};
use super::{ReportsError, invalid};
use crate::AppState;
use crate::auth::StaffPrincipal;
use entities::member_insight::RfmSegment;
use entities::rfm_segment_day;

/// One time bucket: the day whose counts it shows, and each segment's members (all six, in
/// order; `None` when the bucket has no counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCounts {
    pub bucket: ReportKey,
    pub counted_on: Option<NaiveDate>,
    pub members: Vec<(RfmSegment, Option<i64>)>,
}

/// Segment counts by DAY, WEEK or MONTH over `from..=to`: HQ all stores or one, a manager her
/// store (members whose exclusive BA works there); finance and BAs FORBIDDEN.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn rfm_segment_counts(
    app: &AppState,
    staff: &StaffPrincipal,
    store: Option<i64>,
    grain: Dimension,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Vec<SegmentCounts>, ReportsError> {
    let store = store_scope(staff, store)?;
    if !grain.is_time() {
        return Err(invalid("segment counts go by DAY, WEEK or MONTH"));
    }
    if to < from {
        return Err(invalid("the range ends before it starts"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(invalid("a report covers at most two years"));
    }
    let mut query = rfm_segment_day::Entity::find()
        .select_only()
        .column(rfm_segment_day::Column::BusinessDate)
        .column(rfm_segment_day::Column::Segment)
        .column_as(
            crate::platform::db::sum_i64((
                rfm_segment_day::Entity,
                rfm_segment_day::Column::Members,
            )),
            "members",
        )
        .filter(rfm_segment_day::Column::BusinessDate.between(from, to))
        .group_by(rfm_segment_day::Column::BusinessDate)
        .group_by(rfm_segment_day::Column::Segment)
        .order_by_asc(rfm_segment_day::Column::BusinessDate);
    if let Some(id) = store {
        query = query.filter(rfm_segment_day::Column::StoreId.eq(id));
    }
    let rows: Vec<(NaiveDate, RfmSegment, Option<i64>)> = query.into_tuple().all(&app.db).await?;
    let mut by_day: BTreeMap<NaiveDate, HashMap<RfmSegment, i64>> = BTreeMap::new();
    for (day, segment, members) in rows {
        *by_day.entry(day).or_default().entry(segment).or_default() += members.unwrap_or(0);
    }
    let starts = buckets(grain, from, to);
    let mut out = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        let end = starts
            .get(i + 1)
            .map_or(to, |next| *next - Duration::days(1));
        let last = by_day.range(*start.max(&from)..=end).next_back();
        out.push(SegmentCounts {
            bucket: bucket_key(grain, *start),
            counted_on: last.map(|(day, _)| *day),
            members: RfmSegment::iter()
                .map(|s| {
                    (
                        s,
                        last.map(|(_, counts)| counts.get(&s).copied().unwrap_or(0)),
                    )
                })
                .collect(),
        });
    }
    Ok(out)
}
