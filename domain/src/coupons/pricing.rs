//! Pricing: which of a member's coupons apply to an order and for how much, the best
//! combination of them, and marking them used (or giving them back) in the order's
//! transaction.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::ActiveEnum;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{CouponKind, CouponStatus, CouponsError, Template, invalid, templates_by_id};
use crate::pricing::{Channel, Discount, DiscountKind, DraftLine};
use entities::{category, coupon, product, sku};

/// An order line as coupons see it.
#[derive(Debug, Clone)]
pub(crate) struct ScopedLine {
    pub sku_id: i64,
    /// The product's category and its parents.
    pub categories: Vec<i64>,
    pub subtotal_fen: i64,
}

/// What an order offers coupons.
pub(crate) struct Basket<'a> {
    pub channel: Channel,
    pub store_id: Option<i64>,
    pub lines: &'a [ScopedLine],
    /// Already taken off (tier price, flash-sale price).
    pub discounted_fen: i64,
    pub has_flash_sale: bool,
}

impl Basket<'_> {
    fn subtotal(&self) -> i64 {
        self.lines.iter().map(|l| l.subtotal_fen).sum()
    }
}

pub(crate) async fn scoped_lines<C: ConnectionTrait>(
    db: &C,
    lines: &[DraftLine],
) -> Result<Vec<ScopedLine>, CouponsError> {
    let sku_ids: Vec<i64> = lines.iter().map(|l| l.sku_id).collect();
    let skus: HashMap<i64, i64> = sku::Entity::find()
        .select_only()
        .column(sku::Column::Id)
        .column(sku::Column::ProductId)
        .filter(sku::Column::Id.is_in(sku_ids))
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let products: HashMap<i64, i64> = product::Entity::find()
        .select_only()
        .column(product::Column::Id)
        .column(product::Column::CategoryId)
        .filter(product::Column::Id.is_in(skus.values().copied()))
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let parents: HashMap<i64, Option<i64>> = category::Entity::find()
        .select_only()
        .column(category::Column::Id)
        .column(category::Column::ParentId)
        .into_tuple::<(i64, Option<i64>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(lines
        .iter()
        .map(|l| {
            let mut categories = Vec::new();
            let mut next = skus.get(&l.sku_id).and_then(|p| products.get(p)).copied();
            while let Some(c) = next {
                if categories.contains(&c) || categories.len() > 8 {
                    break;
                }
                categories.push(c);
                next = parents.get(&c).copied().flatten();
            }
            ScopedLine {
                sku_id: l.sku_id,
                categories,
                subtotal_fen: l.unit_price_fen * i64::from(l.quantity),
            }
        })
        .collect())
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The discount one coupon gives on a basket, or why it does not apply.
fn evaluate(
    c: &coupon::Model,
    t: &Template,
    basket: &Basket<'_>,
    now: DateTime<Utc>,
) -> Result<i64, CouponsError> {
    let name = &t.name;
    match c.status {
        CouponStatus::Used | CouponStatus::Reserved => {
            return Err(CouponsError::AlreadyUsed(name.clone()));
        }
        CouponStatus::Expired => {
            return Err(CouponsError::Expired(format!(
                "the coupon {name} has expired"
            )));
        }
        CouponStatus::Available => {}
    }
    if c.valid_until <= now {
        return Err(CouponsError::Expired(format!(
            "the coupon {name} has expired"
        )));
    }
    if c.valid_from > now {
        return Err(invalid(format!("the coupon {name} is not valid yet")));
    }
    if t.kind == CouponKind::Gift {
        return Err(invalid(format!(
            "the coupon {name} is a gift coupon: it is redeemed at the counter, not on an order"
        )));
    }
    if !t.allows_channel(basket.channel) {
        let channel = match basket.channel {
            Channel::Online => "online",
            Channel::InStore => "in store",
        };
        return Err(invalid(format!(
            "the coupon {name} cannot be used {channel}"
        )));
    }
    if !t.allows_store(basket.store_id) {
        return Err(invalid(format!(
            "the coupon {name} is not valid at this store"
        )));
    }
    if basket.has_flash_sale && !t.stacks_with_flash_sale {
        return Err(invalid(format!(
            "the coupon {name} does not combine with flash-sale prices"
        )));
    }
    let eligible: i64 = basket
        .lines
        .iter()
        .filter(|l| {
            (t.scope.sku_ids.is_empty() && t.scope.category_ids.is_empty())
                || t.scope.sku_ids.contains(&l.sku_id)
                || l.categories
                    .iter()
                    .any(|c| t.scope.category_ids.contains(c))
        })
        .map(|l| l.subtotal_fen)
        .sum();
    if eligible == 0 {
        return Err(invalid(format!(
            "the coupon {name} does not apply to any product in this order (out of scope)"
        )));
    }
    let threshold = t.threshold()?;
    if eligible < threshold {
        return Err(invalid(format!(
            "the coupon {name} needs {} yuan of eligible products; this order has {} (below threshold)",
            yuan(threshold),
            yuan(eligible)
        )));
    }
    t.discount_on(eligible)
}

impl Template {
    /// The amount of the template's kind, read from its row: a template without it was not
    /// written by Rouge, and is an error (INTERNAL), never a zero.
    fn stored(&self, value: Option<i64>, field: &str) -> Result<i64, CouponsError> {
        value.ok_or_else(|| {
            DbErr::Type(format!(
                "coupon template {} of kind {} has no {field}",
                self.id,
                self.kind.to_value()
            ))
            .into()
        })
    }

    /// What eligible products must add up to (a threshold reduction always has one; a
    /// percentage discount may).
    fn threshold(&self) -> Result<i64, CouponsError> {
        match (self.kind, self.threshold_fen) {
            (CouponKind::ThresholdReduction, threshold) => self.stored(threshold, "threshold_fen"),
            (_, Some(threshold)) => Ok(threshold),
            // No threshold: any eligible amount qualifies.
            (_, None) => Ok(0),
        }
    }

    /// What the coupon takes off `eligible` fen of products in its scope.
    fn discount_on(&self, eligible: i64) -> Result<i64, CouponsError> {
        let amount = match self.kind {
            CouponKind::ThresholdReduction => self.stored(self.reduction_fen, "reduction_fen")?,
            CouponKind::PercentDiscount => {
                let percent = self.stored(self.percent_off.map(i64::from), "percent_off")?;
                let off = eligible * percent / 100;
                self.cap_fen.map_or(off, |cap| std::cmp::min(off, cap))
            }
            CouponKind::Cash => self.stored(self.amount_fen, "amount_fen")?,
            CouponKind::Gift => 0,
        };
        Ok(std::cmp::min(amount, eligible))
    }
}

/// The discount lines of a set of coupons on a basket: each must apply, more than one only if
/// all stack, one per template; the total never exceeds what is left to pay.
fn combine(
    chosen: &[(coupon::Model, Template)],
    basket: &Basket<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Discount)>, CouponsError> {
    let mut templates = HashSet::new();
    for (_, t) in chosen {
        if !templates.insert(t.id) {
            return Err(invalid(format!(
                "only one coupon {} can be used on an order",
                t.name
            )));
        }
        if chosen.len() > 1 && !t.stacks_with_coupons {
            return Err(invalid(format!(
                "the coupon {} cannot be combined with other coupons",
                t.name
            )));
        }
    }
    let mut left = std::cmp::max(basket.subtotal() - basket.discounted_fen, 0);
    let mut out = Vec::new();
    for (c, t) in chosen {
        let amount = std::cmp::min(evaluate(c, t, basket, now)?, left);
        left -= amount;
        out.push((
            c.id,
            Discount {
                kind: DiscountKind::Coupon,
                label: t.name.clone(),
                amount_fen: amount,
                reference: Some(c.id.to_string()),
            },
        ));
    }
    Ok(out)
}

/// The member's coupons with these ids, checked to be theirs.
pub(super) async fn owned<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    ids: &[i64],
) -> Result<Vec<(coupon::Model, Template)>, CouponsError> {
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    if unique.len() != ids.len() {
        return Err(invalid("the same coupon is listed twice"));
    }
    if ids.len() > 10 {
        return Err(invalid("at most 10 coupons on one order"));
    }
    let rows = coupon::Entity::find()
        .filter(coupon::Column::Id.is_in(unique))
        .all(db)
        .await?;
    if rows.len() != ids.len() {
        return Err(CouponsError::NotFound("coupon"));
    }
    if rows.iter().any(|r| r.member_id != member_id) {
        return Err(CouponsError::NotYours);
    }
    let templates = templates_by_id(db, rows.iter().map(|r| r.template_id)).await?;
    let mut out = Vec::new();
    for id in ids {
        let row = rows
            .iter()
            .find(|r| r.id == *id)
            .ok_or(CouponsError::NotFound("coupon"))?;
        let t = templates
            .get(&row.template_id)
            .ok_or(CouponsError::NotFound("coupon template"))?;
        out.push((row.clone(), t.clone()));
    }
    Ok(out)
}

/// Coupon discount lines for an order being placed, checked against the member's coupons.
/// Returns (coupon id, discount) pairs; the caller marks them used with [`mark_used`] in the
/// order's transaction.
pub(crate) async fn discounts_for_order<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    coupon_ids: &[i64],
    basket: &Basket<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Discount)>, CouponsError> {
    if coupon_ids.is_empty() {
        return Ok(vec![]);
    }
    let chosen = owned(db, member_id, coupon_ids).await?;
    combine(&chosen, basket, now)
}

