//! Scheduled booking work: no-shows after the slot ends, and one reminder per booking a set
//! time before it starts, sent through the member's counted subscription consents.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{BookingError, BookingStatus, store_zone};
use crate::jobs::{PeriodicTask, TaskError};
use crate::subscriptions::{self, SendOutcome};
use crate::{AppState, db};
use entities::{booking, booking_service, member, store};

/// Bookings not checked in by the end of their slot become no-shows, and the member's time they
/// held is freed, a page at a time. Safe to run twice; a check-in racing it wins or loses as a
/// whole (the status is changed only from BOOKED).
pub async fn mark_no_shows(app: &AppState) -> Result<u64, BookingError> {
    const PAGE: u64 = 500;
    let now = app.clock.now();
    let mut marked = 0;
    loop {
        let txn = db::begin_write(&app.db).await?;
        let due: Vec<i64> = booking::Entity::find()
            .select_only()
            .column(booking::Column::Id)
            .filter(booking::Column::Status.eq(BookingStatus::Booked.as_str()))
            .filter(booking::Column::EndsAt.lte(now))
            .order_by_asc(booking::Column::Id)
            .limit(PAGE)
            .into_tuple()
            .all(&txn)
            .await?;
        if due.is_empty() {
            return Ok(marked);
        }
        let res = booking::Entity::update_many()
            .col_expr(
                booking::Column::Status,
                Expr::value(BookingStatus::NoShow.as_str()),
            )
            .col_expr(booking::Column::UpdatedAt, Expr::value(now))
            .filter(booking::Column::Id.is_in(due.clone()))
            .filter(booking::Column::Status.eq(BookingStatus::Booked.as_str()))
            .exec(&txn)
            .await?;
        let no_shows: Vec<i64> = booking::Entity::find()
            .select_only()
            .column(booking::Column::Id)
            .filter(booking::Column::Id.is_in(due.clone()))
            .filter(booking::Column::Status.eq(BookingStatus::NoShow.as_str()))
            .into_tuple()
            .all(&txn)
            .await?;
        super::flow::release_member_cells(&txn, no_shows).await?;
        txn.commit().await?;
        marked += res.rows_affected;
        if (due.len() as u64) < PAGE {
            return Ok(marked);
        }
    }
}

pub struct MarkNoShows;

#[async_trait::async_trait]
impl PeriodicTask for MarkNoShows {
    fn name(&self) -> &'static str {
        "booking-no-shows"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(mark_no_shows(app).await?)
    }
}

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
        .filter(booking::Column::Status.eq(BookingStatus::Booked.as_str()))
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
            .col_expr(booking::Column::ReminderOutcome, Expr::value("SENDING"))
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
        let zone = store.map_or(crate::clock::DEFAULT_ZONE, store_zone);
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
        let (record, retry, stop): (Option<&str>, bool, bool) = match outcome {
            SendOutcome::Sent { .. } => (Some("SENT"), false, false),
            SendOutcome::NoConsent => (Some("NO_CONSENT"), false, false),
            SendOutcome::Refused => (Some("REFUSED"), false, false),
            SendOutcome::Rejected(_) => (Some("REJECTED"), false, false),
            SendOutcome::Retry => (None, true, false),
            SendOutcome::RateLimited | SendOutcome::DailyQuota => (None, true, true),
        };
        if matches!(record, Some("SENT")) {
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
