//! Dashboards ask the same reports again and again while the sales stay as they were. An
//! answer is a function of the query, the caller's store scope and the sales facts, which are
//! only ever appended: keyed by (query, scope, source, the highest fact id) it is served again
//! at the cost of one index read, and the next fact written makes a new key. An answer lives
//! at most [`ANSWER_TTL`]: fact ids are taken before their transactions commit, so a fact with
//! a lower id may commit after an answer keyed by a higher one, and the names in labels may
//! change; both show within that time. Answers that read other tables as they are now
//! (bookings, stock values, members' current tier and segment) are not kept.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QuerySelect};

use super::ReportsError;
use super::aggregate::ReportSource;
use super::metrics::{LIVE_DIMENSIONS, LIVE_METRICS};
use super::sales_report::{ReportQuery, ReportResult, sales_report_from};
use crate::AppState;
use entities::sales_fact;

/// How long an answer is kept at most.
pub const ANSWER_TTL: Duration = Duration::from_secs(10);

/// Rows kept across all answers (a report has at most 10,000).
const MAX_ROWS: u64 = 200_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AnswerKey {
    /// The query as JSON (its fields in declaration order).
    query: String,
    stores: Option<Vec<i64>>,
    source: ReportSource,
    /// The highest sales fact id when the answer was read.
    facts: i64,
}

/// This replica's report answers.
pub struct AnswerCache {
    answers: moka::future::Cache<AnswerKey, Arc<ReportResult>>,
}

impl Default for AnswerCache {
    fn default() -> Self {
        Self {
            answers: moka::future::Cache::builder()
                .max_capacity(MAX_ROWS)
                .weigher(|_, answer: &Arc<ReportResult>| {
                    u32::try_from(answer.rows.len())
                        .unwrap_or(u32::MAX)
                        .saturating_add(1)
                })
                .time_to_live(ANSWER_TTL)
                .build(),
        }
    }
}

/// Whether the answer depends on the sales facts alone.
fn keepable(q: &ReportQuery) -> bool {
    !q.metrics.iter().any(|m| LIVE_METRICS.contains(m))
        && !q.group_by.iter().any(|d| LIVE_DIMENSIONS.contains(d))
}

/// The highest sales fact id (0 without facts): one read of the primary key's index. Answers
/// that depend on the sales facts alone are the same while it is (within [`ANSWER_TTL`]).
pub async fn facts_version(app: &AppState) -> Result<i64, ReportsError> {
    let max: Option<Option<i64>> = sales_fact::Entity::find()
        .select_only()
        .column_as(sales_fact::Column::Id.max(), "m")
        .into_tuple()
        .one(&app.db)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

impl AnswerCache {
    /// The report, kept or read (the query was checked and scoped by the caller).
    pub(super) async fn answer(
        &self,
        app: &AppState,
        q: &ReportQuery,
        stores: Option<&[i64]>,
        source: ReportSource,
    ) -> Result<ReportResult, ReportsError> {
        let query = match serde_json::to_string(q) {
            Ok(query) if keepable(q) => query,
            _ => return sales_report_from(app, q, stores, source).await,
        };
        let key = AnswerKey {
            query,
            stores: stores.map(<[i64]>::to_vec),
            source,
            facts: facts_version(app).await?,
        };
        if let Some(answer) = self.answers.get(&key).await {
            return Ok((*answer).clone());
        }
        let answer = sales_report_from(app, q, stores, source).await?;
        self.answers.insert(key, Arc::new(answer.clone())).await;
        Ok(answer)
    }
}
