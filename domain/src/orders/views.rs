//! Orders read back with their lines and discounts: the member's own, and the ones staff may see.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{FulfilmentKind, OrderStatus, OrdersError, PaymentMethod};
use crate::AppState;
use crate::auth::{AuthError, MemberPrincipal, Permission, StaffPrincipal};
use crate::platform::page::{IdKey, Keyset, Page};
use crate::pricing::{Channel, Discount};
use entities::{order, order_discount, order_line};

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
    /// Where a delivery order goes; `None` for pick-up and for a grab not yet addressed.
    pub delivery: Option<super::DeliveryAddress>,
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
            kind: d.kind,
            label: d.label,
            amount_fen: d.amount_fen,
            reference: d.reference,
        });
    }
    rows.into_iter()
        .map(|r| {
            let delivery = r
                .delivery_address
                .as_deref()
                .map(|sealed| super::delivery::open(app, sealed))
                .transpose()?;
            Ok(Order {
                delivery,
                id: r.id,
                lines: lines.remove(&r.id).unwrap_or_default(),
                discounts: discounts.remove(&r.id).unwrap_or_default(),
                order_no: r.order_no,
                member_id: r.member_id,
                channel: r.channel,
                fulfilment: r.fulfilment,
                store_id: r.store_id,
                status: r.status,
                subtotal_fen: r.subtotal_fen,
                discount_fen: r.discount_fen,
                total_fen: r.total_fen,
                refunded_fen: r.refunded_fen,
                payment_method: r.payment_method,
                ba_id: r.ba_id,
                pay_deadline: r.pay_deadline,
                paid_at: r.paid_at,
                created_at: r.created_at,
            })
        })
        .collect()
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

/// The member's orders, newest first (by id), after the id the previous page ended at.
pub async fn my_orders(
    app: &AppState,
    me: &MemberPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<Order>, OrdersError> {
    let mut query = order::Entity::find()
        .filter(order::Column::MemberId.eq(me.member_id))
        .order_by_desc(order::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(order::Column::Id.lt(after));
    }
    let rows = page.page(query.all(&app.db).await?);
    let has_next = rows.has_next;
    Ok(Page {
        items: load_many(app, rows.items).await?,
        has_next,
    })
}

/// Orders staff may see: HQ all, others their store's.
pub async fn staff_order(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<Order, OrdersError> {
    staff.require(Permission::ViewOrders)?;
    let row = row(app, id).await?;
    if !staff.sees_every_store() && row.store_id != staff.store_id {
        return Err(AuthError::Forbidden.into());
    }
    load(app, row).await
}

/// The status of the order with this number (the out-trade-no WeChat Pay knows it by), if any.
/// No principal: the payment side (notifications, the demo's payment tools) asks by number.
pub async fn status_by_number(
    app: &AppState,
    order_no: &str,
) -> Result<Option<OrderStatus>, OrdersError> {
    Ok(order::Entity::find()
        .select_only()
        .column(order::Column::Status)
        .filter(order::Column::OrderNo.eq(order_no))
        .into_tuple()
        .one(&app.db)
        .await?)
}
