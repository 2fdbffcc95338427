//! HQ's figures for one template: copies issued, claimed, redeemed and expired, the discount
//! given and what the orders that used it brought in.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{CouponSource, CouponStatus, CouponsError, Template, load_template, shown_status};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use entities::order::OrderStatus;
use entities::{coupon, order};

#[derive(Debug, Clone)]
pub struct CouponReport {
    pub template: Template,
    /// Copies given out by any means.
    pub issued: i64,
    /// Of which claimed by members in the claim centre.
    pub claimed: i64,
    /// Used on an order or at the counter.
    pub redeemed: i64,
    /// Ended unused.
    pub expired: i64,
    /// Still usable.
    pub available: i64,
    pub discount_fen: i64,
    /// What the paid orders that used it brought in (after refunds).
    pub revenue_fen: i64,
    pub orders: i64,
}

/// status, source, valid until, order used on, discount given
type ReportRow = (CouponStatus, CouponSource, DateTime<Utc>, Option<i64>, i64);

/// HQ's figures for one template.
pub async fn coupon_report(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: i64,
) -> Result<CouponReport, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    let template = load_template(&app.db, template_id).await?;
    let now = app.clock.now();
    let rows: Vec<ReportRow> = coupon::Entity::find()
        .select_only()
        .column(coupon::Column::Status)
        .column(coupon::Column::Source)
        .column(coupon::Column::ValidUntil)
        .column(coupon::Column::UsedOrderId)
        .column(coupon::Column::DiscountFen)
        .filter(coupon::Column::TemplateId.eq(template_id))
        .into_tuple()
        .all(&app.db)
        .await?;
    let mut report = CouponReport {
        template,
        issued: 0,
        claimed: 0,
        redeemed: 0,
        expired: 0,
        available: 0,
        discount_fen: 0,
        revenue_fen: 0,
        orders: 0,
    };
    let mut order_ids = BTreeSet::new();
    for (status, source, valid_until, order_id, discount) in rows {
        report.issued += 1;
        if source == CouponSource::Claim {
            report.claimed += 1;
        }
        match shown_status(status, valid_until, now) {
            CouponStatus::Used | CouponStatus::Reserved => {
                report.redeemed += 1;
                report.discount_fen += discount;
                order_ids.extend(order_id);
            }
            CouponStatus::Expired => report.expired += 1,
            CouponStatus::Available => report.available += 1,
        }
    }
    let paid = [OrderStatus::Paid, OrderStatus::PartiallyRefunded];
    let figures: Vec<(i64, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::TotalFen)
        .column(order::Column::RefundedFen)
        .filter(order::Column::Id.is_in(order_ids))
        .filter(order::Column::Status.is_in(paid))
        .into_tuple()
        .all(&app.db)
        .await?;
    report.orders = i64::try_from(figures.len()).unwrap_or(i64::MAX);
    report.revenue_fen = figures.iter().map(|(t, r)| t - r).sum();
    Ok(report)
}
