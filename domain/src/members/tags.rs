//! Member tags: SYSTEM ones follow the profile, MANUAL ones a BA adds or removes.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, Iterable, QueryFilter, QueryOrder, Set};
use serde_json::json;

use super::{MembersError, SkinType, Tag, TagSource, check_name, hold_live, load_row};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::{AppState, RequestMeta};
use entities::member_tag;

pub async fn tags(app: &AppState, member_id: i64) -> Result<Vec<Tag>, MembersError> {
    Ok(member_tag::Entity::find()
        .filter(member_tag::Column::MemberId.eq(member_id))
        .order_by_asc(member_tag::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|t| Tag {
            name: t.name,
            source: t.source,
            created_at: t.created_at,
        })
        .collect())
}

fn check_manual_tag(name: &str) -> Result<String, MembersError> {
    let name = check_name("a tag", name, 20)?;
    if SkinType::iter().any(|t| t.tag() == name) {
        return Err(MembersError::SystemTag);
    }
    Ok(name)
}

/// Adds a manual tag; adding one the member already has changes nothing.
pub async fn add_tag(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
    name: &str,
) -> Result<Vec<Tag>, MembersError> {
    staff.require(Permission::TagMembers)?;
    let name = check_manual_tag(name)?;
    load_row(&app.db, member_id).await?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    hold_live(&txn, member_id, app.clock.now()).await?;
    let inserted = member_tag::Entity::insert(member_tag::ActiveModel {
        member_id: Set(member_id),
        name: Set(name.clone()),
        source: Set(TagSource::Manual),
        created_by: Set(Some(staff.staff_id)),
        created_at: Set(app.clock.now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([member_tag::Column::MemberId, member_tag::Column::Name])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted > 0 {
        audit::record(
            &txn,
            app,
            meta,
            Actor::Staff(staff.staff_id),
            Action::MemberTagAdd,
            (SubjectKind::Member, Some(member_id)),
            json!({ "tag": name }),
        )
        .await?;
    }
    txn.commit().await?;
    tags(app, member_id).await
}

pub async fn remove_tag(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
    name: &str,
) -> Result<Vec<Tag>, MembersError> {
    staff.require(Permission::TagMembers)?;
    let name = name.trim();
    load_row(&app.db, member_id).await?;
    let tag = member_tag::Entity::find()
        .filter(member_tag::Column::MemberId.eq(member_id))
        .filter(member_tag::Column::Name.eq(name))
        .one(&app.db)
        .await?
        .ok_or(MembersError::TagNotFound)?;
    if tag.source != TagSource::Manual {
        return Err(MembersError::SystemTag);
    }
    let txn = crate::platform::db::begin_write(&app.db).await?;
    member_tag::Entity::delete_by_id(tag.id).exec(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberTagRemove,
        (SubjectKind::Member, Some(member_id)),
        json!({ "tag": name }),
    )
    .await?;
    txn.commit().await?;
    tags(app, member_id).await
}
