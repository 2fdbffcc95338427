//! The beauty profile: a member edits their own, a BA records the skin test at the counter.

use chrono::Datelike;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    Iterable, QueryFilter, Set,
};
use serde_json::json;

use super::{
    Member, MembersError, ProfileUpdate, Region, SkinConcern, SkinProfileUpdate, SkinType,
    TagSource, check_name, hold_live, invalid, load_row,
};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{MemberPrincipal, Permission, StaffPrincipal};
use crate::{AppState, RequestMeta};
use entities::{member, member_allergy, member_tag};

const MAX_ALLERGIES: usize = 30;

/// Allergen group codes from the vocabulary (`fragrance`, `香精` and `Fragrance` are all
/// `fragrance`; see [`crate::allergens`]) or upper-cased, single-spaced INCI names,
/// deduplicated, order kept.
pub fn normalise_allergies(raw: &[String]) -> Result<Vec<String>, MembersError> {
    if raw.len() > MAX_ALLERGIES {
        return Err(invalid(format!("at most {MAX_ALLERGIES} allergies")));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for item in raw {
        let name = check_name("an allergy", item, 64)?;
        let name = crate::allergens::normalise(&name);
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// A member's own profile edit. Everything is checked before anything is written.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn update_own_profile(
    app: &AppState,
    me: &MemberPrincipal,
    update: ProfileUpdate,
) -> Result<Member, MembersError> {
    let nickname = update
        .nickname
        .as_deref()
        .map(|n| check_name("nickname", n, 32))
        .transpose()?;
    if let Some(birthday) = update.birthday {
        let today = app
            .clock
            .now()
            .with_timezone(&crate::platform::clock::DEFAULT_ZONE)
            .date_naive();
        if birthday > today || birthday.year() < 1900 {
            return Err(invalid("birthday must be a past date after 1900"));
        }
    }
    let region = update
        .region
        .as_ref()
        .map(|r| -> Result<Region, MembersError> {
            Ok(Region {
                province: check_name("province", &r.province, 32)?,
                city: check_name("city", &r.city, 32)?,
                district: r
                    .district
                    .as_deref()
                    .map(|d| check_name("district", d, 32))
                    .transpose()?,
            })
        })
        .transpose()?;
    let allergies = update
        .skin
        .allergies
        .as_deref()
        .map(normalise_allergies)
        .transpose()?;

    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    require_sensitive_consent(&txn, app, me.member_id, &update.skin, now).await?;
    let row = load_row(&txn, me.member_id).await?;
    let mut active = row.clone().into_active_model();
    if let Some(nickname) = nickname {
        active.nickname = Set(Some(nickname));
    }
    if let Some(gender) = update.gender {
        active.gender = Set(gender);
    }
    if let Some(birthday) = update.birthday {
        active.birthday = Set(Some(birthday));
    }
    if let Some(region) = region {
        // Unknown provinces are refused; scans without a stated region use this code.
        let place = crate::platform::regions::place(&region.province, Some(&region.city))
            .map_err(|e| invalid(format!("region: {e}")))?;
        active.region_code = Set(Some(place.code.to_string()));
        active.region_province = Set(Some(region.province));
        active.region_city = Set(Some(region.city));
        active.region_district = Set(region.district);
    }
    if let Some(consent) = update.marketing_consent
        && consent != row.marketing_consent
    {
        active.marketing_consent = Set(consent);
        active.marketing_consent_at = Set(Some(now));
    }
    let skin_changed = apply_skin_profile(
        &txn,
        &mut active,
        me.member_id,
        &update.skin,
        allergies,
        now,
    )
    .await?;
    if skin_changed {
        active.profile_updated_at = Set(Some(now));
        active.profile_updated_by = Set(None);
    }
    active.updated_at = Set(now);
    let row = active.update(&txn).await?;
    txn.commit().await?;
    Ok(row.into())
}

/// Skin concerns and allergies are sensitive personal data (PIPL art. 29): storing any needs the
/// member's own consent (clearing them does not). The member row is written before the consent
/// is read, so a withdrawal committing meanwhile (it writes the row first) is waited for and seen.
async fn require_sensitive_consent<C: ConnectionTrait>(
    db: &C,
    app: &AppState,
    member_id: i64,
    skin: &SkinProfileUpdate,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), MembersError> {
    let stores_sensitive = skin.skin_concerns.as_ref().is_some_and(|c| !c.is_empty())
        || skin.allergies.as_ref().is_some_and(|a| !a.is_empty());
    if !stores_sensitive {
        return Ok(());
    }
    let touched = member::Entity::update_many()
        .col_expr(member::Column::UpdatedAt, Expr::value(now))
        .filter(member::Column::Id.eq(member_id))
        .filter(member::Column::ErasedAt.is_null())
        .exec(db)
        .await?;
    if touched.rows_affected == 0 {
        return Err(MembersError::NotFound);
    }
    if crate::privacy::has_sensitive_consent(db, app, member_id).await? {
        Ok(())
    } else {
        Err(MembersError::SensitiveConsentRequired)
    }
}

/// Writes skin type (and its system tag), concerns and allergies; true when anything was given.
async fn apply_skin_profile<C: ConnectionTrait>(
    db: &C,
    active: &mut member::ActiveModel,
    member_id: i64,
    skin: &SkinProfileUpdate,
    allergies: Option<Vec<String>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, MembersError> {
    let mut changed = false;
    if let Some(skin_type) = skin.skin_type {
        changed = true;
        active.skin_type = Set(Some(skin_type));
        let system_names: Vec<&str> = SkinType::iter().map(SkinType::tag).collect();
        member_tag::Entity::delete_many()
            .filter(member_tag::Column::MemberId.eq(member_id))
            .filter(member_tag::Column::Source.eq(TagSource::System))
            .filter(member_tag::Column::Name.is_in(system_names))
            .exec(db)
            .await?;
        // A BA may have typed the same words as a manual tag: the system tag takes its place.
        member_tag::Entity::delete_many()
            .filter(member_tag::Column::MemberId.eq(member_id))
            .filter(member_tag::Column::Name.eq(skin_type.tag()))
            .exec(db)
            .await?;
        member_tag::ActiveModel {
            member_id: Set(member_id),
            name: Set(skin_type.tag().to_owned()),
            source: Set(TagSource::System),
            created_by: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    if let Some(concerns) = &skin.skin_concerns {
        changed = true;
        active.skin_concerns = Set(SkinConcern::to_bits(concerns));
    }
    if let Some(allergies) = allergies {
        changed = true;
        member_allergy::Entity::delete_many()
            .filter(member_allergy::Column::MemberId.eq(member_id))
            .exec(db)
            .await?;
        if !allergies.is_empty() {
            member_allergy::Entity::insert_many(allergies.into_iter().map(|ingredient| {
                member_allergy::ActiveModel {
                    member_id: Set(member_id),
                    ingredient: Set(ingredient),
                }
            }))
            .exec(db)
            .await?;
        }
    }
    Ok(changed)
}

/// A BA records the skin test at the counter: who and when are kept on the member and in the audit log.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id))]
pub async fn update_skin_profile(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
    skin: SkinProfileUpdate,
) -> Result<Member, MembersError> {
    staff.require(Permission::EditMemberProfile)?;
    let allergies = skin
        .allergies
        .as_deref()
        .map(normalise_allergies)
        .transpose()?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    hold_live(&txn, member_id, now).await?;
    require_sensitive_consent(&txn, app, member_id, &skin, now).await?;
    let row = load_row(&txn, member_id).await?;
    let mut active = row.into_active_model();
    let changed = apply_skin_profile(&txn, &mut active, member_id, &skin, allergies, now).await?;
    if !changed {
        return Err(invalid("nothing to update"));
    }
    active.profile_updated_at = Set(Some(now));
    active.profile_updated_by = Set(Some(staff.staff_id));
    active.updated_at = Set(now);
    let row = active.update(&txn).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberSkinProfileUpdate,
        (SubjectKind::Member, Some(member_id)),
        json!({
            "skinType": skin.skin_type.map(|t| t.to_value()),
            "skinConcerns": skin.skin_concerns.as_ref().map(|c| c.iter().map(ActiveEnum::to_value).collect::<Vec<_>>()),
            "allergiesChanged": skin.allergies.is_some(),
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(row.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allergies_are_upper_cased_and_deduplicated() {
        let got = normalise_allergies(&[
            " methylisothiazolinone ".into(),
            "Parfum  (Fragrance)".into(),
            "METHYLISOTHIAZOLINONE".into(),
        ])
        .unwrap();
        assert_eq!(got, vec!["METHYLISOTHIAZOLINONE", "fragrance"]);
        let got =
            normalise_allergies(&["香精".into(), "Fragrance".into(), "Linalool".into()]).unwrap();
        assert_eq!(got, vec!["fragrance", "LINALOOL"]);
        assert!(normalise_allergies(&["".into()]).is_err());
        assert!(normalise_allergies(&["x".repeat(65)]).is_err());
        assert!(normalise_allergies(&vec!["A".to_string(); 31]).is_err());
    }
}
