//! The rebate ledger and balance row: every change is one entry (unique `(kind, source_ref)`:
//! the same event twice moves nothing the second time) and one conditional update of the
//! distributor's balance row in the same transaction; the row's CHECKs (every column ≥ 0)
//! stand behind the update's own conditions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use super::super::B2bError;
use entities::rebate_entry::RebateEntryKind;
use entities::{rebate_account, rebate_entry};

/// How an entry moves the balance row's columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Moves {
    pub accrued: i64,
    pub pending: i64,
    pub available: i64,
    pub held: i64,
    pub used: i64,
    pub owed: i64,
}

/// One ledger entry to write.
#[derive(Debug, Clone)]
pub(crate) struct Posting {
    pub distributor_id: i64,
    pub policy_id: Option<i64>,
    pub quarter: String,
    pub kind: RebateEntryKind,
    pub amount_fen: i64,
    pub source_ref: String,
    pub note: Option<String>,
}

/// The distributor's balance row, created empty if it has none, and locked for this
/// transaction (a write on it: PostgreSQL holds the row until commit; SQLite's writers take
/// turns), so reading the facts and the ledger after it sees what every earlier writer did.
pub(crate) async fn lock_account<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    now: DateTime<Utc>,
) -> Result<rebate_account::Model, B2bError> {
    rebate_account::Entity::insert(rebate_account::ActiveModel {
        distributor_id: Set(distributor_id),
        accrued_fen: Set(0),
        pending_fen: Set(0),
        available_fen: Set(0),
        held_fen: Set(0),
        used_fen: Set(0),
        owed_fen: Set(0),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(rebate_account::Column::DistributorId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    rebate_account::Entity::update_many()
        .col_expr(rebate_account::Column::UpdatedAt, Expr::value(now))
        .filter(rebate_account::Column::DistributorId.eq(distributor_id))
        .exec(db)
        .await?;
    rebate_account::Entity::find_by_id(distributor_id)
        .one(db)
        .await?
        .ok_or(B2bError::NotFound("rebate account"))
}

/// Writes `posting` and moves the balance row by `moves`, once per `(kind, source_ref)`:
/// false when that entry was written before (nothing moves). A move that would take a column
/// below zero changes nothing and answers `RebateInsufficient`.
pub(crate) async fn post<C: ConnectionTrait>(
    db: &C,
    posting: Posting,
    moves: Moves,
    now: DateTime<Utc>,
) -> Result<bool, B2bError> {
    let distributor_id = posting.distributor_id;
    let written = rebate_entry::Entity::insert(rebate_entry::ActiveModel {
        distributor_id: Set(posting.distributor_id),
        policy_id: Set(posting.policy_id),
        quarter: Set(posting.quarter),
        kind: Set(posting.kind),
        amount_fen: Set(posting.amount_fen),
        source_ref: Set(posting.source_ref),
        note: Set(posting.note),
        created_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([rebate_entry::Column::Kind, rebate_entry::Column::SourceRef])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    if written == 0 {
        return Ok(false);
    }
    use rebate_account::Column as A;
    let mut update = rebate_account::Entity::update_many()
        .col_expr(A::UpdatedAt, Expr::value(now))
        .filter(A::DistributorId.eq(distributor_id));
    for (col, delta) in [
        (A::AccruedFen, moves.accrued),
        (A::PendingFen, moves.pending),
        (A::AvailableFen, moves.available),
        (A::HeldFen, moves.held),
        (A::UsedFen, moves.used),
        (A::OwedFen, moves.owed),
    ] {
        if delta == 0 {
            continue;
        }
        update = update.col_expr(col, Expr::col(col).add(delta));
        if delta < 0 {
            let enough: SimpleExpr = Expr::col(col).gte(-delta);
            update = update.filter(enough);
        }
    }
    if update.exec(db).await?.rows_affected != 1 {
        return Err(B2bError::RebateInsufficient);
    }
    Ok(true)
}

/// What the ledger holds for one distributor's quarter: accrued (ACCRUE + REVERSE + ADJUST)
/// and settled (SETTLE + CLAWBACK), optionally for one policy's accruals only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct QuarterSums {
    pub accrued: i64,
    pub settled: i64,
}

pub(crate) async fn quarter_sums<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    quarter: &str,
    policy_id: Option<i64>,
) -> Result<QuarterSums, B2bError> {
    let mut q = rebate_entry::Entity::find()
        .select_only()
        .column(rebate_entry::Column::Kind)
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT)"),
            "total",
        )
        .filter(rebate_entry::Column::DistributorId.eq(distributor_id))
        .filter(rebate_entry::Column::Quarter.eq(quarter))
        .group_by(rebate_entry::Column::Kind);
    if let Some(policy_id) = policy_id {
        q = q.filter(rebate_entry::Column::PolicyId.eq(policy_id));
    }
    let rows: Vec<(RebateEntryKind, i64)> = q.into_tuple().all(db).await?;
    let mut out = QuarterSums::default();
    for (kind, total) in rows {
        match kind {
            RebateEntryKind::Accrue | RebateEntryKind::Reverse | RebateEntryKind::Adjust => {
                out.accrued += total;
            }
            RebateEntryKind::Settle | RebateEntryKind::Clawback => out.settled += total,
            RebateEntryKind::Hold | RebateEntryKind::Release | RebateEntryKind::Use => {}
        }
    }
    Ok(out)
}

/// Changes a quarter's accrual by `delta` (either sign) with an entry of `kind` (ACCRUE or
/// ADJUST when positive, REVERSE or ADJUST when negative). A decrease comes off what of the
/// quarter is still pending first; the rest was settled already and is clawed back from what
/// is available (a CLAWBACK entry), and what is not available any more is owed, paid off by
/// the next settlements.
pub(crate) async fn change_accrual<C: ConnectionTrait>(
    db: &C,
    posting: Posting,
    now: DateTime<Utc>,
) -> Result<bool, B2bError> {
    let delta = posting.amount_fen;
    if delta == 0 {
        return Ok(false);
    }
    if delta > 0 {
        let moves = Moves {
            accrued: delta,
            pending: delta,
            ..Moves::default()
        };
        return post(db, posting, moves, now).await;
    }
    let cut = -delta;
    let sums = quarter_sums(db, posting.distributor_id, &posting.quarter, None).await?;
    let still_pending = (sums.accrued - sums.settled).clamp(0, cut);
    let clawback = cut - still_pending;
    let (distributor_id, quarter, source) = (
        posting.distributor_id,
        posting.quarter.clone(),
        posting.source_ref.clone(),
    );
    let moves = Moves {
        accrued: delta,
        pending: -still_pending,
        ..Moves::default()
    };
    if !post(db, posting, moves, now).await? {
        return Ok(false);
    }
    if clawback > 0 {
        let account = rebate_account::Entity::find_by_id(distributor_id)
            .one(db)
            .await?
            .ok_or(B2bError::NotFound("rebate account"))?;
        let from_available = Ord::min(clawback, account.available_fen);
        post(
            db,
            Posting {
                distributor_id,
                policy_id: None,
                quarter,
                kind: RebateEntryKind::Clawback,
                amount_fen: -clawback,
                source_ref: format!("clawback:{source}"),
                note: None,
            },
            Moves {
                available: -from_available,
                owed: clawback - from_available,
                ..Moves::default()
            },
            now,
        )
        .await?;
    }
    Ok(true)
}

/// Many accruals of `fen_each` for one distributor and policy at once (the scan worker's
/// batches): each `(quarter, source_ref)` one ACCRUE entry, written by multi-row inserts that
/// skip entries written before, then one update of the balance row by what was written
/// (accrued and pending grow; nothing can go below zero). The caller holds the balance row
/// (`lock_account`). Returns the entries written.
pub(crate) async fn accrue_many<C: ConnectionTrait>(
    db: &C,
    (distributor_id, policy_id): (i64, i64),
    entries: Vec<(String, String)>,
    fen_each: i64,
    now: DateTime<Utc>,
) -> Result<u64, B2bError> {
    const CHUNK: usize = 1_000;
    let mut written = 0u64;
    let mut entries = entries.into_iter().peekable();
    while entries.peek().is_some() {
        let chunk: Vec<rebate_entry::ActiveModel> = entries
            .by_ref()
            .take(CHUNK)
            .map(|(quarter, source_ref)| rebate_entry::ActiveModel {
                distributor_id: Set(distributor_id),
                policy_id: Set(Some(policy_id)),
                quarter: Set(quarter),
                kind: Set(RebateEntryKind::Accrue),
                amount_fen: Set(fen_each),
                source_ref: Set(source_ref),
                note: Set(None),
                created_at: Set(now),
                ..Default::default()
            })
            .collect();
        written += rebate_entry::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([rebate_entry::Column::Kind, rebate_entry::Column::SourceRef])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    if written == 0 {
        return Ok(0);
    }
    let total = i64::try_from(written)
        .ok()
        .and_then(|n| n.checked_mul(fen_each))
        .ok_or_else(|| B2bError::InvalidInput("rebate total out of range".into()))?;
    use rebate_account::Column as A;
    let moved = rebate_account::Entity::update_many()
        .col_expr(A::UpdatedAt, Expr::value(now))
        .col_expr(A::AccruedFen, Expr::col(A::AccruedFen).add(total))
        .col_expr(A::PendingFen, Expr::col(A::PendingFen).add(total))
        .filter(A::DistributorId.eq(distributor_id))
        .exec(db)
        .await?;
    if moved.rows_affected != 1 {
        return Err(B2bError::NotFound("rebate account"));
    }
    Ok(written)
}
