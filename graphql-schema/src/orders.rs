//! Orders: members place them in the mini-program; BAs record counter sales. Paying and
//! refunding them is `payments`.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::orders;

use crate::context::{app, member, staff};
use crate::error::{ApiError, ApiResult, parse_id};
use crate::pagination;
use crate::scalars::DateTime;

// The order enums are the entities' own (see `entities::typed`); coupons take `Channel` from
// here.
pub use domain::orders::{Channel, DiscountKind, FulfilmentKind, OrderStatus, PaymentMethod};

#[derive(SimpleObject)]
pub struct OrderLine {
    pub id: ID,
    pub sku_id: ID,
    pub product_name: String,
    pub sku_label: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
    /// This line's share of the order's discounts.
    pub discount_fen: i64,
    pub line_total_fen: i64,
    pub refunded_quantity: i32,
}

#[derive(SimpleObject)]
pub struct DiscountLine {
    pub kind: DiscountKind,
    pub label: String,
    pub amount_fen: i64,
}

#[derive(SimpleObject)]
pub struct Order {
    pub id: ID,
    pub order_no: String,
    pub member_id: ID,
    pub channel: Channel,
    pub fulfilment: FulfilmentKind,
    pub store_id: Option<ID>,
    pub status: OrderStatus,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub refunded_fen: i64,
    pub payment_method: Option<PaymentMethod>,
    /// The BA credited for the sale.
    pub ba_id: Option<ID>,
    /// An unpaid order closes at this time.
    pub pay_deadline: Option<DateTime>,
    pub paid_at: Option<DateTime>,
    pub created_at: DateTime,
    pub lines: Vec<OrderLine>,
    pub discounts: Vec<DiscountLine>,
    /// Where a delivery order goes; null for pick-up, and for a flash-sale grab until the
    /// member gives it (`setOrderDeliveryAddress`; it cannot be paid before).
    pub delivery: Option<DeliveryAddressView>,
}

/// A delivery address as order screens show it: the phone masked.
#[derive(SimpleObject)]
pub struct DeliveryAddressView {
    pub recipient: String,
    pub phone_masked: String,
    pub province: String,
    pub city: String,
    pub district: Option<String>,
    pub detail: String,
}

impl From<orders::DeliveryAddress> for DeliveryAddressView {
    fn from(a: orders::DeliveryAddress) -> Self {
        Self {
            phone_masked: a.phone_masked(),
            recipient: a.recipient,
            province: a.province,
            city: a.city,
            district: a.district,
            detail: a.detail,
        }
    }
}

impl From<DeliveryAddressInput> for orders::DeliveryAddress {
    fn from(a: DeliveryAddressInput) -> Self {
        Self {
            recipient: a.recipient,
            phone: a.phone,
            province: a.province,
            city: a.city,
            district: a.district,
            detail: a.detail,
        }
    }
}

impl From<orders::Order> for Order {
    fn from(o: orders::Order) -> Self {
        Self {
            id: o.id.into(),
            order_no: o.order_no,
            member_id: o.member_id.into(),
            channel: o.channel,
            fulfilment: o.fulfilment,
            store_id: o.store_id.map(Into::into),
            status: o.status,
            subtotal_fen: o.subtotal_fen,
            discount_fen: o.discount_fen,
            total_fen: o.total_fen,
            refunded_fen: o.refunded_fen,
            payment_method: o.payment_method,
            ba_id: o.ba_id.map(Into::into),
            pay_deadline: o.pay_deadline.map(Into::into),
            paid_at: o.paid_at.map(Into::into),
            created_at: o.created_at.into(),
            delivery: o.delivery.map(Into::into),
            lines: o
                .lines
                .into_iter()
                .map(|l| OrderLine {
                    id: l.id.into(),
                    sku_id: l.sku_id.into(),
                    product_name: l.product_name,
                    sku_label: l.sku_label,
                    quantity: l.quantity,
                    unit_price_fen: l.unit_price_fen,
                    discount_fen: l.discount_fen,
                    line_total_fen: l.line_total_fen,
                    refunded_quantity: l.refunded_quantity,
                })
                .collect(),
            discounts: o
                .discounts
                .into_iter()
                .map(|d| DiscountLine {
                    kind: d.kind,
                    label: d.label,
                    amount_fen: d.amount_fen,
                })
                .collect(),
        }
    }
}

#[derive(InputObject)]
pub struct OrderLineInput {
    pub sku_id: ID,
    pub quantity: i32,
}

#[derive(InputObject)]
pub struct DeliveryAddressInput {
    pub recipient: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: Option<String>,
    pub detail: String,
}

/// Give `pickupStoreId` to collect at a store, or `delivery` to have it sent.
#[derive(InputObject)]
pub struct PlaceOrderInput {
    pub lines: Vec<OrderLineInput>,
    pub pickup_store_id: Option<ID>,
    pub delivery: Option<DeliveryAddressInput>,
    /// The member's coupons to use on this order (one discount line each).
    pub coupon_ids: Option<Vec<ID>>,
    /// Pay up to this much of the order from the member's stored value (会员储值) at once:
    /// covering the whole order pays it; otherwise `payOrder` asks WeChat Pay for the rest.
    pub balance_fen: Option<i64>,
}

pub(crate) fn lines(input: &[OrderLineInput]) -> ApiResult<Vec<orders::LineInput>> {
    input
        .iter()
        .map(|l| {
            Ok(orders::LineInput {
                sku_id: parse_id(&l.sku_id)?,
                quantity: l.quantity,
            })
        })
        .collect()
}

