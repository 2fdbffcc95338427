//! A campaign's life: created as a draft (values checked against the template), scheduled,
//! paused, resumed, cancelled; each move is a conditional update, so two HQ users racing
//! cannot both win.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::{
    Campaign, CampaignInput, CampaignKind, CampaignSettings, CampaignStatus, CampaignsError,
    DeliveryReason, DeliveryState, SegmentPreview, SegmentRule, SegmentRuleExt, check_values,
    invalid, minutes, segments, template_by_wechat_id, view,
};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::page::{IdKey, Keyset, Page};
use entities::typed::JsonText;
use entities::{campaign, campaign_delivery};

pub(crate) fn check_page(page: &str) -> Result<(), CampaignsError> {
    if page.is_empty()
        || page.len() > 200
        || page.starts_with('/')
        || page.contains('?')
        || !page
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.'))
    {
        Err(invalid(
            "page: a mini-program path such as pages/campaign/index (no leading slash, no query)",
        ))
    } else {
        Ok(())
    }
}

/// Validates an input and returns the row to insert (shared with automations).
pub(crate) async fn prepare<C: ConnectionTrait>(
    db: &C,
    settings: &CampaignSettings,
    input: &CampaignInput,
    kind: CampaignKind,
    now: DateTime<Utc>,
) -> Result<campaign::ActiveModel, CampaignsError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("name: 1 to 100 characters"));
    }
    input.segment.validate()?;
    input.segment.check_references(db).await?;
    check_page(&input.page)?;
    let template = template_by_wechat_id(db, &input.template_id).await?;
    check_values(&template, &input.values, input.coupon_template_id.is_some())?;
    if let Some(coupon_template_id) = input.coupon_template_id
        && entities::coupon_template::Entity::find_by_id(coupon_template_id)
            .one(db)
            .await?
            .is_none()
    {
        return Err(invalid(format!(
            "coupon template {coupon_template_id} does not exist"
        )));
    }
    let zone = input.zone.clone().unwrap_or_else(|| "Asia/Shanghai".into());
    if zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(invalid(format!("zone: unknown time zone {zone:?}")));
    }
    let quiet = input.quiet_hours.unwrap_or_default();
    let (cap_count, cap_days) = input
        .cap
        .unwrap_or((settings.default_cap_count, settings.default_cap_days));
    if !(0..=100).contains(&cap_count) || !(1..=365).contains(&cap_days) {
        return Err(invalid("cap: 0 to 100 messages per 1 to 365 days"));
    }
    let attribution_days = input
        .attribution_days
        .unwrap_or(settings.default_attribution_days);
    if !(1..=90).contains(&attribution_days) {
        return Err(invalid("attribution: 1 to 90 days"));
    }
    Ok(campaign::ActiveModel {
        name: Set(name.to_owned()),
        kind: Set(kind),
        dedupe_key: Set(None),
        status: Set(CampaignStatus::Draft),
        segment_rule: Set(JsonText(input.segment.clone())),
        template_id: Set(input.template_id.clone()),
        template_values: Set(JsonText(input.values.clone())),
        page: Set(input.page.clone()),
        coupon_template_id: Set(input.coupon_template_id),
        start_at: Set(input.start_at),
        zone: Set(zone),
        quiet_start_min: Set(minutes(quiet.start)),
        quiet_end_min: Set(minutes(quiet.end)),
        cap_count: Set(cap_count),
        cap_days: Set(cap_days),
        attribution_days: Set(attribution_days),
        audience_cursor: Set(0),
        audience_done: Set(false),
        not_before: Set(None),
        last_error: Set(None),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        completed_at: Set(None),
        ..Default::default()
    })
}

/// Creates a campaign as a draft; values that break a key's rule are refused here.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn create(
    app: &AppState,
    staff: &StaffPrincipal,
    input: CampaignInput,
) -> Result<Campaign, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    let now = app.clock.now();
    let mut row = prepare(
        &app.db,
        &app.settings.campaigns,
        &input,
        CampaignKind::Manual,
        now,
    )
    .await?;
    row.created_by = Set(Some(staff.staff_id));
    view(row.insert(&app.db).await?)
}

