//! The audit log, for HQ.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::audit;

use crate::context::{app, staff};
use crate::error::{ApiResult, parse_id};

#[derive(SimpleObject)]
pub struct AuditEntry {
    pub id: ID,
    pub at: DateTime<Utc>,
    pub actor_kind: audit::ActorKind,
    pub actor_id: Option<ID>,
    pub action: audit::Action,
    pub request_id: Option<String>,
    pub detail: async_graphql::Json<serde_json::Value>,
}

#[derive(Default)]
pub struct StaffAuditQuery;

#[Object]
impl StaffAuditQuery {
    /// Who read or changed a member's personal data, newest first (HQ only).
    async fn member_audit_log(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        #[graphql(default = 50)] first: i32,
    ) -> ApiResult<Vec<AuditEntry>> {
        let staff = staff(ctx).await?;
        let id = parse_id(&member_id)?;
        let limit = u64::try_from(first).unwrap_or(0);
        let entries = audit::entries_for_member(app(ctx), staff, id, limit).await?;
        Ok(entries
            .into_iter()
            .map(|e| AuditEntry {
                id: e.id.into(),
                at: e.at,
                actor_kind: e.actor_kind,
                actor_id: e.actor_id.map(Into::into),
                action: e.action,
                request_id: e.request_id,
                detail: async_graphql::Json(e.detail),
            })
            .collect())
    }
}
