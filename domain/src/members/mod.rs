//! Members and their beauty profile: skin type, concerns, allergies, tags, region, consent,
//! and the phone number (encrypted, found by blind index, every staff read audited).

pub mod birthday;
mod exclusive_ba;
mod lookup;
mod personal_data;
mod profile;
mod tags;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::auth::AuthError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use entities::member;

pub use entities::member::{Gender, SkinConcern, SkinType};
pub use entities::member_tag::TagSource;
pub use exclusive_ba::assign_exclusive_ba;
pub use lookup::{
    allergies, find_by_code, find_by_phone, find_or_create_by_openid, get, get_for_staff,
};
pub use personal_data::{bind_phone, normalise_phone, own_phone, read_birthday, read_phone};
pub use profile::{normalise_allergies, update_own_profile, update_skin_profile};
pub use tags::{add_tag, remove_tag, tags};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
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
    #[error(
        "skin concerns and allergies are sensitive data: the member must consent to them first (grantSensitiveDataConsent)"
    )]
    SensitiveConsentRequired,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("could not allocate a unique member code")]
    CodeAllocation,
    #[error("stored personal data could not be read")]
    Pii(#[from] crate::platform::pii::PiiError),
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
            Self::SensitiveConsentRequired => ErrorCode::Forbidden,
            Self::Auth(e) => e.code(),
            Self::Pii(_) | Self::CodeAllocation => ErrorCode::Internal,
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> MembersError {
    MembersError::InvalidInput(msg.into())
}

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
    /// The member's personal data was erased (the row is an anonymous tombstone).
    pub erased: bool,
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
            erased: row.erased_at.is_some(),
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

fn check_name(field: &str, value: &str, max_chars: usize) -> Result<String, MembersError> {
    crate::platform::validate::text(field, value, max_chars).map_err(MembersError::InvalidInput)
}

/// The member's row; an erased member (an anonymous tombstone) is not found.
async fn load_row<C: ConnectionTrait>(db: &C, id: i64) -> Result<member::Model, MembersError> {
    member::Entity::find_by_id(id)
        .filter(member::Column::ErasedAt.is_null())
        .one(db)
        .await?
        .ok_or(MembersError::NotFound)
}

/// Inside a write transaction: the member is there and not erased, and her row is held until
/// the commit (a conditional write), so an erasure committing meanwhile is waited for and seen:
/// nothing is written about a member whose data was just erased.
async fn hold_live<C: ConnectionTrait>(
    db: &C,
    id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), MembersError> {
    use sea_orm::sea_query::Expr;
    let touched = member::Entity::update_many()
        .col_expr(member::Column::UpdatedAt, Expr::value(now))
        .filter(member::Column::Id.eq(id))
        .filter(member::Column::ErasedAt.is_null())
        .exec(db)
        .await?;
    if touched.rows_affected == 0 {
        return Err(MembersError::NotFound);
    }
    Ok(())
}
