//! A quarter recomputed for every distributor at once, set-based (reads only): what
//! `recompute_quarter` answers per distributor, from a handful of grouped queries whatever the
//! number of distributors, order lines and scans —
//!
//! - the rebate policies overlapping the quarter, once; each distributor's by `addressed_to`;
//! - per distinct policy window, the received value per distributor (RECEIVED events in the
//!   window ⋈ order lines ⋈ fulfilment, less accepted returns, gifts worth nothing);
//! - per distinct policy window, the first scans (REDEEMED) grouped by the pack's owner
//!   (`packs::OWNER_OF_SCAN_SQL`, the ownership rule as one expression) and region, the
//!   territory applied in memory to those few groups;
//! - the ledger of the quarter grouped by distributor, policy and kind.
//!
//! Equal to `recompute_quarter` for every distributor by construction (same facts, same rules);
//! the rebate property test and the bench check it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    Statement, Value,
};

use super::super::B2bError;
use super::super::packs::OWNER_OF_SCAN_SQL;
use super::facts::{Recomputed, inside};
use super::{quarter_bounds, volume_rebate};
use entities::b2b_policy::{PolicyKind, PolicyRule};
use entities::b2b_return::ReturnStatus;
use entities::purchase_order::PoStatus;
use entities::rebate_entry::RebateEntryKind;
use entities::scan_event::ScanEventOutcome;
use entities::{b2b_policy, distributor};

type Window = (DateTime<Utc>, DateTime<Utc>);

/// Numbered placeholders for the backend (`$n` on PostgreSQL, `?n` on SQLite).
fn p(backend: DbBackend, n: u8) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// Recomputes `quarter` for every distributor (ordered by id), reads only.
pub async fn recompute_quarter_all<C: ConnectionTrait>(
    db: &C,
    quarter: &str,
) -> Result<Vec<Recomputed>, B2bError> {
    let window = quarter_bounds(quarter)?;
    let distributors = distributor::Entity::find()
        .order_by_asc(distributor::Column::Id)
        .all(db)
        .await?;
    let policies: Vec<(b2b_policy::Model, Window)> = b2b_policy::Entity::find()
        .filter(b2b_policy::Column::Kind.is_in([PolicyKind::VolumeRebate, PolicyKind::ScanRebate]))
        .filter(b2b_policy::Column::ValidFrom.lt(window.1))
        .filter(b2b_policy::Column::ValidTo.gt(window.0))
        .order_by_asc(b2b_policy::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|p| {
            let w = (p.valid_from.max(window.0), p.valid_to.min(window.1));
            (p, w)
        })
        .collect();
    let windows_of = |kind: PolicyKind| -> BTreeSet<Window> {
        policies
            .iter()
            .filter(|(p, _)| p.kind == kind)
            .map(|(_, w)| *w)
            .collect()
    };
    let mut values: HashMap<Window, HashMap<i64, i64>> = HashMap::new();
    for w in windows_of(PolicyKind::VolumeRebate) {
        values.insert(w, received_values(db, w).await?);
    }
    let mut scans: HashMap<Window, Vec<(i64, Option<String>, i64)>> = HashMap::new();
    for w in windows_of(PolicyKind::ScanRebate) {
        scans.insert(w, scans_by_owner(db, w).await?);
    }
    let ledger = ledger_sums(db, quarter).await?;
    let mut out = Vec::with_capacity(distributors.len());
    for dist in &distributors {
        let territory = crate::scan_codes::distributor_territory(dist);
        let theirs = ledger.get(&dist.id);
        let mut r = Recomputed {
            distributor_id: dist.id,
            quarter: quarter.to_owned(),
            earned: BTreeMap::new(),
            ledger: BTreeMap::new(),
            settled: theirs.map_or(0, |l| l.settled),
        };
        for (policy, w) in &policies {
            if !super::super::scope::addressed_to(policy, dist) {
                continue;
            }
            let earned = match policy.rule.clone().into_inner() {
                PolicyRule::VolumeRebate {
                    threshold_fen,
                    rate_bp,
                    mode,
                    ..
                } => {
                    let value = values
                        .get(w)
                        .and_then(|v| v.get(&dist.id))
                        .copied()
                        .unwrap_or(0);
                    volume_rebate(value, threshold_fen, rate_bp, mode)
                }
                PolicyRule::ScanRebate { fen_per_scan, .. } => {
                    let n: i64 = scans
                        .get(w)
                        .into_iter()
                        .flatten()
                        .filter(|(owner, region, _)| {
                            *owner == dist.id && inside(&territory, region.as_deref())
                        })
                        .map(|(_, _, n)| n)
                        .sum();
                    n * fen_per_scan
                }
                PolicyRule::OrderReduction { .. } | PolicyRule::BuyNGetM { .. } => 0,
            };
            r.earned.insert(policy.id, earned);
            let accrued = theirs
                .and_then(|l| l.accrued.get(&policy.id))
                .copied()
                .unwrap_or(0);
            r.ledger.insert(policy.id, accrued);
        }
        out.push(r);
    }
    Ok(out)
}

