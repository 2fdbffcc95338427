//! Stock by location and batch. Every change is a movement in a ledger; `stock_levels` holds
//! each (location, batch) pair's running sum, written in the same transaction as the movement,
//! and can never go below zero (a conditional update, and a CHECK constraint behind it).
//! Allocation is first-expiry-first-out, never from expired batches.

mod adjustments;
mod ledger;
mod locations;
mod receipts;
mod reports;
mod transfers;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use crate::platform::validate;
use entities::{location, store};

pub use adjustments::adjust;
pub use ledger::ledger_balances;
pub(crate) use ledger::{MovementSpec, Withdrawal, apply_movement, sellable, take_fefo};
pub use locations::{
    NewStore, create_store, create_warehouse, delivery_warehouse, locations, store, store_location,
    stores,
};
pub use receipts::{Receipt, receive};
pub use reports::{available_by_sku, levels, low_stock, movements, near_expiry};
pub use transfers::transfer;

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum InventoryError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("not enough stock of SKU {sku_id} at this location")]
    Insufficient { sku_id: i64 },
    #[error("{0} is already taken")]
    Taken(&'static str),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(InventoryError);

impl DomainError for InventoryError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Insufficient { .. } => ErrorCode::SoldOut,
            Self::Taken(_) => ErrorCode::Conflict,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> InventoryError {
    InventoryError::InvalidInput(msg.into())
}

pub use entities::location::LocationKind;
pub use entities::stock_movement::MovementKind;

#[derive(Debug, Clone)]
pub struct Location {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    pub store_id: Option<i64>,
}

impl From<location::Model> for Location {
    fn from(l: location::Model) -> Self {
        Self {
            id: l.id,
            code: l.code,
            name: l.name,
            kind: l.kind,
            store_id: l.store_id,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub city: String,
    pub address: String,
    pub timezone: String,
}

impl From<store::Model> for Store {
    fn from(s: store::Model) -> Self {
        Self {
            id: s.id,
            code: s.code,
            name: s.name,
            city: s.city,
            address: s.address,
            timezone: s.timezone,
        }
    }
}

/// Units of one batch at one location.
#[derive(Debug, Clone)]
pub struct BatchStock {
    pub location_id: i64,
    pub sku_id: i64,
    pub batch_id: i64,
    pub lot: String,
    pub manufactured_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub quantity: i64,
}

#[derive(Debug, Clone)]
pub struct LowStock {
    pub sku_id: i64,
    pub on_hand: i64,
    pub safety_stock: i32,
}

#[derive(Debug, Clone)]
pub struct Movement {
    pub id: i64,
    pub location_id: i64,
    pub batch_id: i64,
    pub sku_id: i64,
    pub delta: i64,
    pub kind: MovementKind,
    pub reference: Option<String>,
    pub staff_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn require_location_access(
    staff: &StaffPrincipal,
    location: &location::Model,
) -> Result<(), InventoryError> {
    staff.require(Permission::ManageStock)?;
    if staff.role != StaffRole::Hq && location.store_id.is_none_or(|s| Some(s) != staff.store_id) {
        return Err(AuthError::Forbidden.into());
    }
    Ok(())
}

fn require_view(staff: &StaffPrincipal, location: &location::Model) -> Result<(), InventoryError> {
    staff.require(Permission::ViewStock)?;
    if !staff.sees_every_store() && location.store_id.is_none_or(|s| Some(s) != staff.store_id) {
        return Err(AuthError::Forbidden.into());
    }
    Ok(())
}

async fn load_location<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<location::Model, InventoryError> {
    location::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(InventoryError::NotFound("location"))
}

fn checked_text(field: &str, value: &str, max: usize) -> Result<String, InventoryError> {
    validate::text(field, value, max).map_err(InventoryError::InvalidInput)
}

fn checked_code(value: &str) -> Result<String, InventoryError> {
    validate::code("a code", value, 32).map_err(InventoryError::InvalidInput)
}
