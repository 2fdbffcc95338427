//! `scripts/bench booking`: `availableSlots` for a store with 20 BAs and 2,000 bookings in the
//! 7-day window, on PostgreSQL, at 32 connections; then booking attempts under contention
//! (many members racing for a few dozen open slots).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use rand::seq::SliceRandom;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use serde_json::json;

use crate::env::{Server, fresh_database, graphql, http_client, login_member};
use crate::load;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value_t = 20)]
    bas: usize,
    #[arg(long, default_value_t = 2000)]
    bookings: usize,
    /// Local days in the slot window.
    #[arg(long, default_value_t = 7)]
    days: i64,
    /// Seconds of availableSlots load per connection count.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, value_delimiter = ',', default_value = "32")]
    connections: Vec<usize>,
    /// Booking attempts in the contention run.
    #[arg(long, default_value_t = 3000)]
    attempts: u64,
    /// Open slots the contention run's members race for.
    #[arg(long, default_value_t = 40)]
    hot_slots: usize,
}

const SLOTS: &str = "query($s: ID!, $v: ID!, $f: Date!, $d: Int!) { availableSlots(storeId: $s, serviceId: $v, from: $f, days: $d) { startsAt endsAt baIds } }";
const CANCEL: &str = "mutation($b: ID!) { cancelBooking(bookingId: $b) { id } }";
const BOOK: &str = "mutation($i: BookServiceInput!, $k: String!) { bookService(input: $i, idempotencyKey: $k) { id baId } }";

struct Seeded {
    store_id: i64,
    service_id: i64,
    from: NaiveDate,
}

