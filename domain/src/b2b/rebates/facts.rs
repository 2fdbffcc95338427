//! What the facts say a distributor earned in a quarter, per rebate policy: the received value
//! (receipts at the order's prices, less accepted returns) for VOLUME_REBATE, the first consumer
//! scans inside its territory of its own packs for SCAN_REBATE. The ledger must always say the
//! same; settlement corrects it when it does not.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::super::B2bError;
use super::volume_rebate;
use crate::platform::regions::{self, RegionCode};
use entities::b2b_policy::{PolicyKind, PolicyRule};
use entities::b2b_return::ReturnStatus;
use entities::purchase_order::PoStatus;
use entities::scan_event::ScanEventOutcome;
use entities::{
    b2b_policy, b2b_return, b2b_return_line, distributor, po_line_fulfilment, purchase_order,
    purchase_order_event, purchase_order_line, scan_event,
};

/// The rebate policies addressed to `dist` (tier, kind, region) in force at some time in
/// `[from, to)`, with the part of that window each covers.
pub(crate) async fn rebate_policies<C: ConnectionTrait>(
    db: &C,
    dist: &distributor::Model,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<(b2b_policy::Model, DateTime<Utc>, DateTime<Utc>)>, B2bError> {
    let rows = b2b_policy::Entity::find()
        .filter(b2b_policy::Column::Kind.is_in([PolicyKind::VolumeRebate, PolicyKind::ScanRebate]))
        .filter(b2b_policy::Column::ValidFrom.lt(to))
        .filter(b2b_policy::Column::ValidTo.gt(from))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|p| super::super::scope::addressed_to(p, dist))
        .map(|p| {
            let (a, b) = (p.valid_from.max(from), p.valid_to.min(to));
            (p, a, b)
        })
        .collect())
}

