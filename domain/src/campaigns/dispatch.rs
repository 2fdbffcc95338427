//! The campaign dispatcher, run by every `rouge worker` replica.
//!
//! 1. Audience: the segment's members are written into `campaign_deliveries` a page at a time
//!    (keyset on member id, `INSERT … SELECT … ON CONFLICT DO NOTHING`): one row per (campaign,
//!    member), unique, always written BEFORE any send. The database does the filtering.
//! 2. Claim: a batch of PENDING rows turns CLAIMED in one `UPDATE … WHERE id IN (SELECT … FOR
//!    UPDATE SKIP LOCKED) RETURNING` (on SQLite, the single writer makes it atomic), so replicas
//!    share the work without overlapping.
//! 3. Checks per batch, in SQL: marketing consent, the frequency cap across campaigns, and the
//!    counted subscription consent (one taken per member in one conditional update).
//! 4. Send, bounded concurrency, optional rate; each result is written back: SENT; 43101 →
//!    FAILED and the consent count zeroed; 45011 → back to PENDING and the campaign backs off;
//!    45009 → back to PENDING and every campaign stops until local midnight; -1/5xx → PENDING
//!    with exponential back-off until `max_attempts`; other refusals → FAILED with the reason.
//!    Consents of messages that did not go out are given back.
//!
//! A dispatcher stopped between batches loses nothing. A batch moves CLAIMED → READY (its
//! consents taken, in the same transaction) → SENDING one group of `concurrency` messages at a
//! time just before it goes out, answers recorded a group at a time as they come back. One
//! killed mid-batch leaves at most about three groups SENDING: once the claim runs out those rows turn FAILED/IN_DOUBT and are never resent
//! (WeChat has no idempotency key, so at most once is the only safe choice for a message that
//! may have gone out); its READY and CLAIMED rows go back to the queue, READY ones with their
//! consent given back, and are sent by the next dispatcher exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use chrono::{DateTime, Days, TimeZone, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use sea_orm::sea_query::{
    Expr, ExprTrait, LockBehavior, LockType, OnConflict, Order, Query, Value,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use wechat_integration::{SubscribeMessage, WeChatErrorKind};

use super::{CampaignsError, QuietHours, view};
use crate::{AppState, subscriptions};
use entities::{campaign, campaign_delivery, member, subscription_template};

/// A raw statement written with `?` placeholders, numbered for PostgreSQL.
pub(crate) fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

const DAY_STOP_KEY: &str = "campaigns:daily-quota-stop";

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub sent: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Put back for later (back-off, retries, quota).
    pub deferred: u64,
    pub rate_limited: bool,
    pub day_stopped: bool,
}

