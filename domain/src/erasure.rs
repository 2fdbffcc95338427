//! Erasure of a member's personal data (PIPL art. 47): by the member (`deleteMyAccount`) or by
//! HQ on a request (`eraseMember`). At once and for good, in one transaction:
//!
//! - the member row becomes an anonymous tombstone: phone (ciphertext, blind index, masked),
//!   nickname, birthday, region, skin type and concerns, marketing consent, exclusive BA are
//!   cleared; the WeChat openid is replaced by a random placeholder and the unionid removed, so
//!   the next WeChat login makes a new member;
//! - allergies, tags, consents (policy, sensitive data, subscription messages) and the
//!   computed insight are deleted; delivery addresses on orders and BA notes on bookings are
//!   cleared; audit entries about the member keep who, what and when but lose their details;
//! - pending campaign deliveries are skipped (MEMBER_GONE); available coupons expire; the
//!   points balance is forfeited (one ADJUSTED entry, earning lots emptied);
//! - orders, payments, refunds and ledgers stay (accounting law), pointing to the tombstone, so
//!   every report's totals are unchanged.
//!
//! After the commit the member's sessions are revoked (the account stamp, see
//! [`crate::login::account_changed`]): the next request of any of them is refused. The erasure
//! itself is audited with who, when and why, never the erased values.

use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde_json::json;

use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Audience, AuthError, MemberPrincipal, Permission, StaffPrincipal};
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use crate::{AppState, RequestMeta};
use entities::campaign_delivery::{DeliveryReason, DeliveryState};
use entities::coupon::CouponStatus;
use entities::points_ledger::PointsReason;
use entities::{
    audit_log, booking, campaign_delivery, coupon, member, member_allergy, member_consent,
    member_insight, member_tag, order, points_ledger, subscription_consent,
};

/// What a member types to confirm `deleteMyAccount`.
pub const DELETE_CONFIRMATION: &str = "DELETE";

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum ErasureError {
    #[error("member not found")]
    NotFound,
    #[error("this member's data was already erased")]
    AlreadyErased,
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(ErasureError);

impl DomainError for ErasureError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::AlreadyErased => ErrorCode::Conflict,
            Self::InvalidInput(_) => ErrorCode::BadUserInput,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

/// The member deletes their own account; `confirmation` must be exactly `DELETE`.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn delete_my_account(
    app: &AppState,
    me: &MemberPrincipal,
    meta: &RequestMeta,
    confirmation: &str,
) -> Result<(), ErasureError> {
    if confirmation != DELETE_CONFIRMATION {
        return Err(ErasureError::InvalidInput(format!(
            "type {DELETE_CONFIRMATION} to confirm"
        )));
    }
    erase(
        app,
        meta,
        Actor::Member(me.member_id),
        me.member_id,
        json!({ "by": "member" }),
    )
    .await
}

/// HQ erases a member on a request (a data-protection ticket, a court order): `reason` is kept
/// in the audit log.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id))]
pub async fn erase_member(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
    reason: &str,
) -> Result<(), ErasureError> {
    staff.require(Permission::EraseMembers)?;
    let reason = crate::platform::validate::text("reason", reason, 500)
        .map_err(ErasureError::InvalidInput)?;
    erase(
        app,
        meta,
        Actor::Staff(staff.staff_id),
        member_id,
        json!({ "by": "hq", "reason": reason }),
    )
    .await
}

fn placeholder_openid() -> String {
    let mut buf = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    format!("erased:{}", hex::encode(buf))
}

