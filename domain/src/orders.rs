//! Consumer orders: placed in the mini-program (pick-up at a store or delivery) and paid with
//! WeChat Pay, or recorded by a BA at the counter. Placing an order reserves stock first-expiry-
//! first-out; an unpaid order closes after the payment time-out and gives the stock back; a paid
//! order earns points and moves the member's tier; a refund (whole or partial) reverses both.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{AuthError, MemberPrincipal, Permission, StaffPrincipal, StaffRole};
use crate::catalog;
use crate::error::{DomainError, ErrorCode, StoreError, is_unique_violation};
use crate::inventory::{self, InventoryError, MovementKind, MovementSpec};
use crate::loyalty::{self, LoyaltyError, PointsEvent, PointsReason};
use crate::{AppState, db, idempotency, validate};
use entities::{
    member, order, order_allocation, order_discount, order_line, points_ledger, product, sku,
};

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this order belongs to another member")]
    NotYours,
    #[error("not enough stock of SKU {0}")]
    SoldOut(i64),
    #[error("the order is {0}")]
    WrongState(String),
    #[error("the order's payment time is over")]
    PaymentExpired,
    #[error("this idempotency key was already used for a different order")]
    KeyReused,
    #[error("these products contain the member's allergens: {0}; confirm with the member first")]
    AllergensNotAcknowledged(String),
    #[error("WeChat Pay is unavailable; try again")]
    PayUnavailable(#[source] wechat_integration::WeChatError),
    #[error("WeChat Pay refused: {0}")]
    PayRefused(String),
    #[error(transparent)]
    Loyalty(#[from] LoyaltyError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Coupons(crate::coupons::CouponsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(OrdersError);

impl From<crate::coupons::CouponsError> for OrdersError {
    fn from(e: crate::coupons::CouponsError) -> Self {
        match e {
            crate::coupons::CouponsError::Orders(inner) => *inner,
            other => Self::Coupons(other),
        }
    }
}

impl DomainError for OrdersError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) | Self::AllergensNotAcknowledged(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::NotYours => ErrorCode::Forbidden,
            Self::SoldOut(_) => ErrorCode::SoldOut,
            Self::WrongState(_) | Self::KeyReused => ErrorCode::Conflict,
            Self::PaymentExpired => ErrorCode::Expired,
            Self::PayUnavailable(_) => ErrorCode::Unavailable,
            Self::PayRefused(_) => ErrorCode::Internal,
            Self::Loyalty(e) => e.code(),
            Self::Catalog(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Coupons(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

impl From<InventoryError> for OrdersError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::Insufficient { sku_id } => Self::SoldOut(sku_id),
            InventoryError::NotFound(what) => Self::NotFound(what),
            InventoryError::InvalidInput(m) => Self::InvalidInput(m),
            InventoryError::Auth(a) => Self::Auth(a),
            InventoryError::Store(s) => Self::Store(s),
            InventoryError::Taken(what) => Self::InvalidInput(format!("{what} is taken")),
        }
    }
}

fn invalid(msg: impl Into<String>) -> OrdersError {
    OrdersError::InvalidInput(msg.into())
}

macro_rules! status_enum {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const fn as_str(self) -> &'static str { match self { $(Self::$variant => $text),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($text => Some(Self::$variant),)+ _ => None } }
        }
    };
}

status_enum!(OrderStatus {
    PendingPayment = "PENDING_PAYMENT",
    Paid = "PAID",
    Closed = "CLOSED",
    PartiallyRefunded = "PARTIALLY_REFUNDED",
    Refunded = "REFUNDED",
});

status_enum!(Channel { Online = "ONLINE", InStore = "IN_STORE" });
status_enum!(FulfilmentKind { Pickup = "PICKUP", Delivery = "DELIVERY", Counter = "COUNTER" });
status_enum!(PaymentMethod { Wechat = "WECHAT", Alipay = "ALIPAY", Card = "CARD", Cash = "CASH" });
status_enum!(DiscountKind { Tier = "TIER", Coupon = "COUPON", FlashSale = "FLASH_SALE" });

/// Where an online order goes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryAddress {
    pub recipient: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub enum Fulfilment {
    Pickup { store_id: i64 },
    Delivery(DeliveryAddress),
}

#[derive(Debug, Clone, Copy)]
pub struct LineInput {
    pub sku_id: i64,
    pub quantity: i32,
}

#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub lines: Vec<LineInput>,
    pub fulfilment: Fulfilment,
}

#[derive(Debug, Clone)]
pub struct OrderLine {
    pub id: i64,
    pub sku_id: i64,
    pub product_name: String,
    pub sku_label: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub discount_fen: i64,
    pub line_total_fen: i64,
    pub refunded_quantity: i32,
}

#[derive(Debug, Clone)]
pub struct Discount {
    pub kind: DiscountKind,
    pub label: String,
    pub amount_fen: i64,
    pub reference: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: i64,
    pub order_no: String,
    pub member_id: i64,
    pub channel: Channel,
    pub fulfilment: FulfilmentKind,
    pub store_id: Option<i64>,
    pub status: OrderStatus,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub refunded_fen: i64,
    pub payment_method: Option<PaymentMethod>,
    pub ba_id: Option<i64>,
    pub pay_deadline: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
    pub discounts: Vec<Discount>,
}

/// Order settings from configuration.
#[derive(Debug, Clone)]
pub struct OrderSettings {
    /// An unpaid online order closes after this long.
    pub payment_timeout: chrono::Duration,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            payment_timeout: chrono::Duration::minutes(15),
        }
    }
}

