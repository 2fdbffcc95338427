use std::collections::BTreeMap;

use sea_orm::entity::prelude::*;

use crate::typed::JsonText;

/// Who made the campaign: HQ by hand, or one of the automations (one a day each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CampaignKind {
    Manual,
    Birthday,
    FollowUp,
    Repurchase,
    WinBack,
}

/// Where a campaign is in its life cycle (only the dispatcher moves it to RUNNING and
/// COMPLETED).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Running,
    Paused,
    Cancelled,
    Completed,
}

impl From<crate::campaign_automation::AutomationKind> for CampaignKind {
    fn from(kind: crate::campaign_automation::AutomationKind) -> Self {
        use crate::campaign_automation::AutomationKind as A;
        match kind {
            A::Birthday => Self::Birthday,
            A::FollowUp => Self::FollowUp,
            A::Repurchase => Self::Repurchase,
            A::WinBack => Self::WinBack,
        }
    }
}

/// A private-domain campaign (私域营销): a segment, a subscription-message template and its
/// values, when and how politely to send (quiet hours, frequency cap), and dispatch progress.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub kind: CampaignKind,
    /// Automations create one campaign per day: this key makes a second pass a no-op.
    #[sea_orm(unique)]
    pub dedupe_key: Option<String>,
    pub status: CampaignStatus,
    /// The segment rule tree as JSON (domain::campaigns::SegmentRule).
    pub segment_rule: String,
    pub template_id: String,
    /// Key -> value, values may hold {{nickname}} and the like.
    pub template_values: JsonText<BTreeMap<String, String>>,
    pub page: String,
    /// The coupon template issued with each message (coupons are wired by the coupon module).
    pub coupon_template_id: Option<i64>,
    pub start_at: Option<DateTimeUtc>,
    /// IANA zone quiet hours are reasoned in.
    pub zone: String,
    /// Quiet hours, minutes after local midnight (start may be after end: it wraps midnight).
    pub quiet_start_min: i32,
    pub quiet_end_min: i32,
    /// At most cap_count messages per member across campaigns within cap_days (0 = no cap).
    pub cap_count: i32,
    pub cap_days: i32,
    /// Orders within this many days of the send count to the campaign.
    pub attribution_days: i32,
    /// Audience paging: the last member id written into deliveries.
    pub audience_cursor: i64,
    pub audience_done: bool,
    /// No dispatch before this (back-off, quiet hours, daily quota).
    pub not_before: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
