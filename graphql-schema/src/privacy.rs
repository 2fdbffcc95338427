//! Members' data rights (PIPL): the privacy policy and its acceptance, the separate consent to
//! sensitive personal data. Until a member has accepted the current policy, the consumer
//! schema refuses everything else (see [`crate::access::CONSUMER_WITHOUT_CONSENT`]).

use async_graphql::{Context, Object, SimpleObject};
use domain::privacy;

use crate::context::{app, member, meta};
use crate::error::ApiResult;
use crate::scalars::DateTime;

/// A text a member agrees to: its version and where to read it.
#[derive(SimpleObject)]
pub struct Policy {
    /// Give this version back when accepting, so nobody accepts a text they were not shown.
    pub version: String,
    pub url: String,
    /// What the data is used for (the sensitive-data consent).
    pub purpose: Option<String>,
}

impl From<privacy::Policy> for Policy {
    fn from(p: privacy::Policy) -> Self {
        Self {
            version: p.version,
            url: p.url,
            purpose: p.purpose,
        }
    }
}

/// The consents a member holds now.
#[derive(SimpleObject)]
pub struct MemberConsents {
    /// The privacy policy version last accepted, and when.
    pub privacy_policy_version: Option<String>,
    pub privacy_policy_accepted_at: Option<DateTime>,
    /// Whether the accepted version is the current one (otherwise the member must accept again).
    pub privacy_policy_current: bool,
    /// The sensitive-data consent in force, and when it was given (none after a withdrawal).
    pub sensitive_data_version: Option<String>,
    pub sensitive_data_granted_at: Option<DateTime>,
    /// Whether skin concerns and allergies may be recorded now.
    pub sensitive_data_consent: bool,
}

impl From<privacy::ConsentStatus> for MemberConsents {
    fn from(c: privacy::ConsentStatus) -> Self {
        Self {
            privacy_policy_version: c.privacy_version,
            privacy_policy_accepted_at: c.privacy_accepted_at.map(Into::into),
            privacy_policy_current: c.privacy_current,
            sensitive_data_version: c.sensitive_version,
            sensitive_data_granted_at: c.sensitive_granted_at.map(Into::into),
            sensitive_data_consent: c.sensitive_current,
        }
    }
}

#[derive(Default)]
pub struct ConsumerPrivacyQuery;

#[Object]
impl ConsumerPrivacyQuery {
    /// The current privacy policy; needs no sign-in.
    async fn privacy_policy(&self, ctx: &Context<'_>) -> Policy {
        privacy::privacy_policy(app(ctx)).into()
    }

    /// The consent text for sensitive personal data (skin concerns, allergies): version,
    /// text and purpose.
    async fn sensitive_data_policy(&self, ctx: &Context<'_>) -> Policy {
        privacy::sensitive_data_policy(app(ctx)).into()
    }

    /// Everything Rouge holds about the signed-in member, as one JSON document: profile, tags,
    /// allergies, consents with versions, orders with lines, points, coupons, bookings, scans,
    /// campaign messages received, and which staff (by name) read or changed the profile and
    /// when. The same document customer service writes with `rouge members export`. Audited.
    async fn export_my_data(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<async_graphql::Json<serde_json::Value>> {
        let me = member(ctx).await?;
        Ok(async_graphql::Json(
            privacy::export_my_data(app(ctx), me, meta(ctx)?).await?,
        ))
    }
}

#[derive(Default)]
pub struct ConsumerPrivacyMutation;

#[Object]
impl ConsumerPrivacyMutation {
    /// Accepts the privacy policy `version` (the current one, as `privacyPolicy` shows it).
    async fn accept_privacy_policy(
        &self,
        ctx: &Context<'_>,
        version: String,
    ) -> ApiResult<MemberConsents> {
        let me = member(ctx).await?;
        Ok(privacy::accept_privacy_policy(app(ctx), me, &version)
            .await?
            .into())
    }

    /// Consents to the storing of skin concerns and allergies (`sensitiveDataPolicy`'s version).
    async fn grant_sensitive_data_consent(
        &self,
        ctx: &Context<'_>,
        version: String,
    ) -> ApiResult<MemberConsents> {
        let me = member(ctx).await?;
        Ok(
            privacy::grant_sensitive_data_consent(app(ctx), me, &version)
                .await?
                .into(),
        )
    }

    /// Erases the member's personal data at once and for good, and ends every session:
    /// `confirmation` must be `DELETE`. Orders and payments stay for the accounts, anonymous.
    /// Coupons and points are forfeited; the next WeChat login is a new member.
    async fn delete_my_account(&self, ctx: &Context<'_>, confirmation: String) -> ApiResult<bool> {
        let me = member(ctx).await?;
        domain::erasure::delete_my_account(app(ctx), me, meta(ctx)?, &confirmation).await?;
        Ok(true)
    }

    /// Withdraws that consent: skin concerns and allergies are deleted at once.
    async fn withdraw_sensitive_data_consent(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<MemberConsents> {
        let me = member(ctx).await?;
        Ok(privacy::withdraw_sensitive_data_consent(app(ctx), me)
            .await?
            .into())
    }
}
