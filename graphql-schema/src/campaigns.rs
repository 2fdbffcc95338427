//! HQ's campaigns: subscription-message templates, segments (previewed as a count and a masked
//! sample), campaigns with their life cycle and report, and automations.

use std::collections::BTreeMap;

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, OneofObject, SimpleObject};
use chrono::NaiveTime;

use crate::scalars::{DateTime, Fen};
use domain::auth::Permission;
use domain::campaigns::{
    self, AutomationKind, CampaignInput as DomainCampaignInput, CampaignStatus, Lifecycle,
    QuietHours, RfmSegment, SegmentRule, TemplateKey as DomainKey, automations,
};
use domain::members::{SkinConcern, SkinType};
use entities::typed::ActiveEnum;

use crate::booking::BookingStatus;
use crate::context::{app, staff};
use crate::error::{ApiError, ApiResult, parse_id};
use crate::pagination;
use crate::scalars::Date;

// ------------------------------------------------------------------ templates

#[derive(InputObject)]
pub struct TemplateKeyInput {
    /// e.g. `thing1`: the kind followed by a number.
    pub key: String,
    /// thing, number, letter, symbol, character_string, time, date, amount, phone_number,
    /// car_number, name or phrase.
    pub kind: String,
    #[graphql(default)]
    pub label: String,
}

#[derive(InputObject)]
pub struct RegisterSubscriptionTemplateInput {
    /// WeChat's template id.
    pub template_id: String,
    pub title: String,
    pub keys: Vec<TemplateKeyInput>,
}

#[derive(SimpleObject)]
pub struct TemplateKey {
    pub key: String,
    pub kind: String,
    pub label: String,
}

#[derive(SimpleObject)]
pub struct SubscriptionTemplate {
    pub id: ID,
    pub template_id: String,
    pub title: String,
    pub keys: Vec<TemplateKey>,
    pub created_at: DateTime,
}

impl From<campaigns::SubscriptionTemplate> for SubscriptionTemplate {
    fn from(t: campaigns::SubscriptionTemplate) -> Self {
        Self {
            id: t.id.into(),
            template_id: t.template_id,
            title: t.title,
            keys: t
                .keys
                .into_iter()
                .map(|k| TemplateKey {
                    key: k.key,
                    kind: k.kind.as_str().to_owned(),
                    label: k.label,
                })
                .collect(),
            created_at: t.created_at.into(),
        }
    }
}

// ------------------------------------------------------------------ segments

#[derive(InputObject)]
pub struct RegionRuleInput {
    pub province: String,
    pub city: Option<String>,
}

/// Booking history: members with a booking of the service (any service without one) in the
/// status (none: any booking not cancelled), starting on or after the local day `since` and
/// before the local day `before` (Asia/Shanghai).
#[derive(InputObject)]
pub struct BookedRuleInput {
    pub service_id: Option<ID>,
    /// REDEEMED: came and was served; NO_SHOW: did not come.
    pub status: Option<BookingStatus>,
    pub since: Option<Date>,
    pub before: Option<Date>,
}

/// Members due to buy a category again on the local day `on`, by their own buying cycle: for a
/// category bought on at least two distinct days, cycle = (last day - first day) / (days - 1),
/// due day = last day + cycle. A purchase of the category moves the due day.
#[derive(InputObject)]
pub struct RepurchaseDueRuleInput {
    pub on: Date,
    /// None: any category.
    pub category_id: Option<ID>,
    /// Leave out members who bought the category on this local day or later.
    pub not_bought_since: Option<Date>,
}

