//! Booking of in-store services: slots from hours, shifts, skills, closures and busy time in
//! the store's zone; one holder per BA and time whatever the concurrency; check-in codes that
//! are single-use, store-bound and short-lived; no-shows; reminders through counted consents.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use domain::DomainError;
use domain::auth::{MemberPrincipal, StaffPrincipal, StaffRole};
use domain::booking::{self, BookInput, BookingStatus, ReminderOutcome};
use domain::platform::clock::ManualClock;
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, Gql, TestApp, fixtures, on_both_backends};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

const CST: i32 = 8 * 3600;

/// A local Shanghai wall-clock time as UTC.
fn cst(date: &str, hm: &str) -> DateTime<Utc> {
    let naive =
        chrono::NaiveDateTime::parse_from_str(&format!("{date} {hm}"), "%Y-%m-%d %H:%M").unwrap();
    FixedOffset::east_opt(CST)
        .unwrap()
        .from_local_datetime(&naive)
        .unwrap()
        .with_timezone(&Utc)
}

fn local(t: &str) -> String {
    DateTime::parse_from_rfc3339(t)
        .unwrap()
        .with_timezone(&FixedOffset::east_opt(CST).unwrap())
        .format("%a %H:%M")
        .to_string()
}

const MON: &str = "2026-12-07";
const TUE: &str = "2026-12-08";

struct Setup {
    app: TestApp,
    clock: Arc<ManualClock>,
    store_id: i64,
    other_store: i64,
    ba1: i64,
    ba2: i64,
    facial: i64,
    /// 30 minutes, no buffer, same skill.
    mini: i64,
    manager: Gql,
}

