//! The audit log, for HQ.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, SimpleObject};
use domain::audit;
use domain::auth::Permission;

use crate::context::{app, staff};
use crate::error::{ApiResult, parse_id};
use crate::pagination;
use crate::scalars::DateTime;

#[derive(SimpleObject)]
pub struct AuditEntry {
    pub id: ID,
    pub at: DateTime,
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
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, AuditEntry>> {
        let staff = staff(ctx).await?;
        let id = parse_id(&member_id)?;
        let page =
            pagination::staff_keyset(staff, &[Permission::ReadAuditLog], first, after.as_deref())?;
        let entries = audit::entries_for_member(app(ctx), staff, id, page).await?;
        Ok(pagination::connection(
            entries,
            &page,
            |e| e.id,
            |e| AuditEntry {
                id: e.id.into(),
                at: e.at.into(),
                actor_kind: e.actor_kind,
                actor_id: e.actor_id.map(Into::into),
                action: e.action,
                request_id: e.request_id,
                detail: async_graphql::Json(e.detail),
            },
        ))
    }
}
