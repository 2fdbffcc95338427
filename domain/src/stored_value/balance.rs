//! Reading a balance and its ledger: the member their own, staff any member's (audited).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

use super::ledger::spendable;
use super::{Balance, LedgerEntry, StoredValueError};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{MemberPrincipal, Permission, StaffPrincipal};
use crate::platform::page::{IdKey, Keyset, Page};
use crate::{AppState, RequestMeta};
use entities::{balance_ledger, member, member_balance};

async fn read(app: &AppState, member_id: i64) -> Result<Balance, StoredValueError> {
    let row = member_balance::Entity::find_by_id(member_id)
        .one(&app.db)
        .await?;
    Ok(match row {
        Some(row) => spendable(&row, app.clock.now()),
        None => Balance {
            member_id,
            principal_fen: 0,
            bonus_fen: 0,
            bonus_expires_at: None,
        },
    })
}

/// The member's own stored value.
pub async fn my_balance(app: &AppState, me: &MemberPrincipal) -> Result<Balance, StoredValueError> {
    read(app, me.member_id).await
}

/// The member's own ledger, newest first (by id).
pub async fn my_balance_ledger(
    app: &AppState,
    me: &MemberPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<LedgerEntry>, StoredValueError> {
    let mut query = balance_ledger::Entity::find()
        .filter(balance_ledger::Column::MemberId.eq(me.member_id))
        .order_by_desc(balance_ledger::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(balance_ledger::Column::Id.lt(after));
    }
    Ok(page.page(query.all(&app.db).await?).map(Into::into))
}

/// A BA, manager or HQ reads a member's stored value (at the counter, before a sale paid by
/// balance); the read is audited. An erased member is found by nobody.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id))]
pub async fn member_balance(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
) -> Result<Balance, StoredValueError> {
    staff.require(Permission::ReadMembers)?;
    let found = member::Entity::find_by_id(member_id)
        .filter(member::Column::ErasedAt.is_null())
        .one(&app.db)
        .await?;
    if found.is_none() {
        return Err(StoredValueError::NotFound("member"));
    }
    let balance = read(app, member_id).await?;
    audit::record(
        &app.db,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberBalanceRead,
        (SubjectKind::Member, Some(member_id)),
        json!({}),
    )
    .await?;
    Ok(balance)
}