/// The value the distributor received in `[from, to)` (the order's receipt time), at the
/// order's unit prices, less units returned on accepted returns. Gifts are worth nothing.
pub(crate) async fn received_value<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<i64, B2bError> {
    let orders: Vec<i64> = purchase_order_event::Entity::find()
        .select_only()
        .column(purchase_order_event::Column::PurchaseOrderId)
        .filter(purchase_order_event::Column::Status.eq(PoStatus::Received))
        .filter(purchase_order_event::Column::At.gte(from))
        .filter(purchase_order_event::Column::At.lt(to))
        .filter(
            purchase_order_event::Column::PurchaseOrderId.in_subquery(
                Query::select()
                    .column(purchase_order::Column::Id)
                    .from(purchase_order::Entity)
                    .and_where(purchase_order::Column::DistributorId.eq(distributor_id))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?;
    if orders.is_empty() {
        return Ok(0);
    }
    let mut total = 0i64;
    for chunk in orders.chunks(500) {
        total += value_of_orders(db, chunk).await?;
    }
    Ok(total)
}

async fn value_of_orders<C: ConnectionTrait>(db: &C, orders: &[i64]) -> Result<i64, B2bError> {
    let prices: HashMap<i64, i64> = purchase_order_line::Entity::find()
        .select_only()
        .column(purchase_order_line::Column::Id)
        .column(purchase_order_line::Column::UnitPriceFen)
        .filter(purchase_order_line::Column::PurchaseOrderId.is_in(orders.iter().copied()))
        .filter(purchase_order_line::Column::IsGift.eq(false))
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let received: Vec<(i64, i32)> = po_line_fulfilment::Entity::find()
        .select_only()
        .column(po_line_fulfilment::Column::PoLineId)
        .column(po_line_fulfilment::Column::ReceivedQty)
        .filter(po_line_fulfilment::Column::PurchaseOrderId.is_in(orders.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let returned = returned_units(db, orders).await?;
    let mut total = 0i64;
    for (line, qty) in received {
        let Some(price) = prices.get(&line) else {
            continue;
        };
        let kept = i64::from(qty) - returned.get(&line).copied().unwrap_or(0);
        total += kept.max(0) * price;
    }
    Ok(total)
}

/// Units returned per order line on accepted returns of `orders`.
pub(crate) async fn returned_units<C: ConnectionTrait>(
    db: &C,
    orders: &[i64],
) -> Result<HashMap<i64, i64>, B2bError> {
    let accepted: Vec<i64> = b2b_return::Entity::find()
        .select_only()
        .column(b2b_return::Column::Id)
        .filter(b2b_return::Column::PurchaseOrderId.is_in(orders.iter().copied()))
        .filter(b2b_return::Column::Status.eq(ReturnStatus::Accepted))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<i64, i64> = HashMap::new();
    if accepted.is_empty() {
        return Ok(out);
    }
    let lines: Vec<(i64, i32)> = b2b_return_line::Entity::find()
        .select_only()
        .column(b2b_return_line::Column::PoLineId)
        .column(b2b_return_line::Column::Qty)
        .filter(b2b_return_line::Column::ReturnId.is_in(accepted))
        .into_tuple()
        .all(db)
        .await?;
    for (line, qty) in lines {
        *out.entry(line).or_default() += i64::from(qty);
    }
    Ok(out)
}

/// Whether a scan at `region` is inside `territory` (no territory: anywhere; a scan without a
/// region cannot be shown to be inside). The complement of territory leakage for known regions.
pub(crate) fn inside(territory: &[RegionCode], region: Option<&str>) -> bool {
    region
        .and_then(RegionCode::parse_stored)
        .is_some_and(|at| !regions::outside(territory, at))
}

/// First consumer scans in `[from, to)` of the distributor's own packs inside its territory.
pub(crate) async fn scans_inside<C: ConnectionTrait>(
    db: &C,
    dist: &distributor::Model,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<i64, B2bError> {
    let territory = crate::scan_codes::distributor_territory(dist);
    let groups: Vec<(Option<String>, i64)> = scan_event::Entity::find()
        .select_only()
        .column(scan_event::Column::RegionCode)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "n")
        .filter(super::super::packs::shipped_to_condition(dist.id))
        .filter(scan_event::Column::Outcome.eq(ScanEventOutcome::Redeemed))
        .filter(scan_event::Column::ScannedAt.gte(from))
        .filter(scan_event::Column::ScannedAt.lt(to))
        .group_by(scan_event::Column::RegionCode)
        .into_tuple()
        .all(db)
        .await?;
    Ok(groups
        .into_iter()
        .filter(|(region, _)| inside(&territory, region.as_deref()))
        .map(|(_, n)| n)
        .sum())
}

/// What one rebate policy earned the distributor over `window` according to the facts.
pub(crate) async fn earned<C: ConnectionTrait>(
    db: &C,
    dist: &distributor::Model,
    policy: &b2b_policy::Model,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> Result<i64, B2bError> {
    Ok(match policy.rule.clone().into_inner() {
        PolicyRule::VolumeRebate {
            threshold_fen,
            rate_bp,
            mode,
            ..
        } => {
            let value = received_value(db, dist.id, window).await?;
            volume_rebate(value, threshold_fen, rate_bp, mode)
        }
        PolicyRule::ScanRebate { fen_per_scan, .. } => {
            scans_inside(db, dist, window).await? * fen_per_scan
        }
        PolicyRule::OrderReduction { .. } | PolicyRule::BuyNGetM { .. } => 0,
    })
}

/// A quarter recomputed from the facts for one distributor: per policy what it earned, and
/// what the ledger holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recomputed {
    pub distributor_id: i64,
    pub quarter: String,
    /// Policy id → earned according to the facts.
    pub earned: BTreeMap<i64, i64>,
    /// Policy id → accrued according to the ledger (ACCRUE + REVERSE + ADJUST).
    pub ledger: BTreeMap<i64, i64>,
    /// Settled (SETTLE + CLAWBACK) for the quarter.
    pub settled: i64,
}

/// Recomputes one distributor's quarter from the facts (reads only).
pub async fn recompute_quarter<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    quarter: &str,
) -> Result<Recomputed, B2bError> {
    let window = super::quarter_bounds(quarter)?;
    let dist = distributor::Entity::find_by_id(distributor_id)
        .one(db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    let mut out = Recomputed {
        distributor_id,
        quarter: quarter.to_owned(),
        earned: BTreeMap::new(),
        ledger: BTreeMap::new(),
        settled: super::ledger::quarter_sums(db, distributor_id, quarter, None)
            .await?
            .settled,
    };
    for (policy, from, to) in rebate_policies(db, &dist, window).await? {
        out.earned
            .insert(policy.id, earned(db, &dist, &policy, (from, to)).await?);
        let sums =
            super::ledger::quarter_sums(db, distributor_id, quarter, Some(policy.id)).await?;
        out.ledger.insert(policy.id, sums.accrued);
    }
    Ok(out)
}
