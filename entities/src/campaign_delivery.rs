use sea_orm::entity::prelude::*;

/// Where one message is: PENDING in the queue, CLAIMED by a dispatcher, READY (consent taken),
/// SENDING (handed to WeChat), then SENT, SKIPPED or FAILED for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum DeliveryState {
    Pending,
    Claimed,
    Ready,
    Sending,
    Sent,
    Skipped,
    Failed,
}

/// Why a message was skipped or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum DeliveryReason {
    /// The member holds no unused subscription for the template.
    NoConsent,
    NoMarketingConsent,
    /// The frequency cap across campaigns is reached.
    OverCap,
    /// WeChat answered 43101.
    ConsentExhausted,
    /// -1 / 5xx until the last attempt.
    WechatBusy,
    /// The values cannot be made to fit the key's rule for this member.
    InvalidValue,
    InvalidOpenid,
    InvalidTemplate,
    InvalidPage,
    WechatRefused,
    /// A dispatcher died while sending: it may have gone out, it is never resent.
    InDoubt,
    MemberGone,
    /// The campaign was cancelled while this was queued.
    Cancelled,
    CouponSoldOut,
    CouponLimitReached,
    CouponUnavailable,
}

/// One campaign message to one member; unique per (campaign, member) and written before the
/// send, so a dispatcher that crashes and resumes never sends twice.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub member_id: i64,
    pub state: DeliveryState,
    /// Why skipped or failed.
    pub reason: Option<DeliveryReason>,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A CLAIMED, READY or SENDING row whose claim ran out belongs to a dispatcher that died.
    pub claimed_until: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    /// Orders until then count to the campaign.
    pub attribution_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