/// One rule of a segment; exactly one field is set. `all`/`any`/`not` combine rules; a list
/// inside a leaf means "any of these".
#[derive(OneofObject)]
pub enum SegmentRuleInput {
    All(Vec<SegmentRuleInput>),
    Any(Vec<SegmentRuleInput>),
    Not(Box<SegmentRuleInput>),
    Tags(Vec<String>),
    Tiers(Vec<String>),
    /// DRY, OILY, COMBINATION, NORMAL, SENSITIVE.
    SkinTypes(Vec<SkinType>),
    /// ACNE, AGEING, PIGMENTATION, REDNESS, PORES, DEHYDRATION, DULLNESS (any of).
    SkinConcerns(Vec<SkinConcern>),
    Region(RegionRuleInput),
    /// CHAMPIONS, LOYAL, BIG_SPENDERS, PROMISING, HIBERNATING, PROSPECT (nightly).
    RfmSegments(Vec<RfmSegment>),
    /// NEW, ACTIVE, AT_RISK, LOST (nightly).
    Lifecycles(Vec<Lifecycle>),
    LastPurchaseBefore(DateTime),
    LastPurchaseAfter(DateTime),
    BoughtProducts(Vec<ID>),
    BoughtCategories(Vec<ID>),
    /// 1–12.
    BirthdayMonths(Vec<u32>),
    MarketingConsent(bool),
    Booked(BookedRuleInput),
    RepurchaseDue(RepurchaseDueRuleInput),
}

fn opt_id(id: Option<ID>) -> ApiResult<Option<i64>> {
    id.as_ref().map(parse_id).transpose()
}

fn ids(list: &[ID]) -> ApiResult<Vec<i64>> {
    list.iter().map(parse_id).collect()
}

impl SegmentRuleInput {
    fn into_rule(self) -> ApiResult<SegmentRule> {
        let all = |rules: Vec<SegmentRuleInput>| -> ApiResult<Vec<SegmentRule>> {
            rules.into_iter().map(SegmentRuleInput::into_rule).collect()
        };
        Ok(match self {
            Self::All(rules) => SegmentRule::All { rules: all(rules)? },
            Self::Any(rules) => SegmentRule::Any { rules: all(rules)? },
            Self::Not(rule) => SegmentRule::Not {
                rule: Box::new(rule.into_rule()?),
            },
            Self::Tags(names) => SegmentRule::Tag { names },
            Self::Tiers(codes) => SegmentRule::Tier { codes },
            Self::SkinTypes(types) => SegmentRule::SkinType { types },
            Self::SkinConcerns(concerns) => SegmentRule::SkinConcern { concerns },
            Self::Region(r) => SegmentRule::Region {
                province: r.province,
                city: r.city,
            },
            Self::RfmSegments(segments) => SegmentRule::Rfm { segments },
            Self::Lifecycles(stages) => SegmentRule::Lifecycle { stages },
            Self::LastPurchaseBefore(at) => SegmentRule::LastPurchaseBefore { at: at.0 },
            Self::LastPurchaseAfter(at) => SegmentRule::LastPurchaseAfter { at: at.0 },
            Self::BoughtProducts(list) => SegmentRule::BoughtProduct {
                product_ids: ids(&list)?,
            },
            Self::BoughtCategories(list) => SegmentRule::BoughtCategory {
                category_ids: ids(&list)?,
            },
            Self::BirthdayMonths(months) => SegmentRule::BirthdayMonth { months },
            Self::MarketingConsent(value) => SegmentRule::MarketingConsent { value },
            Self::Booked(b) => SegmentRule::Booked {
                service_id: opt_id(b.service_id)?,
                status: b.status,
                since: b.since.map(|d| d.0),
                before: b.before.map(|d| d.0),
            },
            Self::RepurchaseDue(r) => SegmentRule::RepurchaseDue {
                on: r.on.0,
                category_id: opt_id(r.category_id)?,
                not_bought_since: r.not_bought_since.map(|d| d.0),
            },
        })
    }
}

/// A member of a preview: the nickname masked, never a phone number.
#[derive(SimpleObject)]
pub struct SegmentSampleMember {
    pub id: ID,
    pub member_code: String,
    pub nickname: String,
    pub tier_code: String,
    pub province: Option<String>,
}

#[derive(SimpleObject)]
pub struct SegmentPreview {
    pub count: u64,
    pub sample: Vec<SegmentSampleMember>,
}

// ------------------------------------------------------------------ campaigns

