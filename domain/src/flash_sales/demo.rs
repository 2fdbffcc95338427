//! Demo flash sales: one live (a week from the seed on) with a grab already paid and on its way
//! to an address, and one starting the next day.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use super::order::order_draft;
use super::runtime::PreparedSale;
use super::{FlashSalesError, GrabStatus};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::inventory::MovementKind;
use crate::orders::{OrderStatus, PaymentMethod};
use entities::flash_sale_ticket::{self, TicketStatus};
use entities::{flash_sale, flash_sale_grab, flash_sale_quota, order, product, sku};

/// The member whose grab the demo shows, and where it ships.
pub struct DemoGrab {
    pub member_id: i64,
    pub address: crate::orders::DeliveryAddress,
}

/// Seeds the live and the upcoming demo sale, and `grab`'s paid order from the live one
/// (shipped from `warehouse`). SKUs missing from the catalog are skipped.
pub async fn seed_demo(
    app: &AppState,
    txn: &DatabaseTransaction,
    warehouse: i64,
    grab: &DemoGrab,
    now: DateTime<Utc>,
) -> Result<(), FlashSalesError> {
    let live = sale(
        txn,
        (
            "限时秒杀：玫瑰修护精华 30ml",
            "ROSE-SERUM-30",
            29_900,
            100,
            2,
        ),
        (now - Duration::hours(1), now + Duration::days(7)),
        now,
    )
    .await?;
    sale(
        txn,
        ("明日秒杀：丝绒唇釉 R01", "VELVET-LIP-R01", 12_900, 50, 1),
        (
            now + Duration::days(1),
            now + Duration::days(1) + Duration::hours(2),
        ),
        now,
    )
    .await?;
    let Some((live, sku)) = live else {
        return Ok(());
    };
    let product_name = product::Entity::find_by_id(sku.product_id)
        .one(txn)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    let prepared = PreparedSale {
        sale: live.clone(),
        sku,
        product_name,
        location_id: warehouse,
    };
    let me = MemberPrincipal {
        member_id: grab.member_id,
        session_id: "demo-seed".into(),
    };
    let mut draft = order_draft(app, &me, &prepared, 1, "demo-grab-1", now);
    // Stored as placeOrder stores it: the address as JSON, encrypted (personal data).
    let address = serde_json::to_string(&grab.address).unwrap_or_default();
    draft.delivery_address = Some(app.pii.encrypt(&address));
    draft.status = OrderStatus::Paid;
    draft.payment_method = Some(PaymentMethod::Wechat);
    draft.pay_deadline = None;
    let row =
        crate::orders::insert_order(txn, draft, MovementKind::OrderReserve, None, now).await?;
    let mut paid: order::ActiveModel = row.clone().into();
    paid.transaction_id = Set(Some(format!("DEMO{}", row.order_no)));
    let row = paid.update(txn).await?;
    crate::orders::reward_payment(txn, app, &row, now).await?;
    flash_sale_quota::ActiveModel {
        sale_id: Set(live.id),
        member_id: Set(grab.member_id),
        units: Set(1),
    }
    .insert(txn)
    .await?;
    flash_sale_grab::ActiveModel {
        sale_id: Set(live.id),
        member_id: Set(grab.member_id),
        order_id: Set(row.id),
        quantity: Set(1),
        idempotency_key: Set("demo-grab-1".into()),
        status: Set(GrabStatus::Held),
        created_at: Set(now),
        released_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    flash_sale_ticket::ActiveModel {
        sale_id: Set(live.id),
        member_id: Set(grab.member_id),
        quantity: Set(1),
        idempotency_key: Set("demo-grab-1".into()),
        status: Set(TicketStatus::Ordered),
        failure: Set(None),
        order_id: Set(Some(row.id)),
        attempts: Set(0),
        created_at: Set(now),
        order_due_at: Set(now + super::ORDER_WITHIN),
        written_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let mut sold: flash_sale::ActiveModel = live.into();
    sold.sold = Set(1);
    sold.update(txn).await?;
    Ok(())
}

/// (title, SKU code, price, units, per-member limit), (starts, ends).
async fn sale(
    txn: &DatabaseTransaction,
    (title, sku_code, price, stock, limit): (&str, &str, i64, i32, i32),
    (starts_at, ends_at): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<Option<(flash_sale::Model, sku::Model)>, FlashSalesError> {
    let Some(sku) = sku::Entity::find()
        .filter(sku::Column::Code.eq(sku_code))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let row = flash_sale::ActiveModel {
        title: Set(title.into()),
        sku_id: Set(sku.id),
        price_fen: Set(price),
        stock: Set(stock),
        sold: Set(0),
        per_member_limit: Set(limit),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(Some((row, sku)))
}