async fn erase(
    app: &AppState,
    meta: &RequestMeta,
    actor: Actor,
    member_id: i64,
    detail: serde_json::Value,
) -> Result<(), ErasureError> {
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let row = member::Entity::find_by_id(member_id)
        .one(&txn)
        .await?
        .ok_or(ErasureError::NotFound)?;
    if row.erased_at.is_some() {
        return Err(ErasureError::AlreadyErased);
    }
    let mut tombstone = row.into_active_model();
    tombstone.openid = Set(placeholder_openid());
    tombstone.unionid = Set(None);
    tombstone.nickname = Set(None);
    tombstone.gender = Set(member::Gender::Unknown);
    tombstone.birthday = Set(None);
    tombstone.region_province = Set(None);
    tombstone.region_city = Set(None);
    tombstone.region_district = Set(None);
    tombstone.region_code = Set(None);
    tombstone.skin_type = Set(None);
    tombstone.skin_concerns = Set(0);
    tombstone.marketing_consent = Set(false);
    tombstone.marketing_consent_at = Set(None);
    tombstone.phone_cipher = Set(None);
    tombstone.phone_index = Set(None);
    tombstone.phone_masked = Set(None);
    tombstone.exclusive_ba_id = Set(None);
    tombstone.profile_updated_at = Set(None);
    tombstone.profile_updated_by = Set(None);
    tombstone.updated_at = Set(now);
    tombstone.erased_at = Set(Some(now));
    tombstone.update(&txn).await?;
    delete_profile_rows(&txn, member_id).await?;
    // skin photos: rows and wrapped keys now, the objects right after the commit
    let objects = crate::media::erase_member_media(&txn, member_id, now).await?;
    clear_free_text(&txn, member_id).await?;
    forfeit(&txn, member_id, now).await?;
    // The member's own audit trail keeps who did what when, without the values.
    audit_log::Entity::update_many()
        .col_expr(audit_log::Column::Detail, Expr::value("{}"))
        .filter(audit_log::Column::SubjectKind.eq(SubjectKind::Member))
        .filter(audit_log::Column::SubjectId.eq(member_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        app,
        meta,
        actor,
        Action::MemberErase,
        (SubjectKind::Member, Some(member_id)),
        detail,
    )
    .await?;
    txn.commit().await?;
    crate::media::purge_member_objects(app, objects).await;
    crate::login::account_changed(app, Audience::Consumer, member_id).await?;
    Ok(())
}

async fn delete_profile_rows<C: ConnectionTrait>(db: &C, member_id: i64) -> Result<(), StoreError> {
    member_allergy::Entity::delete_many()
        .filter(member_allergy::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    member_tag::Entity::delete_many()
        .filter(member_tag::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    member_consent::Entity::delete_many()
        .filter(member_consent::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    subscription_consent::Entity::delete_many()
        .filter(subscription_consent::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    member_insight::Entity::delete_many()
        .filter(member_insight::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Free text that may hold personal data: where orders went, what the BA noted.
async fn clear_free_text<C: ConnectionTrait>(db: &C, member_id: i64) -> Result<(), StoreError> {
    order::Entity::update_many()
        .col_expr(
            order::Column::DeliveryAddress,
            Expr::value(Option::<String>::None),
        )
        .filter(order::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    booking::Entity::update_many()
        .col_expr(booking::Column::Notes, Expr::value(Option::<String>::None))
        .filter(booking::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Queued messages are not sent, coupons and points are forfeited.
async fn forfeit<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    campaign_delivery::Entity::update_many()
        .col_expr(
            campaign_delivery::Column::State,
            Expr::value(DeliveryState::Skipped),
        )
        .col_expr(
            campaign_delivery::Column::Reason,
            Expr::value(DeliveryReason::MemberGone),
        )
        .filter(campaign_delivery::Column::MemberId.eq(member_id))
        .filter(campaign_delivery::Column::State.is_in([
            DeliveryState::Pending,
            DeliveryState::Claimed,
            DeliveryState::Ready,
        ]))
        .exec(db)
        .await?;
    coupon::Entity::update_many()
        .col_expr(coupon::Column::Status, Expr::value(CouponStatus::Expired))
        .filter(coupon::Column::MemberId.eq(member_id))
        .filter(coupon::Column::Status.eq(CouponStatus::Available))
        .exec(db)
        .await?;
    let entries = points_ledger::Entity::find()
        .filter(points_ledger::Column::MemberId.eq(member_id))
        .all(db)
        .await?;
    let balance: i64 = entries.iter().map(|e| e.delta).sum();
    points_ledger::Entity::update_many()
        .col_expr(points_ledger::Column::Remaining, Expr::value(0_i64))
        .filter(points_ledger::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    if balance > 0 {
        points_ledger::ActiveModel {
            member_id: Set(member_id),
            delta: Set(-balance),
            reason: Set(PointsReason::Adjusted),
            reference: Set(Some("erasure".into())),
            idempotency_key: Set(format!("erasure:{member_id}")),
            expires_at: Set(None),
            remaining: Set(0),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}