async fn add_ba(app: &TestApp, username: &str, store_id: i64) -> i64 {
    entities::staff_account::ActiveModel {
        username: Set(username.into()),
        password_hash: Set("unused".into()),
        display_name: Set(username.into()),
        role: Set(StaffRole::Ba),
        store_id: Set(Some(store_id)),
        active: Set(true),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
    .id
}

async fn store_id(app: &TestApp, code: &str) -> i64 {
    entities::store::Entity::find()
        .filter(entities::store::Column::Code.eq(code))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// SH001 open 10:00–24:00 (Wednesday all day), closed on Tuesday 8 Dec; BA1 works Monday
/// 10–14 and 22–02 (across midnight), BA2 Monday 14–18 and Tuesday 22–02 (into Wednesday).
/// The clock stands at Sunday 20:00 in Shanghai.
async fn setup(backend: Backend) -> Setup {
    let clock = Arc::new(ManualClock::new(cst("2026-12-06", "20:00")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let store_id = store_id(&app, "SH001").await;
    let other_store = store_id_of_other(&app).await;
    let ba1 = add_ba(&app, "ba-one", store_id).await;
    let ba2 = add_ba(&app, "ba-two", store_id).await;
    let manager = app.login_staff("manager-demo").await;
    let s = store_id.to_string();
    let hours: Vec<Value> = (1..=7)
        .map(|d| {
            if d == 3 {
                json!({ "weekday": d, "opens": "00:00", "closes": "24:00" })
            } else {
                json!({ "weekday": d, "opens": "10:00", "closes": "24:00" })
            }
        })
        .collect();
    manager
        .ok(
            "mutation($s: ID!, $h: [OpeningHoursInput!]!) { setOpeningHours(storeId: $s, hours: $h) { weekday } }",
            json!({ "s": s, "h": hours }),
        )
        .await;
    manager
        .ok(
            "mutation($s: ID!) { addStoreClosure(storeId: $s, date: \"2026-12-08\", reason: \"盘点\") { date } }",
            json!({ "s": s }),
        )
        .await;
    manager
        .ok(
            "mutation($s: ID!) { setBookingPolicy(storeId: $s, slotMinutes: 30, cancelCutoffMinutes: 120, horizonDays: 30) { slotMinutes } }",
            json!({ "s": s }),
        )
        .await;
    for ba in [ba1, ba2] {
        manager
            .ok(
                "mutation($b: ID!) { setBaSkills(baId: $b, skills: [\"facial\"]) }",
                json!({ "b": ba.to_string() }),
            )
            .await;
    }
    for (ba, date, start, end) in [
        (ba1, MON, "10:00", "14:00"),
        (ba1, MON, "22:00", "02:00"),
        (ba1, TUE, "10:00", "18:00"),
        (ba2, MON, "14:00", "18:00"),
        (ba2, TUE, "22:00", "02:00"),
    ] {
        manager
            .ok(
                "mutation($b: ID!, $d: Date!, $s: String!, $e: String!) { addBaShift(baId: $b, date: $d, start: $s, end: $e) { id } }",
                json!({ "b": ba.to_string(), "d": date, "s": start, "e": end }),
            )
            .await;
    }
    let service = |code: &str, minutes: i32, buffer: i32| {
        json!({ "storeId": s, "code": code, "name": "面部护理", "durationMinutes": minutes,
                "bufferMinutes": buffer, "priceFen": 0, "requiredSkills": ["FACIAL"] })
    };
    let mut ids = Vec::new();
    for input in [service("FACIAL-T", 60, 15), service("MINI-T", 30, 0)] {
        let data = manager
            .ok(
                "mutation($i: NewBookingServiceInput!) { createBookingService(input: $i) { id free } }",
                json!({ "i": input }),
            )
            .await;
        ids.push(
            data["createBookingService"]["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        );
    }
    Setup {
        app,
        clock,
        store_id,
        other_store,
        ba1,
        ba2,
        facial: ids[0],
        mini: ids[1],
        manager,
    }
}

async fn store_id_of_other(app: &TestApp) -> i64 {
    store_id(app, "BJ001").await
}

const SLOTS: &str = "query($s: ID!, $v: ID!, $f: Date!, $d: Int!, $b: ID) { availableSlots(storeId: $s, serviceId: $v, from: $f, days: $d, baId: $b) { startsAt endsAt baIds } }";
const BOOK: &str = "mutation($i: BookServiceInput!, $k: String!) { bookService(input: $i, idempotencyKey: $k) { id baId status startsAt endsAt } }";

impl Setup {
    async fn slots(
        &self,
        me: &Gql,
        service: i64,
        days: i32,
        ba: Option<i64>,
    ) -> Vec<(String, Vec<i64>)> {
        let data = me
            .ok(
                SLOTS,
                json!({ "s": self.store_id.to_string(), "v": service.to_string(), "f": MON, "d": days,
                        "b": ba.map(|b| b.to_string()) }),
            )
            .await;
        data["availableSlots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    local(s["startsAt"].as_str().unwrap()),
                    s["baIds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| b.as_str().unwrap().parse().unwrap())
                        .collect(),
                )
            })
            .collect()
    }

    fn book_vars(&self, service: i64, ba: Option<i64>, at: DateTime<Utc>, key: &str) -> Value {
        json!({ "i": { "storeId": self.store_id.to_string(), "serviceId": service.to_string(),
                       "baId": ba.map(|b| b.to_string()), "startsAt": at.to_rfc3339() },
                "k": key })
    }

    async fn book(&self, me: &Gql, service: i64, ba: Option<i64>, at: DateTime<Utc>) -> Value {
        me.ok(BOOK, self.book_vars(service, ba, at, &key())).await["bookService"].clone()
    }
}

fn key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn starts(list: &[(String, Vec<i64>)]) -> Vec<&str> {
    list.iter().map(|(s, _)| s.as_str()).collect()
}

async fn slots_follow_hours_shifts_closures_and_midnight(backend: Backend) {
    let s = setup(backend).await;
    let (me, _) = s.app.login_member("slots").await;
    let all = s.slots(&me, s.facial, 3, None).await;
    assert_eq!(
        starts(&all),
        [
            // BA1's morning shift ends at 14:00: the last 60-minute slot starts at 13:00.
            "Mon 10:00",
            "Mon 10:30",
            "Mon 11:00",
            "Mon 11:30",
            "Mon 12:00",
            "Mon 12:30",
            "Mon 13:00",
            // The shift change: BA2 from 14:00 (13:30 would need both).
            "Mon 14:00",
            "Mon 14:30",
            "Mon 15:00",
            "Mon 15:30",
            "Mon 16:00",
            "Mon 16:30",
            "Mon 17:00",
            // BA1's night shift: the store closes at midnight, so the last start is 23:00.
            "Mon 22:00",
            "Mon 22:30",
            "Mon 23:00",
            // Tuesday is a closure day; BA2's Tuesday-night shift reaches into Wednesday,
            // which opens at 00:00.
            "Wed 00:00",
            "Wed 00:30",
            "Wed 01:00",
        ]
    );
    assert!(all[..7].iter().all(|(_, b)| b == &vec![s.ba1]));
    assert!(all[7..14].iter().all(|(_, b)| b == &vec![s.ba2]));
    // Wednesday 00:00 in Shanghai is Tuesday 16:00 UTC.
    let data = me
        .ok(
            SLOTS,
            json!({ "s": s.store_id.to_string(), "v": s.facial.to_string(), "f": "2026-12-09", "d": 1 }),
        )
        .await;
    let first =
        DateTime::parse_from_rfc3339(data["availableSlots"][0]["startsAt"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
    assert_eq!(first, cst("2026-12-09", "00:00"));
    assert_eq!(first.to_rfc3339(), "2026-12-08T16:00:00+00:00");

    // A booking takes its service and buffer; a block takes BA2's afternoon hour.
    s.book(&me, s.facial, Some(s.ba1), cst(MON, "11:00")).await;
    s.manager
        .ok(
            "mutation($b: ID!, $s: DateTime!, $e: DateTime!) { blockBaTime(baId: $b, startsAt: $s, endsAt: $e, reason: \"培训\") { id } }",
            json!({ "b": s.ba2.to_string(), "s": cst(MON, "15:00").to_rfc3339(), "e": cst(MON, "16:00").to_rfc3339() }),
        )
        .await;
    let monday = s.slots(&me, s.facial, 1, None).await;
    assert_eq!(
        starts(&monday),
        [
            "Mon 12:30",
            "Mon 13:00",
            "Mon 16:00",
            "Mon 16:30",
            "Mon 17:00",
            "Mon 22:00",
            "Mon 22:30",
            "Mon 23:00",
        ]
    );
    // The shorter service fits before the booking (10:00–10:30 and 10:30–11:00).
    let mini = s.slots(&me, s.mini, 1, Some(s.ba1)).await;
    assert_eq!(&starts(&mini)[..3], ["Mon 10:00", "Mon 10:30", "Mon 12:30"]);
    // One BA only.
    let only_two = s.slots(&me, s.facial, 1, Some(s.ba2)).await;
    assert_eq!(starts(&only_two), ["Mon 16:00", "Mon 16:30", "Mon 17:00"]);

    // The clock moves: past slots disappear.
    s.clock.set(cst(MON, "16:10"));
    // (access tokens follow the clock: sign in again after moving it)
    let (me, _) = s.app.login_member("slots").await;
    let later = s.slots(&me, s.facial, 1, None).await;
    assert_eq!(
        starts(&later),
        [
            "Mon 16:30",
            "Mon 17:00",
            "Mon 22:00",
            "Mon 22:30",
            "Mon 23:00"
        ]
    );
}

/// Members created straight in the database, for load that does not need logins.
async fn members(app: &TestApp, n: usize) -> Vec<MemberPrincipal> {
    let now = Utc::now();
    let prefix = key();
    let rows: Vec<entities::member::ActiveModel> = (0..n)
        .map(|i| entities::member::ActiveModel {
            member_code: Set(format!("M{}{i}", &prefix[..8])),
            openid: Set(format!("o-{prefix}-{i}")),
            gender: Set(entities::member::Gender::Unknown),
            skin_concerns: Set(0),
            marketing_consent: Set(false),
            tier_code: Set("NONE".into()),
            cumulative_spend_fen: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(100) {
        entities::member::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(app.db())
            .await
            .unwrap();
    }
    entities::member::Entity::find()
        .filter(entities::member::Column::Openid.starts_with(format!("o-{prefix}-")))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|m| MemberPrincipal {
            member_id: m.id,
            session_id: "test".into(),
        })
        .collect()
}

async fn concurrent_bookings_of_one_ba_and_slot_have_one_winner(backend: Backend) {
    let s = setup(backend).await;
    let people = members(&s.app, 500).await;
    let state = s.app.state.clone();
    let attempts = people.iter().cloned().map(|me| {
        let state = state.clone();
        let input = BookInput {
            store_id: s.store_id,
            service_id: s.facial,
            ba_id: Some(s.ba1),
            starts_at: cst(MON, "12:00"),
        };
        tokio::spawn(async move { booking::book(&state, &me, input, &key()).await })
    });
    let results: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "exactly one booking of BA1 at 12:00");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.code().as_str(), "CONFLICT", "{e}");
        }
    }

    // Bookings of different lengths that overlap race for BA2: 90 minutes at 14:00 against
    // 30 minutes at 15:00 (inside it) and 60 minutes at 14:30 (straddling): one wins.
    let attempts = people.iter().cloned().enumerate().map(|(i, me)| {
        let state = state.clone();
        let (service, at) = match i % 3 {
            0 => (s.facial, cst(MON, "14:30")),
            1 => (s.mini, cst(MON, "15:00")),
            _ => (s.mini, cst(MON, "14:30")),
        };
        let input = BookInput {
            store_id: s.store_id,
            service_id: service,
            ba_id: Some(s.ba2),
            starts_at: at,
        };
        tokio::spawn(async move { booking::book(&state, &me, input, &key()).await })
    });
    let results: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    // 14:30–15:30(+15) overlaps both others; 15:00–15:30 and 14:30–15:00 do not overlap each other.
    assert!(
        won.len() == 1 || (won.len() == 2 && won.iter().all(|b| b.service_id == s.mini)),
        "{won:?}"
    );
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.code().as_str(), "CONFLICT", "{e}");
        }
    }
    // Whatever won, no two holding bookings of a BA overlap (service plus buffer).
    let rows = entities::booking::Entity::find()
        .filter(entities::booking::Column::Status.eq("BOOKED"))
        .all(s.app.db())
        .await
        .unwrap();
    for a in &rows {
        for b in &rows {
            if a.id < b.id && a.ba_id == b.ba_id {
                assert!(
                    a.holds_until <= b.starts_at || b.holds_until <= a.starts_at,
                    "overlap: {a:?} {b:?}"
                );
            }
        }
    }
}

async fn booking_is_idempotent_and_changes_respect_the_cut_off(backend: Backend) {
    let s = setup(backend).await;
    let (me, _) = s.app.login_member("idem").await;
    let (other, _) = s.app.login_member("other").await;
    // Any BA: the free qualified one is picked.
    let k = key();
    let vars = s.book_vars(s.facial, None, cst(MON, "15:00"), &k);
    let first = me.ok(BOOK, vars.clone()).await["bookService"].clone();
    assert_eq!(first["baId"], json!(s.ba2.to_string()));
    assert_eq!(first["status"], "BOOKED");
    let again = me.ok(BOOK, vars).await["bookService"].clone();
    assert_eq!(first["id"], again["id"], "same key, same booking");
    assert_eq!(
        me.err(BOOK, s.book_vars(s.facial, None, cst(MON, "16:00"), &k))
            .await,
        "CONFLICT",
        "same key, different request"
    );
    // Taken, not open, in the past, no skill.
    assert_eq!(
        other
            .err(
                BOOK,
                s.book_vars(s.facial, Some(s.ba2), cst(MON, "15:30"), &key())
            )
            .await,
        "CONFLICT"
    );
    assert_eq!(
        other
            .err(BOOK, s.book_vars(s.facial, None, cst(TUE, "11:00"), &key()))
            .await,
        "CONFLICT",
        "closure day"
    );
    assert_eq!(
        other
            .err(
                BOOK,
                s.book_vars(s.facial, None, cst("2026-12-06", "11:00"), &key())
            )
            .await,
        "BAD_USER_INPUT"
    );

    // Reschedule to a free time; to a taken one is refused and the booking stays.
    let id = first["id"].as_str().unwrap().to_owned();
    s.book(&other, s.facial, Some(s.ba1), cst(MON, "10:00"))
        .await;
    const MOVE: &str = "mutation($b: ID!, $t: DateTime!, $a: ID) { rescheduleBooking(bookingId: $b, startsAt: $t, baId: $a) { startsAt baId } }";
    assert_eq!(
        me.err(
            MOVE,
            json!({ "b": id, "t": cst(MON, "10:30").to_rfc3339(), "a": s.ba1.to_string() })
        )
        .await,
        "CONFLICT"
    );
    let moved = me
        .ok(
            MOVE,
            json!({ "b": id, "t": cst(MON, "12:00").to_rfc3339() }),
        )
        .await;
    assert_eq!(moved["rescheduleBooking"]["baId"], json!(s.ba1.to_string()));
    // The old time is free again for someone else.
    s.book(&other, s.facial, Some(s.ba2), cst(MON, "15:00"))
        .await;
    assert_eq!(
        other
            .err(
                MOVE,
                json!({ "b": id, "t": cst(MON, "13:00").to_rfc3339() })
            )
            .await,
        "FORBIDDEN",
        "not their booking"
    );

    // Cancel: fine up to two hours before, then EXPIRED.
    const CANCEL: &str = "mutation($b: ID!) { cancelBooking(bookingId: $b) { status } }";
    s.clock.set(cst(MON, "10:30"));
    let (me, _) = s.app.login_member("idem").await;
    assert_eq!(me.err(CANCEL, json!({ "b": id })).await, "EXPIRED");
    s.clock.set(cst(MON, "09:30"));
    let (me, _) = s.app.login_member("idem").await;
    let (other, _) = s.app.login_member("other").await;
    assert_eq!(
        me.ok(CANCEL, json!({ "b": id })).await["cancelBooking"]["status"],
        "CANCELLED"
    );
    assert_eq!(me.err(CANCEL, json!({ "b": id })).await, "CONFLICT");
    s.book(&other, s.facial, Some(s.ba1), cst(MON, "12:00"))
        .await;
}

async fn check_in_codes_are_single_use_store_bound_and_expire(backend: Backend) {
    let s = setup(backend).await;
    let (me, member_id) = s.app.login_member("checkin").await;
    let b = s.book(&me, s.facial, Some(s.ba1), cst(MON, "10:00")).await;
    let id = b["id"].as_str().unwrap().to_owned();
    const CODE: &str = "query($b: ID!) { bookingCheckInCode(bookingId: $b) { code expiresAt } }";
    let code = me.ok(CODE, json!({ "b": id })).await["bookingCheckInCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (stranger, _) = s.app.login_member("stranger").await;
    assert_eq!(stranger.err(CODE, json!({ "b": id })).await, "FORBIDDEN");

    // A BA of another store cannot use it.
    let other_ba = add_ba(&s.app, "ba-bj", s.other_store).await;
    let elsewhere = StaffPrincipal {
        staff_id: other_ba,
        role: StaffRole::Ba,
        store_id: Some(s.other_store),
        session_id: "x".into(),
    };
    let err = booking::check_in(&s.app.state, &elsewhere, &code)
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "FORBIDDEN");

    const CHECK_IN: &str =
        "mutation($c: String!) { checkInBooking(code: $c) { id status checkedInAt } }";
    let ba = s.app.login_staff("ba-demo").await;
    assert_eq!(
        ba.err(CHECK_IN, json!({ "c": "BK.1.2.forged" })).await,
        "BAD_USER_INPUT"
    );
    let forged = code.replacen(
        &format!("BK.{id}."),
        &format!("BK.{}.", id.parse::<i64>().unwrap() + 1),
        1,
    );
    assert_eq!(
        ba.err(CHECK_IN, json!({ "c": forged })).await,
        "BAD_USER_INPUT"
    );
    let done = ba.ok(CHECK_IN, json!({ "c": code })).await;
    assert_eq!(done["checkInBooking"]["status"], "CHECKED_IN");
    assert_eq!(
        ba.err(CHECK_IN, json!({ "c": code })).await,
        "CONFLICT",
        "used twice"
    );
    assert_eq!(
        me.err(CODE, json!({ "b": id })).await,
        "CONFLICT",
        "no new code once checked in"
    );

    // Redeem with products and notes into the member's record; only once.
    let cat = fixtures::catalog(&s.app, 0).await;
    const REDEEM: &str = "mutation($b: ID!, $p: [ID!]!, $n: String) { redeemBooking(bookingId: $b, productsUsed: $p, notes: $n) { status productsUsed notes } }";
    let redeemed = ba
        .ok(
            REDEEM,
            json!({ "b": id, "p": [cat.serum_sku.to_string()], "n": "皮肤偏干，建议保湿" }),
        )
        .await;
    assert_eq!(redeemed["redeemBooking"]["status"], "REDEEMED");
    assert_eq!(
        ba.err(REDEEM, json!({ "b": id, "p": [] })).await,
        "CONFLICT"
    );
    let record = ba
        .ok(
            "query($m: ID!) { memberBookings(memberId: $m) { nodes { id status notes productsUsed } } }",
            json!({ "m": member_id }),
        )
        .await;
    assert_eq!(
        record["memberBookings"]["nodes"][0]["notes"],
        "皮肤偏干，建议保湿"
    );
    assert_eq!(
        record["memberBookings"]["nodes"][0]["productsUsed"],
        json!([cat.serum_sku.to_string()])
    );

    // A code expires: five minutes later it is refused.
    let b2 = s.book(&me, s.facial, Some(s.ba2), cst(MON, "15:00")).await;
    let code2 = me.ok(CODE, json!({ "b": b2["id"] })).await["bookingCheckInCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    s.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(ba.err(CHECK_IN, json!({ "c": code2 })).await, "EXPIRED");
    // A booking not checked in cannot be redeemed.
    assert_eq!(
        ba.err(REDEEM, json!({ "b": b2["id"], "p": [] })).await,
        "CONFLICT"
    );
}

async fn no_shows_are_marked_and_repeated_ones_pause_booking(backend: Backend) {
    let s = setup(backend).await;
    let (me, _) = s.app.login_member("noshow").await;
    let mut ids = Vec::new();
    for (ba, at) in [
        (s.ba1, cst(MON, "10:00")),
        (s.ba1, cst(MON, "12:00")),
        (s.ba2, cst(MON, "14:00")),
        (s.ba2, cst(MON, "16:00")),
    ] {
        ids.push(s.book(&me, s.facial, Some(ba), at).await["id"].clone());
    }
    // The 12:00 one is checked in.
    let code = me
        .ok(
            "query($b: ID!) { bookingCheckInCode(bookingId: $b) { code } }",
            json!({ "b": ids[1] }),
        )
        .await["bookingCheckInCode"]["code"]
        .clone();
    s.app
        .login_staff("ba-demo")
        .await
        .ok(
            "mutation($c: String!) { checkInBooking(code: $c) { id } }",
            json!({ "c": code }),
        )
        .await;
    // Before the end of the 16:00 slot only three have ended.
    s.clock.set(cst(MON, "16:30"));
    assert_eq!(booking::mark_no_shows(&s.app.state).await.unwrap(), 2);
    s.clock.set(cst(MON, "17:00"));
    assert_eq!(booking::mark_no_shows(&s.app.state).await.unwrap(), 1);
    assert_eq!(
        booking::mark_no_shows(&s.app.state).await.unwrap(),
        0,
        "idempotent"
    );
    let (me, _) = s.app.login_member("noshow").await;
    let manager = s.app.login_staff("manager-demo").await;
    let mine = me
        .ok("{ myBookings { nodes { id status } } }", json!({}))
        .await;
    let statuses: Vec<&str> = mine["myBookings"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["NO_SHOW", "NO_SHOW", "CHECKED_IN", "NO_SHOW"]);
    // Three no-shows in 90 days: booking is paused.
    let body = me
        .raw(BOOK, s.book_vars(s.facial, None, cst(MON, "22:00"), &key()))
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("LIMIT_REACHED"), "{body}");

    // The manager's day and report see it.
    let day = manager
        .ok(
            "query($s: ID!) { storeBookingDay(storeId: $s, date: \"2026-12-07\") { baId bookings { status } } }",
            json!({ "s": s.store_id.to_string() }),
        )
        .await;
    let per_ba: Vec<(String, usize)> = day["storeBookingDay"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["baId"].as_str().unwrap().to_owned(),
                d["bookings"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert!(per_ba.contains(&(s.ba1.to_string(), 2)), "{per_ba:?}");
    assert!(per_ba.contains(&(s.ba2.to_string(), 2)), "{per_ba:?}");
    let report = manager
        .ok(
            "query($s: ID!) { bookingReport(storeId: $s, from: \"2026-12-07\", to: \"2026-12-07\") { bookings noShows noShowRate perBa { baId shiftMinutes bookedMinutes utilisation } perService { serviceId bookings bookedMinutes } } }",
            json!({ "s": s.store_id.to_string() }),
        )
        .await["bookingReport"]
        .clone();
    assert_eq!(report["bookings"], 4);
    assert_eq!(report["noShows"], 3);
    assert_eq!(report["noShowRate"], 0.75);
    let ba1 = report["perBa"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["baId"] == json!(s.ba1.to_string()))
        .unwrap();
    // BA1 works 10–14 and 22–02 on Monday: 480 minutes, 120 booked.
    assert_eq!(ba1["shiftMinutes"], 480);
    assert_eq!(ba1["bookedMinutes"], 120);
    assert_eq!(ba1["utilisation"], 0.25);
    assert_eq!(report["perService"][0]["bookedMinutes"], 240);
    // Another store's manager view is refused.
    assert_eq!(
        manager
            .err(
                "query($s: ID!) { storeBookingDay(storeId: $s, date: \"2026-12-07\") { baId } }",
                json!({ "s": s.other_store.to_string() }),
            )
            .await,
        "FORBIDDEN"
    );
}

async fn reminders_are_sent_once_and_43101_is_final(backend: Backend) {
    use wechat_integration::fake::{FakeWeChat, Fault, FaultScope};
    let s = setup(backend).await;
    let (me, member_id) = s.app.login_member("remind").await;
    let member_id: i64 = member_id.parse().unwrap();
    let template = s.app.state.settings.booking.reminder_template_id.clone();
    let openid = FakeWeChat::openid_for("remind");
    // The member accepted twice (Rouge counts 2) but WeChat holds only one consent.
    for _ in 0..2 {
        me.ok(
            "mutation { subscribeBookingReminders(answer: ACCEPT) }",
            json!({}),
        )
        .await;
    }
    s.app.wechat.add_consents(&openid, &template, 1);
    let a = s.book(&me, s.facial, Some(s.ba1), cst(MON, "10:00")).await;
    let b = s.book(&me, s.facial, Some(s.ba2), cst(MON, "15:00")).await;
    // Tuesday-night booking: more than 24 hours ahead, not yet due.
    let later = s
        .book(&me, s.facial, Some(s.ba2), cst("2026-12-09", "00:00"))
        .await;

    // WeChat busy: nothing is final, the consent is given back.
    s.app
        .wechat
        .set_fault_times(FaultScope::SubscribeSend, Some(Fault::Busy), Some(1));
    assert_eq!(booking::send_reminders(&s.app.state).await.unwrap(), 1);
    assert_eq!(booking::send_reminders(&s.app.state).await.unwrap(), 0);
    assert_eq!(s.app.wechat.sent_messages().len(), 1);
    let outcome = |id: &Value| {
        let id: i64 = id.as_str().unwrap().parse().unwrap();
        let db = s.app.db().clone();
        async move {
            entities::booking::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .reminder_outcome
        }
    };
    let outcomes = [outcome(&a["id"]).await, outcome(&b["id"]).await];
    assert!(
        outcomes.contains(&Some(ReminderOutcome::Sent)),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&Some(ReminderOutcome::Refused)),
        "43101 is final: {outcomes:?}"
    );
    assert_eq!(outcome(&later["id"]).await, None);
    assert_eq!(
        domain::subscriptions::remaining(s.app.db(), member_id, &template)
            .await
            .unwrap(),
        0,
        "43101 zeroes the count"
    );
    let sent = &s.app.wechat.sent_messages()[0];
    assert_eq!(sent.touser, openid);
    assert_eq!(sent.data["thing1"], "面部护理");

    // A day later the Wednesday booking is due, but no consent is left: nothing is sent.
    s.clock.set(cst(TUE, "01:00"));
    assert_eq!(booking::send_reminders(&s.app.state).await.unwrap(), 0);
    assert_eq!(
        outcome(&later["id"]).await,
        Some(ReminderOutcome::NoConsent)
    );
    assert_eq!(s.app.wechat.sent_messages().len(), 1);
}

async fn managers_set_up_only_their_own_store(backend: Backend) {
    let s = setup(backend).await;
    let other = s.other_store.to_string();
    assert_eq!(
        s.manager
            .err(
                "mutation($s: ID!) { addStoreClosure(storeId: $s, date: \"2026-12-25\", reason: \"x\") { date } }",
                json!({ "s": other }),
            )
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        s.manager
            .err(
                "mutation { createBookingService(input: { code: \"ALL\", name: \"全店\", durationMinutes: 30 }) { id } }",
                json!({}),
            )
            .await,
        "FORBIDDEN",
        "services for every store are HQ's"
    );
    let hq = s.app.login_staff("hq-demo").await;
    hq.ok(
        "mutation { createBookingService(input: { code: \"SKIN-CHECK\", name: \"肌肤检测\", durationMinutes: 20, priceFen: 0 }) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        hq.err(
            "mutation { createBookingService(input: { code: \"BAD\", name: \"x\", durationMinutes: 7 }) { id } }",
            json!({}),
        )
        .await,
        "BAD_USER_INPUT"
    );
    let (me, _) = s.app.login_member("menu").await;
    let list = me
        .ok(
            "query($s: ID!) { bookingServices(storeId: $s) { code free } }",
            json!({ "s": s.store_id.to_string() }),
        )
        .await;
    let codes: Vec<&str> = list["bookingServices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"FACIAL-T")
            && codes.contains(&"SKIN-CHECK")
            && codes.contains(&"SKIN-TEST"),
        "{codes:?}"
    );
    let setup = s
        .manager
        .ok(
            "query($s: ID!) { storeBookingSetup(storeId: $s) { policy { slotMinutes } openingHours { weekday opens closes } closures { date } bas { id skills } } }",
            json!({ "s": s.store_id.to_string() }),
        )
        .await;
    assert_eq!(
        setup["storeBookingSetup"]["openingHours"][0]["closes"],
        "24:00"
    );
    assert_eq!(
        setup["storeBookingSetup"]["closures"][0]["date"],
        "2026-12-08"
    );
}

/// Slot searches are served from a window cached per store version: every change to what
/// slots depend on shows at once in the very same search.
async fn slot_searches_see_every_change_at_once(backend: Backend) {
    let s = setup(backend).await;
    let (me, _) = s.app.login_member("fresh-slots").await;
    let monday = |list: &[(String, Vec<i64>)]| {
        list.iter()
            .filter(|(t, _)| t.starts_with("Mon"))
            .map(|(t, b)| (t.clone(), b.clone()))
            .collect::<Vec<_>>()
    };
    let before = s.slots(&me, s.facial, 1, None).await;
    assert!(
        before
            .iter()
            .any(|(t, b)| t == "Mon 11:00" && b == &vec![s.ba1])
    );

    // A booking: BA1 is no longer offered from 10:00 (its 60 minutes + 15 of buffer).
    let booked = s.book(&me, s.facial, Some(s.ba1), cst(MON, "11:00")).await;
    let after_booking = s.slots(&me, s.facial, 1, None).await;
    assert!(!starts(&after_booking).contains(&"Mon 11:00"));
    assert!(!starts(&after_booking).contains(&"Mon 10:30"));

    // Cancelling frees it again.
    me.ok(
        "mutation($b: ID!) { cancelBooking(bookingId: $b) { status } }",
        json!({ "b": booked["id"] }),
    )
    .await;
    assert_eq!(s.slots(&me, s.facial, 1, None).await, before);

    // A block on BA2's afternoon.
    let block = s
        .manager
        .ok(
            "mutation($b: ID!, $s: DateTime!, $e: DateTime!) { blockBaTime(baId: $b, startsAt: $s, endsAt: $e, reason: \"培训\") { id } }",
            json!({ "b": s.ba2.to_string(), "s": cst(MON, "14:00").to_rfc3339(), "e": cst(MON, "18:00").to_rfc3339() }),
        )
        .await;
    let blocked = s.slots(&me, s.facial, 1, None).await;
    assert!(blocked.iter().all(|(_, b)| !b.contains(&s.ba2)));
    s.manager
        .ok(
            "mutation($b: ID!) { unblockBaTime(blockId: $b) }",
            json!({ "b": block["blockBaTime"]["id"] }),
        )
        .await;
    assert_eq!(s.slots(&me, s.facial, 1, None).await, before);

    // A closure on Monday empties it; removing it brings the slots back.
    let st = s.store_id.to_string();
    s.manager
        .ok(
            "mutation($s: ID!, $d: Date!) { addStoreClosure(storeId: $s, date: $d, reason: \"停电\") { date } }",
            json!({ "s": st, "d": MON }),
        )
        .await;
    assert!(monday(&s.slots(&me, s.facial, 1, None).await).is_empty());
    s.manager
        .ok(
            "mutation($s: ID!, $d: Date!) { removeStoreClosure(storeId: $s, date: $d) }",
            json!({ "s": st, "d": MON }),
        )
        .await;
    assert_eq!(s.slots(&me, s.facial, 1, None).await, before);

    // A longer service (HQ edits the store's service): fewer start times before each shift end.
    s.manager
        .ok(
            "mutation($v: ID!) { updateBookingService(id: $v, changes: { durationMinutes: 120 }) { durationMinutes } }",
            json!({ "v": s.facial.to_string() }),
        )
        .await;
    let longer = s.slots(&me, s.facial, 1, None).await;
    assert!(!starts(&longer).contains(&"Mon 13:00"), "{longer:?}");
    assert!(starts(&longer).contains(&"Mon 12:00"), "{longer:?}");
}

on_both_backends!(
    slots_follow_hours_shifts_closures_and_midnight,
    slot_searches_see_every_change_at_once,
    concurrent_bookings_of_one_ba_and_slot_have_one_winner,
    booking_is_idempotent_and_changes_respect_the_cut_off,
    check_in_codes_are_single_use_store_bound_and_expire,
    no_shows_are_marked_and_repeated_ones_pause_booking,
    reminders_are_sent_once_and_43101_is_final,
    managers_set_up_only_their_own_store,
);

/// GZ001 made bookable like SH001 on Monday 10–14: one BA with the skill and a 60-minute facial.
async fn second_store(s: &Setup) -> (i64, i64, i64) {
    let gz = store_id(&s.app, "GZ001").await;
    let ba = add_ba(&s.app, "ba-gz", gz).await;
    let hq = s.app.login_staff("hq-demo").await;
    let g = gz.to_string();
    let hours: Vec<Value> = (1..=7)
        .map(|d| json!({ "weekday": d, "opens": "10:00", "closes": "22:00" }))
        .collect();
    hq.ok(
        "mutation($s: ID!, $h: [OpeningHoursInput!]!) { setOpeningHours(storeId: $s, hours: $h) { weekday } }",
        json!({ "s": g, "h": hours }),
    )
    .await;
    hq.ok(
        "mutation($b: ID!) { setBaSkills(baId: $b, skills: [\"facial\"]) }",
        json!({ "b": ba.to_string() }),
    )
    .await;
    hq.ok(
        "mutation($b: ID!, $d: Date!) { addBaShift(baId: $b, date: $d, start: \"10:00\", end: \"14:00\") { id } }",
        json!({ "b": ba.to_string(), "d": MON }),
    )
    .await;
    let service = hq
        .ok(
            "mutation($i: NewBookingServiceInput!) { createBookingService(input: $i) { id } }",
            json!({ "i": { "storeId": g, "code": "FACIAL-GZ", "name": "面部护理", "durationMinutes": 60,
                           "bufferMinutes": 15, "priceFen": 0, "requiredSkills": ["FACIAL"] } }),
        )
        .await["createBookingService"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    (gz, ba, service)
}

async fn member_cells(app: &TestApp, booking_id: i64) -> u64 {
    use sea_orm::PaginatorTrait;
    entities::booking_member_cell::Entity::find()
        .filter(entities::booking_member_cell::Column::BookingId.eq(booking_id))
        .count(app.db())
        .await
        .unwrap()
}

/// One member books the same time at two stores ten times at once: one booking, nine CONFLICT.
/// Cancelling and no-shows free the member's time; rescheduling onto time the member holds at
/// another store is refused.
async fn a_member_holds_one_booking_at_a_time_across_stores(backend: Backend) {
    let s = setup(backend).await;
    let (gz, ba_gz, gz_facial) = second_store(&s).await;
    let state = s.app.state.clone();
    let me = members(&s.app, 1).await.remove(0);
    let noon = cst(MON, "12:00");
    let attempts = (0..10).map(|i| {
        let (state, me) = (state.clone(), me.clone());
        let input = if i % 2 == 0 {
            BookInput {
                store_id: gz,
                service_id: gz_facial,
                ba_id: Some(ba_gz),
                starts_at: noon,
            }
        } else {
            BookInput {
                store_id: s.store_id,
                service_id: s.facial,
                ba_id: Some(s.ba1),
                starts_at: noon,
            }
        };
        tokio::spawn(async move { booking::book(&state, &me, input, &key()).await })
    });
    let results: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "one booking of the member at 12:00: {won:?}");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.code().as_str(), "CONFLICT", "{e}");
        }
    }
    let held = entities::booking::Entity::find()
        .filter(entities::booking::Column::MemberId.eq(me.member_id))
        .filter(entities::booking::Column::Status.eq("BOOKED"))
        .all(s.app.db())
        .await
        .unwrap();
    assert_eq!(held.len(), 1, "{held:?}");

    // Cancelled, the time is the member's again: now booked at GZ001 for sure.
    booking::cancel(&state, &me, won[0].id).await.unwrap();
    assert_eq!(member_cells(&s.app, won[0].id).await, 0);
    let at_gz = BookInput {
        store_id: gz,
        service_id: gz_facial,
        ba_id: Some(ba_gz),
        starts_at: noon,
    };
    let gz_booking = booking::book(&state, &me, at_gz, &key()).await.unwrap();
    // SH001 at 10:00 is fine; moving it to 12:30 (BA1 is free then) overlaps GZ001's booking.
    let at_sh = BookInput {
        store_id: s.store_id,
        service_id: s.facial,
        ba_id: Some(s.ba1),
        starts_at: cst(MON, "10:00"),
    };
    let sh_booking = booking::book(&state, &me, at_sh, &key()).await.unwrap();
    let refused = booking::reschedule(&state, &me, sh_booking.id, cst(MON, "12:30"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, booking::BookingError::MemberOverlap),
        "{refused}"
    );
    assert_eq!(refused.code().as_str(), "CONFLICT");
    let unchanged = booking::my_booking(&state, &me, sh_booking.id)
        .await
        .unwrap();
    assert_eq!(unchanged.starts_at, cst(MON, "10:00"), "the booking stays");
    // Moving within its own time is fine: its old cells are its own.
    let moved = booking::reschedule(&state, &me, sh_booking.id, cst(MON, "10:30"), None)
        .await
        .unwrap();
    assert_eq!(moved.starts_at, cst(MON, "10:30"));
    // A new booking at SH001 with a free BA that overlaps GZ001's 12:00–13:00 is refused too.
    let overlapping = BookInput {
        store_id: s.store_id,
        service_id: s.mini,
        ba_id: Some(s.ba1),
        starts_at: cst(MON, "12:30"),
    };
    let err = booking::book(&state, &me, overlapping, &key())
        .await
        .unwrap_err();
    assert!(matches!(err, booking::BookingError::MemberOverlap), "{err}");

    // No-shows free the member's time too.
    s.clock.set(cst(MON, "13:30"));
    booking::mark_no_shows(&state).await.unwrap();
    for id in [gz_booking.id, sh_booking.id] {
        let row = entities::booking::Entity::find_by_id(id)
            .one(s.app.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, BookingStatus::NoShow);
        assert_eq!(
            member_cells(&s.app, id).await,
            0,
            "no-show {id} keeps no cells"
        );
    }
}