/// Received value per distributor for orders received in `w` (one grouped query).
async fn received_values<C: ConnectionTrait>(
    db: &C,
    (from, to): Window,
) -> Result<HashMap<i64, i64>, B2bError> {
    let b = db.get_database_backend();
    let kept = "(f.received_qty - COALESCE(ret.qty, 0))";
    let sql = format!(
        "SELECT po.distributor_id AS d, \
           CAST(SUM(CASE WHEN {kept} > 0 THEN {kept} ELSE 0 END * l.unit_price_fen) AS BIGINT) AS v \
         FROM purchase_orders po \
         JOIN purchase_order_lines l ON l.purchase_order_id = po.id \
         JOIN po_line_fulfilment f ON f.po_line_id = l.id \
         LEFT JOIN (SELECT rl.po_line_id, SUM(rl.qty) AS qty FROM b2b_return_lines rl \
                    JOIN b2b_returns r ON r.id = rl.return_id WHERE r.status = {accepted} \
                    GROUP BY rl.po_line_id) ret ON ret.po_line_id = l.id \
         WHERE l.is_gift = {gift} AND po.id IN ( \
           SELECT e.purchase_order_id FROM purchase_order_events e \
            WHERE e.status = {received} AND e.at >= {from} AND e.at < {to}) \
         GROUP BY po.distributor_id",
        accepted = p(b, 1),
        gift = p(b, 2),
        received = p(b, 3),
        from = p(b, 4),
        to = p(b, 5),
    );
    let values: Vec<Value> = vec![
        ReturnStatus::Accepted.to_value().into(),
        false.into(),
        PoStatus::Received.to_value().into(),
        from.into(),
        to.into(),
    ];
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(b, sql, values))
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let d: i64 = row.try_get("", "d")?;
        let v: Option<i64> = row.try_get("", "v")?;
        out.insert(d, v.unwrap_or(0));
    }
    Ok(out)
}

/// First scans in `w` counted per (owning distributor, region): one pass over the window.
async fn scans_by_owner<C: ConnectionTrait>(
    db: &C,
    (from, to): Window,
) -> Result<Vec<(i64, Option<String>, i64)>, B2bError> {
    let b = db.get_database_backend();
    let sql = format!(
        "SELECT s.owner AS owner, s.region_code AS region, CAST(COUNT(*) AS BIGINT) AS n \
         FROM (SELECT {OWNER_OF_SCAN_SQL} AS owner, scan_events.region_code AS region_code \
                 FROM scan_events WHERE scan_events.outcome = {redeemed} \
                  AND scan_events.scanned_at >= {from} AND scan_events.scanned_at < {to}) s \
         WHERE s.owner IS NOT NULL GROUP BY s.owner, s.region_code",
        redeemed = p(b, 1),
        from = p(b, 2),
        to = p(b, 3),
    );
    let values: Vec<Value> = vec![
        ScanEventOutcome::Redeemed.to_value().into(),
        from.into(),
        to.into(),
    ];
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(b, sql, values))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push((
            row.try_get("", "owner")?,
            row.try_get("", "region")?,
            row.try_get("", "n")?,
        ));
    }
    Ok(out)
}

#[derive(Default)]
struct LedgerSums {
    /// Policy id → ACCRUE + REVERSE + ADJUST.
    accrued: HashMap<i64, i64>,
    /// SETTLE + CLAWBACK.
    settled: i64,
}

/// The quarter's ledger grouped by distributor, policy and kind (one query).
async fn ledger_sums<C: ConnectionTrait>(
    db: &C,
    quarter: &str,
) -> Result<HashMap<i64, LedgerSums>, B2bError> {
    let b = db.get_database_backend();
    let sql = format!(
        "SELECT distributor_id AS d, policy_id AS p, kind AS k, \
           CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS total \
         FROM rebate_entries WHERE quarter = {q} GROUP BY distributor_id, policy_id, kind",
        q = p(b, 1),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            b,
            sql,
            vec![quarter.to_owned().into()],
        ))
        .await?;
    let mut out: HashMap<i64, LedgerSums> = HashMap::new();
    for row in rows {
        let d: i64 = row.try_get("", "d")?;
        let policy: Option<i64> = row.try_get("", "p")?;
        let kind: String = row.try_get("", "k")?;
        let total: i64 = row.try_get("", "total")?;
        let kind = RebateEntryKind::try_from_value(&kind)?;
        let sums = out.entry(d).or_default();
        match kind {
            RebateEntryKind::Accrue | RebateEntryKind::Reverse | RebateEntryKind::Adjust => {
                if let Some(policy) = policy {
                    *sums.accrued.entry(policy).or_default() += total;
                }
            }
            RebateEntryKind::Settle | RebateEntryKind::Clawback => sums.settled += total,
            RebateEntryKind::Hold | RebateEntryKind::Release | RebateEntryKind::Use => {}
        }
    }
    Ok(out)
}