/// The best combination of the member's usable coupons: the largest discount (ties: fewer
/// coupons). Every single coupon is tried, and the set of all stacking ones (one per template,
/// the best of each); since discounts add up, that covers the best stacking set.
pub(super) async fn best_combination<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    basket: &Basket<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Discount)>, CouponsError> {
    let rows = coupon::Entity::find()
        .filter(coupon::Column::MemberId.eq(member_id))
        .filter(coupon::Column::Status.eq(CouponStatus::Available))
        .filter(coupon::Column::ValidUntil.gt(now))
        .filter(coupon::Column::ValidFrom.lte(now))
        .order_by_asc(coupon::Column::ValidUntil)
        .limit(200)
        .all(db)
        .await?;
    let templates = templates_by_id(db, rows.iter().map(|r| r.template_id)).await?;
    let mut usable: Vec<(coupon::Model, Template, i64)> = Vec::new();
    for row in rows {
        let Some(t) = templates.get(&row.template_id) else {
            continue;
        };
        if let Ok(amount) = evaluate(&row, t, basket, now)
            && amount > 0
        {
            usable.push((row, t.clone(), amount));
        }
    }
    let mut best: Vec<(i64, Discount)> = Vec::new();
    let mut best_total = 0;
    let consider = |set: Vec<(coupon::Model, Template)>,
                    best: &mut Vec<(i64, Discount)>,
                    best_total: &mut i64| {
        if let Ok(lines) = combine(&set, basket, now) {
            let total: i64 = lines.iter().map(|(_, d)| d.amount_fen).sum();
            if total > *best_total || (total == *best_total && lines.len() < best.len()) {
                *best_total = total;
                *best = lines;
            }
        }
    };
    for (c, t, _) in &usable {
        consider(vec![(c.clone(), t.clone())], &mut best, &mut best_total);
    }
    // Soonest-expiring first (the query's order), the best copy per template.
    let mut per_template: HashMap<i64, (coupon::Model, Template, i64)> = HashMap::new();
    for (c, t, amount) in usable.into_iter().filter(|(_, t, _)| t.stacks_with_coupons) {
        match per_template.get(&t.id) {
            Some((_, _, a)) if *a >= amount => {}
            _ => {
                per_template.insert(t.id, (c, t, amount));
            }
        }
    }
    let mut stack: Vec<(coupon::Model, Template, i64)> = per_template.into_values().collect();
    stack.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.id.cmp(&b.0.id)));
    if stack.len() > 1 {
        consider(
            stack.into_iter().map(|(c, t, _)| (c, t)).collect(),
            &mut best,
            &mut best_total,
        );
    }
    Ok(best)
}

