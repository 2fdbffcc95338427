//! The movement ledger: every change of stock is a movement written with its level, and
//! withdrawals take the soonest-expiring batches first.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set,
};

use crate::AppState;
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::db;
use entities::{stock_batch, stock_level, stock_movement};

use super::{InventoryError, MovementKind};

/// One movement to write: who, what, where, why.
pub(crate) struct MovementSpec<'a> {
    pub location_id: i64,
    pub batch_id: i64,
    pub sku_id: i64,
    pub delta: i64,
    pub kind: MovementKind,
    pub reference: Option<&'a str>,
    pub staff_id: Option<i64>,
    pub note: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// Writes a movement and moves the level with it. A decrease that would go below zero changes
/// nothing and reports `Insufficient`.
pub(crate) async fn apply_movement<C: ConnectionTrait>(
    db: &C,
    m: MovementSpec<'_>,
) -> Result<(), InventoryError> {
    if m.delta < 0 {
        let updated = stock_level::Entity::update_many()
            .col_expr(
                stock_level::Column::Quantity,
                Expr::col(stock_level::Column::Quantity).add(m.delta),
            )
            .col_expr(stock_level::Column::UpdatedAt, Expr::value(m.at))
            .filter(stock_level::Column::LocationId.eq(m.location_id))
            .filter(stock_level::Column::BatchId.eq(m.batch_id))
            .filter(stock_level::Column::Quantity.gte(-m.delta))
            .exec(db)
            .await?;
        if updated.rows_affected != 1 {
            return Err(InventoryError::Insufficient { sku_id: m.sku_id });
        }
    } else if m.delta > 0 {
        stock_level::Entity::insert(stock_level::ActiveModel {
            location_id: Set(m.location_id),
            batch_id: Set(m.batch_id),
            sku_id: Set(m.sku_id),
            quantity: Set(m.delta),
            updated_at: Set(m.at),
        })
        .on_conflict(
            OnConflict::columns([
                stock_level::Column::LocationId,
                stock_level::Column::BatchId,
            ])
            .value(
                stock_level::Column::Quantity,
                Expr::col((stock_level::Entity, stock_level::Column::Quantity)).add(m.delta),
            )
            .value(stock_level::Column::UpdatedAt, Expr::value(m.at))
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    stock_movement::ActiveModel {
        location_id: Set(m.location_id),
        batch_id: Set(m.batch_id),
        sku_id: Set(m.sku_id),
        delta: Set(m.delta),
        kind: Set(m.kind),
        reference: Set(m.reference.map(str::to_owned)),
        staff_id: Set(m.staff_id),
        note: Set(m.note.map(str::to_owned)),
        created_at: Set(m.at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Units to take out of a location, for [`take_fefo`].
pub(crate) struct Withdrawal<'a> {
    pub location_id: i64,
    pub sku_id: i64,
    pub quantity: i64,
    pub kind: MovementKind,
    pub reference: Option<&'a str>,
    pub staff_id: Option<i64>,
    pub at: DateTime<Utc>,
}

/// (batch, units) of a SKU at a location that may still be sold on `today`, soonest-expiring
/// first.
async fn candidates<C: ConnectionTrait>(
    db: &C,
    location_id: i64,
    sku_id: i64,
    today: chrono::NaiveDate,
) -> Result<Vec<(i64, i64)>, InventoryError> {
    Ok(stock_level::Entity::find()
        .select_only()
        .column(stock_level::Column::BatchId)
        .column(stock_level::Column::Quantity)
        .join(JoinType::InnerJoin, stock_level::Relation::Batch.def())
        .filter(stock_level::Column::LocationId.eq(location_id))
        .filter(stock_level::Column::SkuId.eq(sku_id))
        .filter(stock_level::Column::Quantity.gt(0))
        .filter(stock_batch::Column::ExpiresOn.gt(today))
        .order_by_asc(stock_batch::Column::ExpiresOn)
        .order_by_asc(stock_level::Column::BatchId)
        .into_tuple()
        .all(db)
        .await?)
}

/// Units of a SKU at a location that `take_fefo` could take at `at`.
pub(crate) async fn sellable<C: ConnectionTrait>(
    db: &C,
    location_id: i64,
    sku_id: i64,
    at: DateTime<Utc>,
) -> Result<i64, InventoryError> {
    let today = at.with_timezone(&DEFAULT_ZONE).date_naive();
    Ok(candidates(db, location_id, sku_id, today)
        .await?
        .iter()
        .map(|(_, q)| q)
        .sum())
}

/// Takes `quantity` units of a SKU at a location, soonest-expiring unexpired batch first.
/// Returns the (batch, units) taken. Concurrent callers can never take more than there is:
/// each step is a conditional decrement, retried on the next batch when another caller won.
pub(crate) async fn take_fefo<C: ConnectionTrait>(
    db: &C,
    withdrawal: Withdrawal<'_>,
) -> Result<Vec<(i64, i64)>, InventoryError> {
    let Withdrawal {
        location_id,
        sku_id,
        quantity,
        kind,
        reference,
        staff_id,
        at,
    } = withdrawal;
    let today = at.with_timezone(&DEFAULT_ZONE).date_naive();
    let mut need = quantity;
    let mut taken = Vec::new();
    // Each pass re-reads the candidates; a pass that takes nothing means there is not enough.
    while need > 0 {
        let candidates = candidates(db, location_id, sku_id, today).await?;
        if candidates.iter().map(|(_, q)| q).sum::<i64>() < need {
            return Err(InventoryError::Insufficient { sku_id });
        }
        let mut progressed = false;
        for (batch_id, available) in candidates {
            if need == 0 {
                break;
            }
            let take = std::cmp::min(need, available);
            let spec = MovementSpec {
                location_id,
                batch_id,
                sku_id,
                delta: -take,
                kind,
                reference,
                staff_id,
                note: None,
                at,
            };
            match apply_movement(db, spec).await {
                Ok(()) => {
                    need -= take;
                    taken.push((batch_id, take));
                    progressed = true;
                }
                // Someone took from this batch since we read it; try the next one.
                Err(InventoryError::Insufficient { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if !progressed {
            return Err(InventoryError::Insufficient { sku_id });
        }
    }
    Ok(taken)
}

/// True when every stock level equals the sum of its movements (the ledger invariant).
pub async fn ledger_balances(app: &AppState) -> Result<bool, InventoryError> {
    let sums: Vec<(i64, i64, Option<i64>)> = stock_movement::Entity::find()
        .select_only()
        .column(stock_movement::Column::LocationId)
        .column(stock_movement::Column::BatchId)
        .column_as(db::sum_i64(stock_movement::Column::Delta), "total")
        .group_by(stock_movement::Column::LocationId)
        .group_by(stock_movement::Column::BatchId)
        .into_tuple()
        .all(&app.db)
        .await?;
    let levels = stock_level::Entity::find().all(&app.db).await?;
    let sums: std::collections::HashMap<(i64, i64), i64> = sums
        .into_iter()
        .map(|(l, b, s)| ((l, b), s.unwrap_or(0)))
        .collect();
    Ok(levels.len() == sums.len()
        && levels
            .iter()
            .all(|l| sums.get(&(l.location_id, l.batch_id)).copied() == Some(l.quantity)))
}
