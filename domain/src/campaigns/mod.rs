//! Private-domain campaigns (DOMAIN.md "campaign", WECHAT.md §4 and §8): HQ registers
//! subscription-message templates, builds segments, and runs campaigns that push one message
//! per member through the counted consents of [`crate::subscriptions`], politely (quiet hours in
//! the member's zone, a frequency cap across campaigns) and safely at scale (see [`dispatch`]).
//! Orders by recipients within N days count to the campaign ([`report`]); automations
//! (birthday, follow-up, repurchase, win-back) create campaigns that go through the same
//! dispatcher.

pub mod automations;
pub mod dispatch;
pub mod insights;
pub mod segments;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use wechat_integration::{ValueRuleError, check_subscribe_value};

use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal};
use crate::coupons::{self, CouponsError};
use crate::error::{DomainError, ErrorCode, StoreError, is_unique_violation};
use entities::{campaign, campaign_delivery, subscription_template};

pub use segments::{SegmentPreview, SegmentRule};

#[derive(Debug, thiserror::Error)]
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

// ---------------------------------------------------------------------------------------------
// Templates

/// The value kinds of subscription-message keys (WECHAT.md §4).
pub const KEY_KINDS: &[&str] = &[
    "thing",
    "number",
    "letter",
    "symbol",
    "character_string",
    "time",
    "date",
    "amount",
    "phone_number",
    "car_number",
    "name",
    "phrase",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateKey {
    /// e.g. `thing1`: the kind followed by a number.
    pub key: String,
    pub kind: String,
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionTemplate {
    pub id: i64,
    pub template_id: String,
    pub title: String,
    pub keys: Vec<TemplateKey>,
    pub created_at: DateTime<Utc>,
}

fn template_view(row: subscription_template::Model) -> SubscriptionTemplate {
    SubscriptionTemplate {
        id: row.id,
        template_id: row.template_id,
        title: row.title,
        keys: serde_json::from_str(&row.keys).unwrap_or_default(),
        created_at: row.created_at,
    }
}

fn check_template_id(id: &str) -> Result<(), CampaignsError> {
    if (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(invalid(format!("malformed template id {id:?}")))
    }
}

/// HQ registers a template WeChat approved for the mini-program, with its keys' kinds.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn register_template(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: &str,
    title: &str,
    keys: Vec<TemplateKey>,
) -> Result<SubscriptionTemplate, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    check_template_id(template_id)?;
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 64 {
        return Err(invalid("the title is 1 to 64 characters"));
    }
    if keys.is_empty() || keys.len() > 20 {
        return Err(invalid("a template has 1 to 20 keys"));
    }
    let mut seen = std::collections::HashSet::new();
    for k in &keys {
        if !KEY_KINDS.contains(&k.kind.as_str()) {
            return Err(invalid(format!("{}: unknown kind {:?}", k.key, k.kind)));
        }
        let prefix = k.key.trim_end_matches(|c: char| c.is_ascii_digit());
        if prefix != k.kind || prefix.len() == k.key.len() {
            return Err(invalid(format!(
                "{}: a key is its kind followed by a number ({}1, {}2...)",
                k.key, k.kind, k.kind
            )));
        }
        if !seen.insert(k.key.clone()) {
            return Err(invalid(format!("{}: listed twice", k.key)));
        }
    }
    let row = subscription_template::ActiveModel {
        template_id: Set(template_id.to_owned()),
        title: Set(title.to_owned()),
        keys: Set(serde_json::to_string(&keys).map_err(|e| invalid(e.to_string()))?),
        created_by: Set(Some(staff.staff_id)),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            CampaignsError::Conflict(format!("template {template_id} is already registered"))
        } else {
            e.into()
        }
    })?;
    Ok(template_view(row))
}

pub async fn templates(
    app: &AppState,
    staff: &StaffPrincipal,
) -> Result<Vec<SubscriptionTemplate>, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    Ok(subscription_template::Entity::find()
        .order_by_asc(subscription_template::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(template_view)
        .collect())
}

pub(crate) async fn template_by_wechat_id<C: ConnectionTrait>(
    db: &C,
    template_id: &str,
) -> Result<SubscriptionTemplate, CampaignsError> {
    subscription_template::Entity::find()
        .filter(subscription_template::Column::TemplateId.eq(template_id))
        .one(db)
        .await?
        .map(template_view)
        .ok_or(CampaignsError::NotFound("subscription template"))
}

/// The per-member fields a value may hold.
pub const PLACEHOLDERS: &[&str] = &["nickname", "member_code", "coupon"];

/// Replaces `{{field}}` with the member's value.
pub(crate) fn render(value: &str, fields: &[(&str, &str)]) -> String {
    let mut out = value.to_owned();
    for (name, v) in fields {
        out = out.replace(&format!("{{{{{name}}}}}"), v);
    }
    out
}

