use sea_orm::entity::prelude::*;

/// One campaign message to one member; unique per (campaign, member) and written before the
/// send, so a dispatcher that crashes and resumes never sends twice.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub member_id: i64,
    /// PENDING, CLAIMED (by a dispatcher), READY (consent taken), SENDING (handed to WeChat),
    /// SENT, SKIPPED, FAILED.
    pub state: String,
    /// Why skipped or failed (NO_CONSENT, NO_MARKETING_CONSENT, OVER_CAP, CONSENT_EXHAUSTED,
    /// WECHAT_BUSY, INVALID_VALUE, IN_DOUBT, ...).
    pub reason: Option<String>,
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
