//! Members and their beauty profile: skin type, concerns, allergies, tags, region, consent,
//! and the phone number (encrypted, found by blind index, every staff read audited).

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    Iterable, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{self, AuthError, MemberPrincipal, Permission, StaffPrincipal};
use crate::error::{DomainError, ErrorCode, StoreError, is_unique_violation};
use crate::{AppState, RequestMeta};
use entities::{member, member_allergy, member_tag, tier};

#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    #[error("member not found")]
    NotFound,
    #[error("{0}")]
    InvalidInput(String),
    #[error("this phone number is bound to another member")]
    PhoneTaken,
    #[error("system tags are set by Rouge and cannot be changed by hand")]
    SystemTag,
    #[error("the member has no tag of that name")]
    TagNotFound,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("could not allocate a unique member code")]
    CodeAllocation,
    #[error("stored personal data could not be read")]
    Pii(#[from] crate::pii::PiiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(MembersError);

impl DomainError for MembersError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound | Self::TagNotFound => ErrorCode::NotFound,
            Self::InvalidInput(_) | Self::SystemTag => ErrorCode::BadUserInput,
            Self::PhoneTaken => ErrorCode::Conflict,
            Self::Auth(e) => e.code(),
            Self::Pii(_) | Self::CodeAllocation => ErrorCode::Internal,
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> MembersError {
    MembersError::InvalidInput(msg.into())
}

pub use entities::member::{Gender, SkinConcern, SkinType};
pub use entities::member_tag::TagSource;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub province: String,
    pub city: String,
    pub district: Option<String>,
}

