//! Stores, warehouses and stock by batch, for staff.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::inventory;

use crate::context::{app, public_read, staff};
use crate::error::{ApiResult, parse_id};
use crate::pagination;
use crate::scalars::Date;
use crate::scalars::DateTime;

#[derive(SimpleObject)]
pub struct Store {
    pub id: ID,
    pub code: String,
    pub name: String,
    pub city: String,
    pub address: String,
    /// IANA zone the store's hours and dates are reasoned in.
    pub timezone: String,
}

impl From<inventory::Store> for Store {
    fn from(s: inventory::Store) -> Self {
        Self {
            id: s.id.into(),
            code: s.code,
            name: s.name,
            city: s.city,
            address: s.address,
            timezone: s.timezone,
        }
    }
}

#[derive(SimpleObject)]
pub struct Location {
    pub id: ID,
    pub code: String,
    pub name: String,
    pub kind: inventory::LocationKind,
    pub store_id: Option<ID>,
}

impl From<inventory::Location> for Location {
    fn from(l: inventory::Location) -> Self {
        Self {
            id: l.id.into(),
            code: l.code,
            name: l.name,
            kind: l.kind,
            store_id: l.store_id.map(Into::into),
        }
    }
}

/// Units of one batch (lot) at one location.
#[derive(SimpleObject)]
pub struct BatchStock {
    pub location_id: ID,
    pub sku_id: ID,
    pub batch_id: ID,
    pub lot: String,
    pub manufactured_on: Date,
    pub expires_on: Date,
    pub quantity: i64,
}

impl From<inventory::BatchStock> for BatchStock {
    fn from(b: inventory::BatchStock) -> Self {
        Self {
            location_id: b.location_id.into(),
            sku_id: b.sku_id.into(),
            batch_id: b.batch_id.into(),
            lot: b.lot,
            manufactured_on: Date(b.manufactured_on),
            expires_on: Date(b.expires_on),
            quantity: b.quantity,
        }
    }
}

#[derive(SimpleObject)]
pub struct LowStock {
    pub sku_id: ID,
    pub on_hand: i64,
    pub safety_stock: i32,
}

#[derive(SimpleObject)]
pub struct StockMovement {
    pub id: ID,
    pub location_id: ID,
    pub batch_id: ID,
    pub sku_id: ID,
    pub delta: i64,
    pub kind: inventory::MovementKind,
    pub reference: Option<String>,
    pub staff_id: Option<ID>,
    pub note: Option<String>,
    pub created_at: DateTime,
}

/// The stores a member can pick an order up from or book at.
#[derive(Default)]
pub struct ConsumerStoresQuery;

