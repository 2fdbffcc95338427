//! Private-domain campaigns (DOMAIN.md "campaign", WECHAT.md §4 and §8): HQ registers
//! subscription-message templates, builds segments, and runs campaigns that push one message
//! per member through the counted consents of [`crate::subscriptions`], politely (quiet hours in
//! the member's zone, a frequency cap across campaigns) and safely at scale (see [`dispatch`]).
//! Orders by recipients within N days count to the campaign ([`report`]); automations
//! (birthday, follow-up, repurchase, win-back) create campaigns that go through the same
//! dispatcher.
//!
//! Statuses, kinds and delivery states are the entities' typed enums (see [`entities::typed`]),
//! re-exported here; a stored value Rouge does not know is an INTERNAL error, never a default.

pub mod automations;
pub mod dispatch;
pub mod insights;
mod lifecycle;
mod report;
pub mod segments;
mod templates;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc};
use wechat_integration::ValueRuleError;

use crate::auth::AuthError;
use crate::coupons::CouponsError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use entities::campaign;

pub use entities::campaign::{CampaignKind, CampaignStatus};
pub use entities::campaign_automation::AutomationKind;
pub use entities::campaign_delivery::{DeliveryReason, DeliveryState};
pub use entities::member_insight::{Lifecycle, RfmSegment};
pub use entities::subscription_template::{KeyKind, TemplateKey};
pub use lifecycle::{cancel, create, get, list, pause, preview_segment, resume, schedule};
pub(crate) use lifecycle::{check_page, prepare};
pub use report::{CampaignReport, report, report_of};
pub(crate) use segments::SegmentRuleExt;
pub use segments::{SegmentPreview, SegmentRule};
pub use templates::{
    PLACEHOLDERS, SubscriptionTemplate, check_values, key_kind, register_template, templates,
};
pub(crate) use templates::{render, template_by_wechat_id, template_view};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum CampaignsError {
    #[error("{0}")]
    InvalidInput(String),
    /// A template value breaks its key's rule (WECHAT.md §4); names the key.
    #[error("value refused: {0}")]
    InvalidValue(#[from] ValueRuleError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// The campaign's coupon template is missing or no longer issuable.
    #[error("the campaign's coupon cannot be issued: {0}")]
    CouponsUnavailable(String),
    #[error(transparent)]
    Coupons(#[from] CouponsError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(CampaignsError);

impl DomainError for CampaignsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) | Self::InvalidValue(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::CouponsUnavailable(_) => ErrorCode::BadUserInput,
            Self::Coupons(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> CampaignsError {
    CampaignsError::InvalidInput(msg.into())
}

/// A stored document (segment rule) that does not parse: the data is wrong, not the caller.
fn stored(what: &str, err: impl std::fmt::Display) -> CampaignsError {
    CampaignsError::Store(StoreError::Db(sea_orm::DbErr::Type(format!(
        "stored {what}: {err}"
    ))))
}

/// Dispatcher and policy settings (configuration).
#[derive(Debug, Clone)]
pub struct CampaignSettings {
    /// Sends per second per worker; `None` = no limit (the bench).
    pub rate_per_second: Option<u32>,
    /// Deliveries claimed at a time (also the most a hard crash can leave in doubt).
    pub batch_size: u64,
    /// Sends in flight at once per lane.
    pub concurrency: usize,
    /// Batches a worker handles side by side (claims keep them apart).
    pub lanes: usize,
    /// Members written into the delivery queue per audience page.
    pub audience_page: u64,
    /// How long a claimed batch is ours; after it, its SENDING rows are in doubt and the rest
    /// goes back to the queue.
    pub claim_secs: i64,
    /// -1 / 5xx attempts before a delivery fails.
    pub max_attempts: i32,
    /// First retry wait after -1 / 5xx (doubles each attempt).
    pub retry_backoff_secs: i64,
    /// Wait after 45011.
    pub rate_limit_backoff_secs: i64,
    /// The cap campaigns get unless they set one: `cap_count` messages per `cap_days`.
    pub default_cap_count: i32,
    pub default_cap_days: i32,
    pub default_attribution_days: i32,
    /// How often an idle worker looks for due work.
    pub poll_millis: u64,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        Self {
            rate_per_second: Some(200),
            batch_size: 200,
            concurrency: 32,
            lanes: 2,
            audience_page: 5000,
            claim_secs: 300,
            max_attempts: 5,
            retry_backoff_secs: 30,
            rate_limit_backoff_secs: 60,
            default_cap_count: 4,
            default_cap_days: 7,
            default_attribution_days: 7,
            poll_millis: 2000,
        }
    }
}

/// Quiet hours, in local time; start after end wraps midnight (21:00–09:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Default for QuietHours {
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CampaignInput {
    pub name: String,
    pub segment: SegmentRule,
    pub template_id: String,
    pub values: BTreeMap<String, String>,
    /// Mini-program page (no leading slash); the campaign id is added for attribution.
    pub page: String,
    pub coupon_template_id: Option<i64>,
    pub start_at: Option<DateTime<Utc>>,
    /// None = the default 21:00–09:00; Some with start == end = no quiet hours.
    pub quiet_hours: Option<QuietHours>,
    /// IANA zone; Asia/Shanghai by default.
    pub zone: Option<String>,
    /// (messages, days) across campaigns; None = the default; (0, _) = no cap.
    pub cap: Option<(i32, i32)>,
    pub attribution_days: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub kind: CampaignKind,
    pub status: CampaignStatus,
    pub segment: SegmentRule,
    pub template_id: String,
    pub values: BTreeMap<String, String>,
    pub page: String,
    pub coupon_template_id: Option<i64>,
    pub start_at: Option<DateTime<Utc>>,
    pub zone: String,
    pub quiet_hours: QuietHours,
    pub cap_count: i32,
    pub cap_days: i32,
    pub attribution_days: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn minutes(t: NaiveTime) -> i32 {
    use chrono::Timelike;
    // At most 23 * 60 + 59: always fits.
    i32::try_from(t.hour() * 60 + t.minute()).unwrap_or(i32::MAX)
}

/// A stored minute of the day; out of range is a stored value Rouge did not write.
fn time_of(min: i32) -> Result<NaiveTime, CampaignsError> {
    u32::try_from(min)
        .ok()
        .and_then(|m| NaiveTime::from_hms_opt(m / 60, m % 60, 0))
        .ok_or_else(|| stored("quiet hours", format!("{min} is not a minute of the day")))
}

pub(crate) fn view(row: campaign::Model) -> Result<Campaign, CampaignsError> {
    Ok(Campaign {
        id: row.id,
        name: row.name,
        kind: row.kind,
        status: row.status,
        segment: row.segment_rule.into_inner(),
        template_id: row.template_id,
        values: row.template_values.into_inner(),
        page: row.page,
        coupon_template_id: row.coupon_template_id,
        start_at: row.start_at,
        zone: row.zone,
        quiet_hours: QuietHours {
            start: time_of(row.quiet_start_min)?,
            end: time_of(row.quiet_end_min)?,
        },
        cap_count: row.cap_count,
        cap_days: row.cap_days,
        attribution_days: row.attribution_days,
        last_error: row.last_error,
        created_at: row.created_at,
        completed_at: row.completed_at,
    })
}
