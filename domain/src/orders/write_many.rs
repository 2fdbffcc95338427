//! Writing many one-line orders whose units were set aside beforehand (a flash sale's batch of
//! grab tickets) with one statement per table, not one per order: the rows are what
//! [`super::insert_order_with`] writes for each, in the same transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, Set};

use super::OrdersError;
use super::write::{OrderDraft, discount_row, line_row, new_order_no, order_row};
use crate::platform::error::StoreError;
use crate::pricing::allocate_discount;
use entities::{order, order_allocation, order_discount, order_line, sku};

/// One order to write: its draft (exactly one line) and the (batch, units) set aside for it.
pub(crate) struct SetAsideOrder {
    pub draft: OrderDraft,
    pub units: Vec<(i64, i64)>,
}

fn invariant(what: &str) -> OrdersError {
    OrdersError::Store(StoreError::Db(sea_orm::DbErr::Custom(format!(
        "writing orders in bulk: {what}"
    ))))
}

/// Writes the orders, their lines, discounts and allocations; no stock row is touched (the
/// units were taken from the location when they were set aside). Returns the orders in the
/// order given.
pub(crate) async fn insert_set_aside_orders(
    txn: &DatabaseTransaction,
    orders: Vec<SetAsideOrder>,
    now: DateTime<Utc>,
) -> Result<Vec<order::Model>, OrdersError> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    if orders.iter().any(|o| o.draft.lines.len() != 1) {
        return Err(invariant("an order set aside has exactly one line"));
    }
    // Order numbers are random: the written rows are matched to their drafts by them.
    let mut numbers = HashSet::with_capacity(orders.len());
    let mut rows = Vec::with_capacity(orders.len());
    let mut nos = Vec::with_capacity(orders.len());
    for o in &orders {
        let mut no = new_order_no(now);
        while !numbers.insert(no.clone()) {
            no = new_order_no(now);
        }
        let (subtotals, discount) = o.draft.totals();
        let subtotal: i64 = subtotals.iter().sum();
        nos.push(no.clone());
        rows.push((
            order_row(&o.draft, no, (subtotal, discount), now),
            subtotals,
            discount,
        ));
    }
    let written = order::Entity::insert_many(rows.iter().map(|(r, _, _)| r.clone()))
        .exec_with_returning(txn)
        .await?;
    let mut by_no: HashMap<String, order::Model> = written
        .into_iter()
        .map(|m| (m.order_no.clone(), m))
        .collect();
    let placed: Vec<order::Model> = nos
        .iter()
        .map(|no| {
            by_no
                .remove(no)
                .ok_or_else(|| invariant("an order was not returned"))
        })
        .collect::<Result<_, _>>()?;
    let skus: Vec<i64> = orders.iter().map(|o| o.draft.lines[0].sku_id).collect();
    let costs: HashMap<i64, Option<i64>> = sku::Entity::find()
        .select_only()
        .column(sku::Column::Id)
        .column(sku::Column::CostFen)
        .filter(sku::Column::Id.is_in(skus))
        .into_tuple::<(i64, Option<i64>)>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let mut lines = Vec::with_capacity(orders.len());
    let mut discounts = Vec::new();
    let mut units_of: HashMap<i64, Vec<(i64, i64)>> = HashMap::with_capacity(orders.len());
    for (o, (row, (_, subtotals, discount))) in orders.into_iter().zip(placed.iter().zip(&rows)) {
        let shares = allocate_discount(subtotals, *discount);
        let SetAsideOrder { draft, units } = o;
        for ((line, subtotal), share) in draft.lines.into_iter().zip(subtotals).zip(shares) {
            let cost = costs.get(&line.sku_id).copied().flatten();
            lines.push(line_row(row.id, line, (*subtotal, share), cost));
        }
        discounts.extend(draft.discounts.into_iter().map(|d| discount_row(row.id, d)));
        units_of.insert(row.id, units);
    }
    let lines = order_line::Entity::insert_many(lines)
        .exec_with_returning(txn)
        .await?;
    let location_of: HashMap<i64, i64> = placed.iter().map(|o| (o.id, o.location_id)).collect();
    let allocations: Vec<order_allocation::ActiveModel> = lines
        .iter()
        .flat_map(|line| {
            let location_id = location_of.get(&line.order_id).copied().unwrap_or_default();
            units_of
                .get(&line.order_id)
                .into_iter()
                .flatten()
                .map(move |(batch_id, units)| order_allocation::ActiveModel {
                    order_id: Set(line.order_id),
                    order_line_id: Set(line.id),
                    location_id: Set(location_id),
                    batch_id: Set(*batch_id),
                    quantity: Set(i32::try_from(*units).unwrap_or(i32::MAX)),
                    ..Default::default()
                })
        })
        .collect();
    if lines.len() != placed.len() {
        return Err(invariant("a line was not returned"));
    }
    if !allocations.is_empty() {
        order_allocation::Entity::insert_many(allocations)
            .exec_without_returning(txn)
            .await?;
    }
    if !discounts.is_empty() {
        order_discount::Entity::insert_many(discounts)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(placed)
}
