//! Member insights: each member's lifecycle stage and RFM segment, recomputed from orders by a
//! nightly job in SQL (a range of member ids at a time), for segments to filter on.
//!
//! Lifecycle: NEW (first purchase within 30 days, or no purchase and joined within 90 days),
//! ACTIVE (last purchase within 90 days), AT_RISK (90 to 180 days), LOST (older, or never
//! bought and joined long ago). RFM: CHAMPIONS (bought within 30 days, 3+ orders, high spend),
//! LOYAL (3+ orders, within 90 days), BIG_SPENDERS (high spend), PROMISING (within 30 days),
//! HIBERNATING (the rest of the buyers), PROSPECT (never bought).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Value;
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use super::{CampaignsError, segments};
use crate::AppState;
use crate::platform::jobs::{PeriodicTask, TaskError};
use crate::platform::kv::keys;
use entities::{member, rfm_segment_day};

/// Spend from which a buyer counts as a high spender (fen): ¥3,000.
pub const HIGH_SPEND_FEN: i64 = 300_000;
const CHUNK: i64 = 50_000;

/// Recomputes every member's insights as of `now`; returns how many members were written.
#[tracing::instrument(skip_all, err)]
pub async fn recompute(app: &AppState, now: DateTime<Utc>) -> Result<u64, CampaignsError> {
    let max_id: Option<i64> = member::Entity::find()
        .select_only()
        .column(member::Column::Id)
        .order_by_desc(member::Column::Id)
        .limit(1)
        .into_tuple()
        .one(&app.db)
        .await?;
    let Some(max_id) = max_id else {
        return Ok(0);
    };
    let d = |days: i64| now - chrono::Duration::days(days);
    let backend = app.db.get_database_backend();
    // Numbered parameters, written for each backend ($n on PostgreSQL, ?n on SQLite), so a
    // value is bound once however often the statement uses it.
    let p = |n: u8| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    let (d30, d90, d180, high, now_p, lo_p, hi_p) = (p(1), p(2), p(3), p(4), p(5), p(6), p(7));
    let (paid, part) = (p(8), p(9));
    let sql = format!(
        "INSERT INTO member_insights (member_id, lifecycle, rfm_segment, last_order_at, order_count, monetary_fen, computed_at) \
         SELECT m.id, \
           CASE WHEN o.last_at IS NULL THEN (CASE WHEN m.created_at >= {d90} THEN 'NEW' ELSE 'LOST' END) \
                WHEN o.first_at >= {d30} THEN 'NEW' \
                WHEN o.last_at >= {d90} THEN 'ACTIVE' \
                WHEN o.last_at >= {d180} THEN 'AT_RISK' \
                ELSE 'LOST' END, \
           CASE WHEN o.last_at IS NULL THEN 'PROSPECT' \
                WHEN o.last_at >= {d30} AND o.n >= 3 AND o.total >= {high} THEN 'CHAMPIONS' \
                WHEN o.n >= 3 AND o.last_at >= {d90} THEN 'LOYAL' \
                WHEN o.total >= {high} THEN 'BIG_SPENDERS' \
                WHEN o.last_at >= {d30} THEN 'PROMISING' \
                ELSE 'HIBERNATING' END, \
           o.last_at, COALESCE(o.n, 0), COALESCE(o.total, 0), {now_p} \
         FROM members m LEFT JOIN ( \
           SELECT member_id, MIN(paid_at) AS first_at, MAX(paid_at) AS last_at, \
                  CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(total_fen - refunded_fen) AS BIGINT) AS total \
           FROM orders WHERE status IN ({paid}, {part}) AND paid_at IS NOT NULL \
             AND member_id > {lo_p} AND member_id <= {hi_p} GROUP BY member_id \
         ) o ON o.member_id = m.id \
         WHERE m.id > {lo_p} AND m.id <= {hi_p} \
         ON CONFLICT (member_id) DO UPDATE SET lifecycle = excluded.lifecycle, \
           rfm_segment = excluded.rfm_segment, last_order_at = excluded.last_order_at, \
           order_count = excluded.order_count, monetary_fen = excluded.monetary_fen, \
           computed_at = excluded.computed_at"
    );
    let [paid_status, part_status] = segments::PURCHASED;
    let mut written = 0;
    let mut lo = 0;
    while lo < max_id {
        let hi = lo + CHUNK;
        let values: Vec<Value> = vec![
            d(30).into(),
            d(90).into(),
            d(180).into(),
            HIGH_SPEND_FEN.into(),
            now.into(),
            lo.into(),
            hi.into(),
            paid_status.to_value().into(),
            part_status.to_value().into(),
        ];
        written += app
            .db
            .execute_raw(Statement::from_sql_and_values(backend, &sql, values))
            .await?
            .rows_affected();
        lo = hi;
    }
    keep_segment_counts(app, now).await?;
    Ok(written)
}

/// Keeps how many members each segment holds today (the store zone's day), per store of the
/// member's exclusive BA, replacing what an earlier run the same day kept: segment counts over
/// time, read by `reports::rfm_segment_counts`.
async fn keep_segment_counts(app: &AppState, now: DateTime<Utc>) -> Result<(), CampaignsError> {
    let day = now
        .with_timezone(&crate::platform::clock::DEFAULT_ZONE)
        .date_naive();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    rfm_segment_day::Entity::delete_many()
        .filter(rfm_segment_day::Column::BusinessDate.eq(day))
        .exec(&txn)
        .await?;
    let backend = txn.get_database_backend();
    let day_p = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO rfm_segment_days (business_date, store_id, segment, members) \
             SELECT {day_p}, COALESCE(s.store_id, 0), mi.rfm_segment, COUNT(*) \
             FROM member_insights mi JOIN members m ON m.id = mi.member_id \
             LEFT JOIN staff_accounts s ON s.id = m.exclusive_ba_id \
             GROUP BY COALESCE(s.store_id, 0), mi.rfm_segment"
        ),
        vec![day.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Nightly: recomputes insights once a local day, after 02:00 in the store zone.
pub struct RefreshMemberInsights;

#[async_trait::async_trait]
impl PeriodicTask for RefreshMemberInsights {
    fn name(&self) -> &'static str {
        "refresh-member-insights"
    }
    fn every(&self) -> Duration {
        Duration::from_secs(15 * 60)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        use chrono::Timelike;
        let now = app.clock.now();
        let local = now.with_timezone(&crate::platform::clock::DEFAULT_ZONE);
        if local.hour() < 2 {
            return Ok(0);
        }
        let key = keys::member_insights_run(local.date_naive());
        if !app
            .kv
            .set_if_absent(&key, b"1", Duration::from_secs(36 * 3600))
            .await?
        {
            return Ok(0);
        }
        match recompute(app, now).await {
            Ok(n) => Ok(n),
            Err(err) => {
                // Let the next pass try again.
                let _ = app.kv.delete(&[key.as_str()]).await;
                Err(err.into())
            }
        }
    }
}
