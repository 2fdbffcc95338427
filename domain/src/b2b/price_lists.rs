//! Versioned price lists (HQ): publishing writes a new version for a tier, in force from a day
//! (Asia/Shanghai midnight). A version is never edited; orders keep the version they were priced
//! with.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::B2bError;
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::error::UniqueViolation;
use entities::price_list_item::PriceStep;
use entities::{distributor_tier, price_list, price_list_item, sku};

/// The most SKUs one price list holds, and steps one ladder.
pub const MAX_ITEMS: usize = 2_000;
pub const MAX_STEPS: usize = 10;

#[derive(Debug, Clone)]
pub struct PriceListItemInput {
    pub sku_id: i64,
    pub moq: i32,
    pub case_size: i32,
    pub ladder: Vec<PriceStep>,
}

#[derive(Debug, Clone)]
pub struct PriceList {
    pub id: i64,
    pub tier_id: i64,
    pub version: i32,
    pub valid_from: DateTime<Utc>,
    pub item_count: usize,
}

fn check_item(item: &PriceListItemInput) -> Result<(), String> {
    let sku = item.sku_id;
    if item.moq < 1 || item.case_size < 1 {
        return Err(format!("SKU {sku}: moq and caseSize must be at least 1"));
    }
    if item.ladder.is_empty() || item.ladder.len() > MAX_STEPS {
        return Err(format!(
            "SKU {sku}: the ladder needs 1 to {MAX_STEPS} steps"
        ));
    }
    if item.ladder[0].min_qty > item.moq {
        return Err(format!(
            "SKU {sku}: the first step must start at or below the moq"
        ));
    }
    for pair in item.ladder.windows(2) {
        if pair[1].min_qty <= pair[0].min_qty {
            return Err(format!("SKU {sku}: ladder steps must have rising minQty"));
        }
    }
    if item
        .ladder
        .iter()
        .any(|s| s.min_qty < 1 || s.unit_price_fen <= 0 || s.unit_price_fen > 100_000_000)
    {
        return Err(format!(
            "SKU {sku}: minQty at least 1 and unit prices between 1 fen and 1,000,000 yuan"
        ));
    }
    Ok(())
}

/// Publishes a new version of a tier's price list, in force from `valid_from` (a day in
/// Asia/Shanghai, today or later).
pub async fn publish_price_list(
    app: &AppState,
    staff: &StaffPrincipal,
    tier_id: i64,
    valid_from: NaiveDate,
    items: Vec<PriceListItemInput>,
) -> Result<PriceList, B2bError> {
    staff.require(Permission::ManageB2b)?;
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(B2bError::InvalidInput(format!(
            "a price list holds 1 to {MAX_ITEMS} SKUs"
        )));
    }
    let mut seen = HashSet::new();
    for item in &items {
        check_item(item).map_err(B2bError::InvalidInput)?;
        if !seen.insert(item.sku_id) {
            return Err(B2bError::InvalidInput(format!(
                "SKU {} is listed twice",
                item.sku_id
            )));
        }
    }
    let now = app.clock.now();
    let today = now.with_timezone(&DEFAULT_ZONE).date_naive();
    if valid_from < today {
        return Err(B2bError::InvalidInput(
            "validFrom must be today or later".into(),
        ));
    }
    let from = DEFAULT_ZONE
        .from_local_datetime(&valid_from.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| B2bError::InvalidInput("validFrom is not a day".into()))?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    distributor_tier::Entity::find_by_id(tier_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("tier"))?;
    let ids: Vec<i64> = items.iter().map(|i| i.sku_id).collect();
    let known = sku::Entity::find()
        .select_only()
        .column(sku::Column::Id)
        .filter(sku::Column::Id.is_in(ids.clone()))
        .into_tuple::<i64>()
        .all(&txn)
        .await?
        .len();
    if known != ids.len() {
        return Err(B2bError::NotFound("SKU"));
    }
    let last = price_list::Entity::find()
        .filter(price_list::Column::TierId.eq(tier_id))
        .order_by_desc(price_list::Column::Version)
        .one(&txn)
        .await?
        .map_or(0, |l| l.version);
    let list = price_list::ActiveModel {
        tier_id: Set(tier_id),
        version: Set(last + 1),
        valid_from: Set(from),
        created_by: Set(Some(staff.staff_id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| {
        B2bError::InvalidInput("another version was published at the same time".into())
    })?;
    let item_count = items.len();
    let rows = items.into_iter().map(|i| price_list_item::ActiveModel {
        price_list_id: Set(list.id),
        sku_id: Set(i.sku_id),
        moq: Set(i.moq),
        case_size: Set(i.case_size),
        ladder: Set(i.ladder.into()),
        ..Default::default()
    });
    price_list_item::Entity::insert_many(rows)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(PriceList {
        id: list.id,
        tier_id,
        version: list.version,
        valid_from: list.valid_from,
        item_count,
    })
}

/// The version of a tier's list in force at `at`: the newest one already valid.
pub(crate) async fn in_force<C: ConnectionTrait>(
    db: &C,
    tier_id: i64,
    at: DateTime<Utc>,
) -> Result<Option<price_list::Model>, B2bError> {
    Ok(price_list::Entity::find()
        .filter(price_list::Column::TierId.eq(tier_id))
        .filter(price_list::Column::ValidFrom.lte(at))
        .order_by_desc(price_list::Column::Version)
        .one(db)
        .await?)
}

/// The unit price of `qty` units on a ladder: the highest step reached.
pub(crate) fn unit_price(ladder: &[PriceStep], qty: i64) -> i64 {
    ladder
        .iter()
        .rev()
        .find(|s| i64::from(s.min_qty) <= qty)
        .or(ladder.first())
        .map_or(0, |s| s.unit_price_fen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_step_reached_prices_every_unit() {
        let ladder = [
            PriceStep {
                min_qty: 1,
                unit_price_fen: 1_000,
            },
            PriceStep {
                min_qty: 10,
                unit_price_fen: 900,
            },
            PriceStep {
                min_qty: 100,
                unit_price_fen: 800,
            },
        ];
        assert_eq!(unit_price(&ladder, 9), 1_000);
        assert_eq!(unit_price(&ladder, 10), 900);
        assert_eq!(unit_price(&ladder, 500), 800);
    }
}