/// A priced order, ready to be written (and its stock taken).
pub(crate) struct OrderDraft {
    pub member_id: i64,
    pub channel: Channel,
    pub fulfilment: FulfilmentKind,
    pub store_id: Option<i64>,
    pub location_id: i64,
    pub lines: Vec<DraftLine>,
    pub discounts: Vec<Discount>,
    pub ba_id: Option<i64>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub delivery_address: Option<String>,
    pub status: OrderStatus,
    pub payment_method: Option<PaymentMethod>,
    pub pay_deadline: Option<DateTime<Utc>>,
}

pub(crate) struct DraftLine {
    pub sku_id: i64,
    pub product_name: String,
    pub sku_label: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
}

pub fn new_order_no(now: DateTime<Utc>) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    let tail: String = (0..10)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("R{}{tail}", now.format("%y%m%d"))
}

/// Spreads order-level discounts over the lines in proportion to their value (the last line
/// takes the rounding), so a partial refund returns what the units were really sold for.
fn allocate_discount(subtotals: &[i64], discount: i64) -> Vec<i64> {
    let total: i64 = subtotals.iter().sum();
    if total == 0 || discount == 0 {
        return vec![0; subtotals.len()];
    }
    let mut shares: Vec<i64> = subtotals
        .iter()
        .map(|s| {
            i64::try_from(i128::from(*s) * i128::from(discount) / i128::from(total)).unwrap_or(0)
        })
        .collect();
    let given: i64 = shares.iter().sum();
    if let Some(last) = shares.last_mut() {
        *last += discount - given;
    }
    shares
}

