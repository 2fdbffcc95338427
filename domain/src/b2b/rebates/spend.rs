//! Spending rebate on an order (返利抵扣货款): at most what is available and at most the
//! policies' share of the order (the largest `maxUsePercent` of the rebate policies addressed
//! to the distributor that started and ended less than a year ago: rebate is settled after
//! its quarter, so last quarter's policy still caps what it paid). Held at submit (available
//! → held, in the submit transaction), given back when the order is cancelled or rejected (or
//! edited: an edit is priced without rebate), used at the first shipment.

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;

use super::super::B2bError;
use super::ledger::{Moves, Posting, post};
use super::quarter_of;
use entities::b2b_policy::{PolicyKind, PolicyRule};
use entities::rebate_entry::RebateEntryKind;
use entities::{b2b_policy, distributor, purchase_order};

/// What an order may and does spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RebateUse {
    pub used_fen: i64,
    /// At most this much of this order.
    pub cap_fen: i64,
    pub cap_percent: i32,
    /// Available on the account now (not part of the quote's hash: other orders move it).
    pub available_fen: i64,
}

/// How much of an order paying `payable_fen` the rebate may cover, and checks `requested`
/// against it and against `available_fen` (the account's available balance); `policies` are
/// every policy (the rebate ones addressed to `dist` decide the cap).
pub(crate) fn rebate_use<'a>(
    policies: impl IntoIterator<Item = &'a b2b_policy::Model>,
    dist: &distributor::Model,
    now: DateTime<Utc>,
    (payable_fen, requested): (i64, i64),
    available_fen: i64,
) -> Result<RebateUse, B2bError> {
    if requested < 0 {
        return Err(B2bError::InvalidInput("rebateFen must be 0 or more".into()));
    }
    let cap_percent = policies
        .into_iter()
        .filter(|p| {
            matches!(p.kind, PolicyKind::VolumeRebate | PolicyKind::ScanRebate)
                && p.valid_from <= now
                && p.valid_to > now - Duration::days(365)
                && super::super::scope::addressed_to(p, dist)
        })
        .map(|p| match *p.rule {
            PolicyRule::VolumeRebate {
                max_use_percent, ..
            }
            | PolicyRule::ScanRebate {
                max_use_percent, ..
            } => max_use_percent,
            PolicyRule::OrderReduction { .. } | PolicyRule::BuyNGetM { .. } => 0,
        })
        .max()
        .unwrap_or(0);
    let cap_fen =
        i64::try_from(i128::from(payable_fen.max(0)) * i128::from(cap_percent) / 100).unwrap_or(0);
    if requested > cap_fen {
        return Err(B2bError::RebateOverCap { cap_fen });
    }
    if requested > available_fen {
        return Err(B2bError::RebateInsufficient);
    }
    Ok(RebateUse {
        used_fen: requested,
        cap_fen,
        cap_percent,
        available_fen,
    })
}

/// Holds `amount` of the distributor's available rebate for order `po_id` (submit).
pub(crate) async fn hold<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    po_id: i64,
    amount: i64,
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    if amount <= 0 {
        return Ok(());
    }
    super::ledger::lock_account(db, distributor_id, now).await?;
    post(
        db,
        Posting {
            distributor_id,
            policy_id: None,
            quarter: quarter_of(now),
            kind: RebateEntryKind::Hold,
            amount_fen: -amount,
            source_ref: format!("po:{po_id}"),
            note: None,
        },
        Moves {
            available: -amount,
            held: amount,
            ..Moves::default()
        },
        now,
    )
    .await?;
    Ok(())
}

/// Gives an order's held rebate back (cancel, reject; `edit` names the edit that dropped it).
pub(crate) async fn release_hold<C: ConnectionTrait>(
    db: &C,
    order: &purchase_order::Model,
    edit: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    let amount = order.rebate_used_fen;
    if amount <= 0 {
        return Ok(());
    }
    let source_ref = match edit {
        Some(e) => format!("po:{}:edit:{e}", order.id),
        None => format!("po:{}", order.id),
    };
    post(
        db,
        Posting {
            distributor_id: order.distributor_id,
            policy_id: None,
            quarter: quarter_of(now),
            kind: RebateEntryKind::Release,
            amount_fen: amount,
            source_ref,
            note: None,
        },
        Moves {
            available: amount,
            held: -amount,
            ..Moves::default()
        },
        now,
    )
    .await?;
    Ok(())
}

/// Spends an order's held rebate (its first shipment; later ones find it spent).
pub(crate) async fn consume_hold<C: ConnectionTrait>(
    db: &C,
    order: &purchase_order::Model,
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    let amount = order.rebate_used_fen;
    if amount <= 0 {
        return Ok(());
    }
    post(
        db,
        Posting {
            distributor_id: order.distributor_id,
            policy_id: None,
            quarter: quarter_of(now),
            kind: RebateEntryKind::Use,
            amount_fen: -amount,
            source_ref: format!("po:{}", order.id),
            note: None,
        },
        Moves {
            held: -amount,
            used: amount,
            ..Moves::default()
        },
        now,
    )
    .await?;
    Ok(())
}
