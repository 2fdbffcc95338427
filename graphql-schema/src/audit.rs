//! The audit log, for HQ.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
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
    pub subject_type: audit::SubjectKind,
    pub subject_id: Option<ID>,
    pub request_id: Option<String>,
    /// The caller's address as the server saw it.
    pub client_address: Option<String>,
    /// What else matters: for changes `before` and `after` (never a password or its hash).
    pub detail: async_graphql::Json<serde_json::Value>,
}

impl From<audit::AuditEntry> for AuditEntry {
    fn from(e: audit::AuditEntry) -> Self {
        Self {
            id: e.id.into(),
            at: e.at.into(),
            actor_kind: e.actor_kind,
            actor_id: e.actor_id.map(Into::into),
            action: e.action,
            subject_type: e.subject_kind,
            subject_id: e.subject_id.map(Into::into),
            request_id: e.request_id,
            client_address: e.client_addr,
            detail: async_graphql::Json(e.detail),
        }
    }
}

/// Every part is optional; `from` is inclusive, `to` exclusive.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    pub actor_id: Option<ID>,
    pub actor_kind: Option<audit::ActorKind>,
    pub subject_type: Option<audit::SubjectKind>,
    pub subject_id: Option<ID>,
    pub action: Option<audit::Action>,
    pub from: Option<DateTime>,
    pub to: Option<DateTime>,
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
        Ok(pagination::connection(entries, &page, |e| e.id, Into::into))
    }

    /// The whole log, newest first (HQ only).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, AuditEntry>> {
        let staff = staff(ctx).await?;
        let page =
            pagination::staff_keyset(staff, &[Permission::ReadAuditLog], first, after.as_deref())?;
        let f = filter.unwrap_or_default();
        let filter = audit::AuditFilter {
            actor_id: f.actor_id.as_ref().map(parse_id).transpose()?,
            actor_kind: f.actor_kind,
            subject_kind: f.subject_type,
            subject_id: f.subject_id.as_ref().map(parse_id).transpose()?,
            action: f.action,
            from: f.from.map(|t| t.0),
            to: f.to.map(|t| t.0),
        };
        let entries = audit::search(app(ctx), staff, &filter, page).await?;
        Ok(pagination::connection(entries, &page, |e| e.id, Into::into))
    }
}