/// Writes the order, its lines, discounts and allocations, taking the stock. Any shortage
/// fails the whole transaction.
pub(crate) async fn insert_order(
    txn: &DatabaseTransaction,
    draft: OrderDraft,
    movement: MovementKind,
    staff_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<order::Model, OrdersError> {
    let subtotals: Vec<i64> = draft
        .lines
        .iter()
        .map(|l| l.unit_price_fen * i64::from(l.quantity))
        .collect();
    let subtotal: i64 = subtotals.iter().sum();
    let discount: i64 = draft.discounts.iter().map(|d| d.amount_fen).sum::<i64>();
    let discount = std::cmp::min(discount, subtotal);
    let order_no = new_order_no(now);
    let row = order::ActiveModel {
        order_no: Set(order_no.clone()),
        member_id: Set(draft.member_id),
        channel: Set(draft.channel.as_str().to_owned()),
        fulfilment: Set(draft.fulfilment.as_str().to_owned()),
        store_id: Set(draft.store_id),
        location_id: Set(draft.location_id),
        status: Set(draft.status.as_str().to_owned()),
        subtotal_fen: Set(subtotal),
        discount_fen: Set(discount),
        total_fen: Set(subtotal - discount),
        refunded_fen: Set(0),
        payment_method: Set(draft.payment_method.map(|m| m.as_str().to_owned())),
        transaction_id: Set(None),
        ba_id: Set(draft.ba_id),
        idempotency_key: Set(draft.idempotency_key),
        request_hash: Set(draft.request_hash),
        delivery_address: Set(draft.delivery_address),
        pay_deadline: Set(draft.pay_deadline),
        paid_at: Set((draft.status == OrderStatus::Paid).then_some(now)),
        closed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let shares = allocate_discount(&subtotals, discount);
    for ((line, subtotal), share) in draft.lines.into_iter().zip(subtotals).zip(shares) {
        let line_row = order_line::ActiveModel {
            order_id: Set(row.id),
            sku_id: Set(line.sku_id),
            product_name: Set(line.product_name),
            sku_label: Set(line.sku_label),
            quantity: Set(line.quantity),
            unit_price_fen: Set(line.unit_price_fen),
            discount_fen: Set(share),
            line_total_fen: Set(subtotal - share),
            refunded_quantity: Set(0),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let taken = inventory::take_fefo(
            txn,
            inventory::Withdrawal {
                location_id: draft.location_id,
                sku_id: line.sku_id,
                quantity: i64::from(line.quantity),
                kind: movement,
                reference: Some(&order_no),
                staff_id,
                at: now,
            },
        )
        .await?;
        for (batch_id, units) in taken {
            order_allocation::ActiveModel {
                order_id: Set(row.id),
                order_line_id: Set(line_row.id),
                location_id: Set(draft.location_id),
                batch_id: Set(batch_id),
                quantity: Set(i32::try_from(units).unwrap_or(i32::MAX)),
                ..Default::default()
            }
            .insert(txn)
            .await?;
        }
    }
    for d in draft.discounts {
        order_discount::ActiveModel {
            order_id: Set(row.id),
            kind: Set(d.kind.as_str().to_owned()),
            label: Set(d.label),
            amount_fen: Set(d.amount_fen),
            reference: Set(d.reference),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(row)
}

/// Checks the lines of an order: 1 to 20 SKUs, 1 to 99 units each; the same SKU twice is merged.
pub(crate) fn merge_lines(lines: &[LineInput]) -> Result<Vec<LineInput>, OrdersError> {
    if lines.is_empty() || lines.len() > 20 {
        return Err(invalid("an order has 1 to 20 lines"));
    }
    let mut merged: BTreeMap<i64, i32> = BTreeMap::new();
    for line in lines {
        if !(1..=99).contains(&line.quantity) {
            return Err(invalid("a quantity is between 1 and 99"));
        }
        *merged.entry(line.sku_id).or_default() += line.quantity;
    }
    if merged.values().any(|q| *q > 99) {
        return Err(invalid("at most 99 units of one SKU"));
    }
    Ok(merged
        .into_iter()
        .map(|(sku_id, quantity)| LineInput { sku_id, quantity })
        .collect())
}

/// The SKUs (active, with their product names) behind order lines, at list price.
pub(crate) async fn price_lines<C: ConnectionTrait>(
    db: &C,
    lines: &[LineInput],
) -> Result<Vec<DraftLine>, OrdersError> {
    let ids: Vec<i64> = lines.iter().map(|l| l.sku_id).collect();
    let skus: HashMap<i64, sku::Model> = sku::Entity::find()
        .filter(sku::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let product_ids: Vec<i64> = skus.values().map(|s| s.product_id).collect();
    let products: HashMap<i64, product::Model> = product::Entity::find()
        .filter(product::Column::Id.is_in(product_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    lines
        .iter()
        .map(|line| {
            let sku = skus
                .get(&line.sku_id)
                .filter(|s| s.active)
                .ok_or(OrdersError::NotFound("SKU"))?;
            let product = products
                .get(&sku.product_id)
                .filter(|p| p.active)
                .ok_or(OrdersError::NotFound("product"))?;
            Ok(DraftLine {
                sku_id: sku.id,
                product_name: product.name.clone(),
                sku_label: catalog::Sku::from(sku.clone()).label(),
                quantity: line.quantity,
                unit_price_fen: sku.price_fen,
            })
        })
        .collect()
}

/// The member price: the tier's discount on the whole order, as a discount line.
pub(crate) async fn tier_discount<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    subtotal: i64,
) -> Result<Vec<Discount>, OrdersError> {
    let Some(tier) = loyalty::member_tier(db, member_id).await? else {
        return Ok(vec![]);
    };
    let amount = subtotal * i64::from(tier.discount_pct) / 100;
    Ok(if amount > 0 {
        vec![Discount {
            kind: DiscountKind::Tier,
            label: format!("{} {}% 会员价", tier.name, tier.discount_pct),
            amount_fen: amount,
            reference: Some(tier.code),
        }]
    } else {
        vec![]
    })
}

fn check_address(a: &DeliveryAddress) -> Result<(), OrdersError> {
    use crate::validate::{FieldKind, field, field_opt};
    let fields = [
        (
            FieldKind::Name,
            "delivery.recipient",
            a.recipient.as_str(),
            32,
        ),
        (FieldKind::Phone, "delivery.phone", a.phone.as_str(), 20),
        (
            FieldKind::Region,
            "delivery.province",
            a.province.as_str(),
            32,
        ),
        (FieldKind::Region, "delivery.city", a.city.as_str(), 32),
        (
            FieldKind::AddressLine,
            "delivery.detail",
            a.detail.as_str(),
            128,
        ),
    ];
    for (kind, name, value, max) in fields {
        field(kind, name, value, Some(max)).map_err(invalid)?;
    }
    field_opt(
        FieldKind::District,
        "delivery.district",
        a.district.as_deref(),
    )
    .map_err(invalid)?;
    crate::members::normalise_phone(&a.phone)
        .map_err(|_| invalid("delivery phone is not a phone number"))?;
    Ok(())
}

fn request_hash(parts: &impl Serialize) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(parts).unwrap_or_default(),
    ))
}

/// A member places an online order. The same idempotency key returns the first order; the
/// same key for a different order is a conflict.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn place_order(
    app: &AppState,
    me: &MemberPrincipal,
    input: PlaceOrder,
    idempotency_key: &str,
) -> Result<Order, OrdersError> {
    place_order_with_coupons(app, me, input, &[], idempotency_key).await
}

/// [`place_order`] with the member's coupons: one discount line each, used in the order's
/// transaction (see `coupons`).
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn place_order_with_coupons(
    app: &AppState,
    me: &MemberPrincipal,
    input: PlaceOrder,
    coupon_ids: &[i64],
    idempotency_key: &str,
) -> Result<Order, OrdersError> {
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    let lines = merge_lines(&input.lines)?;
    if let Fulfilment::Delivery(address) = &input.fulfilment {
        check_address(address)?;
    }
    let key = format!("{}:{idempotency_key}", me.member_id);
    let fingerprint = request_hash(&(
        lines
            .iter()
            .map(|l| (l.sku_id, l.quantity))
            .collect::<Vec<_>>(),
        match &input.fulfilment {
            Fulfilment::Pickup { store_id } => serde_json::json!({ "pickup": store_id }),
            Fulfilment::Delivery(a) => serde_json::json!({ "delivery": a }),
        },
    ));
    let fingerprint = if coupon_ids.is_empty() {
        fingerprint
    } else {
        request_hash(&(fingerprint, coupon_ids))
    };
    idempotency::same_answer(
        || recorded(app, &key, &fingerprint),
        || place_new(app, me, &input, &lines, coupon_ids, &key, &fingerprint),
    )
    .await
}

async fn place_new(
    app: &AppState,
    me: &MemberPrincipal,
    input: &PlaceOrder,
    lines: &[LineInput],
    coupon_ids: &[i64],
    key: &str,
    fingerprint: &str,
) -> Result<Order, OrdersError> {
    let (location, store_id, kind, address) = match &input.fulfilment {
        Fulfilment::Pickup { store_id } => (
            inventory::store_location(&app.db, *store_id).await?,
            Some(*store_id),
            FulfilmentKind::Pickup,
            None,
        ),
        Fulfilment::Delivery(a) => (
            inventory::delivery_warehouse(&app.db).await?,
            None,
            FulfilmentKind::Delivery,
            Some(
                app.pii
                    .encrypt(&serde_json::to_string(a).unwrap_or_default()),
            ),
        ),
    };
    let draft_lines = price_lines(&app.db, lines).await?;
    let subtotal: i64 = draft_lines
        .iter()
        .map(|l| l.unit_price_fen * i64::from(l.quantity))
        .sum();
    let mut discounts = tier_discount(&app.db, me.member_id, subtotal).await?;
    let coupons_used = coupon_discounts(
        app,
        me.member_id,
        coupon_ids,
        &draft_lines,
        Channel::Online,
        store_id,
        &discounts,
    )
    .await?;
    discounts.extend(coupons_used.iter().map(|(_, d)| d.clone()));
    let exclusive_ba: Option<Option<i64>> = member::Entity::find_by_id(me.member_id)
        .select_only()
        .column(member::Column::ExclusiveBaId)
        .into_tuple()
        .one(&app.db)
        .await?;
    let now = app.clock.now();
    let draft = OrderDraft {
        member_id: me.member_id,
        channel: Channel::Online,
        fulfilment: kind,
        store_id,
        location_id: location.id,
        lines: draft_lines,
        discounts,
        ba_id: exclusive_ba.flatten(),
        idempotency_key: Some(key.to_owned()),
        request_hash: Some(fingerprint.to_owned()),
        delivery_address: address,
        status: OrderStatus::PendingPayment,
        payment_method: None,
        pay_deadline: Some(now + app.settings.orders.payment_timeout),
    };
    let txn = db::begin_write(&app.db).await?;
    let row = match insert_order(&txn, draft, MovementKind::OrderReserve, None, now).await {
        Ok(row) => {
            crate::coupons::mark_used(
                &txn,
                me.member_id,
                &coupons_used,
                Some(row.id),
                store_id,
                None,
                now,
            )
            .await?;
            row
        }
        // The same key raced in from a retry: the order that won is the answer (see above).
        Err(OrdersError::Store(StoreError::Db(e))) if is_unique_violation(&e) => {
            return Err(OrdersError::KeyReused);
        }
        Err(e) => return Err(e),
    };
    txn.commit().await?;
    load(app, row).await
}

/// Discount lines for the coupons of an order being placed (checked: the member's, valid,
/// in scope, above threshold, stacking).
async fn coupon_discounts(
    app: &AppState,
    member_id: i64,
    coupon_ids: &[i64],
    lines: &[DraftLine],
    channel: Channel,
    store_id: Option<i64>,
    before: &[Discount],
) -> Result<Vec<(i64, Discount)>, OrdersError> {
    if coupon_ids.is_empty() {
        return Ok(vec![]);
    }
    let scoped = crate::coupons::scoped_lines(&app.db, lines).await?;
    let basket = crate::coupons::Basket {
        channel,
        store_id,
        lines: &scoped,
        discounted_fen: before.iter().map(|d| d.amount_fen).sum(),
        has_flash_sale: before.iter().any(|d| d.kind == DiscountKind::FlashSale),
    };
    Ok(crate::coupons::discounts_for_order(
        &app.db,
        member_id,
        coupon_ids,
        &basket,
        app.clock.now(),
    )
    .await?)
}

async fn by_key(app: &AppState, key: &str) -> Result<Option<order::Model>, OrdersError> {
    Ok(order::Entity::find()
        .filter(order::Column::IdempotencyKey.eq(key))
        .one(&app.db)
        .await?)
}

/// The order placed under this key, when the request is the same; a conflict when it is not.
async fn recorded(
    app: &AppState,
    key: &str,
    fingerprint: &str,
) -> Result<Option<Order>, OrdersError> {
    let Some(existing) = by_key(app, key).await? else {
        return Ok(None);
    };
    if existing.request_hash.as_deref() != Some(fingerprint) {
        return Err(OrdersError::KeyReused);
    }
    load(app, existing).await.map(Some)
}

/// An order with its lines and discounts.
pub(crate) async fn load(app: &AppState, row: order::Model) -> Result<Order, OrdersError> {
    let mut orders = load_many(app, vec![row]).await?;
    orders.pop().ok_or(OrdersError::NotFound("order"))
}

async fn load_many(app: &AppState, rows: Vec<order::Model>) -> Result<Vec<Order>, OrdersError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut lines: HashMap<i64, Vec<OrderLine>> = HashMap::new();
    for l in order_line::Entity::find()
        .filter(order_line::Column::OrderId.is_in(ids.clone()))
        .order_by_asc(order_line::Column::Id)
        .all(&app.db)
        .await?
    {
        lines.entry(l.order_id).or_default().push(OrderLine {
            id: l.id,
            sku_id: l.sku_id,
            product_name: l.product_name,
            sku_label: l.sku_label,
            quantity: l.quantity,
            unit_price_fen: l.unit_price_fen,
            discount_fen: l.discount_fen,
            line_total_fen: l.line_total_fen,
            refunded_quantity: l.refunded_quantity,
        });
    }
    let mut discounts: HashMap<i64, Vec<Discount>> = HashMap::new();
    for d in order_discount::Entity::find()
        .filter(order_discount::Column::OrderId.is_in(ids))
        .order_by_asc(order_discount::Column::Id)
        .all(&app.db)
        .await?
    {
        discounts.entry(d.order_id).or_default().push(Discount {
            kind: DiscountKind::parse(&d.kind).unwrap_or(DiscountKind::Coupon),
            label: d.label,
            amount_fen: d.amount_fen,
            reference: d.reference,
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| Order {
            id: r.id,
            lines: lines.remove(&r.id).unwrap_or_default(),
            discounts: discounts.remove(&r.id).unwrap_or_default(),
            order_no: r.order_no,
            member_id: r.member_id,
            channel: Channel::parse(&r.channel).unwrap_or(Channel::Online),
            fulfilment: FulfilmentKind::parse(&r.fulfilment).unwrap_or(FulfilmentKind::Pickup),
            store_id: r.store_id,
            status: OrderStatus::parse(&r.status).unwrap_or(OrderStatus::Closed),
            subtotal_fen: r.subtotal_fen,
            discount_fen: r.discount_fen,
            total_fen: r.total_fen,
            refunded_fen: r.refunded_fen,
            payment_method: r.payment_method.as_deref().and_then(PaymentMethod::parse),
            ba_id: r.ba_id,
            pay_deadline: r.pay_deadline,
            paid_at: r.paid_at,
            created_at: r.created_at,
        })
        .collect())
}

pub(crate) async fn row(app: &AppState, id: i64) -> Result<order::Model, OrdersError> {
    order::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(OrdersError::NotFound("order"))
}

/// One of the member's own orders.
pub async fn my_order(app: &AppState, me: &MemberPrincipal, id: i64) -> Result<Order, OrdersError> {
    let row = row(app, id).await?;
    if row.member_id != me.member_id {
        return Err(OrdersError::NotYours);
    }
    load(app, row).await
}

/// The member's orders, newest first; `before` is the id the previous page ended at.
pub async fn my_orders(
    app: &AppState,
    me: &MemberPrincipal,
    first: u64,
    before: Option<i64>,
) -> Result<(Vec<Order>, bool), OrdersError> {
    if !(1..=50).contains(&first) {
        return Err(invalid("first must be between 1 and 50"));
    }
    let mut query = order::Entity::find()
        .filter(order::Column::MemberId.eq(me.member_id))
        .order_by_desc(order::Column::Id)
        .limit(first + 1);
    if let Some(before) = before {
        query = query.filter(order::Column::Id.lt(before));
    }
    let mut rows = query.all(&app.db).await?;
    let more = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    Ok((load_many(app, rows).await?, more))
}

/// Orders staff may see: HQ all, others their store's.
pub async fn staff_order(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<Order, OrdersError> {
    staff.require(Permission::RecordSale)?;
    let row = row(app, id).await?;
    if staff.role != StaffRole::Hq && row.store_id != staff.store_id {
        return Err(AuthError::Forbidden.into());
    }
    load(app, row).await
}

/// What a BA sees before saving a counter sale: the price and any allergen warnings.
#[derive(Debug, Clone)]
pub struct SalePreview {
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    /// (product name, the member's allergens it contains)
    pub allergen_warnings: Vec<(String, Vec<String>)>,
}

async fn sale_preview(
    app: &AppState,
    member_id: i64,
    lines: &[LineInput],
) -> Result<(Vec<DraftLine>, Vec<Discount>, SalePreview), OrdersError> {
    let draft_lines = price_lines(&app.db, lines).await?;
    let subtotal: i64 = draft_lines
        .iter()
        .map(|l| l.unit_price_fen * i64::from(l.quantity))
        .sum();
    let discounts = tier_discount(&app.db, member_id, subtotal).await?;
    let discount: i64 = discounts.iter().map(|d| d.amount_fen).sum();
    let skus = catalog::skus(app, &lines.iter().map(|l| l.sku_id).collect::<Vec<_>>()).await?;
    let product_ids: Vec<i64> = skus.values().map(|s| s.product_id).collect();
    let warnings = catalog::allergens_for_member(app, member_id, &product_ids).await?;
    let mut allergen_warnings: Vec<(String, Vec<String>)> = Vec::new();
    for line in &draft_lines {
        let product_id = skus.get(&line.sku_id).map(|s| s.product_id);
        if let Some(found) = product_id.and_then(|p| warnings.get(&p))
            && !allergen_warnings
                .iter()
                .any(|(name, _)| *name == line.product_name)
        {
            allergen_warnings.push((line.product_name.clone(), found.clone()));
        }
    }
    let preview = SalePreview {
        subtotal_fen: subtotal,
        discount_fen: discount,
        total_fen: subtotal - discount,
        allergen_warnings,
    };
    Ok((draft_lines, discounts, preview))
}

async fn check_member(app: &AppState, member_id: i64) -> Result<(), OrdersError> {
    member::Entity::find_by_id(member_id)
        .one(&app.db)
        .await?
        .ok_or(OrdersError::NotFound("member"))?;
    Ok(())
}

pub async fn preview_in_store_sale(
    app: &AppState,
    staff: &StaffPrincipal,
    member_id: i64,
    lines: &[LineInput],
) -> Result<SalePreview, OrdersError> {
    staff.require(Permission::RecordSale)?;
    let lines = merge_lines(lines)?;
    check_member(app, member_id).await?;
    Ok(sale_preview(app, member_id, &lines).await?.2)
}

/// A BA records a sale at the counter, paid on the spot. When a product contains one of the
/// member's allergens, the BA must have shown the warning (`acknowledge_allergens`) first.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id))]
pub async fn record_in_store_sale(
    app: &AppState,
    staff: &StaffPrincipal,
    member_id: i64,
    lines: &[LineInput],
    payment_method: PaymentMethod,
    acknowledge_allergens: bool,
    idempotency_key: &str,
) -> Result<Order, OrdersError> {
    record_in_store_sale_with_coupons(
        app,
        staff,
        member_id,
        lines,
        payment_method,
        acknowledge_allergens,
        &[],
        idempotency_key,
    )
    .await
}

/// [`record_in_store_sale`] with the coupon QR codes the member showed: one discount line
/// each, the coupons used in the sale's transaction.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id))]
pub async fn record_in_store_sale_with_coupons(
    app: &AppState,
    staff: &StaffPrincipal,
    member_id: i64,
    lines: &[LineInput],
    payment_method: PaymentMethod,
    acknowledge_allergens: bool,
    coupon_codes: &[String],
    idempotency_key: &str,
) -> Result<Order, OrdersError> {
    staff.require(Permission::RecordSale)?;
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    let lines = merge_lines(lines)?;
    let store_id = staff
        .store_id
        .ok_or_else(|| invalid("only staff of a store record counter sales"))?;
    check_member(app, member_id).await?;
    let key = format!("sale:{}:{idempotency_key}", staff.staff_id);
    let fingerprint = request_hash(&(
        member_id,
        lines
            .iter()
            .map(|l| (l.sku_id, l.quantity))
            .collect::<Vec<_>>(),
        payment_method.as_str(),
    ));
    let coupon_ids = crate::coupons::coupon_ids_of_codes(app, member_id, coupon_codes).await?;
    let fingerprint = if coupon_ids.is_empty() {
        fingerprint
    } else {
        request_hash(&(fingerprint, &coupon_ids))
    };
    let sale = Sale {
        member_id,
        store_id,
        lines: &lines,
        payment_method,
        acknowledge_allergens,
        coupon_ids: &coupon_ids,
    };
    idempotency::same_answer(
        || recorded(app, &key, &fingerprint),
        || record_new(app, staff, sale, &key, &fingerprint),
    )
    .await
}

/// A counter sale being recorded, checked and priced by [`record_new`].
#[derive(Clone, Copy)]
struct Sale<'a> {
    member_id: i64,
    store_id: i64,
    lines: &'a [LineInput],
    payment_method: PaymentMethod,
    acknowledge_allergens: bool,
    coupon_ids: &'a [i64],
}

async fn record_new(
    app: &AppState,
    staff: &StaffPrincipal,
    sale: Sale<'_>,
    key: &str,
    fingerprint: &str,
) -> Result<Order, OrdersError> {
    let Sale {
        member_id,
        store_id,
        lines,
        payment_method,
        acknowledge_allergens,
        coupon_ids,
    } = sale;
    let (draft_lines, mut discounts, preview) = sale_preview(app, member_id, lines).await?;
    let coupons_used = coupon_discounts(
        app,
        member_id,
        coupon_ids,
        &draft_lines,
        Channel::InStore,
        Some(store_id),
        &discounts,
    )
    .await?;
    discounts.extend(coupons_used.iter().map(|(_, d)| d.clone()));
    if !preview.allergen_warnings.is_empty() && !acknowledge_allergens {
        let listed: Vec<String> = preview
            .allergen_warnings
            .iter()
            .map(|(name, allergens)| format!("{name} ({})", allergens.join(", ")))
            .collect();
        return Err(OrdersError::AllergensNotAcknowledged(listed.join("; ")));
    }
    let location = inventory::store_location(&app.db, store_id).await?;
    let now = app.clock.now();
    let draft = OrderDraft {
        member_id,
        channel: Channel::InStore,
        fulfilment: FulfilmentKind::Counter,
        store_id: Some(store_id),
        location_id: location.id,
        lines: draft_lines,
        discounts,
        ba_id: Some(staff.staff_id),
        idempotency_key: Some(key.to_owned()),
        request_hash: Some(fingerprint.to_owned()),
        delivery_address: None,
        status: OrderStatus::Paid,
        payment_method: Some(payment_method),
        pay_deadline: None,
    };
    let txn = db::begin_write(&app.db).await?;
    let row = insert_order(
        &txn,
        draft,
        MovementKind::InStoreSale,
        Some(staff.staff_id),
        now,
    )
    .await?;
    crate::coupons::mark_used(
        &txn,
        member_id,
        &coupons_used,
        Some(row.id),
        Some(store_id),
        Some(staff.staff_id),
        now,
    )
    .await?;
    reward_payment(&txn, app, &row, now).await?;
    txn.commit().await?;
    load(app, row).await
}

/// Points and tier for a paid order. Keyed by the order, so it can only happen once.
pub(crate) async fn reward_payment(
    txn: &DatabaseTransaction,
    app: &AppState,
    order: &order::Model,
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    let multiplier = loyalty::member_tier(txn, order.member_id)
        .await?
        .map_or(100, |t| t.points_multiplier_pct);
    let points = loyalty::points_for(order.total_fen, multiplier);
    let earned = loyalty::earn(
        txn,
        &PointsEvent {
            member_id: order.member_id,
            points,
            reason: PointsReason::OrderPaid,
            reference: &order.order_no,
            idempotency_key: &format!("order-paid:{}", order.order_no),
            at: now,
        },
        Some(now + app.settings.loyalty.points_validity),
    )
    .await?;
    if earned || points == 0 {
        loyalty::add_spend(txn, order.member_id, order.total_fen).await?;
    }
    Ok(())
}

/// What a WeChat payment did to our order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PaymentMatch {
    /// The order was awaiting payment and is now paid.
    Paid,
    /// Already paid by this transaction (another notification, or the overdue check, came first).
    AlreadyPaid,
    /// No order has this number.
    UnknownOrder,
    /// The amount paid is not the order's total: nothing changed.
    AmountMismatch { expected_fen: i64 },
    /// The order is no longer awaiting payment (closed, refunded, or paid by another
    /// transaction): nothing changed, the money must go back.
    NotAwaitingPayment { status: String },
}

/// Marks an online order paid, once, however many times WeChat tells us, and only while it is
/// awaiting payment: a late payment never reopens a closed or refunded order.
pub(crate) async fn mark_paid(
    app: &AppState,
    order_no: &str,
    transaction_id: &str,
    amount_fen: i64,
) -> Result<PaymentMatch, OrdersError> {
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let Some(row) = order::Entity::find()
        .filter(order::Column::OrderNo.eq(order_no))
        .one(&txn)
        .await?
    else {
        return Ok(PaymentMatch::UnknownOrder);
    };
    if row.total_fen != amount_fen {
        tracing::error!(
            order_no,
            expected = row.total_fen,
            paid = amount_fen,
            "paid amount differs from the order total"
        );
        return Ok(PaymentMatch::AmountMismatch {
            expected_fen: row.total_fen,
        });
    }
    let updated = order::Entity::update_many()
        .col_expr(
            order::Column::Status,
            Expr::value(OrderStatus::Paid.as_str()),
        )
        .col_expr(
            order::Column::PaymentMethod,
            Expr::value(PaymentMethod::Wechat.as_str()),
        )
        .col_expr(order::Column::TransactionId, Expr::value(transaction_id))
        .col_expr(order::Column::PaidAt, Expr::value(now))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(row.id))
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment.as_str()))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        // Read again: the row read above may predate a concurrent payment or close.
        let current = order::Entity::find_by_id(row.id)
            .one(&txn)
            .await?
            .ok_or(OrdersError::NotFound("order"))?;
        if current.transaction_id.as_deref() == Some(transaction_id) {
            return Ok(PaymentMatch::AlreadyPaid);
        }
        // Paid at WeChat although we closed it (or paid twice): the money must go back.
        tracing::error!(order_no, status = %current.status, "payment for an order that is not awaiting payment");
        return Ok(PaymentMatch::NotAwaitingPayment {
            status: current.status,
        });
    }
    reward_payment(&txn, app, &row, now).await?;
    txn.commit().await?;
    Ok(PaymentMatch::Paid)
}

