//! `scripts/bench flash-sale`: 100,000 grab attempts for 1,000 units from 20,000 members at 256
//! connections over HTTP against the release server on PostgreSQL and Redis; then the same Lua
//! script run by `redis-benchmark` (EVALSHA) as the ceiling, and the ratio; the winners'
//! latency apart from the crowd's: the time to their answer (the grab ticket) and, from the
//! database, the time from the ticket to its order (the background writer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use futures::StreamExt;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::env::{CONSUMER, Server, fresh_database, http_client, redis_url};
use crate::wire::{Answer, Wires, string_field};
use crate::{load, seed};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value_t = 20_000)]
    members: usize,
    #[arg(long, default_value_t = 1_000)]
    units: i32,
    #[arg(long, default_value_t = 100_000)]
    attempts: u64,
    #[arg(long, default_value_t = 256)]
    connections: usize,
}

/// The sale's opening, when the winners' tickets are recorded and their orders written: the
/// crowd's latency is printed for it and for the rest apart.
const OPENING: std::time::Duration = std::time::Duration::from_millis(1500);
const GRAB: &str = "mutation($s: ID!, $k: String!) { grabFlashSale(saleId: $s, quantity: 1, idempotencyKey: $k) { ticket status } }";

/// The SKU, its stock in the online warehouse, and the sale (live from now for an hour).
async fn seed(db: &sea_orm::DatabaseConnection, units: i32) -> anyhow::Result<i64> {
    use entities::{flash_sale, stock_batch, stock_level, stock_movement};
    let now = Utc::now();
    let cat = seed::category(db, "FLASH", "秒杀", 1, now).await?;
    let wh = seed::warehouse(db, "FLASH-WH", "电商仓", now).await?;
    let p = seed::product(db, "FLASH-SERUM", "玫瑰精华", cat.id, now).await?;
    let s = seed::serum_sku(db, p.id, "FLASH-SERUM-30", now).await?;
    let batch = stock_batch::ActiveModel {
        sku_id: Set(s.id),
        lot: Set("FLASH-L1".into()),
        manufactured_on: Set(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()),
        expires_on: Set(NaiveDate::from_ymd_opt(2029, 1, 1).unwrap_or_default()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let on_hand = i64::from(units) * 2;
    stock_level::ActiveModel {
        location_id: Set(wh.id),
        batch_id: Set(batch.id),
        sku_id: Set(s.id),
        quantity: Set(on_hand),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    stock_movement::ActiveModel {
        location_id: Set(wh.id),
        batch_id: Set(batch.id),
        sku_id: Set(s.id),
        delta: Set(on_hand),
        kind: Set(entities::stock_movement::MovementKind::Receipt),
        reference: Set(Some("bench seed".into())),
        staff_id: Set(None),
        note: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let sale = flash_sale::ActiveModel {
        title: Set("玫瑰精华 秒杀".into()),
        sku_id: Set(s.id),
        price_fen: Set(9_900),
        stock: Set(units),
        sold: Set(0),
        per_member_limit: Set(1),
        starts_at: Set(now - chrono::Duration::seconds(5)),
        ends_at: Set(now + chrono::Duration::hours(1)),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(sale.id)
}

/// Members log in through the fake WeChat (which creates them) and keep their access tokens.
async fn login_members(
    http: &reqwest::Client,
    endpoint: &str,
    members: usize,
) -> anyhow::Result<Vec<String>> {
    let tokens: Vec<Result<String, String>> = futures::stream::iter(0..members)
        .map(|i| {
            let http = http.clone();
            async move { crate::env::login_member(&http, endpoint, &format!("flash-{i}")).await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    tokens
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (url, db) = fresh_database("bench_flash").await?;
    let sale_id = seed(&db, args.units).await?;
    let server = Server::start(&url, &[]).await?;
    let endpoint = Arc::new(server.endpoint(CONSUMER));
    let http = http_client(args.connections)?;
    let started = std::time::Instant::now();
    let tokens = Arc::new(login_members(&http, &endpoint, args.members).await?);
    println!(
        "{} members logged in in {:.1}s; sale {sale_id}: {} units, limit 1",
        tokens.len(),
        started.elapsed().as_secs_f64(),
        args.units
    );
    let answers: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    // Latency per answer: the winners (answered with a ticket) and the crowd turned away differ.
    let by_answer: Arc<Mutex<HashMap<String, hdrhistogram::Histogram<u64>>>> = Arc::default();
    // The turned-away crowd's latency by when it was sent: during the opening (the winners'
    // tickets and the order writers at work) and after it, to show where the tail comes from.
    let by_phase: Arc<Mutex<[hdrhistogram::Histogram<u64>; 2]>> =
        Arc::new(Mutex::new([load::new_histogram(), load::new_histogram()]));
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    // One lean keep-alive connection per load slot (see `wire`): the generator's CPU is time
    // the server would otherwise lack on this machine.
    let wires = Arc::new(Wires::connect(&server.base_url, args.connections).await?);
    let query = Arc::new(serde_json::to_string(GRAB)?);
    let load_started = std::time::Instant::now();
    let report = load::run_count("grabFlashSale", args.connections, args.attempts, {
        let (wires, query, tokens, answers, by_answer, by_phase) = (
            wires.clone(),
            query.clone(),
            tokens.clone(),
            answers.clone(),
            by_answer.clone(),
            by_phase.clone(),
        );
        move |slot, n| {
            let (wires, query, tokens, answers, by_answer, by_phase) = (
                wires.clone(),
                query.clone(),
                tokens.clone(),
                answers.clone(),
                by_answer.clone(),
                by_phase.clone(),
            );
            let key = format!("b{run_id}{n}").chars().take(64).collect::<String>();
            async move {
                let token = &tokens[usize::try_from(n).unwrap_or(0) % tokens.len()];
                let body =
                    format!(r#"{{"query":{query},"variables":{{"s":"{sale_id}","k":"{key}"}}}}"#);
                let sent = std::time::Instant::now();
                let answer = wires
                    .post_json(slot, CONSUMER, token, body.as_bytes(), grab_answer)
                    .await
                    .unwrap_or_else(|e| format!("transport: {e}"));
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                if let Ok(mut h) = by_answer.lock() {
                    let _ = h
                        .entry(answer.clone())
                        .or_insert_with(load::new_histogram)
                        .record(micros.clamp(1, 60_000_000));
                }
                if answer != "TICKET"
                    && let Ok(mut phases) = by_phase.lock()
                {
                    let phase = usize::from(sent.duration_since(load_started) >= OPENING);
                    let _ = phases[phase].record(micros.clamp(1, 60_000_000));
                }
                let expected = matches!(
                    answer.as_str(),
                    "TICKET" | "SOLD_OUT" | "LIMIT_REACHED" | "RATE_LIMITED"
                );
                if let Ok(mut a) = answers.lock() {
                    *a.entry(answer.clone()).or_default() += 1;
                }
                if expected { Ok(()) } else { Err(answer) }
            }
        }
    })
    .await;
    report.print();
    let answers = answers.lock().map(|a| a.clone()).unwrap_or_default();
    let mut sorted: Vec<_> = answers.iter().collect();
    sorted.sort();
    println!("answers: {sorted:?}");
    let winners_p99 = by_answer.lock().ok().and_then(|h| {
        h.get("TICKET")
            .map(|l| l.value_at_quantile(0.99) as f64 / 1000.0)
    });
    if let Ok(h) = by_answer.lock() {
        let mut kinds: Vec<_> = h.iter().collect();
        kinds.sort_by_key(|(k, _)| k.to_owned());
        for (answer, lat) in kinds {
            println!("  {answer:<14} {}", load::quantiles(lat));
        }
    }

    if let Ok(phases) = by_phase.lock() {
        for (phase, lat) in ["opening", "after it"].iter().zip(phases.iter()) {
            println!(
                "  turned away, sent {phase:<8} ({} s): {}",
                OPENING.as_secs_f64(),
                load::quantiles(lat)
            );
        }
    }

    let winners = answers.get("TICKET").copied().unwrap_or(0);
    let (to_order, oversold, one_order_per_winner) = check_database(&db, sale_id, winners).await?;

    // The ceiling: the same script, straight at Redis.
    let ceiling = redis_ceiling(args.connections, args.attempts, args.units).await?;
    let ratio = report.per_second() / ceiling;
    println!(
        "ceiling: redis-benchmark EVALSHA flash grab (same run): {ceiling:.0} calls/s; ratio HTTP/ceiling = {ratio:.3}"
    );
    crate::truth::print_peak_rss(server.pid());
    crate::truth::summary(
        "flash-sale",
        &format!(
            "{:.0} attempts/s, p99 {:.1} ms; winners p99 {} (ticket), order written p99 {} ms after the ticket; oversold {oversold}; one order per winner {one_order_per_winner}; RSS {}",
            report.per_second(),
            report.p99_ms(),
            winners_p99.map_or_else(|| "n/a".to_owned(), |w| format!("{w:.0} ms")),
            to_order.p99_ms,
            crate::truth::peak_rss_text(server.pid())
        ),
        "ratio >= 0.2; p99 <= 50 ms; winners p99 <= 250 ms",
        Some(ratio),
    );
    Ok(())
}

/// The database's view after the load: waits for the tickets' orders, then counts orders,
/// claims and members above the limit. Returns the tickets' way to their orders, the units
/// oversold and whether every winner has exactly one order.
async fn check_database(
    db: &sea_orm::DatabaseConnection,
    sale_id: i64,
    winners: u64,
) -> anyhow::Result<(TicketToOrder, i64, bool)> {
    // The orders follow the tickets: wait for the writers, then the time from ticket to order.
    let to_order = ticket_to_order(db, sale_id).await?;
    let orders = entities::flash_sale_grab::Entity::find()
        .filter(entities::flash_sale_grab::Column::SaleId.eq(sale_id))
        .count(db)
        .await?;
    let sale = entities::flash_sale::Entity::find_by_id(sale_id)
        .one(db)
        .await?
        .context("sale")?;
    let over_limit = entities::flash_sale_quota::Entity::find()
        .filter(entities::flash_sale_quota::Column::SaleId.eq(sale_id))
        .filter(entities::flash_sale_quota::Column::Units.gt(1))
        .count(db)
        .await?;
    // Orders claim unit rows; `sold` is settled in bulk later, so count the claims.
    let claimed = entities::flash_sale_unit::Entity::find()
        .filter(entities::flash_sale_unit::Column::SaleId.eq(sale_id))
        .filter(entities::flash_sale_unit::Column::OrderId.is_not_null())
        .count(db)
        .await?;
    let oversold = (i64::try_from(orders).unwrap_or(i64::MAX) - i64::from(sale.stock)).max(0);
    println!(
        "orders created: {orders} (answered TICKET: {winners}; tickets ordered {}, failed {}, still pending {}), units claimed={claimed} of {}, oversold: {oversold}, members above the limit: {over_limit}",
        to_order.ordered, to_order.failed, to_order.pending, sale.stock
    );
    let one_order_per_winner = orders == winners
        && to_order.ordered == winners
        && to_order.failed == 0
        && to_order.pending == 0
        && claimed == orders
        && over_limit == 0;
    println!("one order per winner: {one_order_per_winner}");
    Ok((to_order, oversold, one_order_per_winner))
}

/// The tickets' way to their orders, from the database (server clock): `written_at -
/// created_at` of the ordered tickets, after waiting (up to 30 s) for none to be pending.
#[derive(Debug, Default)]
struct TicketToOrder {
    ordered: u64,
    failed: u64,
    pending: u64,
    p99_ms: i64,
}

async fn ticket_to_order(
    db: &sea_orm::DatabaseConnection,
    sale_id: i64,
) -> anyhow::Result<TicketToOrder> {
    use entities::flash_sale_ticket::{Column, Entity, TicketStatus};
    let pending = || {
        Entity::find()
            .filter(Column::SaleId.eq(sale_id))
            .filter(Column::Status.eq(TicketStatus::Pending))
            .count(db)
    };
    let waited = std::time::Instant::now();
    while pending().await? > 0 && waited.elapsed() < std::time::Duration::from_secs(30) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let tickets = Entity::find()
        .filter(Column::SaleId.eq(sale_id))
        .all(db)
        .await?;
    let mut out = TicketToOrder::default();
    let mut ms: Vec<i64> = Vec::new();
    let (mut first, mut last) = (None, None);
    for t in &tickets {
        match t.status {
            TicketStatus::Pending => out.pending += 1,
            TicketStatus::Failed => out.failed += 1,
            TicketStatus::Ordered => {
                out.ordered += 1;
                if let Some(w) = t.written_at {
                    ms.push((w - t.created_at).num_milliseconds());
                    first = Some(
                        first.map_or(t.created_at, |f: chrono::DateTime<Utc>| f.min(t.created_at)),
                    );
                    last = Some(last.map_or(w, |l: chrono::DateTime<Utc>| l.max(w)));
                }
            }
        }
    }
    ms.sort_unstable();
    let at = |q: f64| {
        ms.get(((ms.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0)
    };
    out.p99_ms = at(0.99);
    println!(
        "ticket -> order written (server clock, {} orders): p50={} ms p99={} ms max={} ms; first ticket to last order {} ms",
        ms.len(),
        at(0.5),
        at(0.99),
        ms.last().copied().unwrap_or(0),
        match (first, last) {
            (Some(f), Some(l)) => (l - f).num_milliseconds(),
            _ => 0,
        }
    );
    Ok(out)
}

/// A grab's answer: TICKET or the error code.
fn grab_answer(answer: &Answer<'_>) -> String {
    if string_field(answer.body, "ticket").is_some() {
        return "TICKET".into();
    }
    string_field(answer.body, "code").map_or_else(
        || {
            format!(
                "unexpected ({}): {}",
                answer.status,
                String::from_utf8_lossy(answer.body)
            )
        },
        str::to_owned,
    )
}

/// Loads the grab script and a sale's counters, then has `redis-benchmark` call EVALSHA with
/// random members and keys; returns its calls per second.
async fn redis_ceiling(connections: usize, attempts: u64, units: i32) -> anyhow::Result<f64> {
    let url = redis_url()?;
    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let base = "flashbench:{1}";
    let _: () = redis::cmd("DEL")
        .arg(base)
        .arg(format!("{base}:m"))
        .arg(format!("{base}:k"))
        .query_async(&mut conn)
        .await?;
    let now = Utc::now().timestamp_millis();
    let _: () = redis::cmd("HSET")
        .arg(base)
        .arg("stock")
        .arg(units)
        .arg("start")
        .arg(now - 5_000)
        .arg("end")
        .arg(now + 3_600_000)
        .arg("limit")
        .arg(1)
        .query_async(&mut conn)
        .await?;
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(domain::platform::kv::RedisStore::flash_grab_script())
        .query_async(&mut conn)
        .await?;
    let parsed = reqwest::Url::parse(&url)?;
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = parsed.port().unwrap_or(6379).to_string();
    let output = tokio::process::Command::new("redis-benchmark")
        .args(["-h", &host, "-p", &port, "-q", "-r", "1000000000"])
        .args(["-c", &connections.to_string(), "-n", &attempts.to_string()])
        // The server's call: the sale's three keys and the member's attempt window.
        .args(["EVALSHA", &sha, "4", base])
        .arg(format!("{base}:m"))
        .arg(format!("{base}:k"))
        .arg(format!("{base}:rl:__rand_int__"))
        .args(["__rand_int__", "1", &now.to_string(), "k__rand_int__"])
        .args(["10", "1000"])
        .output()
        .await
        .context("run redis-benchmark")?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    // "EVALSHA ...: 81234.56 requests per second, p50=..." (the last figure line).
    let rps = text
        .split(['\r', '\n'])
        .filter_map(|l| {
            let (_, rest) = l.rsplit_once(": ")?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .next_back()
        .with_context(|| format!("redis-benchmark said: {text}"))?;
    let sold: Option<String> = redis::cmd("HGET")
        .arg(base)
        .arg("stock")
        .query_async(&mut conn)
        .await?;
    println!(
        "redis-benchmark: {}",
        text.lines().last().unwrap_or_default().trim()
    );
    println!(
        "redis-benchmark left {} of {units} units",
        sold.unwrap_or_default()
    );
    let _: () = redis::cmd("DEL")
        .arg(base)
        .arg(format!("{base}:m"))
        .arg(format!("{base}:k"))
        .query_async(&mut conn)
        .await?;
    Ok(rps)
}