/// A member as the business sees it (the phone number itself is read separately, and audited).
#[derive(Debug, Clone)]
pub struct Member {
    pub id: i64,
    pub member_code: String,
    pub nickname: Option<String>,
    pub gender: Gender,
    pub birthday: Option<NaiveDate>,
    pub region: Option<Region>,
    pub skin_type: Option<SkinType>,
    pub skin_concerns: Vec<SkinConcern>,
    pub marketing_consent: bool,
    pub phone_masked: Option<String>,
    pub tier_code: String,
    pub cumulative_spend_fen: i64,
    pub exclusive_ba_id: Option<i64>,
    pub profile_updated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub profile_updated_by: Option<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<member::Model> for Member {
    fn from(row: member::Model) -> Self {
        let region = match (row.region_province, row.region_city) {
            (Some(province), Some(city)) => Some(Region {
                province,
                city,
                district: row.region_district,
            }),
            _ => None,
        };
        Self {
            id: row.id,
            member_code: row.member_code,
            nickname: row.nickname,
            gender: row.gender,
            birthday: row.birthday,
            region,
            skin_type: row.skin_type,
            skin_concerns: SkinConcern::from_bits(row.skin_concerns),
            marketing_consent: row.marketing_consent,
            phone_masked: row.phone_masked,
            tier_code: row.tier_code,
            cumulative_spend_fen: row.cumulative_spend_fen,
            exclusive_ba_id: row.exclusive_ba_id,
            profile_updated_at: row.profile_updated_at,
            profile_updated_by: row.profile_updated_by,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub name: String,
    pub source: TagSource,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What a member may change about themselves. `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub nickname: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub region: Option<Region>,
    pub skin: SkinProfileUpdate,
    pub marketing_consent: Option<bool>,
}

/// The skin profile, which a BA may also edit at the counter.
#[derive(Debug, Clone, Default)]
pub struct SkinProfileUpdate {
    pub skin_type: Option<SkinType>,
    pub skin_concerns: Option<Vec<SkinConcern>>,
    pub allergies: Option<Vec<String>>,
}

const MEMBER_CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const MAX_ALLERGIES: usize = 30;

fn new_member_code() -> String {
    let mut rng = rand::thread_rng();
    let body: String = (0..10)
        .map(|_| MEMBER_CODE_ALPHABET[rng.gen_range(0..MEMBER_CODE_ALPHABET.len())] as char)
        .collect();
    format!("M{body}")
}

fn check_name(field: &str, value: &str, max_chars: usize) -> Result<String, MembersError> {
    crate::validate::text(field, value, max_chars).map_err(MembersError::InvalidInput)
}

/// Upper-cased, single-spaced INCI names, deduplicated, order kept.
pub fn normalise_allergies(raw: &[String]) -> Result<Vec<String>, MembersError> {
    if raw.len() > MAX_ALLERGIES {
        return Err(invalid(format!("at most {MAX_ALLERGIES} allergies")));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for item in raw {
        let name = check_name("an allergy", item, 64)?;
        let name = name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

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

async fn lowest_tier_code<C: ConnectionTrait>(db: &C) -> Result<String, StoreError> {
    Ok(tier::Entity::find()
        .order_by_asc(tier::Column::Rank)
        .one(db)
        .await?
        .map_or_else(|| "MEMBER".to_owned(), |t| t.code))
}

async fn load_row<C: ConnectionTrait>(db: &C, id: i64) -> Result<member::Model, MembersError> {
    member::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(MembersError::NotFound)
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
            .with_timezone(&crate::clock::DEFAULT_ZONE)
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
    let txn = crate::db::begin_write(&app.db).await?;
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
    match active.update(&app.db).await {
        Ok(row) => Ok(row.into()),
        // Another member bound the same number between our check and our write.
        Err(err) if is_unique_violation(&err) => Err(MembersError::PhoneTaken),
        Err(err) => Err(err.into()),
    }
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
    get(app, id).await
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
    let txn = crate::db::begin_write(&app.db).await?;
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
            .filter(|b| b.active && b.role == auth::StaffRole::Ba.as_str())
            .ok_or_else(|| invalid("the exclusive BA must be an active BA account"))?;
        if staff.role != auth::StaffRole::Hq && ba.store_id != staff.store_id {
            return Err(AuthError::Forbidden.into());
        }
    }
    let mut active = load_row(&app.db, member_id).await?.into_active_model();
    active.exclusive_ba_id = Set(ba_id);
    active.updated_at = Set(app.clock.now());
    let row = active.update(&app.db).await?;
    audit::record(
        &app.db,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberExclusiveBaAssign,
        (SubjectKind::Member, Some(member_id)),
        json!({ "baId": ba_id }),
    )
    .await?;
    Ok(row.into())
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
    let txn = crate::db::begin_write(&app.db).await?;
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
    let tag = member_tag::Entity::find()
        .filter(member_tag::Column::MemberId.eq(member_id))
        .filter(member_tag::Column::Name.eq(name))
        .one(&app.db)
        .await?
        .ok_or(MembersError::TagNotFound)?;
    if tag.source != TagSource::Manual {
        return Err(MembersError::SystemTag);
    }
    let txn = crate::db::begin_write(&app.db).await?;
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

    #[test]
    fn allergies_are_upper_cased_and_deduplicated() {
        let got = normalise_allergies(&[
            " methylisothiazolinone ".into(),
            "Parfum  (Fragrance)".into(),
            "METHYLISOTHIAZOLINONE".into(),
        ])
        .unwrap();
        assert_eq!(got, vec!["METHYLISOTHIAZOLINONE", "PARFUM (FRAGRANCE)"]);
        assert!(normalise_allergies(&["".into()]).is_err());
        assert!(normalise_allergies(&["x".repeat(65)]).is_err());
        assert!(normalise_allergies(&vec!["A".to_string(); 31]).is_err());
    }

    #[test]
    fn skin_concerns_round_trip_through_bits() {
        let concerns = vec![SkinConcern::Acne, SkinConcern::Dullness];
        assert_eq!(
            SkinConcern::from_bits(SkinConcern::to_bits(&concerns)),
            concerns
        );
        assert_eq!(SkinConcern::from_bits(0), vec![]);
    }

    #[test]
    fn member_codes_are_unambiguous() {
        let code = new_member_code();
        assert_eq!(code.len(), 11);
        assert!(!code[1..].contains(['0', 'O', '1', 'I']));
    }
}