/// Closes one unpaid order and gives its stock back. False when it was no longer unpaid.
pub(crate) async fn close_unpaid(app: &AppState, order_id: i64) -> Result<bool, OrdersError> {
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let updated = order::Entity::update_many()
        .col_expr(
            order::Column::Status,
            Expr::value(OrderStatus::Closed.as_str()),
        )
        .col_expr(order::Column::ClosedAt, Expr::value(now))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(order_id))
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment.as_str()))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(false);
    }
    crate::coupons::release_for_order(&txn, order_id, now).await?;
    let row = order::Entity::find_by_id(order_id)
        .one(&txn)
        .await?
        .ok_or(OrdersError::NotFound("order"))?;
    let allocations = order_allocation::Entity::find()
        .filter(order_allocation::Column::OrderId.eq(order_id))
        .all(&txn)
        .await?;
    let skus: HashMap<i64, i64> = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|l| (l.id, l.sku_id))
        .collect();
    for a in allocations {
        inventory::apply_movement(
            &txn,
            MovementSpec {
                location_id: a.location_id,
                batch_id: a.batch_id,
                sku_id: skus.get(&a.order_line_id).copied().unwrap_or_default(),
                delta: i64::from(a.quantity),
                kind: MovementKind::OrderRelease,
                reference: Some(&row.order_no),
                staff_id: None,
                note: None,
                at: now,
            },
        )
        .await?;
    }
    let released = crate::flash_sales::release_closed_order(&txn, order_id, now).await?;
    txn.commit().await?;
    if let Some(released) = released {
        crate::flash_sales::give_back(app, released).await;
    }
    Ok(true)
}

