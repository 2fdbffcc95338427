//! The audit log: every staff read of a member's personal data, every staff change to a
//! member's record, every account, role, store and distributor change, password reset and
//! failed login, with who, when, from which request and address, and before/after values
//! (never a password or its hash).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::auth::{AuthError, Permission, StaffPrincipal};
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use crate::platform::page::{IdKey, Keyset, Page};
use crate::{AppState, RequestMeta};
use entities::audit_log;

pub use entities::audit_log::{Action, ActorKind, SubjectKind};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum AuditError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(AuditError);

impl DomainError for AuditError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Staff(i64),
    Member(i64),
    Distributor(i64),
    System,
}

impl Actor {
    fn parts(self) -> (ActorKind, Option<i64>) {
        match self {
            Self::Staff(id) => (ActorKind::Staff, Some(id)),
            Self::Member(id) => (ActorKind::Member, Some(id)),
            Self::Distributor(id) => (ActorKind::Distributor, Some(id)),
            Self::System => (ActorKind::System, None),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_kind: ActorKind,
    pub actor_id: Option<i64>,
    pub action: Action,
    pub subject_kind: SubjectKind,
    pub subject_id: Option<i64>,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
    pub client_addr: Option<String>,
}

impl From<audit_log::Model> for AuditEntry {
    fn from(r: audit_log::Model) -> Self {
        Self {
            id: r.id,
            at: r.at,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            action: r.action,
            subject_kind: r.subject_kind,
            subject_id: r.subject_id,
            request_id: r.request_id,
            detail: r.detail.into_inner(),
            client_addr: r.client_addr,
        }
    }
}

/// Writes one entry, inside the caller's transaction when it has one, so the entry exists
/// exactly when the audited read or change happened.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    app: &AppState,
    meta: &RequestMeta,
    actor: Actor,
    action: Action,
    subject: (SubjectKind, Option<i64>),
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    let (actor_kind, actor_id) = actor.parts();
    audit_log::ActiveModel {
        at: Set(app.clock.now()),
        actor_kind: Set(actor_kind),
        actor_id: Set(actor_id),
        action: Set(action),
        subject_kind: Set(subject.0),
        subject_id: Set(subject.1),
        request_id: Set(Some(meta.request_id.clone())),
        detail: Set(detail.into()),
        client_addr: Set(meta.client_ip.map(|ip| ip.to_string())),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The entries about one member, newest first (by id), for HQ.
pub async fn entries_for_member(
    app: &AppState,
    staff: &StaffPrincipal,
    member_id: i64,
    page: Keyset<IdKey>,
) -> Result<Page<AuditEntry>, AuditError> {
    staff.require(Permission::ReadAuditLog)?;
    let mut query = audit_log::Entity::find()
        .filter(audit_log::Column::SubjectKind.eq(SubjectKind::Member))
        .filter(audit_log::Column::SubjectId.eq(member_id))
        .order_by_desc(audit_log::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(audit_log::Column::Id.lt(after));
    }
    let rows = page.page(query.all(&app.db).await?);
    Ok(rows.map(Into::into))
}

/// What HQ searches the log by; every part is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// A staff, member or distributor account id (with `actor_kind` when ids could collide).
    pub actor_id: Option<i64>,
    pub actor_kind: Option<ActorKind>,
    pub subject_kind: Option<SubjectKind>,
    pub subject_id: Option<i64>,
    pub action: Option<Action>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// HQ's search of the whole log, newest first (by id), after the id the previous page ended at.
pub async fn search(
    app: &AppState,
    staff: &StaffPrincipal,
    filter: &AuditFilter,
    page: Keyset<IdKey>,
) -> Result<Page<AuditEntry>, AuditError> {
    staff.require(Permission::ReadAuditLog)?;
    let mut query = audit_log::Entity::find();
    if let Some(id) = filter.actor_id {
        query = query.filter(audit_log::Column::ActorId.eq(id));
    }
    if let Some(kind) = filter.actor_kind {
        query = query.filter(audit_log::Column::ActorKind.eq(kind));
    }
    if let Some(kind) = filter.subject_kind {
        query = query.filter(audit_log::Column::SubjectKind.eq(kind));
    }
    if let Some(id) = filter.subject_id {
        query = query.filter(audit_log::Column::SubjectId.eq(id));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_log::Column::Action.eq(action));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::Column::At.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::Column::At.lt(to));
    }
    if let Some(after) = page.after {
        query = query.filter(audit_log::Column::Id.lt(after));
    }
    let rows = query
        .order_by_desc(audit_log::Column::Id)
        .limit(page.fetch())
        .all(&app.db)
        .await?;
    Ok(page.page(rows).map(Into::into))
}
