//! Demo booking data: every demo store open daily 10:00–22:00 with a service of its own, its
//! BAs holding that service's skill and shifts for the coming two weeks, and the free skin
//! test (no skill needed) offered everywhere.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use super::slots;
use entities::booking_service::SkillList;
use entities::{ba_shift, ba_skill, booking_service, store_opening_hours};

/// Days of shifts the demo gives each BA, from the seed day on.
const SHIFT_DAYS: i64 = 14;

/// One demo store's booking set-up.
pub struct DemoBookingStore<'a> {
    pub store_id: i64,
    /// Its service: code, name, minutes, buffer minutes, price in fen, the skill it needs.
    pub service: (&'a str, &'a str, i32, i32, i64, &'a str),
    /// The BAs working there (they get the skill and the shifts).
    pub bas: &'a [i64],
}

/// The skin test every store offers (no skill needed).
pub async fn seed_demo_shared<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    service(db, None, ("SKIN-TEST", "肌肤测试", 20, 10, 0, None), now).await
}

async fn service<C: ConnectionTrait>(
    db: &C,
    store: Option<i64>,
    (code, name, minutes, buffer, price, skill): (&str, &str, i32, i32, i64, Option<&str>),
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    booking_service::ActiveModel {
        store_id: Set(store),
        code: Set(code.into()),
        name: Set(name.into()),
        duration_minutes: Set(minutes),
        buffer_minutes: Set(buffer),
        price_fen: Set(price),
        required_skills: Set(SkillList(skill.map(str::to_owned).into_iter().collect())),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Opening hours, the store's service, and its BAs' skill and shifts (10:00–18:00, today and
/// the next [`SHIFT_DAYS`] days in the store's zone).
pub async fn seed_demo<C: ConnectionTrait>(
    db: &C,
    store: &DemoBookingStore<'_>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    for weekday in 1..=7 {
        store_opening_hours::ActiveModel {
            store_id: Set(store.store_id),
            weekday: Set(weekday),
            opens_minute: Set(10 * 60),
            closes_minute: Set(22 * 60),
        }
        .insert(db)
        .await?;
    }
    let (code, name, minutes, buffer, price, skill) = store.service;
    service(
        db,
        Some(store.store_id),
        (code, name, minutes, buffer, price, Some(skill)),
        now,
    )
    .await?;
    let zone = crate::platform::clock::DEFAULT_ZONE;
    let today = now.with_timezone(&zone).date_naive();
    for ba in store.bas {
        ba_skill::ActiveModel {
            staff_id: Set(*ba),
            skill: Set(skill.into()),
        }
        .insert(db)
        .await?;
        for day in 0..=SHIFT_DAYS {
            let date = today + Duration::days(day);
            if let (Some(s), Some(e)) = (
                slots::local_instant(zone, date, 10 * 60),
                slots::local_instant(zone, date, 18 * 60),
            ) {
                ba_shift::ActiveModel {
                    staff_id: Set(*ba),
                    store_id: Set(store.store_id),
                    local_date: Set(date),
                    starts_at: Set(s),
                    ends_at: Set(e),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(db)
                .await?;
            }
        }
    }
    Ok(())
}