#[Object]
impl ConsumerStoresQuery {
    /// Every store, by id, with its time zone.
    async fn stores(&self, ctx: &Context<'_>) -> ApiResult<Vec<Store>> {
        public_read(ctx).await?;
        Ok(inventory::stores(app(ctx))
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct StaffInventoryQuery;

#[Object]
impl StaffInventoryQuery {
    async fn stores(&self, ctx: &Context<'_>) -> ApiResult<Vec<Store>> {
        staff(ctx).await?;
        Ok(inventory::stores(app(ctx))
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn locations(&self, ctx: &Context<'_>) -> ApiResult<Vec<Location>> {
        staff(ctx).await?;
        Ok(inventory::locations(app(ctx))
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Units by batch at a location (a manager or BA sees their own store's), by SKU and then
    /// soonest expiry.
    async fn stock_levels(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
        sku_id: Option<ID>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, BatchStock>> {
        let staff = staff(ctx).await?;
        let sku = sku_id.as_ref().map(parse_id).transpose()?;
        let page = pagination::keyset(first, after.as_deref())?;
        let levels = inventory::levels(app(ctx), staff, parse_id(&location_id)?, sku, page).await?;
        Ok(pagination::connection(
            levels,
            &page,
            |b| b.batch_id,
            Into::into,
        ))
    }

    /// SKUs below their safety stock at a location, by SKU.
    async fn low_stock(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, LowStock>> {
        let staff = staff(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let rows = inventory::low_stock(app(ctx), staff, parse_id(&location_id)?, page).await?;
        Ok(pagination::connection(
            rows,
            &page,
            |r| r.sku_id,
            |r| LowStock {
                sku_id: r.sku_id.into(),
                on_hand: r.on_hand,
                safety_stock: r.safety_stock,
            },
        ))
    }

    /// Batches at a location that expire within `days`, by SKU and then soonest expiry.
    async fn near_expiry(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
        #[graphql(default = 90)] days: i32,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, BatchStock>> {
        let staff = staff(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let location = parse_id(&location_id)?;
        let rows = inventory::near_expiry(app(ctx), staff, location, i64::from(days), page).await?;
        Ok(pagination::connection(
            rows,
            &page,
            |b| b.batch_id,
            Into::into,
        ))
    }

    /// The ledger of a location, newest first.
    async fn stock_movements(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
        sku_id: Option<ID>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, StockMovement>> {
        let staff = staff(ctx).await?;
        let sku = sku_id.as_ref().map(parse_id).transpose()?;
        let page = pagination::keyset(first, after.as_deref())?;
        let rows =
            inventory::movements(app(ctx), staff, parse_id(&location_id)?, sku, page).await?;
        Ok(pagination::connection(
            rows,
            &page,
            |m| m.id,
            |m| StockMovement {
                id: m.id.into(),
                location_id: m.location_id.into(),
                batch_id: m.batch_id.into(),
                sku_id: m.sku_id.into(),
                delta: m.delta,
                kind: m.kind,
                reference: m.reference,
                staff_id: m.staff_id.map(Into::into),
                note: m.note,
                created_at: m.created_at.into(),
            },
        ))
    }
}

#[derive(InputObject)]
pub struct NewStoreInput {
    pub code: String,
    pub name: String,
    pub city: String,
    pub address: String,
    /// IANA zone; Asia/Shanghai when left out.
    pub timezone: Option<String>,
}

#[derive(InputObject)]
pub struct ReceiveStockInput {
    pub location_id: ID,
    pub sku_id: ID,
    pub lot: String,
    pub manufactured_on: Date,
    pub expires_on: Date,
    pub quantity: i64,
}

#[derive(Default)]
pub struct StaffInventoryMutation;

#[Object]
impl StaffInventoryMutation {
    /// Opens a store and its counter-stock location (HQ).
    async fn create_store(&self, ctx: &Context<'_>, input: NewStoreInput) -> ApiResult<Store> {
        let staff = staff(ctx).await?;
        let (store, _) = inventory::create_store(
            app(ctx),
            staff,
            inventory::NewStore {
                code: input.code,
                name: input.name,
                city: input.city,
                address: input.address,
                timezone: input.timezone,
            },
        )
        .await?;
        Ok(store.into())
    }

    async fn create_warehouse(
        &self,
        ctx: &Context<'_>,
        code: String,
        name: String,
    ) -> ApiResult<Location> {
        let staff = staff(ctx).await?;
        Ok(inventory::create_warehouse(app(ctx), staff, &code, &name)
            .await?
            .into())
    }

    /// Receives one lot into a location.
    async fn receive_stock(
        &self,
        ctx: &Context<'_>,
        input: ReceiveStockInput,
    ) -> ApiResult<BatchStock> {
        let staff = staff(ctx).await?;
        let receipt = inventory::Receipt {
            location_id: parse_id(&input.location_id)?,
            sku_id: parse_id(&input.sku_id)?,
            lot: input.lot,
            manufactured_on: input.manufactured_on.0,
            expires_on: input.expires_on.0,
            quantity: input.quantity,
        };
        Ok(inventory::receive(app(ctx), staff, receipt).await?.into())
    }

    /// Moves units between locations, soonest-expiring first.
    async fn transfer_stock(
        &self,
        ctx: &Context<'_>,
        from_location_id: ID,
        to_location_id: ID,
        sku_id: ID,
        quantity: i64,
    ) -> ApiResult<bool> {
        let staff = staff(ctx).await?;
        inventory::transfer(
            app(ctx),
            staff,
            parse_id(&from_location_id)?,
            parse_id(&to_location_id)?,
            parse_id(&sku_id)?,
            quantity,
        )
        .await?;
        Ok(true)
    }

    /// Corrects one batch's count (stocktake, damage) with a reason.
    async fn adjust_stock(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
        batch_id: ID,
        delta: i64,
        reason: String,
    ) -> ApiResult<BatchStock> {
        let staff = staff(ctx).await?;
        let level = inventory::adjust(
            app(ctx),
            staff,
            parse_id(&location_id)?,
            parse_id(&batch_id)?,
            delta,
            &reason,
        )
        .await?;
        Ok(level.into())
    }
}
