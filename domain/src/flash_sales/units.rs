//! A sale's units as rows: set aside from the warehouse when the sale is warmed, claimed by the
//! winners' orders (no row every winner locks), freed by unpaid orders that close, and settled
//! in bulk: `sold` by the reconcile task, the unclaimed units back to the warehouse after the
//! sale (and its payment time-out) ended.
//!
//! Why rows: a winner's order used to lock the sale's row (`sold + q <= stock`) and the SKU's
//! stock rows; every winner of a burst queued on both, so orders were written at a few hundred a
//! second. Now the order writer's transaction locks only the unit rows it claims (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL: a row another writer holds is passed over, not waited for; SQLite has
//! one writer at a time anyway) and its members' quota rows. Never oversold: a unit row is claimed by one
//! order (the claim and the order commit together, or neither does), and there are no more
//! rows than units.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::FlashSalesError;
use crate::AppState;
use crate::inventory::{self, MovementKind, MovementSpec};
use crate::orders::OrdersError;
use crate::platform::db;
use entities::{flash_sale, flash_sale_quota, flash_sale_unit, order_allocation};

/// Unit rows written per statement when a sale is set aside.
const INSERT_CHUNK: usize = 500;

fn reference(sale_id: i64) -> String {
    format!("flash:{sale_id}")
}

