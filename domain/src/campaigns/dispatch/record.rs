//! Writing back what happened to a group of messages: SENT with its attribution window,
//! FAILED/SKIPPED with a reason, back to the queue (now or after a back-off), consents given
//! back or zeroed.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::send::{Answer, Outcome};
use super::{DispatchReport, Dispatcher};
use crate::AppState;
use crate::campaigns::{CampaignsError, DeliveryReason, DeliveryState};
use crate::subscriptions;
use entities::{campaign, campaign_delivery};

/// A group's answers sorted by what has to be written.
#[derive(Default)]
struct Sorted {
    sent: Vec<i64>,
    failed: Vec<(i64, DeliveryReason)>,
    /// Not attempted, or WeChat said "later": back to the queue without using an attempt.
    back_now: Vec<i64>,
    retry: Vec<(i64, i32)>,
    give_back: Vec<i64>,
    exhausted: Vec<i64>,
}

impl Sorted {
    fn of(answers: Vec<Answer>, max_attempts: i32) -> Self {
        let mut s = Self::default();
        for a in answers {
            match a.outcome {
                Outcome::Sent => s.sent.push(a.id),
                Outcome::Exhausted => {
                    s.failed.push((a.id, DeliveryReason::ConsentExhausted));
                    s.exhausted.push(a.member_id);
                }
                Outcome::RateLimited | Outcome::DailyQuota | Outcome::NotAttempted => {
                    s.back_now.push(a.id);
                    s.give_back.push(a.member_id);
                }
                Outcome::Retry if a.attempts >= max_attempts => {
                    s.failed.push((a.id, DeliveryReason::WechatBusy));
                    s.give_back.push(a.member_id);
                }
                Outcome::Retry => {
                    s.retry.push((a.id, a.attempts));
                    s.give_back.push(a.member_id);
                }
                Outcome::Rejected(reason) => {
                    s.failed.push((a.id, reason));
                    s.give_back.push(a.member_id);
                }
            }
        }
        s
    }
}

impl Dispatcher {
    /// Writes back what WeChat answered for a group, in one transaction.
    pub(super) async fn record(
        &self,
        app: &AppState,
        c: &campaign::Model,
        answers: Vec<Answer>,
        report: &mut DispatchReport,
    ) -> Result<(), CampaignsError> {
        let settings = &self.settings;
        let now = app.clock.now();
        let s = Sorted::of(answers, settings.max_attempts);
        let txn = crate::platform::db::begin_write(&app.db).await?;
        if !s.sent.is_empty() {
            campaign_delivery::Entity::update_many()
                .col_expr(
                    campaign_delivery::Column::State,
                    Expr::value(DeliveryState::Sent),
                )
                .col_expr(campaign_delivery::Column::SentAt, Expr::value(now))
                .col_expr(
                    campaign_delivery::Column::AttributionUntil,
                    Expr::value(now + chrono::Duration::days(i64::from(c.attribution_days))),
                )
                .filter(campaign_delivery::Column::Id.is_in(s.sent.clone()))
                .exec(&txn)
                .await?;
        }
        write_final(&txn, &s.failed, DeliveryState::Failed).await?;
        if !s.back_now.is_empty() {
            campaign_delivery::Entity::update_many()
                .col_expr(
                    campaign_delivery::Column::State,
                    Expr::value(DeliveryState::Pending),
                )
                .col_expr(
                    campaign_delivery::Column::Attempts,
                    Expr::col(campaign_delivery::Column::Attempts).sub(1),
                )
                .col_expr(campaign_delivery::Column::NextAttemptAt, Expr::value(now))
                .filter(campaign_delivery::Column::Id.is_in(s.back_now.clone()))
                .exec(&txn)
                .await?;
        }
        for (id, attempts) in &s.retry {
            let wait = settings.retry_backoff_secs << (attempts - 1).clamp(0, 10);
            campaign_delivery::Entity::update_many()
                .col_expr(
                    campaign_delivery::Column::State,
                    Expr::value(DeliveryState::Pending),
                )
                .col_expr(
                    campaign_delivery::Column::NextAttemptAt,
                    Expr::value(now + chrono::Duration::seconds(wait)),
                )
                .filter(campaign_delivery::Column::Id.eq(*id))
                .exec(&txn)
                .await?;
        }
        subscriptions::give_back_many(&txn, &c.template_id, &s.give_back, now).await?;
        for member_id in &s.exhausted {
            subscriptions::exhausted(&txn, *member_id, &c.template_id, now).await?;
        }
        txn.commit().await?;
        report.sent += s.sent.len() as u64;
        report.failed += s.failed.len() as u64;
        report.deferred += (s.back_now.len() + s.retry.len()) as u64;
        Ok(())
    }
}

/// Moves rows to a final state with their reasons (one statement per reason).
pub(super) async fn write_final<C: ConnectionTrait>(
    db: &C,
    rows: &[(i64, DeliveryReason)],
    state: DeliveryState,
) -> Result<(), CampaignsError> {
    let mut by_reason: HashMap<DeliveryReason, Vec<i64>> = HashMap::new();
    for (id, reason) in rows {
        by_reason.entry(*reason).or_default().push(*id);
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

pub(super) async fn set_state<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    state: DeliveryState,
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
