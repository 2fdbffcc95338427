//! Finding members: first login by openid, by id, by member code, by phone number (audited).

use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;

use super::{Gender, normalise_phone};
use super::{Member, MembersError, invalid, load_row};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::error::{StoreError, is_unique_violation};
use crate::{AppState, RequestMeta};
use entities::{member, member_allergy, tier};

const MEMBER_CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

fn new_member_code() -> String {
    let mut rng = rand::thread_rng();
    let body: String = (0..10)
        .map(|_| MEMBER_CODE_ALPHABET[rng.gen_range(0..MEMBER_CODE_ALPHABET.len())] as char)
        .collect();
    format!("M{body}")
}

async fn lowest_tier_code<C: ConnectionTrait>(db: &C) -> Result<String, StoreError> {
    Ok(tier::Entity::find()
        .order_by_asc(tier::Column::Rank)
        .one(db)
        .await?
        .map_or_else(|| "MEMBER".to_owned(), |t| t.code))
}

/// The member behind an openid, created on first login. Concurrent first logins of one person
/// end with one member (the unique openid decides).
pub async fn find_or_create_by_openid(
    app: &AppState,
    openid: &str,
    unionid: Option<&str>,
) -> Result<Member, MembersError> {
    let by_openid = || {
        member::Entity::find()
            .filter(member::Column::Openid.eq(openid))
            .one(&app.db)
    };
    if let Some(row) = by_openid().await? {
        if unionid.is_some() && row.unionid.as_deref() != unionid {
            let mut active = row.into_active_model();
            active.unionid = Set(unionid.map(str::to_owned));
            return Ok(active.update(&app.db).await?.into());
        }
        return Ok(row.into());
    }
    let tier_code = lowest_tier_code(&app.db).await?;
    let now = app.clock.now();
    for _ in 0..3 {
        let insert = member::ActiveModel {
            member_code: Set(new_member_code()),
            openid: Set(openid.to_owned()),
            unionid: Set(unionid.map(str::to_owned)),
            gender: Set(Gender::Unknown),
            skin_concerns: Set(0),
            marketing_consent: Set(false),
            tier_code: Set(tier_code.clone()),
            cumulative_spend_fen: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db)
        .await;
        match insert {
            Ok(row) => return Ok(row.into()),
            Err(err) if is_unique_violation(&err) => {
                // Either the same person logged in concurrently, or the member code collided.
                if let Some(row) = by_openid().await? {
                    return Ok(row.into());
                }
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(MembersError::CodeAllocation)
}

pub async fn get(app: &AppState, id: i64) -> Result<Member, MembersError> {
    Ok(load_row(&app.db, id).await?.into())
}

pub async fn allergies(app: &AppState, member_id: i64) -> Result<Vec<String>, MembersError> {
    Ok(member_allergy::Entity::find()
        .filter(member_allergy::Column::MemberId.eq(member_id))
        .order_by_asc(member_allergy::Column::Ingredient)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|a| a.ingredient)
        .collect())
}

/// A BA or manager looks a member up by phone number (the search itself is audited).
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn find_by_phone(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    phone: &str,
) -> Result<Option<Member>, MembersError> {
    staff.require(Permission::ReadMembers)?;
    let e164 = normalise_phone(phone)?;
    let row = member::Entity::find()
        .filter(member::Column::PhoneIndex.eq(app.pii.blind_index(&e164)))
        .one(&app.db)
        .await?;
    audit::record(
        &app.db,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberSearchPhone,
        (SubjectKind::Member, row.as_ref().map(|r| r.id)),
        json!({ "found": row.is_some() }),
    )
    .await?;
    Ok(row.map(Into::into))
}

/// A BA scans the member QR (the member code).
pub async fn find_by_code(
    app: &AppState,
    staff: &StaffPrincipal,
    member_code: &str,
) -> Result<Option<Member>, MembersError> {
    staff.require(Permission::ReadMembers)?;
    let code = member_code.trim().to_uppercase();
    if code.is_empty() || code.len() > 32 {
        return Err(invalid("a member code is 1 to 32 characters"));
    }
    Ok(member::Entity::find()
        .filter(member::Column::MemberCode.eq(code))
        .filter(member::Column::ErasedAt.is_null())
        .one(&app.db)
        .await?
        .map(Into::into))
}

pub async fn get_for_staff(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
) -> Result<Member, MembersError> {
    staff.require(Permission::ReadMembers)?;
    let found = get(app, id).await?;
    // An erased member is an anonymous tombstone: staff find nobody there.
    if found.erased {
        return Err(MembersError::NotFound);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_codes_are_unambiguous() {
        let code = new_member_code();
        assert_eq!(code.len(), 11);
        assert!(!code[1..].contains(['0', 'O', '1', 'I']));
    }
}
