//! A campaign's report: the delivery queue counted by state and reason, orders attributed to
//! it (last touch within the attribution window) and its coupons. Built with sea-query, so the
//! same statements run on SQLite and PostgreSQL.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::dispatch::OPEN_STATES;
use super::{CampaignsError, DeliveryReason, DeliveryState, segments};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::coupons;
use entities::{campaign, campaign_delivery, order};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CampaignReport {
    pub campaign_id: i64,
    /// Members the segment selected (written to the delivery queue so far).
    pub audience: i64,
    /// Audience minus those skipped for no consent, no marketing consent or the cap.
    pub eligible: i64,
    pub sent: i64,
    pub pending: i64,
    pub failed: i64,
    pub failed_by_reason: Vec<(String, i64)>,
    pub skipped_by_reason: Vec<(String, i64)>,
    /// Paid orders by recipients within the attribution window after their message (last
    /// touch: an order counts to the latest campaign message before it).
    pub orders: i64,
    pub revenue_fen: i64,
    /// Copies of the campaign's coupon given to recipients, and how many of them were used.
    pub coupons_issued: i64,
    pub coupons_redeemed: i64,
}

#[derive(FromQueryResult)]
struct Attributed {
    orders: i64,
    revenue: Option<i64>,
}

pub async fn report(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<CampaignReport, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    campaign::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(CampaignsError::NotFound("campaign"))?;
    report_of(app, id).await
}

pub async fn report_of(app: &AppState, id: i64) -> Result<CampaignReport, CampaignsError> {
    let mut r = CampaignReport {
        campaign_id: id,
        ..Default::default()
    };
    count_states(app, id, &mut r).await?;
    (r.orders, r.revenue_fen) = attributed_orders(app, id).await?;
    (r.coupons_issued, r.coupons_redeemed) =
        coupons::issued_from_source(app, coupons::CouponSource::Campaign, &id.to_string()).await?;
    Ok(r)
}

/// Audience, sent, pending, failed and skipped by reason, from the delivery queue.
async fn count_states(
    app: &AppState,
    id: i64,
    r: &mut CampaignReport,
) -> Result<(), CampaignsError> {
    let rows: Vec<(DeliveryState, Option<DeliveryReason>, i64)> = campaign_delivery::Entity::find()
        .select_only()
        .column(campaign_delivery::Column::State)
        .column(campaign_delivery::Column::Reason)
        .column_as(
            Expr::col(campaign_delivery::Column::Id)
                .count()
                .cast_as("BIGINT"),
            "n",
        )
        .filter(campaign_delivery::Column::CampaignId.eq(id))
        .group_by(campaign_delivery::Column::State)
        .group_by(campaign_delivery::Column::Reason)
        .order_by_asc(campaign_delivery::Column::State)
        .order_by_asc(campaign_delivery::Column::Reason)
        .into_tuple()
        .all(&app.db)
        .await?;
    for (state, reason, n) in rows {
        r.audience += n;
        let reason = reason.map_or_else(|| "UNKNOWN".to_owned(), |r| r.to_value());
        match state {
            DeliveryState::Sent => r.sent += n,
            DeliveryState::Failed => {
                r.failed += n;
                r.failed_by_reason.push((reason, n));
            }
            open if OPEN_STATES.contains(&open) => r.pending += n,
            _ => r.skipped_by_reason.push((reason, n)),
        }
    }
    let ineligible: i64 = r
        .skipped_by_reason
        .iter()
        .filter(|(reason, _)| {
            [
                DeliveryReason::NoConsent,
                DeliveryReason::NoMarketingConsent,
                DeliveryReason::OverCap,
            ]
            .iter()
            .any(|r| r.to_value() == *reason)
        })
        .map(|(_, n)| n)
        .sum();
    r.eligible = r.audience - ineligible;
    Ok(())
}

/// Last touch: an order counts to this campaign when this message is the latest SENT campaign
/// message to the member before the payment, and the payment is in its window.
async fn attributed_orders(app: &AppState, id: i64) -> Result<(i64, i64), CampaignsError> {
    let (d, o, l) = (Alias::new("d"), Alias::new("o"), Alias::new("l"));
    use campaign_delivery::Column as D;
    let later_message = Query::select()
        .expr(Expr::val(1))
        .from_as(campaign_delivery::Entity, l.clone())
        .and_where(Expr::col((l.clone(), D::MemberId)).equals((d.clone(), D::MemberId)))
        .and_where(Expr::col((l.clone(), D::State)).eq(DeliveryState::Sent))
        .and_where(Expr::col((l.clone(), D::Id)).ne(Expr::col((d.clone(), D::Id))))
        .and_where(Expr::col((l.clone(), D::SentAt)).gt(Expr::col((d.clone(), D::SentAt))))
        .and_where(
            Expr::col((l.clone(), D::SentAt)).lte(Expr::col((o.clone(), order::Column::PaidAt))),
        )
        .to_owned();
    let select = Query::select()
        .expr_as(
            Expr::col((o.clone(), order::Column::Id))
                .count()
                .cast_as("BIGINT"),
            "orders",
        )
        .expr_as(
            Expr::col((o.clone(), order::Column::TotalFen))
                .sum()
                .cast_as("BIGINT"),
            "revenue",
        )
        .from_as(campaign_delivery::Entity, d.clone())
        .join_as(
            sea_orm::JoinType::InnerJoin,
            order::Entity,
            o.clone(),
            Expr::col((o.clone(), order::Column::MemberId)).equals((d.clone(), D::MemberId)),
        )
        .and_where(Expr::col((d.clone(), D::CampaignId)).eq(id))
        .and_where(Expr::col((d.clone(), D::State)).eq(DeliveryState::Sent))
        .and_where(Expr::col((o.clone(), order::Column::Status)).is_in(segments::PURCHASED))
        .and_where(
            Expr::col((o.clone(), order::Column::PaidAt)).gte(Expr::col((d.clone(), D::SentAt))),
        )
        .and_where(
            Expr::col((o.clone(), order::Column::PaidAt))
                .lte(Expr::col((d.clone(), D::AttributionUntil))),
        )
        .and_where(Expr::exists(later_message).not())
        .to_owned();
    let row = app.db.query_one(&select).await?;
    let attributed = row
        .map(|row| Attributed::from_query_result(&row, ""))
        .transpose()?;
    Ok(attributed.map_or((0, 0), |a| (a.orders, a.revenue.unwrap_or(0))))
}