#[derive(InputObject)]
pub struct TemplateValueInput {
    pub key: String,
    /// May hold {{nickname}}, {{member_code}} and (with a coupon template) {{coupon}}.
    pub value: String,
}

#[derive(SimpleObject)]
pub struct TemplateValue {
    pub key: String,
    pub value: String,
}

#[derive(InputObject)]
pub struct QuietHoursInput {
    /// Local time, HH:MM.
    pub start: String,
    pub end: String,
}

#[derive(SimpleObject)]
pub struct QuietHoursView {
    pub start: String,
    pub end: String,
}

#[derive(InputObject)]
pub struct FrequencyCapInput {
    /// At most this many campaign messages per member (0 = no cap)...
    pub messages: i32,
    /// ...within this many days.
    pub days: i32,
}

#[derive(InputObject)]
pub struct CreateCampaignInput {
    pub name: String,
    pub segment: SegmentRuleInput,
    pub template_id: String,
    pub values: Vec<TemplateValueInput>,
    /// Mini-program page (no leading slash); the campaign id is added for attribution.
    pub page: String,
    pub coupon_template_id: Option<ID>,
    pub start_at: Option<DateTime>,
    /// Default 21:00–09:00; start equal to end means none.
    pub quiet_hours: Option<QuietHoursInput>,
    /// IANA zone of the quiet hours; Asia/Shanghai by default.
    pub zone: Option<String>,
    pub cap: Option<FrequencyCapInput>,
    /// Orders within this many days of a message count to the campaign (default 7).
    pub attribution_days: Option<i32>,
}

#[derive(SimpleObject)]
pub struct Campaign {
    pub id: ID,
    pub name: String,
    /// MANUAL, BIRTHDAY, FOLLOW_UP, REPURCHASE or WIN_BACK.
    pub kind: String,
    pub status: CampaignStatus,
    /// The segment rule tree, as JSON.
    pub segment_json: String,
    pub template_id: String,
    pub values: Vec<TemplateValue>,
    pub page: String,
    pub coupon_template_id: Option<ID>,
    pub start_at: Option<DateTime>,
    pub zone: String,
    pub quiet_hours: QuietHoursView,
    pub cap_messages: i32,
    pub cap_days: i32,
    pub attribution_days: i32,
    /// Why the dispatcher paused it, if it did.
    pub last_error: Option<String>,
    pub created_at: DateTime,
    pub completed_at: Option<DateTime>,
}

fn values_view(values: BTreeMap<String, String>) -> Vec<TemplateValue> {
    values
        .into_iter()
        .map(|(key, value)| TemplateValue { key, value })
        .collect()
}

impl From<campaigns::Campaign> for Campaign {
    fn from(c: campaigns::Campaign) -> Self {
        Self {
            id: c.id.into(),
            name: c.name,
            kind: c.kind.to_value(),
            status: c.status,
            segment_json: serde_json::to_string(&c.segment).unwrap_or_default(),
            template_id: c.template_id,
            values: values_view(c.values),
            page: c.page,
            coupon_template_id: c.coupon_template_id.map(Into::into),
            start_at: c.start_at.map(Into::into),
            zone: c.zone,
            quiet_hours: QuietHoursView {
                start: c.quiet_hours.start.format("%H:%M").to_string(),
                end: c.quiet_hours.end.format("%H:%M").to_string(),
            },
            cap_messages: c.cap_count,
            cap_days: c.cap_days,
            attribution_days: c.attribution_days,
            last_error: c.last_error,
            created_at: c.created_at.into(),
            completed_at: c.completed_at.map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
pub struct ReasonCount {
    pub reason: String,
    pub count: i64,
}

/// Coupons claimed and redeemed are not reported yet: coupons land in a later merge.
#[derive(SimpleObject)]
pub struct CampaignReport {
    pub campaign_id: ID,
    /// Members the segment selected (so far, while the audience is still being paged).
    pub audience: i64,
    /// The audience less those without consent, marketing consent or over the cap.
    pub eligible: i64,
    pub sent: i64,
    pub pending: i64,
    pub failed: i64,
    pub failed_by_reason: Vec<ReasonCount>,
    pub skipped_by_reason: Vec<ReasonCount>,
    /// Paid orders by recipients within the attribution window (last touch).
    pub orders: i64,
    pub revenue_fen: Fen,
    /// Copies of the campaign's coupon given with the message, and how many were used.
    pub coupons_issued: i64,
    pub coupons_redeemed: i64,
}

fn reasons(list: Vec<(String, i64)>) -> Vec<ReasonCount> {
    list.into_iter()
        .map(|(reason, count)| ReasonCount { reason, count })
        .collect()
}

fn parse_time(s: &str) -> ApiResult<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| ApiError::bad_input("quiet hours: times are HH:MM"))
}

fn values_map(values: Vec<TemplateValueInput>) -> ApiResult<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for v in values {
        if map.insert(v.key.clone(), v.value).is_some() {
            return Err(ApiError::bad_input(format!("{}: given twice", v.key)));
        }
    }
    Ok(map)
}

