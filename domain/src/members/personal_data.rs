//! The phone number (encrypted, found by blind index) and birthday: binding, and reads by
//! staff, each audited before the data is returned.

use chrono::NaiveDate;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::json;

use super::{Member, MembersError, invalid, load_row};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{self, AuthError, MemberPrincipal, Permission, StaffPrincipal};
use crate::platform::error::UniqueViolation;
use crate::{AppState, RequestMeta};
use entities::member;

/// Mainland mobile numbers in E.164 (+86 and 11 digits beginning with 1); other country codes
/// are kept as given when they look like E.164.
pub fn normalise_phone(raw: &str) -> Result<String, MembersError> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let (plus, digits) = match compact.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, compact.as_str()),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("a phone number has digits only"));
    }
    let mainland = |d: &str| d.len() == 11 && d.starts_with('1');
    if !plus && mainland(digits) {
        return Ok(format!("+86{digits}"));
    }
    if plus && digits.starts_with("86") {
        return if mainland(&digits[2..]) {
            Ok(format!("+{digits}"))
        } else {
            Err(invalid("not a mainland China mobile number"))
        };
    }
    if plus && (8..=15).contains(&digits.len()) {
        return Ok(format!("+{digits}"));
    }
    Err(invalid("not a phone number"))
}

fn mask_phone(e164: &str) -> String {
    let national = e164.strip_prefix("+86").unwrap_or(e164);
    let chars: Vec<char> = national.chars().collect();
    if chars.len() < 7 {
        return "****".into();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// Binds the phone number WeChat vouches for (getPhoneNumber button code) to the member.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn bind_phone(
    app: &AppState,
    me: &MemberPrincipal,
    code: &str,
) -> Result<Member, MembersError> {
    if code.is_empty() || code.len() > 128 {
        return Err(AuthError::InvalidWeChatCode.into());
    }
    let phone = app
        .wechat
        .phone_number(code)
        .await
        .map_err(auth::wechat_code_error)?;
    let raw = if phone.country_code.is_empty() || phone.country_code == "86" {
        phone.pure_phone_number.clone()
    } else {
        format!("+{}{}", phone.country_code, phone.pure_phone_number)
    };
    let e164 = normalise_phone(&raw)?;
    let index = app.pii.blind_index(&e164);
    let holder = member::Entity::find()
        .filter(member::Column::PhoneIndex.eq(index.clone()))
        .one(&app.db)
        .await?;
    if holder.as_ref().is_some_and(|h| h.id != me.member_id) {
        return Err(MembersError::PhoneTaken);
    }
    let mut active = load_row(&app.db, me.member_id).await?.into_active_model();
    active.phone_cipher = Set(Some(app.pii.encrypt(&e164)));
    active.phone_index = Set(Some(index));
    active.phone_masked = Set(Some(mask_phone(&e164)));
    active.updated_at = Set(app.clock.now());
    // Another member may bind the same number between our check and our write.
    let row = active
        .update(&app.db)
        .await
        .on_unique_violation(|| MembersError::PhoneTaken)?;
    Ok(row.into())
}

/// The member's own phone number (their own data: not audited).
pub async fn own_phone(
    app: &AppState,
    me: &MemberPrincipal,
) -> Result<Option<String>, MembersError> {
    let row = load_row(&app.db, me.member_id).await?;
    row.phone_cipher
        .map(|c| app.pii.decrypt(&c))
        .transpose()
        .map_err(Into::into)
}

/// The full phone number, for staff; the read is audited before the number is returned.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id))]
pub async fn read_phone(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
) -> Result<Option<String>, MembersError> {
    staff.require(Permission::ReadMemberPersonalData)?;
    let row = load_row(&app.db, member_id).await?;
    let Some(cipher) = row.phone_cipher else {
        return Ok(None);
    };
    audit::record(
        &app.db,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberPhoneRead,
        (SubjectKind::Member, Some(member_id)),
        json!({}),
    )
    .await?;
    Ok(Some(app.pii.decrypt(&cipher)?))
}

/// The member's birthday, for staff; audited like the phone number.
pub async fn read_birthday(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
) -> Result<Option<NaiveDate>, MembersError> {
    staff.require(Permission::ReadMemberPersonalData)?;
    let row = load_row(&app.db, member_id).await?;
    if row.birthday.is_some() {
        audit::record(
            &app.db,
            app,
            meta,
            Actor::Staff(staff.staff_id),
            Action::MemberBirthdayRead,
            (SubjectKind::Member, Some(member_id)),
            json!({}),
        )
        .await?;
    }
    Ok(row.birthday)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_normalise_to_e164() {
        assert_eq!(normalise_phone("13800138000").unwrap(), "+8613800138000");
        assert_eq!(
            normalise_phone("+86 138-0013-8000").unwrap(),
            "+8613800138000"
        );
        assert_eq!(normalise_phone("+85291234567").unwrap(), "+85291234567");
        assert!(normalise_phone("23800138000").is_err());
        assert!(normalise_phone("+86123").is_err());
        assert!(normalise_phone("138001380OO").is_err());
        assert!(normalise_phone("").is_err());
        assert_eq!(mask_phone("+8613800138000"), "138****8000");
    }
}
