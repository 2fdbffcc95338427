//! Stock by location and batch. Every change is a movement in a ledger; `stock_levels` holds
//! each (location, batch) pair's running sum, written in the same transaction as the movement,
//! and can never go below zero (a conditional update, and a CHECK constraint behind it).
//! Allocation is first-expiry-first-out, never from expired batches.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set,
};

use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use crate::clock::DEFAULT_ZONE;
use crate::error::{DomainError, ErrorCode, StoreError, is_unique_violation};
use crate::{AppState, db, validate};
use entities::{location, sku, stock_batch, stock_level, stock_movement, store};

#[derive(Debug, thiserror::Error)]
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

/// Takes `quantity` units of a SKU at a location, soonest-expiring unexpired batch first.
/// Returns the (batch, units) taken. Concurrent callers can never take more than there is:
/// each step is a conditional decrement, retried on the next batch when another caller won.
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
        let candidates: Vec<(i64, i64)> = stock_level::Entity::find()
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
            .await?;
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
    if staff.role != StaffRole::Hq && location.store_id.is_none_or(|s| Some(s) != staff.store_id) {
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

pub struct NewStore {
    pub code: String,
    pub name: String,
    pub city: String,
    pub address: String,
    pub timezone: Option<String>,
}

fn checked_text(field: &str, value: &str, max: usize) -> Result<String, InventoryError> {
    validate::text(field, value, max).map_err(InventoryError::InvalidInput)
}

fn checked_code(value: &str) -> Result<String, InventoryError> {
    validate::code("a code", value, 32).map_err(InventoryError::InvalidInput)
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
    .map_err(|e| {
        if is_unique_violation(&e) {
            InventoryError::Taken("store code")
        } else {
            e.into()
        }
    })?;
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
    .map_err(|e| {
        if is_unique_violation(&e) {
            InventoryError::Taken("location code")
        } else {
            e.into()
        }
    })?;
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
    .map_err(|e| {
        if is_unique_violation(&e) {
            InventoryError::Taken("location code")
        } else {
            e.into()
        }
    })?;
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

pub struct Receipt {
    pub location_id: i64,
    pub sku_id: i64,
    pub lot: String,
    pub manufactured_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub quantity: i64,
}

/// Receives a delivery of one lot into a location.
pub async fn receive(
    app: &AppState,
    staff: &StaffPrincipal,
    input: Receipt,
) -> Result<BatchStock, InventoryError> {
    let location = load_location(&app.db, input.location_id).await?;
    require_location_access(staff, &location)?;
    if !(1..=1_000_000).contains(&input.quantity) {
        return Err(invalid("quantity must be between 1 and 1,000,000"));
    }
    let lot = checked_code(&input.lot)?;
    if input.expires_on <= input.manufactured_on {
        return Err(invalid("a batch expires after it is made"));
    }
    let today = app.clock.now().with_timezone(&DEFAULT_ZONE).date_naive();
    if input.manufactured_on > today {
        return Err(invalid("a batch cannot be made in the future"));
    }
    sku::Entity::find_by_id(input.sku_id)
        .one(&app.db)
        .await?
        .ok_or(InventoryError::NotFound("SKU"))?;
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let existing = stock_batch::Entity::find()
        .filter(stock_batch::Column::SkuId.eq(input.sku_id))
        .filter(stock_batch::Column::Lot.eq(lot.clone()))
        .one(&txn)
        .await?;
    let batch = match existing {
        Some(b)
            if b.manufactured_on != input.manufactured_on || b.expires_on != input.expires_on =>
        {
            return Err(invalid("this lot is already known with other dates"));
        }
        Some(b) => b,
        None => {
            stock_batch::ActiveModel {
                sku_id: Set(input.sku_id),
                lot: Set(lot),
                manufactured_on: Set(input.manufactured_on),
                expires_on: Set(input.expires_on),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    apply_movement(
        &txn,
        MovementSpec {
            location_id: location.id,
            batch_id: batch.id,
            sku_id: input.sku_id,
            delta: input.quantity,
            kind: MovementKind::Receipt,
            reference: None,
            staff_id: Some(staff.staff_id),
            note: None,
            at: now,
        },
    )
    .await?;
    txn.commit().await?;
    let level = batch_levels(&app.db, location.id, Some(input.sku_id))
        .await?
        .into_iter()
        .find(|b| b.batch_id == batch.id)
        .ok_or(InventoryError::NotFound("stock level"))?;
    Ok(level)
}

/// Moves units of a SKU between locations, soonest-expiring first.
pub async fn transfer(
    app: &AppState,
    staff: &StaffPrincipal,
    from: i64,
    to: i64,
    sku_id: i64,
    quantity: i64,
) -> Result<(), InventoryError> {
    staff.require(Permission::ManageStock)?;
    if from == to {
        return Err(invalid("choose two different locations"));
    }
    if !(1..=1_000_000).contains(&quantity) {
        return Err(invalid("quantity must be between 1 and 1,000,000"));
    }
    let source = load_location(&app.db, from).await?;
    require_location_access(staff, &source)?;
    let target = load_location(&app.db, to).await?;
    let now = app.clock.now();
    let reference = format!("transfer:{}:{}", source.code, target.code);
    let txn = db::begin_write(&app.db).await?;
    let taken = take_fefo(
        &txn,
        Withdrawal {
            location_id: source.id,
            sku_id,
            quantity,
            kind: MovementKind::TransferOut,
            reference: Some(&reference),
            staff_id: Some(staff.staff_id),
            at: now,
        },
    )
    .await?;
    for (batch_id, units) in taken {
        apply_movement(
            &txn,
            MovementSpec {
                location_id: target.id,
                batch_id,
                sku_id,
                delta: units,
                kind: MovementKind::TransferIn,
                reference: Some(&reference),
                staff_id: Some(staff.staff_id),
                note: None,
                at: now,
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Corrects the count of one batch at a location (stocktake, damage), with a reason.
pub async fn adjust(
    app: &AppState,
    staff: &StaffPrincipal,
    location_id: i64,
    batch_id: i64,
    delta: i64,
    reason: &str,
) -> Result<BatchStock, InventoryError> {
    let location = load_location(&app.db, location_id).await?;
    require_location_access(staff, &location)?;
    if delta == 0 || delta.abs() > 1_000_000 {
        return Err(invalid(
            "an adjustment is between -1,000,000 and 1,000,000 units, not 0",
        ));
    }
    let reason = checked_text("reason", reason, 128)?;
    let batch = stock_batch::Entity::find_by_id(batch_id)
        .one(&app.db)
        .await?
        .ok_or(InventoryError::NotFound("batch"))?;
    let txn = db::begin_write(&app.db).await?;
    apply_movement(
        &txn,
        MovementSpec {
            location_id,
            batch_id,
            sku_id: batch.sku_id,
            delta,
            kind: MovementKind::Adjustment,
            reference: None,
            staff_id: Some(staff.staff_id),
            note: Some(&reason),
            at: app.clock.now(),
        },
    )
    .await?;
    txn.commit().await?;
    batch_levels(&app.db, location_id, Some(batch.sku_id))
        .await?
        .into_iter()
        .find(|b| b.batch_id == batch_id)
        .ok_or(InventoryError::NotFound("stock level"))
}

async fn batch_levels<C: ConnectionTrait>(
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
) -> Result<Vec<BatchStock>, InventoryError> {
    let location = load_location(&app.db, location_id).await?;
    require_view(staff, &location)?;
    batch_levels(&app.db, location_id, sku_id).await
}

/// SKUs whose units at the location are below their safety stock.
pub async fn low_stock(
    app: &AppState,
    staff: &StaffPrincipal,
    location_id: i64,
) -> Result<Vec<LowStock>, InventoryError> {
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
    Ok(skus
        .into_iter()
        .filter_map(|s| {
            let units = on_hand.get(&s.id).copied().unwrap_or(0);
            (units < i64::from(s.safety_stock)).then_some(LowStock {
                sku_id: s.id,
                on_hand: units,
                safety_stock: s.safety_stock,
            })
        })
        .collect())
}

/// Batches with units at the location that expire within `days` (in the store's zone).
pub async fn near_expiry(
    app: &AppState,
    staff: &StaffPrincipal,
    location_id: i64,
    days: i64,
) -> Result<Vec<BatchStock>, InventoryError> {
    let location = load_location(&app.db, location_id).await?;
    require_view(staff, &location)?;
    if !(0..=3650).contains(&days) {
        return Err(invalid("days must be between 0 and 3650"));
    }
    let limit =
        app.clock.now().with_timezone(&DEFAULT_ZONE).date_naive() + chrono::Duration::days(days);
    Ok(batch_levels(&app.db, location_id, None)
        .await?
        .into_iter()
        .filter(|b| b.quantity > 0 && b.expires_on <= limit)
        .collect())
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
    limit: u64,
) -> Result<Vec<Movement>, InventoryError> {
    let location = load_location(&app.db, location_id).await?;
    require_view(staff, &location)?;
    if !(1..=500).contains(&limit) {
        return Err(invalid("limit must be between 1 and 500"));
    }
    let mut query = stock_movement::Entity::find()
        .filter(stock_movement::Column::LocationId.eq(location_id))
        .order_by_desc(stock_movement::Column::Id)
        .limit(limit);
    if let Some(sku) = sku_id {
        query = query.filter(stock_movement::Column::SkuId.eq(sku));
    }
    Ok(query
        .all(&app.db)
        .await?
        .into_iter()
        .map(|m| Movement {
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
        })
        .collect())
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
