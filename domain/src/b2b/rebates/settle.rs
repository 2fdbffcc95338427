//! Settling a quarter (HQ, finance; audited; idempotent): scan accruals brought up to date,
//! then per distributor, with its balance row locked, each rebate policy's quarter recomputed
//! from the facts (a drifted ledger is corrected by an ADJUST entry of the difference), and what
//! the quarter accrued but was not settled before made available by one SETTLE entry. A second
//! settlement of the same quarter pays only what changed since (a late scan, a correction);
//! nothing is paid twice: the entry's source names the amount settled before it, so two
//! settlements racing write it once.

use chrono::Duration;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use serde_json::json;

use super::super::B2bError;
use super::accrue::reconcile;
use super::facts::rebate_policies;
use super::ledger::{Moves, Posting, lock_account, post, quarter_sums};
use super::quarter_bounds;
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::{AppState, RequestMeta};
use entities::distributor;
use entities::rebate_entry::RebateEntryKind;

/// What a settlement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub quarter: String,
    /// Distributors paid something this time.
    pub distributors_paid: i64,
    /// Made available this time (what earlier settlements paid is not in it).
    pub settled_fen: i64,
    /// Corrections the recompute wrote to the ledger (sum of ADJUST entries, either sign).
    pub adjusted_fen: i64,
}

pub async fn settle_rebates(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    quarter: &str,
) -> Result<Settlement, B2bError> {
    staff.require(Permission::SettleRebates)?;
    let quarter = quarter.trim().to_ascii_uppercase();
    let window = quarter_bounds(&quarter)?;
    if app.clock.now() < window.1 {
        return Err(B2bError::QuarterNotEnded);
    }
    super::accrue::accrue_scan_rebates(app, Duration::seconds(30)).await?;
    let distributors = distributor::Entity::find()
        .order_by_asc(distributor::Column::Id)
        .all(&app.db)
        .await?;
    let mut out = Settlement {
        quarter: quarter.clone(),
        distributors_paid: 0,
        settled_fen: 0,
        adjusted_fen: 0,
    };
    for dist in distributors {
        let now = app.clock.now();
        let txn = crate::platform::db::begin_write(&app.db).await?;
        let (adjusted, settled) = settle_one(&txn, &dist, &quarter, window, now).await?;
        txn.commit().await?;
        out.adjusted_fen += adjusted;
        out.settled_fen += settled;
        out.distributors_paid += i64::from(settled != 0);
    }
    let txn = crate::platform::db::begin_write(&app.db).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::RebateSettle,
        (SubjectKind::Distributor, None),
        json!({ "quarter": out.quarter, "settledFen": out.settled_fen,
                "adjustedFen": out.adjusted_fen, "distributorsPaid": out.distributors_paid }),
    )
    .await?;
    txn.commit().await?;
    Ok(out)
}

/// One distributor's quarter: (corrections, newly settled).
pub(crate) async fn settle_one<C: ConnectionTrait>(
    db: &C,
    dist: &distributor::Model,
    quarter: &str,
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, i64), B2bError> {
    let policies = rebate_policies(db, dist, window).await?;
    let before = quarter_sums(db, dist.id, quarter, None).await?;
    if policies.is_empty() && before.accrued == before.settled {
        return Ok((0, 0));
    }
    let account = lock_account(db, dist.id, now).await?;
    let mut adjusted = 0;
    for (policy, from, to) in &policies {
        let have = quarter_sums(db, dist.id, quarter, Some(policy.id))
            .await?
            .accrued;
        adjusted += reconcile(
            db,
            dist,
            (policy, (*from, *to)),
            quarter,
            (RebateEntryKind::Adjust, RebateEntryKind::Adjust),
            format!("settle:{quarter}:d{}:p{}:{have}", dist.id, policy.id),
            now,
        )
        .await?;
    }
    let sums = quarter_sums(db, dist.id, quarter, None).await?;
    let due = sums.accrued - sums.settled;
    if due <= 0 {
        return Ok((adjusted, 0));
    }
    let account = if adjusted == 0 {
        account
    } else {
        lock_account(db, dist.id, now).await?
    };
    let to_owed = due.min(account.owed_fen);
    let paid = post(
        db,
        Posting {
            distributor_id: dist.id,
            policy_id: None,
            quarter: quarter.to_owned(),
            kind: RebateEntryKind::Settle,
            amount_fen: due,
            source_ref: format!("settle:{quarter}:d{}:{}", dist.id, sums.settled),
            note: (to_owed > 0).then(|| format!("{to_owed} paid off what was owed")),
        },
        Moves {
            pending: -due,
            owed: -to_owed,
            available: due - to_owed,
            ..Moves::default()
        },
        now,
    )
    .await?;
    Ok((adjusted, if paid { due } else { 0 }))
}
