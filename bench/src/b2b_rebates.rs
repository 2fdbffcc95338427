//! `scripts/bench b2b` part (3): a quarter's rebate recompute for 200 distributors, 100,000
//! received order lines and 1,000,000 consumer scans (issue 15: ≤ 10 s and equal to the ledger).
//!
//! Seeding is bulk SQL (generate_series): distributors with territories (上海 or 广东), shipped
//! orders of 20 lines × 10 units with their pack serial ranges bound at shipment, then one
//! first scan per pack in the current quarter (every tenth in 北京, outside every territory).
//! Accrual goes through the real paths: every order's receipt is confirmed by the domain's
//! `confirm_receipt` (VOLUME_REBATE accrues in its transaction) and the scan rebate worker's
//! pass (`accrue_scan_rebates`) reads the scans. Then the timed part: the domain's set-based
//! `recompute_quarter_all`, checked against the ledger and the balance rows for every
//! distributor, and against the figures the seed implies.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Set,
};

use entities::b2b_policy::{PolicyRule, RebateMode};
use entities::purchase_order::PoStatus;
use entities::scan_event::ScanEventOutcome;

/// Issue 15's ceiling for the quarter's recompute.
const RECOMPUTE_CEILING_S: f64 = 10.0;
const LINES_PER_ORDER: i64 = 20;
const UNITS_PER_LINE: i64 = 10;
const UNIT_PRICE_FEN: i64 = 15_000;
/// VOLUME_REBATE: 3% of the whole quarter once ¥100,000 is received.
const VOLUME_THRESHOLD_FEN: i64 = 10_000_000;
const VOLUME_RATE_BP: i32 = 300;
/// SCAN_REBATE: ¥0.50 per first scan inside the territory.
const FEN_PER_SCAN: i64 = 50;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Distributors with received orders and scans.
    #[arg(long, default_value_t = 200)]
    pub rebate_distributors: i64,
    /// Received order lines (20 per order, 10 units each: one pack serial per unit).
    #[arg(long, default_value_t = 100_000)]
    pub rebate_lines: i64,
    /// Confirmations of receipt running at once.
    #[arg(long, default_value_t = 8)]
    pub receipt_concurrency: usize,
}

