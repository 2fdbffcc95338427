//! Pricing an online order before it is placed: the tier price and the coupons given, or the
//! best combination of the member's.

use super::CouponsError;
use super::pricing::{Basket, best_combination, discounts_for_order, scoped_lines};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::pricing::{self, Channel, Discount, LineInput};

#[derive(Debug, Clone)]
pub struct PreviewLine {
    pub sku_id: i64,
    pub product_name: String,
    pub sku_label: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
}

#[derive(Debug, Clone)]
pub struct OrderPreview {
    pub lines: Vec<PreviewLine>,
    pub subtotal_fen: i64,
    /// Tier price and the coupons priced (the ones asked for, or else the best combination).
    pub discounts: Vec<Discount>,
    pub discount_fen: i64,
    pub total_fen: i64,
    /// The coupons priced in `discounts`.
    pub coupon_ids: Vec<i64>,
    /// The best valid combination of the member's coupons, and what it takes off.
    pub best_coupon_ids: Vec<i64>,
    pub best_coupon_discount_fen: i64,
}

/// Prices an online order before it is placed: the tier price, the coupons given (checked as
/// `placeOrder` checks them) or, when none are given, the best combination of the member's.
pub async fn preview_order(
    app: &AppState,
    me: &MemberPrincipal,
    lines: &[LineInput],
    pickup_store_id: Option<i64>,
    coupon_ids: Option<&[i64]>,
) -> Result<OrderPreview, CouponsError> {
    let lines = pricing::merge_lines(lines)?;
    let draft = pricing::price_lines(&app.db, &lines).await?;
    let subtotal: i64 = draft
        .iter()
        .map(|l| l.unit_price_fen * i64::from(l.quantity))
        .sum();
    let tier = pricing::tier_discount(&app.db, me.member_id, subtotal).await?;
    let scoped = scoped_lines(&app.db, &draft).await?;
    let basket = Basket {
        channel: Channel::Online,
        store_id: pickup_store_id,
        lines: &scoped,
        discounted_fen: tier.iter().map(|d| d.amount_fen).sum(),
        has_flash_sale: false,
    };
    let now = app.clock.now();
    let best = best_combination(&app.db, me.member_id, &basket, now).await?;
    let chosen = match coupon_ids {
        Some(ids) => discounts_for_order(&app.db, me.member_id, ids, &basket, now).await?,
        None => best.clone(),
    };
    let mut discounts = tier;
    discounts.extend(chosen.iter().map(|(_, d)| d.clone()));
    let discount_fen = discounts.iter().map(|d| d.amount_fen).sum::<i64>();
    let discount_fen = std::cmp::min(discount_fen, subtotal);
    Ok(OrderPreview {
        lines: draft
            .into_iter()
            .map(|l| PreviewLine {
                line_total_fen: l.unit_price_fen * i64::from(l.quantity),
                sku_id: l.sku_id,
                product_name: l.product_name,
                sku_label: l.sku_label,
                quantity: l.quantity,
                unit_price_fen: l.unit_price_fen,
            })
            .collect(),
        subtotal_fen: subtotal,
        discounts,
        discount_fen,
        total_fen: subtotal - discount_fen,
        coupon_ids: chosen.iter().map(|(id, _)| *id).collect(),
        best_coupon_discount_fen: best.iter().map(|(_, d)| d.amount_fen).sum(),
        best_coupon_ids: best.into_iter().map(|(id, _)| id).collect(),
    })
}