// ------------------------------------------------------------------ automations

#[derive(InputObject)]
pub struct CampaignAutomationInput {
    pub kind: AutomationKind,
    pub enabled: bool,
    pub template_id: String,
    pub values: Vec<TemplateValueInput>,
    pub page: String,
    #[graphql(default = 7)]
    pub days: i32,
    pub coupon_template_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct CampaignAutomation {
    pub kind: String,
    pub enabled: bool,
    pub template_id: String,
    pub values: Vec<TemplateValue>,
    pub page: String,
    pub days: i32,
    pub coupon_template_id: Option<ID>,
}

impl From<automations::Automation> for CampaignAutomation {
    fn from(a: automations::Automation) -> Self {
        Self {
            kind: a.kind.to_value(),
            enabled: a.enabled,
            template_id: a.template_id,
            values: values_view(a.values),
            page: a.page,
            days: a.days,
            coupon_template_id: a.coupon_template_id.map(Into::into),
        }
    }
}

// ------------------------------------------------------------------ resolvers

#[derive(Default)]
pub struct StaffCampaignsQuery;

#[Object]
impl StaffCampaignsQuery {
    async fn subscription_templates(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<SubscriptionTemplate>> {
        let me = staff(ctx).await?;
        Ok(campaigns::templates(app(ctx), me)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// How many members a segment selects, and five of them (masked).
    async fn preview_segment(
        &self,
        ctx: &Context<'_>,
        rule: SegmentRuleInput,
    ) -> ApiResult<SegmentPreview> {
        let me = staff(ctx).await?;
        let rule = rule.into_rule()?;
        let p = campaigns::preview_segment(app(ctx), me, &rule).await?;
        Ok(SegmentPreview {
            count: p.count,
            sample: p
                .sample
                .into_iter()
                .map(|m| SegmentSampleMember {
                    id: m.member_id.into(),
                    member_code: m.member_code,
                    nickname: m.nickname_masked,
                    tier_code: m.tier_code,
                    province: m.region_province,
                })
                .collect(),
        })
    }

    /// Campaigns, newest first.
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Campaign>> {
        let me = staff(ctx).await?;
        let page =
            pagination::staff_keyset(me, &[Permission::ManageCampaigns], first, after.as_deref())?;
        let list = campaigns::list(app(ctx), me, page).await?;
        Ok(pagination::connection(list, &page, |c| c.id, Into::into))
    }

    async fn campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Campaign> {
        let me = staff(ctx).await?;
        Ok(campaigns::get(app(ctx), me, parse_id(&id)?).await?.into())
    }

    async fn campaign_report(&self, ctx: &Context<'_>, id: ID) -> ApiResult<CampaignReport> {
        let me = staff(ctx).await?;
        let r = campaigns::report(app(ctx), me, parse_id(&id)?).await?;
        Ok(CampaignReport {
            campaign_id: r.campaign_id.into(),
            audience: r.audience,
            eligible: r.eligible,
            sent: r.sent,
            pending: r.pending,
            failed: r.failed,
            failed_by_reason: reasons(r.failed_by_reason),
            skipped_by_reason: reasons(r.skipped_by_reason),
            orders: r.orders,
            revenue_fen: r.revenue_fen.into(),
            coupons_issued: r.coupons_issued,
            coupons_redeemed: r.coupons_redeemed,
        })
    }

    async fn campaign_automations(&self, ctx: &Context<'_>) -> ApiResult<Vec<CampaignAutomation>> {
        let me = staff(ctx).await?;
        Ok(automations::list(app(ctx), me)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct StaffCampaignsMutation;

#[Object]
impl StaffCampaignsMutation {
    async fn register_subscription_template(
        &self,
        ctx: &Context<'_>,
        input: RegisterSubscriptionTemplateInput,
    ) -> ApiResult<SubscriptionTemplate> {
        let me = staff(ctx).await?;
        // Who may register comes before what they sent (the kinds are read here).
        me.require(Permission::ManageCampaigns)?;
        let keys = input
            .keys
            .into_iter()
            .map(|k| {
                Ok(DomainKey {
                    kind: campaigns::key_kind(&k.key, &k.kind)?,
                    key: k.key,
                    label: k.label,
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(
            campaigns::register_template(app(ctx), me, &input.template_id, &input.title, keys)
                .await?
                .into(),
        )
    }

    /// Creates a draft; values that break their key's rule are refused (BAD_USER_INPUT naming
    /// the key).
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        input: CreateCampaignInput,
    ) -> ApiResult<Campaign> {
        let me = staff(ctx).await?;
        let quiet_hours = match input.quiet_hours {
            Some(q) => Some(QuietHours {
                start: parse_time(&q.start)?,
                end: parse_time(&q.end)?,
            }),
            None => None,
        };
        let coupon_template_id = match input.coupon_template_id {
            Some(id) => Some(parse_id(&id)?),
            None => None,
        };
        let input = DomainCampaignInput {
            name: input.name,
            segment: input.segment.into_rule()?,
            template_id: input.template_id,
            values: values_map(input.values)?,
            page: input.page,
            coupon_template_id,
            start_at: input.start_at.map(|t| t.0),
            quiet_hours,
            zone: input.zone,
            cap: input.cap.map(|c| (c.messages, c.days)),
            attribution_days: input.attribution_days,
        };
        Ok(campaigns::create(app(ctx), me, input).await?.into())
    }

    /// Schedules a draft (at `startAt`, its own start time, or now).
    async fn schedule_campaign(
        &self,
        ctx: &Context<'_>,
        id: ID,
        start_at: Option<DateTime>,
    ) -> ApiResult<Campaign> {
        let me = staff(ctx).await?;
        Ok(
            campaigns::schedule(app(ctx), me, parse_id(&id)?, start_at.map(|t| t.0))
                .await?
                .into(),
        )
    }

    async fn pause_campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Campaign> {
        let me = staff(ctx).await?;
        Ok(campaigns::pause(app(ctx), me, parse_id(&id)?).await?.into())
    }

    async fn resume_campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Campaign> {
        let me = staff(ctx).await?;
        Ok(campaigns::resume(app(ctx), me, parse_id(&id)?)
            .await?
            .into())
    }

    async fn cancel_campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Campaign> {
        let me = staff(ctx).await?;
        Ok(campaigns::cancel(app(ctx), me, parse_id(&id)?)
            .await?
            .into())
    }

    /// Switches an automation on or off and sets its message.
    async fn configure_campaign_automation(
        &self,
        ctx: &Context<'_>,
        input: CampaignAutomationInput,
    ) -> ApiResult<CampaignAutomation> {
        let me = staff(ctx).await?;
        let coupon_template_id = match input.coupon_template_id {
            Some(id) => Some(parse_id(&id)?),
            None => None,
        };
        Ok(automations::configure(
            app(ctx),
            me,
            automations::Automation {
                kind: input.kind,
                enabled: input.enabled,
                template_id: input.template_id,
                values: values_map(input.values)?,
                page: input.page,
                days: input.days,
                coupon_template_id,
            },
        )
        .await?
        .into())
    }
}
