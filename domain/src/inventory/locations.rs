//! Stores, warehouses and their stock locations.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::db;
use crate::platform::error::UniqueViolation;
use entities::{location, store};

use super::{InventoryError, Location, LocationKind, Store, checked_code, checked_text, invalid};

pub struct NewStore {
    pub code: String,
    pub name: String,
    pub city: String,
    pub address: String,
    pub timezone: Option<String>,
}

/// Opens a store and its counter-stock location.
pub async fn create_store(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewStore,
) -> Result<(Store, Location), InventoryError> {
    staff.require(Permission::ManageCatalog)?;
    let code = checked_code(&input.code)?;
    let name = checked_text("name", &input.name, 64)?;
    let city = checked_text("city", &input.city, 32)?;
    let address = checked_text("address", &input.address, 128)?;
    let timezone = match input.timezone {
        Some(tz) => {
            tz.parse::<chrono_tz::Tz>()
                .map_err(|_| invalid("unknown time zone"))?;
            tz
        }
        None => DEFAULT_ZONE.name().to_owned(),
    };
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let store = store::ActiveModel {
        code: Set(code.clone()),
        name: Set(name.clone()),
        city: Set(city),
        address: Set(address),
        timezone: Set(timezone),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| InventoryError::Taken("store code"))?;
    let location = location::ActiveModel {
        code: Set(format!("{code}-COUNTER")),
        name: Set(name),
        kind: Set(LocationKind::Store),
        store_id: Set(Some(store.id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| InventoryError::Taken("location code"))?;
    txn.commit().await?;
    Ok((store.into(), location.into()))
}

pub async fn create_warehouse(
    app: &AppState,
    staff: &StaffPrincipal,
    code: &str,
    name: &str,
) -> Result<Location, InventoryError> {
    staff.require(Permission::ManageCatalog)?;
    let code = checked_code(code)?;
    let name = checked_text("name", name, 64)?;
    let row = location::ActiveModel {
        code: Set(code),
        name: Set(name),
        kind: Set(LocationKind::Warehouse),
        store_id: Set(None),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .on_unique_violation(|| InventoryError::Taken("location code"))?;
    Ok(row.into())
}

pub async fn stores(app: &AppState) -> Result<Vec<Store>, InventoryError> {
    Ok(store::Entity::find()
        .order_by_asc(store::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub async fn store(app: &AppState, id: i64) -> Result<Store, InventoryError> {
    store::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .map(Into::into)
        .ok_or(InventoryError::NotFound("store"))
}

pub async fn locations(app: &AppState) -> Result<Vec<Location>, InventoryError> {
    Ok(location::Entity::find()
        .order_by_asc(location::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The counter-stock location of a store.
pub async fn store_location<C: ConnectionTrait>(
    db: &C,
    store_id: i64,
) -> Result<location::Model, InventoryError> {
    location::Entity::find()
        .filter(location::Column::StoreId.eq(store_id))
        .filter(location::Column::Kind.eq(LocationKind::Store))
        .order_by_asc(location::Column::Id)
        .one(db)
        .await?
        .ok_or(InventoryError::NotFound("store stock location"))
}

/// The warehouse online delivery orders ship from (the first one opened).
pub async fn delivery_warehouse<C: ConnectionTrait>(
    db: &C,
) -> Result<location::Model, InventoryError> {
    location::Entity::find()
        .filter(location::Column::Kind.eq(LocationKind::Warehouse))
        .order_by_asc(location::Column::Id)
        .one(db)
        .await?
        .ok_or(InventoryError::NotFound("delivery warehouse"))
}