/// Unpaid orders past their deadline, oldest first.
pub(crate) async fn overdue(app: &AppState, limit: u64) -> Result<Vec<order::Model>, OrdersError> {
    Ok(order::Entity::find()
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment.as_str()))
        .filter(order::Column::PayDeadline.lt(app.clock.now()))
        .order_by_asc(order::Column::PayDeadline)
        .limit(limit)
        .all(&app.db)
        .await?)
}

/// Units of each line to refund.
#[derive(Debug, Clone, Copy)]
pub struct RefundLine {
    pub line_id: i64,
    pub quantity: i32,
}

/// What `quantity` more units of a line are worth, given `before` already refunded: the exact
/// share of the line total, so refunding every unit returns exactly the line total.
fn line_refund_amount(line_total: i64, quantity: i32, before: i32, more: i32) -> i64 {
    let q = i128::from(quantity);
    let upto = |n: i32| i128::from(line_total) * i128::from(n) / q;
    i64::try_from(upto(before + more) - upto(before)).unwrap_or(0)
}

/// Reserves the units of a refund on the order's lines (so two refunds can never return the
/// same unit) and returns the amount.
pub(crate) async fn claim_refund_units<C: ConnectionTrait>(
    db: &C,
    order_id: i64,
    lines: Option<&[RefundLine]>,
) -> Result<(i64, Vec<RefundLine>), OrdersError> {
    let order_lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .order_by_asc(order_line::Column::Id)
        .all(db)
        .await?;
    let wanted: Vec<RefundLine> = match lines {
        Some(lines) => {
            if lines.is_empty() {
                return Err(invalid("name at least one line to refund"));
            }
            lines.to_vec()
        }
        None => order_lines
            .iter()
            .filter(|l| l.refunded_quantity < l.quantity)
            .map(|l| RefundLine {
                line_id: l.id,
                quantity: l.quantity - l.refunded_quantity,
            })
            .collect(),
    };
    if wanted.is_empty() {
        return Err(OrdersError::WrongState("already fully refunded".into()));
    }
    let mut amount = 0;
    for want in &wanted {
        let line = order_lines
            .iter()
            .find(|l| l.id == want.line_id)
            .ok_or_else(|| invalid("a refund line is not on this order"))?;
        if want.quantity < 1 {
            return Err(invalid("refund at least one unit"));
        }
        let updated = order_line::Entity::update_many()
            .col_expr(
                order_line::Column::RefundedQuantity,
                Expr::col(order_line::Column::RefundedQuantity).add(want.quantity),
            )
            .filter(order_line::Column::Id.eq(line.id))
            .filter(order_line::Column::RefundedQuantity.eq(line.refunded_quantity))
            .filter(order_line::Column::Quantity.gte(line.refunded_quantity + want.quantity))
            .exec(db)
            .await?;
        if updated.rows_affected != 1 {
            return Err(invalid("more units than are left to refund on a line"));
        }
        amount += line_refund_amount(
            line.line_total_fen,
            line.quantity,
            line.refunded_quantity,
            want.quantity,
        );
    }
    Ok((amount, wanted))
}