/// A booking moved to a new time holds it at once: booking that time afterwards is refused, and
/// a reschedule racing bookings of the same BA and time leaves one holder.
async fn a_rescheduled_booking_holds_its_new_time(backend: Backend) {
    let s = setup(backend).await;
    let state = s.app.state.clone();
    let mover = members(&s.app, 1).await.remove(0);
    let mini = |ba, at| BookInput {
        store_id: s.store_id,
        service_id: s.mini,
        ba_id: Some(ba),
        starts_at: at,
    };
    // Moved into BA1's 10:00; booking it afterwards is refused; its old time (BA2 17:30) is free.
    let b = booking::book(&state, &mover, mini(s.ba2, cst(MON, "17:30")), &key())
        .await
        .unwrap();
    booking::reschedule(&state, &mover, b.id, cst(MON, "10:00"), Some(s.ba1))
        .await
        .unwrap();
    let late = members(&s.app, 1).await.remove(0);
    let err = booking::book(&state, &late, mini(s.ba1, cst(MON, "10:00")), &key())
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "CONFLICT", "{err}");
    booking::book(&state, &late, mini(s.ba2, cst(MON, "17:30")), &key())
        .await
        .unwrap();

    // The race: each round the mover's booking moves to a BA1 time that five others book at once.
    let times = [
        "10:30", "11:00", "11:30", "12:00", "12:30", "13:00", "13:30",
    ];
    let bookers = members(&s.app, 5 * times.len()).await;
    for (round, hm) in times.iter().enumerate() {
        let at = cst(MON, hm);
        let move_it = {
            let (state, mover) = (state.clone(), mover.clone());
            let ba1 = s.ba1;
            tokio::spawn(async move {
                booking::reschedule(&state, &mover, b.id, at, Some(ba1))
                    .await
                    .map(|_| ())
            })
        };
        let books: Vec<_> = bookers[round * 5..round * 5 + 5]
            .iter()
            .cloned()
            .map(|me| {
                let state = state.clone();
                let input = mini(s.ba1, at);
                tokio::spawn(
                    async move { booking::book(&state, &me, input, &key()).await.map(|_| ()) },
                )
            })
            .collect();
        let mut results = vec![move_it.await.unwrap()];
        for t in books {
            results.push(t.await.unwrap());
        }
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "one holder of BA1 at {hm}: {results:?}");
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(e.code().as_str(), "CONFLICT", "{e}");
        }
    }
    let rows = entities::booking::Entity::find()
        .filter(entities::booking::Column::Status.eq("BOOKED"))
        .filter(entities::booking::Column::BaId.eq(s.ba1))
        .all(s.app.db())
        .await
        .unwrap();
    for a in &rows {
        for b in &rows {
            assert!(
                a.id == b.id || a.holds_until <= b.starts_at || b.holds_until <= a.starts_at,
                "overlap: {a:?} {b:?}"
            );
        }
    }
}

