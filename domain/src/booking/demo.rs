//! Demo booking data.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use super::slots;
use entities::booking_service::SkillList;
use entities::{ba_shift, ba_skill, booking_service, store_opening_hours};

/// Demo booking data at one store: daily hours 10:00–22:00, a free skin test (every store) and
/// a facial, and the store's BA (`ba-gz-demo`, created by the seed) with the facial skill and
/// shifts for the next seven days.
pub async fn seed_demo<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
    ba_id: i64,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    for weekday in 1..=7 {
        store_opening_hours::ActiveModel {
            store_id: Set(store_id),
            weekday: Set(weekday),
            opens_minute: Set(10 * 60),
            closes_minute: Set(22 * 60),
        }
        .insert(db)
        .await?;
    }
    for (store, code, name, minutes, buffer, price, skills) in [
        (None, "SKIN-TEST", "肌肤测试", 20, 10, 0, vec![]),
        (
            Some(store_id),
            "FACIAL-GZ001",
            "深层补水护理",
            60,
            15,
            19_900,
            vec!["FACIAL"],
        ),
    ] {
        booking_service::ActiveModel {
            store_id: Set(store),
            code: Set(code.into()),
            name: Set(name.into()),
            duration_minutes: Set(minutes),
            buffer_minutes: Set(buffer),
            price_fen: Set(price),
            required_skills: Set(SkillList(skills.into_iter().map(str::to_owned).collect())),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    ba_skill::ActiveModel {
        staff_id: Set(ba_id),
        skill: Set("FACIAL".into()),
    }
    .insert(db)
    .await?;
    let zone = crate::platform::clock::DEFAULT_ZONE;
    let today = now.with_timezone(&zone).date_naive();
    for day in 1..=7 {
        let date = today + Duration::days(day);
        if let (Some(s), Some(e)) = (
            slots::local_instant(zone, date, 10 * 60),
            slots::local_instant(zone, date, 18 * 60),
        ) {
            ba_shift::ActiveModel {
                staff_id: Set(ba_id),
                store_id: Set(store_id),
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
    Ok(())
}
