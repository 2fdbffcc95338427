//! What is on hand, low, near expiry, sellable, and how it moved.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    RelationTrait,
};

use crate::AppState;
use crate::auth::StaffPrincipal;
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::db;
use crate::platform::page::{IdKey, Keyset, Page};
use entities::{sku, stock_batch, stock_level, stock_movement};

use super::{BatchStock, InventoryError, LowStock, Movement, invalid, load_location, require_view};

pub(super) async fn batch_levels<C: ConnectionTrait>(
    db: &C,
    location_id: i64,
    sku_id: Option<i64>,
) -> Result<Vec<BatchStock>, InventoryError> {
    let mut query = stock_level::Entity::find()
        .find_also_related(stock_batch::Entity)
        .filter(stock_level::Column::LocationId.eq(location_id))
        .order_by_asc(stock_level::Column::SkuId)
        .order_by_asc(stock_batch::Column::ExpiresOn);
    if let Some(sku) = sku_id {
        query = query.filter(stock_level::Column::SkuId.eq(sku));
    }
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(level, batch)| {
            batch.map(|b| BatchStock {
                location_id: level.location_id,
                sku_id: level.sku_id,
                batch_id: level.batch_id,
                lot: b.lot,
                manufactured_on: b.manufactured_on,
                expires_on: b.expires_on,
                quantity: level.quantity,
            })
        })
        .collect())
}

pub async fn levels(
    app: &AppState,
    staff: &StaffPrincipal,
    location_id: i64,
    sku_id: Option<i64>,
    page: Keyset<IdKey>,
) -> Result<Page<BatchStock>, InventoryError> {
    let location = load_location(&app.db, location_id).await?;
    require_view(staff, &location)?;
    let all = batch_levels(&app.db, location_id, sku_id).await?;
    Ok(Page::of_list(all, &page, |b| b.batch_id))
}

/// SKUs whose units at the location are below their safety stock.
pub async fn low_stock(
    app: &AppState,
    staff: &StaffPrincipal,
    location_id: i64,
    page: Keyset<IdKey>,
) -> Result<Page<LowStock>, InventoryError> {
    let location = load_location(&app.db, location_id).await?;
    require_view(staff, &location)?;
    let on_hand: Vec<(i64, Option<i64>)> = stock_level::Entity::find()
        .select_only()
        .column(stock_level::Column::SkuId)
        .column_as(db::sum_i64(stock_level::Column::Quantity), "on_hand")
        .filter(stock_level::Column::LocationId.eq(location_id))
        .group_by(stock_level::Column::SkuId)
        .into_tuple()
        .all(&app.db)
        .await?;
    let on_hand: std::collections::HashMap<i64, i64> = on_hand
        .into_iter()
        .map(|(s, q)| (s, q.unwrap_or(0)))
        .collect();
    let skus = sku::Entity::find()
        .filter(sku::Column::Active.eq(true))
        .filter(sku::Column::SafetyStock.gt(0))
        .order_by_asc(sku::Column::Id)
        .all(&app.db)
        .await?;
    let low = skus
        .into_iter()
        .filter_map(|s| {
            let units = on_hand.get(&s.id).copied().unwrap_or(0);
            (units < i64::from(s.safety_stock)).then_some(LowStock {
                sku_id: s.id,
                on_hand: units,
                safety_stock: s.safety_stock,
            })
        })
        .collect();
    Ok(Page::of_list(low, &page, |l| l.sku_id))
}

/// Batches with units at the location that expire within `days` (in the store's zone).
pub async fn near_expiry(
    app: &AppState,
    staff: &StaffPrincipal,
    location_id: i64,
    days: i64,
    page: Keyset<IdKey>,
) -> Result<Page<BatchStock>, InventoryError> {
    let location = load_location(&app.db, location_id).await?;
    require_view(staff, &location)?;
    if !(0..=3650).contains(&days) {
        return Err(invalid("days must be between 0 and 3650"));
    }
    let limit =
        app.clock.now().with_timezone(&DEFAULT_ZONE).date_naive() + chrono::Duration::days(days);
    let near = batch_levels(&app.db, location_id, None)
        .await?
        .into_iter()
        .filter(|b| b.quantity > 0 && b.expires_on <= limit)
        .collect();
    Ok(Page::of_list(near, &page, |b| b.batch_id))
}

/// Sellable units per SKU (unexpired, all locations unless one is named), for listings.
pub async fn available_by_sku(
    app: &AppState,
    sku_ids: &[i64],
    location_id: Option<i64>,
) -> Result<std::collections::HashMap<i64, i64>, InventoryError> {
    let today = app.clock.now().with_timezone(&DEFAULT_ZONE).date_naive();
    let mut query = stock_level::Entity::find()
        .select_only()
        .column(stock_level::Column::SkuId)
        .column_as(
            db::sum_i64((stock_level::Entity, stock_level::Column::Quantity)),
            "units",
        )
        .join(JoinType::InnerJoin, stock_level::Relation::Batch.def())
        .filter(stock_level::Column::SkuId.is_in(sku_ids.iter().copied()))
        .filter(stock_batch::Column::ExpiresOn.gt(today))
        .group_by(stock_level::Column::SkuId);
    if let Some(location) = location_id {
        query = query.filter(stock_level::Column::LocationId.eq(location));
    }
    let rows: Vec<(i64, Option<i64>)> = query.into_tuple().all(&app.db).await?;
    Ok(rows.into_iter().map(|(s, q)| (s, q.unwrap_or(0))).collect())
}

pub async fn movements(
    app: &AppState,
    staff: &StaffPrincipal,
    location_id: i64,
    sku_id: Option<i64>,
    page: Keyset<IdKey>,
) -> Result<Page<Movement>, InventoryError> {
    let location = load_location(&app.db, location_id).await?;
    require_view(staff, &location)?;
    let mut query = stock_movement::Entity::find()
        .filter(stock_movement::Column::LocationId.eq(location_id))
        .order_by_desc(stock_movement::Column::Id)
        .limit(page.fetch());
    if let Some(sku) = sku_id {
        query = query.filter(stock_movement::Column::SkuId.eq(sku));
    }
    if let Some(after) = page.after {
        query = query.filter(stock_movement::Column::Id.lt(after));
    }
    Ok(page.page(query.all(&app.db).await?).map(|m| Movement {
        id: m.id,
        location_id: m.location_id,
        batch_id: m.batch_id,
        sku_id: m.sku_id,
        delta: m.delta,
        kind: m.kind,
        reference: m.reference,
        staff_id: m.staff_id,
        note: m.note,
        created_at: m.created_at,
    }))
}