/// Marks coupons used by an order, in the order's transaction. A coupon used meanwhile (by a
/// concurrent order or at the counter) is a CONFLICT and the whole order rolls back.
pub(crate) async fn mark_used(
    txn: &DatabaseTransaction,
    member_id: i64,
    used: &[(i64, Discount)],
    order_id: Option<i64>,
    store_id: Option<i64>,
    staff_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), CouponsError> {
    for (coupon_id, d) in used {
        let updated = coupon::Entity::update_many()
            .col_expr(coupon::Column::Status, Expr::value(CouponStatus::Used))
            .col_expr(coupon::Column::UsedAt, Expr::value(now))
            .col_expr(coupon::Column::UsedOrderId, Expr::value(order_id))
            .col_expr(coupon::Column::UsedStoreId, Expr::value(store_id))
            .col_expr(coupon::Column::UsedByStaff, Expr::value(staff_id))
            .col_expr(coupon::Column::DiscountFen, Expr::value(d.amount_fen))
            .filter(coupon::Column::Id.eq(*coupon_id))
            .filter(coupon::Column::MemberId.eq(member_id))
            .filter(coupon::Column::Status.eq(CouponStatus::Available))
            .filter(coupon::Column::ValidUntil.gt(now))
            .exec(txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(CouponsError::AlreadyUsed(d.label.clone()));
        }
    }
    Ok(())
}