/// Checks a campaign's values against its template before anything is sent: every key has a
/// value, no stray keys, placeholders are known, and each value (with placeholders filled by a
/// typical member) keeps its key's rule.
pub fn check_values(
    template: &SubscriptionTemplate,
    values: &BTreeMap<String, String>,
    has_coupon: bool,
) -> Result<(), CampaignsError> {
    for key in values.keys() {
        if !template.keys.iter().any(|k| &k.key == key) {
            return Err(invalid(format!(
                "{key}: not a key of template {}",
                template.template_id
            )));
        }
    }
    for k in &template.keys {
        let Some(value) = values.get(&k.key) else {
            return Err(invalid(format!("{}: a value is required", k.key)));
        };
        let mut rest = value.as_str();
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(invalid(format!("{}: unclosed placeholder", k.key)));
            };
            let name = &after[..end];
            if !PLACEHOLDERS.contains(&name) || (name == "coupon" && !has_coupon) {
                return Err(invalid(format!(
                    "{}: unknown placeholder {{{{{name}}}}}",
                    k.key
                )));
            }
            rest = &after[end + 2..];
        }
        let sample = render(
            value,
            &[
                ("nickname", "会员"),
                ("member_code", "M2026ABCD"),
                ("coupon", "满300减50"),
            ],
        );
        check_subscribe_value(&k.key, &sample)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Campaigns

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Running,
    Paused,
    Cancelled,
    Completed,
}

impl CampaignStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Scheduled => "SCHEDULED",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Cancelled => "CANCELLED",
            Self::Completed => "COMPLETED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "DRAFT" => Self::Draft,
            "SCHEDULED" => Self::Scheduled,
            "RUNNING" => Self::Running,
            "PAUSED" => Self::Paused,
            "CANCELLED" => Self::Cancelled,
            "COMPLETED" => Self::Completed,
            _ => return None,
        })
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
    pub kind: String,
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
    i32::try_from(t.hour() * 60 + t.minute()).unwrap_or(0)
}

fn time_of(min: i32) -> NaiveTime {
    let min = u32::try_from(min.clamp(0, 24 * 60 - 1)).unwrap_or(0);
    NaiveTime::from_hms_opt(min / 60, min % 60, 0).unwrap_or_default()
}

pub(crate) fn view(row: campaign::Model) -> Campaign {
    Campaign {
        id: row.id,
        name: row.name,
        kind: row.kind,
        status: CampaignStatus::parse(&row.status).unwrap_or(CampaignStatus::Draft),
        segment: serde_json::from_str(&row.segment_rule)
            .unwrap_or_else(|_| SegmentRule::Any { rules: vec![] }),
        template_id: row.template_id,
        values: serde_json::from_str(&row.template_values).unwrap_or_default(),
        page: row.page,
        coupon_template_id: row.coupon_template_id,
        start_at: row.start_at,
        zone: row.zone,
        quiet_hours: QuietHours {
            start: time_of(row.quiet_start_min),
            end: time_of(row.quiet_end_min),
        },
        cap_count: row.cap_count,
        cap_days: row.cap_days,
        attribution_days: row.attribution_days,
        last_error: row.last_error,
        created_at: row.created_at,
        completed_at: row.completed_at,
    }
}

fn check_page(page: &str) -> Result<(), CampaignsError> {
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
    kind: &str,
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
        kind: Set(kind.to_owned()),
        dedupe_key: Set(None),
        status: Set(CampaignStatus::Draft.as_str().into()),
        segment_rule: Set(
            serde_json::to_string(&input.segment).map_err(|e| invalid(e.to_string()))?
        ),
        template_id: Set(input.template_id.clone()),
        template_values: Set(
            serde_json::to_string(&input.values).map_err(|e| invalid(e.to_string()))?
        ),
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
    let mut row = prepare(&app.db, &app.settings.campaigns, &input, "MANUAL", now).await?;
    row.created_by = Set(Some(staff.staff_id));
    Ok(view(row.insert(&app.db).await?))
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
    Ok(view(load(app, id).await?))
}

pub async fn list(
    app: &AppState,
    staff: &StaffPrincipal,
    limit: u64,
) -> Result<Vec<Campaign>, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    Ok(campaign::Entity::find()
        .order_by_desc(campaign::Column::Id)
        .limit(Ord::min(limit, 200))
        .all(&app.db)
        .await?
        .into_iter()
        .map(view)
        .collect())
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
        .col_expr(campaign::Column::Status, Expr::value(to.as_str()))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(app.clock.now()))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::Status.is_in(from.iter().map(|s| s.as_str())));
    for (col, value) in extra {
        update = update.col_expr(col, value);
    }
    let done = update.exec(&app.db).await?;
    if done.rows_affected != 1 {
        return Err(CampaignsError::Conflict(format!(
            "a {} campaign cannot become {}",
            current.status.to_lowercase(),
            to.as_str().to_lowercase()
        )));
    }
    Ok(view(load(app, id).await?))
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
    let current = view(load(app, id).await?);
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
        .col_expr(campaign_delivery::Column::State, Expr::value("SKIPPED"))
        .col_expr(campaign_delivery::Column::Reason, Expr::value("CANCELLED"))
        .filter(campaign_delivery::Column::CampaignId.eq(id))
        .filter(campaign_delivery::Column::State.eq("PENDING"))
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

