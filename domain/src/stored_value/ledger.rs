//! The one way a balance changes: a ledger entry (unique per source event) and a conditional
//! update of the balance row, in the caller's transaction. The row is locked first, so writers
//! for one member run one after the other; the CHECKs are the last line of defence.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use super::{Balance, BalanceSource, StoredValueError};
use entities::{balance_ledger, member_balance};

/// One change to a member's stored value.
pub(crate) struct Change<'a> {
    pub member_id: i64,
    pub source: BalanceSource,
    pub principal_delta_fen: i64,
    pub bonus_delta_fen: i64,
    pub reference: Option<&'a str>,
    /// One entry per source event: a replay under the same key changes nothing.
    pub key: &'a str,
    pub staff_id: Option<i64>,
    /// Credited bonus is valid until then at least (`None`: the bonus does not move the date).
    pub bonus_valid_until: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

/// Creates the member's balance row if there is none, and locks it (`SELECT … FOR UPDATE` on
/// PostgreSQL; SQLite write transactions are serial already). Returns the row as it is now.
pub(crate) async fn lock<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    at: DateTime<Utc>,
) -> Result<member_balance::Model, StoredValueError> {
    member_balance::Entity::insert(member_balance::ActiveModel {
        member_id: Set(member_id),
        principal_fen: Set(0),
        bonus_fen: Set(0),
        bonus_expires_at: Set(None),
        updated_at: Set(at),
    })
    .on_conflict(
        OnConflict::column(member_balance::Column::MemberId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    held(db, member_id)
        .await?
        .ok_or(StoredValueError::NotFound("member"))
}

/// Locks the member's balance row when there is one (`SELECT … FOR UPDATE` on PostgreSQL;
/// SQLite write transactions are serial already) and returns it: one round trip, for a spend,
/// which needs no row to be created (no row holds nothing).
pub(crate) async fn held<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
) -> Result<Option<member_balance::Model>, StoredValueError> {
    Ok(member_balance::Entity::find_by_id(member_id)
        .lock_exclusive()
        .one(db)
        .await?)
}

/// What a balance row holds that can be spent now (bonus past its date is not).
pub(crate) fn spendable(row: &member_balance::Model, now: DateTime<Utc>) -> Balance {
    let bonus_valid = row.bonus_expires_at.is_none_or(|at| at > now);
    Balance {
        member_id: row.member_id,
        principal_fen: row.principal_fen,
        bonus_fen: if bonus_valid { row.bonus_fen } else { 0 },
        bonus_expires_at: row.bonus_expires_at.filter(|_| row.bonus_fen > 0),
    }
}

/// Applies one change: false when its key was used before (nothing changed). A change that
/// would take either part below zero is refused and writes nothing (the caller's transaction
/// rolls back).
pub(crate) async fn apply<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
) -> Result<bool, StoredValueError> {
    let inserted = insert_entry(db, change).await?;
    if inserted == 0 {
        return Ok(false);
    }
    let row = lock(db, change.member_id, change.at).await?;
    update(db, change, &row).await?;
    Ok(true)
}

/// Applies one change to a row the caller locked already in this transaction (`row` as it
/// is now); the ledger entry and the conditional update, two statements. False when its key
/// was used before (nothing changed).
pub(crate) async fn apply_locked<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    row: &member_balance::Model,
) -> Result<bool, StoredValueError> {
    if insert_entry(db, change).await? == 0 {
        return Ok(false);
    }
    update(db, change, row).await?;
    Ok(true)
}

/// The ledger entry of a change (0 rows when its key was used before).
async fn insert_entry<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
) -> Result<u64, StoredValueError> {
    Ok(balance_ledger::Entity::insert(balance_ledger::ActiveModel {
        member_id: Set(change.member_id),
        source: Set(change.source),
        principal_delta_fen: Set(change.principal_delta_fen),
        bonus_delta_fen: Set(change.bonus_delta_fen),
        reference: Set(change.reference.map(str::to_owned)),
        idempotency_key: Set(change.key.to_owned()),
        staff_id: Set(change.staff_id),
        created_at: Set(change.at),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(balance_ledger::Column::IdempotencyKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?)
}

/// The conditional update of the (locked) balance row for a change: never below zero.
async fn update<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    row: &member_balance::Model,
) -> Result<(), StoredValueError> {
    let expires_at = match change.bonus_valid_until {
        // A new bonus that does not expire keeps what is held from expiring too, and a later
        // date moves the whole bonus to it: never earlier than a member was told.
        _ if change.bonus_delta_fen <= 0 => row.bonus_expires_at,
        None => None,
        Some(until) if row.bonus_fen == 0 => Some(until),
        Some(until) => row.bonus_expires_at.map(|at| std::cmp::max(at, until)),
    };
    let dp = change.principal_delta_fen;
    let db_ = change.bonus_delta_fen;
    let updated = member_balance::Entity::update_many()
        .col_expr(
            member_balance::Column::PrincipalFen,
            Expr::col(member_balance::Column::PrincipalFen).add(dp),
        )
        .col_expr(
            member_balance::Column::BonusFen,
            Expr::col(member_balance::Column::BonusFen).add(db_),
        )
        .col_expr(
            member_balance::Column::BonusExpiresAt,
            Expr::value(expires_at),
        )
        .col_expr(member_balance::Column::UpdatedAt, Expr::value(change.at))
        .filter(member_balance::Column::MemberId.eq(change.member_id))
        .filter(Expr::col(member_balance::Column::PrincipalFen).gte(-dp))
        .filter(Expr::col(member_balance::Column::BonusFen).gte(-db_))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoredValueError::Insufficient {
            available_fen: spendable(row, change.at).total_fen(),
        });
    }
    Ok(())
}