/// Runs the part on a database the bench server migrated and seeded (a member and a staff
/// member exist), with `sku_id` on price list `price_list_id`.
pub async fn run(
    db: &DatabaseConnection,
    args: &Args,
    (sku_id, price_list_id): (i64, i64),
) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rebate_distributors >= 1
            && args.rebate_lines >= args.rebate_distributors * LINES_PER_ORDER,
        "at least one order of {LINES_PER_ORDER} lines per distributor"
    );
    let now = Utc::now();
    let quarter = domain::b2b::quarter_of(now);
    let (q_from, q_to) =
        domain::b2b::quarter_bounds(&quarter).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let orders_per = args.rebate_lines / (args.rebate_distributors * LINES_PER_ORDER);
    let orders = orders_per * args.rebate_distributors;
    let lines = orders * LINES_PER_ORDER;
    let packs = lines * UNITS_PER_LINE;
    println!(
        "rebates {quarter}: seeding {} distributors, {orders} orders, {lines} lines, {packs} packs and scans",
        args.rebate_distributors
    );
    let t = Instant::now();
    let tier = seed_policies(db, (q_from, q_to), now).await?;
    seed_orders(db, args, (sku_id, price_list_id, tier), orders_per, now).await?;
    seed_scans(db, (q_from, now - Duration::minutes(5))).await?;
    db.execute_unprepared("VACUUM ANALYZE").await?;
    println!("  seeded in {:.1} s", t.elapsed().as_secs_f64());

    let app = crate::campaign::state(db.clone(), "http://127.0.0.1:9", Default::default())?;
    let t = Instant::now();
    confirm_receipts(&app, db, args.receipt_concurrency).await?;
    println!(
        "  {orders} receipts confirmed through confirm_receipt (VOLUME_REBATE accrued) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    // The server's own worker may take a batch first (its pass then answers "nothing more"):
    // pass again until the cursor has read every scan.
    let last_scan: i64 = scalar(db, "SELECT MAX(id) FROM scan_events").await?;
    let mut written = 0;
    loop {
        written += domain::b2b::accrue_scan_rebates(&app, Duration::seconds(30))
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let cursor: i64 = scalar(
            db,
            "SELECT COALESCE(MAX(last_id), 0) FROM rebate_cursors WHERE name = 'scans'",
        )
        .await?;
        if cursor >= last_scan {
            break;
        }
        anyhow::ensure!(
            t.elapsed().as_secs() < 600,
            "the scan cursor stopped at {cursor}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    println!(
        "  scan rebate worker passes: {written} entries written by the bench's passes (the server's worker may have written some) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    db.execute_unprepared("ANALYZE").await?;

    let t = Instant::now();
    let all = domain::b2b::recompute_quarter_all(db, &quarter)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let took = t.elapsed().as_secs_f64();
    check(db, &all, orders_per).await?;
    println!(
        "  recompute of {quarter} for {} distributors: {took:.2} s, ceiling {RECOMPUTE_CEILING_S:.0} s -> {}",
        all.len(),
        if took <= RECOMPUTE_CEILING_S {
            "OK"
        } else {
            "OVER"
        }
    );
    Ok(())
}

/// A tier for the part's distributors and its two rebate policies for the quarter.
async fn seed_policies(
    db: &DatabaseConnection,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    use entities::{b2b_policy, distributor_tier};
    let tier = distributor_tier::ActiveModel {
        code: Set("BENCH-REBATE".into()),
        name: Set("返利基准等级".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let rules = [
        PolicyRule::VolumeRebate {
            threshold_fen: VOLUME_THRESHOLD_FEN,
            rate_bp: VOLUME_RATE_BP,
            mode: RebateMode::Whole,
            max_use_percent: 10,
        },
        PolicyRule::ScanRebate {
            fen_per_scan: FEN_PER_SCAN,
            max_use_percent: 10,
        },
    ];
    for (i, rule) in rules.into_iter().enumerate() {
        b2b_policy::ActiveModel {
            name: Set(format!("返利基准 {i}")),
            kind: Set(rule.kind()),
            rule: Set(rule.into()),
            tier_id: Set(Some(tier.id)),
            valid_from: Set(from),
            valid_to: Set(to),
            priority: Set(100 + i32::try_from(i)?),
            requires_ack: Set(false),
            created_at: Set(now),
            distributor_kind: Set(None),
            region_codes: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(tier.id)
}

fn ts(at: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", at.to_rfc3339())
}

/// Distributors (even: 上海, odd: 广东), one OWNER each, one code batch, and `orders_per`
/// SHIPPED orders each of 20 lines × 10 units with fulfilment, a shipment and a serial range
/// per line (line k holds serials 10k .. 10k + 9).
async fn seed_orders(
    db: &DatabaseConnection,
    args: &Args,
    (sku_id, price_list_id, tier_id): (i64, i64, i64),
    orders_per: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    use entities::scan_code_batch;
    let n = args.rebate_distributors;
    let at = ts(now);
    let kind = entities::distributor::DistributorKind::Distributor.to_value();
    let owner = entities::distributor_account::DistributorRole::Owner.to_value();
    let shipped = PoStatus::Shipped.to_value();
    let staff: i64 = scalar(db, "SELECT MIN(id) FROM staff_accounts").await?;
    let batch = scan_code_batch::ActiveModel {
        name: Set("返利基准码".into()),
        sku_id: Set(sku_id),
        code_count: Set(args.rebate_lines * UNITS_PER_LINE),
        stock_batch_id: Set(None),
        lot: Set(None),
        distributor_id: Set(None),
        territory: Set(String::new()),
        territory_codes: Set(None),
        gift_kind: Set(entities::scan_code_batch::GiftKind::Points),
        gift_points: Set(1),
        coupon_template_id: Set(None),
        sample_name: Set(None),
        valid_from: Set(now - Duration::days(365)),
        valid_until: Set(now + Duration::days(365)),
        active: Set(true),
        created_by: Set(staff),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let statements = [
        format!(
            "INSERT INTO distributors (code, name, level, region, region_codes, credit_limit_fen, \
               created_at, active, tier_id, kind) \
             SELECT 'D-RB-' || lpad(g::text, 3, '0'), '返利基准经销商 ' || g, 'A', \
               CASE WHEN g % 2 = 0 THEN '上海市' ELSE '广东省' END, \
               CASE WHEN g % 2 = 0 THEN '310000' ELSE '440000' END, 0, {at}, true, {tier_id}, '{kind}' \
             FROM generate_series(0, {n} - 1) g"
        ),
        format!(
            "INSERT INTO distributor_accounts (distributor_id, username, password_hash, display_name, \
               active, created_at, role, must_change_password) \
             SELECT d.id, 'rb-' || d.code, 'not-a-hash', '采购', true, {at}, '{owner}', false \
             FROM distributors d WHERE d.code LIKE 'D-RB-%'"
        ),
        format!(
            "INSERT INTO purchase_orders (no, distributor_id, status, quote_hash, price_list_id, \
               subtotal_fen, discount_fen, total_fen, credit_reserved_fen, rebate_used_fen, \
               idempotency_key, created_by, created_at, updated_at) \
             SELECT 'RB-' || d.code || '-' || o, d.id, '{shipped}', 'bench', {price_list_id}, \
               {total}, 0, {total}, 0, 0, 'rb-' || o, a.id, {at}, {at} \
             FROM distributors d JOIN distributor_accounts a ON a.distributor_id = d.id \
             CROSS JOIN generate_series(1, {orders_per}) o WHERE d.code LIKE 'D-RB-%'",
            total = LINES_PER_ORDER * UNITS_PER_LINE * UNIT_PRICE_FEN
        ),
        format!(
            "INSERT INTO purchase_order_lines (purchase_order_id, sku_id, qty, unit_price_fen, \
               line_total_fen, is_gift) \
             SELECT po.id, {sku_id}, {UNITS_PER_LINE}, {UNIT_PRICE_FEN}, {line_total}, false \
             FROM purchase_orders po CROSS JOIN generate_series(1, {LINES_PER_ORDER}) g \
             WHERE po.no LIKE 'RB-%'",
            line_total = UNITS_PER_LINE * UNIT_PRICE_FEN
        ),
        format!(
            "INSERT INTO po_line_fulfilment (po_line_id, purchase_order_id, sku_id, ordered_qty, \
               allocated_qty, backordered_qty, shipped_qty, received_qty, damaged_qty, updated_at) \
             SELECT l.id, l.purchase_order_id, l.sku_id, l.qty, l.qty, 0, l.qty, 0, 0, {at} \
             FROM purchase_order_lines l JOIN purchase_orders po ON po.id = l.purchase_order_id \
             WHERE po.no LIKE 'RB-%'"
        ),
        format!(
            "INSERT INTO shipments (no, purchase_order_id, distributor_id, invoice_fen, shipped_at, \
               created_by) \
             SELECT 'S-' || po.no, po.id, po.distributor_id, 0, {at}, {staff} \
             FROM purchase_orders po WHERE po.no LIKE 'RB-%'"
        ),
        format!(
            "INSERT INTO shipment_code_ranges (shipment_id, po_line_id, distributor_id, code_batch_id, \
               sku_id, serial_from, serial_to) \
             SELECT s.id, x.id, s.distributor_id, {batch}, x.sku_id, x.k * {UNITS_PER_LINE}, \
               x.k * {UNITS_PER_LINE} + {UNITS_PER_LINE} - 1 \
             FROM (SELECT l.id, l.sku_id, l.purchase_order_id, row_number() OVER (ORDER BY l.id) - 1 AS k \
                   FROM purchase_order_lines l JOIN purchase_orders po ON po.id = l.purchase_order_id \
                   WHERE po.no LIKE 'RB-%') x \
             JOIN shipments s ON s.purchase_order_id = x.purchase_order_id",
            batch = batch.id
        ),
        format!(
            "INSERT INTO purchase_order_events (purchase_order_id, status, actor_kind, actor_id, note, at) \
             SELECT po.id, '{shipped}', 'STAFF', {staff}, NULL, {at} \
             FROM purchase_orders po WHERE po.no LIKE 'RB-%'"
        ),
    ];
    for sql in statements {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// One first scan per shipped pack, spread over `[from, until)`; every tenth pack scanned in
/// 北京 (110000), outside both territories, the rest in the distributor's own province.
async fn seed_scans(
    db: &DatabaseConnection,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
) -> anyhow::Result<()> {
    let member: i64 = scalar(db, "SELECT MIN(id) FROM members").await?;
    let span = (until - from).num_seconds().max(1);
    let redeemed = ScanEventOutcome::Redeemed.to_value();
    let sql = format!(
        "INSERT INTO scan_events (batch_id, serial, member_id, sku_id, region_code, outcome, gifted, \
           day, scanned_at) \
         SELECT r.code_batch_id, g, {member}, r.sku_id, \
           CASE WHEN g % 10 = 0 THEN '110000' ELSE d.region_codes END, '{redeemed}', 1, \
           to_char(({from} + (g % {span}) * interval '1 second') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD'), \
           {from} + (g % {span}) * interval '1 second' \
         FROM shipment_code_ranges r JOIN distributors d ON d.id = r.distributor_id \
         CROSS JOIN LATERAL generate_series(r.serial_from, r.serial_to) g \
         WHERE d.code LIKE 'D-RB-%' ORDER BY g",
        from = ts(from)
    );
    db.execute_unprepared(&sql).await?;
    Ok(())
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row: {sql}"))?;
    let v: Option<i64> = row.try_get_by_index(0)?;
    v.ok_or_else(|| anyhow::anyhow!("NULL: {sql}"))
}

/// Every shipped order of the part received whole, by its distributor's OWNER through the
/// domain's `confirm_receipt`, `concurrency` at once.
async fn confirm_receipts(
    app: &Arc<domain::AppState>,
    db: &DatabaseConnection,
    concurrency: usize,
) -> anyhow::Result<()> {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT po.id, po.distributor_id, a.id FROM purchase_orders po \
             JOIN distributor_accounts a ON a.distributor_id = po.distributor_id \
             WHERE po.no LIKE 'RB-%' ORDER BY po.id"
                .to_owned(),
        ))
        .await?;
    let mut work = Vec::with_capacity(rows.len());
    for r in rows {
        let (o, d, a): (i64, i64, i64) = (
            r.try_get_by_index(0)?,
            r.try_get_by_index(1)?,
            r.try_get_by_index(2)?,
        );
        work.push((o, d, a));
    }
    let work = Arc::new(std::sync::Mutex::new(work));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (app, work) = (app.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = work.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                let Some((order, distributor_id, account_id)) = next else {
                    return Ok::<_, anyhow::Error>(());
                };
                let who = domain::auth::DistributorPrincipal {
                    account_id,
                    distributor_id,
                    session_id: "bench".into(),
                };
                domain::b2b::confirm_receipt(&app, &who, order, &[])
                    .await
                    .map_err(|e| anyhow::anyhow!("receipt of order {order}: {e:?}"))?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Recompute = ledger for every policy of every distributor, = the balance row's accrued, and
/// = what the seed implies (volume: 3% of each distributor's received value; scans: nine in ten
/// packs inside the territory at ¥0.50).
async fn check(
    db: &DatabaseConnection,
    all: &[domain::b2b::Recomputed],
    orders_per: i64,
) -> anyhow::Result<()> {
    let accounts: std::collections::HashMap<i64, i64> = entities::rebate_account::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.distributor_id, a.accrued_fen))
        .collect();
    let ours: std::collections::HashSet<i64> = entities::distributor::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter(|d| d.code.starts_with("D-RB-"))
        .map(|d| d.id)
        .collect();
    let value = orders_per * LINES_PER_ORDER * UNITS_PER_LINE * UNIT_PRICE_FEN;
    let volume = if value >= VOLUME_THRESHOLD_FEN {
        value * i64::from(VOLUME_RATE_BP) / 10_000
    } else {
        0
    };
    let (mut mismatched, mut earned_total, mut checked) = (0, 0i64, 0);
    for r in all {
        let ledger: i64 = r.ledger.values().sum();
        let row = accounts.get(&r.distributor_id).copied().unwrap_or(0);
        let mut ok = r.earned == r.ledger;
        if ours.contains(&r.distributor_id) {
            // The part's distributors have only this quarter: the row holds what it accrued.
            ok &= ledger == row;
            checked += 1;
            let earned: Vec<i64> = r.earned.values().copied().collect();
            // Serials are dealt out line by line; a distributor's packs are not all of one
            // tenth, so the scan figure is checked in total below.
            ok &= earned.first() == Some(&volume);
            earned_total += earned.get(1).copied().unwrap_or(0);
        }
        if !ok {
            mismatched += 1;
            if mismatched <= 3 {
                println!("  MISMATCH {r:?} (balance row accrued {row})");
            }
        }
    }
    let packs = i64::try_from(ours.len())? * orders_per * LINES_PER_ORDER * UNITS_PER_LINE;
    let expected_scans = (packs - packs.div_euclid(10)) * FEN_PER_SCAN;
    println!(
        "  checked {checked} distributors: recompute = ledger = balance row for all but {mismatched}; \
         volume {volume} fen each; scan rebates {earned_total} fen (expected {expected_scans}) -> {}",
        if mismatched == 0 && earned_total == expected_scans && checked == ours.len() {
            "OK"
        } else {
            "MISMATCH"
        }
    );
    Ok(())
}