// ---------------------------------------------------------------------------------------------
// Coupons

/// What issuing a campaign's coupon to one recipient did.
pub(crate) enum CampaignCoupon {
    Issued,
    /// The member is skipped with this reason (the message would promise a coupon they lack).
    Refused(&'static str),
}

/// Issues the campaign's coupon to a recipient just before the message goes out. Keyed by the
/// campaign, so a resumed dispatch finds the copy it already gave instead of a second one.
pub(crate) async fn issue_campaign_coupon(
    app: &AppState,
    coupon_template_id: i64,
    member_id: i64,
    campaign_id: i64,
) -> Result<CampaignCoupon, CampaignsError> {
    let key = campaign_id.to_string();
    let source = coupons::IssueSource {
        kind: "CAMPAIGN",
        key: &key,
    };
    match coupons::issue_one(app, coupon_template_id, member_id, source).await {
        Ok(_) => Ok(CampaignCoupon::Issued),
        Err(CouponsError::SoldOut) => Ok(CampaignCoupon::Refused("COUPON_SOLD_OUT")),
        Err(CouponsError::LimitReached) => Ok(CampaignCoupon::Refused("COUPON_LIMIT_REACHED")),
        Err(CouponsError::Store(e)) => Err(e.into()),
        Err(_) => Ok(CampaignCoupon::Refused("COUPON_UNAVAILABLE")),
    }
}

/// The name of the campaign's coupon for the message, or why it cannot be issued at all.
pub(crate) async fn campaign_coupon_name(
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

// ---------------------------------------------------------------------------------------------
// Report

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
struct StateCount {
    state: String,
    reason: Option<String>,
    n: i64,
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
    load(app, id).await?;
    report_of(app, id).await
}

pub async fn report_of(app: &AppState, id: i64) -> Result<CampaignReport, CampaignsError> {
    let rows = StateCount::find_by_statement(dispatch::stmt(
        app.db.get_database_backend(),
        "SELECT state, reason, CAST(COUNT(*) AS BIGINT) AS n FROM campaign_deliveries \
         WHERE campaign_id = ? GROUP BY state, reason ORDER BY state, reason",
        vec![id.into()],
    ))
    .all(&app.db)
    .await?;
    let mut r = CampaignReport {
        campaign_id: id,
        ..Default::default()
    };
    for row in rows {
        r.audience += row.n;
        let reason = row.reason.unwrap_or_else(|| "UNKNOWN".into());
        match row.state.as_str() {
            "SENT" => r.sent += row.n,
            open if dispatch::OPEN_STATES.contains(&open) => r.pending += row.n,
            "FAILED" => {
                r.failed += row.n;
                r.failed_by_reason.push((reason, row.n));
            }
            _ => r.skipped_by_reason.push((reason, row.n)),
        }
    }
    let ineligible: i64 = r
        .skipped_by_reason
        .iter()
        .filter(|(reason, _)| {
            matches!(
                reason.as_str(),
                "NO_CONSENT" | "NO_MARKETING_CONSENT" | "OVER_CAP"
            )
        })
        .map(|(_, n)| n)
        .sum();
    r.eligible = r.audience - ineligible;
    // Last touch: the order counts to this campaign when this message is the latest SENT
    // campaign message to the member before the payment, and the payment is in its window.
    let statuses = segments::PURCHASED
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT CAST(COUNT(o.id) AS BIGINT) AS orders, CAST(SUM(o.total_fen) AS BIGINT) AS revenue \
         FROM campaign_deliveries d JOIN orders o ON o.member_id = d.member_id \
         WHERE d.campaign_id = ? AND d.state = 'SENT' AND o.status IN ({statuses}) \
         AND o.paid_at >= d.sent_at AND o.paid_at <= d.attribution_until \
         AND NOT EXISTS (SELECT 1 FROM campaign_deliveries l WHERE l.member_id = d.member_id \
           AND l.state = 'SENT' AND l.id <> d.id AND l.sent_at > d.sent_at AND l.sent_at <= o.paid_at)"
    );
    if let Some(a) = Attributed::find_by_statement(dispatch::stmt(
        app.db.get_database_backend(),
        &sql,
        vec![id.into()],
    ))
    .one(&app.db)
    .await?
    {
        r.orders = a.orders;
        r.revenue_fen = a.revenue.unwrap_or(0);
    }
    (r.coupons_issued, r.coupons_redeemed) =
        coupons::issued_from_source(app, "CAMPAIGN", &id.to_string()).await?;
    Ok(r)
}
