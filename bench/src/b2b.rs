//! `scripts/bench b2b`: distributor ordering on PostgreSQL and Redis. (1) `quotePurchaseOrder`
//! with 80 lines under 5 policies (3 满减, 2 搭赠) at 16 connections for a fixed time; (2) a submit
//! storm: 2,000 `submitPurchaseOrder` from 50 distributors (40 each, every one of them worth
//! 1/30 of its limit, so exactly 30 fit), then the credit rows are checked: none above its limit
//! and each counter equal to its ledger.
//!
//! Each figure is printed against its ceiling from issue 15 (quote p99 ≤ 10 ms at 16
//! connections; submit p99 ≤ 60 ms with 0 credit rows over the limit), and the quote beside
//! the floor of any distributor call: an authenticated `me` at the same connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::env::{DISTRIBUTOR, Server, fresh_database, graphql, http_client};
use crate::wire::Wires;
use crate::{load, seed};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Lines of the quoted order.
    #[arg(long, default_value_t = 80)]
    lines: usize,
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds of quoting load.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    #[arg(long, default_value_t = 50)]
    distributors: usize,
    /// Submits in the storm (spread evenly over the distributors).
    #[arg(long, default_value_t = 2_000)]
    submits: u64,
    /// Which parts run: all, quote, submit or recompute.
    #[arg(long, default_value = "all")]
    part: Part,
    #[command(flatten)]
    rebates: crate::b2b_rebates::Args,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    All,
    Quote,
    Submit,
    Recompute,
}

impl Part {
    fn runs(self, part: Part) -> bool {
        self == Part::All || self == part
    }
}

const PASSWORD: &str = "bench-distributor-password";
const QUOTE: &str =
    "query($i: PurchaseOrderInput!) { quotePurchaseOrder(input: $i) { hash totalFen } }";
const SUBMIT: &str = "mutation($i: PurchaseOrderInput!, $h: String!, $k: String!) {
  submitPurchaseOrder(input: $i, quoteHash: $h, idempotencyKey: $k) { id } }";
const ME: &str = "{ me { account { id } } }";
/// Issue 15's ceilings: quote p99 at 16 connections, submit p99 in the storm.
const QUOTE_P99_CEILING_MS: f64 = 10.0;
const SUBMIT_P99_CEILING_MS: f64 = 60.0;
/// The storm's opening submits, whose latency is printed apart.
const STORM_START: u64 = 200;
const LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }";

struct Seeded {
    skus: Vec<i64>,
    usernames: Vec<String>,
    price_list_id: i64,
}

