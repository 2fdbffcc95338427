//! `scripts/bench money`: 1,000 members, each with stored value covering some of her unpaid
//! orders, pay them from the balance (`payOrderWithBalance`) concurrently at 64 connections over
//! HTTP against the release server on PostgreSQL. Printed: p50/p99 per answer, then the
//! database's view: no negative balance, and every balance equal to the sums of its ledger.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, Utc};
use futures::StreamExt;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use crate::env::{CONSUMER, Server, fresh_database, http_client};
use crate::wire::{Answer, Wires, string_field};
use crate::{load, seed};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value_t = 1_000)]
    members: usize,
    /// Unpaid orders per member.
    #[arg(long, default_value_t = 5)]
    orders_per_member: usize,
    /// How many of her orders each member's balance covers.
    #[arg(long, default_value_t = 3)]
    covered: i64,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// BAs in the store whose last month is locked after the spending run (0: skip).
    #[arg(long, default_value_t = 300)]
    lock_bas: usize,
    /// Sales lines per BA in that month.
    #[arg(long, default_value_t = 100)]
    lines_per_ba: usize,
}

const PAY: &str =
    "mutation($id: ID!) { payOrderWithBalance(orderId: $id) { id status paymentMethod } }";
const PRICE_FEN: i64 = 9_900;

