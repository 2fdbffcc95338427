//! At the counter: the member's short-lived coupon QR, what a BA sees when scanning it, and the
//! redemption of gift coupons (price coupons go on a counter sale, see orders).

use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;

use super::pricing::{mark_used, owned};
use super::{
    CODE_KIND, CODE_TTL, Coupon, CouponKind, CouponStatus, CouponsError, invalid, load_template,
    status_of, to_coupon, with_templates,
};
use crate::AppState;
use crate::auth::{MemberPrincipal, Permission, StaffPrincipal};
use crate::inventory::{self, MovementKind};
use crate::platform::db;
use crate::platform::signed_codes::CodeError;
use crate::pricing::{Channel, Discount, DiscountKind};
use entities::coupon;

/// A coupon QR for the counter: a signed code naming the coupon, valid for [`CODE_TTL`].
pub async fn coupon_code(
    app: &AppState,
    me: &MemberPrincipal,
    coupon_id: i64,
) -> Result<(String, DateTime<Utc>), CouponsError> {
    let row = coupon::Entity::find_by_id(coupon_id)
        .one(&app.db)
        .await?
        .ok_or(CouponsError::NotFound("coupon"))?;
    if row.member_id != me.member_id {
        return Err(CouponsError::NotYours);
    }
    let tpl = load_template(&app.db, row.template_id).await?;
    let now = app.clock.now();
    match status_of(&row, now) {
        CouponStatus::Available => {}
        CouponStatus::Used | CouponStatus::Reserved => {
            return Err(CouponsError::AlreadyUsed(tpl.name));
        }
        CouponStatus::Expired => {
            return Err(CouponsError::Expired(format!(
                "the coupon {} has expired",
                tpl.name
            )));
        }
    }
    if !tpl.allows_channel(Channel::InStore) {
        return Err(invalid(format!(
            "the coupon {} cannot be used in store",
            tpl.name
        )));
    }
    let expires = now + CODE_TTL;
    Ok((app.codes.issue(CODE_KIND, coupon_id, expires), expires))
}

/// The coupon a counter code names; EXPIRED when the QR is stale.
pub(crate) fn coupon_id_of_code(app: &AppState, code: &str) -> Result<i64, CouponsError> {
    app.codes
        .verify(CODE_KIND, code, app.clock.now())
        .map_err(|e| match e {
            CodeError::Expired => CouponsError::Expired(
                "the coupon code has expired; ask the member to refresh it".into(),
            ),
            CodeError::Malformed | CodeError::Forged => invalid("this is not a valid coupon code"),
        })
}

/// Coupon ids behind counter codes, for a sale to `member_id` (FORBIDDEN when a coupon is
/// someone else's).
pub(crate) async fn coupon_ids_of_codes(
    app: &AppState,
    member_id: i64,
    codes: &[String],
) -> Result<Vec<i64>, CouponsError> {
    let ids = codes
        .iter()
        .map(|c| coupon_id_of_code(app, c))
        .collect::<Result<Vec<_>, _>>()?;
    owned(&app.db, member_id, &ids).await?;
    Ok(ids)
}

/// What a BA sees after scanning a coupon QR.
pub async fn inspect_coupon_code(
    app: &AppState,
    staff: &StaffPrincipal,
    code: &str,
) -> Result<Coupon, CouponsError> {
    staff.require(Permission::RecordSale)?;
    let id = coupon_id_of_code(app, code)?;
    let row = coupon::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(CouponsError::NotFound("coupon"))?;
    let mut list = with_templates(&app.db, vec![row], app.clock.now()).await?;
    list.pop().ok_or(CouponsError::NotFound("coupon"))
}

/// A BA redeems a gift coupon (兑换券) at the counter: the gift leaves the store's stock and
/// the coupon is used, once (of concurrent scans, exactly one wins; the others get CONFLICT).
/// Price coupons are applied to a counter sale instead (`record_in_store_sale` with codes).
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn redeem_at_counter(
    app: &AppState,
    staff: &StaffPrincipal,
    code: &str,
) -> Result<Coupon, CouponsError> {
    staff.require(Permission::RecordSale)?;
    let store_id = staff
        .store_id
        .ok_or_else(|| invalid("only staff of a store redeem coupons at the counter"))?;
    let id = coupon_id_of_code(app, code)?;
    let row = coupon::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(CouponsError::NotFound("coupon"))?;
    let tpl = load_template(&app.db, row.template_id).await?;
    let now = app.clock.now();
    match status_of(&row, now) {
        CouponStatus::Available => {}
        CouponStatus::Used | CouponStatus::Reserved => {
            return Err(CouponsError::AlreadyUsed(tpl.name));
        }
        CouponStatus::Expired => {
            return Err(CouponsError::Expired(format!(
                "the coupon {} has expired",
                tpl.name
            )));
        }
    }
    if row.valid_from > now {
        return Err(invalid(format!("the coupon {} is not valid yet", tpl.name)));
    }
    if tpl.kind != CouponKind::Gift {
        return Err(invalid(format!(
            "the coupon {} takes money off a sale: apply it when recording the sale",
            tpl.name
        )));
    }
    if !tpl.allows_channel(Channel::InStore) || !tpl.allows_store(Some(store_id)) {
        return Err(invalid(format!(
            "the coupon {} is not valid at this store",
            tpl.name
        )));
    }
    let location = inventory::store_location(&app.db, store_id).await?;
    let txn = db::begin_write(&app.db).await?;
    mark_used(
        &txn,
        row.member_id,
        &[(
            id,
            Discount {
                kind: DiscountKind::Coupon,
                label: tpl.name.clone(),
                amount_fen: 0,
                reference: None,
            },
        )],
        None,
        Some(store_id),
        Some(staff.staff_id),
        now,
    )
    .await?;
    if let Some(gift) = tpl.gift_sku_id {
        let reference = format!("COUPON-{id}");
        inventory::take_fefo(
            &txn,
            inventory::Withdrawal {
                location_id: location.id,
                sku_id: gift,
                quantity: 1,
                kind: MovementKind::Adjustment,
                reference: Some(&reference),
                staff_id: Some(staff.staff_id),
                at: now,
            },
        )
        .await?;
    }
    txn.commit().await?;
    let row = coupon::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(CouponsError::NotFound("coupon"))?;
    Ok(to_coupon(row, tpl, now))
}
