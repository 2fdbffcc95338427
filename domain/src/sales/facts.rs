//! Writing facts: a paid order's lines become SALE (or GIFT, at no price) facts, a successful
//! refund's lines REFUND facts with negative units and money on the refund's own day. Each
//! fact has a unique key, so a repeated event writes nothing; each marks its day dirty.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::error::StoreError;
use entities::campaign_delivery::{self, DeliveryState};
use entities::order_discount::{self, DiscountKind};
use entities::sales_fact::{self, SalesEvent};
use entities::{
    coupon, member, member_first_purchase, order, order_line, product, sales_dirty_day, sku, store,
};

/// The business day of an instant in a store's zone (Asia/Shanghai unless the store says
/// otherwise), whatever zone the process runs in.
pub fn business_date(at: DateTime<Utc>, zone: Option<&str>) -> NaiveDate {
    let tz = zone
        .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(DEFAULT_ZONE);
    at.with_timezone(&tz).date_naive()
}

/// `upto(before + more) − upto(before)` of `total` spread over `of` units: the exact share of
/// `more` units, so the shares of every unit add up to `total`.
fn share(total: i64, of: i32, before: i32, more: i32) -> i64 {
    if of == 0 {
        return 0;
    }
    let upto = |n: i32| i128::from(total) * i128::from(n) / i128::from(of);
    i64::try_from(upto(before + more) - upto(before)).unwrap_or(0)
}

/// The order's last-touch campaign, its (first) coupon's template and what its coupons took off.
async fn touches(
    txn: &DatabaseTransaction,
    order: &order::Model,
    at: DateTime<Utc>,
) -> Result<(Option<i64>, Option<i64>, i64), StoreError> {
    let campaign_id: Option<i64> = campaign_delivery::Entity::find()
        .select_only()
        .column(campaign_delivery::Column::CampaignId)
        .filter(campaign_delivery::Column::MemberId.eq(order.member_id))
        .filter(campaign_delivery::Column::State.eq(DeliveryState::Sent))
        .filter(campaign_delivery::Column::SentAt.lte(at))
        .filter(campaign_delivery::Column::AttributionUntil.gte(at))
        .order_by_desc(campaign_delivery::Column::SentAt)
        .into_tuple()
        .one(txn)
        .await?;
    let coupon_template_id: Option<i64> = coupon::Entity::find()
        .select_only()
        .column(coupon::Column::TemplateId)
        .filter(coupon::Column::UsedOrderId.eq(order.id))
        .order_by_asc(coupon::Column::Id)
        .into_tuple()
        .one(txn)
        .await?;
    let coupons: i64 = order_discount::Entity::find()
        .filter(order_discount::Column::OrderId.eq(order.id))
        .filter(order_discount::Column::Kind.eq(DiscountKind::Coupon))
        .all(txn)
        .await?
        .iter()
        .map(|d| d.amount_fen)
        .sum::<i64>();
    let coupon_total = std::cmp::min(coupons, order.discount_fen);
    Ok((campaign_id, coupon_template_id, coupon_total))
}