/// Gives back the coupons an order used, when the order is fully refunded or closed unpaid:
/// still-valid ones become AVAILABLE again, the others EXPIRED. Called in that transaction.
pub(crate) async fn release_for_order<C: ConnectionTrait>(
    db: &C,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut released = 0;
    for (status, still_valid) in [
        (CouponStatus::Available, true),
        (CouponStatus::Expired, false),
    ] {
        let validity = if still_valid {
            coupon::Column::ValidUntil.gt(now)
        } else {
            coupon::Column::ValidUntil.lte(now)
        };
        let r = coupon::Entity::update_many()
            .col_expr(coupon::Column::Status, Expr::value(status))
            .col_expr(
                coupon::Column::UsedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                coupon::Column::UsedOrderId,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                coupon::Column::UsedStoreId,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                coupon::Column::UsedByStaff,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(coupon::Column::DiscountFen, Expr::value(0i64))
            .filter(coupon::Column::UsedOrderId.eq(order_id))
            .filter(coupon::Column::Status.eq(CouponStatus::Used))
            .filter(validity)
            .exec(db)
            .await?;
        released += r.rows_affected;
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::super::{Scope, Validity};
    use super::*;

    fn tpl(kind: CouponKind) -> Template {
        Template {
            id: 1,
            name: "t".into(),
            kind,
            threshold_fen: None,
            reduction_fen: None,
            percent_off: None,
            cap_fen: None,
            amount_fen: None,
            gift_sku_id: None,
            total_quantity: 10,
            issued: 0,
            per_member_limit: 1,
            validity: Validity::DaysFromIssue(7),
            scope: Scope::default(),
            stacks_with_coupons: true,
            stacks_with_flash_sale: false,
            birthday: false,
            active: true,
            created_at: Utc::now(),
        }
    }

    fn copy(id: i64, template_id: i64, now: DateTime<Utc>) -> coupon::Model {
        coupon::Model {
            id,
            template_id,
            member_id: 1,
            seq: 1,
            status: CouponStatus::Available,
            source: super::super::CouponSource::Claim,
            issue_key: id.to_string(),
            source_key: None,
            valid_from: now - Duration::days(1),
            valid_until: now + Duration::days(1),
            issued_at: now,
            used_at: None,
            used_order_id: None,
            used_store_id: None,
            used_by_staff: None,
            discount_fen: 0,
        }
    }

    #[test]
    fn each_kind_prices_its_way_and_says_why_not() {
        let now = Utc::now();
        let lines = [
            ScopedLine {
                sku_id: 1,
                categories: vec![10],
                subtotal_fen: 20_000,
            },
            ScopedLine {
                sku_id: 2,
                categories: vec![20, 10],
                subtotal_fen: 15_000,
            },
        ];
        let basket = Basket {
            channel: Channel::Online,
            store_id: None,
            lines: &lines,
            discounted_fen: 0,
            has_flash_sale: false,
        };
        let mut t = tpl(CouponKind::ThresholdReduction);
        t.threshold_fen = Some(30_000);
        t.reduction_fen = Some(5_000);
        assert_eq!(evaluate(&copy(1, 1, now), &t, &basket, now).unwrap(), 5_000);
        t.scope.sku_ids = vec![1];
        let e = evaluate(&copy(1, 1, now), &t, &basket, now).unwrap_err();
        assert!(e.to_string().contains("below threshold"), "{e}");
        t.scope.sku_ids = vec![3];
        let e = evaluate(&copy(1, 1, now), &t, &basket, now).unwrap_err();
        assert!(e.to_string().contains("out of scope"), "{e}");
        t.scope.sku_ids = vec![];
        t.scope.category_ids = vec![20];
        t.threshold_fen = Some(10_000);
        assert_eq!(evaluate(&copy(1, 1, now), &t, &basket, now).unwrap(), 5_000);

        let mut p = tpl(CouponKind::PercentDiscount);
        p.percent_off = Some(20);
        p.cap_fen = Some(5_000);
        assert_eq!(evaluate(&copy(1, 1, now), &p, &basket, now).unwrap(), 5_000);
        p.cap_fen = Some(100_000);
        assert_eq!(evaluate(&copy(1, 1, now), &p, &basket, now).unwrap(), 7_000);

        let mut c = tpl(CouponKind::Cash);
        c.amount_fen = Some(1_000);
        c.scope.channels = vec![Channel::InStore];
        assert!(matches!(
            evaluate(&copy(1, 1, now), &c, &basket, now),
            Err(CouponsError::InvalidInput(_))
        ));
        let mut expired = copy(1, 1, now);
        expired.valid_until = now;
        assert!(matches!(
            evaluate(&expired, &p, &basket, now),
            Err(CouponsError::Expired(_))
        ));
        let mut used = copy(1, 1, now);
        used.status = CouponStatus::Used;
        assert!(matches!(
            evaluate(&used, &p, &basket, now),
            Err(CouponsError::AlreadyUsed(_))
        ));
    }

    #[test]
    fn a_template_without_the_amount_of_its_kind_is_an_error_not_a_zero() {
        let now = Utc::now();
        let lines = [ScopedLine {
            sku_id: 1,
            categories: vec![],
            subtotal_fen: 40_000,
        }];
        let basket = Basket {
            channel: Channel::Online,
            store_id: None,
            lines: &lines,
            discounted_fen: 0,
            has_flash_sale: false,
        };
        let mut reduction = tpl(CouponKind::ThresholdReduction);
        reduction.reduction_fen = Some(5_000);
        let mut percent = tpl(CouponKind::PercentDiscount);
        percent.cap_fen = Some(5_000);
        for t in [tpl(CouponKind::Cash), reduction, percent] {
            assert!(
                matches!(
                    evaluate(&copy(1, 1, now), &t, &basket, now),
                    Err(CouponsError::Store(_))
                ),
                "{:?}",
                t.kind
            );
        }
    }

    #[test]
    fn combinations_stack_only_when_every_coupon_stacks_and_never_exceed_the_total() {
        let now = Utc::now();
        let lines = [ScopedLine {
            sku_id: 1,
            categories: vec![],
            subtotal_fen: 3_000,
        }];
        let basket = Basket {
            channel: Channel::Online,
            store_id: None,
            lines: &lines,
            discounted_fen: 500,
            has_flash_sale: false,
        };
        let mut a = tpl(CouponKind::Cash);
        a.amount_fen = Some(2_000);
        let mut b = tpl(CouponKind::Cash);
        b.id = 2;
        b.amount_fen = Some(2_000);
        let lines = combine(
            &[(copy(1, 1, now), a.clone()), (copy(2, 2, now), b.clone())],
            &basket,
            now,
        )
        .unwrap();
        let amounts: Vec<i64> = lines.iter().map(|(_, d)| d.amount_fen).collect();
        assert_eq!(amounts, vec![2_000, 500]);
        b.stacks_with_coupons = false;
        assert!(
            combine(
                &[(copy(1, 1, now), a.clone()), (copy(2, 2, now), b)],
                &basket,
                now
            )
            .is_err()
        );
        assert!(
            combine(
                &[(copy(1, 1, now), a.clone()), (copy(2, 1, now), a)],
                &basket,
                now
            )
            .is_err()
        );
    }
}
