//! A BA records a sale at the counter, paid on the spot: previewed first (price and the
//! member's allergens), then recorded with the coupons the member showed.

use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter};

use super::place::coupon_discounts;
use super::write::{OrderDraft, insert_order, recorded, request_hash};
use super::{
    FulfilmentKind, Order, OrderStatus, OrdersError, PaymentMethod, invalid, load, reward_payment,
};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::catalog;
use crate::inventory::{self, MovementKind};
use crate::platform::{db, idempotency, validate};
use crate::pricing::{self, Channel, Discount, DraftLine, LineInput};
use entities::member;

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
    let draft_lines = pricing::price_lines(&app.db, lines).await?;
    let subtotal = pricing::subtotal(&draft_lines);
    let discounts = pricing::tier_discount(&app.db, member_id, subtotal).await?;
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
    // An erased member is an anonymous tombstone: nothing new is recorded for her.
    member::Entity::find_by_id(member_id)
        .filter(member::Column::ErasedAt.is_null())
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
    let lines = pricing::merge_lines(lines)?;
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
    let lines = pricing::merge_lines(lines)?;
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
        payment_method.to_value(),
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
    if payment_method == PaymentMethod::Balance {
        crate::stored_value::pay_with_balance(
            &txn,
            crate::stored_value::BalanceSpend {
                member_id,
                order_id: row.id,
                order_no: &row.order_no,
                amount_fen: row.total_fen,
                source: crate::stored_value::BalanceSource::CounterSale,
                staff_id: Some(staff.staff_id),
                at: now,
            },
        )
        .await?;
    }
    reward_payment(&txn, app, &row, now).await?;
    txn.commit().await?;
    load(app, row).await
}