/// 80 SKUs on one tier's price list (ladders of two steps), 5 policies, 50 distributors each
/// with one OWNER account and `limit` fen of credit.
async fn seed_data(
    db: &sea_orm::DatabaseConnection,
    args: &Args,
    limit: i64,
) -> anyhow::Result<Seeded> {
    use entities::b2b_policy::PolicyRule;
    use entities::price_list_item::PriceStep;
    use entities::{
        b2b_policy, credit_account, distributor, distributor_account, distributor_tier, price_list,
        price_list_item,
    };
    let now = Utc::now();
    let cat = seed::category(db, "BENCH-B2B", "订货基准", 98, now).await?;
    let mut skus = Vec::with_capacity(args.lines);
    for i in 0..args.lines {
        let p = seed::product(db, &format!("B2B-P{i}"), "订货精华", cat.id, now).await?;
        skus.push(
            seed::serum_sku(db, p.id, &format!("B2B-S{i}"), now)
                .await?
                .id,
        );
    }
    let tier = distributor_tier::ActiveModel {
        code: Set("BENCH".into()),
        name: Set("基准等级".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let list = price_list::ActiveModel {
        tier_id: Set(tier.id),
        version: Set(1),
        valid_from: Set(now - chrono::Duration::days(1)),
        created_by: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    price_list_item::Entity::insert_many(skus.iter().map(|s| {
        price_list_item::ActiveModel {
            price_list_id: Set(list.id),
            sku_id: Set(*s),
            moq: Set(1),
            case_size: Set(1),
            ladder: Set(vec![
                PriceStep {
                    min_qty: 1,
                    unit_price_fen: 16_000,
                },
                PriceStep {
                    min_qty: 10,
                    unit_price_fen: 15_000,
                },
            ]
            .into()),
            ..Default::default()
        }
    }))
    .exec(db)
    .await?;
    let rules = [
        PolicyRule::OrderReduction {
            threshold_fen: 100_000,
            off_fen: 2_000,
        },
        PolicyRule::OrderReduction {
            threshold_fen: 1_000_000,
            off_fen: 30_000,
        },
        PolicyRule::OrderReduction {
            threshold_fen: 5_000_000,
            off_fen: 200_000,
        },
        PolicyRule::BuyNGetM {
            sku_id: skus[0],
            buy: 10,
            gift_sku_id: skus[0],
            get: 1,
        },
        PolicyRule::BuyNGetM {
            sku_id: skus[1 % skus.len()],
            buy: 6,
            gift_sku_id: skus[2 % skus.len()],
            get: 1,
        },
    ];
    for (i, rule) in rules.into_iter().enumerate() {
        let kind = rule.kind();
        b2b_policy::ActiveModel {
            name: Set(format!("基准政策 {i}")),
            kind: Set(kind),
            rule: Set(rule.into()),
            tier_id: Set(Some(tier.id)),
            valid_from: Set(now - chrono::Duration::days(1)),
            valid_to: Set(now + chrono::Duration::days(30)),
            priority: Set(i32::try_from(i)?),
            requires_ack: Set(false),
            created_at: Set(now),
            distributor_kind: Set(None),
            region_codes: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    let hash = domain::login::hash_password_async(PASSWORD.into())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // One distributor more than the storm's: the last warms the server's submit path up.
    let mut usernames = Vec::with_capacity(args.distributors + 1);
    for i in 0..=args.distributors {
        let d = distributor::ActiveModel {
            code: Set(format!("D-BENCH-{i:03}")),
            name: Set(format!("基准经销商 {i}")),
            level: Set("A".into()),
            region: Set("上海市".into()),
            region_codes: Set(Some("310000".into())),
            credit_limit_fen: Set(limit),
            created_at: Set(now),
            active: Set(true),
            tier_id: Set(Some(tier.id)),
            kind: Set(entities::distributor::DistributorKind::Distributor),
            ..Default::default()
        }
        .insert(db)
        .await?;
        let username = format!("bench-dist-{i:03}");
        distributor_account::ActiveModel {
            distributor_id: Set(d.id),
            username: Set(username.clone()),
            password_hash: Set(hash.clone()),
            display_name: Set("采购".into()),
            active: Set(true),
            created_at: Set(now),
            role: Set(entities::distributor_account::DistributorRole::Owner),
            must_change_password: Set(false),
            password_changed_at: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await?;
        credit_account::ActiveModel {
            distributor_id: Set(d.id),
            limit_fen: Set(limit),
            override_fen: Set(0),
            reserved_fen: Set(0),
            open_ar_fen: Set(0),
            prepaid: Set(false),
            payment_term_days: Set(30),
            grace_days: Set(7),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
        usernames.push(username);
    }
    Ok(Seeded {
        skus,
        usernames,
        price_list_id: list.id,
    })
}

/// Prints a report's p99 against its ceiling, and its summary line (with the ratio to the
/// same run's pgbench where that is the ceiling: the write path).
fn against_ceiling(report: &load::Report, ceiling_ms: f64, ratio: Option<f64>) {
    let p99 = report.latency.value_at_quantile(0.99) as f64 / 1000.0;
    println!(
        "  {}: p99 {p99:.2} ms, ceiling {ceiling_ms:.0} ms -> {}",
        report.label,
        if p99 <= ceiling_ms { "OK" } else { "OVER" }
    );
    crate::truth::summary(
        &format!("b2b {} @{}", report.label, report.connections),
        &format!("{:.0}/s, p99 {p99:.1} ms", report.per_second()),
        &format!("p99 ≤ {ceiling_ms:.0} ms (issue 15)"),
        ratio,
    );
}

fn order(skus: &[i64], qty: i64) -> Value {
    json!({ "lines": skus.iter().map(|s| json!({ "skuId": s.to_string(), "qty": qty })).collect::<Vec<_>>() })
}

async fn quote(
    http: &reqwest::Client,
    endpoint: &str,
    token: &str,
    input: &Value,
) -> Result<Value, String> {
    let body = json!({ "query": QUOTE, "variables": { "i": input } });
    Ok(graphql(http, endpoint, Some(token), &body).await?["data"]["quotePurchaseOrder"].clone())
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.lines >= 3 && args.distributors >= 1, "lines >= 3");
    let (url, db) = fresh_database("bench_b2b").await?;
    // One submit (5 lines × 10 units at ¥150 = ¥7,500, less 满减 ¥20) is 1/30 of the limit.
    let per_order = 5 * 10 * 15_000 - 2_000;
    let limit = per_order * 30;
    // The server first: it seeds the demo on an empty database, and the bench's rows come after.
    let server = Server::start(&url, &[]).await?;
    let seeded = seed_data(&db, &args, limit).await?;
    // Statistics for the rows just seeded, as a database in service has them: otherwise
    // autovacuum analyzes the fresh tables during the load, and every connection plans its
    // statements again after it.
    sea_orm::ConnectionTrait::execute_unprepared(&db, "ANALYZE").await?;
    let storm_skus: Vec<i64> = (0..5).map(|i| seeded.skus[i % seeded.skus.len()]).collect();
    let storm_order = order(&storm_skus, 10);
    let endpoint = Arc::new(server.endpoint(DISTRIBUTOR));
    let http = http_client(args.connections.max(args.distributors))?;
    let mut tokens = Vec::with_capacity(seeded.usernames.len());
    for u in &seeded.usernames {
        let body = json!({ "query": LOGIN, "variables": { "u": u, "p": PASSWORD } });
        let data = graphql(&http, &endpoint, None, &body)
            .await
            .map_err(anyhow::Error::msg)?;
        tokens.push(
            data["data"]["login"]["accessToken"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("no token for {u}"))?
                .to_owned(),
        );
    }
    let tokens = Arc::new(tokens);
    println!("{} distributors logged in", tokens.len());
    let wires = Arc::new(Wires::connect(&server.base_url, args.connections).await?);

    if args.part.runs(Part::Quote) {
        // (1) Quotes of 80 lines (quantities varied so ladders and gifts both apply).
        let big = Arc::new(json!({ "lines": seeded.skus.iter().enumerate()
        .map(|(i, s)| json!({ "skuId": s.to_string(), "qty": 6 + (i % 9) as i64 }))
        .collect::<Vec<_>>() }));
        let sample = quote(&http, &endpoint, &tokens[0], &big)
            .await
            .map_err(anyhow::Error::msg)?;
        println!(
            "quote of {} lines: total {} fen",
            args.lines, sample["totalFen"]
        );
        // The load loops run on lean connections (see `wire`), the answer checked as a whole
        // above: the quote's answer is large, and parsing it into a `Value` per request was
        // the load generator's CPU taken from the server.
        let body = Arc::new(serde_json::to_vec(
            &json!({ "query": QUOTE, "variables": { "i": *big } }),
        )?);
        let report = {
            let (wires, tokens, body) = (wires.clone(), tokens.clone(), body.clone());
            load::run(
                "quotePurchaseOrder(80 lines)",
                args.connections,
                Duration::from_secs(args.seconds),
                move |c, _n| {
                    let (wires, tokens, body) = (wires.clone(), tokens.clone(), body.clone());
                    async move {
                        wires
                            .graphql(c, DISTRIBUTOR, &tokens[c % tokens.len()], &body)
                            .await
                    }
                },
            )
            .await
        };
        report.print();
        against_ceiling(&report, QUOTE_P99_CEILING_MS, None);
        // The floor under any distributor call: an authenticated `me`, same connections.
        let me = Arc::new(serde_json::to_vec(&json!({ "query": ME }))?);
        let floor = {
            let (wires, tokens) = (wires.clone(), tokens.clone());
            load::run(
                "me (floor)",
                args.connections,
                Duration::from_secs(args.seconds.min(5)),
                move |c, _n| {
                    let (wires, tokens, me) = (wires.clone(), tokens.clone(), me.clone());
                    async move {
                        wires
                            .graphql(c, DISTRIBUTOR, &tokens[c % tokens.len()], &me)
                            .await
                    }
                },
            )
            .await
        };
        floor.print();
    }
    if args.part.runs(Part::Submit) {
        // (2) The submit storm: every distributor's order quoted once, then submitted many times
        // with fresh keys; refusals for credit (LIMIT_REACHED, or CONFLICT once the quote's
        // "credit covers it" flips) are answers, not errors.
        let mut hashes = Vec::with_capacity(tokens.len());
        for t in tokens.iter() {
            let q = quote(&http, &endpoint, t, &storm_order)
                .await
                .map_err(anyhow::Error::msg)?;
            hashes.push(q["hash"].as_str().unwrap_or_default().to_owned());
        }
        let hashes = Arc::new(hashes);
        let storm_order = Arc::new(storm_order);
        // Warm-up, not counted: the warm-up distributor submits three orders per connection, so
        // the storm meets the server as a storm would in service (each database connection has
        // prepared the submit's statements), not its first minute. The storm's own first
        // submits are still printed apart below.
        let warm_up = {
            let (wires, tokens, hashes, input) = (
                wires.clone(),
                tokens.clone(),
                hashes.clone(),
                storm_order.clone(),
            );
            let who = args.distributors;
            load::run_count(
                "warm-up (not counted)",
                args.connections,
                u64::try_from(args.connections * 3)?,
                move |c, n| {
                    let (wires, tokens, hashes, input) =
                        (wires.clone(), tokens.clone(), hashes.clone(), input.clone());
                    async move {
                        let body = serde_json::to_vec(&json!({ "query": SUBMIT, "variables": {
                            "i": *input, "h": hashes[who], "k": format!("warm-key-{n:06}") } }))
                        .map_err(|e| e.to_string())?;
                        match wires.graphql(c, DISTRIBUTOR, &tokens[who], &body).await {
                            Err(e) if e != "LIMIT_REACHED" && e != "CONFLICT" => Err(e),
                            _ => Ok(()),
                        }
                    }
                },
            )
            .await
        };
        warm_up.print();
        let accepted = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        // Latency of the storm's first submits apart from the rest: the first ones meet cold
        // database connections (statements prepared once per connection) and caches.
        let by_phase = Arc::new(std::sync::Mutex::new([
            load::new_histogram(),
            load::new_histogram(),
        ]));
        let storm_distributors = args.distributors;
        let report = {
            let (wires, tokens, hashes, input, accepted, refused, by_phase) = (
                wires.clone(),
                tokens.clone(),
                hashes.clone(),
                storm_order.clone(),
                accepted.clone(),
                refused.clone(),
                by_phase.clone(),
            );
            load::run_count(
                "submitPurchaseOrder storm",
                args.connections,
                args.submits,
                move |c, n| {
                    let (wires, tokens, hashes, input, accepted, refused, by_phase) = (
                        wires.clone(),
                        tokens.clone(),
                        hashes.clone(),
                        input.clone(),
                        accepted.clone(),
                        refused.clone(),
                        by_phase.clone(),
                    );
                    async move {
                        let who = usize::try_from(n).unwrap_or(0) % storm_distributors;
                        let body = json!({ "query": SUBMIT, "variables": {
                        "i": *input, "h": hashes[who], "k": format!("storm-key-{n:06}") } });
                        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
                        let sent = std::time::Instant::now();
                        let outcome = wires.graphql(c, DISTRIBUTOR, &tokens[who], &body).await;
                        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                        if let Ok(mut phases) = by_phase.lock() {
                            let _ = phases[usize::from(n >= STORM_START)].record(micros.max(1));
                        }
                        match outcome {
                            Ok(()) => {
                                accepted.fetch_add(1, Ordering::Relaxed);
                                Ok(())
                            }
                            Err(e) if e == "LIMIT_REACHED" || e == "CONFLICT" => {
                                refused.fetch_add(1, Ordering::Relaxed);
                                Ok(())
                            }
                            Err(e) => Err(e),
                        }
                    }
                },
            )
            .await
        };
        report.print();
        if let Ok(phases) = by_phase.lock() {
            for (phase, lat) in ["first", "after the first"].iter().zip(phases.iter()) {
                println!("  {phase} {STORM_START} submits: {}", load::quantiles(lat));
            }
        }
        // The write path's ceiling at the storm's connections.
        let (_, ratio) = crate::truth::pgbench_ratio(&report, args.connections, "submits").await?;
        against_ceiling(&report, SUBMIT_P99_CEILING_MS, Some(ratio));
        let rows = entities::credit_account::Entity::find().all(&db).await?;
        let mut over = 0;
        let mut drift = 0;
        for r in &rows {
            if r.reserved_fen + r.open_ar_fen > r.limit_fen + r.override_fen {
                over += 1;
            }
            // What is reserved: taken by orders, less what they gave back and what was
            // invoiced (a shipped order's reservation becomes a receivable).
            use entities::credit_entry::CreditEntryKind as Kind;
            let ledger: i64 = entities::credit_entry::Entity::find()
                .filter(entities::credit_entry::Column::DistributorId.eq(r.distributor_id))
                .all(&db)
                .await?
                .iter()
                .map(|e| match e.kind {
                    Kind::Reserve => e.amount_fen,
                    Kind::Release | Kind::Invoice => -e.amount_fen,
                    Kind::Payment | Kind::Adjust | Kind::CreditNote => 0,
                })
                .sum();
            if ledger != r.reserved_fen {
                drift += 1;
            }
        }
        let fit = u64::try_from(rows.len())? * 30;
        println!(
            "submits: accepted={} refused={} (at most {fit} fit); credit rows over the limit = {over}, rows whose ledger differs = {drift} -> {}",
            accepted.load(Ordering::Relaxed),
            refused.load(Ordering::Relaxed),
            if over == 0 && drift == 0 && accepted.load(Ordering::Relaxed) <= fit {
                "OK"
            } else {
                "MISMATCH"
            }
        );
    }
    if args.part.runs(Part::Recompute) {
        crate::b2b_rebates::run(&db, &args.rebates, (seeded.skus[0], seeded.price_list_id)).await?;
    }
    if let Some(pid) = server.pid()
        && let Some(rss) = load::peak_rss_mib(pid)
    {
        println!("server peak RSS: {rss:.0} MiB");
    }
    db.close().await?;
    Ok(())
}
