//! HQ defines coupon templates, switches them on and off, and lists them; the demo seed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{
    CouponKind, CouponsError, NewTemplate, Template, Validity, invalid, load_template, template_row,
};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::page::{IdKey, Keyset, Page};
use crate::pricing::Channel;
use entities::typed::JsonText;
use entities::{coupon_template, sku};

fn positive(field: &str, v: Option<i64>) -> Result<i64, CouponsError> {
    match v {
        Some(v) if (1..=100_000_000).contains(&v) => Ok(v),
        _ => Err(invalid(format!(
            "{field} must be a positive amount in fen (at most 1,000,000 yuan)"
        ))),
    }
}

fn check_template(t: &NewTemplate) -> Result<String, CouponsError> {
    let name =
        crate::platform::validate::text("name", &t.name, 40).map_err(CouponsError::InvalidInput)?;
    match t.kind {
        CouponKind::ThresholdReduction => {
            let threshold = positive("thresholdFen", t.threshold_fen)?;
            let reduction = positive("reductionFen", t.reduction_fen)?;
            if reduction >= threshold {
                return Err(invalid("reductionFen must be below thresholdFen"));
            }
        }
        CouponKind::PercentDiscount => {
            if !t.percent_off.is_some_and(|p| (1..=99).contains(&p)) {
                return Err(invalid("percentOff must be between 1 and 99"));
            }
            positive("capFen", t.cap_fen)?;
            if t.threshold_fen.is_some() {
                positive("thresholdFen", t.threshold_fen)?;
            }
        }
        CouponKind::Cash => {
            positive("amountFen", t.amount_fen)?;
        }
        CouponKind::Gift => {
            if t.gift_sku_id.is_none() {
                return Err(invalid("a gift coupon names its giftSkuId"));
            }
            if t.scope.channels.contains(&Channel::Online) {
                return Err(invalid("gift coupons are handed out in store only"));
            }
        }
    }
    if !(1..=10_000_000).contains(&t.total_quantity) {
        return Err(invalid("totalQuantity must be between 1 and 10,000,000"));
    }
    if !(1..=100).contains(&t.per_member_limit) {
        return Err(invalid("perMemberLimit must be between 1 and 100"));
    }
    match t.validity {
        Validity::Fixed { from, until } if until <= from => {
            return Err(invalid(
                "the validity window is empty: validUntil must be after validFrom",
            ));
        }
        Validity::DaysFromIssue(days) if !(1..=3650).contains(&days) => {
            return Err(invalid("validDays must be between 1 and 3650"));
        }
        _ => {}
    }
    for list in [&t.scope.sku_ids, &t.scope.category_ids, &t.scope.store_ids] {
        if list.len() > 200 {
            return Err(invalid("a scope lists at most 200 ids"));
        }
    }
    Ok(name)
}

/// A scope's ids, each once, in order (the stored JSON text is the same as it always was).
fn id_set(ids: &[i64]) -> JsonText<Vec<i64>> {
    let set: BTreeSet<i64> = ids.iter().copied().collect();
    JsonText(set.into_iter().collect())
}

/// A scope's channels, each once, in the order of their stored text (as always written).
fn channel_set(channels: &[Channel]) -> JsonText<Vec<Channel>> {
    let mut set = channels.to_vec();
    set.sort_by_key(|c| c.as_str());
    set.dedup();
    JsonText(set)
}

/// HQ defines a coupon template.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn create_template(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewTemplate,
) -> Result<Template, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    let name = check_template(&input)?;
    if let Some(gift) = input.gift_sku_id.filter(|_| input.kind == CouponKind::Gift) {
        sku::Entity::find_by_id(gift)
            .one(&app.db)
            .await?
            .ok_or_else(|| invalid("the gift SKU does not exist"))?;
    }
    let now = app.clock.now();
    let kind = input.kind;
    let pick = |k: CouponKind, v: Option<i64>| if kind == k { v } else { None };
    let (from, until, days) = match input.validity {
        Validity::Fixed { from, until } => (Some(from), Some(until), None),
        Validity::DaysFromIssue(d) => (None, None, Some(d)),
    };
    let row = coupon_template::ActiveModel {
        name: Set(name),
        kind: Set(kind),
        threshold_fen: Set(match kind {
            CouponKind::ThresholdReduction | CouponKind::PercentDiscount => input.threshold_fen,
            _ => None,
        }),
        reduction_fen: Set(pick(CouponKind::ThresholdReduction, input.reduction_fen)),
        percent_off: Set(input
            .percent_off
            .filter(|_| kind == CouponKind::PercentDiscount)),
        cap_fen: Set(pick(CouponKind::PercentDiscount, input.cap_fen)),
        amount_fen: Set(pick(CouponKind::Cash, input.amount_fen)),
        gift_sku_id: Set(pick(CouponKind::Gift, input.gift_sku_id)),
        total_quantity: Set(input.total_quantity),
        issued: Set(0),
        per_member_limit: Set(input.per_member_limit),
        valid_from: Set(from),
        valid_until: Set(until),
        valid_days: Set(days),
        sku_ids: Set(id_set(&input.scope.sku_ids)),
        category_ids: Set(id_set(&input.scope.category_ids)),
        channels: Set(channel_set(&input.scope.channels)),
        store_ids: Set(id_set(&input.scope.store_ids)),
        stacks_with_coupons: Set(input.stacks_with_coupons),
        stacks_with_flash_sale: Set(input.stacks_with_flash_sale),
        birthday: Set(input.birthday),
        active: Set(true),
        created_by: Set(Some(staff.staff_id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    Ok(Template::try_from(row)?)
}

/// HQ switches a template on or off; an inactive template can no longer be claimed or issued
/// (copies already held stay usable).
pub async fn set_template_active(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: i64,
    active: bool,
) -> Result<Template, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    let row = template_row(&app.db, template_id).await?;
    let mut m: coupon_template::ActiveModel = row.into();
    m.active = Set(active);
    m.updated_at = Set(app.clock.now());
    Ok(Template::try_from(m.update(&app.db).await?)?)
}

/// Every template, newest first (by id) (HQ).
pub async fn templates(
    app: &AppState,
    staff: &StaffPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<Template>, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    let mut query = coupon_template::Entity::find()
        .order_by_desc(coupon_template::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(coupon_template::Column::Id.lt(after));
    }
    Ok(page
        .page(query.all(&app.db).await?)
        .try_map(Template::try_from)?)
}

pub async fn template(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: i64,
) -> Result<Template, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    load_template(&app.db, template_id).await
}