/// Members log in through the fake WeChat (which creates them); returns (member id, token).
async fn login_members(
    http: &reqwest::Client,
    endpoint: &str,
    members: usize,
) -> anyhow::Result<Vec<(i64, String)>> {
    let tokens: Vec<Result<String, String>> = futures::stream::iter(0..members)
        .map(|i| {
            let http = http.clone();
            async move { crate::env::login_member(&http, endpoint, &format!("money-{i}")).await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let tokens = tokens
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    // Logins finished in any order: ask each token who it is.
    let mut out = Vec::with_capacity(tokens.len());
    for token in tokens {
        let me = crate::env::graphql(
            http,
            endpoint,
            Some(&token),
            &json!({ "query": "{ me { id } }" }),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        let id: i64 = me["data"]["me"]["id"]
            .as_str()
            .unwrap_or_default()
            .parse()?;
        out.push((id, token));
    }
    Ok(out)
}

/// Each member's balance (a counter top-up in the ledger) and her unpaid orders.
async fn seed_money(
    db: &sea_orm::DatabaseConnection,
    members: &[(i64, String)],
    args: &Args,
) -> anyhow::Result<Vec<(usize, i64)>> {
    use entities::{balance_ledger, member_balance, order};
    let now = Utc::now();
    let wh = seed::warehouse(db, "MONEY-WH", "电商仓", now).await?;
    let mut orders = Vec::new();
    for (i, (member_id, _)) in members.iter().enumerate() {
        let principal = PRICE_FEN * args.covered;
        balance_ledger::ActiveModel {
            member_id: Set(*member_id),
            source: Set(balance_ledger::BalanceSource::TopUpCounter),
            principal_delta_fen: Set(principal),
            bonus_delta_fen: Set(0),
            reference: Set(Some(format!("bench-{i}"))),
            idempotency_key: Set(format!("bench-top-up:{member_id}")),
            staff_id: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        member_balance::ActiveModel {
            member_id: Set(*member_id),
            principal_fen: Set(principal),
            bonus_fen: Set(0),
            bonus_expires_at: Set(None),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
        for n in 0..args.orders_per_member {
            let row = order::ActiveModel {
                order_no: Set(format!("RB{member_id}x{n}")),
                member_id: Set(*member_id),
                channel: Set(order::Channel::Online),
                fulfilment: Set(order::FulfilmentKind::Pickup),
                store_id: Set(None),
                location_id: Set(wh.id),
                status: Set(order::OrderStatus::PendingPayment),
                subtotal_fen: Set(PRICE_FEN),
                discount_fen: Set(0),
                total_fen: Set(PRICE_FEN),
                refunded_fen: Set(0),
                payment_method: Set(None),
                transaction_id: Set(None),
                ba_id: Set(None),
                idempotency_key: Set(None),
                request_hash: Set(None),
                delivery_address: Set(None),
                pay_deadline: Set(Some(now + chrono::Duration::hours(2))),
                paid_at: Set(None),
                closed_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await?;
            orders.push((i, row.id));
        }
    }
    Ok(orders)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (url, db) = fresh_database("bench_money").await?;
    let server = Server::start(&url, &[]).await?;
    let endpoint = Arc::new(server.endpoint(CONSUMER));
    let http = http_client(args.connections)?;
    let started = std::time::Instant::now();
    let members = Arc::new(login_members(&http, &endpoint, args.members).await?);
    let mut orders = seed_money(&db, &members, &args).await?;
    // Interleave members so concurrent requests hit different balances and the same one.
    orders.sort_by_key(|(i, id)| (*id % 7, *i));
    let orders = Arc::new(orders);
    println!(
        "{} members with {} orders each ({} covered) ready in {:.1}s",
        members.len(),
        args.orders_per_member,
        args.covered,
        started.elapsed().as_secs_f64()
    );
    let answers: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let by_answer: Arc<Mutex<HashMap<String, hdrhistogram::Histogram<u64>>>> = Arc::default();
    let total = u64::try_from(orders.len()).unwrap_or(0);
    // One lean keep-alive connection per load slot (see `wire`), as the flash sale and b2b
    // loads have: the generator's CPU is time the server and PostgreSQL would otherwise lack.
    let wires = Arc::new(Wires::connect(&server.base_url, args.connections).await?);
    let query = Arc::new(serde_json::to_string(PAY)?);
    let report = load::run_count("payOrderWithBalance", args.connections, total, {
        let (wires, query, members, orders, answers, by_answer) = (
            wires.clone(),
            query.clone(),
            members.clone(),
            orders.clone(),
            answers.clone(),
            by_answer.clone(),
        );
        move |slot, n| {
            let (wires, query, members, orders, answers, by_answer) = (
                wires.clone(),
                query.clone(),
                members.clone(),
                orders.clone(),
                answers.clone(),
                by_answer.clone(),
            );
            async move {
                let (member, order_id) = orders[usize::try_from(n).unwrap_or(0) % orders.len()];
                let token = &members[member].1;
                let body = format!(r#"{{"query":{query},"variables":{{"id":"{order_id}"}}}}"#);
                let sent = std::time::Instant::now();
                let answer = wires
                    .post_json(slot, CONSUMER, token, body.as_bytes(), pay_answer)
                    .await
                    .unwrap_or_else(|e| format!("transport: {e}"));
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                if let Ok(mut h) = by_answer.lock() {
                    let _ = h
                        .entry(answer.clone())
                        .or_insert_with(load::new_histogram)
                        .record(micros.clamp(1, 60_000_000));
                }
                let expected = matches!(answer.as_str(), "PAID" | "INSUFFICIENT_BALANCE");
                if let Ok(mut a) = answers.lock() {
                    *a.entry(answer.clone()).or_default() += 1;
                }
                if expected { Ok(()) } else { Err(answer) }
            }
        }
    })
    .await;
    report.print();
    if let Ok(h) = by_answer.lock() {
        let mut kinds: Vec<_> = h.iter().collect();
        kinds.sort_by_key(|(k, _)| k.to_owned());
        for (answer, lat) in kinds {
            println!("  {answer:<22} {}", load::quantiles(lat));
        }
    }
    check_ledger(&db, &members, &args).await?;
    if args.lock_bas > 0 {
        lock_month(&db, &http, &server.base_url, &args).await?;
    }
    crate::truth::print_peak_rss(server.pid());
    let rss = crate::truth::peak_rss_text(server.pid());
    drop(server);
    // The ceiling at the server's pool size.
    let (tps, ratio) = crate::truth::pgbench_ratio(&report, 32, "payments").await?;
    crate::truth::summary(
        &format!("money @{}", args.connections),
        &format!(
            "{:.0} payments/s, p99 {:.0} ms; pgbench {tps:.0} tps; RSS {rss}",
            report.per_second(),
            report.p99_ms()
        ),
        "p99 ≤ 30 ms @64 (issue 18)",
        Some(ratio),
    );
    Ok(())
}

/// PAID, the error's reason (INSUFFICIENT_BALANCE: `extensions.reason`; its code is
/// LIMIT_REACHED), or what came back instead.
fn pay_answer(answer: &Answer<'_>) -> String {
    if let Some(reason) = string_field(answer.body, "reason") {
        return reason.to_owned();
    }
    if let Some(code) = string_field(answer.body, "code") {
        return code.to_owned();
    }
    if string_field(answer.body, "status") == Some("PAID") {
        return "PAID".into();
    }
    format!(
        "unexpected ({}): {}",
        answer.status,
        String::from_utf8_lossy(answer.body)
    )
}

const STAFF_LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }";
const HQ_PASSWORD: &str = "bench-hq-password";

/// `lockCommissionMonth` for a store of `lock_bas` BAs with `lines_per_ba` sales facts each in
/// last month (facts written set-based, as the payment path would have written them).
async fn lock_month(
    db: &sea_orm::DatabaseConnection,
    http: &reqwest::Client,
    base_url: &str,
    args: &Args,
) -> anyhow::Result<()> {
    use entities::{staff_account, store};
    use sea_orm::{ConnectionTrait, PaginatorTrait};
    let now = Utc::now();
    let shop = store::ActiveModel {
        code: Set("LOCK-BENCH".into()),
        name: Set("锁月基准门店".into()),
        city: Set("上海".into()),
        address: Set("南京西路 1 号".into()),
        timezone: Set("Asia/Shanghai".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let hash = domain::login::hash_password_async(HQ_PASSWORD.into())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let staff = |username: String, role, store_id| staff_account::ActiveModel {
        username: Set(username),
        password_hash: Set(hash.clone()),
        display_name: Set("基准".into()),
        role: Set(role),
        store_id: Set(store_id),
        active: Set(true),
        created_at: Set(now),
        must_change_password: Set(false),
        password_changed_at: Set(None),
        phone_cipher: Set(None),
        phone_masked: Set(None),
        ..Default::default()
    };
    staff("bench-hq".into(), staff_account::StaffRole::Hq, None)
        .insert(db)
        .await?;
    for chunk in (0..args.lock_bas).collect::<Vec<_>>().chunks(500) {
        staff_account::Entity::insert_many(chunk.iter().map(|i| {
            staff(
                format!("bench-ba-{i:04}"),
                staff_account::StaffRole::Ba,
                Some(shop.id),
            )
        }))
        .exec_without_returning(db)
        .await?;
    }
    // Last month in Shanghai, and its facts: each BA sells `lines_per_ba` lines over the month.
    let today = (now + chrono::Duration::hours(8)).date_naive();
    let first_of_this = today.with_day0(0).unwrap_or(today);
    let first_of_last = (first_of_this - chrono::Duration::days(1))
        .with_day0(0)
        .unwrap_or(first_of_this);
    let month = first_of_last.format("%Y-%m").to_string();
    let days = (first_of_this - first_of_last).num_days();
    db.execute_unprepared(&format!(
        "INSERT INTO sales_facts (fact_key, event, order_id, order_line_id, refund_id, occurred_at, \
           business_date, sale_date, store_id, channel, ba_id, exclusive_ba_id, member_id, sku_id, \
           product_id, category_id, campaign_id, coupon_template_id, region_code, quantity, \
           gross_fen, discount_fen, coupon_discount_fen, net_fen, cost_fen) \
         SELECT 'lock-bench:' || s.id || ':' || n, 'SALE', s.id * 1000 + n, s.id * 1000 + n, NULL, \
           d::timestamptz + interval '4 hours', d::date, d::date, {store}, 'IN_STORE', s.id, NULL, 1, 1, 1, 1, \
           NULL, NULL, '310000', 1, 12900 + (n % 7) * 1000, 0, 0, 12900 + (n % 7) * 1000, 4000 \
         FROM staff_accounts s, generate_series(1, {lines}) n, \
           LATERAL (SELECT DATE '{first}' + ((s.id + n) % {days})::int AS d) day \
         WHERE s.store_id = {store}",
        store = shop.id,
        lines = args.lines_per_ba,
        first = first_of_last,
    ))
    .await?;
    let staff_endpoint = format!("{base_url}/graphql/staff");
    let login = json!({ "query": STAFF_LOGIN, "variables": { "u": "bench-hq", "p": HQ_PASSWORD } });
    let token = crate::env::graphql(http, &staff_endpoint, None, &login)
        .await
        .map_err(anyhow::Error::msg)?["data"]["login"]["accessToken"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no HQ token"))?;
    let plan = json!({
        "query": "mutation($i: CommissionPlanInput!) { upsertCommissionPlan(input: $i) { id } }",
        "variables": { "i": {
            "storeId": shop.id.to_string(), "effectiveFrom": month, "name": "基准方案",
            "tierMode": "MARGINAL", "designatedShareBp": 7000, "assistantShareBp": 3000,
            "baseSalaryRateBp": 2000,
            "rules": [{ "itemKind": "PRODUCT", "base": "NET_REVENUE", "method": "TIERED",
                "brackets": [{ "fromFen": "0", "rateBp": 300 }, { "fromFen": "10000000", "rateBp": 500 }] }]
        } }
    });
    crate::env::graphql(http, &staff_endpoint, Some(&token), &plan)
        .await
        .map_err(anyhow::Error::msg)?;
    let lock = json!({
        "query": "mutation($m: String!, $s: ID!) { lockCommissionMonth(month: $m, storeId: $s) { totalFen } }",
        "variables": { "m": month, "s": shop.id.to_string() }
    });
    let started = std::time::Instant::now();
    let answer = crate::env::graphql(http, &staff_endpoint, Some(&token), &lock)
        .await
        .map_err(anyhow::Error::msg)?;
    let took = started.elapsed();
    let total = answer["data"]["lockCommissionMonth"]["totalFen"].clone();
    let statements = entities::commission_statement::Entity::find()
        .filter(entities::commission_statement::Column::StoreId.eq(shop.id))
        .count(db)
        .await?;
    let statements = usize::try_from(statements)?;
    println!(
        "lockCommissionMonth {month}: {} BAs, {} facts, {statements} statements, total {total} fen, in {:.0} ms (aim ≤ 2,000 ms)",
        args.lock_bas,
        args.lock_bas * args.lines_per_ba,
        took.as_secs_f64() * 1000.0
    );
    anyhow::ensure!(statements == args.lock_bas, "one statement per BA");
    Ok(())
}

/// After the run: no negative balance, each balance = Σ its ledger, each member paid exactly
/// the orders her balance covered.
async fn check_ledger(
    db: &sea_orm::DatabaseConnection,
    members: &[(i64, String)],
    args: &Args,
) -> anyhow::Result<()> {
    use entities::{balance_ledger, member_balance, order};
    let balances = member_balance::Entity::find().all(db).await?;
    let mut sums: HashMap<i64, (i64, i64)> = HashMap::new();
    for e in balance_ledger::Entity::find().all(db).await? {
        let s = sums.entry(e.member_id).or_default();
        s.0 += e.principal_delta_fen;
        s.1 += e.bonus_delta_fen;
    }
    let negative = balances
        .iter()
        .filter(|b| b.principal_fen < 0 || b.bonus_fen < 0)
        .count();
    let mismatched = balances
        .iter()
        .filter(|b| {
            sums.get(&b.member_id).copied().unwrap_or_default() != (b.principal_fen, b.bonus_fen)
        })
        .count();
    let paid = order::Entity::find()
        .filter(order::Column::Status.eq(order::OrderStatus::Paid))
        .all(db)
        .await?;
    let mut per_member: HashMap<i64, i64> = HashMap::new();
    for o in &paid {
        *per_member.entry(o.member_id).or_default() += 1;
    }
    let expected_per_member = args
        .covered
        .min(i64::try_from(args.orders_per_member).unwrap_or(0));
    // Only the bench's members: the demo data has members of its own.
    let ours: std::collections::HashSet<i64> = members.iter().map(|(id, _)| *id).collect();
    let wrong = balances
        .iter()
        .filter(|b| ours.contains(&b.member_id))
        .filter(|b| per_member.get(&b.member_id).copied().unwrap_or(0) != expected_per_member)
        .count();
    println!(
        "balances: {}, negative: {negative}, ledger ≠ balance: {mismatched}, orders paid: {}, members with other than {expected_per_member} paid: {wrong}",
        balances.len(),
        ours.iter()
            .map(|m| per_member.get(m).copied().unwrap_or(0))
            .sum::<i64>()
    );
    anyhow::ensure!(
        negative == 0 && mismatched == 0 && wrong == 0,
        "money invariants broken"
    );
    Ok(())
}
