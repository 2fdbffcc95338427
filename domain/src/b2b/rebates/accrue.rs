//! Accrual. Volume rebates on receipt (inside `confirmReceipt`'s transaction): the quarter's
//! rebate recomputed from the facts, the difference to the ledger written as one entry per
//! policy. Scan rebates by a worker that reads scan events after a cursor: the scan path is
//! the consumer's hot path (bursts when a campaign lands) and stays one short transaction that
//! knows nothing of distributors' money; the worker accrues each first scan once (the cursor
//! moves in the transaction that writes the entries, which are unique per scan and policy),
//! a few seconds later. Settlement recomputes from the facts, so even a scan the cursor passed
//! before it committed is paid.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement, Value,
};
use std::collections::HashMap;

use super::super::B2bError;
use super::facts::{earned, inside, rebate_policies};
use super::ledger::{Posting, accrue_many, change_accrual, lock_account, quarter_sums};
use super::{quarter_bounds, quarter_of};
use crate::AppState;
use crate::b2b::packs::OWNER_OF_SCAN_SQL;
use crate::platform::jobs::{PeriodicTask, TaskError};
use entities::b2b_policy::{PolicyKind, PolicyRule};
use entities::rebate_entry::RebateEntryKind;
use entities::scan_event::ScanEventOutcome;
use entities::{b2b_policy, distributor, purchase_order, rebate_cursor, scan_event};

/// Brings one policy's accrual for a quarter to what the facts say: one entry of the
/// difference (`up` when it grows, `down` when it shrinks), none when they agree.
pub(crate) async fn reconcile<C: ConnectionTrait>(
    db: &C,
    dist: &distributor::Model,
    (policy, window): (&b2b_policy::Model, (DateTime<Utc>, DateTime<Utc>)),
    quarter: &str,
    (up, down): (RebateEntryKind, RebateEntryKind),
    source_ref: String,
    now: DateTime<Utc>,
) -> Result<i64, B2bError> {
    let target = earned(db, dist, policy, window).await?;
    let have = quarter_sums(db, dist.id, quarter, Some(policy.id))
        .await?
        .accrued;
    let delta = target - have;
    if delta != 0 {
        change_accrual(
            db,
            Posting {
                distributor_id: dist.id,
                policy_id: Some(policy.id),
                quarter: quarter.to_owned(),
                kind: if delta > 0 { up } else { down },
                amount_fen: delta,
                source_ref,
                note: None,
            },
            now,
        )
        .await?;
    }
    Ok(delta)
}

