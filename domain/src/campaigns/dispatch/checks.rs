//! Checks on a claimed batch before anything is sent: the campaign's coupon can be issued at
//! all, marketing consent, the frequency cap across campaigns (counted by the database), the
//! member's values fit the template, one counted consent taken per message (READY in the same
//! transaction), and the coupon issued to those who will get the message.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use wechat_integration::SubscribeMessage;

use super::claim::{Claimed, release};
use super::record::{set_state, write_final};
use super::send::Outgoing;
use super::{DispatchReport, Dispatcher};
use crate::AppState;
use crate::campaigns::{
    Campaign, CampaignStatus, CampaignsError, DeliveryReason, DeliveryState, KeyKind,
    SubscriptionTemplate, render,
};
use crate::coupons::{self, CouponsError};
use crate::subscriptions;
use entities::{campaign, campaign_delivery, member};

/// Members of a batch not to message, with why (written SKIPPED at the end of the checks).
type Skips = Vec<(i64, DeliveryReason)>;

impl Dispatcher {
    /// Runs every check on a claimed batch and returns what may be sent (consents taken), or
    /// None when the campaign was paused instead.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check_batch(
        &self,
        app: &AppState,
        c: &campaign::Model,
        cv: &Campaign,
        template: &SubscriptionTemplate,
        claimed: Vec<Claimed>,
        now: DateTime<Utc>,
        report: &mut DispatchReport,
    ) -> Result<Option<Vec<Outgoing>>, CampaignsError> {
        let Some(coupon_name) = coupon_name_or_pause(app, c, &claimed, now).await? else {
            return Ok(None);
        };
        let ids: Vec<i64> = claimed.iter().map(|r| r.member_id).collect();
        let members: HashMap<i64, member::Model> = member::Entity::find()
            .filter(member::Column::Id.is_in(ids))
            .all(&app.db)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let mut skip = Skips::new();
        let mut candidates: Vec<Claimed> = Vec::new();
        for row in claimed {
            match members.get(&row.member_id) {
                None => skip.push((row.id, DeliveryReason::MemberGone)),
                Some(m) if !m.marketing_consent => {
                    skip.push((row.id, DeliveryReason::NoMarketingConsent))
                }
                Some(_) => candidates.push(row),
            }
        }
        apply_cap(app, c, &mut candidates, &mut skip, now).await?;
        let outgoing = messages(
            c,
            cv,
            template,
            &members,
            &coupon_name,
            candidates,
            &mut skip,
        );
        let outgoing = take_consents(app, c, outgoing, &mut skip, now).await?;
        let outgoing = issue_coupons(app, c, outgoing, &mut skip, now).await?;
        write_final(&app.db, &skip, DeliveryState::Skipped).await?;
        report.skipped += skip.len() as u64;
        Ok(Some(outgoing))
    }
}

