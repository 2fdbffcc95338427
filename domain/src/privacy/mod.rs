//! Members' data rights (PIPL): the privacy policy a member must accept before using Rouge,
//! and the separate consent to sensitive personal data (skin concerns, allergies, later skin
//! photos; PIPL art. 29), each kept with the version agreed to and when.
//!
//! The gate: a member who has not accepted the current policy version may only sign in, keep
//! or end the session, read the policy and accept it (`graphql_schema::access`); the login
//! layer asks [`has_accepted_policy`] while the session has not yet seen an acceptance.

mod consent;
mod export;

use crate::auth::AuthError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};

pub use consent::{
    ConsentStatus, accept_privacy_policy, consent_status, grant_sensitive_data_consent,
    has_accepted_policy, has_sensitive_consent, record_demo_consents,
    withdraw_sensitive_data_consent,
};
pub use entities::member_consent::ConsentKind;
pub use export::{EXPORT_FORMAT, member_document};

/// The texts members agree to. Changing a version makes every member accept (or grant) again.
#[derive(Debug, Clone)]
pub struct PrivacySettings {
    pub policy_version: String,
    pub policy_url: String,
    pub sensitive_version: String,
    pub sensitive_url: String,
    /// Why sensitive data is asked for, shown beside the consent button.
    pub sensitive_purpose: String,
    /// `exportMyData` calls one member may make per day in the store's zone (the document
    /// reads every table that names her; customer service's CLI export is not limited).
    pub exports_per_day: i64,
}

/// Exports per member per day when nothing is configured.
pub const DEFAULT_EXPORTS_PER_DAY: i64 = 3;

/// The policy version the demo and tests run with when nothing is configured.
pub const DEFAULT_POLICY_VERSION: &str = "2026-12-01";
/// The sensitive-data consent text version when nothing is configured.
pub const DEFAULT_SENSITIVE_VERSION: &str = "2026-12-01";

impl Default for PrivacySettings {
    fn default() -> Self {
        Self {
            policy_version: DEFAULT_POLICY_VERSION.to_owned(),
            policy_url: format!("https://rouge.example/privacy/{DEFAULT_POLICY_VERSION}"),
            sensitive_version: DEFAULT_SENSITIVE_VERSION.to_owned(),
            sensitive_url: format!("https://rouge.example/privacy/sensitive/{DEFAULT_SENSITIVE_VERSION}"),
            exports_per_day: DEFAULT_EXPORTS_PER_DAY,
            sensitive_purpose: "肤质、肌肤困扰与过敏成分仅用于为您推荐合适的产品并在推荐含过敏成分的产品前提醒导购；您可随时撤回同意，撤回后这些信息将立即删除。".to_owned(),
        }
    }
}

/// A text a member agrees to: its version and where to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: String,
    pub url: String,
    /// What the data is used for (the sensitive-data consent only).
    pub purpose: Option<String>,
}

/// The current privacy policy.
pub fn privacy_policy(app: &crate::AppState) -> Policy {
    let s = &app.settings.privacy;
    Policy {
        version: s.policy_version.clone(),
        url: s.policy_url.clone(),
        purpose: None,
    }
}

/// The current sensitive-data consent text.
pub fn sensitive_data_policy(app: &crate::AppState) -> Policy {
    let s = &app.settings.privacy;
    Policy {
        version: s.sensitive_version.clone(),
        url: s.sensitive_url.clone(),
        purpose: Some(s.sensitive_purpose.clone()),
    }
}

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum PrivacyError {
    #[error("accept the current privacy policy (privacyPolicy) first")]
    ConsentRequired,
    #[error(
        "that is not the current version; read the policy again and accept the version it shows"
    )]
    OutdatedVersion,
    #[error(
        "the member has not consented to sensitive personal data: skin concerns and allergies cannot be stored"
    )]
    SensitiveConsentRequired,
    #[error("member not found")]
    MemberNotFound,
    #[error("you have exported your data {0} times today; try again tomorrow")]
    ExportLimitReached(i64),
    #[error("stored personal data could not be read")]
    Pii(#[from] crate::platform::pii::PiiError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(PrivacyError);

impl DomainError for PrivacyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::ConsentRequired | Self::SensitiveConsentRequired => ErrorCode::Forbidden,
            Self::OutdatedVersion => ErrorCode::BadUserInput,
            Self::MemberNotFound => ErrorCode::NotFound,
            Self::ExportLimitReached(_) => ErrorCode::RateLimited,
            Self::Pii(_) => ErrorCode::Internal,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

/// Everything Rouge holds about the calling member, as one JSON document; the export is
/// audited (the member as actor).
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn export_my_data(
    app: &crate::AppState,
    me: &crate::auth::MemberPrincipal,
    meta: &crate::RequestMeta,
) -> Result<serde_json::Value, PrivacyError> {
    count_export(app, me.member_id).await?;
    let doc = member_document(app, me.member_id).await?;
    crate::audit::record(
        &app.db,
        app,
        meta,
        crate::audit::Actor::Member(me.member_id),
        crate::audit::Action::MemberDataExport,
        (crate::audit::SubjectKind::Member, Some(me.member_id)),
        serde_json::json!({ "by": "member" }),
    )
    .await?;
    Ok(doc)
}

/// The same document for a request made through customer service (`rouge members export`),
/// audited as a system action with the ticket reference given.
#[tracing::instrument(skip_all, err, fields(member_id))]
pub async fn export_for_request(
    app: &crate::AppState,
    member_id: i64,
    reference: &str,
) -> Result<serde_json::Value, PrivacyError> {
    let doc = member_document(app, member_id).await?;
    crate::audit::record(
        &app.db,
        app,
        &crate::RequestMeta::default(),
        crate::audit::Actor::System,
        crate::audit::Action::MemberDataExport,
        (crate::audit::SubjectKind::Member, Some(member_id)),
        serde_json::json!({ "by": "customer service", "reference": reference }),
    )
    .await?;
    Ok(doc)
}

/// Counts one export of the member's on the store's day; past the day's limit, refuses it.
/// The counter lives a little over a day and is keyed by the day, so a new day starts at zero.
async fn count_export(app: &crate::AppState, member_id: i64) -> Result<(), PrivacyError> {
    let day = app
        .clock
        .now()
        .with_timezone(&crate::platform::clock::DEFAULT_ZONE)
        .date_naive();
    let limit = app.settings.privacy.exports_per_day;
    let n = app
        .kv
        .incr_window(
            &crate::platform::kv::keys::member_export(member_id, day),
            std::time::Duration::from_secs(25 * 3600),
        )
        .await?;
    if n > limit {
        return Err(PrivacyError::ExportLimitReached(limit));
    }
    Ok(())
}