/// The SALE facts of a paid order, as of `at`.
async fn sale_facts(
    txn: &DatabaseTransaction,
    order: &order::Model,
    at: DateTime<Utc>,
) -> Result<Vec<sales_fact::ActiveModel>, StoreError> {
    let lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order.id))
        .order_by_asc(order_line::Column::Id)
        .all(txn)
        .await?;
    if lines.is_empty() {
        // No line, no fact: nothing else to read.
        return Ok(Vec::new());
    }
    let sku_ids: Vec<i64> = lines.iter().map(|l| l.sku_id).collect();
    let skus: HashMap<i64, sku::Model> = sku::Entity::find()
        .filter(sku::Column::Id.is_in(sku_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let product_ids: Vec<i64> = skus.values().map(|s| s.product_id).collect();
    let categories: HashMap<i64, i64> = product::Entity::find()
        .filter(product::Column::Id.is_in(product_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|p| (p.id, p.category_id))
        .collect();
    let buyer = member::Entity::find_by_id(order.member_id).one(txn).await?;
    let zone = match order.store_id {
        Some(id) => store::Entity::find_by_id(id)
            .one(txn)
            .await?
            .map(|s| s.timezone),
        None => None,
    };
    let (campaign_id, coupon_template_id, coupon_total) = touches(txn, order, at).await?;
    let date = business_date(at, zone.as_deref());
    let mut facts = Vec::with_capacity(lines.len());
    let mut coupon_left = coupon_total;
    for (i, line) in lines.iter().enumerate() {
        let sku = skus.get(&line.sku_id);
        let product_id = sku.map_or(0, |s| s.product_id);
        let unit_cost = line
            .unit_cost_fen
            .unwrap_or_else(|| sku.map_or(0, |s| s.cost_fen));
        // The coupons' share of the line's discount; the last line takes what is left.
        let coupon_share = if i + 1 == lines.len() {
            coupon_left
        } else if order.discount_fen > 0 {
            let s = i64::try_from(
                i128::from(coupon_total) * i128::from(line.discount_fen)
                    / i128::from(order.discount_fen),
            )
            .unwrap_or(0);
            coupon_left -= s;
            s
        } else {
            0
        };
        let event = if line.line_total_fen == 0 {
            SalesEvent::Gift
        } else {
            SalesEvent::Sale
        };
        facts.push(sales_fact::ActiveModel {
            fact_key: Set(format!("SALE:{}", line.id)),
            event: Set(event),
            order_id: Set(order.id),
            order_line_id: Set(line.id),
            refund_id: Set(None),
            occurred_at: Set(at),
            business_date: Set(date),
            sale_date: Set(date),
            store_id: Set(order.store_id),
            channel: Set(order.channel),
            ba_id: Set(order.ba_id),
            exclusive_ba_id: Set(buyer.as_ref().and_then(|m| m.exclusive_ba_id)),
            member_id: Set(order.member_id),
            sku_id: Set(line.sku_id),
            product_id: Set(product_id),
            category_id: Set(categories.get(&product_id).copied().unwrap_or_default()),
            campaign_id: Set(campaign_id),
            coupon_template_id: Set(coupon_template_id),
            region_code: Set(buyer.as_ref().and_then(|m| m.region_code.clone())),
            quantity: Set(line.quantity),
            gross_fen: Set(line.unit_price_fen * i64::from(line.quantity)),
            discount_fen: Set(line.discount_fen),
            coupon_discount_fen: Set(coupon_share),
            net_fen: Set(line.line_total_fen),
            cost_fen: Set(unit_cost * i64::from(line.quantity)),
            ..Default::default()
        });
    }
    Ok(facts)
}

/// Writes the facts (those already written are skipped by their key) and marks their days.
async fn write(
    txn: &DatabaseTransaction,
    facts: Vec<sales_fact::ActiveModel>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut days: Vec<NaiveDate> = Vec::new();
    // Each buyer's earliest day among the SALE and GIFT facts (one buyer per order).
    let mut bought: Vec<(i64, NaiveDate)> = Vec::new();
    for f in &facts {
        let sea_orm::ActiveValue::Set(d) = &f.business_date else {
            continue;
        };
        if !days.contains(d) {
            days.push(*d);
        }
        if let (sea_orm::ActiveValue::Set(member), sea_orm::ActiveValue::Set(event)) =
            (&f.member_id, &f.event)
            && *event != SalesEvent::Refund
        {
            match bought.iter_mut().find(|(m, _)| m == member) {
                Some((_, first)) => *first = Ord::min(*first, *d),
                None => bought.push((*member, *d)),
            }
        }
    }
    if facts.is_empty() {
        return Ok(());
    }
    sales_fact::Entity::insert_many(facts)
        .on_conflict(
            OnConflict::column(sales_fact::Column::FactKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    for day in days {
        mark_dirty(txn, day, now).await?;
    }
    for (member, day) in bought {
        keep_first_purchase(txn, member, day).await?;
    }
    Ok(())
}

/// Keeps `day` as the member's first purchase unless an earlier one is kept (a refund of an
/// order paid before facts were kept writes its sale facts on their own, earlier, day). Called
/// with every SALE or GIFT fact written, in the same transaction.
pub async fn keep_first_purchase<C: ConnectionTrait>(
    txn: &C,
    member: i64,
    day: NaiveDate,
) -> Result<(), StoreError> {
    member_first_purchase::Entity::insert(member_first_purchase::ActiveModel {
        member_id: Set(member),
        first_day: Set(day),
    })
    .on_conflict(
        OnConflict::column(member_first_purchase::Column::MemberId)
            .update_column(member_first_purchase::Column::FirstDay)
            .action_and_where(
                Expr::col((
                    member_first_purchase::Entity,
                    member_first_purchase::Column::FirstDay,
                ))
                .gt(day),
            )
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Marks a day's rollups stale (a new generation when it already was).
pub(crate) async fn mark_dirty<C: ConnectionTrait>(
    db: &C,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sales_dirty_day::Entity::insert(sales_dirty_day::ActiveModel {
        business_date: Set(day),
        generation: Set(1),
        marked_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(sales_dirty_day::Column::BusinessDate)
            .value(
                sales_dirty_day::Column::Generation,
                Expr::col((sales_dirty_day::Entity, sales_dirty_day::Column::Generation)).add(1),
            )
            .update_column(sales_dirty_day::Column::MarkedAt)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The SALE (or GIFT) fact of every line of a paid order, in the payment's transaction.
/// Called once per payment (online notification, the overdue check finding it paid, the dev
/// pay route, a counter sale); a repeated call writes nothing.
pub async fn record_sale(
    txn: &DatabaseTransaction,
    order: &order::Model,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let facts = sale_facts(txn, order, now).await?;
    write(txn, facts, now).await
}

/// The REFUND facts of a successful refund: for each `(order line, units)`, the sale's frozen
/// attribution with negative units, money and cost (the exact share of the units returned),
/// dated the day of the refund. Orders paid before facts were kept get their SALE facts first.
pub async fn record_refund(
    txn: &DatabaseTransaction,
    order: &order::Model,
    refund_no: &str,
    lines: &[(i64, i32)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sold_at = order.paid_at.unwrap_or(now);
    let backfill = sale_facts(txn, order, sold_at).await?;
    write(txn, backfill, now).await?;
    let refund_id: Option<i64> = entities::refund::Entity::find()
        .select_only()
        .column(entities::refund::Column::Id)
        .filter(entities::refund::Column::RefundNo.eq(refund_no))
        .into_tuple()
        .one(txn)
        .await?;
    let all = sales_fact::Entity::find()
        .filter(sales_fact::Column::OrderId.eq(order.id))
        .all(txn)
        .await?;
    let zone = match order.store_id {
        Some(id) => store::Entity::find_by_id(id)
            .one(txn)
            .await?
            .map(|s| s.timezone),
        None => None,
    };
    let date = business_date(now, zone.as_deref());
    let mut facts = Vec::new();
    for &(line_id, more) in lines {
        let Some(sale) = all
            .iter()
            .find(|f| f.order_line_id == line_id && f.event != SalesEvent::Refund)
        else {
            continue;
        };
        // Units of this line refunded by earlier refunds, from their facts.
        let before: i32 = all
            .iter()
            .filter(|f| f.order_line_id == line_id && f.event == SalesEvent::Refund)
            .map(|f| -f.quantity)
            .sum();
        let of = sale.quantity;
        let part = |total: i64| -share(total, of, before, more);
        facts.push(sales_fact::ActiveModel {
            fact_key: Set(format!("REFUND:{refund_no}:{line_id}")),
            event: Set(SalesEvent::Refund),
            refund_id: Set(refund_id),
            occurred_at: Set(now),
            business_date: Set(date),
            quantity: Set(-more),
            gross_fen: Set(part(sale.gross_fen)),
            discount_fen: Set(part(sale.discount_fen)),
            coupon_discount_fen: Set(part(sale.coupon_discount_fen)),
            net_fen: Set(part(sale.net_fen)),
            cost_fen: Set(part(sale.cost_fen)),
            ..frozen(sale)
        });
    }
    write(txn, facts, now).await
}

/// A new fact carrying a sale fact's attribution and sale day.
fn frozen(sale: &sales_fact::Model) -> sales_fact::ActiveModel {
    sales_fact::ActiveModel {
        order_id: Set(sale.order_id),
        order_line_id: Set(sale.order_line_id),
        sale_date: Set(sale.sale_date),
        store_id: Set(sale.store_id),
        channel: Set(sale.channel),
        ba_id: Set(sale.ba_id),
        exclusive_ba_id: Set(sale.exclusive_ba_id),
        member_id: Set(sale.member_id),
        sku_id: Set(sale.sku_id),
        product_id: Set(sale.product_id),
        category_id: Set(sale.category_id),
        campaign_id: Set(sale.campaign_id),
        coupon_template_id: Set(sale.coupon_template_id),
        region_code: Set(sale.region_code.clone()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn shares_of_every_unit_add_up_to_the_total() {
        let parts: i64 = (0..3).map(|i| share(10_001, 3, i, 1)).sum();
        assert_eq!(parts, 10_001);
        assert_eq!(share(10_001, 3, 0, 3), 10_001);
    }

    #[test]
    fn half_past_eleven_on_30_september_in_shanghai_is_in_september() {
        let at = Utc.with_ymd_and_hms(2026, 9, 30, 15, 30, 0).unwrap();
        assert_eq!(
            business_date(at, None),
            NaiveDate::from_ymd_opt(2026, 9, 30).unwrap()
        );
        assert_eq!(
            business_date(at, Some("Asia/Shanghai")),
            NaiveDate::from_ymd_opt(2026, 9, 30).unwrap()
        );
        let later = Utc.with_ymd_and_hms(2026, 9, 30, 16, 0, 0).unwrap();
        assert_eq!(
            business_date(later, Some("not a zone")),
            NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
        );
    }
}