/// The coupon's name for the message ("" without a coupon). A campaign whose coupon cannot be
/// issued at all (template gone or switched off) is paused before anything is sent, its batch
/// released: its message would promise what nobody gets. None when paused.
async fn coupon_name_or_pause(
    app: &AppState,
    c: &campaign::Model,
    claimed: &[Claimed],
    now: DateTime<Utc>,
) -> Result<Option<String>, CampaignsError> {
    let Some(coupon_template) = c.coupon_template_id else {
        return Ok(Some(String::new()));
    };
    match campaign_coupon_name(app, coupon_template).await {
        Ok(name) => Ok(Some(name)),
        Err(err @ CampaignsError::CouponsUnavailable(_)) => {
            let all: Vec<i64> = claimed.iter().map(|r| r.id).collect();
            release(app, &all, now, false).await?;
            campaign::Entity::update_many()
                .col_expr(
                    campaign::Column::Status,
                    Expr::value(CampaignStatus::Paused),
                )
                .col_expr(campaign::Column::LastError, Expr::value(err.to_string()))
                .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
                .filter(campaign::Column::Id.eq(c.id))
                .exec(&app.db)
                .await?;
            tracing::warn!(campaign_id = c.id, error = %err, "campaign paused");
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// The cap counts messages sent to the member by any campaign in the window.
async fn apply_cap(
    app: &AppState,
    c: &campaign::Model,
    candidates: &mut Vec<Claimed>,
    skip: &mut Skips,
    now: DateTime<Utc>,
) -> Result<(), CampaignsError> {
    if c.cap_count <= 0 || candidates.is_empty() {
        return Ok(());
    }
    let since = now - chrono::Duration::days(i64::from(c.cap_days));
    let ids: Vec<i64> = candidates.iter().map(|r| r.member_id).collect();
    let counts: HashMap<i64, i64> = campaign_delivery::Entity::find()
        .select_only()
        .column(campaign_delivery::Column::MemberId)
        .column_as(
            Expr::col(campaign_delivery::Column::Id)
                .count()
                .cast_as("BIGINT"),
            "n",
        )
        .filter(campaign_delivery::Column::State.eq(DeliveryState::Sent))
        .filter(campaign_delivery::Column::SentAt.gte(since))
        .filter(campaign_delivery::Column::MemberId.is_in(ids))
        .group_by(campaign_delivery::Column::MemberId)
        .into_tuple::<(i64, i64)>()
        .all(&app.db)
        .await?
        .into_iter()
        .collect();
    candidates.retain(|r| {
        let over = counts.get(&r.member_id).copied().unwrap_or(0) >= i64::from(c.cap_count);
        if over {
            skip.push((r.id, DeliveryReason::OverCap));
        }
        !over
    });
    Ok(())
}

/// Each candidate's message with its own values; a member whose values cannot be made to fit
/// is skipped.
fn messages(
    c: &campaign::Model,
    cv: &Campaign,
    template: &SubscriptionTemplate,
    members: &HashMap<i64, member::Model>,
    coupon_name: &str,
    candidates: Vec<Claimed>,
    skip: &mut Skips,
) -> Vec<Outgoing> {
    let page = format!("{}?campaign={}", c.page, c.id);
    let mut out = Vec::with_capacity(candidates.len());
    for row in candidates {
        let Some(m) = members.get(&row.member_id) else {
            continue;
        };
        match member_values(cv, template, m, coupon_name) {
            Some(data) => out.push(Outgoing {
                id: row.id,
                member_id: row.member_id,
                attempts: row.attempts,
                msg: SubscribeMessage {
                    touser: m.openid.clone(),
                    template_id: c.template_id.clone(),
                    page: Some(page.clone()),
                    data,
                    ..Default::default()
                },
            }),
            None => skip.push((row.id, DeliveryReason::InvalidValue)),
        }
    }
    out
}

/// The message's values for one member; None when they cannot be made to fit the rules.
fn member_values(
    cv: &Campaign,
    template: &SubscriptionTemplate,
    m: &member::Model,
    coupon: &str,
) -> Option<BTreeMap<String, String>> {
    let render_with = |nickname: &str| {
        let fields = [
            ("nickname", nickname),
            ("member_code", m.member_code.as_str()),
            ("coupon", coupon),
        ];
        let mut data = BTreeMap::new();
        for k in &template.keys {
            let raw = cv.values.get(&k.key)?;
            let mut v = render(raw, &fields);
            if k.kind == KeyKind::Thing && v.chars().count() > 20 {
                v = v.chars().take(20).collect();
            }
            wechat_integration::check_subscribe_value(&k.key, &v).ok()?;
            data.insert(k.key.clone(), v);
        }
        Some(data)
    };
    render_with(m.nickname.as_deref().unwrap_or("会员")).or_else(|| render_with("会员"))
}

/// One counted consent per message. The rows whose consent is taken turn READY in the same
/// transaction, so a dispatcher that dies before sending knows whose consent to give back.
async fn take_consents(
    app: &AppState,
    c: &campaign::Model,
    mut outgoing: Vec<Outgoing>,
    skip: &mut Skips,
    now: DateTime<Utc>,
) -> Result<Vec<Outgoing>, CampaignsError> {
    let want: Vec<i64> = outgoing.iter().map(|o| o.member_id).collect();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let taken = subscriptions::take_many(&txn, &c.template_id, &want, now).await?;
    outgoing.retain(|o| {
        let ok = taken.contains(&o.member_id);
        if !ok {
            skip.push((o.id, DeliveryReason::NoConsent));
        }
        ok
    });
    let ready: Vec<i64> = outgoing.iter().map(|o| o.id).collect();
    set_state(&txn, &ready, DeliveryState::Ready).await?;
    txn.commit().await?;
    Ok(outgoing)
}

/// The coupon goes out with the message: issued only to members who will get it; a member
/// refused a copy is skipped and gets the consent back.
async fn issue_coupons(
    app: &AppState,
    c: &campaign::Model,
    mut outgoing: Vec<Outgoing>,
    skip: &mut Skips,
    now: DateTime<Utc>,
) -> Result<Vec<Outgoing>, CampaignsError> {
    let Some(coupon_template) = c.coupon_template_id else {
        return Ok(outgoing);
    };
    let recipients: Vec<i64> = outgoing.iter().map(|o| o.member_id).collect();
    let mut refused: HashMap<i64, DeliveryReason> = HashMap::new();
    // A few at a time: each copy is its own short transaction on the template's row.
    for chunk in recipients.chunks(8) {
        let outcomes = futures::future::try_join_all(
            chunk
                .iter()
                .map(|&member_id| issue_campaign_coupon(app, coupon_template, member_id, c.id)),
        )
        .await?;
        for (&member_id, outcome) in chunk.iter().zip(outcomes) {
            if let Some(reason) = outcome {
                refused.insert(member_id, reason);
            }
        }
    }
    if !refused.is_empty() {
        outgoing.retain(|o| match refused.get(&o.member_id) {
            Some(reason) => {
                skip.push((o.id, *reason));
                false
            }
            None => true,
        });
        let back: Vec<i64> = refused.keys().copied().collect();
        subscriptions::give_back_many(&app.db, &c.template_id, &back, now).await?;
    }
    Ok(outgoing)
}

/// Issues the campaign's coupon to a recipient just before the message goes out; Some(reason)
/// when the member cannot have it (the message would promise a coupon they lack). Keyed by the
/// campaign, so a resumed dispatch finds the copy it already gave instead of a second one.
async fn issue_campaign_coupon(
    app: &AppState,
    coupon_template_id: i64,
    member_id: i64,
    campaign_id: i64,
) -> Result<Option<DeliveryReason>, CampaignsError> {
    let key = campaign_id.to_string();
    let source = coupons::IssueSource {
        kind: coupons::CouponSource::Campaign,
        key: &key,
    };
    match coupons::issue_one(app, coupon_template_id, member_id, source).await {
        Ok(_) => Ok(None),
        Err(CouponsError::SoldOut) => Ok(Some(DeliveryReason::CouponSoldOut)),
        Err(CouponsError::LimitReached) => Ok(Some(DeliveryReason::CouponLimitReached)),
        Err(CouponsError::Store(e)) => Err(e.into()),
        Err(_) => Ok(Some(DeliveryReason::CouponUnavailable)),
    }
}

/// The name of the campaign's coupon for the message, or why it cannot be issued at all.
async fn campaign_coupon_name(
    app: &AppState,
    coupon_template_id: i64,
) -> Result<String, CampaignsError> {
    let tpl = entities::coupon_template::Entity::find_by_id(coupon_template_id)
        .one(&app.db)
        .await?
        .ok_or_else(|| {
            CampaignsError::CouponsUnavailable(format!(
                "coupon template {coupon_template_id} does not exist"
            ))
        })?;
    if !tpl.active {
        return Err(CampaignsError::CouponsUnavailable(format!(
            "coupon template {} is inactive",
            tpl.name
        )));
    }
    Ok(tpl.name)
}
