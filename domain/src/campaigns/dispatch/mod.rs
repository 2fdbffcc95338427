//! The campaign dispatcher, run by every `rouge worker` replica.
//!
//! 1. Audience ([`claim`]): the segment's members are written into `campaign_deliveries` a page
//!    at a time (keyset on member id, `INSERT … SELECT … ON CONFLICT DO NOTHING`): one row per
//!    (campaign, member), unique, always written BEFORE any send. The database does the
//!    filtering.
//! 2. Claim ([`claim`]): a batch of PENDING rows turns CLAIMED in one `UPDATE … WHERE id IN
//!    (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` (on SQLite, the single writer makes it
//!    atomic), so replicas share the work without overlapping.
//! 3. Checks per batch ([`checks`]), in SQL: marketing consent, the frequency cap across
//!    campaigns, and the counted subscription consent (one taken per member in one conditional
//!    update); the campaign's coupon is issued to those who will get the message.
//! 4. Send ([`send`]), bounded concurrency, optional rate; each result is written back
//!    ([`record`]): SENT; 43101 → FAILED and the consent count zeroed; 45011 → back to PENDING
//!    and the campaign backs off; 45009 → back to PENDING and every campaign stops until local
//!    midnight; -1/5xx → PENDING with exponential back-off until `max_attempts`; other
//!    refusals → FAILED with the reason. Consents of messages that did not go out are given
//!    back.
//!
//! A dispatcher stopped between batches loses nothing. A batch moves CLAIMED → READY (its
//! consents taken, in the same transaction) → SENDING one group of `concurrency` messages at a
//! time just before it goes out, answers recorded a group at a time as they come back. One
//! killed mid-batch leaves at most about three groups SENDING: once the claim runs out those
//! rows turn FAILED/IN_DOUBT and are never resent (WeChat has no idempotency key, so at most
//! once is the only safe choice for a message that may have gone out); its READY and CLAIMED
//! rows go back to the queue, READY ones with their consent given back, and are sent by the
//! next dispatcher exactly once.

mod checks;
mod claim;
mod record;
mod send;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{Campaign, CampaignStatus, CampaignsError, DeliveryState, QuietHours, stored, view};
use crate::AppState;
use crate::platform::kv::keys;
use entities::{campaign, subscription_template};

/// States of a delivery that is not finished yet.
pub(crate) const OPEN_STATES: [DeliveryState; 4] = [
    DeliveryState::Pending,
    DeliveryState::Claimed,
    DeliveryState::Ready,
    DeliveryState::Sending,
];

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

impl DispatchReport {
    fn add(&mut self, lane: &DispatchReport) {
        self.sent += lane.sent;
        self.skipped += lane.skipped;
        self.failed += lane.failed;
        self.deferred += lane.deferred;
        self.rate_limited |= lane.rate_limited;
        self.day_stopped |= lane.day_stopped;
    }
}

/// One dispatcher per worker process.
pub struct Dispatcher {
    holder: String,
    settings: super::CampaignSettings,
    pacer: send::Pacer,
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

/// The campaign's zone; a stored zone that does not parse is an error, not Shanghai.
fn zone_of(c: &campaign::Model) -> Result<Tz, CampaignsError> {
    c.zone.parse().map_err(|e| stored("zone", e))
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
            pacer: send::Pacer::new(settings.rate_per_second),
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
            .col_expr(
                campaign::Column::Status,
                Expr::value(CampaignStatus::Running),
            )
            .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
            .filter(campaign::Column::Status.eq(CampaignStatus::Scheduled))
            .filter(campaign::Column::StartAt.lte(now))
            .exec(&app.db)
            .await?;
        if let Some(until) = app.kv.get(keys::CAMPAIGN_DAILY_QUOTA_STOP).await? {
            let until = String::from_utf8_lossy(&until)
                .parse::<DateTime<Utc>>()
                .map_err(|e| stored("daily quota stop", e))?;
            if until > now {
                report.day_stopped = true;
                return Ok(report);
            }
        }
        let running = campaign::Entity::find()
            .filter(campaign::Column::Status.eq(CampaignStatus::Running))
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
                report.add(&lane?);
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
        let zone = zone_of(&c)?;
        let template = subscription_template::Entity::find()
            .filter(subscription_template::Column::TemplateId.eq(&c.template_id))
            .one(&app.db)
            .await?
            .map(super::template_view)
            .ok_or(CampaignsError::NotFound("subscription template"))?;
        loop {
            let now = app.clock.now();
            let cv = view(c.clone())?;
            if let Some(until) = quiet_until(now, zone, cv.quiet_hours) {
                set_not_before(&app.db, c.id, until).await?;
                return Ok(());
            }
            claim::recover_expired_claims(app, c.id, &c.template_id, now).await?;
            if !c.audience_done {
                c = self.materialize_page(app, c, &cv, now).await?;
            }
            let left = budget.map(|b| b.saturating_sub(report.sent));
            if left == Some(0) {
                return Ok(());
            }
            let size = left.map_or(settings.batch_size, |l| Ord::min(l, settings.batch_size));
            let claimed = self.claim(app, c.id, size, now).await?;
            if claimed.is_empty() {
                if c.audience_done {
                    self.maybe_complete(app, c.id, now).await?;
                    return Ok(());
                }
                continue;
            }
            if self
                .process(app, &c, &cv, &template, claimed, report)
                .await?
            {
                return Ok(());
            }
            // Someone may have paused or cancelled it meanwhile.
            let status = campaign::Entity::find_by_id(c.id)
                .one(&app.db)
                .await?
                .map(|r| r.status);
            if status != Some(CampaignStatus::Running) {
                return Ok(());
            }
        }
    }

    /// Checks, sends and records one claimed batch. True when WeChat told us to stop (or the
    /// campaign was paused).
    async fn process(
        &self,
        app: &AppState,
        c: &campaign::Model,
        cv: &Campaign,
        template: &super::SubscriptionTemplate,
        claimed: Vec<claim::Claimed>,
        report: &mut DispatchReport,
    ) -> Result<bool, CampaignsError> {
        let now = app.clock.now();
        let Some(outgoing) = self
            .check_batch(app, c, cv, template, claimed, now, report)
            .await?
        else {
            return Ok(true);
        };
        let halt = self.send_batch(app, c, outgoing, report).await?;
        self.after_halt(app, c, halt, now, report).await
    }
}

async fn set_not_before<C: ConnectionTrait>(
    db: &C,
    campaign_id: i64,
    until: DateTime<Utc>,
) -> Result<(), CampaignsError> {
    campaign::Entity::update_many()
        .col_expr(campaign::Column::NotBefore, Expr::value(until))
        .filter(campaign::Column::Id.eq(campaign_id))
        .exec(db)
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
        let zone = crate::platform::clock::DEFAULT_ZONE;
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
}