/// The volume rebates a receipt (or a return of received units) changes, in the quarter the
/// order was received in: called in the transaction that recorded it.
pub(crate) async fn on_receipt<C: ConnectionTrait>(
    db: &C,
    order: &purchase_order::Model,
    received_at: DateTime<Utc>,
    source_ref: &str,
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    let dist = distributor::Entity::find_by_id(order.distributor_id)
        .one(db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    lock_account(db, dist.id, now).await?;
    let quarter = quarter_of(received_at);
    let window = quarter_bounds(&quarter)?;
    for (policy, from, to) in rebate_policies(db, &dist, window).await? {
        if policy.kind != PolicyKind::VolumeRebate {
            continue;
        }
        reconcile(
            db,
            &dist,
            (&policy, (from, to)),
            &quarter,
            (RebateEntryKind::Accrue, RebateEntryKind::Reverse),
            format!("{source_ref}:p{}", policy.id),
            now,
        )
        .await?;
    }
    Ok(())
}

const SCAN_CURSOR: &str = "scans";
/// Scans read per pass (one transaction each): the range is read once, set-based.
const SCAN_BATCH: u64 = 20_000;

/// Accrues scan rebates for first scans recorded at least `lag` ago and not yet read, in
/// batches, each batch in one transaction with the cursor; returns the entries written.
pub async fn accrue_scan_rebates(app: &AppState, lag: Duration) -> Result<u64, B2bError> {
    let mut written = 0;
    loop {
        let (n, more) = accrue_batch(app, app.clock.now() - lag).await?;
        written += n;
        if !more {
            return Ok(written);
        }
    }
}

async fn accrue_batch(app: &AppState, cutoff: DateTime<Utc>) -> Result<(u64, bool), B2bError> {
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    rebate_cursor::Entity::insert(rebate_cursor::ActiveModel {
        name: Set(SCAN_CURSOR.to_owned()),
        last_id: Set(0),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(rebate_cursor::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let cursor = rebate_cursor::Entity::find_by_id(SCAN_CURSOR.to_owned())
        .one(&txn)
        .await?
        .map_or(0, |c| c.last_id);
    let next: Vec<(i64, DateTime<Utc>)> = scan_event::Entity::find()
        .select_only()
        .column(scan_event::Column::Id)
        .column(scan_event::Column::ScannedAt)
        .filter(scan_event::Column::Id.gt(cursor))
        .order_by_asc(scan_event::Column::Id)
        .limit(SCAN_BATCH)
        .into_tuple()
        .all(&txn)
        .await?;
    let full = next.len() as u64 == SCAN_BATCH;
    // Up to the first scan not yet `lag` old: later ones wait for the next pass.
    let ripe: Vec<_> = next.iter().take_while(|(_, at)| *at <= cutoff).collect();
    let Some(&&(upto, _)) = ripe.last() else {
        return Ok((0, false));
    };
    let first_at = ripe.first().map_or(cutoff, |(_, at)| *at);
    let written = accrue_range(&txn, (cursor, upto), first_at, now).await?;
    let moved = rebate_cursor::Entity::update_many()
        .col_expr(rebate_cursor::Column::LastId, Expr::value(upto))
        .col_expr(rebate_cursor::Column::UpdatedAt, Expr::value(now))
        .filter(rebate_cursor::Column::Name.eq(SCAN_CURSOR))
        .filter(rebate_cursor::Column::LastId.eq(cursor))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        // Another worker read this range first.
        txn.rollback().await?;
        return Ok((0, false));
    }
    txn.commit().await?;
    Ok((written, full && ripe.len() == next.len()))
}

/// Accrues the first scans with ids in `(after, upto]`, for every distributor a scan rebate
/// policy is addressed to: the range's first scans read once with their owner
/// (`packs::OWNER_OF_SCAN_SQL`), then per distributor (in id order, its balance row locked)
/// one multi-row insert of its entries per policy and one update of its balance row.
async fn accrue_range<C: ConnectionTrait>(
    db: &C,
    (after, upto): (i64, i64),
    first_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, B2bError> {
    let policies = b2b_policy::Entity::find()
        .filter(b2b_policy::Column::Kind.eq(PolicyKind::ScanRebate))
        .filter(b2b_policy::Column::ValidTo.gt(first_at))
        .order_by_asc(b2b_policy::Column::Id)
        .all(db)
        .await?;
    if policies.is_empty() {
        return Ok(0);
    }
    let mut by_owner = owned_scans(db, (after, upto)).await?;
    let distributors = distributor::Entity::find()
        .filter(distributor::Column::Active.eq(true))
        .filter(distributor::Column::Id.is_in(by_owner.keys().copied()))
        .order_by_asc(distributor::Column::Id)
        .all(db)
        .await?;
    let mut written = 0;
    for dist in distributors {
        let scans = by_owner.remove(&dist.id).unwrap_or_default();
        let territory = crate::scan_codes::distributor_territory(&dist);
        let mut locked = false;
        for p in policies
            .iter()
            .filter(|p| super::super::scope::addressed_to(p, &dist))
        {
            let PolicyRule::ScanRebate { fen_per_scan, .. } = p.rule.clone().into_inner() else {
                continue;
            };
            let entries: Vec<(String, String)> = scans
                .iter()
                .filter(|(_, region, at)| {
                    inside(&territory, region.as_deref()) && *at >= p.valid_from && *at < p.valid_to
                })
                .map(|(id, _, at)| (quarter_of(*at), format!("scan:{id}:p{}", p.id)))
                .collect();
            if entries.is_empty() {
                continue;
            }
            if !locked {
                lock_account(db, dist.id, now).await?;
                locked = true;
            }
            written += accrue_many(db, (dist.id, p.id), entries, fen_per_scan, now).await?;
        }
    }
    Ok(written)
}

/// A scan read for accrual: id, region, when.
type OwnedScan = (i64, Option<String>, DateTime<Utc>);

/// The first scans with ids in `(after, upto]` whose pack belongs to a distributor, by owner.
async fn owned_scans<C: ConnectionTrait>(
    db: &C,
    (after, upto): (i64, i64),
) -> Result<HashMap<i64, Vec<OwnedScan>>, B2bError> {
    let b = db.get_database_backend();
    let p = |n: u8| match b {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    let sql = format!(
        "SELECT s.id AS id, s.owner AS owner, s.region_code AS region, s.scanned_at AS at \
         FROM (SELECT scan_events.id, {OWNER_OF_SCAN_SQL} AS owner, scan_events.region_code, \
                      scan_events.scanned_at \
                 FROM scan_events WHERE scan_events.id > {} AND scan_events.id <= {} \
                  AND scan_events.outcome = {}) s \
         WHERE s.owner IS NOT NULL",
        p(1),
        p(2),
        p(3)
    );
    let values: Vec<Value> = vec![
        after.into(),
        upto.into(),
        ScanEventOutcome::Redeemed.to_value().into(),
    ];
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(b, sql, values))
        .await?;
    let mut out: HashMap<i64, Vec<OwnedScan>> = HashMap::new();
    for row in rows {
        let owner: i64 = row.try_get("", "owner")?;
        out.entry(owner).or_default().push((
            row.try_get("", "id")?,
            row.try_get("", "region")?,
            row.try_get("", "at")?,
        ));
    }
    Ok(out)
}

/// The scan-rebate worker: accrues first scans older than 30 seconds (so a scan transaction
/// that took an id earlier than one already visible has committed before the cursor passes it).
pub struct AccrueScanRebates;

#[async_trait]
impl PeriodicTask for AccrueScanRebates {
    fn name(&self) -> &'static str {
        "b2b.accrue_scan_rebates"
    }

    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }

    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(accrue_scan_rebates(app, Duration::seconds(30)).await?)
    }
}