async fn load(app: &AppState, id: i64) -> Result<campaign::Model, CampaignsError> {
    campaign::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(CampaignsError::NotFound("campaign"))
}

pub async fn get(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<Campaign, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    view(load(app, id).await?)
}

/// Campaigns, newest first (by id).
pub async fn list(
    app: &AppState,
    staff: &StaffPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<Campaign>, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    let mut query = campaign::Entity::find()
        .order_by_desc(campaign::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(campaign::Column::Id.lt(after));
    }
    page.page(query.all(&app.db).await?).try_map(view)
}

/// Moves a campaign from one of `from` to `to` with a conditional update (two HQ users
/// racing cannot both win).
async fn transition(
    app: &AppState,
    id: i64,
    from: &[CampaignStatus],
    to: CampaignStatus,
    extra: Vec<(campaign::Column, Expr)>,
) -> Result<Campaign, CampaignsError> {
    let current = load(app, id).await?;
    let mut update = campaign::Entity::update_many()
        .col_expr(campaign::Column::Status, Expr::value(to))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(app.clock.now()))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::Status.is_in(from.iter().copied()));
    for (col, value) in extra {
        update = update.col_expr(col, value);
    }
    let done = update.exec(&app.db).await?;
    if done.rows_affected != 1 {
        return Err(CampaignsError::Conflict(format!(
            "a {} campaign cannot become {}",
            current.status.to_value().to_lowercase(),
            to.to_value().to_lowercase()
        )));
    }
    view(load(app, id).await?)
}

/// Schedules a draft to start at `start_at` (or its own start time, or now). The values are
/// checked against the template again, so a campaign whose values break a rule cannot start.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, campaign_id = id))]
pub async fn schedule(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
    start_at: Option<DateTime<Utc>>,
) -> Result<Campaign, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    let current = view(load(app, id).await?)?;
    let template = template_by_wechat_id(&app.db, &current.template_id).await?;
    check_values(
        &template,
        &current.values,
        current.coupon_template_id.is_some(),
    )?;
    current.segment.validate()?;
    let start = start_at
        .or(current.start_at)
        .unwrap_or_else(|| app.clock.now());
    transition(
        app,
        id,
        &[CampaignStatus::Draft],
        CampaignStatus::Scheduled,
        vec![(campaign::Column::StartAt, Expr::value(start))],
    )
    .await
}

pub async fn pause(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<Campaign, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    transition(
        app,
        id,
        &[CampaignStatus::Scheduled, CampaignStatus::Running],
        CampaignStatus::Paused,
        vec![],
    )
    .await
}

/// A paused campaign goes back to the schedule: it runs again from where it stopped.
pub async fn resume(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<Campaign, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    transition(
        app,
        id,
        &[CampaignStatus::Paused],
        CampaignStatus::Scheduled,
        vec![(
            campaign::Column::LastError,
            Expr::value(Option::<String>::None),
        )],
    )
    .await
}

/// Cancels a campaign; what is still queued is skipped (what was sent stays sent).
pub async fn cancel(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<Campaign, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    let c = transition(
        app,
        id,
        &[
            CampaignStatus::Draft,
            CampaignStatus::Scheduled,
            CampaignStatus::Running,
            CampaignStatus::Paused,
        ],
        CampaignStatus::Cancelled,
        vec![],
    )
    .await?;
    campaign_delivery::Entity::update_many()
        .col_expr(
            campaign_delivery::Column::State,
            Expr::value(DeliveryState::Skipped),
        )
        .col_expr(
            campaign_delivery::Column::Reason,
            Expr::value(DeliveryReason::Cancelled),
        )
        .filter(campaign_delivery::Column::CampaignId.eq(id))
        .filter(campaign_delivery::Column::State.eq(DeliveryState::Pending))
        .exec(&app.db)
        .await?;
    Ok(c)
}

pub async fn preview_segment(
    app: &AppState,
    staff: &StaffPrincipal,
    rule: &SegmentRule,
) -> Result<SegmentPreview, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    segments::preview(app, rule, 5).await
}