async fn seed(db: &DatabaseConnection, args: &Args) -> anyhow::Result<Seeded> {
    use entities::{
        ba_shift, ba_skill, booking, booking_cell, booking_service, member, staff_account, store,
        store_opening_hours,
    };
    let zone = chrono_tz_shanghai();
    let now = Utc::now();
    let store = store::ActiveModel {
        code: Set("BENCH-BK".into()),
        name: Set("基准预约店".into()),
        city: Set("上海市".into()),
        address: Set("基准路1号".into()),
        timezone: Set("Asia/Shanghai".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    for weekday in 1..=7 {
        store_opening_hours::ActiveModel {
            store_id: Set(store.id),
            weekday: Set(weekday),
            opens_minute: Set(10 * 60),
            closes_minute: Set(22 * 60),
        }
        .insert(db)
        .await?;
    }
    let mut bas = Vec::new();
    for i in 0..args.bas {
        let ba = staff_account::ActiveModel {
            username: Set(format!("bench-ba-{i}")),
            password_hash: Set("unused".into()),
            display_name: Set(format!("顾问{i}")),
            role: Set(staff_account::StaffRole::Ba),
            store_id: Set(Some(store.id)),
            active: Set(true),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        ba_skill::ActiveModel {
            staff_id: Set(ba.id),
            skill: Set("FACIAL".into()),
        }
        .insert(db)
        .await?;
        bas.push(ba.id);
    }
    let service = |code: &str, minutes: i32, buffer: i32| booking_service::ActiveModel {
        store_id: Set(Some(store.id)),
        code: Set(code.into()),
        name: Set("面部护理".into()),
        duration_minutes: Set(minutes),
        buffer_minutes: Set(buffer),
        price_fen: Set(0),
        required_skills: Set(vec!["FACIAL".to_owned()].into()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let facial = service("BENCH-FACIAL", 60, 15).insert(db).await?;
    let quick = service("BENCH-QUICK", 30, 0).insert(db).await?;
    let members: Vec<member::ActiveModel> = (0..200)
        .map(|i| member::ActiveModel {
            member_code: Set(format!("BENCHM{i:04}")),
            openid: Set(format!("bench-openid-{i}")),
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
    member::Entity::insert_many(members)
        .exec_without_returning(db)
        .await?;
    let member_ids: Vec<i64> = member::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let from = now.with_timezone(&zone).date_naive() + chrono::Duration::days(1);
    let local = |date: NaiveDate, minute: i64| {
        zone.from_local_datetime(
            &(date.and_hms_opt(0, 0, 0).unwrap_or_default() + chrono::Duration::minutes(minute)),
        )
        .earliest()
        .map(|t| t.with_timezone(&Utc))
    };
    let mut shifts = Vec::new();
    // Every (BA, day, half-hour) of the window, shuffled: the first `bookings` are booked.
    let mut cells_free = Vec::new();
    for day in 0..args.days {
        let date = from + chrono::Duration::days(day);
        for &ba in &bas {
            let (Some(s), Some(e)) = (local(date, 10 * 60), local(date, 22 * 60)) else {
                continue;
            };
            shifts.push(ba_shift::ActiveModel {
                staff_id: Set(ba),
                store_id: Set(store.id),
                local_date: Set(date),
                starts_at: Set(s),
                ends_at: Set(e),
                created_at: Set(now),
                ..Default::default()
            });
            for half in 0..24 {
                cells_free.push((ba, date, 10 * 60 + half * 30));
            }
        }
    }
    for chunk in shifts.chunks(200) {
        ba_shift::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    cells_free.shuffle(&mut rand::thread_rng());
    let mut made = 0;
    for (n, chunk) in cells_free
        .iter()
        .take(args.bookings)
        .collect::<Vec<_>>()
        .chunks(200)
        .enumerate()
    {
        let rows: Vec<booking::ActiveModel> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, (ba, date, minute))| {
                let start = local(*date, *minute)?;
                let end = start + chrono::Duration::minutes(30);
                Some(booking::ActiveModel {
                    member_id: Set(member_ids[(n * 200 + i) % member_ids.len()]),
                    store_id: Set(store.id),
                    service_id: Set(quick.id),
                    ba_id: Set(*ba),
                    starts_at: Set(start),
                    ends_at: Set(end),
                    holds_until: Set(end),
                    status: Set(booking::BookingStatus::Booked),
                    price_fen: Set(0),
                    idempotency_key: Set(format!("bench-seed-{n}-{i}")),
                    request_hash: Set(String::new()),
                    checked_in_at: Set(None),
                    checked_in_by: Set(None),
                    redeemed_at: Set(None),
                    redeemed_by: Set(None),
                    products_used: Set(None),
                    notes: Set(None),
                    cancelled_at: Set(None),
                    reminder_sent_at: Set(None),
                    reminder_outcome: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
            })
            .collect();
        made += rows.len();
        booking::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    // The cells that make the seeded bookings hold their BAs (6 five-minute cells each).
    let seeded = booking::Entity::find().all(db).await?;
    let cells: Vec<booking_cell::ActiveModel> = seeded
        .iter()
        .flat_map(|b| {
            let first = b.starts_at.timestamp() / 300;
            (0..6).map(move |c| booking_cell::ActiveModel {
                ba_id: Set(b.ba_id),
                cell: Set(first + c),
                booking_id: Set(b.id),
            })
        })
        .collect();
    for chunk in cells.chunks(500) {
        booking_cell::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    println!(
        "seeded a store with {} BAs, {} shifts, {made} bookings over {} days from {from} ({})",
        bas.len(),
        shifts.len(),
        args.days,
        from.weekday()
    );
    Ok(Seeded {
        store_id: store.id,
        service_id: facial.id,
        from,
    })
}

fn chrono_tz_shanghai() -> chrono::FixedOffset {
    // Shanghai keeps UTC+8 all year (no daylight saving).
    chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("valid offset"))
}

/// A `bookService` request for a start time at the seeded store, under a fresh key.
fn book_request(store: &str, service: &str, starts_at: &str) -> serde_json::Value {
    json!({ "query": BOOK, "variables": {
        "i": { "storeId": store, "serviceId": service, "startsAt": starts_at },
        "k": uuid::Uuid::new_v4().simple().to_string(),
    } })
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (url, db) = fresh_database("bench_booking").await?;
    let seeded = seed(&db, &args).await?;
    db.close().await?;
    let server = Server::start(&url, &[]).await?;
    let endpoint = Arc::new(format!("{}/graphql/consumer", server.base_url));
    let max = *args.connections.iter().max().unwrap_or(&32);
    let http = http_client(max.max(64))?;
    let mut tokens = Vec::new();
    for i in 0..64 {
        tokens.push(
            login_member(&http, &endpoint, &format!("bench-member-{i}"))
                .await
                .map_err(anyhow::Error::msg)?,
        );
    }
    let tokens = Arc::new(tokens);
    let vars = Arc::new(json!({
        "s": seeded.store_id.to_string(),
        "v": seeded.service_id.to_string(),
        "f": seeded.from.format("%Y-%m-%d").to_string(),
        "d": args.days,
    }));
    let first = graphql(
        &http,
        &endpoint,
        Some(&tokens[0]),
        &json!({ "query": SLOTS, "variables": *vars }),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let open = first["data"]["availableSlots"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let pairs: usize = open
        .iter()
        .map(|s| s["baIds"].as_array().map_or(0, Vec::len))
        .sum();
    println!(
        "availableSlots: {} open start times, {pairs} (start, BA) pairs, {} bytes",
        open.len(),
        first.to_string().len()
    );
    let slots_request = {
        let (http, endpoint, tokens, vars) =
            (http.clone(), endpoint.clone(), tokens.clone(), vars.clone());
        move |c: usize, _n: u64| {
            let (http, endpoint, tokens, vars) =
                (http.clone(), endpoint.clone(), tokens.clone(), vars.clone());
            async move {
                let body = json!({ "query": SLOTS, "variables": *vars });
                let page =
                    graphql(&http, &endpoint, Some(&tokens[c % tokens.len()]), &body).await?;
                if page["data"]["availableSlots"]
                    .as_array()
                    .is_none_or(|a| a.is_empty())
                {
                    return Err("no slots".to_owned());
                }
                Ok(())
            }
        }
    };
    let _ = load::run("warm-up", 8, Duration::from_secs(3), slots_request.clone()).await;
    for connections in &args.connections {
        let report = load::run(
            "availableSlots(7 days)",
            *connections,
            Duration::from_secs(args.seconds),
            slots_request.clone(),
        )
        .await;
        report.print();
    }

    // The same searches while the store's bookings change (a booking made and cancelled every
    // 100 ms): each change makes the cached window stale, so searches read the database again.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let changes = Arc::new(AtomicU64::new(0));
    let churn = tokio::spawn({
        let (http, endpoint, token, stop, changes) = (
            http.clone(),
            endpoint.clone(),
            tokens[tokens.len() - 1].clone(),
            stop.clone(),
            changes.clone(),
        );
        let starts: Vec<String> = open
            .iter()
            .filter_map(|s| s["startsAt"].as_str().map(str::to_owned))
            .collect();
        let (store, service) = (seeded.store_id.to_string(), seeded.service_id.to_string());
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && !starts.is_empty() {
                tick.tick().await;
                i += 1;
                let body = book_request(&store, &service, &starts[i % starts.len()]);
                let Ok(done) = graphql(&http, &endpoint, Some(&token), &body).await else {
                    continue;
                };
                changes.fetch_add(1, Ordering::Relaxed);
                let cancel = json!({ "query": CANCEL, "variables": { "b": done["data"]["bookService"]["id"] } });
                if graphql(&http, &endpoint, Some(&token), &cancel)
                    .await
                    .is_ok()
                {
                    changes.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    for connections in &args.connections {
        let report = load::run(
            "availableSlots(7 days, 10 bookings/s)",
            *connections,
            Duration::from_secs(args.seconds),
            slots_request.clone(),
        )
        .await;
        report.print();
    }
    stop.store(true, Ordering::Relaxed);
    let _ = churn.await;
    println!(
        "  ({} booking changes during the run)",
        changes.load(Ordering::Relaxed)
    );

    // Contention: members race for a few dozen open start times, any BA.
    let mut hot: Vec<String> = open
        .iter()
        .filter_map(|s| s["startsAt"].as_str().map(str::to_owned))
        .collect();
    hot.shuffle(&mut rand::thread_rng());
    hot.truncate(args.hot_slots);
    let hot = Arc::new(hot);
    let booked = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    let report = load::run_count("bookService (contended)", 32, args.attempts, {
        let (http, endpoint, tokens, hot, booked, conflicts) = (
            http.clone(),
            endpoint.clone(),
            tokens.clone(),
            hot.clone(),
            booked.clone(),
            conflicts.clone(),
        );
        let store = seeded.store_id.to_string();
        let service = seeded.service_id.to_string();
        move |_c, n| {
            let (http, endpoint, tokens, hot, booked, conflicts) = (
                http.clone(),
                endpoint.clone(),
                tokens.clone(),
                hot.clone(),
                booked.clone(),
                conflicts.clone(),
            );
            let (store, service) = (store.clone(), service.clone());
            async move {
                let i = usize::try_from(n).unwrap_or(0);
                let body = book_request(&store, &service, &hot[i % hot.len()]);
                match graphql(
                    &http,
                    &endpoint,
                    Some(&tokens[(i * 7) % tokens.len()]),
                    &body,
                )
                .await
                {
                    Ok(_) => {
                        booked.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    Err(e) if e.contains("CONFLICT") => {
                        conflicts.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        }
    })
    .await;
    report.print();
    println!(
        "bookService under contention: {:.0} attempts/s, {} booked, {} refused (CONFLICT), {} other errors, over {} hot start times",
        report.per_second(),
        booked.load(Ordering::Relaxed),
        conflicts.load(Ordering::Relaxed),
        report.errors,
        hot.len()
    );
    crate::truth::print_peak_rss(server.pid());
    let rss = crate::truth::peak_rss_text(server.pid());
    drop(server);
    // The ceiling at the contended load's 32 connections.
    let (tps, ratio) = crate::truth::pgbench_ratio(&report, 32, "bookService attempts").await?;
    crate::truth::summary(
        "booking @32 (contended)",
        &format!(
            "{:.0} bookService attempts/s, p99 {:.0} ms, {} booked, {} CONFLICT; pgbench {tps:.0} tps; RSS {rss}",
            report.per_second(),
            report.p99_ms(),
            booked.load(Ordering::Relaxed),
            conflicts.load(Ordering::Relaxed)
        ),
        "none stated (no double booking: the tests)",
        Some(ratio),
    );
    Ok(())
}
