//! One reminder per booking a set time before it starts, sent through the member's counted
//! subscription consents (a periodic task).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{BookingError, BookingStatus, ReminderOutcome, store_zone};
use crate::AppState;
use crate::platform::jobs::{PeriodicTask, TaskError};
use crate::subscriptions::{self, SendOutcome};
use entities::{booking, booking_service, member, store};

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Sends the reminders that are due; returns how many were sent. A booking is claimed (its
/// `reminder_sent_at` set) before the send, so two workers never remind twice; a send that
/// may succeed later (busy, rate limit) is released for the next pass, anything else is final.
pub async fn send_reminders(app: &AppState) -> Result<u64, BookingError> {
    let s = &app.settings.booking;
    let now = app.clock.now();
    let due = booking::Entity::find()
        .filter(booking::Column::Status.eq(BookingStatus::Booked))
        .filter(booking::Column::ReminderSentAt.is_null())
        .filter(booking::Column::StartsAt.gt(now))
        .filter(booking::Column::StartsAt.lte(now + s.reminder_lead))
        .order_by_asc(booking::Column::StartsAt)
        .limit(200)
        .all(&app.db)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let member_ids: Vec<i64> = due.iter().map(|b| b.member_id).collect();
    let openids: HashMap<i64, String> = member::Entity::find()
        .select_only()
        .columns([member::Column::Id, member::Column::Openid])
        .filter(member::Column::Id.is_in(member_ids))
        .into_tuple::<(i64, String)>()
        .all(&app.db)
        .await?
        .into_iter()
        .collect();
    let services: HashMap<i64, String> = booking_service::Entity::find()
        .filter(booking_service::Column::Id.is_in(due.iter().map(|b| b.service_id)))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let stores: HashMap<i64, store::Model> = store::Entity::find()
        .filter(store::Column::Id.is_in(due.iter().map(|b| b.store_id)))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let mut sent = 0;
    for b in due {
        let claimed = booking::Entity::update_many()
            .col_expr(booking::Column::ReminderSentAt, Expr::value(now))
            .col_expr(
                booking::Column::ReminderOutcome,
                Expr::value(ReminderOutcome::Sending),
            )
            .filter(booking::Column::Id.eq(b.id))
            .filter(booking::Column::ReminderSentAt.is_null())
            .exec(&app.db)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        let Some(openid) = openids.get(&b.member_id) else {
            continue;
        };
        let store = stores.get(&b.store_id);
        let zone = store.map_or(crate::platform::clock::DEFAULT_ZONE, store_zone);
        let message = wechat_integration::SubscribeMessage {
            template_id: s.reminder_template_id.clone(),
            page: Some(format!("{}?id={}", s.reminder_page, b.id)),
            data: [
                (
                    "thing1".to_owned(),
                    clip(services.get(&b.service_id).map_or("预约服务", |n| n), 20),
                ),
                (
                    "time2".to_owned(),
                    b.starts_at
                        .with_timezone(&zone)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                ),
                (
                    "thing3".to_owned(),
                    clip(store.map_or("门店", |s| s.name.as_str()), 20),
                ),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let outcome = subscriptions::send_with_consent(app, b.member_id, openid, message).await?;
        let (record, retry, stop): (Option<ReminderOutcome>, bool, bool) = match outcome {
            SendOutcome::Sent { .. } => (Some(ReminderOutcome::Sent), false, false),
            SendOutcome::NoConsent => (Some(ReminderOutcome::NoConsent), false, false),
            SendOutcome::Refused => (Some(ReminderOutcome::Refused), false, false),
            SendOutcome::Rejected(_) => (Some(ReminderOutcome::Rejected), false, false),
            SendOutcome::Retry => (None, true, false),
            SendOutcome::RateLimited | SendOutcome::DailyQuota => (None, true, true),
        };
        if matches!(record, Some(ReminderOutcome::Sent)) {
            sent += 1;
        }
        let at: Option<DateTime<Utc>> = (!retry).then_some(now);
        booking::Entity::update_many()
            .col_expr(booking::Column::ReminderSentAt, Expr::value(at))
            .col_expr(booking::Column::ReminderOutcome, Expr::value(record))
            .filter(booking::Column::Id.eq(b.id))
            .exec(&app.db)
            .await?;
        if stop {
            break;
        }
    }
    Ok(sent)
}

pub struct SendBookingReminders;

#[async_trait::async_trait]
impl PeriodicTask for SendBookingReminders {
    fn name(&self) -> &'static str {
        "booking-reminders"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(send_reminders(app).await?)
    }
}