/// Units held by the sale's open orders (the members' quotas).
pub(super) async fn held<C: ConnectionTrait>(db: &C, sale_id: i64) -> Result<i64, FlashSalesError> {
    let units: Vec<i32> = flash_sale_quota::Entity::find()
        .select_only()
        .column(flash_sale_quota::Column::Units)
        .filter(flash_sale_quota::Column::SaleId.eq(sale_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(units.into_iter().map(i64::from).sum())
}

/// Unit rows no order holds.
pub(super) async fn free<C: ConnectionTrait>(db: &C, sale_id: i64) -> Result<i64, FlashSalesError> {
    let n = flash_sale_unit::Entity::find()
        .filter(flash_sale_unit::Column::SaleId.eq(sale_id))
        .filter(flash_sale_unit::Column::OrderId.is_null())
        .count(db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Sets the sale's units aside from the warehouse that ships online orders, once: one row per
/// unit, each with its batch (first-expiry-first-out). Units already held by orders written
/// before the sale had unit rows (they took their own stock) are not set aside again; when the
/// warehouse has fewer units than the sale, the sale gets what there is (logged). Returns the
/// sale's row as it is now.
pub(super) async fn set_aside(
    app: &AppState,
    sale: &flash_sale::Model,
) -> Result<flash_sale::Model, FlashSalesError> {
    if sale.units_at.is_some() {
        return Ok(sale.clone());
    }
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let first = flash_sale::Entity::update_many()
        .col_expr(flash_sale::Column::UnitsAt, Expr::value(now))
        .filter(flash_sale::Column::Id.eq(sale.id))
        .filter(flash_sale::Column::UnitsAt.is_null())
        .exec(&txn)
        .await?;
    if first.rows_affected == 1 {
        let want = i64::from(sale.stock) - held(&txn, sale.id).await?;
        let location = inventory::delivery_warehouse(&txn)
            .await
            .map_err(OrdersError::from)?;
        let there = inventory::sellable(&txn, location.id, sale.sku_id, now)
            .await
            .map_err(OrdersError::from)?;
        let units = want.clamp(0, there);
        if units < want {
            tracing::warn!(
                sale_id = sale.id,
                want,
                there,
                "the warehouse has fewer units than the flash sale; it sells what there is"
            );
        }
        if units > 0 {
            let reference = reference(sale.id);
            let taken = inventory::take_fefo(
                &txn,
                inventory::Withdrawal {
                    location_id: location.id,
                    sku_id: sale.sku_id,
                    quantity: units,
                    kind: MovementKind::FlashSaleReserve,
                    reference: Some(&reference),
                    staff_id: None,
                    at: now,
                },
            )
            .await
            .map_err(OrdersError::from)?;
            insert_units(&txn, sale.id, &taken).await?;
        }
    }
    let row = flash_sale::Entity::find_by_id(sale.id)
        .one(&txn)
        .await?
        .ok_or(FlashSalesError::NotFound("flash sale"))?;
    txn.commit().await?;
    Ok(row)
}

async fn insert_units(
    txn: &DatabaseTransaction,
    sale_id: i64,
    taken: &[(i64, i64)],
) -> Result<(), sea_orm::DbErr> {
    let rows: Vec<flash_sale_unit::ActiveModel> = taken
        .iter()
        .flat_map(|&(batch_id, n)| (0..n).map(move |_| batch_id))
        .map(|batch_id| flash_sale_unit::ActiveModel {
            sale_id: Set(sale_id),
            batch_id: Set(batch_id),
            order_id: Set(None),
            claimed_at: Set(None),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        flash_sale_unit::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Free units a writer's transaction holds (locked on PostgreSQL) until its order is written.
pub(super) struct Picked {
    ids: Vec<i64>,
    /// (batch, units): the order's allocations.
    pub(super) by_batch: Vec<(i64, i64)>,
}

impl Picked {
    /// The order's units: (unit id, batch) as picked.
    pub(super) fn new(units: Vec<(i64, i64)>) -> Self {
        let mut by_batch: Vec<(i64, i64)> = Vec::new();
        for &(_, batch) in &units {
            match by_batch.iter_mut().find(|(b, _)| *b == batch) {
                Some((_, n)) => *n += 1,
                None => by_batch.push((batch, 1)),
            }
        }
        Self {
            ids: units.into_iter().map(|(id, _)| id).collect(),
            by_batch,
        }
    }
}

/// In the order writer's transaction: picks up to `quantity` free units of the sale, (unit id,
/// batch), and locks them. On PostgreSQL the rows other writers hold are skipped, not waited for
/// (`FOR UPDATE SKIP LOCKED`); SQLite ignores the lock clause, its writers take turns.
pub(super) async fn pick_free(
    txn: &DatabaseTransaction,
    sale_id: i64,
    quantity: i64,
) -> Result<Vec<(i64, i64)>, FlashSalesError> {
    Ok(flash_sale_unit::Entity::find()
        .select_only()
        .column(flash_sale_unit::Column::Id)
        .column(flash_sale_unit::Column::BatchId)
        .filter(flash_sale_unit::Column::SaleId.eq(sale_id))
        .filter(flash_sale_unit::Column::OrderId.is_null())
        .order_by_asc(flash_sale_unit::Column::Id)
        .limit(u64::try_from(quantity).unwrap_or(1))
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_tuple()
        .all(txn)
        .await?)
}

/// The picked units become the order's (still only if free: a unit is never claimed twice).
pub(super) async fn claim(
    txn: &DatabaseTransaction,
    picked: &Picked,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<(), FlashSalesError> {
    claim_many(txn, &[(picked, order_id)], now).await
}

/// [`claim`] for many orders in one statement: each order's picked units get its id. Sold out
/// (the transaction is to be rolled back) unless every unit was still free.
pub(super) async fn claim_many(
    txn: &DatabaseTransaction,
    claims: &[(&Picked, i64)],
    now: DateTime<Utc>,
) -> Result<(), FlashSalesError> {
    let mut order_of = sea_orm::sea_query::CaseStatement::new();
    let mut ids = Vec::new();
    for (picked, order_id) in claims {
        order_of = order_of.case(
            flash_sale_unit::Column::Id.is_in(picked.ids.iter().copied()),
            Expr::value(*order_id),
        );
        ids.extend_from_slice(&picked.ids);
    }
    if ids.is_empty() {
        return Ok(());
    }
    let claimed = flash_sale_unit::Entity::update_many()
        .col_expr(flash_sale_unit::Column::OrderId, order_of.into())
        .col_expr(flash_sale_unit::Column::ClaimedAt, Expr::value(now))
        .filter(flash_sale_unit::Column::Id.is_in(ids.iter().copied()))
        .filter(flash_sale_unit::Column::OrderId.is_null())
        .exec(txn)
        .await?;
    if claimed.rows_affected != ids.len() as u64 {
        return Err(FlashSalesError::SoldOut);
    }
    Ok(())
}

/// In the transaction closing an unpaid order of the sale: its units go back to the sale's
/// pool (their stock stays set aside) unless the sale was settled, when their rows go and the
/// order returns its stock to the warehouse as any order does. Returns whether the units went
/// back to the pool (the order's stock then stays where it is). A sale without unit rows
/// (never warmed since they exist) leaves the order to return its stock.
pub(super) async fn free_for_closed_order(
    txn: &DatabaseTransaction,
    sale_id: i64,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    // The sale's row orders this close against the sale's settlement (which takes it first).
    flash_sale::Entity::update_many()
        .col_expr(flash_sale::Column::UpdatedAt, Expr::value(now))
        .filter(flash_sale::Column::Id.eq(sale_id))
        .exec(txn)
        .await?;
    let Some(sale) = flash_sale::Entity::find_by_id(sale_id).one(txn).await? else {
        return Ok(false);
    };
    if sale.units_at.is_none() {
        return Ok(false);
    }
    if sale.settled_at.is_some() {
        flash_sale_unit::Entity::delete_many()
            .filter(flash_sale_unit::Column::OrderId.eq(order_id))
            .exec(txn)
            .await?;
        return Ok(false);
    }
    let freed = flash_sale_unit::Entity::update_many()
        .col_expr(
            flash_sale_unit::Column::OrderId,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            flash_sale_unit::Column::ClaimedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(flash_sale_unit::Column::OrderId.eq(order_id))
        .exec(txn)
        .await?;
    if freed.rows_affected > 0 {
        return Ok(true);
    }
    // An order written before its sale had unit rows (a sale live across the release that
    // brought them) took its own stock: that stock becomes free units of the sale.
    let allocated: Vec<(i64, i32)> = order_allocation::Entity::find()
        .select_only()
        .column(order_allocation::Column::BatchId)
        .column(order_allocation::Column::Quantity)
        .filter(order_allocation::Column::OrderId.eq(order_id))
        .into_tuple()
        .all(txn)
        .await?;
    if allocated.is_empty() {
        return Ok(false);
    }
    let units: Vec<(i64, i64)> = allocated
        .into_iter()
        .map(|(batch, q)| (batch, i64::from(q)))
        .collect();
    insert_units(txn, sale_id, &units).await?;
    Ok(true)
}

/// Writes `sold` (units held by open orders) when it differs: settled in bulk, not per order.
pub(super) async fn settle_sold(
    app: &AppState,
    sale: &flash_sale::Model,
) -> Result<i32, FlashSalesError> {
    let held = i32::try_from(held(&app.db, sale.id).await?).unwrap_or(i32::MAX);
    if held != sale.sold {
        flash_sale::Entity::update_many()
            .col_expr(flash_sale::Column::Sold, Expr::value(held))
            .col_expr(flash_sale::Column::UpdatedAt, Expr::value(app.clock.now()))
            .filter(flash_sale::Column::Id.eq(sale.id))
            .exec(&app.db)
            .await?;
    }
    Ok(held)
}

/// After the sale and its payment time-out ended: its unclaimed units go back to the warehouse
/// (one movement per batch) and their rows are deleted, once. Returns the units given back.
pub(super) async fn settle_units(
    app: &AppState,
    sale: &flash_sale::Model,
) -> Result<i64, FlashSalesError> {
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let first = flash_sale::Entity::update_many()
        .col_expr(flash_sale::Column::SettledAt, Expr::value(now))
        .filter(flash_sale::Column::Id.eq(sale.id))
        .filter(flash_sale::Column::SettledAt.is_null())
        .filter(flash_sale::Column::UnitsAt.is_not_null())
        .exec(&txn)
        .await?;
    if first.rows_affected != 1 {
        return Ok(0);
    }
    let free: Vec<(i64, i64)> = flash_sale_unit::Entity::find()
        .select_only()
        .column(flash_sale_unit::Column::BatchId)
        .column_as(flash_sale_unit::Column::Id.count(), "units")
        .filter(flash_sale_unit::Column::SaleId.eq(sale.id))
        .filter(flash_sale_unit::Column::OrderId.is_null())
        .group_by(flash_sale_unit::Column::BatchId)
        .into_tuple()
        .all(&txn)
        .await?;
    let location = inventory::delivery_warehouse(&txn)
        .await
        .map_err(OrdersError::from)?;
    let reference = reference(sale.id);
    let mut returned = 0;
    for (batch_id, units) in free {
        inventory::apply_movement(
            &txn,
            MovementSpec {
                location_id: location.id,
                batch_id,
                sku_id: sale.sku_id,
                delta: units,
                kind: MovementKind::FlashSaleReturn,
                reference: Some(&reference),
                staff_id: None,
                note: None,
                at: now,
            },
        )
        .await
        .map_err(OrdersError::from)?;
        returned += units;
    }
    flash_sale_unit::Entity::delete_many()
        .filter(flash_sale_unit::Column::SaleId.eq(sale.id))
        .filter(flash_sale_unit::Column::OrderId.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(returned)
}

/// Sales whose unclaimed units wait to go back: ended, with their payment time-out, and not
/// settled yet.
pub(super) async fn unsettled(app: &AppState) -> Result<Vec<flash_sale::Model>, FlashSalesError> {
    let now = app.clock.now();
    Ok(flash_sale::Entity::find()
        .filter(flash_sale::Column::UnitsAt.is_not_null())
        .filter(flash_sale::Column::SettledAt.is_null())
        .filter(flash_sale::Column::EndsAt.lt(now - app.settings.orders.payment_timeout))
        .order_by_asc(flash_sale::Column::Id)
        .limit(100)
        .all(&app.db)
        .await?)
}
