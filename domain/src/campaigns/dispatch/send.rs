//! Sending a checked batch: `concurrency` messages in flight, an optional rate, each group
//! marked SENDING just before it goes out and recorded as its answers come back; 45011/45009
//! stop what has not begun.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use wechat_integration::{SubscribeMessage, WeChatErrorKind};

use super::record::set_state;
use super::{DispatchReport, Dispatcher, next_local_midnight, set_not_before, zone_of};
use crate::AppState;
use crate::campaigns::{CampaignsError, DeliveryReason, DeliveryState};
use crate::platform::kv::keys;
use entities::campaign;

/// Spaces sends out to a rate (per worker process).
pub(super) struct Pacer {
    interval: Option<Duration>,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub(super) fn new(rate: Option<u32>) -> Self {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
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
    Rejected(DeliveryReason),
}

pub(super) const HALT_NONE: u8 = 0;
const HALT_RATE: u8 = 1;
const HALT_DAY: u8 = 2;

/// A checked delivery, its consent taken (READY), with its message.
pub(super) struct Outgoing {
    pub id: i64,
    pub member_id: i64,
    pub attempts: i32,
    pub msg: SubscribeMessage,
}

/// What WeChat answered for one delivery.
pub(super) struct Answer {
    pub id: i64,
    pub member_id: i64,
    pub attempts: i32,
    pub outcome: Outcome,
}

impl Dispatcher {
    /// Sends with `concurrency` messages in flight. Messages turn SENDING a group of
    /// `concurrency` at a time, just before the first of the group is handed to WeChat, and
    /// answers are recorded a group at a time as they come back. A dispatcher killed mid-batch
    /// leaves at most about three groups in doubt (in flight, marked next, answered but not yet
    /// recorded); the rest of its batch is READY or CLAIMED and goes back to the queue (with
    /// its consent) once the claim runs out. Returns the halt WeChat asked for, if any.
    pub(super) async fn send_batch(
        &self,
        app: &AppState,
        c: &campaign::Model,
        outgoing: Vec<Outgoing>,
        report: &mut DispatchReport,
    ) -> Result<u8, CampaignsError> {
        let halt = AtomicU8::new(HALT_NONE);
        let group_size = self.settings.concurrency.max(1);
        let mut groups = outgoing
            .into_iter()
            .fold(Vec::<Vec<Outgoing>>::new(), |mut groups, item| {
                match groups.last_mut() {
                    Some(g) if g.len() < group_size => g.push(item),
                    _ => groups.push(vec![item]),
                }
                groups
            })
            .into_iter();
        let mut next: VecDeque<(Outgoing, bool)> = VecDeque::new();
        let mut in_flight = futures::stream::FuturesUnordered::new();
        let mut answered = Vec::with_capacity(group_size);
        let mut mark_error = None;
        loop {
            while in_flight.len() < group_size {
                if next.is_empty() {
                    let Some(group) = groups.next() else {
                        break;
                    };
                    let ids: Vec<i64> = group.iter().map(|o| o.id).collect();
                    // Never send what is not marked: a later dispatcher would send it again.
                    let marked = halt.load(Ordering::SeqCst) == HALT_NONE
                        && mark_error.is_none()
                        && match set_state(&app.db, &ids, DeliveryState::Sending).await {
                            Ok(()) => true,
                            Err(e) => {
                                mark_error = Some(e);
                                false
                            }
                        };
                    next.extend(group.into_iter().map(|item| (item, marked)));
                }
                let Some((item, marked)) = next.pop_front() else {
                    break;
                };
                let halt = &halt;
                in_flight.push(async move {
                    let outcome = if !marked || halt.load(Ordering::SeqCst) != HALT_NONE {
                        Outcome::NotAttempted
                    } else {
                        self.send_one(app, &item.msg, halt).await
                    };
                    Answer {
                        id: item.id,
                        member_id: item.member_id,
                        attempts: item.attempts,
                        outcome,
                    }
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
        match mark_error {
            Some(e) => Err(e),
            None => Ok(halt.load(Ordering::SeqCst)),
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
                WeChatErrorKind::InvalidValue => Outcome::Rejected(DeliveryReason::InvalidValue),
                WeChatErrorKind::InvalidOpenid => Outcome::Rejected(DeliveryReason::InvalidOpenid),
                WeChatErrorKind::InvalidTemplate => {
                    Outcome::Rejected(DeliveryReason::InvalidTemplate)
                }
                WeChatErrorKind::InvalidPage => Outcome::Rejected(DeliveryReason::InvalidPage),
                _ => Outcome::Rejected(DeliveryReason::WechatRefused),
            },
        }
    }

    /// Backs off after 45011 (this campaign) or stops every campaign until local midnight after
    /// 45009. True when the campaign has to stop for now.
    pub(super) async fn after_halt(
        &self,
        app: &AppState,
        c: &campaign::Model,
        halt: u8,
        now: DateTime<Utc>,
        report: &mut DispatchReport,
    ) -> Result<bool, CampaignsError> {
        match halt {
            HALT_DAY => {
                let until = next_local_midnight(now, zone_of(c)?);
                let ttl = (until - now).to_std().unwrap_or(Duration::from_secs(60));
                app.kv
                    .set(
                        keys::CAMPAIGN_DAILY_QUOTA_STOP,
                        until.to_rfc3339().as_bytes(),
                        Some(ttl),
                    )
                    .await?;
                set_not_before(&app.db, c.id, until).await?;
                tracing::warn!(campaign_id = c.id, %until, "WeChat daily quota reached (45009): stopped for the day");
                report.day_stopped = true;
                Ok(true)
            }
            HALT_RATE => {
                let until = now + chrono::Duration::seconds(self.settings.rate_limit_backoff_secs);
                set_not_before(&app.db, c.id, until).await?;
                tracing::warn!(campaign_id = c.id, %until, "WeChat rate limit (45011): backing off");
                report.rate_limited = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