/// Open bookings made before the member cells existed get them from the migration, so the rule
/// holds for them too; two bookings of one member at one time (what the old race left) do not
/// stop the migration.
async fn the_migration_gives_open_bookings_their_member_cells(backend: Backend) {
    use sea_orm_migration::MigratorTrait;
    let s = setup(backend).await;
    let (gz, ba_gz, gz_facial) = second_store(&s).await;
    let state = s.app.state.clone();
    let me = members(&s.app, 1).await.remove(0);
    let noon = cst(MON, "12:00");
    let at_sh = BookInput {
        store_id: s.store_id,
        service_id: s.facial,
        ba_id: Some(s.ba1),
        starts_at: noon,
    };
    let first = booking::book(&state, &me, at_sh, &key()).await.unwrap();
    // Back to before m0009, with a second booking the old race could make.
    rouge_tests::migrate_down_to_before(s.app.db(), "m0009_booking_member_cells").await;
    let old = entities::booking::Entity::find_by_id(first.id)
        .one(s.app.db())
        .await
        .unwrap()
        .unwrap();
    let twin = entities::booking::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        ba_id: Set(s.ba2),
        idempotency_key: Set(key()),
        ..entities::booking::ActiveModel::from(old)
    };
    let twin = twin.insert(s.app.db()).await.unwrap();
    entities::migration::Migrator::up(s.app.db(), None)
        .await
        .unwrap();
    assert_eq!(member_cells(&s.app, first.id).await, 12, "60 minutes");
    assert_eq!(
        member_cells(&s.app, twin.id).await,
        0,
        "the older one keeps the time"
    );
    let at_gz = BookInput {
        store_id: gz,
        service_id: gz_facial,
        ba_id: Some(ba_gz),
        starts_at: cst(MON, "12:30"),
    };
    let err = booking::book(&state, &me, at_gz, &key()).await.unwrap_err();
    assert!(matches!(err, booking::BookingError::MemberOverlap), "{err}");
}

on_both_backends!(
    the_migration_gives_open_bookings_their_member_cells,
    a_member_holds_one_booking_at_a_time_across_stores,
    a_rescheduled_booking_holds_its_new_time,
);
