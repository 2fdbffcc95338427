//! The audit log, for HQ.

use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::audit;

use crate::accounts::{IdCursor, after_id, page_size};
use crate::context::{app, staff};
use crate::error::{ApiResult, parse_id};

#[derive(SimpleObject)]
pub struct AuditEntry {
    pub id: ID,
    pub at: DateTime<Utc>,
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
            at: e.at,
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
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
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
        Ok(entries.into_iter().map(Into::into).collect())
    }

    /// The whole log, newest first, 1 to 200 a page (HQ only).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> ApiResult<Connection<IdCursor, AuditEntry>> {
        let staff = staff(ctx).await?;
        let f = filter.unwrap_or_default();
        let filter = audit::AuditFilter {
            actor_id: f.actor_id.as_ref().map(parse_id).transpose()?,
            actor_kind: f.actor_kind,
            subject_kind: f.subject_type,
            subject_id: f.subject_id.as_ref().map(parse_id).transpose()?,
            action: f.action,
            from: f.from,
            to: f.to,
        };
        let before = after_id(after.as_deref())?;
        let (rows, more) =
            audit::search(app(ctx), staff, &filter, page_size(first), before).await?;
        let mut connection = Connection::new(before.is_some(), more);
        connection.edges.extend(
            rows.into_iter()
                .map(|e| Edge::new(OpaqueCursor(e.id), AuditEntry::from(e))),
        );
        Ok(connection)
    }
}