/// Gives back units claimed for a refund that failed.
pub(crate) async fn release_refund_units<C: ConnectionTrait>(
    db: &C,
    lines: &[RefundLine],
) -> Result<(), OrdersError> {
    for l in lines {
        order_line::Entity::update_many()
            .col_expr(
                order_line::Column::RefundedQuantity,
                Expr::col(order_line::Column::RefundedQuantity).sub(l.quantity),
            )
            .filter(order_line::Column::Id.eq(l.line_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The effects of a completed refund on the order, stock, points and tier.
pub(crate) async fn apply_refund(
    txn: &DatabaseTransaction,
    order: &order::Model,
    refund_no: &str,
    amount_fen: i64,
    lines: &[RefundLine],
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    let refunded = order.refunded_fen + amount_fen;
    let status = if refunded >= order.total_fen {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    };
    order::Entity::update_many()
        .col_expr(
            order::Column::RefundedFen,
            Expr::col(order::Column::RefundedFen).add(amount_fen),
        )
        .col_expr(order::Column::Status, Expr::value(status.as_str()))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(order.id))
        .exec(txn)
        .await?;
    if status == OrderStatus::Refunded {
        crate::coupons::release_for_order(txn, order.id, now).await?;
    }
    // Returned goods go back to the batches they came from.
    let allocations = order_allocation::Entity::find()
        .filter(order_allocation::Column::OrderId.eq(order.id))
        .order_by_asc(order_allocation::Column::Id)
        .all(txn)
        .await?;
    let line_skus: HashMap<i64, i64> = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| (l.id, l.sku_id))
        .collect();
    for l in lines {
        let mut left = i64::from(l.quantity);
        for a in allocations.iter().filter(|a| a.order_line_id == l.line_id) {
            if left == 0 {
                break;
            }
            let units = std::cmp::min(left, i64::from(a.quantity));
            inventory::apply_movement(
                txn,
                MovementSpec {
                    location_id: a.location_id,
                    batch_id: a.batch_id,
                    sku_id: line_skus.get(&l.line_id).copied().unwrap_or_default(),
                    delta: units,
                    kind: MovementKind::Return,
                    reference: Some(refund_no),
                    staff_id: None,
                    note: None,
                    at: now,
                },
            )
            .await?;
            left -= units;
        }
    }
    // Points earned on the refunded share come back out; the tier follows the spend.
    let earned: Option<i64> = points_ledger::Entity::find()
        .select_only()
        .column(points_ledger::Column::Delta)
        .filter(points_ledger::Column::IdempotencyKey.eq(format!("order-paid:{}", order.order_no)))
        .into_tuple()
        .one(txn)
        .await?;
    if let Some(earned) = earned.filter(|e| *e > 0 && order.total_fen > 0) {
        let back = i64::try_from(
            i128::from(earned) * i128::from(amount_fen) / i128::from(order.total_fen),
        )
        .unwrap_or(0);
        loyalty::deduct(
            txn,
            &PointsEvent {
                member_id: order.member_id,
                points: back,
                reason: PointsReason::OrderRefunded,
                reference: refund_no,
                idempotency_key: &format!("refund:{refund_no}"),
                at: now,
            },
            true,
        )
        .await?;
    }
    loyalty::add_spend(txn, order.member_id, -amount_fen).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discounts_spread_in_proportion_and_add_up() {
        assert_eq!(
            allocate_discount(&[10_000, 30_000], 4_000),
            vec![1_000, 3_000]
        );
        let shares = allocate_discount(&[333, 333, 334], 100);
        assert_eq!(shares.iter().sum::<i64>(), 100);
        assert_eq!(allocate_discount(&[100], 0), vec![0]);
    }

    #[test]
    fn refunding_every_unit_returns_the_line_total_exactly() {
        let total = 10_001;
        let parts: i64 = (0..3).map(|i| line_refund_amount(total, 3, i, 1)).sum();
        assert_eq!(parts, total);
        assert_eq!(line_refund_amount(total, 3, 0, 3), total);
    }

    #[test]
    fn line_merging_refuses_bad_quantities() {
        let l = |sku_id, quantity| LineInput { sku_id, quantity };
        assert_eq!(merge_lines(&[l(1, 2), l(1, 3), l(2, 1)]).unwrap().len(), 2);
        assert!(merge_lines(&[]).is_err());
        assert!(merge_lines(&[l(1, 0)]).is_err());
        assert!(merge_lines(&[l(1, -1)]).is_err());
        assert!(merge_lines(&[l(1, 60), l(1, 60)]).is_err());
    }
}