/// Spaces sends out to a rate (per worker process).
struct Pacer {
    interval: Option<Duration>,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    fn new(rate: Option<u32>) -> Self {
        Self {
            interval: rate
                .filter(|r| *r > 0)
                .map(|r| Duration::from_secs_f64(1.0 / f64::from(r))),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// One dispatcher per worker process.
pub struct Dispatcher {
    holder: String,
    settings: super::CampaignSettings,
    pacer: Pacer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    /// 43101.
    Exhausted,
    /// 45011.
    RateLimited,
    /// 45009.
    DailyQuota,
    /// -1, 5xx, transport, stale token.
    Retry,
    /// Not attempted: the batch was halted by 45011/45009 first.
    NotAttempted,
    Rejected(&'static str),
}

const HALT_NONE: u8 = 0;
const HALT_RATE: u8 = 1;
const HALT_DAY: u8 = 2;

#[derive(FromQueryResult)]
struct Claimed {
    id: i64,
    member_id: i64,
    attempts: i32,
}

#[derive(FromQueryResult)]
struct MemberCount {
    member_id: i64,
    n: i64,
}

/// The end of the quiet hours `now` falls in, if it falls in them.
pub fn quiet_until(now: DateTime<Utc>, zone: Tz, quiet: QuietHours) -> Option<DateTime<Utc>> {
    if quiet.start == quiet.end {
        return None;
    }
    let local = now.with_timezone(&zone);
    let t = local.time();
    let wraps = quiet.start > quiet.end;
    let inside = if wraps {
        t >= quiet.start || t < quiet.end
    } else {
        t >= quiet.start && t < quiet.end
    };
    if !inside {
        return None;
    }
    let day = if wraps && t >= quiet.start {
        local.date_naive().checked_add_days(Days::new(1))?
    } else {
        local.date_naive()
    };
    zone.from_local_datetime(&day.and_time(quiet.end))
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

/// The next local midnight in `zone` (when WeChat's daily quota resets, for our purposes).
pub fn next_local_midnight(now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&zone);
    local
        .date_naive()
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|d| zone.from_local_datetime(&d).earliest())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(now + chrono::Duration::hours(24))
}

impl Dispatcher {
    /// A dispatcher with the app's settings.
    pub fn new(app: &AppState, holder: impl Into<String>) -> Self {
        Self::with_settings(holder, app.settings.campaigns.clone())
    }

    /// A dispatcher with settings of its own (tests, the bench).
    pub fn with_settings(holder: impl Into<String>, settings: super::CampaignSettings) -> Self {
        Self {
            holder: holder.into(),
            pacer: Pacer::new(settings.rate_per_second),
            settings,
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Dispatches everything due now, then returns; `budget` stops after that many sends
    /// (between batches), as a worker stopped part-way would.
    #[tracing::instrument(skip_all, err, fields(holder = %self.holder))]
    pub async fn run_due(
        &self,
        app: &AppState,
        budget: Option<u64>,
    ) -> Result<DispatchReport, CampaignsError> {
        let mut report = DispatchReport::default();
        let now = app.clock.now();
        // Scheduled campaigns whose time has come start running.
        campaign::Entity::update_many()
            .col_expr(campaign::Column::Status, Expr::value("RUNNING"))
            .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
            .filter(campaign::Column::Status.eq("SCHEDULED"))
            .filter(campaign::Column::StartAt.lte(now))
            .exec(&app.db)
            .await?;
        if let Some(until) = app.kv.get(DAY_STOP_KEY).await? {
            let until = String::from_utf8_lossy(&until)
                .parse::<DateTime<Utc>>()
                .unwrap_or(now);
            if until > now {
                report.day_stopped = true;
                return Ok(report);
            }
        }
        let running = campaign::Entity::find()
            .filter(campaign::Column::Status.eq("RUNNING"))
            .filter(
                campaign::Column::NotBefore
                    .is_null()
                    .or(campaign::Column::NotBefore.lte(now)),
            )
            .order_by_asc(campaign::Column::Id)
            .all(&app.db)
            .await?;
        for c in running {
            // Lanes claim and send batches side by side, so the database work of one batch
            // overlaps the sends of another (a budgeted run uses one lane, to stop exactly).
            let lanes = if budget.is_some() {
                1
            } else {
                self.settings.lanes.max(1)
            };
            let results = futures::future::join_all((0..lanes).map(|_| {
                let c = c.clone();
                async move {
                    let mut lane = DispatchReport::default();
                    self.run_campaign(app, c, budget, &mut lane)
                        .await
                        .map(|()| lane)
                }
            }))
            .await;
            for lane in results {
                let lane = lane?;
                report.sent += lane.sent;
                report.skipped += lane.skipped;
                report.failed += lane.failed;
                report.deferred += lane.deferred;
                report.rate_limited |= lane.rate_limited;
                report.day_stopped |= lane.day_stopped;
            }
            if report.day_stopped || budget.is_some_and(|b| report.sent >= b) {
                break;
            }
        }
        Ok(report)
    }

    async fn run_campaign(
        &self,
        app: &AppState,
        mut c: campaign::Model,
        budget: Option<u64>,
        report: &mut DispatchReport,
    ) -> Result<(), CampaignsError> {
        let settings = &self.settings;
        let zone: Tz = c.zone.parse().unwrap_or(crate::clock::DEFAULT_ZONE);
        let backend = app.db.get_database_backend();
        let template = subscription_template::Entity::find()
            .filter(subscription_template::Column::TemplateId.eq(&c.template_id))
            .one(&app.db)
            .await?
            .map(super::template_view)
            .ok_or(CampaignsError::NotFound("subscription template"))?;
        loop {
            let now = app.clock.now();
            let campaign_view = view(c.clone());
            if let Some(until) = quiet_until(now, zone, campaign_view.quiet_hours) {
                set_not_before(app, c.id, until).await?;
                return Ok(());
            }
            recover_expired_claims(app, c.id, &c.template_id, now).await?;
            if !c.audience_done {
                c = self.materialize_page(app, c, now, backend).await?;
            }
            let left = budget.map(|b| b.saturating_sub(report.sent));
            if left == Some(0) {
                return Ok(());
            }
            let size = left.map_or(settings.batch_size, |l| Ord::min(l, settings.batch_size));
            let claimed = self.claim(app, c.id, size, now, backend).await?;
            if claimed.is_empty() {
                if c.audience_done {
                    self.maybe_complete(app, c.id, now).await?;
                    return Ok(());
                }
                continue;
            }
            let halted = self
                .process(app, &c, &campaign_view, &template, claimed, report)
                .await?;
            if halted {
                return Ok(());
            }
            // Someone may have paused or cancelled it meanwhile.
            let status = campaign::Entity::find_by_id(c.id)
                .one(&app.db)
                .await?
                .map(|r| r.status);
            if status.as_deref() != Some("RUNNING") {
                return Ok(());
            }
        }
    }

    /// Writes the next page of the audience into the delivery queue.
    async fn materialize_page(
        &self,
        app: &AppState,
        mut c: campaign::Model,
        now: DateTime<Utc>,
        backend: DbBackend,
    ) -> Result<campaign::Model, CampaignsError> {
        let rule: super::SegmentRule = serde_json::from_str(&c.segment_rule)
            .map_err(|e| CampaignsError::InvalidInput(format!("stored segment: {e}")))?;
        let cond = rule.condition(backend);
        let page = Ord::max(self.settings.audience_page, 1);
        // The last member id of this page, if the page is full.
        let boundary: Option<i64> = member::Entity::find()
            .select_only()
            .column(member::Column::Id)
            .filter(cond.clone())
            .filter(member::Column::Id.gt(c.audience_cursor))
            .order_by_asc(member::Column::Id)
            .offset(page - 1)
            .limit(1)
            .into_tuple()
            .one(&app.db)
            .await?;
        let mut select = Query::select();
        select
            .expr(Expr::val(c.id))
            .column((member::Entity, member::Column::Id))
            .expr(Expr::val("PENDING"))
            .expr(Expr::val(0))
            .expr(Expr::val(now))
            .from(member::Entity)
            .cond_where(cond)
            .and_where(Expr::col((member::Entity, member::Column::Id)).gt(c.audience_cursor));
        if let Some(b) = boundary {
            select.and_where(Expr::col((member::Entity, member::Column::Id)).lte(b));
        }
        let mut insert = Query::insert();
        insert
            .into_table(campaign_delivery::Entity)
            .columns([
                campaign_delivery::Column::CampaignId,
                campaign_delivery::Column::MemberId,
                campaign_delivery::Column::State,
                campaign_delivery::Column::Attempts,
                campaign_delivery::Column::NextAttemptAt,
            ])
            .select_from(select)
            .map_err(|e| CampaignsError::InvalidInput(e.to_string()))?
            .on_conflict(
                OnConflict::columns([
                    campaign_delivery::Column::CampaignId,
                    campaign_delivery::Column::MemberId,
                ])
                .do_nothing()
                .to_owned(),
            );
        let txn = crate::db::begin_write(&app.db).await?;
        txn.execute(&insert).await?;
        let cursor = boundary.unwrap_or(c.audience_cursor);
        let done = boundary.is_none();
        campaign::Entity::update_many()
            .col_expr(campaign::Column::AudienceCursor, Expr::value(cursor))
            .col_expr(campaign::Column::AudienceDone, Expr::value(done))
            .filter(campaign::Column::Id.eq(c.id))
            .filter(campaign::Column::AudienceCursor.eq(c.audience_cursor))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        // Whoever won, read the truth back.
        match campaign::Entity::find_by_id(c.id).one(&app.db).await? {
            Some(fresh) => Ok(fresh),
            None => {
                c.audience_done = true;
                Ok(c)
            }
        }
    }

    async fn claim(
        &self,
        app: &AppState,
        campaign_id: i64,
        size: u64,
        now: DateTime<Utc>,
        _backend: DbBackend,
    ) -> Result<Vec<Claimed>, CampaignsError> {
        let claim_until = now + chrono::Duration::seconds(self.settings.claim_secs);
        let mut due = Query::select();
        due.column(campaign_delivery::Column::Id)
            .from(campaign_delivery::Entity)
            .and_where(campaign_delivery::Column::CampaignId.eq(campaign_id))
            .and_where(campaign_delivery::Column::State.eq("PENDING"))
            .and_where(campaign_delivery::Column::NextAttemptAt.lte(now))
            .order_by(campaign_delivery::Column::Id, Order::Asc)
            .limit(size)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        let update = Query::update()
            .table(campaign_delivery::Entity)
            .value(campaign_delivery::Column::State, "CLAIMED")
            .value(campaign_delivery::Column::ClaimedUntil, claim_until)
            .value(
                campaign_delivery::Column::Attempts,
                Expr::col(campaign_delivery::Column::Attempts).add(1),
            )
            .and_where(Expr::col(campaign_delivery::Column::Id).in_subquery(due.to_owned()))
            .returning(Query::returning().columns([
                campaign_delivery::Column::Id,
                campaign_delivery::Column::MemberId,
                campaign_delivery::Column::Attempts,
            ]))
            .to_owned();
        let rows = app.db.query_all(&update).await?;
        let mut claimed = rows
            .iter()
            .map(|r| Claimed::from_query_result(r, ""))
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    async fn maybe_complete(
        &self,
        app: &AppState,
        campaign_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), CampaignsError> {
        let open = campaign_delivery::Entity::find()
            .filter(campaign_delivery::Column::CampaignId.eq(campaign_id))
            .filter(campaign_delivery::Column::State.is_in(OPEN_STATES))
            .limit(1)
            .one(&app.db)
            .await?;
        match open {
            None => {
                campaign::Entity::update_many()
                    .col_expr(campaign::Column::Status, Expr::value("COMPLETED"))
                    .col_expr(campaign::Column::CompletedAt, Expr::value(now))
                    .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
                    .filter(campaign::Column::Id.eq(campaign_id))
                    .filter(campaign::Column::Status.eq("RUNNING"))
                    .exec(&app.db)
                    .await?;
            }
            Some(row) if row.state == "PENDING" && row.next_attempt_at > now => {
                // Only retries later on: come back then.
                let next: Option<DateTime<Utc>> = campaign_delivery::Entity::find()
                    .select_only()
                    .column_as(campaign_delivery::Column::NextAttemptAt.min(), "next")
                    .filter(campaign_delivery::Column::CampaignId.eq(campaign_id))
                    .filter(campaign_delivery::Column::State.eq("PENDING"))
                    .into_tuple()
                    .one(&app.db)
                    .await?
                    .flatten();
                if let Some(next) = next {
                    set_not_before(app, campaign_id, next).await?;
                }
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Checks, sends and records one claimed batch. True when WeChat told us to stop.
    async fn process(
        &self,
        app: &AppState,
        c: &campaign::Model,
        cv: &super::Campaign,
        template: &super::SubscriptionTemplate,
        claimed: Vec<Claimed>,
        report: &mut DispatchReport,
    ) -> Result<bool, CampaignsError> {
        let settings = &self.settings;
        let now = app.clock.now();
        let ids: Vec<i64> = claimed.iter().map(|r| r.member_id).collect();
        let members: HashMap<i64, member::Model> = member::Entity::find()
            .filter(member::Column::Id.is_in(ids.clone()))
            .all(&app.db)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();

        // A campaign whose coupon cannot be issued at all (template gone or switched off) is
        // paused before anything is sent: its message would promise what nobody gets.
        let coupon_name = match c.coupon_template_id {
            None => String::new(),
            Some(coupon_template) => {
                match super::campaign_coupon_name(app, coupon_template).await {
                    Ok(name) => name,
                    Err(err @ CampaignsError::CouponsUnavailable(_)) => {
                        let all: Vec<i64> = claimed.iter().map(|r| r.id).collect();
                        release(app, &all, now, false).await?;
                        campaign::Entity::update_many()
                            .col_expr(campaign::Column::Status, Expr::value("PAUSED"))
                            .col_expr(campaign::Column::LastError, Expr::value(err.to_string()))
                            .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
                            .filter(campaign::Column::Id.eq(c.id))
                            .exec(&app.db)
                            .await?;
                        tracing::warn!(campaign_id = c.id, error = %err, "campaign paused");
                        return Ok(true);
                    }
                    Err(err) => return Err(err),
                }
            }
        };

        let mut skip: Vec<(i64, &'static str)> = Vec::new();
        let mut candidates: Vec<&Claimed> = Vec::new();
        for row in &claimed {
            match members.get(&row.member_id) {
                None => skip.push((row.id, "MEMBER_GONE")),
                Some(m) if !m.marketing_consent => skip.push((row.id, "NO_MARKETING_CONSENT")),
                Some(_) => candidates.push(row),
            }
        }
        // The cap counts messages sent to the member by any campaign in the window.
        if c.cap_count > 0 && !candidates.is_empty() {
            let since = now - chrono::Duration::days(i64::from(c.cap_days));
            let ids: Vec<Value> = candidates.iter().map(|r| r.member_id.into()).collect();
            let marks = vec!["?"; ids.len()].join(", ");
            let mut values = vec![Value::from(since)];
            values.extend(ids);
            let counts: HashMap<i64, i64> = MemberCount::find_by_statement(stmt(
                app.db.get_database_backend(),
                &format!(
                    "SELECT member_id, CAST(COUNT(*) AS BIGINT) AS n FROM campaign_deliveries \
                     WHERE state = 'SENT' AND sent_at >= ? AND member_id IN ({marks}) GROUP BY member_id"
                ),
                values,
            ))
            .all(&app.db)
            .await?
            .into_iter()
            .map(|r| (r.member_id, r.n))
            .collect();
            candidates.retain(|r| {
                let over = counts.get(&r.member_id).copied().unwrap_or(0) >= i64::from(c.cap_count);
                if over {
                    skip.push((r.id, "OVER_CAP"));
                }
                !over
            });
        }
        // Per-member values.
        let mut messages: Vec<(&Claimed, SubscribeMessage)> = Vec::new();
        let page = format!("{}?campaign={}", c.page, c.id);
        for row in candidates {
            let Some(m) = members.get(&row.member_id) else {
                continue;
            };
            match member_values(cv, template, m, &coupon_name) {
                Some(data) => messages.push((
                    row,
                    SubscribeMessage {
                        touser: m.openid.clone(),
                        template_id: c.template_id.clone(),
                        page: Some(page.clone()),
                        data,
                        ..Default::default()
                    },
                )),
                None => skip.push((row.id, "INVALID_VALUE")),
            }
        }
        // One counted consent per message.
        // The rows whose consent is taken turn READY in the same transaction, so a dispatcher
        // that dies before sending knows whose consent to give back.
        let want: Vec<i64> = messages.iter().map(|(r, _)| r.member_id).collect();
        let txn = crate::db::begin_write(&app.db).await?;
        let taken = subscriptions::take_many(&txn, &c.template_id, &want, now).await?;
        messages.retain(|(r, _)| {
            let ok = taken.contains(&r.member_id);
            if !ok {
                skip.push((r.id, "NO_CONSENT"));
            }
            ok
        });
        let ready: Vec<i64> = messages.iter().map(|(r, _)| r.id).collect();
        set_state(&txn, &ready, "READY").await?;
        txn.commit().await?;
        // The coupon goes out with the message: issued only to members who will get it.
        if let Some(coupon_template) = c.coupon_template_id {
            let recipients: Vec<i64> = messages.iter().map(|(r, _)| r.member_id).collect();
            let mut issued: Vec<(i64, super::CampaignCoupon)> = Vec::new();
            // A few at a time: each copy is its own short transaction on the template's row.
            for chunk in recipients.chunks(8) {
                let outcomes = futures::future::try_join_all(chunk.iter().map(|&member_id| {
                    super::issue_campaign_coupon(app, coupon_template, member_id, c.id)
                }))
                .await?;
                issued.extend(chunk.iter().copied().zip(outcomes));
            }
            let refused: HashMap<i64, &'static str> = issued
                .into_iter()
                .filter_map(|(member_id, outcome)| match outcome {
                    super::CampaignCoupon::Refused(reason) => Some((member_id, reason)),
                    super::CampaignCoupon::Issued => None,
                })
                .collect();
            if !refused.is_empty() {
                messages.retain(|(r, _)| match refused.get(&r.member_id) {
                    Some(reason) => {
                        skip.push((r.id, reason));
                        false
                    }
                    None => true,
                });
                let back: Vec<i64> = refused.keys().copied().collect();
                subscriptions::give_back_many(&app.db, &c.template_id, &back, now).await?;
            }
        }
        write_final(&app.db, &skip, "SKIPPED").await?;
        report.skipped += skip.len() as u64;

        // Send with `concurrency` messages in flight. Messages turn SENDING a group of
        // `concurrency` at a time, just before the first of the group is handed to WeChat, and
        // answers are recorded a group at a time as they come back. A dispatcher killed
        // mid-batch leaves at most about three groups in doubt (in flight, marked next, answered
        // but not yet recorded); the rest of its batch is READY or CLAIMED and goes back to the
        // queue (with its consent) once the claim runs out.
        let halt = AtomicU8::new(HALT_NONE);
        let group_size = settings.concurrency.max(1);
        let mut groups: Vec<Vec<(i64, i64, i32, SubscribeMessage)>> = Vec::new();
        for (row, msg) in messages {
            match groups.last_mut() {
                Some(g) if g.len() < group_size => {
                    g.push((row.id, row.member_id, row.attempts, msg))
                }
                _ => groups.push(vec![(row.id, row.member_id, row.attempts, msg)]),
            }
        }
        let mut groups = groups.into_iter();
        let mut next: std::collections::VecDeque<((i64, i64, i32, SubscribeMessage), bool)> =
            std::collections::VecDeque::new();
        let mut in_flight = futures::stream::FuturesUnordered::new();
        let mut answered = Vec::with_capacity(group_size);
        let mut mark_error = None;
        loop {
            while in_flight.len() < group_size {
                if next.is_empty() {
                    let Some(group) = groups.next() else {
                        break;
                    };
                    let ids: Vec<i64> = group.iter().map(|(id, ..)| *id).collect();
                    // Never send what is not marked: a later dispatcher would send it again.
                    let marked = halt.load(Ordering::SeqCst) == HALT_NONE
                        && mark_error.is_none()
                        && match set_state(&app.db, &ids, "SENDING").await {
                            Ok(()) => true,
                            Err(e) => {
                                mark_error = Some(e);
                                false
                            }
                        };
                    next.extend(group.into_iter().map(|item| (item, marked)));
                }
                let Some(((id, member_id, attempts, msg), marked)) = next.pop_front() else {
                    break;
                };
                let halt = &halt;
                in_flight.push(async move {
                    if !marked || halt.load(Ordering::SeqCst) != HALT_NONE {
                        return (id, member_id, attempts, Outcome::NotAttempted);
                    }
                    let outcome = self.send_one(app, &msg, halt).await;
                    (id, member_id, attempts, outcome)
                });
            }
            let Some(answer) = in_flight.next().await else {
                break;
            };
            answered.push(answer);
            if answered.len() >= group_size {
                self.record(app, c, std::mem::take(&mut answered), report)
                    .await?;
            }
        }
        if !answered.is_empty() {
            self.record(app, c, answered, report).await?;
        }
        if let Some(e) = mark_error {
            return Err(e);
        }

        match halt.load(Ordering::SeqCst) {
            HALT_DAY => {
                let zone: Tz = c.zone.parse().unwrap_or(crate::clock::DEFAULT_ZONE);
                let until = next_local_midnight(now, zone);
                let ttl = (until - now).to_std().unwrap_or(Duration::from_secs(60));
                app.kv
                    .set(DAY_STOP_KEY, until.to_rfc3339().as_bytes(), Some(ttl))
                    .await?;
                set_not_before(app, c.id, until).await?;
                tracing::warn!(campaign_id = c.id, %until, "WeChat daily quota reached (45009): stopped for the day");
                report.day_stopped = true;
                Ok(true)
            }
            HALT_RATE => {
                let until = now + chrono::Duration::seconds(settings.rate_limit_backoff_secs);
                set_not_before(app, c.id, until).await?;
                tracing::warn!(campaign_id = c.id, %until, "WeChat rate limit (45011): backing off");
                report.rate_limited = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Sends one message; 45011/45009 stop the ones not yet begun.
    async fn send_one(&self, app: &AppState, msg: &SubscribeMessage, halt: &AtomicU8) -> Outcome {
        self.pacer.wait().await;
        match app.wechat.send_subscribe_message(msg).await {
            Ok(_) => Outcome::Sent,
            Err(err) => match err.kind() {
                WeChatErrorKind::ConsentExhausted => Outcome::Exhausted,
                WeChatErrorKind::RateLimited => {
                    halt.fetch_max(HALT_RATE, Ordering::SeqCst);
                    Outcome::RateLimited
                }
                WeChatErrorKind::DailyQuota => {
                    halt.fetch_max(HALT_DAY, Ordering::SeqCst);
                    Outcome::DailyQuota
                }
                WeChatErrorKind::Busy | WeChatErrorKind::TokenInvalid => Outcome::Retry,
                WeChatErrorKind::InvalidValue => Outcome::Rejected("INVALID_VALUE"),
                WeChatErrorKind::InvalidOpenid => Outcome::Rejected("INVALID_OPENID"),
                WeChatErrorKind::InvalidTemplate => Outcome::Rejected("INVALID_TEMPLATE"),
                WeChatErrorKind::InvalidPage => Outcome::Rejected("INVALID_PAGE"),
                _ => Outcome::Rejected("WECHAT_REFUSED"),
            },
        }
    }

    /// Writes back what WeChat answered for a group.
    async fn record(
        &self,
        app: &AppState,
        c: &campaign::Model,
        results: Vec<(i64, i64, i32, Outcome)>,
        report: &mut DispatchReport,
    ) -> Result<(), CampaignsError> {
        let settings = &self.settings;
        let now = app.clock.now();
        let mut sent = Vec::new();
        let mut failed: Vec<(i64, &'static str)> = Vec::new();
        let mut back_now = Vec::new();
        let mut retry: Vec<(i64, i32)> = Vec::new();
        let mut give_back = Vec::new();
        let mut exhausted = Vec::new();
        for (id, member_id, attempts, outcome) in results {
            match outcome {
                Outcome::Sent => sent.push(id),
                Outcome::Exhausted => {
                    failed.push((id, "CONSENT_EXHAUSTED"));
                    exhausted.push(member_id);
                }
                Outcome::RateLimited | Outcome::DailyQuota | Outcome::NotAttempted => {
                    back_now.push(id);
                    give_back.push(member_id);
                }
                Outcome::Retry if attempts >= settings.max_attempts => {
                    failed.push((id, "WECHAT_BUSY"));
                    give_back.push(member_id);
                }
                Outcome::Retry => {
                    retry.push((id, attempts));
                    give_back.push(member_id);
                }
                Outcome::Rejected(reason) => {
                    failed.push((id, reason));
                    give_back.push(member_id);
                }
            }
        }
        let txn = crate::db::begin_write(&app.db).await?;
        if !sent.is_empty() {
            campaign_delivery::Entity::update_many()
                .col_expr(campaign_delivery::Column::State, Expr::value("SENT"))
                .col_expr(campaign_delivery::Column::SentAt, Expr::value(now))
                .col_expr(
                    campaign_delivery::Column::AttributionUntil,
                    Expr::value(now + chrono::Duration::days(i64::from(c.attribution_days))),
                )
                .filter(campaign_delivery::Column::Id.is_in(sent.clone()))
                .exec(&txn)
                .await?;
        }
        write_final(&txn, &failed, "FAILED").await?;
        // Not attempted, or WeChat said "later": back to the queue without using an attempt.
        if !back_now.is_empty() {
            campaign_delivery::Entity::update_many()
                .col_expr(campaign_delivery::Column::State, Expr::value("PENDING"))
                .col_expr(
                    campaign_delivery::Column::Attempts,
                    Expr::col(campaign_delivery::Column::Attempts).sub(1),
                )
                .col_expr(campaign_delivery::Column::NextAttemptAt, Expr::value(now))
                .filter(campaign_delivery::Column::Id.is_in(back_now.clone()))
                .exec(&txn)
                .await?;
        }
        for (id, attempts) in &retry {
            let wait = settings.retry_backoff_secs << (attempts - 1).clamp(0, 10);
            campaign_delivery::Entity::update_many()
                .col_expr(campaign_delivery::Column::State, Expr::value("PENDING"))
                .col_expr(
                    campaign_delivery::Column::NextAttemptAt,
                    Expr::value(now + chrono::Duration::seconds(wait)),
                )
                .filter(campaign_delivery::Column::Id.eq(*id))
                .exec(&txn)
                .await?;
        }
        subscriptions::give_back_many(&txn, &c.template_id, &give_back, now).await?;
        for member_id in &exhausted {
            subscriptions::exhausted(&txn, *member_id, &c.template_id, now).await?;
        }
        txn.commit().await?;
        report.sent += sent.len() as u64;
        report.failed += failed.len() as u64;
        report.deferred += (back_now.len() + retry.len()) as u64;
        Ok(())
    }
}

/// The message's values for one member; None when they cannot be made to fit the rules.
fn member_values(
    cv: &super::Campaign,
    template: &super::SubscriptionTemplate,
    m: &member::Model,
    coupon: &str,
) -> Option<std::collections::BTreeMap<String, String>> {
    let render_with = |nickname: &str| {
        let fields = [
            ("nickname", nickname),
            ("member_code", m.member_code.as_str()),
            ("coupon", coupon),
        ];
        let mut data = std::collections::BTreeMap::new();
        for k in &template.keys {
            let raw = cv.values.get(&k.key)?;
            let mut v = super::render(raw, &fields);
            if k.kind == "thing" && v.chars().count() > 20 {
                v = v.chars().take(20).collect();
            }
            wechat_integration::check_subscribe_value(&k.key, &v).ok()?;
            data.insert(k.key.clone(), v);
        }
        Some(data)
    };
    render_with(m.nickname.as_deref().unwrap_or("会员")).or_else(|| render_with("会员"))
}

async fn write_final<C: ConnectionTrait>(
    db: &C,
    rows: &[(i64, &'static str)],
    state: &str,
) -> Result<(), CampaignsError> {
    let mut by_reason: HashMap<&str, Vec<i64>> = HashMap::new();
    for (id, reason) in rows {
        by_reason.entry(reason).or_default().push(*id);
    }
    for (reason, ids) in by_reason {
        campaign_delivery::Entity::update_many()
            .col_expr(campaign_delivery::Column::State, Expr::value(state))
            .col_expr(campaign_delivery::Column::Reason, Expr::value(reason))
            .filter(campaign_delivery::Column::Id.is_in(ids))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// States of a delivery that is not finished yet.
pub(crate) const OPEN_STATES: [&str; 4] = ["PENDING", "CLAIMED", "READY", "SENDING"];

async fn set_state<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    state: &str,
) -> Result<(), CampaignsError> {
    if ids.is_empty() {
        return Ok(());
    }
    campaign_delivery::Entity::update_many()
        .col_expr(campaign_delivery::Column::State, Expr::value(state))
        .filter(campaign_delivery::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Rows whose dispatcher died (their claim ran out). SENDING ones may have reached WeChat,
/// which has no idempotency key: they turn FAILED/IN_DOUBT and are never resent. READY ones
/// (consent taken, not sent) get their consent back and return to the queue, as do CLAIMED
/// ones (nothing taken yet), without using an attempt.
async fn recover_expired_claims(
    app: &AppState,
    campaign_id: i64,
    template_id: &str,
    now: DateTime<Utc>,
) -> Result<(), CampaignsError> {
    let expired: Vec<(i64, i64, String)> = campaign_delivery::Entity::find()
        .select_only()
        .columns([
            campaign_delivery::Column::Id,
            campaign_delivery::Column::MemberId,
            campaign_delivery::Column::State,
        ])
        .filter(campaign_delivery::Column::CampaignId.eq(campaign_id))
        .filter(campaign_delivery::Column::State.is_in(["CLAIMED", "READY", "SENDING"]))
        .filter(campaign_delivery::Column::ClaimedUntil.lt(now))
        .into_tuple()
        .all(&app.db)
        .await?;
    if expired.is_empty() {
        return Ok(());
    }
    let in_doubt: Vec<(i64, &'static str)> = expired
        .iter()
        .filter(|(_, _, state)| state == "SENDING")
        .map(|(id, _, _)| (*id, "IN_DOUBT"))
        .collect();
    let consent_back: Vec<i64> = expired
        .iter()
        .filter(|(_, _, state)| state == "READY")
        .map(|(_, member_id, _)| *member_id)
        .collect();
    let requeue: Vec<i64> = expired
        .iter()
        .filter(|(_, _, state)| state != "SENDING")
        .map(|(id, _, _)| *id)
        .collect();
    let txn = crate::db::begin_write(&app.db).await?;
    write_final(&txn, &in_doubt, "FAILED").await?;
    if !requeue.is_empty() {
        campaign_delivery::Entity::update_many()
            .col_expr(campaign_delivery::Column::State, Expr::value("PENDING"))
            .col_expr(
                campaign_delivery::Column::Attempts,
                Expr::col(campaign_delivery::Column::Attempts).sub(1),
            )
            .col_expr(campaign_delivery::Column::NextAttemptAt, Expr::value(now))
            .filter(campaign_delivery::Column::Id.is_in(requeue))
            // Another dispatcher may have recovered them meanwhile.
            .filter(campaign_delivery::Column::State.is_in(["CLAIMED", "READY"]))
            .filter(campaign_delivery::Column::ClaimedUntil.lt(now))
            .exec(&txn)
            .await?;
    }
    subscriptions::give_back_many(&txn, template_id, &consent_back, now).await?;
    txn.commit().await?;
    if !in_doubt.is_empty() {
        tracing::warn!(
            campaign_id,
            in_doubt = in_doubt.len(),
            "a dispatcher died while sending: those messages are not resent"
        );
    }
    Ok(())
}

/// Puts claimed rows back in the queue.
async fn release(
    app: &AppState,
    ids: &[i64],
    now: DateTime<Utc>,
    used_attempt: bool,
) -> Result<(), CampaignsError> {
    let mut update = campaign_delivery::Entity::update_many()
        .col_expr(campaign_delivery::Column::State, Expr::value("PENDING"))
        .col_expr(campaign_delivery::Column::NextAttemptAt, Expr::value(now));
    if !used_attempt {
        update = update.col_expr(
            campaign_delivery::Column::Attempts,
            Expr::col(campaign_delivery::Column::Attempts).sub(1),
        );
    }
    update
        .filter(campaign_delivery::Column::Id.is_in(ids.iter().copied()))
        .exec(&app.db)
        .await?;
    Ok(())
}

async fn set_not_before(
    app: &AppState,
    campaign_id: i64,
    until: DateTime<Utc>,
) -> Result<(), CampaignsError> {
    campaign::Entity::update_many()
        .col_expr(campaign::Column::NotBefore, Expr::value(until))
        .filter(campaign::Column::Id.eq(campaign_id))
        .exec(&app.db)
        .await?;
    Ok(())
}

/// The worker loop: dispatch what is due, wait a little when there was nothing, until shutdown.
/// Every replica runs one; the claims keep them from overlapping.
pub async fn run_dispatcher(
    app: Arc<AppState>,
    holder: String,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let dispatcher = Dispatcher::new(&app, holder);
    let idle = Duration::from_millis(Ord::max(app.settings.campaigns.poll_millis, 10));
    loop {
        if *shutdown.borrow() {
            break;
        }
        let busy = match dispatcher.run_due(&app, None).await {
            Ok(r) => {
                if r.sent + r.skipped + r.failed > 0 {
                    tracing::info!(
                        sent = r.sent,
                        skipped = r.skipped,
                        failed = r.failed,
                        deferred = r.deferred,
                        "campaign dispatch pass"
                    );
                }
                r.sent + r.skipped + r.failed > 0 && !r.rate_limited && !r.day_stopped
            }
            Err(err) => {
                tracing::error!(error = %err, "campaign dispatch failed");
                false
            }
        };
        if busy {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(idle) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn quiet_hours_wrap_midnight_in_shanghai() {
        let zone = crate::clock::DEFAULT_ZONE;
        let quiet = QuietHours::default();
        // 12:00 local: not quiet.
        assert_eq!(quiet_until(utc(4, 0), zone, quiet), None);
        // 21:00 local (13:00 UTC): quiet until 09:00 local the next day (01:00 UTC).
        let next_morning = Utc.with_ymd_and_hms(2026, 12, 2, 1, 0, 0).single();
        assert_eq!(quiet_until(utc(13, 0), zone, quiet), next_morning);
        // 08:59 local (00:59 UTC on 1 December): quiet until 09:00 the same day.
        assert_eq!(quiet_until(utc(0, 59), zone, quiet), Some(utc(1, 0)));
        assert_eq!(quiet_until(utc(1, 0), zone, quiet), None);
        // No quiet hours when start equals end.
        let none = QuietHours {
            start: NaiveTime::MIN,
            end: NaiveTime::MIN,
        };
        assert_eq!(quiet_until(utc(15, 0), zone, none), None);
        // Local midnight in Shanghai is 16:00 UTC.
        assert_eq!(next_local_midnight(utc(4, 0), zone), utc(16, 0));
    }

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        let s = stmt(
            DbBackend::Postgres,
            "a = ? AND b IN (?, ?)",
            vec![1.into(), 2.into(), 3.into()],
        );
        assert_eq!(s.sql, "a = $1 AND b IN ($2, $3)");
        let s = stmt(DbBackend::Sqlite, "a = ?", vec![1.into()]);
        assert_eq!(s.sql, "a = ?");
    }
}