#[derive(Default)]
pub struct ConsumerOrdersQuery;

#[Object]
impl ConsumerOrdersQuery {
    /// The member's orders, newest first.
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Order>> {
        let me = member(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = orders::my_orders(app(ctx), me, page).await?;
        Ok(pagination::connection(list, &page, |o| o.id, Into::into))
    }

    async fn order(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Order> {
        let me = member(ctx).await?;
        Ok(orders::my_order(app(ctx), me, parse_id(&id)?).await?.into())
    }
}

#[derive(Default)]
pub struct ConsumerOrdersMutation;

#[Object]
impl ConsumerOrdersMutation {
    /// Places an order and reserves its stock until the payment time-out. Retrying with the
    /// same idempotency key returns the same order.
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceOrderInput,
        idempotency_key: String,
    ) -> ApiResult<Order> {
        let me = member(ctx).await?;
        let fulfilment = match (input.pickup_store_id, input.delivery) {
            (Some(store), None) => orders::Fulfilment::Pickup {
                store_id: parse_id(&store)?,
            },
            (None, Some(a)) => orders::Fulfilment::Delivery(a.into()),
            _ => return Err(ApiError::bad_input("give either pickupStoreId or delivery")),
        };
        let coupon_ids = input
            .coupon_ids
            .unwrap_or_default()
            .iter()
            .map(parse_id)
            .collect::<ApiResult<Vec<_>>>()?;
        let place = orders::PlaceOrder {
            lines: lines(&input.lines)?,
            fulfilment,
        };
        let order = match input.balance_fen {
            Some(balance) => {
                domain::payments::place_order_with_balance(
                    app(ctx),
                    me,
                    place,
                    &coupon_ids,
                    &idempotency_key,
                    balance,
                )
                .await?
            }
            None => {
                orders::place_order_with_coupons(app(ctx), me, place, &coupon_ids, &idempotency_key)
                    .await?
            }
        };
        Ok(order.into())
    }
    /// Gives (or corrects) where an unpaid delivery order goes: a flash-sale grab is created
    /// before its address, and a delivery order without one cannot be paid
    /// (`DELIVERY_ADDRESS_MISSING`). CONFLICT once the order is paid or closed.
    async fn set_order_delivery_address(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        delivery: DeliveryAddressInput,
    ) -> ApiResult<Order> {
        let me = member(ctx).await?;
        let order =
            orders::set_delivery_address(app(ctx), me, parse_id(&order_id)?, delivery.into())
                .await?;
        Ok(order.into())
    }
}

#[derive(SimpleObject)]
pub struct AllergenWarning {
    pub product_name: String,
    pub allergens: Vec<String>,
}

#[derive(SimpleObject)]
pub struct SalePreview {
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    /// Products containing the member's allergens: show them to the member before the sale.
    pub allergen_warnings: Vec<AllergenWarning>,
}

#[derive(Default)]
pub struct StaffOrdersQuery;

#[Object]
impl StaffOrdersQuery {
    /// An order of the staff member's store (any store for HQ).
    async fn store_order(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Order> {
        let staff = staff(ctx).await?;
        Ok(orders::staff_order(app(ctx), staff, parse_id(&id)?)
            .await?
            .into())
    }
}

/// Staff queries about counter sales (merged after payments' queries, where the schema has
/// always listed them).
#[derive(Default)]
pub struct StaffInStoreQuery;

#[Object]
impl StaffInStoreQuery {
    /// Price and allergen warnings for a counter sale, before it is recorded.
    async fn preview_in_store_sale(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        lines: Vec<OrderLineInput>,
    ) -> ApiResult<SalePreview> {
        let staff = staff(ctx).await?;
        let member_id = parse_id(&member_id)?;
        let p = orders::preview_in_store_sale(app(ctx), staff, member_id, &self::lines(&lines)?)
            .await?;
        Ok(SalePreview {
            subtotal_fen: p.subtotal_fen,
            discount_fen: p.discount_fen,
            total_fen: p.total_fen,
            allergen_warnings: p
                .allergen_warnings
                .into_iter()
                .map(|(product_name, allergens)| AllergenWarning {
                    product_name,
                    allergens,
                })
                .collect(),
        })
    }
}

#[derive(Default)]
pub struct StaffOrdersMutation;

#[Object]
impl StaffOrdersMutation {
    /// Records a sale at the counter, paid on the spot, credited to the BA. When the preview
    /// showed allergen warnings, `acknowledgeAllergens` must be true.
    #[allow(clippy::too_many_arguments)]
    async fn record_in_store_sale(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        lines: Vec<OrderLineInput>,
        payment_method: PaymentMethod,
        #[graphql(default = false)] acknowledge_allergens: bool,
        idempotency_key: String,
        #[graphql(desc = "Coupon QR codes the member showed; one discount line each.")]
        coupon_codes: Option<Vec<String>>,
    ) -> ApiResult<Order> {
        let staff = staff(ctx).await?;
        let member_id = parse_id(&member_id)?;
        let order = orders::record_in_store_sale_with_coupons(
            app(ctx),
            staff,
            member_id,
            &self::lines(&lines)?,
            payment_method,
            acknowledge_allergens,
            &coupon_codes.unwrap_or_default(),
            &idempotency_key,
        )
        .await?;
        Ok(order.into())
    }
}
