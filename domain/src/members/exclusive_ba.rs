//! The member's exclusive BA (专属BA).

use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::json;

use super::{Member, MembersError, hold_live, invalid, load_row};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{self, AuthError, Permission, StaffPrincipal};
use crate::{AppState, RequestMeta};

/// Makes a BA the member's exclusive BA (专属BA), credited for the member's online orders;
/// `None` removes it. A manager may only assign BAs of their own store.
pub async fn assign_exclusive_ba(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
    ba_id: Option<i64>,
) -> Result<Member, MembersError> {
    staff.require(Permission::AssignExclusiveBa)?;
    if let Some(ba_id) = ba_id {
        let ba = entities::staff_account::Entity::find_by_id(ba_id)
            .one(&app.db)
            .await?
            .filter(|b| b.active && b.role == auth::StaffRole::Ba)
            .ok_or_else(|| invalid("the exclusive BA must be an active BA account"))?;
        if staff.role != auth::StaffRole::Hq && ba.store_id != staff.store_id {
            return Err(AuthError::Forbidden.into());
        }
    }
    let txn = crate::platform::db::begin_write(&app.db).await?;
    hold_live(&txn, member_id, app.clock.now()).await?;
    let mut active = load_row(&txn, member_id).await?.into_active_model();
    active.exclusive_ba_id = Set(ba_id);
    active.updated_at = Set(app.clock.now());
    let row = active.update(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberExclusiveBaAssign,
        (SubjectKind::Member, Some(member_id)),
        json!({ "baId": ba_id }),
    )
    .await?;
    txn.commit().await?;
    Ok(row.into())
}