/// Two demo templates: 满300减50 in every channel, and a stacking 20-yuan cash coupon online.
pub(crate) async fn seed_demo<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<(), DbErr> {
    for (name, kind, threshold, reduction, amount, channels, stacks, total, limit) in [
        (
            "满300减50",
            CouponKind::ThresholdReduction,
            Some(30_000),
            Some(5_000),
            None,
            &[][..],
            false,
            1_000,
            1,
        ),
        (
            "无门槛20元",
            CouponKind::Cash,
            None,
            None,
            Some(2_000),
            &[Channel::Online][..],
            true,
            500,
            2,
        ),
    ] {
        coupon_template::ActiveModel {
            name: Set(name.into()),
            kind: Set(kind),
            threshold_fen: Set(threshold),
            reduction_fen: Set(reduction),
            percent_off: Set(None),
            cap_fen: Set(None),
            amount_fen: Set(amount),
            gift_sku_id: Set(None),
            total_quantity: Set(total),
            issued: Set(0),
            per_member_limit: Set(limit),
            valid_from: Set(None),
            valid_until: Set(None),
            valid_days: Set(Some(30)),
            sku_ids: Set(JsonText(vec![])),
            category_ids: Set(JsonText(vec![])),
            channels: Set(channel_set(channels)),
            store_ids: Set(JsonText(vec![])),
            stacks_with_coupons: Set(stacks),
            stacks_with_flash_sale: Set(false),
            birthday: Set(false),
            active: Set(true),
            created_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The demo's in-store coupon: 门店专享满200减30, at the counter only (a BA scans the member's
/// coupon code). Returns its id.
pub(crate) async fn seed_demo_counter<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let row = coupon_template::ActiveModel {
        name: Set("门店专享满200减30".into()),
        kind: Set(CouponKind::ThresholdReduction),
        threshold_fen: Set(Some(20_000)),
        reduction_fen: Set(Some(3_000)),
        percent_off: Set(None),
        cap_fen: Set(None),
        amount_fen: Set(None),
        gift_sku_id: Set(None),
        total_quantity: Set(1_000),
        issued: Set(0),
        per_member_limit: Set(1),
        valid_from: Set(None),
        valid_until: Set(None),
        valid_days: Set(Some(30)),
        sku_ids: Set(JsonText(vec![])),
        category_ids: Set(JsonText(vec![])),
        channels: Set(channel_set(&[Channel::InStore])),
        store_ids: Set(JsonText(vec![])),
        stacks_with_coupons: Set(false),
        stacks_with_flash_sale: Set(false),
        birthday: Set(false),
        active: Set(true),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::super::Scope;
    use super::*;

    #[test]
    fn templates_refuse_bad_amounts_and_windows() {
        let now = Utc::now();
        let base = NewTemplate {
            name: "满300减50".into(),
            kind: CouponKind::ThresholdReduction,
            threshold_fen: Some(30_000),
            reduction_fen: Some(5_000),
            percent_off: None,
            cap_fen: None,
            amount_fen: None,
            gift_sku_id: None,
            total_quantity: 100,
            per_member_limit: 1,
            validity: Validity::DaysFromIssue(30),
            scope: Scope::default(),
            stacks_with_coupons: false,
            stacks_with_flash_sale: false,
            birthday: false,
        };
        assert!(check_template(&base).is_ok());
        let mut t = base.clone();
        t.reduction_fen = Some(30_000);
        assert!(check_template(&t).is_err());
        let mut t = base.clone();
        t.kind = CouponKind::PercentDiscount;
        t.percent_off = Some(100);
        t.cap_fen = Some(1_000);
        assert!(check_template(&t).is_err());
        t.percent_off = Some(0);
        assert!(check_template(&t).is_err());
        t.percent_off = Some(15);
        assert!(check_template(&t).is_ok());
        let mut t = base.clone();
        t.validity = Validity::Fixed {
            from: now,
            until: now,
        };
        assert!(check_template(&t).is_err());
        let mut t = base;
        t.kind = CouponKind::Cash;
        t.amount_fen = Some(-5);
        assert!(check_template(&t).is_err());
    }
}
