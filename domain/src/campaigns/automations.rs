//! Automations HQ switches on: each local day each one creates a campaign (once, by a dedupe
//! key) that goes through the same dispatcher, consents, quiet hours and caps.
//! - BIRTHDAY: members whose birthday is today (with marketing consent).
//! - FOLLOW_UP: members who bought exactly `days` days ago (local days).
//! - REPURCHASE: the repurchase reminder from the member's own buying cycle: members due to buy
//!   a category again in `days` days (see [`SegmentRule::RepurchaseDue`]: the cycle is the
//!   average gap between their distinct purchase days of the category; a member who bought it
//!   again since, or bought it today, is not reminded), computed by the database.
//! - WIN_BACK: at-risk members who got no win-back within `days` days.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Datelike, Days, TimeZone, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveEnum, ActiveModelTrait, EntityTrait, QueryOrder, Set};

use super::{
    AutomationKind, CampaignInput, CampaignKind, CampaignStatus, CampaignsError, Lifecycle,
    SegmentRule, check_values, template_by_wechat_id,
};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::error::UniqueViolation;
use crate::platform::jobs::{PeriodicTask, TaskError};
use entities::campaign_automation;
use entities::typed::JsonText;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Automation {
    pub kind: AutomationKind,
    pub enabled: bool,
    pub template_id: String,
    pub values: BTreeMap<String, String>,
    pub page: String,
    pub days: i32,
    pub coupon_template_id: Option<i64>,
}

fn view(row: campaign_automation::Model) -> Automation {
    Automation {
        kind: row.kind,
        enabled: row.enabled,
        template_id: row.template_id,
        values: row.template_values.into_inner(),
        page: row.page,
        days: row.days,
        coupon_template_id: row.coupon_template_id,
    }
}

/// Switches an automation on or off and sets its message.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn configure(
    app: &AppState,
    staff: &StaffPrincipal,
    a: Automation,
) -> Result<Automation, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    if !(0..=365).contains(&a.days) {
        return Err(CampaignsError::InvalidInput("days: 0 to 365".into()));
    }
    let template = template_by_wechat_id(&app.db, &a.template_id).await?;
    check_values(&template, &a.values, a.coupon_template_id.is_some())?;
    super::check_page(&a.page)?;
    let row = campaign_automation::ActiveModel {
        kind: Set(a.kind),
        enabled: Set(a.enabled),
        template_id: Set(a.template_id.clone()),
        template_values: Set(JsonText(a.values.clone())),
        page: Set(a.page.clone()),
        days: Set(a.days),
        coupon_template_id: Set(a.coupon_template_id),
        updated_at: Set(app.clock.now()),
    };
    campaign_automation::Entity::insert(row)
        .on_conflict(
            OnConflict::column(campaign_automation::Column::Kind)
                .update_columns([
                    campaign_automation::Column::Enabled,
                    campaign_automation::Column::TemplateId,
                    campaign_automation::Column::TemplateValues,
                    campaign_automation::Column::Page,
                    campaign_automation::Column::Days,
                    campaign_automation::Column::CouponTemplateId,
                    campaign_automation::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&app.db)
        .await?;
    Ok(a)
}

pub async fn list(
    app: &AppState,
    staff: &StaffPrincipal,
) -> Result<Vec<Automation>, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    Ok(campaign_automation::Entity::find()
        .order_by_asc(campaign_automation::Column::Kind)
        .all(&app.db)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

fn local_day_bounds(now: DateTime<Utc>, days_ago: u64) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let zone = crate::platform::clock::DEFAULT_ZONE;
    let day = now
        .with_timezone(&zone)
        .date_naive()
        .checked_sub_days(Days::new(days_ago))?;
    let start = zone
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()?;
    let end = zone
        .from_local_datetime(&day.checked_add_days(Days::new(1))?.and_hms_opt(0, 0, 0)?)
        .earliest()?;
    Some((start.with_timezone(&Utc), end.with_timezone(&Utc)))
}

/// Today's campaign of each enabled automation (once per local day); returns how many were
/// created.
pub async fn run(app: &AppState) -> Result<u64, CampaignsError> {
    let now = app.clock.now();
    let today = now
        .with_timezone(&crate::platform::clock::DEFAULT_ZONE)
        .date_naive();
    let mut created = 0;
    for a in campaign_automation::Entity::find()
        .all(&app.db)
        .await?
        .into_iter()
        .filter(|a| a.enabled)
        .map(view)
    {
        let consent = SegmentRule::MarketingConsent { value: true };
        let segment = match a.kind {
            AutomationKind::Birthday => SegmentRule::All {
                rules: vec![
                    SegmentRule::BirthdayOn {
                        month: today.month(),
                        day: today.day(),
                    },
                    consent,
                ],
            },
            AutomationKind::FollowUp => {
                let Some((from, to)) =
                    local_day_bounds(now, u64::try_from(a.days.max(1)).unwrap_or(1))
                else {
                    continue;
                };
                SegmentRule::All {
                    rules: vec![SegmentRule::PurchasedBetween { from, to }, consent],
                }
            }
            AutomationKind::Repurchase => {
                let Some(on) =
                    today.checked_add_days(Days::new(u64::try_from(a.days).unwrap_or(0)))
                else {
                    continue;
                };
                SegmentRule::All {
                    rules: vec![
                        SegmentRule::RepurchaseDue {
                            on,
                            category_id: None,
                            not_bought_since: Some(today),
                        },
                        consent,
                    ],
                }
            }
            AutomationKind::WinBack => SegmentRule::All {
                rules: vec![
                    SegmentRule::Lifecycle {
                        stages: vec![Lifecycle::AtRisk],
                    },
                    SegmentRule::NotMessagedBy {
                        kind: CampaignKind::WinBack,
                        since: now - chrono::Duration::days(i64::from(a.days.max(1))),
                    },
                    consent,
                ],
            },
        };
        let input = CampaignInput {
            name: format!("{} {today}", a.kind.to_value()),
            segment,
            template_id: a.template_id.clone(),
            values: a.values.clone(),
            page: a.page.clone(),
            coupon_template_id: a.coupon_template_id,
            start_at: Some(now),
            quiet_hours: None,
            zone: None,
            cap: None,
            attribution_days: None,
        };
        let mut row =
            super::prepare(&app.db, &app.settings.campaigns, &input, a.kind.into(), now).await?;
        row.status = Set(CampaignStatus::Running);
        row.dedupe_key = Set(Some(format!("{}:{today}", a.kind.to_value())));
        // Another replica may have created today's campaign first.
        if row
            .insert(&app.db)
            .await
            .unless_duplicate::<CampaignsError>()?
            .is_some()
        {
            created += 1;
        }
    }
    Ok(created)
}

/// Scheduled: creates the automations' campaigns of the day.
pub struct RunAutomations;

#[async_trait::async_trait]
impl PeriodicTask for RunAutomations {
    fn name(&self) -> &'static str {
        "campaign-automations"
    }
    fn every(&self) -> Duration {
        Duration::from_secs(10 * 60)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(run(app).await?)
    }
}
